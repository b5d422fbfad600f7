"""The ledger: zCDP spend, decision rows with figures, and a hash chain that catches edits,
deletions and truncation (the head kept outside the table), and a migration of old ledgers."""

import hashlib
import json
import math
import os
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from synth_platform.lib.governance import ledger, release
from synth_platform.lib.synthesize import accounting


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


def test_an_edit_deep_in_the_ledger_is_refused_before_any_append(con):
    """Lowering an old training's spend (to free budget) deep in the table: the newest rows and the
    head file still agree, but the next append verifies the whole chain, names the row and adds none."""
    for _ in range(6):
        ledger.append(con, _entry(epsilon=1.0, delta=1e-9))
    ledger.append(con, _entry(event="released", decision="released"))
    con.execute("UPDATE governance.ledger SET epsilon_spent = 0.001 WHERE entry_id = 3")
    assert ledger.check_tail(con) == [], "the newest rows alone do not show it"
    with pytest.raises(ledger.LedgerIntegrityError, match="entry 3 was altered"):
        ledger.append(con, _entry(epsilon=1.0, delta=1e-9))
    assert len(ledger.read_ledger(con)) == 7


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


# --------------------------------------------------------------------------- keyed ledger

KEY = b"a-test-platform-key-of-enough-length"


def _rows(con) -> list[dict]:
    frame = ledger.read_ledger(con)
    return [
        {k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else v) for k, v in r.items()}
        for r in frame.astype(object).to_dict(orient="records")
    ]


def _rehash_plainly(con, edit: dict, drop_mac_kind: bool = True, rewrite_head: Path | None = None) -> None:
    """What someone without the key does: edit a row, then recompute every plain SHA-256 hash."""
    rows = _rows(con)
    prev = ""
    con.execute("DELETE FROM governance.ledger")
    for row in rows:
        if row["entry_id"] == edit["entry_id"]:
            row.update(edit)
        if drop_mac_kind:
            row["mac_kind"] = None
        row["prev_hash"] = prev
        plain = hashlib.sha256(ledger._canonical(prev, ledger._normalise(row))).hexdigest()
        row["row_hash"] = prev = plain  # the plain SHA-256 anyone can recompute
        con.execute(
            f"INSERT INTO governance.ledger ({', '.join(ledger.COLUMN_NAMES)}) "
            f"VALUES ({', '.join('?' * len(ledger.COLUMN_NAMES))})",
            [row[c] for c in ledger.COLUMN_NAMES],
        )
    if rewrite_head is not None:  # and an old-style head file (no HMAC) naming the new newest row
        ledger.head_path(rewrite_head).write_text(
            json.dumps({"entry_id": rows[-1]["entry_id"], "row_hash": prev})
        )


def test_new_rows_and_the_head_are_keyed_and_verify_only_under_the_key(con, db_path):
    for epsilon in (1.0, 0.5, 0.25):
        ledger.append(con, _entry(epsilon=epsilon), key=KEY)
    rows = _rows(con)
    assert {r["mac_kind"] for r in rows} == {ledger.MAC_KIND}
    assert ledger.verify_chain(con, key=KEY) == []
    head = json.loads(ledger.head_path(db_path).read_text())
    assert head["entry_id"] == 3 and len(head["mac"]) == 64
    # Nobody can recompute a row's hash without the key: it is not the plain SHA-256 of the row.
    plain = hashlib.sha256(ledger._canonical("", ledger._normalise(rows[0]))).hexdigest()
    assert rows[0]["row_hash"] != plain
    wrong = ledger.verify_chain(con, key=b"another-key-that-is-long-enough")
    assert any("entry 1 was altered" in p for p in wrong), wrong
    assert any("head file" in p and "HMAC" in p for p in wrong), wrong
    with pytest.raises(ledger.LedgerIntegrityError):
        ledger.append(con, _entry(epsilon=1.0), key=b"another-key-that-is-long-enough")


def test_the_default_key_is_the_platform_key():
    ledger_key = ledger.default_platform_key(create=False)
    from synth_platform.lib.storage import secrets

    assert ledger_key == secrets.pseudonym_key(os.environ.get(secrets.ENV_VAR)).value


