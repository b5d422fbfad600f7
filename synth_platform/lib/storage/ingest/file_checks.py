"""Checks of a landing file before DuckDB types it: its bytes (UTF-8, no NUL), its header against
the spec, its size limits, and the reader over it (DuckDB's strict CSV reader, or `read_parquet`).

A file over its spec's size limits (`source.max_bytes`, `max_rows`, `max_uncompressed_bytes`) is
refused before it is materialised: a 3 KB Parquet file can expand to hundreds of megabytes.
Header names are quoted only when the first row really is a header and the name is a plain
identifier: a file without a header has a person's name and SSN in its first row. When DuckDB's
reader refuses a CSV, Python's csv module re-reads it to say why (DuckDB's message quotes the line).
"""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import pandas as pd

from synth_platform.lib.spec import DatasetSpec, spec_location
from synth_platform.lib.storage.ingest.errors import (
    IngestError,
    TooLargeError,
)
from synth_platform.lib.storage.ingest.landing import _CHUNK_BYTES
from synth_platform.lib.storage.warehouse import quote_ident

#: A header name safe to repeat in a message: a plain identifier, never an e-mail, a number or a name
#: with spaces (which a data row might hold).
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_FIELD_CHARS = 1 << 20
#: The least a materialised cell takes (a 64-bit number, or a pointer to a string object).
_MIN_CELL_BYTES = 8


#: The longest CSV record DuckDB's reader accepts (a few fields of up to _MAX_FIELD_CHARS each), and
#: its read buffer (DuckDB's default is 16 records' worth: a gigabyte at this record size).
_MAX_LINE_BYTES = 1 << 23
_CSV_BUFFER_BYTES = 1 << 25


def _header_problem(found: list[str], spec: DatasetSpec, file_name: str) -> str | None:
    """Why the first row cannot be this spec's header, in words that quote no cell."""
    expected = spec.column_names
    known = [c for c in found if c in expected]
    if len(known) * 2 < len(found) or not known:
        return (
            f"{file_name}: the first row looks like data, not a header: {len(known)} of its {len(found)} "
            f"fields name a column of the spec '{spec.name}'. Deliver the file with a header row "
            f"{expected}."
        )
    missing = [c for c in expected if c not in found]
    unexpected = [c for c in found if c not in expected]
    duplicated = sorted({c for c in found if found.count(c) > 1})
    if not (missing or unexpected or duplicated):
        return None

    def shown(names: list[str]) -> str:
        plain = [n for n in names if _PLAIN_NAME.match(n)]
        hidden = len(names) - len(plain)
        return str(plain) + (f" and {hidden} more whose names are not plain identifiers" if hidden else "")

    parts = []
    if missing:
        parts.append(f"missing {missing}")
    if unexpected:
        parts.append(f"unexpected {shown(unexpected)}")
    if duplicated:
        parts.append(f"duplicated {shown(duplicated)}")
    return (
        f"{file_name}: columns differ from the spec '{spec.name}': {'; '.join(parts)}. "
        f"Fix the file, or update {spec_location(spec.name)} if the source schema really changed."
    )


def check_columns(frame: pd.DataFrame, spec: DatasetSpec, file_name: str) -> None:
    problem = _header_problem([str(c) for c in frame.columns], spec, file_name)
    if problem:
        raise IngestError(problem)


def _check_bytes(path: Path) -> None:
    """Refuse UTF-16, NUL bytes and undecodable UTF-8 in one streamed pass (a few MB at a time).

    DuckDB's reader keeps NUL bytes and its own error quotes the offending line, so the bytes are
    checked here first, with messages that name an offset and never a cell.
    """
    name = path.name
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            if offset == 0 and chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise IngestError(
                    f"{name}: the file is UTF-16 text; save it as UTF-8 (CSV UTF-8) and deliver it again"
                )
            if b"\x00" in chunk:
                raise IngestError(f"{name}: the file contains NUL bytes: it is binary, not CSV text")
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise IngestError(
                    f"{name}: not UTF-8 text (undecodable byte at offset {offset + exc.start}); save it "
                    "as UTF-8 and deliver it again"
                ) from exc
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{name}: not UTF-8 text (undecodable byte at offset {offset - 1}); save it as UTF-8 and "
            "deliver it again"
        ) from exc


def _open_text(path: Path):
    """The file as text for Python's csv module (a UTF-8 byte-order mark, Excel's 'CSV UTF-8', dropped)."""
    return open(path, encoding="utf-8-sig", newline="")


def _has_text(path: Path) -> bool:
    """Whether the file holds anything but whitespace (read until the first non-blank chunk)."""
    with _open_text(path) as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            if chunk.strip():
                return True
    return False


def _csv_header(path: Path, spec: DatasetSpec) -> list[str]:
    """The first record's names (stripped), refused unless they are exactly the spec's columns."""
    name = path.name
    if not _has_text(path):
        raise IngestError(f"{name}: the file has no header and no rows")
    csv.field_size_limit(_MAX_FIELD_CHARS)
    with _open_text(path) as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = [h.strip() for h in next(reader)]
        except csv.Error as exc:
            raise IngestError(f"{name}: malformed CSV near record {reader.line_num}: {exc}") from exc
    problem = _header_problem(header, spec, name)
    if problem:
        raise IngestError(problem)
    return header


