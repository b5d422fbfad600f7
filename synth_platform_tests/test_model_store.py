"""The model store: a model becomes current only with the ledger entry that paid for it, model
files are authenticated (HMAC with the platform key) before unpickling, and old ones pruned."""

import dataclasses
import json
import os
import pickle
from pathlib import Path

import cloudpickle
import pandas as pd
import pytest

from synth_platform.lib.governance import budget, ledger
from synth_platform.lib.storage import warehouse
from synth_platform.lib.synthesize import synthesis

KEY = "k" * 64


class CountingSynthesizer:
    """A tiny stand-in for an SDV synthesizer: `fit` / `save` / `sample`."""

    def __init__(self, fail: bool = False):
        self.fail, self.rows = fail, None

    def fit(self, data):
        if self.fail:
            raise RuntimeError("the fit crashed")
        self.rows = data[synthesis.TABLE].copy()

    def save(self, path):
        with open(path, "wb") as handle:
            cloudpickle.dump(self, handle)

    def sample(self, num_rows):
        return self.rows.sample(num_rows, replace=True, random_state=0).reset_index(drop=True)


TRAIN = pd.DataFrame({"a": range(20), "b": list("xy") * 10})


def _fit(model_dir, charged_by=None, fail=False, key=KEY):
    return synthesis.fit_and_save(
        TRAIN, "gaussian_copula", {}, 1, model_dir, CountingSynthesizer(fail), key=key, charged_by=charged_by
    )


def test_a_model_without_its_ledger_entry_never_becomes_current(tmp_path):
    model = _fit(tmp_path)  # stored (a benchmark may use it) but not current
    assert model.path.exists()
    with pytest.raises(FileNotFoundError, match="no fitted synthesizer"):
        synthesis.current_model(tmp_path)
    with pytest.raises(ValueError, match="ledger entry"):
        synthesis.promote(tmp_path, model, KEY)


def test_crash_after_the_charge_leaves_the_previous_model_current(tmp_path):
    db, model_dir = tmp_path / "w.duckdb", tmp_path / "models"
    entry = ledger.LedgerEntry("run", "people", "trained", "s", "", "gaussian_copula", {}, "test")
    spend = budget.spend_for("gaussian_copula", {})
    with warehouse.connect(db) as con:
        first = budget.reserve_training(con, entry, spend, None)
    _fit(model_dir, charged_by=first["entry_id"])
    with warehouse.connect(db) as con:
        second = budget.reserve_training(con, entry, spend, None)  # charged before reading data...
    with pytest.raises(RuntimeError, match="crashed"):
        _fit(model_dir, charged_by=second["entry_id"], fail=True)  # ...and the fit dies
    current = synthesis.current_model(model_dir, KEY)
    assert current.charged_by == first["entry_id"]  # every live model has its `trained` row
    with warehouse.connect(db, read_only=True) as con:
        rows = ledger.read_ledger(con)
    assert rows["event"].tolist() == ["trained", "trained"]  # the failed fit is not refunded
    assert synthesis.load_and_sample(current, 5, seed=0, key=KEY).shape == (5, 2)