@pytest.mark.parametrize("drop_mac_kind", [True, False])
@pytest.mark.parametrize("rewrite_head", [False, True])
def test_a_rewritten_and_rehashed_ledger_fails(con, db_path, drop_mac_kind, rewrite_head):
    for epsilon in (1.0, 1.0, 1.0):
        ledger.append(con, _entry(epsilon=epsilon), key=KEY)
    _rehash_plainly(
        con, {"entry_id": 2, "epsilon_spent": 0.01}, drop_mac_kind, db_path if rewrite_head else None
    )
    problems = ledger.verify_chain(con, key=KEY)
    assert problems, "a plainly re-hashed ledger must not verify"
    # Also with the head file deleted: the rows themselves say they were re-hashed.
    ledger.head_path(db_path).unlink()
    assert ledger.verify_chain(con, key=KEY)
    with pytest.raises(ledger.LedgerIntegrityError):
        ledger.append(con, _entry(epsilon=1.0), key=KEY)


def test_a_forged_head_file_fails(con, db_path):
    ledger.append(con, _entry(epsilon=1.0), key=KEY)
    path = ledger.head_path(db_path)
    head = json.loads(path.read_text())
    path.write_text(json.dumps({**head, "entry_id": 7}))
    assert any("forged" in p for p in ledger.verify_chain(con, key=KEY))
    path.write_text(json.dumps({"entry_id": 1, "row_hash": head["row_hash"]}))  # no HMAC at all
    assert any("carries no HMAC" in p for p in ledger.verify_chain(con, key=KEY))


@pytest.mark.parametrize("wipe", ["DELETE FROM governance.ledger", "DROP TABLE governance.ledger"])
def test_a_wiped_ledger_with_its_head_file_deleted_fails_on_the_event_log_head(con, db_path, wipe):
    for _ in range(3):
        row = ledger.append(con, _entry(epsilon=1.0), key=KEY)
    event_log_head = ledger.Head(row["entry_id"], row["row_hash"], "latest ledger materialisation in Dagster")
    con.execute(wipe)
    ledger.head_path(db_path).unlink()
    assert ledger.verify_chain(con, key=KEY) == []  # nothing left to compare with here...
    problems = ledger.verify_chain(con, [event_log_head], key=KEY)
    assert any("truncated" in p for p in problems), problems  # ...but the event log still names entry 3


def test_an_empty_table_with_a_head_file_is_truncation(con, db_path):
    ledger.append(con, _entry(epsilon=1.0), key=KEY)
    con.execute("DELETE FROM governance.ledger")
    assert any("truncated" in p for p in ledger.verify_chain(con, key=KEY))


def test_a_legacy_chain_is_sealed_on_migration_and_cannot_be_downgraded_later(con, db_path):
    legacy = [name for name, _ in ledger._LEGACY_COLUMNS]
    kinds = ", ".join(f"{name} {kind}" for name, kind in ledger._LEGACY_COLUMNS)
    con.execute("CREATE SCHEMA governance")
    con.execute(f"CREATE TABLE governance.ledger ({kinds})")
    row = {name: None for name in legacy[:-1]}
    row.update(entry_id=1, recorded_at=datetime(2025, 1, 1), dataset="people", event="trained", prev_hash="")
    row["row_hash"] = _legacy_hash("", row)
    con.execute(f"INSERT INTO governance.ledger VALUES ({', '.join('?' * len(legacy))})", list(row.values()))
    ledger.ensure_ledger(con, KEY)
    assert json.loads(ledger.head_path(db_path).read_text())["entry_id"] == 1  # sealed by a keyed head
    ledger.append(con, _entry(epsilon=1.0), key=KEY)
    assert ledger.verify_chain(con, key=KEY) == []  # the legacy row still verifies, as legacy
    _rehash_plainly(con, {"entry_id": 2, "epsilon_spent": 0.01}, rewrite_head=db_path)
    assert ledger.verify_chain(con, key=KEY)


def test_gate_rows_spend_rho_and_every_new_row_names_its_source(con):
    rho = 0.002
    ledger.append(con, _entry(epsilon=1.0, delta=1e-9, source_id="src_a", plan_digest="d" * 64), key=KEY)
    gate = ledger.append(
        con, _entry(event="gate", decision="gate figures", rho_spent=rho, delta=1e-9), key=KEY
    )
    assert gate["rho_spent"] == rho and gate["epsilon_spent"] > 0 and "gate" in gate["epsilon_note"]
    assert gate["source_id"] == "src_a"  # filled from the dataset's source
    assert gate["plan_digest"] == "d" * 64  # and its approved plan
    one = accounting.rho_from_epsilon_delta(1.0, 1e-9)
    assert gate["cumulative_rho"] == pytest.approx(one + rho)
    assert ledger.cumulative_rho(con, "people") == pytest.approx(one + rho)
    with pytest.raises(ValueError, match="must state what"):
        ledger.append(con, _entry(event="gate", decision="gate figures"), key=KEY)  # no rho: refused
    assert ledger.verify_chain(con, key=KEY) == []
