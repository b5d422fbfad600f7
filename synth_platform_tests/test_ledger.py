"""The ledger: zCDP spend, decision rows with figures, and a hash chain that catches edits,
deletions and truncation (the head kept outside the table), and a migration of old ledgers."""

import hashlib
import json
import math
from datetime import datetime

import duckdb
import pandas as pd
import pytest

from synth_platform.lib import accounting, ledger, release


def _entry(event="trained", epsilon=None, dataset="people", decision="trained", **extra):
    return ledger.LedgerEntry(
        run_id="run-1",
        dataset=dataset,
        event=event,
        source_hash="s" * 64,
        train_data_hash="t" * 64,
        synthesizer="gaussian_copula",
        parameters={"default_distribution": "norm"},
        code_version="0.1.0",
        epsilon_spent=epsilon,
        decision=decision,
        **extra,
    )


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "w.duckdb"


@pytest.fixture
def con(db_path):
    connection = duckdb.connect(str(db_path))
    yield connection
    connection.close()


def test_non_private_training_is_unbounded_never_zero(con):
    row = ledger.append(con, _entry())
    assert row["epsilon_spent"] is None and row["rho_spent"] is None
    assert "unbounded" in row["epsilon_note"]
    assert math.isinf(row["cumulative_epsilon"]) and math.isinf(row["cumulative_rho"])
    assert math.isinf(ledger.cumulative_epsilon(con, "people"))
    later = ledger.append(con, _entry(epsilon=1.0, delta=1e-9))  # a private fit cannot undo it
    assert math.isinf(later["cumulative_epsilon"])


def test_private_spend_composes_in_rho_and_is_shown_at_the_dataset_delta(con):
    first = ledger.append(con, _entry(epsilon=1.0, delta=1e-9))
    second = ledger.append(con, _entry(epsilon=0.5, delta=1e-9))
    rho_one, rho_half = (accounting.rho_from_epsilon_delta(e, 1e-9) for e in (1.0, 0.5))
    assert (first["epsilon_spent"], first["delta"]) == (1.0, 1e-9)
    assert first["rho_spent"] == pytest.approx(rho_one)
    assert second["cumulative_rho"] == pytest.approx(rho_one + rho_half)
    expected = accounting.epsilon_from_rho(rho_one + rho_half, 1e-9)
    assert second["cumulative_epsilon"] == pytest.approx(expected)
    assert 1.0 < expected < 1.5  # composed in zCDP: less than the sum of the epsilons
    assert ledger.cumulative_epsilon(con, "people") == pytest.approx(expected)
    assert ledger.cumulative_epsilon(con, "other") == 0.0


def test_decision_rows_spend_nothing_and_carry_every_gate_figure(con):
    ledger.append(con, _entry(epsilon=1.0))
    figures = {"quality_score": {"figure": 0.91, "threshold": 0.75, "ci": [0.89, 0.93]}}
    row = ledger.append(
        con, _entry(event="released", decision="released", figures=figures, model_sha256="m" * 64)
    )
    assert row["epsilon_spent"] == 0.0 and row["rho_spent"] == 0.0
    assert "already-charged" in row["epsilon_note"]
    stored = ledger.read_ledger(con).iloc[-1]
    assert json.loads(stored["gate_figures"]) == figures
    assert stored["model_sha256"] == "m" * 64
    assert ledger.verify_chain(con) == []


def test_unknown_event_is_refused(con):
    with pytest.raises(ValueError, match="unknown ledger event"):
        ledger.append(con, _entry(event="bogus"))


def test_chain_detects_edits_and_deletions(con):
    for _ in range(3):
        ledger.append(con, _entry())
    ledger.append(con, _entry(event="released", decision="released"))
    assert ledger.verify_chain(con) == []
    con.execute("UPDATE governance.ledger SET decision = 'released' WHERE entry_id = 2")
    assert any("entry 2 was altered" in p for p in ledger.verify_chain(con))
    con.execute("DELETE FROM governance.ledger WHERE entry_id = 3")
    assert any("entry 3 is missing" in p for p in ledger.verify_chain(con))


