"""Read a landing file, check it against its spec, and type it.

Everything that can be wrong with a delivered file is turned into one `IngestError`
whose message names the file and the problem in words a person can act on, and
never quotes a cell value (a cell may be a person's identifier).
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from synth_platform.lib.spec import DatasetSpec

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class IngestError(ValueError):
    """A landing file that cannot be ingested; the message names the file and the problem."""


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
    files = [p for p in landing_dir.glob(pattern) if p.is_file() and not p.name.startswith(".")]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def latest_landing_file(landing_dir: Path, pattern: str) -> Path | None:
    files = landing_files(landing_dir, pattern)
    return files[-1] if files else None


def quarantine(path: Path, quarantine_dir: Path, reason: str) -> Path:
    """Move a rejected file out of the landing folder, with the reason beside it."""
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = quarantine_dir / f"{stamp}__{path.name}"
    shutil.move(str(path), target)
    Path(f"{target}.reason.txt").write_text(reason + "\n")
    return target


def _read_raw_strings(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    name = path.name
    if not path.exists():
        raise IngestError(f"{name}: the file does not exist")
    if path.stat().st_size == 0:
        raise IngestError(f"{name}: the file is empty (0 bytes); expected a header and data rows")
    if spec.source.format == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
            raise IngestError(f"{name}: not a readable Parquet file ({exc.__class__.__name__})") from exc
        return frame
    try:
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            on_bad_lines="error",
            encoding="utf-8",
            quoting=csv.QUOTE_MINIMAL,
        )
    except pd.errors.EmptyDataError as exc:
        raise IngestError(f"{name}: the file has no header and no rows") from exc
    except pd.errors.ParserError as exc:
        # pandas' tokenizer messages name line and field counts, never cell values.
        detail = str(exc).split("C error: ")[-1].strip()
        raise IngestError(f"{name}: malformed CSV: {detail}") from exc
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}: not UTF-8 text (undecodable byte at offset {exc.start})") from exc


def check_columns(frame: pd.DataFrame, spec: DatasetSpec, file_name: str) -> None:
    expected = spec.column_names
    found = [str(c) for c in frame.columns]
    missing = [c for c in expected if c not in found]
    unexpected = [c for c in found if c not in expected]
    duplicated = sorted({c for c in found if found.count(c) > 1})
    if missing or unexpected or duplicated:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if unexpected:
            parts.append(f"unexpected {unexpected}")
        if duplicated:
            parts.append(f"duplicated {duplicated}")
        raise IngestError(
            f"{file_name}: columns differ from the spec '{spec.name}': {'; '.join(parts)}. "
            f"Fix the file, or update config/datasets/{spec.name}.yaml if the source schema really changed."
        )


def _bad_values(original: pd.Series, converted: pd.Series, column: str, kind: str, file_name: str) -> None:
    bad = original.notna() & converted.isna()
    if bad.any():
        first_line = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # +1 for the header, +1 for 1-based lines
        raise IngestError(
            f"{file_name}: column '{column}' has {int(bad.sum())} value(s) that are not {kind} "
            f"(first on line {first_line})"
        )


def coerce_types(frame: pd.DataFrame, spec: DatasetSpec, file_name: str) -> pd.DataFrame:
    """Cast each column to the type its spec declares, refusing values that do not fit."""
    out = {}
    for column, column_spec in spec.columns.items():
        values = frame[column]
        kind = column_spec.type
        if kind in ("integer", "float"):
            numbers = pd.to_numeric(values, errors="coerce")
            _bad_values(values, numbers, column, "numbers", file_name)
            if kind == "integer":
                fractional = numbers.notna() & (numbers != np.floor(numbers))
                _bad_values(values, numbers.mask(fractional), column, "whole numbers", file_name)
                out[column] = numbers.astype("Int64")
            else:
                out[column] = numbers.astype("float64")
        elif kind == "date":
            dates = pd.to_datetime(values, errors="coerce", format="ISO8601")
            _bad_values(values, dates, column, "ISO dates", file_name)
            out[column] = dates.dt.normalize()
        elif kind == "boolean":
            lowered = values.astype("string").str.strip().str.lower()
            mapped = lowered.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
            _bad_values(values, mapped, column, "booleans", file_name)
            out[column] = mapped.astype("boolean")
        else:
            out[column] = values.astype("string").str.strip().replace("", pd.NA).astype(object)
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def read_landing_file(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """The typed frame for a landing file, or an IngestError saying what is wrong with it."""
    frame = _read_raw_strings(path, spec)
    check_columns(frame, spec, path.name)
    if len(frame) == 0:
        raise IngestError(f"{path.name}: the file has a header but no data rows")
    frame = frame[spec.column_names]
    return coerce_types(frame, spec, path.name)
