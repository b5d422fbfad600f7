"""Checking a landing file against its spec without materialising it, and the typed SELECT.

One streamed DuckDB pass (bounded memory, spilling to a private temp folder) counts rows, people
(as the split counts them) and every refused value; the chain then runs the typed SELECT in the
warehouse (`SqlQuery`), so DuckDB's reader writes raw.<ds> straight from the file and no table is
held in pandas. `read_landing_file` (the CLI's small files) runs the same SELECT in memory.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage.ingest.column_types import (
    _PLAIN_DATE,
    _date_map_name,
    _Layers,
    _layers,
    _odd_dates,
    _present,
)
from synth_platform.lib.storage.ingest.enough_rows import check_enough_rows
from synth_platform.lib.storage.ingest.errors import (
    IngestError,
    LandingSymlinkError,
    TooLargeError,
)
from synth_platform.lib.storage.ingest.file_checks import (
    _check_bytes,
    _csv_header,
    _csv_source,
    _diagnose_csv,
    _parquet_source,
    _sql_text,
    _too_many_rows,
    check_columns,
    check_file_size,
    check_parquet_limits,
)
from synth_platform.lib.storage.ingest.landing import TypedLanding, file_stamp, symlink_reason
from synth_platform.lib.storage.warehouse import quote_ident

#: Memory for checking a landing file (counting, distinct keys); DuckDB spills beyond it.
_CHECK_MEMORY = "1500MB"


@dataclass(frozen=True)
class _Facts:
    """What one streamed pass over a typed source finds: rows, people, odd date spellings, refusals."""

    rows: int
    people: int
    odd_dates: list[int]
    bad: list[int]


def _key_sql(spec: DatasetSpec, layers: _Layers) -> str | None:
    """The typed key's expression, or None when the table has no key column."""
    if spec.key is None or spec.key not in layers.typed:
        return None
    return layers.typed[spec.key].sql


def _count_keys(con, layers: _Layers, key: str, keyed_rows: int) -> int:
    """Distinct non-empty key values, exactly, with memory bounded at any size.

    Distinct 64-bit hashes of the key are grouped first (a GROUP BY, which DuckDB spills to disk;
    a DISTINCT aggregate over ten million strings does not fit): a hash collision can only lower
    that count, so when it finds every keyed row distinct (a key, as usual) it is exact. Only when
    keys repeat does a second GROUP BY count the values themselves.
    """
    grouped = f"SELECT hash({key}) AS h FROM {layers.relation()} WHERE ({key}) IS NOT NULL GROUP BY h"
    hashed = int(con.execute(f"SELECT count(*) FROM ({grouped})").fetchone()[0])
    if hashed == keyed_rows:
        return hashed
    exact = f"SELECT {key} AS k FROM {layers.relation()} WHERE ({key}) IS NOT NULL GROUP BY k"
    return int(con.execute(f"SELECT count(*) FROM ({exact})").fetchone()[0])


def _facts(con, layers: _Layers, spec: DatasetSpec) -> _Facts:
    """Rows, people, each date column's non-plain spellings and each check's refusals, in one pass.

    People are counted as the split counts them (lib.synthesize.split.count_people: one per key value, one
    per row without a key; `_count_keys`).
    DuckDB's reader refuses a malformed file here; its message quotes the line, so the caller has
    the csv module say what is wrong instead (`_diagnose_csv`).
    """
    dates = [i for i, c in enumerate(layers.columns) if layers.kinds[c] == "date"]
    odd = [
        f"count(*) FILTER (WHERE {_present(i)} AND NOT regexp_full_match(c{i}, {_sql_text(_PLAIN_DATE)}))"
        for i in dates
    ]
    bad = [f"count(*) FILTER (WHERE {c.bad_sql})" for c in layers.checks()]
    key = _key_sql(spec, layers)
    keyless = [f"count(*) FILTER (WHERE ({key}) IS NULL)"] if key else ["0"]
    figures = ", ".join(["count(*)", *keyless, *odd, *bad])
    found = con.execute(f"SELECT {figures} FROM {layers.relation()}").fetchone()
    rows, without_key = int(found[0]), int(found[1])
    people = rows if key is None else _count_keys(con, layers, key, rows - without_key) + without_key
    values = [int(v) for v in found[2:]]
    return _Facts(rows, people, values[: len(odd)], values[len(odd) :])


def _refuse_bad_values(con, layers: _Layers, facts: _Facts, file_name: str) -> None:
    """The first failing check (spec order, then check order, as the ingest always reported) refused
    with its count and first data row (found by a second, numbered pass only then)."""
    for check, bad in zip(layers.checks(), facts.bad, strict=True):
        if bad:
            con.execute("SET threads = 1")  # row_number() then follows the file's order
            first = con.execute(
                f"SELECT min(_row) FROM {layers.relation(numbered=True)} WHERE {check.bad_sql}"
            ).fetchone()[0]
            raise IngestError(
                f"{file_name}: column '{check.column}' has {int(bad)} value(s) that are not {check.kind} "
                f"(first in data row {int(first)})"
            )


def _check_row_count(rows: int, spec: DatasetSpec, file_name: str) -> None:
    """Data rows (blank lines not counted), refused over source.max_rows or under min_rows."""
    limit = spec.source.max_rows
    if rows > limit:
        raise TooLargeError(_too_many_rows(file_name, f"more than {limit}", spec))
    if rows == 0:
        raise IngestError(f"{file_name}: the file has a header but no data rows")
    minimum = spec.source.min_rows
    if rows < minimum:
        raise IngestError(
            f"{file_name}: {rows} data rows, fewer than the {minimum} the spec '{spec.name}' requires "
            "(source.min_rows): too few to train on and still hold out enough rows to judge the release"
        )


