"""dp_mst's counting SQL, rendered for a warehouse engine: DuckDB (one host) or Spark SQL (a cluster).

Everything `dp_mst` learns from the training table is a handful of counts: one GROUP BY per measured
domain (category counts, coarse power-of-two cells, fine-grid cells) and one GROUPING SETS query
for all 1- and 2-way marginals of the coded cells (`DPMSTSynthesizer.fit_relation`). Counting is
the part of a fit that grows with the rows, so it is the part a team moves to a distributed engine
when one machine is not enough; the noise, the tree and the graphical model stay in Python on
counts whose size does not depend on the row count.

This module renders those queries from the same encodings (`lib.synthesize.dp_domain`) with one builder
per query and only the engine's spelling swapped (`lib.storage.sql_dialect.Dialect`, the one dialect
abstraction masking and the split use too): identifiers, string literals, a few function names, and
two evaluation orders that keep NaN and huge values in the same cell on both engines. The DuckDB
rendering is, byte for byte, the SQL `fit_relation` runs (synth_platform_tests/test_spark_engine.py
records it and compares), and the Spark rendering gives the same counts to the last count on the same
table. Spark needs `spark.sql.session.timeZone=UTC` so that timestamps without a time zone count as
DuckDB counts them (wall-clock time taken as UTC).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from synth_platform.lib.storage.sql_dialect import DIALECTS, Dialect
from synth_platform.lib.synthesize import dp_domain
from synth_platform.lib.synthesize.dp_domain import CategoricalEncoding, ColumnInfo, NumericEncoding

Encoding = CategoricalEncoding | NumericEncoding

#: The engines this module renders for, by name (`sql_dialect.DIALECTS`; kept under its old name).
SYNTAXES = DIALECTS


def _syntax(dialect) -> Dialect:
    """The `Dialect` of `dialect`: a name ("duckdb", "spark") or an object with a `name` attribute
    (a `lib.storage.sql_dialect` dialect)."""
    name = str(getattr(dialect, "name", dialect)).lower()
    if name not in SYNTAXES:
        raise ValueError(f"dp_mst counting SQL: unknown dialect {name!r} (known: {', '.join(SYNTAXES)})")
    return SYNTAXES[name]


# ---------------------------------------------------------------------------------- expressions


def value_sql(info: ColumnInfo, dialect) -> str:
    """The column as counting sees it (dates as day numbers, categories as text); `ColumnInfo.value_sql`."""
    s = _syntax(dialect)
    column = s.quote(info.name)
    if info.temporal == "date":
        return s.days_since_epoch(column)
    if info.temporal == "timestamp":
        return s.epoch_seconds(column)
    if info.kind == "categorical":
        return f"CAST({column} AS {s.text_type})"
    if info.kind == "numeric":
        return f"CAST({column} AS DOUBLE)"
    return column


def categorical_code_sql(encoding: CategoricalEncoding, dialect) -> str:
    """The code of a categorical or boolean value; `CategoricalEncoding.code_sql`."""
    s = _syntax(dialect)
    info = encoding.info
    column = s.quote(info.name)
    null_code = encoding.null_code
    if info.kind == "boolean":
        return f"(CASE WHEN {column} IS NULL THEN 2 WHEN {column} THEN 1 ELSE 0 END)"
    if not encoding.labels:
        return f"(CASE WHEN {column} IS NULL THEN {null_code} ELSE 0 END)"
    unlisted = len(encoding.labels) if encoding.has_other else null_code
    value = value_sql(info, dialect)
    if tuple(encoding.labels) == dp_domain.ZIP3_LABELS:
        return (
            f"(CASE WHEN {column} IS NULL THEN {null_code} "
            f"WHEN {s.is_three_digits(value)} THEN CAST({value} AS INTEGER) "
            f"ELSE {unlisted} END)"
        )
    items = [s.literal(str(v)) for v in encoding.labels]
    return f"(CASE WHEN {column} IS NULL THEN {null_code} ELSE {s.list_index(items, value, unlisted)} END)"


def fine_sql(encoding: NumericEncoding, dialect) -> str:
    """The ordinal fine cell `g` of a numeric value; `NumericEncoding.fine_sql`."""
    s = _syntax(dialect)
    x = value_sql(encoding.info, dialect)
    cell = f"({x} - {dp_domain.sql_number(encoding.low)}) / {dp_domain.sql_number(encoding.width)}"
    u = s.clipped_floor(cell, 0, encoding.cells - 1)
    if encoding.zero_cell is None:
        return f"(2 * CAST({u} AS BIGINT))"
    return f"(2 * CAST({u} AS BIGINT) + CASE WHEN {u} = {encoding.zero_cell} AND {x} > 0 THEN 1 ELSE 0 END)"


def numeric_code_sql(encoding: NumericEncoding, dialect) -> str:
    """The bin of a numeric value; `NumericEncoding.code_sql`."""
    g = fine_sql(encoding, dialect)
    x = value_sql(encoding.info, dialect)
    parts = [f"WHEN {x} IS NULL THEN {encoding.null_code}"]
    for index, start in list(enumerate(encoding.bin_starts))[:0:-1]:
        parts.append(f"WHEN {g} >= {start} THEN {index}")
    return "(CASE " + " ".join(parts) + " ELSE 0 END)"


def code_sql(encoding: Encoding, dialect) -> str:
    """The code of a value under its encoding, whatever the column kind."""
    if isinstance(encoding, NumericEncoding):
        return numeric_code_sql(encoding, dialect)
    return categorical_code_sql(encoding, dialect)


def coarse_cell_sql(info: ColumnInfo, dialect) -> str:
    """The signed power-of-two cell of a value; `dp_domain.coarse_cell_sql`."""
    s = _syntax(dialect)
    x = value_sql(info, dialect)
    exponent = s.clipped_floor(f"log2(abs({x}))", dp_domain.MIN_EXP, dp_domain.MAX_EXP)
    return (
        f"(CASE WHEN {x} = 0 THEN 0 ELSE CAST({s.sign(x)} * ({exponent} - {dp_domain.MIN_EXP - 1}) "
        f"AS BIGINT) END)"
    )


# ---------------------------------------------------------------------------------- queries


def category_counts_sql(info: ColumnInfo, relation: str, dialect) -> str:
    """Counts of the values seen at least `MIN_CATEGORY_COUNT` times (an undeclared category list)."""
    column = _syntax(dialect).quote(info.name)
    return (
        f"SELECT {value_sql(info, dialect)} AS v, count(*) FROM {relation} WHERE {column} "
        f"IS NOT NULL GROUP BY 1 HAVING count(*) >= {dp_domain.MIN_CATEGORY_COUNT}"
    )


def coarse_counts_sql(info: ColumnInfo, relation: str, dialect) -> str:
    """Counts per power-of-two cell (undeclared numeric bounds)."""
    return (
        f"SELECT {coarse_cell_sql(info, dialect)} AS c, count(*) FROM {relation} "
        f"WHERE {value_sql(info, dialect)} IS NOT NULL GROUP BY 1"
    )


def fine_counts_sql(encoding: NumericEncoding, relation: str, dialect) -> str:
    """Counts per fine-grid cell (where a numeric column's bin edges go)."""
    return (
        f"SELECT {fine_sql(encoding, dialect)} AS g, count(*) FROM {relation} "
        f"WHERE {value_sql(encoding.info, dialect)} IS NOT NULL GROUP BY 1"
    )


def marginals_sql(encodings: Sequence[Encoding], relation: str, dialect) -> str:
    """All 1-way and 2-way marginals of the model columns' codes, in one GROUPING SETS query.

    Columns `g` (which set a row belongs to, the first column the highest bit), `c0..c{k-1}` (codes,
    NULL where not grouped) and `n` (the count); `marginals_from_columns` turns them into arrays.
    """
    s = _syntax(dialect)
    k = len(encodings)
    codes = [f"{code_sql(e, dialect)} AS c{i}" for i, e in enumerate(encodings)]
    sets = [f"(c{i})" for i in range(k)] + [f"(c{i}, c{j})" for i, j in itertools.combinations(range(k), 2)]
    grouping = ", ".join(f"c{i}" for i in range(k))
    return (
        f"WITH coded AS (SELECT {', '.join(codes)} FROM {relation}) "
        f"SELECT {s.grouping}({grouping}) AS g, {grouping}, count(*) AS n FROM coded "
        f"GROUP BY GROUPING SETS ({', '.join(sets)})"
    )


def marginals_from_columns(result: Mapping[str, Sequence], sizes: Sequence[int]) -> tuple[dict, dict]:
    """The marginal arrays from `marginals_sql`'s result columns (`g`, `c0..`, `n`), as `_marginals`
    builds them: `one_way[i]` of length sizes[i], `two_way[i, j]` of shape (sizes[i], sizes[j])."""
    k = len(sizes)
    one_way = {i: np.zeros(sizes[i]) for i in range(k)}
    two_way = {(i, j): np.zeros((sizes[i], sizes[j])) for i, j in itertools.combinations(range(k), 2)}
    mask = np.asarray(result["g"]).astype(np.int64)
    counts = np.asarray(result["n"]).astype(float)
    full = (1 << k) - 1
    codes = [np.asarray(result[f"c{i}"], dtype=object) for i in range(k)]
    for i in range(k):
        rows = mask == full ^ (1 << (k - 1 - i))
        np.add.at(one_way[i], codes[i][rows].astype(np.int64), counts[rows])
    for i, j in itertools.combinations(range(k), 2):
        rows = mask == full ^ (1 << (k - 1 - i)) ^ (1 << (k - 1 - j))
        np.add.at(
            two_way[i, j], (codes[i][rows].astype(np.int64), codes[j][rows].astype(np.int64)), counts[rows]
        )
    return one_way, two_way
