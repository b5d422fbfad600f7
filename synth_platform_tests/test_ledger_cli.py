"""`synth-platform ledger verify|show`: exit codes a script can rely on, read-only, no Dagster."""

import json
import os
import subprocess
import sys

import pytest

from synth_platform.cli import main
from synth_platform.lib.governance import ledger
from synth_platform.lib.storage import warehouse


def _entry(event="trained", epsilon=1.0, dataset="people"):
    return ledger.LedgerEntry(
        run_id="run-1",
        dataset=dataset,
        event=event,
        source_hash="s" * 64,
        train_data_hash="t" * 64,
        synthesizer="dp_mst",
        parameters={"epsilon": epsilon},
        code_version="test",
        epsilon_spent=epsilon if event == "trained" else None,
        decision=event,
        figures={"quality_score": {"figure": 0.97, "threshold": 0.75}} if event == "released" else {},
    )


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    monkeypatch.setenv("SYNTH_WAREHOUSE_PATH", str(path))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # no event log unless a test makes one
    with warehouse.connect(path) as con:
        for item in (_entry(), _entry("released"), _entry(dataset="other"), _entry()):
            ledger.append(con, item)
    return path


def _execute(con_path, sql):
    with warehouse.connect(con_path) as con:
        con.execute(sql)


def test_intact_ledger_verifies_with_exit_0(db, capsys):
    before = db.stat().st_mtime_ns
    assert main(["ledger", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    assert db.stat().st_mtime_ns == before  # read-only


def test_edited_row_exits_1_naming_the_entry(db, capsys):
    _execute(db, "UPDATE governance.ledger SET epsilon_spent = 0.01 WHERE entry_id = 1")
    assert main(["ledger", "verify"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "entry 1 was altered" in out


def test_truncated_tail_exits_1_from_the_console_script(db):
    _execute(db, "DELETE FROM governance.ledger WHERE entry_id >= 3")
    script = os.path.join(os.path.dirname(sys.executable), "synth-platform")
    done = subprocess.run([script, "ledger", "verify"], capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert "entries 3..4 are missing" in done.stdout and "truncated" in done.stdout


def test_show_prints_one_dataset_as_json(db, capsys):
    assert main(["ledger", "show", "people", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [e["entry_id"] for e in shown["entries"]] == [1, 2, 4]
    released = shown["entries"][1]
    assert released["event"] == "released" and released["gate_figures"]["quality_score"]["figure"] == 0.97
    assert shown["entries"][0]["rho_spent"] > 0 and shown["entries"][0]["delta"] == 1e-9
    assert main(["ledger", "show"]) == 0
    table = capsys.readouterr().out
    assert "other" in table and "cumulative_epsilon" in table
    assert main(["ledger", "show", "nobody"]) == 2
    assert "datasets in the ledger: other, people" in capsys.readouterr().err


def test_missing_warehouse_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SYNTH_WAREHOUSE_PATH", str(tmp_path / "none.duckdb"))
    assert main(["ledger", "verify"]) == 2
    assert "no warehouse" in capsys.readouterr().err


def _event_log_head(tmp_path, monkeypatch, row: dict) -> None:
    """A Dagster instance at DAGSTER_HOME whose newest ledger materialisation names `row` as the head."""
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey(["governance", "ledger"]),
                metadata={"entry_id": str(row["entry_id"]), "row_hash": str(row["row_hash"])},
            )
        )


def _newest(path) -> dict:
    with warehouse.connect(path, read_only=True) as con:
        return ledger.read_ledger(con).iloc[-1].to_dict()


def test_verify_also_checks_the_head_in_dagsters_event_log(db, tmp_path, monkeypatch, capsys):
    _event_log_head(tmp_path, monkeypatch, _newest(db))
    assert main(["ledger", "verify"]) == 0
    assert "head entry 4 in Dagster's event log matches" in capsys.readouterr().out


@pytest.mark.parametrize("wipe", ["DELETE FROM governance.ledger", "DROP TABLE governance.ledger"])
def test_a_wiped_ledger_without_its_head_file_fails_on_the_event_log_head(
    db, tmp_path, monkeypatch, capsys, wipe
):
    _event_log_head(tmp_path, monkeypatch, _newest(db))
    _execute(db, wipe)
    ledger.head_path(db).unlink()
    assert main(["ledger", "verify"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "truncated" in out and "Dagster" in out
    assert main(["ledger", "verify", "--no-event-log"]) == 0  # without it there is nothing to compare


def test_a_rehashed_ledger_fails(db, capsys):
    import hashlib

    with warehouse.connect(db) as con:  # edit entry 1 and recompute every plain SHA-256 hash
        frame = ledger.read_ledger(con)
        con.execute("DELETE FROM governance.ledger")
        prev = ""
        for record in frame.astype(object).where(frame.notna(), None).to_dict(orient="records"):
            record.update(prev_hash=prev, mac_kind=None)
            if record["entry_id"] == 1:
                record["epsilon_spent"] = 0.01
            record["row_hash"] = prev = hashlib.sha256(
                ledger._canonical(prev, ledger._normalise(record))
            ).hexdigest()
            con.execute(
                f"INSERT INTO governance.ledger ({', '.join(ledger.COLUMN_NAMES)}) "
                f"VALUES ({', '.join('?' * len(ledger.COLUMN_NAMES))})",
                [record[c] for c in ledger.COLUMN_NAMES],
            )
    assert main(["ledger", "verify"]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_a_wrong_key_fails(db, monkeypatch, capsys):
    monkeypatch.setenv("SYNTH_PSEUDONYM_KEY", "a-different-platform-key-0123456789")
    assert main(["ledger", "verify"]) == 1
    out = capsys.readouterr().out
    assert "HMAC" in out and "a-different-platform-key" not in out


def _append_check(path, passed=False) -> dict:
    """A `check` row as `synth-platform check` appends it (its own entry builder, a stub report)."""
    from types import SimpleNamespace

    from synth_platform.cli.check import check_entry

    spec = SimpleNamespace(name="people", privacy=SimpleNamespace(epsilon_budget=10.0, delta=1e-9))
    failed = [] if passed else ["exact_copies", "near_copies"]
    report = SimpleNamespace(passed=passed, failed_checks=failed)
    entry = check_entry(spec, "f" * 64, 1234, "model", "all", report)
    with warehouse.connect(path) as con:
        return ledger.append(con, entry)


def test_check_rows_verify_and_are_shown(db, capsys, monkeypatch):
    monkeypatch.setenv("SYNTH_OPERATOR", "grace")
    before = _newest(db)
    row = _append_check(db)
    assert (row["event"], row["rho_spent"], row["epsilon_spent"]) == ("check", 0.0, 0.0)
    assert row["cumulative_rho"] == before["cumulative_rho"]  # the same dataset's total: no spend
    assert row["epsilon_note"] == ledger.CHECK_NOTE
    assert main(["ledger", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    assert main(["ledger", "show", "people"]) == 0
    out = capsys.readouterr().out
    assert "check: would be blocked (failed: exact_copies" in out
    assert f"check entry {row['entry_id']}: by " in out and "(operator grace)" in out
    assert "file sha256 " + "f" * 64 in out and "trained_on all" in out and "1234 rows (model shape)" in out
    assert main(["ledger", "show", "people", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["entries"][-1]
    assert shown["event"] == "check" and shown["parameters"]["failed_checks"] == [
        "exact_copies",
        "near_copies",
    ]
    assert shown["parameters"]["verdict"] == "blocked" and shown["parameters"]["operator"] == "grace"


def test_check_rows_spend_nothing_and_stay_out_of_the_published_ledger(db, tmp_path):
    import duckdb

    from synth_platform.lib.storage import zones

    with warehouse.connect(db, read_only=True) as con:
        spent = ledger.cumulative_spend(con, "people")
    _append_check(db, passed=True)
    _append_check(db)
    with warehouse.connect(db, read_only=True) as con:
        assert ledger.cumulative_spend(con, "people") == spent
        governed = ledger.read_ledger(con)
    assert list(governed["event"]).count("check") == 2
    with warehouse.warehouse_lock(db):
        zones.refresh_published(db)
    con = duckdb.connect(str(zones.published_path(db)), read_only=True)
    try:
        published = con.execute("SELECT * FROM governance.ledger ORDER BY entry_id").df()
    finally:
        con.close()
    assert "check" not in set(published["event"])
    assert list(published["entry_id"]) == [
        e for e, v in zip(governed["entry_id"], governed["event"], strict=True) if v != "check"
    ]
    text = published.to_csv()
    assert "f" * 64 not in text and "operator" not in text and "would be" not in text
