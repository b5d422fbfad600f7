"""Read a landing file, check it against its spec, and type it.

Everything that can be wrong with a delivered file is turned into one `IngestError`
whose message names the file and the problem in words a person can act on, and
never quotes a cell value (a cell may be a person's identifier). Header names are
quoted only when the first row really is a header and the name is a plain
identifier: a file without a header has a person's name and SSN in its first row.

Too few rows is a problem of the file too: `check_enough_rows` refuses a table smaller than what
the release gate needs after the keyed split (`lib.split.rows_needed`, from the spec's public
settings), so no run trains and spends budget on a table the gate could only block; its message
says which settings would let the table through. `source.min_rows` stays an explicit floor beside
it (the larger applies). `ingest_landing_file` is the chain's ingest: read, then both checks.

Only files inside the dataset's landing folder are ever read or moved: the
`landing_file` setting is an operator's input, and a path pointing elsewhere (the
warehouse, a `.env` file) is refused before a byte of it is read. A symlink in the landing
folder is never followed: it is refused and the link itself (not its target) moved to quarantine.
A file over its spec's size limits (`source.max_bytes`, `max_rows`, `max_uncompressed_bytes`)
is refused before it is materialised: a 3 KB Parquet file can expand to hundreds of megabytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pandas as pd

from synth_platform.lib import split
from synth_platform.lib.private_files import make_private, private_dir, write_private
from synth_platform.lib.spec import DatasetSpec

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
#: A header name safe to repeat in a message: a plain identifier, never an e-mail, a number or a name
#: with spaces (which a data row might hold).
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_FIELD_CHARS = 1 << 20
#: The least a materialised cell takes (a 64-bit number, or a pointer to a string object).
_MIN_CELL_BYTES = 8


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


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
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


def _decode(path: Path) -> str:
    data = path.read_bytes()
    name = path.name
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(
            f"{name}: the file is UTF-16 text; save it as UTF-8 (CSV UTF-8) and deliver it again"
        )
    if b"\x00" in data:
        raise IngestError(f"{name}: the file contains NUL bytes: it is binary, not CSV text")
    try:
        return data.decode("utf-8-sig")  # a UTF-8 byte-order mark (Excel's 'CSV UTF-8') is dropped
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{name}: not UTF-8 text (undecodable byte at offset {exc.start}); save it as UTF-8 and "
            "deliver it again"
        ) from exc


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


def _read_csv(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """The file's cells as strings, every record checked for its field count.

    Python's csv reader (not pandas) because it reports short rows (pandas pads them with
    missing values), keeps duplicate headers apart (pandas renames them), and handles quoted
    newlines with record numbers rather than byte offsets.
    """
    name = path.name
    text = _decode(path)
    if not text.strip():
        raise IngestError(f"{name}: the file has no header and no rows")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    csv.field_size_limit(_MAX_FIELD_CHARS)
    try:
        header = [h.strip() for h in next(reader)]
        problem = _header_problem(header, spec, name)
        if problem:
            raise IngestError(problem)
        width = len(header)
        rows = []
        limit = spec.source.max_rows
        for number, row in enumerate(reader, start=1):
            if len(rows) >= limit and row:
                raise TooLargeError(_too_many_rows(name, f"more than {limit}", spec))
            if len(row) != width:
                if not row:  # a blank line
                    continue
                side = "fewer" if len(row) < width else "more"
                raise IngestError(
                    f"{name}: malformed CSV: data row {number} has {len(row)} fields, {side} than the "
                    f"{width} of the header (a row cut short, or an unquoted delimiter)"
                )
            rows.append(row)
    except csv.Error as exc:
        # The csv module's messages describe the syntax ("',' expected after '\"'"), never a cell.
        raise IngestError(f"{name}: malformed CSV near record {reader.line_num}: {exc}") from exc
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    return frame.where(frame != "", None)


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


def check_parquet_limits(path: Path, spec: DatasetSpec) -> None:
    """Row count and uncompressed size from the Parquet footer, refused before any page is read.

    A few kilobytes of zstd can decode to hundreds of megabytes (a decompression bomb); the
    footer states both figures without decoding the data.
    """
    import pyarrow.parquet as pq

    name = path.name
    try:
        metadata = pq.ParquetFile(path).metadata
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


def _read_raw(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    name = path.name
    if path.is_symlink():  # checked again here: a file may be swapped for a link after listing
        raise LandingSymlinkError(symlink_reason(name))
    if not path.exists():
        raise IngestError(f"{name}: the file does not exist")
    if check_file_size(path, spec) == 0:
        raise IngestError(f"{name}: the file is empty (0 bytes); expected a header and data rows")
    if spec.source.format == "parquet":
        check_parquet_limits(path, spec)
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
            raise IngestError(f"{name}: not a readable Parquet file ({exc.__class__.__name__})") from exc
        check_columns(frame, spec, name)
        return frame
    return _read_csv(path, spec)


def _refuse(bad: pd.Series, column: str, kind: str, file_name: str) -> None:
    if bad.any():
        first_row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise IngestError(
            f"{file_name}: column '{column}' has {int(bad.sum())} value(s) that are not {kind} "
            f"(first in data row {first_row})"
        )


def _to_float(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    return pd.to_numeric(values.astype("string").str.strip(), errors="coerce").astype("float64")


def _exact_int(value) -> int | None:
    """A value's exact integer, from its text so no digit is rounded away; None if it is not one."""
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        number = float(text)
        return int(number) if number.is_integer() else None


