"""Ingest of a schema: one landing file per table, every table checked like a single-table file.

Why a view per table: the single-table ingest (`lib.storage.ingest`) already refuses malformed
files with messages that never quote a cell, quarantines them and types them straight into the
warehouse with DuckDB's strict reader. A schema's table is checked by that same code through a
one-table `DatasetSpec` (`table_dataset_spec`): its columns, its primary key as the key, a landing
folder `data/landing/<schema>/<table>/`. Lookups and small child tables are allowed down to one
row (the gate's `holdout_people` decides whether there are people enough, after the split).

A schema is ingested as a set: every table's newest file, all checked before any is written, all
written in one transaction. A set with a table missing is refused (the landing sensor waits for
a new file of every table, `landing_set`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from synth_platform.lib.relational.schema_spec import SchemaSpec
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage import ingest

LANDING_ROOT = "data/landing"
FORMAT = "csv"
PATTERN = "*.csv"


def schema_landing_dir(schema: str) -> str:
    """The schema's landing folder, relative to the project root (one sub-folder per table)."""
    return f"{LANDING_ROOT}/{schema}"


def table_landing_dir(schema: str, table: str) -> str:
    return f"{LANDING_ROOT}/{schema}/{table}"


def warehouse_name(schema: str, table: str) -> str:
    """A table's name in the shared warehouse schemas (raw, synthetic, release): `<schema>__<table>`."""
    return f"{schema}__{table}"


def table_dataset_spec(spec: SchemaSpec, table: str) -> DatasetSpec:
    """A one-table dataset view of `table`, so the single-table ingest checks and types it."""
    declared = spec.tables[table]
    return DatasetSpec.model_validate(
        {
            "name": warehouse_name(spec.name, table),
            "source": {"landing_dir": table_landing_dir(spec.name, table), "format": FORMAT, "min_rows": 1},
            "key": declared.primary_key,
            "columns": {c: col.model_dump(by_alias=True) for c, col in declared.columns.items()},
        }
    )


def newest_files(root: Path, spec: SchemaSpec) -> dict[str, Path | None]:
    """table -> its newest landing file (None when its folder holds none). Symlinks are not files
    here: `ingest.latest_landing_file` never follows them."""
    return {
        table: ingest.latest_landing_file(Path(root) / table_landing_dir(spec.name, table), PATTERN)
        for table in spec.tables
    }


def missing_tables(files: dict[str, Path | None]) -> list[str]:
    return sorted(t for t, p in files.items() if p is None)


@dataclass
class TableRefusal(Exception):
    """One table's file refused: which table, which file, the ingest's value-free reason."""

    table: str
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"table {self.table!r}: {self.reason}"


def check_table(spec: SchemaSpec, table: str, path: Path) -> ingest.TypedLanding:
    """The file checked by the single-table ingest; any problem is a `TableRefusal` whose reason
    repeats only `IngestError`'s own messages (a reader's message may quote a cell)."""
    try:
        return ingest.check_landing_file(path, table_dataset_spec(spec, table))
    except Exception as error:
        reason = (
            str(error)
            if isinstance(error, ingest.IngestError)
            else f"{path.name}: could not be read ({error.__class__.__name__}); check the file's format"
        )
        raise TableRefusal(table, path, reason) from None


# ---------------------------------------------------------------------- the landing set


def file_mark(path: Path) -> str:
    """What identifies a delivered file for the sensor: its name, size and modification time."""
    status = path.stat()
    return f"{path.name}|{status.st_size}|{status.st_mtime_ns}"


def landing_set(root: Path, spec: SchemaSpec, cursor: str | None) -> tuple[dict[str, str] | None, list[str]]:
    """(the new set's marks, or None; the tables still waiting). A set is complete when every
    table (modelled and lookup) has a file, and every one differs from the one last run on."""
    previous = json.loads(cursor) if cursor else {}
    files = newest_files(root, spec)
    marks = {t: file_mark(p) for t, p in files.items() if p is not None}
    waiting = sorted(t for t in spec.tables if t not in marks or marks[t] == previous.get(t))
    return (None if waiting else marks), waiting