def _diagnose_csv(path: Path, spec: DatasetSpec) -> None:
    """Why DuckDB's reader refused the file, in the words of Python's csv module, streamed.

    Runs only after DuckDB refused the file (its own message quotes the line, so it is never
    shown). The csv module reports short rows, quoted newlines and quoting errors with record
    numbers, as the ingest always has; no row is kept. A refusal the csv module does not share
    (a lone carriage return between records, say) gets a general message.
    """
    name = path.name
    limit = spec.source.max_rows
    with _open_text(path) as handle:
        reader = csv.reader(handle, strict=True)
        try:
            width = len(next(reader))
            rows = 0
            for number, row in enumerate(reader, start=1):
                if rows >= limit and row:
                    raise TooLargeError(_too_many_rows(name, f"more than {limit}", spec))
                if len(row) != width:
                    if not row:  # a blank line
                        continue
                    side = "fewer" if len(row) < width else "more"
                    raise IngestError(
                        f"{name}: malformed CSV: data row {number} has {len(row)} fields, {side} than the "
                        f"{width} of the header (a row cut short, or an unquoted delimiter)"
                    )
                rows += 1
        except csv.Error as exc:
            # The csv module's messages describe the syntax ("',' expected after '\"'"), never a cell.
            raise IngestError(f"{name}: malformed CSV near record {reader.line_num}: {exc}") from exc
    raise IngestError(
        f"{name}: malformed CSV: the reader refused its layout (quoting or line endings); save it as "
        "plain CSV (comma-separated, double quotes, one line ending throughout) and deliver it again"
    )


def _too_many_rows(name: str, rows: str, spec: DatasetSpec) -> str:
    """The row-limit message: the count and the spec field to raise, never a cell."""
    return (
        f"{name}: {rows} data rows, over the limit source.max_rows {spec.source.max_rows}; raise "
        f"source.max_rows in {spec_location(spec.name)} if the table really is that large"
    )


def check_file_size(path: Path, spec: DatasetSpec) -> int:
    """The file's size on disk, refused over `source.max_bytes` before a byte is read."""
    size = path.stat().st_size
    if size > spec.source.max_bytes:
        raise TooLargeError(
            f"{path.name}: {size} bytes on disk, over the limit source.max_bytes {spec.source.max_bytes}; "
            f"raise source.max_bytes in {spec_location(spec.name)} if the file really is that large"
        )
    return size


def check_parquet_limits(path: Path, spec: DatasetSpec) -> list[str]:
    """Row count and uncompressed size from the Parquet footer, refused before any page is read;
    returns the file's column names.

    A few kilobytes of zstd can decode to hundreds of megabytes (a decompression bomb); the
    footer states both figures without decoding the data.
    """
    import pyarrow.parquet as pq

    name = path.name
    try:
        metadata = pq.ParquetFile(path).metadata
        columns = list(metadata.schema.to_arrow_schema().names)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt footer
        raise IngestError(f"{name}: not a readable Parquet file ({exc.__class__.__name__})") from exc
    if metadata.num_rows > spec.source.max_rows:
        raise TooLargeError(_too_many_rows(name, str(metadata.num_rows), spec))
    stated = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    # The footer's size is after dictionary and run-length encoding (a column of one repeated
    # value states a few bytes); once materialised each cell takes at least 8 bytes.
    expanded = max(stated, metadata.num_rows * metadata.num_columns * _MIN_CELL_BYTES)
    if expanded > spec.source.max_uncompressed_bytes:
        raise TooLargeError(
            f"{name}: {expanded} bytes once decompressed, over the limit source.max_uncompressed_bytes "
            f"{spec.source.max_uncompressed_bytes}; raise it in {spec_location(spec.name)} if the "
            "table really is that large"
        )
    return columns


def _sql_text(value: str) -> str:
    """A SQL string literal (single quotes doubled): for a path or a column name, never a cell."""
    return "'" + value.replace("'", "''") + "'"


def _csv_source(path: Path, header: list[str]) -> str:
    """DuckDB's strict CSV reader over the file: every column VARCHAR under its header name.

    Nothing is guessed (no type or dialect detection): comma, double quotes doubled inside a
    quoted field, a row of the wrong width is an error, an empty field is NULL.
    """
    columns = ", ".join(f"{_sql_text(name)}: 'VARCHAR'" for name in header)
    return (
        f"read_csv({_sql_text(str(path))}, header = true, auto_detect = false, delim = ',', "
        f"quote = '\"', escape = '\"', strict_mode = true, null_padding = false, "
        f"max_line_size = {_MAX_LINE_BYTES}, buffer_size = {_CSV_BUFFER_BYTES}, columns = {{{columns}}})"
    )


def _parquet_source(path: Path, columns: list[str]) -> str:
    """DuckDB's Parquet reader, every column as text: one typing path for every source."""
    cast = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}" for c in columns)
    return f"(SELECT {cast} FROM read_parquet({_sql_text(str(path))}))"
