"""Once a ledger exists, a lost or swapped platform key stops everything; it is never regenerated."""

from __future__ import annotations

import stat
from pathlib import Path

import dagster as dg
import pytest

from synth_platform.cli import UsageError
from synth_platform.cli.check import _recording_key
from synth_platform.defs.resources import PseudonymKeyResource
from synth_platform.lib.governance import ledger
from synth_platform.lib.storage import platform_key, secrets, warehouse
from synth_platform_tests.pipeline_harness import DATASET, make_project

RESTORE = "put the backed-up key file back at"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def key_dir(tmp_path, monkeypatch) -> Path:
    """An empty secrets folder of this test's own (never the tester's home or the shared test key)."""
    monkeypatch.delenv("SYNTH_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("SYNTH_SECRETS_DIR", str(tmp_path / "secrets"))
    return tmp_path / "secrets"


def _with_ledger(db: Path) -> Path:
    """A warehouse whose ledger has one keyed row, written under the key in SYNTH_SECRETS_DIR."""
    entry = ledger.LedgerEntry("run-1", "people", "trained", "s", "t", "gaussian_copula", {}, "test")
    with warehouse.connect(db) as con:
        ledger.append(con, entry)
    return db


def _snapshot(db: Path):
    with warehouse.connect(db, read_only=True) as con:
        rows = ledger.read_ledger(con).to_csv(index=False)  # NaN-safe to compare
    return rows, ledger.head_path(db).read_text()


def test_first_use_without_a_ledger_generates_a_private_key(tmp_path, key_dir):
    resource = PseudonymKeyResource(warehouse_path=str(tmp_path / "warehouse.duckdb"))
    key = resource.resolve()  # no warehouse yet
    path = key_dir / "pseudonym.key"
    assert key.source == str(path) and _mode(path) == 0o600 and _mode(key_dir) == 0o700
    assert resource.resolve().value == key.value
    path.unlink()
    with warehouse.connect(tmp_path / "warehouse.duckdb") as con:  # a warehouse, but its ledger is empty
        ledger.ensure_ledger(con)
    assert resource.resolve().value != key.value and _mode(path) == 0o600


def test_with_a_ledger_a_missing_key_stops_the_resource_and_the_ledger(tmp_path, key_dir):
    db = _with_ledger(tmp_path / "warehouse.duckdb")
    before = _snapshot(db)
    path = key_dir / "pseudonym.key"
    path.unlink()  # e.g. `make clean` took it, or a new machine without the backup

    with pytest.raises(dg.Failure) as failure:
        PseudonymKeyResource(warehouse_path=str(db)).resolve()
    assert RESTORE in failure.value.description and str(path) in failure.value.description
    assert "SYNTH_PSEUDONYM_KEY" in failure.value.description and not failure.value.allow_retries

    entry = ledger.LedgerEntry("run-2", "people", "released", "s", "t", "gaussian_copula", {}, "test")
    with warehouse.connect(db) as con, pytest.raises(secrets.MissingKeyError, match=RESTORE):
        ledger.append(con, entry)  # the ledger's own default key never regenerates either

    with pytest.raises(UsageError, match=RESTORE):  # `synth-platform check` / `export-train`
        _recording_key(db)
    assert not path.exists()
    assert _snapshot(db) == before

    # The ledger, not a marker, says a key existed: with only the head file left, still refused.
    db.unlink()
    with pytest.raises(dg.Failure, match=RESTORE):
        PseudonymKeyResource(warehouse_path=str(db)).resolve()
    assert not path.exists()


def test_with_a_ledger_another_key_is_refused_before_anything_is_keyed(tmp_path, key_dir, monkeypatch):
    db = _with_ledger(tmp_path / "warehouse.duckdb")
    original = (key_dir / "pseudonym.key").read_text()
    before = _snapshot(db)
    (key_dir / "pseudonym.key").write_text("a-freshly-generated-replacement-key-01")
    with pytest.raises(dg.Failure) as failure:
        PseudonymKeyResource(warehouse_path=str(db)).resolve()
    message = failure.value.description
    assert "not the key the privacy ledger" in message and RESTORE in message
    assert "replacement-key" not in message

    (key_dir / "pseudonym.key").write_text(original)  # the original back: accepted
    assert PseudonymKeyResource(warehouse_path=str(db)).resolve().value == original.strip().encode()
    monkeypatch.setenv("SYNTH_PSEUDONYM_KEY", "an-operator-key-that-is-not-the-one")
    with pytest.raises(platform_key.KeyMismatchError, match="environment variable SYNTH_PSEUDONYM_KEY"):
        platform_key.platform_key(db, "an-operator-key-that-is-not-the-one")
    assert _snapshot(db) == before


def test_a_real_run_with_a_ledger_and_no_key_stops_at_the_first_keyed_step(tmp_path, key_dir):
    project = make_project(tmp_path, rows=1500, spec_overrides={"split": {"holdout_fraction": 0.3}})
    db = _with_ledger(project.settings.warehouse_path)
    before = _snapshot(db)
    (key_dir / "pseudonym.key").unlink()

    result = project.run()
    assert not result.success
    failed = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert [e.step_key for e in failed] == [f"{DATASET}__masked"]
    assert RESTORE in failed[0].step_failure_data.error.message
    done = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_SUCCESS}
    assert not any(step.endswith(("split", "synthesizer", "synthetic", "release")) for step in done)
    assert not (key_dir / "pseudonym.key").exists()
    assert _snapshot(db) == before
