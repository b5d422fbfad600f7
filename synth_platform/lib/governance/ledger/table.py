"""Locating and reading the ledger table: whether it exists, its columns (an older table may lack
the added ones), the warehouse file it lives in and the head file beside it, and rows read back.

Everything here works read-only, so `synth-platform ledger` and the published zone read the
ledger without ever being able to change it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from synth_platform.lib.governance.ledger.records import (
    _KINDS,
    COLUMN_NAMES,
    HEAD_SUFFIX,
    SCHEMA,
    TABLE,
)


def _exists(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [SCHEMA, TABLE],
    ).fetchone()
    return bool(found and found[0])


def has_entries(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this warehouse has a ledger already: a row in the table, or a chain head file beside it
    (a table emptied or dropped while its head file names an entry is a truncated ledger, not none).

    The platform key must not be generated anew once this is true (`lib.storage.platform_key`). Read-only.
    """
    db_path = warehouse_path(con)
    if db_path is not None and head_path(db_path).exists():
        return True
    return _exists(con) and con.execute(f"SELECT count(*) FROM {SCHEMA}.{TABLE}").fetchone()[0] > 0


def _present_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The ledger table's columns in order; [] when it does not exist.

    Asked of the table itself (`pragma_table_info`, well under a millisecond) once `_exists` has
    found it: `information_schema.columns` scans every table's columns, which on a fresh connection
    to a warehouse of million-row tables costs ~10 ms each time the ledger is touched.
    """
    if not _exists(con):
        return []
    return [
        r[0]
        for r in con.execute(
            f"SELECT name FROM pragma_table_info('{SCHEMA}.{TABLE}') ORDER BY cid"
        ).fetchall()
    ]


def _select_list(con: duckdb.DuckDBPyConnection) -> str:
    """All ledger columns, NULL for added columns an older (read-only) table does not have yet."""
    present = set(_present_columns(con))
    return ", ".join(
        name if name in present else f"CAST(NULL AS {_KINDS[name]}) AS {name}" for name in COLUMN_NAMES
    )


def warehouse_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    found = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return Path(found[0]) if found and found[0] else None


def head_path(db_path: Path) -> Path:
    """Where the chain head of the ledger in `db_path` is kept (beside the warehouse file)."""
    return Path(f"{db_path}{HEAD_SUFFIX}")


def _last_row(con: duckdb.DuckDBPyConnection) -> dict | None:
    if not _exists(con):
        return None
    found = con.execute(
        f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} ORDER BY entry_id DESC LIMIT 1"
    ).fetchone()
    return dict(zip(COLUMN_NAMES, found, strict=True)) if found else None


def _count_where(con: duckdb.DuckDBPyConnection, column: str, condition: str) -> int:
    if not _exists(con) or column not in _present_columns(con):
        return 0
    return int(con.execute(f"SELECT count(*) FROM {SCHEMA}.{TABLE} WHERE {condition}").fetchone()[0])


def read_ledger(con: duckdb.DuckDBPyConnection, dataset: str | None = None, newest: int | None = None):
    """The ledger as a frame, oldest first (empty, with its columns, before the first entry); read-only.

    `newest` keeps only the last rows, selected by the database rather than after reading them all.
    """
    if not _exists(con):
        import pandas as pd

        return pd.DataFrame(columns=COLUMN_NAMES)
    where, params = ("WHERE dataset = ?", [dataset]) if dataset else ("", [])
    query = f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} {where}"
    if newest is not None:
        query = f"SELECT * FROM ({query} ORDER BY entry_id DESC LIMIT ?)"
        params = [*params, int(newest)]
    return con.execute(f"{query} ORDER BY entry_id", params).df()


def entry(con: duckdb.DuckDBPyConnection, entry_id: int) -> dict | None:
    """One row by id (None if absent); works read-only."""
    if not _exists(con):
        return None
    found = con.execute(
        f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} WHERE entry_id = ?", [entry_id]
    ).fetchone()
    return dict(zip(COLUMN_NAMES, found, strict=True)) if found else None
