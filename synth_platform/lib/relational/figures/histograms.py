"""Children per parent and pair trends: exact cells counted per real or synthetic side, released
with Gaussian noise at their per-person sensitivity, decided on a TVD with the noise's inflation
taken off (`noisy_tvd`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from synth_platform.lib.gate import private_decision as pd_
from synth_platform.lib.gate.private_decision import GateNoise, NoisyFigure
from synth_platform.lib.relational.contribution import ENTITY, HOLDING, holder_counts, q, simplex_shares
from synth_platform.lib.relational.figures.plan import (
    TREND_BINS,
    holders_fk,
    trend_child_numbers,
    trend_parent_columns,
)
from synth_platform.lib.relational.schema_spec import ForeignKey, SchemaSpec
from synth_platform.lib.relational.synthesis.counts import count_buckets

#: category values of a parent column taken from the synthetic table when none are declared
MAX_PUBLIC_VALUES = 30


def bucket_index(counts: np.ndarray, k: int) -> np.ndarray:
    """Public bucket of each number of children: `count_buckets(k)`, then k + 1 ("over k")."""
    buckets = count_buckets(k)
    highs = np.array([b[1] for b in buckets])
    return np.searchsorted(highs, np.minimum(counts, k + 1), side="left")  # k + 1: the "over" bucket


def children_histogram(
    con, relations: dict[str, str], fk: ForeignKey, pk: str, k: int, holders: bool = False
) -> np.ndarray:
    """Parent rows per bucket of their number of children along `fk` (0 included). Counted in
    DuckDB, one row per distinct number of children: memory does not grow with the parents.
    `holders`: `fk` is the link's entity key; on a bounded (real) side, whose entities are one
    copy per holding, the holders of each original entity (`contribution.holder_counts`)."""
    if holders and ENTITY in _columns(con, relations[fk.child_table]):
        counts = holder_counts(con, relations[fk.child_table])
        found = np.array(list(counts), dtype=np.int64)
        weights = np.array([float(v) for v in counts.values()])
        size = len(count_buckets(k)) + 1
        if not counts:
            return np.zeros(size)
        return np.bincount(bucket_index(found, k), weights=weights, minlength=size)
    rows = con.execute(
        f"SELECT coalesce(c.n, 0) AS n, count(*) FROM {relations[fk.parent_table]} p LEFT JOIN "
        f"(SELECT {q(fk.child_column)} AS r, count(*) AS n FROM {relations[fk.child_table]} GROUP BY 1) c "
        f"ON p.{q(pk)} = c.r GROUP BY 1"
    ).fetchall()
    counts = np.array([int(r[0]) for r in rows], dtype=np.int64)
    parents = np.array([int(r[1]) for r in rows], dtype=np.float64)
    return np.bincount(bucket_index(counts, k), weights=parents, minlength=len(count_buckets(k)) + 1)


def _columns(con, relation: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()]


def per_parent_sql(
    spec: SchemaSpec, relations: dict[str, str], fk: ForeignKey, by_entity: bool = False
) -> str:
    """Per parent row: its trend columns, its number of children (`__n`) and the mean of each
    numeric child column (`mean_<c>`; NULL without children). A query, never read whole.
    `by_entity`: the link's entity key on a bounded side (one entity copy per holding): per
    original entity, its holders."""
    parents = trend_parent_columns(spec, fk.parent_table)
    numbers = trend_child_numbers(spec, fk.child_table)
    pk = q(spec.tables[fk.parent_table].primary_key)
    parent_relation, child_key = relations[fk.parent_table], q(fk.child_column)
    if by_entity:
        pk = child_key = ENTITY
        parent_relation = (
            f"(SELECT * FROM {parent_relation} QUALIFY row_number() OVER (PARTITION BY {ENTITY} "
            f"ORDER BY {HOLDING}) = 1)"
        )
    means = "".join(f", avg(CAST({q(c)} AS DOUBLE)) AS {q('mean_' + c)}" for c in numbers)
    picked = ", ".join([f"p.{q(c)}" for c in parents] + ["coalesce(c.n, 0) AS __n"])
    picked += "".join(f", c.{q('mean_' + c)}" for c in numbers)
    return (
        f"SELECT {picked} FROM {parent_relation} p LEFT JOIN (SELECT {child_key} AS r, "
        f"count(*) AS n{means} FROM {relations[fk.child_table]} GROUP BY 1) c ON p.{pk} = c.r"
    )


def _text(spec: SchemaSpec, table: str, column: str) -> str:
    """A parent value's text in SQL, as Python writes it (`True`/`False` for booleans)."""
    if spec.tables[table].columns[column].type == "boolean":
        return f"CASE WHEN {q(column)} IS NULL THEN NULL WHEN {q(column)} THEN 'True' ELSE 'False' END"
    return f"CAST({q(column)} AS VARCHAR)"


def _public_values(con, spec: SchemaSpec, table: str, column: str, synthetic: str) -> list[str]:
    """A parent column's public cells: declared categories, booleans, or the first
    `MAX_PUBLIC_VALUES` synthetic values in code-point order (DuckDB's binary collation)."""
    declared = spec.tables[table].columns[column]
    if declared.categories is not None:
        return list(declared.categories)
    if declared.type == "boolean":
        return ["False", "True"]
    rows = con.execute(
        f"SELECT DISTINCT {_text(spec, table, column)} AS v FROM ({synthetic}) "
        f"WHERE {q(column)} IS NOT NULL ORDER BY v LIMIT {MAX_PUBLIC_VALUES}"
    ).fetchall()
    return [r[0] for r in rows]


