"""Per-table quality: the marginal of every model column, real (train) vs synthetic, on public cells.

Why: the cross-table figures judge how tables relate; a table whose own columns are wrong (a
broken amount distribution in `transactions`) could still pass them. The figure of a modelled
table is 1 - the mean TVD of its model columns' marginals (`noisy_tvd` over one histogram per
column, real side noised). Cells are public: declared categories or booleans, else the first
`MAX_PUBLIC_VALUES` synthetic values (then "other" and NULL); numbers and dates on `TREND_BINS`
bins of the declared bounds, else of the synthetic column's quantiles (a DP output), plus NULL.
Counted in DuckDB by cell: memory does not grow with the rows.

Sensitivity: one person has at most m(t) rows in table t after bounding; each row is in one cell
of each of the C histograms, so the C histograms together move by at most m(t) sqrt(C) in L2.
"""

from __future__ import annotations

import numpy as np

from synth_platform.lib.relational.contribution import q
from synth_platform.lib.relational.figures.histograms import _public_values, _text
from synth_platform.lib.relational.figures.plan import TREND_BINS
from synth_platform.lib.relational.schema_spec import SchemaSpec
from synth_platform.lib.relational.synthesis.columns import CATEGORICAL, model_columns


def _numeric(spec: SchemaSpec, table: str, column: str) -> str:
    """A number or date as a DOUBLE (dates: epoch seconds)."""
    if spec.tables[table].columns[column].type == "date":
        return f"epoch(CAST({q(column)} AS TIMESTAMP))"
    return f"CAST({q(column)} AS DOUBLE)"


def _edges(con, spec: SchemaSpec, table: str, column: str, synthetic: str) -> list[float]:
    """Inner bin edges: the declared numeric bounds, else the synthetic quantiles (public)."""
    bounds = spec.tables[table].columns[column].bounds
    if bounds is not None and not hasattr(bounds[0], "year"):
        return [float(e) for e in np.linspace(float(bounds[0]), float(bounds[1]), TREND_BINS + 1)[1:-1]]
    levels = [float(x) for x in np.linspace(0, 1, TREND_BINS + 1)[1:-1]]
    value = _numeric(spec, table, column)
    found = con.execute(
        f"SELECT quantile_cont({value}, ?::DOUBLE[]) FROM {synthetic} WHERE {q(column)} IS NOT NULL", [levels]
    ).fetchall()[0][0]
    return sorted({float(e) for e in found}) if found else [0.0]


def _cell_sql(con, spec: SchemaSpec, table: str, column: str, synthetic: str) -> tuple[str, list, int]:
    """(SQL of a row's cell index, its parameters, number of cells) of one column, cells public."""
    declared = spec.tables[table].columns[column]
    if declared.type in CATEGORICAL or declared.type == "boolean":
        public = _public_values(con, spec, table, column, f"SELECT * FROM {synthetic}")
        text = _text(spec, table, column)
        cases = " ".join(f"WHEN {text} = ? THEN {i}" for i in range(len(public)))
        sql = f"CASE WHEN {q(column)} IS NULL THEN {len(public) + 1} {cases} ELSE {len(public)} END"
        return sql, list(public), len(public) + 2
    edges = _edges(con, spec, table, column, synthetic)
    value = _numeric(spec, table, column)
    above = " + ".join(f"CAST({value} > ? AS INTEGER)" for _ in edges)
    return f"CASE WHEN {q(column)} IS NULL THEN {len(edges) + 1} ELSE {above} END", edges, len(edges) + 2


def _histogram(con, relation: str, cell: str, params: list, size: int) -> np.ndarray:
    rows = con.execute(f"SELECT {cell} AS c, count(*) FROM {relation} GROUP BY 1", params).fetchall()
    codes = np.array([int(r[0]) for r in rows], dtype=np.int64)
    weights = np.array([float(r[1]) for r in rows])
    return np.bincount(codes, weights=weights, minlength=size).astype(np.float64)


def marginal_tables(con, spec: SchemaSpec, table: str, real: str, synthetic: str) -> list[tuple]:
    """(real cells, synthetic cells) per model column of `table` (cells public, module docstring)."""
    out = []
    for column in model_columns(spec, table):
        cell, params, size = _cell_sql(con, spec, table, column, synthetic)
        out.append(tuple(_histogram(con, relation, cell, params, size) for relation in (real, synthetic)))
    return out