def _integers(values: pd.Series, column: str, file_name: str) -> pd.Series:
    present = values.notna()
    numbers = _to_float(values)
    _refuse(present & numbers.isna(), column, "numbers", file_name)
    _refuse(present & ~np.isfinite(numbers.fillna(0.0)), column, "finite numbers", file_name)
    _refuse(present & (numbers != np.floor(numbers)), column, "whole numbers", file_name)
    big = present & (numbers.abs() >= 2.0**53)  # where a float may have rounded: decide on the text
    exact = {i: _exact_int(v) for i, v in values[big].items()}
    outside = pd.Series(False, index=values.index)
    for i, v in exact.items():
        outside[i] = not (-(2**63) <= v < 2**63)
    _refuse(outside, column, "within the 64-bit integer range", file_name)
    out = numbers.where(~big, 0.0).astype("Int64")  # whole and below 2**53: the float is exact
    for i, v in exact.items():
        out[i] = v
    return out


def _dates(values: pd.Series, column: str, file_name: str) -> pd.Series:
    present = values.notna()
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
    _refuse(present & dates.isna(), column, "ISO dates", file_name)
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)  # one offset throughout: keep the local calendar date
    return dates.dt.normalize()


def coerce_types(frame: pd.DataFrame, spec: DatasetSpec, file_name: str) -> pd.DataFrame:
    """Cast each column to the type its spec declares, refusing values that do not fit."""
    out = {}
    for column, column_spec in spec.columns.items():
        values = frame[column]
        kind = column_spec.type
        if kind == "integer":
            out[column] = _integers(values, column, file_name)
        elif kind == "float":
            numbers = _to_float(values)
            present = values.notna()
            _refuse(present & numbers.isna(), column, "numbers", file_name)
            _refuse(present & ~np.isfinite(numbers.fillna(0.0)), column, "finite numbers", file_name)
            out[column] = numbers
        elif kind == "date":
            out[column] = _dates(values, column, file_name)
        elif kind == "boolean":
            lowered = values.astype("string").str.strip().str.lower()
            mapped = lowered.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
            _refuse(values.notna() & mapped.isna(), column, "booleans", file_name)
            out[column] = mapped.astype("boolean")
        else:
            out[column] = values.astype("string").str.strip().replace("", pd.NA).astype(object)
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def read_landing_file(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """The typed frame for a landing file, or an IngestError saying what is wrong with it."""
    frame = _read_raw(path, spec)
    if len(frame) == 0:
        raise IngestError(f"{path.name}: the file has a header but no data rows")
    minimum = spec.source.min_rows
    if len(frame) < minimum:
        raise IngestError(
            f"{path.name}: {len(frame)} data rows, fewer than the {minimum} the spec '{spec.name}' requires "
            "(source.min_rows): too few to train on and still hold out enough rows to judge the release"
        )
    frame = frame[spec.column_names]
    return coerce_types(frame, spec, path.name)


def ingest_landing_file(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """The chain's ingest: the typed frame (`read_landing_file`), refused when it holds fewer people
    than the release gate needs (`check_enough_rows`). The row check comes after the file is read
    and typed, so a malformed file is still refused for what is wrong with it."""
    frame = read_landing_file(path, spec)
    check_enough_rows(frame, spec, path.name)
    return frame


def check_enough_rows(frame: pd.DataFrame, spec: DatasetSpec, file_name: str) -> None:
    """Refuse a table the release gate could only block for lack of rows (TooFewRowsError).

    The need is the spec's (`lib.split.rows_needed`, before the approved plan is checked: every
    plan-dependent gate check counted); the table's size is its people, one per key value, as the
    split will see them. The message names the rows it has, the rows needed and the settings that
    would let it through, never a value.
    """
    people = split.count_people(frame, spec.key)
    needed = split.rows_needed(spec)
    if people >= needed.source:
        return
    raise TooFewRowsError(_too_few_message(file_name, spec, len(frame), people, needed))


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
