"""Identifier leaks per table: real identifier values found in the synthetic refilled columns.

Why: the refill (`lib.relational.refill`) draws fakes from spaces that cannot hold a real value,
so an honest schema has no real identifier in its released tables. A synthesizer or refill that
copies one (a real e-mail into `stays.contact`) must be blocked whatever the other figures say.

The figure of a table t with refilled identifier columns I_t: the number of real rows of t (its
raw rows, bounded per person by the same contribution rule as the training side, so a person has
at most m(t) of them) having, in some column of I_t, a value equal to a value of the same
synthetic column. Equality is on a normalised text: lower case, trimmed, separators (spaces,
`,.-/()`) removed, so `+49 30 700-0013` and `+4930 7000013` match. Only the count leaves DuckDB.

Sensitivity: the synthetic side is a DP output (fixed); one person adds or removes at most their
m(t) bounded rows, each counted at most once, and no other person's bounded rows change
(`contribution`: under the link's entity every holding has its own copy, chosen from its own
person's rows): Δ = m(t) for every table. Noised (Gaussian, zCDP) and blocking when surely above 0.
"""

from __future__ import annotations

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.contribution import q
from synth_platform.lib.relational.schema_spec import SchemaSpec
from synth_platform.lib.relational.synthesis.columns import identifier_columns

_SEPARATORS = r"[\s,.\-/()]+"


def normalised(column: str) -> str:
    """SQL: the column's text, lower case, trimmed, separators removed (NULL stays NULL)."""
    return f"regexp_replace(lower(trim(CAST({q(column)} AS VARCHAR))), '{_SEPARATORS}', '', 'g')"


def leak_tables(spec: SchemaSpec) -> dict[str, list[str]]:
    """Modelled tables with refilled identifier columns, and those columns (public: the spec)."""
    out = {}
    for table in spec.modelled:
        columns = identifier_columns(spec, table)
        if columns:
            out[table] = columns
    return out


def leak_sensitivity(spec: SchemaSpec, table: str, m: dict[str, int], bounds: dict[str, int]) -> float:
    """Δ of a table's leak count (module docstring): m(t)."""
    return float(m[table])


def bounded_raw(con, spec: SchemaSpec, raw: dict[str, str], bounds: dict[str, int], schema: str) -> dict:
    """The raw tables (identifiers kept) bounded per person by the training side's rule."""
    bounded, _ = contrib.bound_contributions(con, spec, raw, schema, bounds)
    return bounded


def leak_count(con, real: str, synthetic: str, columns: list[str]) -> int:
    """Real rows of `real` with a value, in one of `columns`, equal (normalised) to a value of the
    same column of `synthetic`. Exact: governed; only its noisy version leaves the gate."""
    present = [c for c in columns if _has_column(con, synthetic, c) and _has_column(con, real, c)]
    if not present:
        return 0
    tests = " OR ".join(
        f"{normalised(c)} IN (SELECT {normalised(c)} FROM {synthetic} WHERE {q(c)} IS NOT NULL)"
        for c in present
    )
    return int(con.execute(f"SELECT count(*) FROM {real} WHERE {tests}").fetchone()[0])


def _has_column(con, relation: str, column: str) -> bool:
    return column in [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()]
