"""The model pointer and model file as an attacker who can write `data/models/` (but has no key) sees them.

The pointer's MAC binds its dataset (the folder), so a pointer copied from another dataset is
refused; a validly signed but older pointer of the same dataset is caught against what the
synthesizer step recorded in Dagster; the model bytes are read once, verified, and those same
bytes unpickled; a malformed MAC is a refusal, never a crash; a pointer signed by an earlier
version is re-signed only when the ledger vouches for it.
"""

import json
import pickle
import shutil

import dagster as dg
import pytest

from synth_platform.defs.chain.current_model import authenticated_current_model
from synth_platform.lib.governance import ledger
from synth_platform.lib.storage import warehouse
from synth_platform.lib.synthesize import synthesis
from synth_platform_tests.test_model_store import KEY, TRAIN, CountingSynthesizer, _Planted


def _fit(model_dir, charged_by, shift=0):
    train = TRAIN.assign(a=TRAIN["a"] + shift)  # a different model file per shift
    return synthesis.fit_and_save(
        train, "gaussian_copula", {}, 1, model_dir, CountingSynthesizer(), key=KEY, charged_by=charged_by
    )


def test_a_pointer_copied_from_another_datasets_folder_is_refused(tmp_path):
    people, clinic = tmp_path / "people", tmp_path / "clinic"
    _fit(people, charged_by=1)
    theirs = _fit(clinic, charged_by=2, shift=5)
    # with write access to the folder: the other dataset's model, its MAC and its pointer, all valid
    for path in (theirs.path, theirs.path.with_name(theirs.path.name + synthesis.MAC_SUFFIX)):
        shutil.copy(path, people / path.name)
    shutil.copy(clinic / synthesis.POINTER, people / synthesis.POINTER)
    with pytest.raises(synthesis.ModelAuthenticationError, match="another dataset's folder") as refused:
        synthesis.current_model(people, KEY)
    assert "Re-run the 'people/synthesizer' step" in str(refused.value)
    assert synthesis.current_model(clinic, KEY).charged_by == 2  # in its own folder it is fine


def test_an_unsigned_or_unreadable_pointer_is_refused_with_how_to_recover(tmp_path):
    _fit(tmp_path, charged_by=1)
    pointer_path = tmp_path / synthesis.POINTER
    pointer = json.loads(pointer_path.read_text())
    del pointer["mac"]
    pointer_path.write_text(json.dumps(pointer))
    with pytest.raises(synthesis.ModelAuthenticationError, match=r"no authentication code.*Re-run"):
        synthesis.current_model(tmp_path, KEY)
    pointer_path.write_bytes(b"\xff\xfe not json")
    with pytest.raises(synthesis.ModelAuthenticationError, match="not readable JSON"):
        synthesis.current_model(tmp_path, KEY)
    pointer["mac"] = "é" * 64  # non-ASCII: compare_digest used to raise TypeError
    pointer_path.write_text(json.dumps(pointer))
    with pytest.raises(synthesis.ModelAuthenticationError, match="malformed"):
        synthesis.current_model(tmp_path, KEY)
    assert synthesis.current_model_or_none(tmp_path, KEY) is None  # the synthesizer step then retrains


def test_a_pointer_put_back_to_an_older_signed_model_is_caught_against_the_recorded_one(tmp_path):
    _fit(tmp_path, charged_by=1)
    older_pointer = (tmp_path / synthesis.POINTER).read_bytes()  # kept by the attacker
    newer = _fit(tmp_path, charged_by=2, shift=3)
    (tmp_path / synthesis.POINTER).write_bytes(older_pointer)  # put back: still validly signed
    put_back = synthesis.current_model(tmp_path, KEY)
    assert put_back.charged_by == 1  # the MAC alone cannot tell an old pointer from the newest

    # the synthesizer step records the model it put in place in Dagster's event log, outside the folder
    instance = dg.DagsterInstance.ephemeral()
    synthesizer_key = dg.AssetKey([tmp_path.name, "synthesizer"])
    recorded = {"model_sha256": newer.sha256, "charged_by_entry": 2}
    instance.report_runless_asset_event(dg.AssetMaterialization(synthesizer_key, metadata=recorded))
    with pytest.raises(dg.Failure, match=r"entry 1.*last recorded \(entry 2\).*Re-run the synthesizer step"):
        authenticated_current_model(instance, synthesizer_key, tmp_path, KEY)

    synthesis.promote(tmp_path, newer, KEY)  # the synthesizer step puts the newest back
    assert authenticated_current_model(instance, synthesizer_key, tmp_path, KEY).sha256 == newer.sha256


