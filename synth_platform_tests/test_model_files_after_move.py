"""Model files written before `lib/` was grouped into packages still load: a pickle names the module
of every class it holds (`synth_platform.lib.dp_mst`), and retraining to get a loadable file would
spend privacy budget again."""

import pickle

import pandas as pd
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


@pytest.mark.parametrize(
    ("obj", "old"),
    [
        (dp_mst.DPMSTSynthesizer, "synth_platform.lib.synthesize.dp_mst"),
        (dp_mst.DPMSTSynthesizer, "synth_platform.lib.dp_mst"),
        (dp_mst.PrivacySpend, "synth_platform.lib.synthesize.dp_mst"),
        (synthesis.FittedModel, "synth_platform.lib.synthesize.synthesis"),
        (synthesis.FittedModel, "synth_platform.lib.synthesis"),
    ],
)
def test_a_class_named_by_the_module_it_had_before_that_module_became_a_package_loads(obj, old):
    """dp_mst.py and synthesis.py became packages; a model file names the class's old module."""
    data = pickle.dumps(obj, protocol=0)
    new = obj.__module__
    assert new != old and new.encode() in data
    data = data.replace(new.encode(), old.encode())
    assert synthesis.unpickling.current_location(old, obj.__name__) == new  # not just a re-export
    assert synthesis.unpickle_model(data) is obj


def test_a_fitted_model_written_before_the_split_keeps_its_state_and_samples(tmp_path):
    """A whole DPMSTSynthesizer, pickled as a model file named its classes before dp_mst became a
    package (`synth_platform.lib.synthesize.dp_mst.DPMSTSynthesizer` / `.PrivacySpend`)."""
    frame = pd.DataFrame({"zone": ["north", "south", None, "east"] * 30, "n": list(range(60)) * 2})
    fitted = dp_mst.DPMSTSynthesizer(epsilon=2.0, domains={"n": {"bounds": (0, 59)}}).fit(frame)
    data = pickle.dumps(fitted, protocol=0)
    for module in (
        "synth_platform.lib.synthesize.dp_mst.synthesizer",
        "synth_platform.lib.synthesize.dp_mst.noise",
    ):
        assert module.encode() in data
        data = data.replace(module.encode(), b"synth_platform.lib.synthesize.dp_mst")
    assert b"dp_mst.synthesizer" not in data and b"dp_mst.noise" not in data
    loaded = synthesis.unpickle_model(data)
    assert type(loaded) is dp_mst.DPMSTSynthesizer and type(loaded.spend) is dp_mst.PrivacySpend
    assert loaded.privacy_spend() == fitted.privacy_spend()
    sampled = loaded.sample(9, seed=3)
    assert list(sampled.columns) == ["zone", "n"] and len(sampled) == 9
    assert sampled.equals(fitted.sample(9, seed=3))


def test_other_modules_are_left_alone():
    assert synthesis.current_module("synth_platform.lib.spec") == "synth_platform.lib.spec"
    assert (
        synthesis.current_module("synth_platform.lib.synthesize.dp_mst")
        == "synth_platform.lib.synthesize.dp_mst"
    )
    assert synthesis.current_module("numpy.core.multiarray") == "numpy.core.multiarray"