def test_truncated_tail_is_caught_by_the_head_file_and_never_extended(con, db_path):
    for _ in range(4):
        ledger.append(con, _entry())
    assert ledger.read_head_file(db_path).entry_id == 4
    con.execute("DELETE FROM governance.ledger WHERE entry_id = 4")  # the chain itself still links up
    problems = ledger.verify_chain(con)
    assert any("entries 4..4 are missing" in p and "truncated" in p for p in problems), problems
    with pytest.raises(ledger.LedgerIntegrityError, match="truncated"):
        ledger.append(con, _entry())
    assert len(ledger.read_ledger(con)) == 3  # nothing was appended to the broken chain


def test_edited_newest_row_stops_the_next_append(con):
    ledger.append(con, _entry())
    ledger.append(con, _entry(epsilon=1.0))
    con.execute("UPDATE governance.ledger SET epsilon_spent = 0.001 WHERE entry_id = 2")
    with pytest.raises(ledger.LedgerIntegrityError, match="entry 2 was altered"):
        ledger.append(con, _entry(epsilon=1.0))


def test_head_from_elsewhere_and_missing_head_file_are_checked(con, db_path):
    for _ in range(3):
        ledger.append(con, _entry())
    dagster_head = ledger.Head(5, "f" * 64, "latest ledger materialisation in Dagster")
    assert any("entries 4..5 are missing" in p for p in ledger.verify_chain(con, [dagster_head]))
    ledger.head_path(db_path).unlink()
    assert any("head file" in p and "missing" in p for p in ledger.verify_chain(con))


def _legacy_hash(prev_hash: str, row: dict) -> str:
    """How the first ledger version hashed a row (copied here so the migration test cannot drift)."""
    payload = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    payload = {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in payload.items()}
    canonical = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def test_an_older_ledger_is_migrated_and_its_rows_still_verify(con):
    legacy = [name for name, _ in ledger._LEGACY_COLUMNS]
    kinds = ", ".join(f"{name} {kind}" for name, kind in ledger._LEGACY_COLUMNS)
    con.execute("CREATE SCHEMA governance")
    con.execute(f"CREATE TABLE governance.ledger ({kinds})")
    prev = ""
    for entry_id, epsilon in ((1, None), (2, 0.5)):
        row = {name: None for name in legacy[:-1]}
        row.update(
            entry_id=entry_id,
            recorded_at=datetime(2025, 1, entry_id, 10),
            dataset="people",
            event="trained",
            epsilon_spent=epsilon,
            cumulative_epsilon=math.inf,
            decision="trained",
            prev_hash=prev,
        )
        row["row_hash"] = prev = _legacy_hash(prev, row)
        con.execute(
            f"INSERT INTO governance.ledger VALUES ({', '.join('?' * len(legacy))})", list(row.values())
        )
    ledger.append(con, _entry(event="released", decision="released"))
    columns = {r[0] for r in con.execute("DESCRIBE governance.ledger").fetchall()}
    assert {"delta", "rho_spent", "cumulative_rho", "gate_figures", "model_sha256"} <= columns
    assert ledger.verify_chain(con) == []
    con.execute("UPDATE governance.ledger SET rho_spent = 0 WHERE entry_id = 2")  # NULL -> value: caught
    assert any("entry 2 was altered" in p for p in ledger.verify_chain(con))


def test_a_foreign_table_is_refused_not_extended(con):
    con.execute("CREATE SCHEMA governance")
    con.execute("CREATE TABLE governance.ledger (entry_id BIGINT, note VARCHAR)")
    with pytest.raises(ledger.LedgerIntegrityError, match="does not have the ledger's columns"):
        ledger.append(con, _entry())


def test_publish_is_atomic_with_its_ledger_row(con, db_path):
    first = pd.DataFrame({"a": [1, 2]})
    release.publish(con, "people", first, _entry(event="released", decision="released"))
    with pytest.raises(ValueError):
        release.publish(con, "people", pd.DataFrame({"a": [9]}), _entry(event="bogus"))
    assert con.execute("SELECT a FROM release.people ORDER BY a").fetchall() == [(1,), (2,)]
    assert len(ledger.read_ledger(con)) == 1
    assert ledger.read_head_file(db_path).entry_id == 1
    assert ledger.verify_chain(con) == []
