"""Zones: raw data lives apart from what analysts touch.

The warehouse file holds every zone the governed chain needs — raw, masked, synthetic, the
release and the governance tables. Analysts (dbt and anything downstream of a release) get a
second DuckDB file, the *published zone*, that holds only what was released: the `release`
schema and the ledger (which has no cell value of any dataset). It is refreshed from the
warehouse under the warehouse lock, by copying those tables through a read-only attachment,
so nothing downstream ever opens the file that holds raw identifiers.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from synth_platform.lib.warehouse import quote_ident

#: The schemas and tables that leave the governed side: released synthetic tables and the ledger.
PUBLISHED_SCHEMAS = ("release",)
PUBLISHED_TABLES = (("governance", "ledger"),)


def published_path(warehouse_path: Path) -> Path:
    """The published zone's file, beside the warehouse: `warehouse.duckdb` -> `warehouse_published.duckdb`."""
    warehouse_path = Path(warehouse_path)
    return warehouse_path.with_name(f"{warehouse_path.stem}_published{warehouse_path.suffix}")


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = ? AND table_type = 'BASE TABLE'",
        [catalog],
    ).fetchall()
    return [
        (schema, table)
        for schema, table in rows
        if schema in PUBLISHED_SCHEMAS or (schema, table) in PUBLISHED_TABLES
    ]


def refresh_published(warehouse_path: Path, target: Path | None = None) -> list[str]:
    """Copy the released tables and the ledger into the published zone; return what was copied.

    The caller holds the warehouse lock (no other process has either file open). Tables that
    are no longer in the warehouse's published schemas are dropped from the zone, so a
    withdrawn release does not linger there. The copy is one transaction in the zone's file.
    """
    warehouse_path = Path(warehouse_path)
    target = Path(target) if target else published_path(warehouse_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(target))
    try:
        con.execute(f"ATTACH {_literal(str(warehouse_path))} AS wh (READ_ONLY)")
        try:
            wanted = _tables(con, "wh")
            present = [(s, t) for s, t in _tables(con, target.stem) if (s, t) not in set(wanted)]
            con.execute("BEGIN TRANSACTION")
            for schema, table in present:
                con.execute(f"DROP TABLE {quote_ident(schema)}.{quote_ident(table)}")
            for schema, table in wanted:
                name = f"{quote_ident(schema)}.{quote_ident(table)}"
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
                con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM wh.{name}")
            con.execute("COMMIT")
        finally:
            con.execute("DETACH wh")
    finally:
        con.close()
    return [f"{schema}.{table}" for schema, table in wanted]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
