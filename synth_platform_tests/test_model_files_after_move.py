"""Model files written before `lib/` was grouped into packages still load: a pickle names the module
of every class it holds (`synth_platform.lib.dp_mst`), and retraining to get a loadable file would
spend privacy budget again."""

import pickle

import pytest

from synth_platform.lib.gate.attacks import result
from synth_platform.lib.synthesize import dp_mst, synthesis


def _as_written_before(obj, old: str, new: str) -> bytes:
    """`obj` pickled as an older release wrote it: protocol 0 names modules as text lines."""
    data = pickle.dumps(obj, protocol=0)
    assert new.encode() in data
    return data.replace(new.encode(), old.encode())


@pytest.mark.parametrize(
    ("obj", "old", "new"),
    [
        (dp_mst.DPMSTSynthesizer, "synth_platform.lib.dp_mst", "synth_platform.lib.synthesize.dp_mst"),
        (synthesis.FittedModel, "synth_platform.lib.synthesis", "synth_platform.lib.synthesize.synthesis"),
        (result.AttackResult, "synth_platform.lib.attacks.result", "synth_platform.lib.gate.attacks.result"),
    ],
)
def test_a_class_named_by_its_old_module_loads_as_the_moved_one(obj, old, new):
    data = _as_written_before(obj, old, new)
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(data)
    assert synthesis.unpickle_model(data) is obj


def test_an_instance_keeps_its_state_through_the_old_name():
    model = synthesis.FittedModel.__new__(synthesis.FittedModel)
    object.__setattr__(model, "__dict__", {"kind": "dp_mst", "train_rows": 7})
    data = _as_written_before(
        model, "synth_platform.lib.synthesis", "synth_platform.lib.synthesize.synthesis"
    )
    loaded = synthesis.unpickle_model(data)
    assert type(loaded) is synthesis.FittedModel and loaded.__dict__ == {"kind": "dp_mst", "train_rows": 7}


def test_other_modules_are_left_alone():
    assert synthesis.current_module("synth_platform.lib.spec") == "synth_platform.lib.spec"
    assert (
        synthesis.current_module("synth_platform.lib.synthesize.dp_mst")
        == "synth_platform.lib.synthesize.dp_mst"
    )
    assert synthesis.current_module("numpy.core.multiarray") == "numpy.core.multiarray"