def _number_edges(con, spec: SchemaSpec, table: str, column: str, synthetic: str) -> np.ndarray:
    """Public bin edges of a child number's per-parent mean: the spec's bounds, else the synthetic
    means' quantiles (a DP output), computed in DuckDB (linear interpolation, as numpy's)."""
    bounds = spec.tables[table].columns[column].bounds
    if bounds is not None and not hasattr(bounds[0], "year"):
        return np.linspace(float(bounds[0]), float(bounds[1]), TREND_BINS + 1)[1:-1]
    levels = [float(x) for x in np.linspace(0, 1, TREND_BINS + 1)[1:-1]]
    mean = q("mean_" + column)
    found = con.execute(
        f"SELECT quantile_cont({mean}, ?::DOUBLE[]) FROM ({synthetic}) WHERE {mean} IS NOT NULL", [levels]
    ).fetchall()[0][0]  # fetchall: a result left open would block the next statement
    if found is None:
        return np.array([0.0])
    return np.unique(np.array(found, dtype=float))


def _cells(con, per_parent: str, value: str, aggregate: str, params: list, public: list[str]) -> list:
    """(value code, aggregate, parents) groups of one side: value codes are the public index,
    'other' (len) or NULL (len + 1). Only the groups leave DuckDB."""
    con.register("__trend_public", pd.DataFrame({"v": public, "i": np.arange(len(public), dtype=np.int64)}))
    try:
        return con.execute(
            f"SELECT coalesce(pub.i, CASE WHEN t.v IS NULL THEN {len(public) + 1} ELSE {len(public)} END), "
            f"t.a, count(*) FROM (SELECT {value} AS v, {aggregate} AS a FROM ({per_parent})) t "
            "LEFT JOIN __trend_public pub ON t.v = pub.v GROUP BY 1, 2",
            params,
        ).fetchall()
    finally:
        con.unregister("__trend_public")


def trend_tables(
    con, spec: SchemaSpec, fk: ForeignKey, k: int, real: dict[str, str], synthetic: dict[str, str]
):
    """(real cells, synthetic cells) per joint table parent column x aggregate; bins are public.
    Counted in DuckDB by group (value, number of children or mean bin): memory does not grow with
    the parents."""
    entity = holders_fk(spec, fk)
    sides = [
        per_parent_sql(spec, relations, fk, entity and ENTITY in _columns(con, relations[fk.child_table]))
        for relations in (real, synthetic)
    ]
    out = []
    for column in trend_parent_columns(spec, fk.parent_table):
        public = _public_values(con, spec, fk.parent_table, column, sides[1])
        rows = len(public) + 2
        value = _text(spec, fk.parent_table, column)
        for aggregate in ["count", *trend_child_numbers(spec, fk.child_table)]:
            if aggregate == "count":
                cols, expression, params = len(count_buckets(k)) + 1, "__n", []
            else:
                edges = _number_edges(con, spec, fk.child_table, aggregate, sides[1])
                cols, mean = edges.size + 2, q("mean_" + aggregate)
                above = " + ".join(f"CAST({mean} > ? AS INTEGER)" for _ in edges)
                expression = f"CASE WHEN {mean} IS NULL THEN {edges.size + 1} ELSE {above} END"
                params = [float(e) for e in edges]
            tables = []
            for per_parent in sides:
                groups = _cells(con, per_parent, value, expression, params, public)
                codes = np.array([int(g[0]) for g in groups], dtype=np.int64)
                agg = np.array([int(g[1]) for g in groups], dtype=np.int64)
                if aggregate == "count":
                    agg = bucket_index(agg, k)
                weights = np.array([float(g[2]) for g in groups])
                tables.append(np.bincount(codes * cols + agg, weights=weights, minlength=rows * cols))
            out.append(tuple(tables))
    return out


def noisy_tvd(
    noise: GateNoise, name: str, tables, sensitivity: float, rho: float, threshold: float, z: float
) -> NoisyFigure:
    """Release the real cells of every table with Gaussian noise (one vector: L2 `sensitivity`),
    and decide on the mean TVD between the noisy real shares (projected on the simplex) and the
    synthetic shares. The noise inflates a TVD by at most sum|noise| / noisy total per table: the
    expected inflation is taken off before the rule, its spread is the figure's uncertainty."""
    sigma = pd_.gaussian_sigma(sensitivity, rho)
    sizes = [t[0].size for t in tables]
    draws = noise.gaussian(name, sigma, int(sum(sizes)))
    tvds, bias, variance, offset = [], 0.0, 0.0, 0
    for (real, syn), size in zip(tables, sizes, strict=True):
        noisy = real + draws[offset : offset + size]
        offset += size
        total = max(float(noisy.sum()), 1.0)
        synthetic = syn / syn.sum() if syn.sum() > 0 else np.full(size, 1.0 / size)
        tvds.append(0.5 * float(np.abs(simplex_shares(noisy) - synthetic).sum()))
        bias += size * sigma * math.sqrt(2 / math.pi) / total
        variance += size * sigma**2 * (1 - 2 / math.pi) / total**2
    count = max(len(tables), 1)
    value = float(np.mean(tvds)) if tvds else math.nan
    bias, spread = bias / count, math.sqrt(variance) / count
    passed = math.isfinite(value) and pd_.passes_unless_surely_above(value - bias, spread, threshold, z)
    parts = {"noise_inflation": bias, "tables": len(tables)}
    return NoisyFigure(value, sigma, sensitivity, rho, spread, passed, parts, z)
