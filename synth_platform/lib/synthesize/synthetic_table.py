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

Chunks are re-cut before they are appended (`row_group_batches`): every append but the last is
a whole number of DuckDB row groups, the few rows past the last whole group held back (copied,
fewer than one group) and put in front of the next chunk. The rows and their order are the
same; what changes is the cost: an append that leaves a partly filled row group makes the next
connection's checkpoint rewrite it, about half a second of CPU per 250,000-row chunk (a fifth
of the stage at a million rows), while whole groups are written once, by the insert itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from synth_platform.lib.storage.warehouse import connect, quote_ident

#: Rows of one DuckDB row group (its default `row_group_size`): appends are cut to multiples of it.
ROW_GROUP_ROWS = 122_880


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
        for index, frame in enumerate(row_group_batches(chunks)):  # sampled and refilled outside the lock
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


def row_group_batches(
    chunks: Iterable[pd.DataFrame | pa.Table], rows: int = ROW_GROUP_ROWS
) -> Iterator[pd.DataFrame | pa.Table]:
    """The chunks' rows in the same order, re-cut so that every batch but the last holds a
    whole number of `rows`-row groups: the rows past the last whole group of a chunk are copied
    (fewer than `rows`, so the chunk they came from can be freed) and lead the next batch. A
    table of one empty chunk is that chunk (it still gets its columns)."""
    carry: pd.DataFrame | pa.Table | None = None  # held back: fewer than `rows` rows
    emitted = False
    for chunk in chunks:
        held = 0 if carry is None else len(carry)
        cut = (held + len(chunk)) // rows * rows - held  # this chunk's rows that complete whole groups
        if cut <= 0:  # not a whole group yet: hold it all
            carry = chunk if carry is None else _concat([carry, chunk])
            continue
        head = chunk if cut == len(chunk) else _slice(chunk, 0, cut)
        yield head if carry is None else _concat([carry, head])
        emitted = True
        del head
        carry = _copy(_slice(chunk, cut, len(chunk) - cut)) if cut < len(chunk) else None
    if carry is not None and (len(carry) or not emitted):
        yield carry


def _slice(frame: pd.DataFrame | pa.Table, start: int, length: int) -> pd.DataFrame | pa.Table:
    return frame.slice(start, length) if isinstance(frame, pa.Table) else frame.iloc[start : start + length]


def _copy(frame: pd.DataFrame | pa.Table) -> pd.DataFrame | pa.Table:
    """A copy that holds none of the buffers of the table it was sliced from."""
    if isinstance(frame, pa.Table):
        return frame.take(pa.array(np.arange(len(frame))))
    return frame.copy()


def _concat(parts: list[pd.DataFrame | pa.Table]) -> pd.DataFrame | pa.Table:
    """The parts one after the other: Arrow when all are (no copy; a column all null in one part
    takes the others' type), else one frame."""
    if all(isinstance(part, pa.Table) for part in parts):
        return pa.concat_tables(parts, promote_options="default")
    frames = [part.to_pandas() if isinstance(part, pa.Table) else part for part in parts]
    return pd.concat(frames, ignore_index=True)


def _append(
    con: duckdb.DuckDBPyConnection, schema: str, staged: str, frame: pd.DataFrame | pa.Table, first: bool
) -> None:
    pieces = isinstance(frame, pa.Table) and any(column.num_chunks > 1 for column in frame.columns)
    if pieces:
        # Arrow pieces (held-back rows + the next chunk's head) are scanned in parallel, one piece
        # a thread, which leaves a partly filled row group per piece for the checkpoint to
        # rewrite: read in order by one thread, they fill whole groups (no copy to join them)
        con.execute("SET threads = 1")
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
        if pieces:
            con.execute("RESET threads")


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
