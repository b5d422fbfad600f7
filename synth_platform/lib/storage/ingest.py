"""Read a landing file, check it against its spec, and type it.

Everything that can be wrong with a delivered file is turned into one `IngestError`
whose message names the file and the problem in words a person can act on, and
never quotes a cell value (a cell may be a person's identifier). Header names are
quoted only when the first row really is a header and the name is a plain
identifier: a file without a header has a person's name and SSN in its first row.

Too few rows is a problem of the file too: `check_enough_rows` refuses a table smaller than what
the release gate needs after the keyed split (`lib.synthesize.split.rows_needed`, from the spec's public
settings), so no run trains and spends budget on a table the gate could only block; its message
says which settings would let the table through. `source.min_rows` stays an explicit floor beside
it (the larger applies). `ingest_landing_file` is the chain's ingest: read, then both checks.

Only files inside the dataset's landing folder are ever read or moved: the
`landing_file` setting is an operator's input, and a path pointing elsewhere (the
warehouse, a `.env` file) is refused before a byte of it is read. A symlink in the landing
folder is never followed: it is refused and the link itself (not its target) moved to quarantine.
A file over its spec's size limits (`source.max_bytes`, `max_rows`, `max_uncompressed_bytes`)
is refused before it is materialised: a 3 KB Parquet file can expand to hundreds of megabytes.

No table is held in pandas: `check_landing_file` checks the bytes and the header in Python, then
counts rows, people and every refused value in streamed DuckDB passes over the file (read by
DuckDB's strict CSV reader, or `read_parquet`, every column as text) and returns the typed SELECT;
the chain runs it in the warehouse (`SqlQuery`), so DuckDB's reader writes raw.<ds> straight from
the file. `read_landing_file` (the CLI's small files) runs the same SELECT in memory.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

import duckdb
import pandas as pd

from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage.private_files import make_private, private_dir, write_private
from synth_platform.lib.storage.warehouse import quote_ident
from synth_platform.lib.synthesize import split

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
#: A header name safe to repeat in a message: a plain identifier, never an e-mail, a number or a name
#: with spaces (which a data row might hold).
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_FIELD_CHARS = 1 << 20
#: The least a materialised cell takes (a 64-bit number, or a pointer to a string object).
_MIN_CELL_BYTES = 8
#: Bytes read at a time when hashing or checking a file: memory stays flat whatever its size.
_CHUNK_BYTES = 1 << 22
#: The longest CSV record DuckDB's reader accepts (a few fields of up to _MAX_FIELD_CHARS each), and
#: its read buffer (DuckDB's default is 16 records' worth: a gigabyte at this record size).
_MAX_LINE_BYTES = 1 << 23
_CSV_BUFFER_BYTES = 1 << 25
#: Memory for checking a landing file (counting, distinct keys); DuckDB spills beyond it.
_CHECK_MEMORY = "1500MB"


class IngestError(ValueError):
    """A landing file that cannot be ingested; the message names the file and the problem."""


class TooFewRowsError(IngestError):
    """A table with fewer people than the release gate needs after the split; refused before training."""


class LandingPathError(IngestError):
    """A `landing_file` outside the dataset's landing folder; refused before it is read or moved."""


class LandingSymlinkError(LandingPathError):
    """A landing file that is a symlink; never followed, and the link itself is quarantined."""


class TooLargeError(IngestError):
    """A landing file over one of its spec's size limits; refused before it is materialised."""


@dataclass(frozen=True)
class LandingFile:
    path: Path
    content_hash: str
    size_bytes: int


