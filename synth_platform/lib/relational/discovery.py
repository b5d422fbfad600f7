"""PII discovery per table of a schema: the single-table check, before anything is masked.

Why: masking drops only what the schema spec *declares* (`pii: direct_identifier`, `mask: drop`,
`mask: pseudonymize`). A column of e-mail addresses the spec forgot to declare would otherwise go
straight to the model (and, in a lookup, straight to the release). The single-table chain runs
discovery (`lib.pii.discovery`) on every column and stops when a column the approved plan lets
reach the model is a direct identifier; this is that rule for every table of a schema.

Each raw table is classified on a seeded SQL sample (`discover_table`, as the single-table stage;
whole-table distinct counts in SQL), with the spec's declared `pii:` as hints (a declared class
wins, as there). A column *reaches a model* when it is a model column of a modelled table
(`synthesis.columns.model_columns`: not a key, not dropped, not pseudonymised) or a non-key column
of a lookup (copied to the release as it is). Such a column found to be a direct identifier is a
`Problem`: the table, the column and the detected type, never a value. Counts of column classes
per table are the public summary (names and counts, no value).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from synth_platform.lib.pii import discovery
from synth_platform.lib.relational.ingest import warehouse_name
from synth_platform.lib.relational.schema_spec import SchemaSpec
from synth_platform.lib.relational.synthesis.columns import model_columns

#: rows each table's detectors see (as the single-table stage, smaller: a schema has many tables)
SAMPLE_ROWS = 5_000


@dataclass(frozen=True)
class Problem:
    """A column that would reach a model although discovery calls it a direct identifier."""

    table: str
    column: str
    detected_type: str | None
    evidence: str

    def __str__(self) -> str:
        kind = f" ({self.detected_type})" if self.detected_type else ""
        return f"{self.table}.{self.column}: direct identifier{kind} that the spec lets reach the model"


@dataclass
class SchemaDiscovery:
    """Every table's findings (governed: evidence holds names, shares and counts, no value), the
    class counts per table (public summary) and the problems that stop the run."""

    findings: dict[str, list[discovery.ColumnFinding]]
    problems: list[Problem]

    def class_counts(self) -> dict[str, dict[str, int]]:
        return {
            table: {c: int(n) for c, n in Counter(f.pii_class for f in found).items()}
            for table, found in self.findings.items()
        }


def reaching_columns(spec: SchemaSpec, table: str) -> list[str]:
    """Columns of `table` whose values reach a model or the release unmasked (a function of the
    spec only): a modelled table's model columns; a lookup's columns other than its primary key."""
    declared = spec.tables[table]
    if declared.lookup:
        return [c for c in declared.columns if c != declared.primary_key]
    return model_columns(spec, table)


def hints(spec: SchemaSpec, table: str) -> dict[str, tuple[str, str | None]]:
    """The spec's declared PII classes of `table`: they win over discovery, as in a single table."""
    return {
        c: (col.pii.pii_class, col.pii.type)
        for c, col in spec.tables[table].columns.items()
        if col.pii is not None
    }


def discover_schema(con, spec: SchemaSpec, sample_rows: int = SAMPLE_ROWS, seed: int = 0) -> SchemaDiscovery:
    """Discovery on every raw table of `spec` (`raw."<schema>__<table>"`) and the problems found."""
    findings, problems = {}, []
    for table in spec.tables:
        found, _ = discovery.discover_table(
            con, "raw", warehouse_name(spec.name, table), hints(spec, table), sample_rows, seed
        )
        findings[table] = found
        reaching = set(reaching_columns(spec, table))
        problems += [
            Problem(table, f.column, f.detected_type, f.evidence)
            for f in found
            if f.column in reaching and f.pii_class == "direct_identifier"
        ]
    return SchemaDiscovery(findings, problems)
