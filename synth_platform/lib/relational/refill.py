"""Identifier columns of a synthetic schema refilled with fakes, table by table, chunk by chunk.

Why: masking drops direct identifiers (names, e-mails, phones) and pseudonymised columns that are
not keys before anything is modelled, so the sampled tables lack them; consumers want the
source's shape. Each such column is refilled by the single-table refill
(`lib.deidentify.refill.SourceShape`): fakes of the kind the spec declares (`pii: {type: ...}`)
drawn from spaces that cannot hold a real value (reserved e-mail domains, fictional phone
ranges, invented family names; see that package). The refill reads only public inputs -- the
synthetic rows, the spec and a seed -- never a real value, so it costs no privacy and cannot
copy one. Keys are not refilled: they are the synthetic keys that make the schema join.

A table's refill is a `SourceShape` over a one-table `DatasetSpec` holding only its identifier
columns; it is called on each sampled chunk in order, so unique identifiers stay unique across
the whole table and memory is one chunk (plus 8 bytes a row of hashes for unique columns).
"""

from __future__ import annotations

import zlib

import pandas as pd

from synth_platform.lib.deidentify.refill import ColumnTreatment, SourceShape
from synth_platform.lib.relational.schema_spec import SchemaSpec
from synth_platform.lib.relational.synthesizer import identifier_columns
from synth_platform.lib.spec import DatasetSpec


def table_seed(seed: int, table: str) -> int:
    """A table's own refill stream: one table's fakes do not depend on which other tables exist."""
    return (int(seed) * 1_000_003 + zlib.crc32(table.encode())) % 2**32


def identifier_plan(spec: SchemaSpec, table: str) -> list[ColumnTreatment]:
    """What each identifier column of `table` is refilled as: its declared PII class and type."""
    plan = []
    for column in identifier_columns(spec, table):
        declared = spec.tables[table].columns[column]
        pii = declared.pii
        action = "pseudonymize" if declared.mask == "pseudonymize" else "drop"
        plan.append(
            ColumnTreatment(
                column,
                pii.pii_class if pii is not None else "other",
                pii.type if pii is not None else None,
                action,
            )
        )
    return plan


def table_dataset(spec: SchemaSpec, table: str) -> DatasetSpec | None:
    """A one-table dataset of `table`'s identifier columns (what `SourceShape` refills), or None."""
    columns = identifier_columns(spec, table)
    if not columns:
        return None
    return DatasetSpec.model_validate(
        {
            "name": f"{spec.name}_{table}",
            "source": {"landing_dir": "unused"},
            "columns": {c: spec.tables[table].columns[c].model_dump(by_alias=True) for c in columns},
        }
    )


class SchemaRefill:
    """Refills every table of a sampled schema chunk by chunk (call `chunk` in sampling order)."""

    def __init__(self, spec: SchemaSpec, seed: int):
        self.spec, self.seed = spec, int(seed)
        self.shapes: dict[str, SourceShape | None] = {}
        #: per refilled column: kind, format, reserved space (no value)
        self.report: dict[str, dict] = {}

    def chunk(self, table: str, frame: pd.DataFrame, expected_rows: int | None = None) -> pd.DataFrame:
        """`frame` with its identifier columns refilled, in the spec's column order.
        `expected_rows`: the table's rows in all (sizes id spaces; more rows still work)."""
        if table not in self.shapes:
            dataset = table_dataset(self.spec, table)
            self.shapes[table] = (
                None
                if dataset is None
                else SourceShape(
                    dataset,
                    identifier_plan(self.spec, table),
                    table_seed(self.seed, table),
                    max(int(expected_rows or len(frame)), len(frame)),
                )
            )
        shape = self.shapes[table]
        if shape is None:
            return frame
        filled = shape.chunk(frame.reset_index(drop=True))
        self.report[table] = dict(shape.report)
        out = frame.reset_index(drop=True).copy()
        for column in filled.columns:
            out[column] = filled[column].to_numpy()
        order = [c for c in self.spec.tables[table].columns if c in out.columns]
        return out[order]


def refill_identifiers(
    spec: SchemaSpec, tables: dict[str, pd.DataFrame], seed: int
) -> dict[str, pd.DataFrame]:
    """Every table of a sampled schema (one chunk each) with its identifier columns refilled."""
    refill = SchemaRefill(spec, seed)
    return {name: refill.chunk(name, frame) for name, frame in tables.items()}
