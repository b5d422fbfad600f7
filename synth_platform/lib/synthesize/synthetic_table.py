"""Write a large table into the warehouse chunk by chunk, as one atomic replace.

The synthetic stage samples and refills a table in chunks (`synthesis.sample_chunks`,
`refill.SourceShape`) so that memory holds one chunk, never the table. Each chunk is appended
to a staging table beside the target (`<schema>."<table> (staging <id>)"`), in its own brief
connection: the warehouse lock is held while a chunk is inserted, never while one is sampled or
refilled, so the slow part blocks no other step. Then, under the lock and in ONE transaction,
the caller's guard (the run-lease check) runs, the previous table is dropped and the staging
table renamed in its place (no copy: a catalogue change). A failure at any point -- in a
chunk, in the guard, in the swap -- leaves the previous table exactly as it was, and the
staging table is dropped (one a crashed writer left is dropped by the next successful swap).

Column types are those DuckDB gives the first chunk's frame (as when a whole frame is written),
except a column that is all NULL in it, which becomes VARCHAR so later chunks still fit. A chunk
may also be the Arrow table of such a frame (`SourceShape.chunks(arrow=True)`: chunks refilled
by worker processes travel as Arrow): DuckDB reads it without a conversion and gives it the same
types as the frame.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from synth_platform.lib.storage.warehouse import connect, quote_ident


def staging_name(table: str, write_id: str) -> str:
    """The staging table of one write (its own id: two writers never share one)."""
    return f"{_staging_prefix(table)}{write_id})"


def _staging_prefix(table: str) -> str:
    return f"{table} (staging "


def write_chunks(
    db_path: Path,
    schema: str,
    table: str,
    chunks: Iterable[pd.DataFrame | pa.Table],
    guard: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> int:
    """Replace `schema.table` in the warehouse with the concatenated chunks; returns the rows.

    Staged chunk by chunk (a brief lock each), swapped in under one transaction that runs
    `guard` first: either the whole new table commits or the previous one stays.
    """
    db_path = Path(db_path)
    staged = f"{quote_ident(schema)}.{quote_ident(staging_name(table, uuid.uuid4().hex[:12]))}"
    try:
        rows = 0
        for index, frame in enumerate(chunks):  # sampled and refilled outside the lock
            with connect(db_path) as con:
                _append(con, schema, staged, frame, first=index == 0)
            rows += len(frame)
        with connect(db_path) as con:
            _swap(con, schema, table, staged, guard)
    except BaseException:
        with connect(db_path) as con:
            con.execute(f"DROP TABLE IF EXISTS {staged}")
        raise
    return rows


def _append(
    con: duckdb.DuckDBPyConnection, schema: str, staged: str, frame: pd.DataFrame | pa.Table, first: bool
) -> None:
    con.register("_chunk", frame)
    try:
        if first:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
            con.execute(f"CREATE OR REPLACE TABLE {staged} AS SELECT * FROM _chunk")
            _untyped_to_varchar(con, staged)
        else:
            con.execute(f"INSERT INTO {staged} SELECT * FROM _chunk")
    finally:
        con.unregister("_chunk")


def _untyped_to_varchar(con: duckdb.DuckDBPyConnection, staged: str) -> None:
    """A column all NULL in the first chunk has DuckDB's NULL type: make it text, so a later
    chunk's values can be appended (a pandas object column holds text)."""
    for name, kind, *_ in con.execute(f"DESCRIBE {staged}").fetchall():
        if kind == '"NULL"':
            con.execute(f"ALTER TABLE {staged} ALTER COLUMN {quote_ident(name)} TYPE VARCHAR")


def _swap(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    staged: str,
    guard: Callable[[duckdb.DuckDBPyConnection], None] | None,
) -> None:
    """In one transaction: the guard, the previous table dropped, the staging table renamed in
    its place, and staging tables of writes that died before their swap dropped."""
    leftovers = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = ? AND starts_with(table_name, ?)",
        [schema, _staging_prefix(table)],
    ).fetchall()
    con.execute("BEGIN TRANSACTION")
    try:
        if guard is not None:
            guard(con)
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(schema)}.{quote_ident(table)}")
        con.execute(f"ALTER TABLE {staged} RENAME TO {quote_ident(table)}")
        for (name,) in leftovers:
            if f"{quote_ident(schema)}.{quote_ident(name)}" != staged:
                con.execute(f"DROP TABLE IF EXISTS {quote_ident(schema)}.{quote_ident(name)}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