class _Planted:
    """Unpickling this writes a marker file: proof that a refused model was never unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_model_file_that_fails_its_hmac_is_never_unpickled(tmp_path):
    model = _fit(tmp_path, charged_by=1)
    marker = tmp_path / "unpickled"
    model.path.write_bytes(pickle.dumps(_Planted(str(marker))))  # swapped for a hostile pickle
    with pytest.raises(synthesis.ModelAuthenticationError, match="failed authentication"):
        synthesis.load_and_sample(model, 5, seed=0, key=KEY)
    with pytest.raises(synthesis.ModelAuthenticationError):
        synthesis.current_model(tmp_path, KEY)
    assert not marker.exists()


def test_wrong_key_or_missing_mac_is_refused(tmp_path):
    model = _fit(tmp_path, charged_by=1)
    with pytest.raises(synthesis.ModelAuthenticationError, match="failed authentication"):
        synthesis.load_and_sample(model, 5, seed=0, key="another key of some length")
    os.remove(f"{model.path}{synthesis.MAC_SUFFIX}")
    with pytest.raises(synthesis.ModelAuthenticationError, match="no authentication code"):
        synthesis.load_and_sample(model, 5, seed=0, key=KEY)


def test_a_tampered_pointer_is_refused(tmp_path):
    _fit(tmp_path, charged_by=3)
    pointer = tmp_path / synthesis.POINTER
    pointer.write_text(pointer.read_text().replace('"charged_by": 3', '"charged_by": 1'))
    with pytest.raises(synthesis.ModelAuthenticationError, match="pointer"):
        synthesis.current_model(tmp_path, KEY)
    assert synthesis.current_model_or_none(tmp_path, KEY) is None


def test_old_models_are_pruned_keeping_the_current_and_recent_ones(tmp_path):
    names = []
    for entry_id in range(1, 7):
        train = TRAIN.assign(a=TRAIN["a"] + entry_id)  # a different model file each time
        model = synthesis.fit_and_save(
            train, "gaussian_copula", {}, 1, tmp_path, CountingSynthesizer(), key=KEY, charged_by=entry_id
        )
        os.utime(model.path, (entry_id, entry_id))  # distinct ages regardless of clock resolution
        names.append(model.path.name)
    kept = sorted(p.name for p in tmp_path.glob("*.pkl"))
    assert names[-1] in kept and len(kept) == 1 + synthesis.KEEP_RECENT_MODELS
    assert sorted(p.name for p in tmp_path.glob("*.pkl.hmac")) == sorted(f"{n}.hmac" for n in kept)
    assert synthesis.current_model(tmp_path, KEY).path.name == names[-1]


class NoisyTotalSynthesizer(CountingSynthesizer):
    """A stand-in for a DP synthesizer: it carries a noisy total like dp_mst."""

    noisy_total = 17.4


def test_sample_size_a_public_declared_count_else_noisy_total_for_dp_else_the_training_count(tmp_path):
    plain = _fit(tmp_path / "plain", charged_by=1)
    assert plain.noisy_total is None and synthesis.release_rows(plain, None, KEY) == len(TRAIN)
    assert synthesis.release_rows(plain, 7, KEY) == 7
    dp = synthesis.fit_and_save(
        TRAIN, "dp_mst", {}, 1, tmp_path / "dp", NoisyTotalSynthesizer(), key=KEY, charged_by=2
    )
    current = synthesis.current_model(tmp_path / "dp", KEY)
    assert dp.noisy_total == current.noisy_total == 17.4
    assert synthesis.release_rows(current, None, KEY) == 17 != len(TRAIN)
    assert synthesis.release_rows(current, 5, KEY) == 5
    tiny = dataclasses.replace(current, noisy_total=-3.0)
    assert synthesis.release_rows(tiny, None, KEY) == 1, "at least one row"


def test_a_dp_pointer_written_before_the_noisy_total_reads_it_from_the_authenticated_model(tmp_path):
    synthesis.fit_and_save(TRAIN, "dp_mst", {}, 1, tmp_path, NoisyTotalSynthesizer(), key=KEY, charged_by=2)
    pointer_path = tmp_path / synthesis.POINTER
    pointer = json.loads(pointer_path.read_text())
    del pointer["noisy_total"], pointer["mac"]
    pointer["mac"] = synthesis._pointer_mac(pointer, KEY)  # an older pointer, still authentic
    pointer_path.write_text(json.dumps(pointer))
    old = synthesis.current_model(tmp_path, KEY)
    assert old.noisy_total is None
    assert synthesis.release_rows(old, None, KEY) == 17
    with pytest.raises(synthesis.ModelAuthenticationError):
        synthesis.release_rows(old, None, "x" * 64)


def test_a_non_private_pointer_has_no_noisy_total(tmp_path):
    _fit(tmp_path, charged_by=1)
    assert "noisy_total" not in json.loads((tmp_path / synthesis.POINTER).read_text())


def test_a_model_file_is_named_by_16_hex_digits_of_its_sha256_and_the_pointer_holds_all_64(tmp_path):
    model = _fit(tmp_path, charged_by=1)
    digest = synthesis.file_sha256(model.path)
    assert model.path.name == f"{digest[:16]}.pkl" and model.sha256 == digest and len(digest) == 64
    pointer = json.loads((tmp_path / synthesis.POINTER).read_text())
    assert (pointer["file"], pointer["sha256"]) == (model.path.name, digest)
