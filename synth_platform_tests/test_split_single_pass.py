"""The warehouse split computes its keyed pass once for both sides (`split._sided_once`).

Was: train and holdout were each written by `split_sql.split_selects`' own SELECT, so the
one-row-per-key ranking and an HMAC per row ran twice over the masked table. Now one TEMP table
holds the sided rows and both sides select from it. These tests hold the new tables to the old
SELECTs, cell for cell and in order, on varied data (keys with NULLs and duplicates, no key, odd
text, floats, dates), and check the TEMP table is gone afterwards whatever happened.
"""

import pandas as pd
import pytest

from synth_platform.lib.storage import warehouse
from synth_platform.lib.storage.sql_dialect import DUCKDB, bind_duckdb
from synth_platform.lib.synthesize import split_sql
from synth_platform.lib.synthesize.split import split_table
from synth_platform_tests.test_split_sql import FRAMES, SECRET


def _old_sides(con, key, fraction, seed):
    """Train and holdout as the two SELECTs of `split_sql` give them (the former write)."""
    from synth_platform.lib.deidentify.masking_sql import duckdb_column_kinds

    relation = DUCKDB.relation("masked", "t")
    columns = list(duckdb_column_kinds(con, relation).items())
    selects = split_sql.split_selects(relation, key, fraction, seed, SECRET, DUCKDB, columns)
    with bind_duckdb(con, selects.params):
        return con.execute(selects.train_sql).df(), con.execute(selects.holdout_sql).df()


def _temp_tables(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()]


@pytest.mark.parametrize("name", list(FRAMES))
@pytest.mark.parametrize("fraction, seed", [(0.2, 7), (0.5, 3)])
def test_both_sides_are_the_rows_the_two_selects_gave(tmp_path, name, fraction, seed):
    frame, key = FRAMES[name]
    db = tmp_path / "wh.duckdb"
    warehouse.write_table(db, "masked", "t", frame)
    with warehouse.connect(db) as con:
        old_train, old_holdout = _old_sides(con, key, fraction, seed)
        counts = split_table(
            con, ("masked", "t"), ("masked", "tr"), ("masked", "ho"), fraction, seed, key, secret=SECRET
        )
        assert _temp_tables(con) == []
        train = con.execute("SELECT * FROM masked.tr").df()
        holdout = con.execute("SELECT * FROM masked.ho").df()
        types = {t: con.execute(f"DESCRIBE masked.{t}").fetchall() for t in ("t", "tr", "ho")}
    pd.testing.assert_frame_equal(train, old_train)
    pd.testing.assert_frame_equal(holdout, old_holdout)
    assert types["tr"] == types["ho"] == types["t"]
    assert (counts.train, counts.holdout) == (len(old_train), len(old_holdout))
    assert counts.duplicate_rows_dropped == len(frame) - len(old_train) - len(old_holdout)


def test_a_refused_split_leaves_no_temp_table_and_the_previous_sides(tmp_path):
    frame, key = FRAMES["integer key with duplicates"]
    db = tmp_path / "wh.duckdb"
    warehouse.write_table(db, "masked", "t", frame)
    warehouse.write_table(db, "masked", "tr", pd.DataFrame({"previous": ["tr"]}))

    def refuse(con, counts):
        raise RuntimeError("the gate would only block")

    with warehouse.connect(db) as con:
        with pytest.raises(RuntimeError, match="only block"):
            split_table(
                con, ("masked", "t"), ("masked", "tr"), ("masked", "ho"), 0.2, 1, key, before_commit=refuse
            )
        assert _temp_tables(con) == []
    assert warehouse.read_table(db, "masked", "tr")["previous"].tolist() == ["tr"]
    assert not warehouse.table_exists(db, "masked", "ho")


def test_sides_keep_source_order_across_row_groups(tmp_path):
    """Several of DuckDB's row groups (122,880 rows each), scanned by several threads: the sides
    still come in source order, as the two SELECTs gave them."""
    rows = 300_000
    frame = pd.DataFrame({"id": [f"k{i % 250_000}" for i in range(rows)], "v": range(rows)})
    db = tmp_path / "wh.duckdb"
    warehouse.write_table(db, "masked", "t", frame)
    with warehouse.connect(db) as con:
        con.execute("SET threads = 4")
        old_train, old_holdout = _old_sides(con, "id", 0.3, 2)
        split_table(con, ("masked", "t"), ("masked", "tr"), ("masked", "ho"), 0.3, 2, "id", secret=SECRET)
        train = con.execute("SELECT * FROM masked.tr").df()
        holdout = con.execute("SELECT * FROM masked.ho").df()
    pd.testing.assert_frame_equal(train, old_train)
    pd.testing.assert_frame_equal(holdout, old_holdout)
