"""The published zone holds nothing computed on real rows: a reduced ledger, no hash, no gate figure."""

import re
import secrets

import duckdb
import pandas as pd
import pytest

from synth_platform.lib.governance import ledger, release
from synth_platform.lib.storage import warehouse, zones

HEX64 = re.compile(r"[0-9a-f]{64}", re.IGNORECASE)
TRAIN_DATA_HASH = secrets.token_hex(32)
SOURCE_HASH = secrets.token_hex(32)
MODEL_SHA = secrets.token_hex(32)
PLAN_DIGEST = secrets.token_hex(32)
#: What an analyst may read of the ledger (zones.PUBLISHED_LEDGER_COLUMNS must stay within it).
ALLOWED = {
    "entry_id",
    "recorded_at",
    "dataset",
    "event",
    "synthesizer",
    "code_version",
    "epsilon_spent",
    "epsilon_note",
    "delta",
    "rho_spent",
    "delta_additive",
    "cumulative_epsilon",
    "cumulative_rho",
    "epsilon_budget",
    "budget_delta",
    "decision",
    "charged_entry",
    "plan_digest",
}
DIGEST_COLUMNS = {"plan_digest"}  # public digests of approved plans: the only hex digests allowed
FIGURES = {
    "quality_score": {"figure": 0.8765, "threshold": 0.75, "ci": [0.8712, 0.8801]},
    "exact_copies": {"figure": 0.0123, "threshold": 0.02},
    "no_identifier_leak": {"figure": 0, "threshold": 0},
}


def _entry(event: str, **extra) -> ledger.LedgerEntry:
    return ledger.LedgerEntry(
        run_id="run-1",
        dataset="people",
        event=event,
        source_hash=SOURCE_HASH,
        train_data_hash=TRAIN_DATA_HASH,
        synthesizer="dp_mst",
        parameters={"epsilon": 1.0, "delta": 1e-9},
        code_version="test/synthesizer-2",
        source_id="src_" + "0" * 32,
        plan_digest=PLAN_DIGEST,
        **{"decision": event, **extra},
    )


@pytest.fixture
def published(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    with warehouse.connect(db) as con:
        ledger.append(con, _entry("trained", epsilon_spent=1.0, delta=1e-9))
        ledger.append(con, _entry("gate", rho_spent=0.001, delta=1e-9, decision="gate figures measured"))
        ledger.append(
            con,
            _entry(
                "blocked",
                decision="blocked: failed exact_copies",
                quality_score=0.8765,
                exact_copy_share=0.0123,
                identifier_leaks=0,
                figures=FIGURES,
                model_sha256=MODEL_SHA,
                charged_entry=1,
            ),
        )
        release.publish(
            con,
            "people",
            pd.DataFrame({"age_band": ["30-39", "40-49"]}),
            _entry(
                "released", figures=FIGURES, quality_score=0.8765, model_sha256=MODEL_SHA, charged_entry=1
            ),
        )
    copied = zones.refresh_published(db)
    assert sorted(copied) == ["governance.ledger", "release.people"]
    return zones.published_path(db)


def _tables(con) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database()"
    ).fetchall()


def test_the_published_ledger_is_a_reduced_view(published):
    assert set(zones.PUBLISHED_LEDGER_COLUMNS) <= ALLOWED
    con = duckdb.connect(str(published), read_only=True)
    try:
        columns = {r[0] for r in con.execute("DESCRIBE governance.ledger").fetchall()}
        assert columns <= ALLOWED, sorted(columns - ALLOWED)
        for forbidden in ("source_hash", "train_data_hash", "row_hash", "prev_hash", "model_sha256"):
            assert forbidden not in columns
        for forbidden in (
            "gate_figures",
            "quality_score",
            "exact_copy_share",
            "identifier_leaks",
            "source_id",
        ):
            assert forbidden not in columns
        events = [
            r[0] for r in con.execute("SELECT event FROM governance.ledger ORDER BY entry_id").fetchall()
        ]
        assert events == ["trained", "gate", "blocked", "released"]
        spent = con.execute("SELECT sum(rho_spent) FROM governance.ledger").fetchone()[0]
        assert spent > 0.001
    finally:
        con.close()


def test_no_hash_and_no_real_data_figure_appears_in_any_published_table(published):
    secrets_hex = {TRAIN_DATA_HASH, SOURCE_HASH, MODEL_SHA}
    con = duckdb.connect(str(published), read_only=True)
    try:
        tables = _tables(con)
        assert tables
        for schema, table in tables:
            frame = con.execute(f'SELECT * FROM "{schema}"."{table}"').df()
            for column in frame.columns:
                texts = [str(v) for v in frame[column].tolist() if v is not None]
                assert not any(h in t for h in secrets_hex for t in texts), f"{schema}.{table}.{column}"
                if column not in DIGEST_COLUMNS:
                    assert not any(HEX64.search(t) for t in texts), (
                        f"a 64-hex string in {schema}.{table}.{column}"
                    )
                # No real-data figure: neither the quality score nor the copy share, in any form.
                assert not any("0.8765" in t or "0.0123" in t for t in texts), f"{schema}.{table}.{column}"
    finally:
        con.close()


def test_a_ledger_from_before_the_new_columns_is_published_too(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    kinds = ", ".join(f"{name} {kind}" for name, kind in ledger._LEGACY_COLUMNS)
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA governance")
    con.execute(f"CREATE TABLE governance.ledger ({kinds})")
    con.close()
    zones.refresh_published(db)
    con = duckdb.connect(str(zones.published_path(db)), read_only=True)
    try:
        columns = [r[0] for r in con.execute("DESCRIBE governance.ledger").fetchall()]
    finally:
        con.close()
    assert columns == list(zones.PUBLISHED_LEDGER_COLUMNS)
