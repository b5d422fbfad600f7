"""Refresh the published zone copying only the released tables that changed since the last refresh.

`zones.refresh_published` copies every released table and the ledger into the published zone
before each dbt build: a deployment with several datasets re-copies every dataset's release (10
million rows take tens of seconds) when one of them changed, and a dbt run with no new release
re-copies them all. `refresh_changed` publishes exactly what `zones.refresh_published` publishes
-- the same tables, columns and rows, withdrawn releases dropped, the reduced ledger, one
transaction -- but leaves a released table in place when the zone's copy already has the same
content: the same column names and types, the same row count and the same two order-insensitive
aggregates of DuckDB's 64-bit row hashes (as `governance.release.table_sha256`). Hashing reads a
table once without writing it: about a tenth of a copy. The ledger (small, and a filtered view)
is always copied. Nothing new is written into the zone: the comparison is recomputed each time.
A dataset whose latest `released` ledger row is not the one the zone's ledger shows was certainly
re-published: its table is copied straight away, without the hash (the chain's own dbt step).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from synth_platform.lib.governance import ledger
from synth_platform.lib.storage import zones
from synth_platform.lib.storage.private_files import make_parents_private
from synth_platform.lib.storage.warehouse import private_connection, quote_ident


def refresh_changed(warehouse_path: Path, target: Path | None = None) -> tuple[list[str], list[str]]:
    """`zones.refresh_published`, skipping released tables the zone already holds unchanged.

    Returns (published tables, the ones actually copied). The caller holds the warehouse lock.
    """
    warehouse_path = Path(warehouse_path)
    target = Path(target) if target else zones.published_path(warehouse_path)
    make_parents_private(target.parent)
    with private_connection(target) as con:
        con.execute(f"ATTACH {zones._literal(str(warehouse_path))} AS wh (READ_ONLY)")
        try:
            here = con.execute("SELECT current_database()").fetchone()[0]
            wanted = zones._tables(con, "wh")
            present = zones._tables(con, here)
            # read before the zone's ledger is replaced: which release each side last recorded
            republished = _republished(con, here)
            copied = []
            con.execute("BEGIN TRANSACTION")
            for schema, table in present:
                if (schema, table) not in set(wanted):
                    con.execute(f"DROP TABLE {quote_ident(schema)}.{quote_ident(table)}")
            for schema, table in wanted:
                if (
                    (schema, table) in present
                    and table not in republished
                    and _unchanged(con, here, schema, table)
                ):
                    continue
                name = f"{quote_ident(schema)}.{quote_ident(table)}"
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
                columns = zones._published_columns(con, schema, table)
                where = zones._published_rows(schema, table)
                con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {columns} FROM wh.{name}{where}")
                copied.append(f"{schema}.{table}")
            con.execute("COMMIT")
        finally:
            con.execute("DETACH wh")
    return [f"{schema}.{table}" for schema, table in wanted], copied


def _republished(con: duckdb.DuckDBPyConnection, here: str) -> set[str]:
    """Datasets whose latest `released` ledger row differs between the warehouse and the zone:
    their release table was certainly replaced, so it is copied without hashing it first (the
    chain's case: the dbt step right after a release). The others are compared by content."""
    shown = _latest_releases(con, here)
    return {dataset for dataset, entry in _latest_releases(con, "wh").items() if shown.get(dataset) != entry}


def _latest_releases(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    """dataset -> entry id of its latest `released` ledger row in `catalog` (none: no ledger)."""
    name = f"{quote_ident(catalog)}.{quote_ident(ledger.SCHEMA)}.{quote_ident(ledger.TABLE)}"
    try:
        rows = con.execute(
            f"SELECT dataset, max(entry_id) FROM {name} WHERE event = 'released' GROUP BY dataset"
        ).fetchall()
    except duckdb.Error:  # no ledger (yet) on this side
        return {}
    return {str(dataset): int(entry) for dataset, entry in rows}


def _unchanged(con: duckdb.DuckDBPyConnection, here: str, schema: str, table: str) -> bool:
    """Whether the zone's copy of a released table has the warehouse table's content (never the
    ledger: its published form is a reduced, filtered view, always copied)."""
    if schema not in zones.PUBLISHED_SCHEMAS:
        return False
    return content_digest(con, "wh", schema, table) == content_digest(con, here, schema, table)


def content_digest(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> tuple:
    """(columns and types, rows, sum and XOR of the 64-bit row hashes) of `catalog.schema.table`:
    order-insensitive, computed inside DuckDB, no row leaves it."""
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [catalog, schema, table],
    ).fetchall()
    if not columns:
        return ()
    row = "hash(" + ", ".join(quote_ident(name) for name, _ in columns) + ")"
    full = f"{quote_ident(catalog)}.{quote_ident(schema)}.{quote_ident(table)}"
    rows, total, xor = con.execute(
        f"SELECT count(*), coalesce(sum({row}::HUGEINT), 0), coalesce(bit_xor({row}), 0) FROM {full}"
    ).fetchall()[0]
    return (tuple(columns), int(rows), int(total), int(xor))