def test_the_model_bytes_are_read_once_and_those_verified_bytes_unpickled(tmp_path, monkeypatch):
    model = _fit(tmp_path, charged_by=1)
    marker = tmp_path / "unpickled"
    verify = synthesis.verify_model_file

    def verify_then_swap(path, key, sha256=None):
        verified = verify(path, key, sha256)
        path.write_bytes(pickle.dumps(_Planted(str(marker))))  # swapped right after the check
        return verified

    monkeypatch.setattr(synthesis.sampling, "verify_model_file", verify_then_swap)  # where loads look
    assert synthesis.load_and_sample(model, 5, seed=0, key=KEY).shape == (5, 2)
    assert not marker.exists()  # the swapped-in file was never unpickled


@pytest.mark.parametrize("stored", [b"\xc3\xa9" * 32, b"ab" * 16, b"", b"zz" * 32], ids=str)
def test_a_malformed_model_mac_is_a_clear_refusal(tmp_path, stored):
    model = _fit(tmp_path, charged_by=1)
    model.path.with_name(model.path.name + synthesis.MAC_SUFFIX).write_bytes(stored)
    with pytest.raises(synthesis.ModelAuthenticationError, match=r"malformed.*64-character"):
        synthesis.load_and_sample(model, 5, seed=0, key=KEY)
    assert synthesis.current_model_or_none(tmp_path, KEY) is None


def _legacy_pointer(model_dir):
    """Rewrite the pointer as an earlier version signed it: no format, no dataset, the old MAC."""
    path = model_dir / synthesis.POINTER
    pointer = json.loads(path.read_text())
    for field in ("format", "dataset", "mac"):
        del pointer[field]
    pointer["mac"] = synthesis._legacy_pointer_mac(pointer, KEY)
    path.write_text(json.dumps(pointer))


def _trained(con, dataset):
    entry = ledger.LedgerEntry("run", dataset, "trained", "s", "", "gaussian_copula", {}, "test")
    return ledger.append(con, entry, key=KEY.encode())["entry_id"]


def test_a_legacy_pointer_is_re_signed_only_when_the_ledger_vouches_for_it(tmp_path):
    people = tmp_path / "people"
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        theirs, ours = _trained(con, "clinic"), _trained(con, "people")
        lookup = lambda entry_id: ledger.entry(con, entry_id)  # noqa: E731

        _fit(people, charged_by=theirs)  # a legacy pointer whose training row is another dataset's
        _legacy_pointer(people)
        with pytest.raises(synthesis.LegacyPointerError, match=r"earlier version.*re-signs"):
            synthesis.current_model(people, KEY)
        assert synthesis.current_model_or_none(people, KEY, lookup) is None  # not vouched for: retrained
        assert "dataset" not in json.loads((people / synthesis.POINTER).read_text())

        model = _fit(people, charged_by=ours, shift=2)
        _legacy_pointer(people)
        assert synthesis.current_model_or_none(people, KEY) is None  # without the ledger: never trusted
        assert synthesis.current_model_or_none(people, KEY, lookup).sha256 == model.sha256
    pointer = json.loads((people / synthesis.POINTER).read_text())
    assert (pointer["format"], pointer["dataset"]) == (synthesis.POINTER_FORMAT, "people")
    assert synthesis.current_model(people, KEY).charged_by == ours  # re-signed: verifies as format 2