def file_sha256(path: Path, chunk_size: int = _CHUNK_BYTES) -> str:
    """The file's SHA-256, read a chunk at a time (flat memory at any size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def describe_landing_file(path: Path) -> LandingFile:
    return LandingFile(path=path, content_hash=file_sha256(path), size_bytes=path.stat().st_size)


def landing_files(landing_dir: Path, pattern: str) -> list[Path]:
    """Files waiting in a landing folder, oldest first (by modification time, then name)."""
    if not landing_dir.is_dir():
        return []
    files = [
        p
        for p in landing_dir.glob(pattern)
        if not p.is_symlink() and p.is_file() and not p.name.startswith(".") and _inside(p, landing_dir)
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def landing_symlinks(landing_dir: Path, pattern: str) -> list[Path]:
    """Symlinks in a landing folder matching the pattern: never read, only quarantined.

    A link can point anywhere (a `.env` file, the warehouse), so none is ever followed, even one
    pointing inside the folder: the platform reads only files delivered into the folder itself.
    """
    if not landing_dir.is_dir():
        return []
    return sorted(p for p in landing_dir.glob(pattern) if p.is_symlink() and not p.name.startswith("."))


def quarantine_symlinks(landing_dir: Path, pattern: str, quarantine_dir: Path) -> list[str]:
    """Move every symlink in the landing folder into quarantine (the link, not its target).

    Returns one sentence per link for a run's log or a sensor's skip reason; a link that cannot
    be moved is reported, never raised, so one bad link does not stop other files.
    """
    notes = []
    for link in landing_symlinks(landing_dir, pattern):
        reason = symlink_reason(link.name)
        try:
            moved = quarantine(link, quarantine_dir, reason, landing_dir)
            notes.append(f"{reason} The link was moved to {moved}.")
        except OSError as error:
            notes.append(f"{reason} It could not be moved ({error.__class__.__name__}); remove it.")
    return notes


def symlink_reason(name: str) -> str:
    """Why a symlink is refused, without saying where it points (none of the platform's business)."""
    return (
        f"{name}: a symbolic link, not a file; links are never followed. Copy the file itself into "
        "the landing folder."
    )


def latest_landing_file(landing_dir: Path, pattern: str) -> Path | None:
    files = landing_files(landing_dir, pattern)
    return files[-1] if files else None


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path`, with every symlink and `..` resolved, lies inside `folder` (also resolved)."""
    try:
        return path.resolve(strict=False).is_relative_to(folder.resolve(strict=False))
    except (OSError, RuntimeError):  # a symlink loop
        return False


def resolve_landing_file(requested: str, landing_dir: Path, pattern: str) -> Path:
    """The landing file an operator asked for, if it is a regular file inside the landing folder.

    A relative path is taken relative to the landing folder. The message never repeats the
    requested path: whatever it points at is none of the platform's business.
    """
    candidate = Path(requested)
    if not candidate.is_absolute():
        candidate = landing_dir / candidate
    if candidate.is_symlink() and _inside(candidate.parent, landing_dir):
        raise LandingSymlinkError(symlink_reason(candidate.name))
    if not _inside(candidate, landing_dir):
        raise LandingPathError(
            f"the landing_file setting points outside the landing folder {landing_dir}; only files in "
            "that folder are ingested. Put the file there and pass its name."
        )
    resolved = candidate.resolve()
    if not resolved.exists():
        raise LandingPathError(f"{resolved.name}: no such file in {landing_dir}")
    if not resolved.is_file():
        raise LandingPathError(f"{resolved.name}: not a regular file (a folder, device or pipe)")
    if not fnmatch(resolved.name, pattern):
        raise LandingPathError(f"{resolved.name}: the spec expects files matching {pattern}")
    return resolved


def quarantine(path: Path, quarantine_dir: Path, reason: str, landing_dir: Path) -> Path:
    """Move a rejected file out of the landing folder, with the reason beside it.

    Refuses to move anything that is not inside `landing_dir`: quarantine once moved the
    warehouse away when pointed at it. A symlink directly in the landing folder is moved as a
    link (renamed, or re-created by shutil.move across file systems), its target untouched.
    The quarantined file and its reason are owner-only (0600, folder 0700): the file is real data.
    """
    if path.is_symlink():
        if not _inside(path.parent, landing_dir):
            raise LandingPathError(f"{path.name}: not in the landing folder {landing_dir}; not moved")
    elif not _inside(path, landing_dir):
        raise LandingPathError(f"{path.name}: not in the landing folder {landing_dir}; not moved")
    private_dir(quarantine_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = quarantine_dir / f"{stamp}__{path.name}"
    shutil.move(str(path), target)  # on a link: os.rename, or readlink + symlink; never the target
    make_private(target)  # the file keeps the landing mode when moved; a link is left as it is
    write_private(Path(f"{target}.reason.txt"), reason + "\n")
    return target


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
        f"Fix the file, or update config/datasets/{spec.name}.yaml if the source schema really changed."
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
        f"source.max_rows in config/datasets/{spec.name}.yaml if the table really is that large"
    )


def check_file_size(path: Path, spec: DatasetSpec) -> int:
    """The file's size on disk, refused over `source.max_bytes` before a byte is read."""
    size = path.stat().st_size
    if size > spec.source.max_bytes:
        raise TooLargeError(
            f"{path.name}: {size} bytes on disk, over the limit source.max_bytes {spec.source.max_bytes}; "
            f"raise source.max_bytes in config/datasets/{spec.name}.yaml if the file really is that large"
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
            f"{spec.source.max_uncompressed_bytes}; raise it in config/datasets/{spec.name}.yaml if the "
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


# --- typing: the spec's column types, in SQL --------------------------------------------------
#
# Each column is read as text (NULL where the field is empty) and cast by the rules the ingest has
# always used: text stripped of (Unicode) whitespace; integers and floats spelled as pandas'
# to_numeric reads them (no digit separators or hex); a whole number stays exact to 64 bits;
# dates in ISO 8601 within pandas' nanosecond range, normalised to midnight. The SQL is layered
# (text, stripped text, number) so each cell is stripped and parsed once, whatever checks use it;
# inside, column i is c<i> (text), t<i> (stripped), n<i> (number), d<i> (other date spellings).

_WHITESPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
_NUMBER = (
    r"[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])"
)
_INFINITY = r"[+-]?[iI][nN][fF]([iI][nN][iI][tT][yY])?"
_PLAIN_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
#: pandas' nanosecond timestamps hold these calendar days (the first one starts at 00:12:43).
_FIRST_DAY, _LAST_DAY = "1677-09-22", "2262-04-11"


@dataclass(frozen=True)
class _Check:
    """One refusal rule for a column: the rows it catches (SQL over the layers) and the message's words."""

    column: str
    kind: str
    bad_sql: str


@dataclass(frozen=True)
class _Typed:
    """A column's typed SQL expression (over the layers) and its checks, in the order they apply."""

    sql: str
    checks: list[_Check]


def _present(i: int) -> str:
    """A non-empty field (DuckDB's reader gives NULL for an empty one; a frame may hold '')."""
    return f"(c{i} IS NOT NULL AND c{i} <> '')"


def _strip_sql(i: int) -> str:
    """Column i's text stripped as Python's `str.strip` does. The full strip (29 characters,
    costs ten times a plain read) runs only on values whose first or last character is not
    printable ASCII (all whitespace is a control character, a space or non-ASCII)."""
    c = f"c{i}"
    edge = f"({c}[1] <= ' ' OR {c}[1] > '~' OR {c}[-1] <= ' ' OR {c}[-1] > '~')"
    return f"CASE WHEN {edge} THEN trim({c}, {_sql_text(_WHITESPACE)}) ELSE {c} END"


def _number_sql(i: int) -> str:
    """Column i as a double, where pandas' to_numeric would read it as a number (else NULL)."""
    return f"CASE WHEN regexp_full_match(t{i}, {_sql_text(_NUMBER)}) THEN TRY_CAST(t{i} AS DOUBLE) END"


def _numeric_checks(column: str, i: int) -> list[_Check]:
    """Not a number (an overflowing spelling such as 1e400 included) / not finite."""
    spelled_inf = f"regexp_full_match(t{i}, {_sql_text(_INFINITY)})"
    not_number = f"(n{i} IS NULL OR isnan(n{i}) OR (isinf(n{i}) AND NOT {spelled_inf}))"
    return [
        _Check(column, "numbers", f"{_present(i)} AND {not_number}"),
        _Check(column, "finite numbers", f"{_present(i)} AND NOT {not_number} AND isinf(n{i})"),
    ]


def _exact_sql(i: int) -> str:
    """Column i's whole number exactly (HUGEINT): from the digits when it is spelled as digits, since
    a double rounds beyond 2**53; else the double's value (1.5e16, 1e20)."""
    from_text = f"CASE WHEN regexp_full_match(t{i}, '[+-]?[0-9]+') THEN TRY_CAST(t{i} AS HUGEINT) END"
    return f"COALESCE({from_text}, TRY_CAST(n{i} AS HUGEINT))"


def _integer(column: str, i: int) -> _Typed:
    """A whole number, exact to 64 bits."""
    checks = _numeric_checks(column, i)
    finite = f"{_present(i)} AND isfinite(n{i})"
    checks.append(_Check(column, "whole numbers", f"{finite} AND n{i} <> floor(n{i})"))
    big = f"abs(n{i}) >= {2.0**53!r}"
    exact = _exact_sql(i)
    in_range = f"COALESCE({exact} BETWEEN {-(2**63)} AND {2**63 - 1}, false)"
    checks.append(
        _Check(
            column,
            "within the 64-bit integer range",
            f"{finite} AND n{i} = floor(n{i}) AND {big} AND NOT {in_range}",
        )
    )
    value = f"CASE WHEN {big} THEN TRY_CAST({exact} AS BIGINT) ELSE TRY_CAST(n{i} AS BIGINT) END"
    return _Typed(f"CASE WHEN {_present(i)} THEN {value} END", checks)


def _float(column: str, i: int) -> _Typed:
    return _Typed(f"CASE WHEN {_present(i)} THEN n{i} END", _numeric_checks(column, i))


def _boolean(column: str, i: int) -> _Typed:
    truthy = ", ".join(_sql_text(v) for v in sorted(_TRUE))
    falsy = ", ".join(_sql_text(v) for v in sorted(_FALSE))
    value = f"(CASE WHEN lower(t{i}) IN ({truthy}) THEN true WHEN lower(t{i}) IN ({falsy}) THEN false END)"
    return _Typed(value, [_Check(column, "booleans", f"{_present(i)} AND {value} IS NULL")])


def _string(column: str, i: int) -> _Typed:
    return _Typed(f"NULLIF(t{i}, '')", [])


def _date(column: str, i: int) -> _Typed:
    """Plain YYYY-MM-DD in SQL; any other spelling (times, offsets, YYYYMMDD) from d<i>, the day
    pandas found for it (`_odd_dates`). Dates are not stripped: pandas never read ' 1980-05-01'."""
    day = f"TRY_CAST(c{i} AS DATE)"
    plain = f"CASE WHEN {day} BETWEEN DATE '{_FIRST_DAY}' AND DATE '{_LAST_DAY}' THEN {day} END"
    is_plain = f"regexp_full_match(c{i}, {_sql_text(_PLAIN_DATE)})"
    value = f"CAST((CASE WHEN {is_plain} THEN {plain} ELSE d{i} END) AS TIMESTAMP_NS)"
    return _Typed(
        f"CASE WHEN {_present(i)} THEN {value} END",
        [_Check(column, "ISO dates", f"{_present(i)} AND {value} IS NULL")],
    )


def _date_map_name(column: str) -> str:
    """The lookup table of a date column's other spellings (a name fixed by the column's name)."""
    return "_ingest_dates_" + hashlib.sha256(column.encode()).hexdigest()[:12]


def _odd_dates(con: duckdb.DuckDBPyConnection, source: str, column: str, file_name: str) -> pd.DataFrame:
    """The day for each distinct non-plain spelling in a date column, parsed by pandas' ISO 8601 reader.

    Only spellings other than YYYY-MM-DD reach Python (a column of timestamps or offsets: rarely
    more than a few distinct values per day), with one plain date when the column has any: pandas
    then judges mixed time-zone offsets on the whole column as it always has.
    """
    raw = quote_ident(column)
    present = f"({raw} IS NOT NULL AND {raw} <> '')"
    plain = f"regexp_full_match({raw}, {_sql_text(_PLAIN_DATE)})"
    odd = con.execute(f"SELECT DISTINCT {raw} AS text FROM {source} WHERE {present} AND NOT {plain}").df()
    if odd.empty:
        return odd
    one_plain = con.execute(f"SELECT {raw} FROM {source} WHERE {present} AND {plain} LIMIT 1").fetchall()
    values = pd.concat([odd["text"], pd.Series([r[0] for r in one_plain], dtype=object)], ignore_index=True)
    parsed = _pandas_dates(values, column, file_name)
    return odd.assign(day=parsed.iloc[: len(odd)].to_numpy())


def _pandas_dates(values: pd.Series, column: str, file_name: str) -> pd.Series:
    """pandas' ISO 8601 reading of some date spellings (NaT where not one); mixed offsets refused."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns about mixed offsets; they are refused below
        try:
            dates = pd.to_datetime(values, errors="coerce", format="ISO8601")
        except (ValueError, TypeError, OverflowError) as exc:
            raise IngestError(
                f"{file_name}: column '{column}' has values that are not ISO dates, or that mix time-zone "
                "offsets; deliver plain dates (YYYY-MM-DD)"
            ) from exc
    if not pd.api.types.is_datetime64_any_dtype(dates):
        raise IngestError(
            f"{file_name}: column '{column}' mixes time-zone offsets (or dates with and without one); "
            "deliver plain dates (YYYY-MM-DD) or one offset throughout"
        )
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)  # one offset throughout: keep the local calendar date
    return dates.dt.normalize().astype("datetime64[ns]")


@dataclass
class TypedLanding:
    """A landing file checked against its spec: the typed SELECT over it and what it holds.

    `select_sql` reads the file again (DuckDB's reader, the same typing) wherever it runs: in
    the warehouse as `SqlQuery(select_sql)` after `register_lookups(con)`, or in memory for a frame.
    """

    path: Path
    select_sql: str
    rows: int
    people: int
    lookups: dict[str, pd.DataFrame]
    stamp: tuple[int, int] = (0, 0)

    def register_lookups(self, con: duckdb.DuckDBPyConnection) -> None:
        """Register the date spellings' lookup tables (if any) that `select_sql` joins."""
        for name, frame in self.lookups.items():
            con.register(name, frame)

    def unchanged(self) -> bool:
        """Whether the file is still the one checked (size and modification time): the typed SELECT
        reads it again, so a file replaced in between must not be written unchecked."""
        return file_stamp(self.path) == self.stamp


def file_stamp(path: Path) -> tuple[int, int]:
    """(size, modification time in ns) of a file: changes when the file is rewritten or replaced."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns


@dataclass(frozen=True)
class _Layers:
    """The typing of one source: its layered FROM clause and each spec column's typed expression."""

    source: str
    columns: list[str]
    typed: dict[str, _Typed]
    lookups: dict[str, pd.DataFrame]
    kinds: dict[str, str]

    def relation(self, numbered: bool = False) -> str:
        """c<i> text, t<i> stripped, n<i> number, d<i> other date spellings' day (and _row, 1-based)."""
        spec_types = self.kinds
        texts = ", ".join(f"{quote_ident(c)} AS c{i}" for i, c in enumerate(self.columns))
        row = "row_number() OVER () AS _row, " if numbered else ""
        base = f"SELECT {row}{texts} FROM {self.source}"
        stripped = [f"{_strip_sql(i)} AS t{i}" for i, c in enumerate(self.columns) if spec_types[c] != "date"]
        numbers = [
            f"{_number_sql(i)} AS n{i}"
            for i, c in enumerate(self.columns)
            if spec_types[c] in ("integer", "float")
        ]
        days, joins = [], ""
        for i, c in enumerate(self.columns):
            if spec_types[c] == "date":
                name = _date_map_name(c)
                if name in self.lookups:
                    days.append(f"{name}.day AS d{i}")
                    joins += f" LEFT JOIN {name} ON {name}.text = l1.c{i}"
                else:
                    days.append(f"CAST(NULL AS DATE) AS d{i}")
        layer1 = f"(SELECT *{''.join(', ' + s for s in stripped)} FROM ({base})) AS l1"
        return f"(SELECT l1.*{''.join(', ' + s for s in numbers + days)} FROM {layer1}{joins}) AS l2"

    def select_sql(self) -> str:
        columns = ", ".join(f"{t.sql} AS {quote_ident(c)}" for c, t in self.typed.items())
        return f"SELECT {columns} FROM {self.relation()}"

    def checks(self) -> list[_Check]:
        return [check for t in self.typed.values() for check in t.checks]


def _layers(source: str, spec: DatasetSpec, lookups: dict[str, pd.DataFrame]) -> _Layers:
    """The typed expressions and checks of each spec column, in spec order, over `source`."""
    builders = {"integer": _integer, "float": _float, "boolean": _boolean, "date": _date}
    typed = {c: builders.get(s.type, _string)(c, i) for i, (c, s) in enumerate(spec.columns.items())}
    kinds = {c: s.type for c, s in spec.columns.items()}
    return _Layers(source, list(spec.columns), typed, lookups, kinds)


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


def check_enough_rows(table: pd.DataFrame | TypedLanding, spec: DatasetSpec, file_name: str) -> None:
    """Refuse a table the release gate could only block for lack of rows (TooFewRowsError).

    The need is the spec's (`lib.synthesize.split.rows_needed`, before the approved plan is checked: every
    plan-dependent gate check counted); the table's size is its people, one per key value, as the
    split will see them (counted in SQL for a checked landing file). The message names the rows it
    has, the rows needed and the settings that would let it through, never a value.
    """
    if isinstance(table, TypedLanding):
        rows, people = table.rows, table.people
    else:
        rows, people = len(table), split.count_people(table, spec.key)
    needed = split.rows_needed(spec)
    if people >= needed.source:
        return
    raise TooFewRowsError(_too_few_message(file_name, spec, rows, people, needed))


def _too_few_message(file_name: str, spec: DatasetSpec, rows: int, people: int, needed) -> str:
    """What is short, why, and what a person can change (more rows, the fraction, the minimum)."""
    has = f"{rows} data rows" if people == rows else f"{rows} data rows ({people} people, one row per key)"
    where = f"config/datasets/{spec.name}.yaml"
    why = (
        f"{file_name}: {has}, too few for the release gate of '{spec.name}': its holdout must hold "
        f"{needed.holdout} people and train {needed.train} (checks.min_holdout_rows "
        f"{spec.checks.min_holdout_rows} / min_evaluation_rows {spec.checks.min_evaluation_rows} plus "
        f"{needed.margin:.0f} for the private gate's noise, sd {needed.noise_sd:.1f}), and at "
        f"split.holdout_fraction {needed.fraction:g} the keyed split gives both that (but for a chance "
        f"of {split.SPLIT_SHORTFALL:g}) from {needed.source} people on; a smaller table would train, "
        "spend budget and then be blocked."
    )
    options = [f"deliver at least {needed.source} rows (one per person)"]
    fraction = split.fraction_for(people, needed)
    if fraction is not None and fraction > needed.fraction:
        options.append(
            f"set split.holdout_fraction: {fraction:g} in {where} (train then keeps about "
            f"{round(people * (1 - fraction))} people)"
        )
    if fraction is None:
        most = split.MAX_SUGGESTED_FRACTION
        why += f" No split.holdout_fraction up to {most:g} is enough for {people} people."
    minimum = split.min_holdout_rows_for(people, needed)
    if minimum is not None and minimum < spec.checks.min_holdout_rows:
        options.append(
            f"lower checks.min_holdout_rows to {minimum} (the privacy attacks then judge from fewer "
            "holdout people: only larger leaks stand out of the noise, and fewer leaks are blocked)"
        )
    options.append("raise checks.gate_rho (less noise on the gate's figures, more budget per release)")
    return why + " To let this table through: " + "; or ".join(options) + "."
