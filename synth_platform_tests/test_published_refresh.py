"""The published zone refreshed incrementally holds exactly what a full refresh would.

What a user checks: after each refresh the zone has the same tables and rows as a zone refreshed
from scratch (`zones.refresh_published`): released tables, the reduced ledger without governed-only
rows, no withdrawn release; a released table unchanged since the last refresh is not copied again,
while one replaced by a new release -- or changed in place without a ledger row -- is. Small tables
with unicode names, NULLs and a date column, unlike the demo's.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from synth_platform.lib.governance import ledger, release
from synth_platform.lib.storage import warehouse, zones
from synth_platform.lib.storage.published_refresh import refresh_changed

DATASET = "Kundschaft ü"


def _entry(event: str, dataset: str = DATASET) -> ledger.LedgerEntry:
    return ledger.LedgerEntry(
        run_id="run-1",
        dataset=dataset,
        event=event,
        source_hash="0" * 64,
        train_data_hash="1" * 64,
        synthesizer="dp_mst",
        parameters={"epsilon": 1.0, "delta": 1e-9},
        code_version="test/synthesizer-2",
        source_id="src_" + "0" * 32,
        epsilon_spent=1.0 if event == "trained" else None,
        delta=1e-9,
    )


def _frame(shift: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Ort": ["Zürich", None, "Île-de-France"],
            "Betrag": [1.5 + shift, None, -2.0],
            "Tag": pd.to_datetime(["2020-01-01", None, "2021-06-30"]),
        }
    )


def _zone(path) -> dict[str, list[tuple]]:
    """Every table of a zone file, its rows sorted (order is not content)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY 1, 2"
        ).fetchall()
        return {
            f"{s}.{t}": sorted(map(repr, con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()))
            for s, t in names
        }
    finally:
        con.close()


def _same_as_a_full_refresh(db, tmp_path) -> None:
    fresh = tmp_path / f"fresh_{len(list(tmp_path.iterdir()))}.duckdb"
    zones.refresh_published(db, fresh)
    assert _zone(zones.published_path(db)) == _zone(fresh)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with warehouse.connect(path) as con:
        ledger.append(con, _entry("trained"))
        ledger.append(con, _entry("check"))  # governed-only: never published
        release.publish(con, DATASET, _frame(), _entry("released"))
        release.publish(con, "andere", _frame(5), _entry("released", "andere"))
    return path


def test_an_unchanged_release_is_not_copied_again(db, tmp_path):
    tables, copied = refresh_changed(db)
    assert (
        sorted(tables)
        == sorted(copied)
        == sorted(["governance.ledger", "release.andere", f"release.{DATASET}"])
    )
    _same_as_a_full_refresh(db, tmp_path)
    tables, copied = refresh_changed(db)
    assert len(tables) == 3 and copied == ["governance.ledger"]
    _same_as_a_full_refresh(db, tmp_path)
    events = {
        r[0]
        for r in duckdb.connect(str(zones.published_path(db)), read_only=True)
        .execute("SELECT event FROM governance.ledger")
        .fetchall()
    }
    assert "check" not in events


def test_a_new_release_or_an_edit_in_place_is_copied_and_a_withdrawn_one_dropped(db, tmp_path):
    refresh_changed(db)
    with warehouse.connect(db) as con:
        release.publish(con, DATASET, _frame(1), _entry("released"))
    assert refresh_changed(db)[1] == ["governance.ledger", f"release.{DATASET}"]
    _same_as_a_full_refresh(db, tmp_path)
    with warehouse.connect(db) as con:  # no ledger row: found by its content
        con.execute('UPDATE release.andere SET "Ort" = \'Genève\' WHERE "Ort" IS NULL')
    assert refresh_changed(db)[1] == ["governance.ledger", "release.andere"]
    _same_as_a_full_refresh(db, tmp_path)
    with warehouse.connect(db) as con:
        con.execute("DROP TABLE release.andere")
    tables, _copied = refresh_changed(db)
    assert "release.andere" not in tables
    assert "release.andere" not in _zone(zones.published_path(db))
    _same_as_a_full_refresh(db, tmp_path)
