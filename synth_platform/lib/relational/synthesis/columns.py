"""Which columns a table's model learns, which are refilled, and how a value enters a condition
cell: functions of the spec only (public), shared by fitting, sampling, the refill and the gate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_platform.lib.relational.pseudonyms import dropped_columns
from synth_platform.lib.relational.schema_spec import SchemaSpec

CATEGORICAL = ("category", "string")


def cond_key(value, categories: list[str] | None):
    """A condition cell member: the value's text, or None (NULL, or outside the category list)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(bool(value)) if isinstance(value, (bool, np.bool_)) else str(value)
    return text if categories is None or text in categories else None


def model_columns(spec: SchemaSpec, table: str) -> list[str]:
    """Columns a table's model learns: not keys to modelled tables, not dropped or pseudonymised.
    A function of the spec only (public): the gate builds joined profiles from the same columns."""
    spec_table = spec.tables[table]
    keys = {spec_table.primary_key} | {
        fk.child_column for fk in spec.fks_of(table) if fk.parent_table not in spec.lookups
    }
    dropped = set(dropped_columns(spec, table))
    return [
        c
        for c, col in spec_table.columns.items()
        if c not in keys and c not in dropped and col.mask != "pseudonymize"
    ]


def identifier_columns(spec: SchemaSpec, table: str) -> list[str]:
    """Columns that are not keys and never reach a model (direct identifiers, `mask: drop` or
    `mask: pseudonymize`): refilled with fakes from public inputs only (`relational.refill`)."""
    spec_table = spec.tables[table]
    if spec_table.lookup:
        return []
    keys = {spec_table.primary_key} | {fk.child_column for fk in spec.fks_of(table)}
    kept = set(model_columns(spec, table))
    return [c for c in spec_table.columns if c not in keys and c not in kept]