def _source_of(path: Path, spec: DatasetSpec) -> str:
    """The file's checked source for DuckDB (every column as text), after the byte and header checks."""
    name = path.name
    if path.is_symlink():  # checked again here: a file may be swapped for a link after listing
        raise LandingSymlinkError(symlink_reason(name))
    if not path.exists():
        raise IngestError(f"{name}: the file does not exist")
    if check_file_size(path, spec) == 0:
        raise IngestError(f"{name}: the file is empty (0 bytes); expected a header and data rows")
    if spec.source.format == "parquet":
        columns = check_parquet_limits(path, spec)
        check_columns(pd.DataFrame(columns=columns), spec, name)
        return _parquet_source(path, columns)
    _check_bytes(path)
    return _csv_source(path, _csv_header(path, spec))


def type_source(
    con: duckdb.DuckDBPyConnection, source: str, spec: DatasetSpec, file_name: str, limits: bool = True
) -> TypedLanding:
    """Check and type a text source (SQL relation, one VARCHAR column per spec column) on `con`.

    Nothing is materialised: one streamed pass counts rows and people and every refusal; only a
    date column with spellings other than YYYY-MM-DD costs a second pass (pandas reads those
    distinct spellings). `limits` applies source.max_rows / min_rows. The typed SELECT is returned
    for the caller to run where the table belongs.
    """
    layers = _layers(source, spec, {})
    facts = _facts(con, layers, spec)
    if limits:
        _check_row_count(facts.rows, spec, file_name)
    if any(facts.odd_dates):
        lookups = {}
        for column, count in zip(
            [c for c in layers.columns if layers.kinds[c] == "date"], facts.odd_dates, strict=True
        ):
            if count:
                lookups[_date_map_name(column)] = _odd_dates(con, source, column, file_name)
        for name, frame in lookups.items():
            con.register(name, frame)
        layers = _layers(source, spec, lookups)
        facts = _facts(con, layers, spec)
    _refuse_bad_values(con, layers, facts, file_name)
    return TypedLanding(Path(file_name), layers.select_sql(), facts.rows, facts.people, layers.lookups)


@contextmanager
def _scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB for checking a file: bounded memory, spilling to a private temp folder."""
    spill = tempfile.mkdtemp(prefix="synth-ingest-")  # owner-only (0700): spilled rows are real data
    con = duckdb.connect(config={"memory_limit": _CHECK_MEMORY, "temp_directory": spill})
    try:
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def check_landing_file(path: Path, spec: DatasetSpec) -> TypedLanding:
    """The landing file checked against its spec (bytes, header, size, every value), not materialised.

    Refusals are IngestErrors in the ingest's words; DuckDB's own messages (which quote the
    offending line) are never repeated: the csv module re-reads a refused CSV to say why.
    """
    stamp = file_stamp(path) if path.exists() and not path.is_symlink() else (0, 0)
    source = _source_of(path, spec)
    with _scratch() as con:
        try:
            typed = type_source(con, source, spec, path.name)
        except duckdb.OutOfMemoryException:
            raise  # not the file's fault: said as it is (DuckDB's message quotes no cell)
        except duckdb.Error as error:
            if spec.source.format == "parquet":
                raise IngestError(
                    f"{path.name}: not a readable Parquet file ({error.__class__.__name__})"
                ) from None
            _diagnose_csv(path, spec)
            raise  # _diagnose_csv always raises
    typed.path, typed.stamp = path, stamp
    return typed


def read_landing_file(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """The typed frame for a (small) landing file, or an IngestError saying what is wrong with it.

    For the CLI (`synth-platform check` reads a user's synthetic file); the chain never holds
    the table in pandas (`check_landing_file`, then the typed SELECT runs in the warehouse).
    """
    typed = check_landing_file(path, spec)
    with _scratch() as con:
        typed.register_lookups(con)
        return _typed_frame(con, typed.select_sql, spec)


def coerce_types(frame: pd.DataFrame, spec: DatasetSpec, file_name: str) -> pd.DataFrame:
    """Cast a frame of text cells to the types its spec declares (the same SQL as the ingest)."""
    with _scratch() as con:
        con.register("_text_frame", frame[spec.column_names])
        cast = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}" for c in spec.column_names)
        source = f"(SELECT {cast} FROM _text_frame)"
        typed = type_source(con, source, spec, file_name, limits=False)
        return _typed_frame(con, typed.select_sql, spec)


def _typed_frame(con: duckdb.DuckDBPyConnection, select_sql: str, spec: DatasetSpec) -> pd.DataFrame:
    """The typed rows as a frame with pandas' nullable types (Int64, boolean) whether or not a
    column has gaps, as the ingest has always returned them."""
    frame = con.execute(select_sql).df()
    for column, column_spec in spec.columns.items():
        if column_spec.type == "integer":
            frame[column] = frame[column].astype("Int64")
        elif column_spec.type == "boolean":
            frame[column] = frame[column].astype("boolean")
    return frame


def ingest_landing_file(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """The typed frame of a small landing file, refused when it holds fewer people than the release
    gate needs (`check_enough_rows`). The row check comes after the file is read and typed, so a
    malformed file is still refused for what is wrong with it."""
    typed = check_landing_file(path, spec)
    check_enough_rows(typed, spec, path.name)
    with _scratch() as con:
        typed.register_lookups(con)
        return _typed_frame(con, typed.select_sql, spec)
