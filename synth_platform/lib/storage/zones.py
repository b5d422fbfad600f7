"""Zones: raw data lives apart from what analysts touch.

The warehouse file holds every zone the governed chain needs — raw, masked, synthetic, the
release and the governance tables. Analysts (dbt and anything downstream of a release) get a
second DuckDB file, the *published zone*, that holds only what was released: the `release`
schema and a reduced view of the ledger. It is refreshed from the warehouse under the
warehouse lock, by copying those tables through a read-only attachment, so nothing
downstream ever opens the file that holds raw identifiers.

The published ledger keeps what an analyst needs to read the privacy accounting — events,
times, dataset, synthesizer, code version, epsilon / delta / rho spent and cumulative, the
budget, the decision, the masking plan's public digest — and nothing computed on real rows:
no source or training-data hash, no row / chain hash, no model hash, no gate figure, quality
score, copy share or leak count (`PUBLISHED_LEDGER_COLUMNS`; the governed ledger keeps them).
Nor any `check` or `export` row (`GOVERNED_ONLY_EVENTS`): a check's verdict is an exact, un-noised
statement about the real people of the split, and both name who ran them and the file. (Their entry ids
leave gaps in the published ledger: that an operator ran checks is visible, nothing about them.)

`is_published` says whether a path lies where published outputs live (the zone's file, the
public certificates folder), so governed data is never written there (`synth-platform export-train`).

The zone's file is owner-only (0600, its `.wal` too, new folders 0700) like the warehouse: it is
what consumers may see, but who may open it is the operator's decision (share it deliberately,
e.g. with `chmod` or a group), not an accident of the umask.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from synth_platform.lib.governance import ledger
from synth_platform.lib.storage.private_files import make_parents_private
from synth_platform.lib.storage.warehouse import private_connection, quote_ident

#: The schemas and tables that leave the governed side: released synthetic tables and the ledger.
PUBLISHED_SCHEMAS = ("release",)
PUBLISHED_TABLES = (("governance", "ledger"),)
#: The ledger's columns in the published zone: ids, events, spend, budget, decisions, digests.
PUBLISHED_LEDGER_COLUMNS = (
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
)
#: Ledger events kept on the governed side only: never copied into the published zone.
GOVERNED_ONLY_EVENTS = ("check", "export")


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
    make_parents_private(target.parent)
    with private_connection(target) as con:
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
                columns = _published_columns(con, schema, table)
                where = _published_rows(schema, table)
                con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {columns} FROM wh.{name}{where}")
            con.execute("COMMIT")
        finally:
            con.execute("DETACH wh")
    return [f"{schema}.{table}" for schema, table in wanted]


def _published_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """The select list of a published table: all of a release, the reduced view of the ledger."""
    if (schema, table) != (ledger.SCHEMA, ledger.TABLE):
        return "*"
    present = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_catalog = 'wh' AND table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    }
    return ", ".join(
        quote_ident(c) if c in present else f"CAST(NULL AS {ledger.COLUMN_KINDS[c]}) AS {quote_ident(c)}"
        for c in PUBLISHED_LEDGER_COLUMNS
    )


def _published_rows(schema: str, table: str) -> str:
    """The WHERE clause of a published table: every row of a release, the ledger without the
    governed-only events (an operator's exact `check` verdicts)."""
    if (schema, table) != (ledger.SCHEMA, ledger.TABLE):
        return ""
    events = ", ".join(_literal(e) for e in GOVERNED_ONLY_EVENTS)
    return f" WHERE event NOT IN ({events})"


def published_locations(warehouse_path: Path, project_root: Path) -> tuple[Path, ...]:
    """Where outputs that leave the governed side live: the published zone's DuckDB file (DuckDB
    keeps its write-ahead log beside it) and the public release certificates' folder."""
    return (published_path(warehouse_path), Path(project_root) / "data" / "certificates")


def is_published(path: Path, warehouse_path: Path, project_root: Path) -> bool:
    """True when `path` (symlinks resolved; it need not exist) is the published zone's file or one
    DuckDB keeps beside it, or lies in the public certificates' folder: governed data written there
    would be published, so it is refused."""
    target = Path(path).resolve()
    zone, certificates = (p.resolve() for p in published_locations(warehouse_path, project_root))
    if target.parent == zone.parent and target.name.startswith(zone.name):
        return True
    return target.is_relative_to(certificates)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
