"""The embedded DuckDB warehouse: brief connections behind one inter-process lock.

DuckDB lets one process hold a read-write handle on a file, and excludes every other
process while it does. Dagster runs steps in separate processes, dbt runs in yet
another, so every connection here is opened for one unit of work, under an exclusive
file lock, and closed at once. The lock is a plain `flock` on a sibling file, which
the kernel releases even when a process dies.

The warehouse holds raw identifiers in clear: its file, the `.wal` DuckDB writes during a
transaction and the lock file are owner-only (0600, new folders 0700) whatever the process
umask (`lib/storage/private_files.py`; DuckDB picks its files' modes itself, so a writing connection
runs under a 077 umask and the file is tightened if an older version left it loose).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from synth_platform.lib.storage.private_files import (
    make_parents_private,
    make_private,
    open_private_lock,
    private_umask,
)


class WarehouseBusyError(TimeoutError):
    """Another process held the warehouse lock for longer than we were willing to wait."""


def quote_ident(name: str) -> str:
    """Quote a schema/table/column name for DuckDB: any name a CSV header or Parquet field can
    carry (spaces, dashes, dots, leading digits, upper case, non-ASCII, reserved words such as
    `order` or `select`) becomes a double-quoted identifier with embedded quotes doubled.

    Only names no table can hold are refused: empty, or with a NUL or other control character.
    Spec loading refuses those earlier (`spec.unusable_column_name`), so this is a last guard.
    """
    if not isinstance(name, str) or not name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"not a usable SQL identifier: {name!r} (empty, or holds a control character)")
    return '"' + name.replace('"', '""') + '"'


#: DuckDB's memory cap per warehouse connection (DuckDB's default is 80 % of the machine). Large
#: joins, sorts and GROUP BYs spill to `<warehouse>.tmp/` beyond it, so a 10-million-row split or
#: gate scan stays within a small machine's memory next to the Python side of the step.
DEFAULT_MEMORY_LIMIT = "3GB"


def connection_config() -> dict[str, str]:
    """Settings of every warehouse connection: the memory cap (`SYNTH_DUCKDB_MEMORY_LIMIT` to change it)."""
    return {"memory_limit": os.environ.get("SYNTH_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)}


@contextmanager
def warehouse_lock(db_path: Path, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold the exclusive warehouse lock (blocking, with a timeout) for the body."""
    lock_path = Path(f"{db_path}.lock")
    make_parents_private(lock_path.parent)
    deadline = time.monotonic() + timeout_s
    with open_private_lock(lock_path) as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseBusyError(
                        f"the warehouse {db_path} stayed locked for {timeout_s:.0f}s by another process"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def connect(db_path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection under the warehouse lock; a writing one leaves only owner-only files."""
    db_path = Path(db_path)
    make_parents_private(db_path.parent)
    with warehouse_lock(db_path):
        if read_only and not db_path.exists():
            raise FileNotFoundError(f"the warehouse {db_path} does not exist yet: run the ingest step first")
        if read_only:
            con = duckdb.connect(str(db_path), read_only=True, config=connection_config())
            try:
                yield con
            finally:
                con.close()
            return
        with private_connection(db_path) as con:
            yield con


def wal_path(db_path: Path) -> Path:
    """DuckDB's write-ahead log beside a database file (written during a transaction, removed on close)."""
    return Path(f"{db_path}.wal")


@contextmanager
def private_connection(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writing DuckDB connection whose files are owner-only from the moment they exist.

    DuckDB creates the database file and, at the first write, its `.wal` with mode 0666 minus
    the umask, and has no option for a mode: so the whole connection runs under a 077 umask,
    and a file an older version created loose is tightened. The caller holds any lock needed.
    """
    db_path = Path(db_path)
    with private_umask():
        con = duckdb.connect(str(db_path), config=connection_config())
        try:
            make_private(db_path)
            make_private(wal_path(db_path))
            yield con
        finally:
            con.close()


@dataclass(frozen=True)
class SqlQuery:
    """A SELECT run inside the warehouse, for `replacing_tables` in place of a frame.

    Large tables never pass through pandas: the new table is computed by DuckDB from tables
    already in the warehouse, in the same transaction as the rest of the write.
    """

    sql: str


@contextmanager
def replacing_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame
) -> Iterator[None]:
    """Replace `schema.table` with the frame in a transaction that also covers the body.

    Whatever the body writes (a ledger row, say) commits together with the new table, or
    neither does: an exception rolls both back and leaves the previous table as it was.
    """
    with replacing_tables(con, {(schema, table): frame}):
        yield


@contextmanager
def replacing_tables(
    con: duckdb.DuckDBPyConnection, tables: Mapping[tuple[str, str], pd.DataFrame | SqlQuery]
) -> Iterator[None]:
    """Replace several `(schema, table)`s with their frames in one transaction that covers the body.

    Writes that belong together (train and holdout; a raw table and its ingest log row) either
    all commit or none does; a crash part-way leaves every previous table as it was.
    """
    for schema, _ in tables:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    names = {key: f"_frame_{i}" for i, key in enumerate(tables)}
    for key, frame in tables.items():
        if not isinstance(frame, SqlQuery):
            con.register(names[key], frame)
    con.execute("BEGIN TRANSACTION")
    try:
        for (schema, table), name in names.items():
            target = f"{quote_ident(schema)}.{quote_ident(table)}"
            source = tables[(schema, table)]
            select = source.sql if isinstance(source, SqlQuery) else f"SELECT * FROM {name}"
            con.execute(f"CREATE OR REPLACE TABLE {target} AS {select}")
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for key, name in names.items():
            if not isinstance(tables[key], SqlQuery):
                con.unregister(name)


def write_table(db_path: Path, schema: str, table: str, frame: pd.DataFrame) -> None:
    """Replace `schema.table` with the frame, atomically (one transaction)."""
    with connect(db_path) as con, replacing_table(con, schema, table, frame):
        pass


def read_table(db_path: Path, schema: str, table: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a whole table (or some columns of it) into pandas."""
    selected = ", ".join(quote_ident(c) for c in columns) if columns else "*"
    with connect(db_path, read_only=True) as con:
        return con.execute(f"SELECT {selected} FROM {quote_ident(schema)}.{quote_ident(table)}").df()


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists, on a connection the caller already holds."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])


def table_exists(db_path: Path, schema: str, table: str) -> bool:
    if not Path(db_path).exists():
        return False
    with connect(db_path, read_only=True) as con:
        return has_table(con, schema, table)
