"""The release gate across the tables of a schema: one private decision, one release or none.

Why a gate of its own: a per-table gate cannot see what related tables add. A foreign key that
resolves nowhere breaks every join; the number of children per parent and how a parent's
attributes shape its children are the schema's own statistics; and one person's rows *together*
(their row, their accounts, all their transactions) identify them far more than any one row, so
a generator that copies whole people can pass every single-table check. The figures:

* ``orphans`` -- child keys with no parent, summed over every foreign key; must be 0. Exact and
  free: it reads only the synthetic tables (a DP output) and the spec, so it is post-processing
  and leaks nothing about a real person; no noise is needed and none would make sense (a
  threshold of 0 on an exact count is a guarantee, not a guess).
* ``children_per_parent:<fk>`` -- per foreign key between modelled tables, the total variation
  distance between the synthetic and the (noisy) real distribution of children per parent row,
  in public buckets (`synthesizer.count_buckets` of the bound, plus one "over the bound").
* ``pair_trends:<fk>`` -- per foreign key whose child rows belong to the parent's person, the
  mean TVD over the joint tables (parent category column x child aggregate: the parent's number
  of children, the mean of up to two numeric child columns on public bins), one entry per parent
  row: does a premium customer still hold more, and larger, accounts?
* ``profile_exact_copies`` / ``profile_close_copies`` -- attacks on each person's *joined
  profile*: one row per person, their own model columns plus, per table, how many rows are
  attributed to them and a few summaries (means of up to two numbers, rounded; the most frequent
  value of up to two categories). The share of training people whose profile has an exact copy
  (close copy: `bounded_figures.close_copy_hits`' public cuts) among the synthetic people's
  profiles, minus the same share of holdout people, over keyed samples of public size.
* ``holdout_people`` -- noisy counts of train and holdout people: the public sample sizes of the
  attacks, and a minimum (no evidence, no pass).

Privacy (zCDP, the neighbouring relation of `contribution`: one person with every row attributed
to them). Every real-data figure is released with Gaussian noise scaled to its per-person
sensitivity, implied by the contribution bounds (`contribution.multiplicities`, m(t) = the rows
one person has in table t after bounding):

* a histogram with one entry per parent row of table p: Δ = m(p) (all of a person's parent rows
  in one cell is the worst case); over P joint tables released together: Δ = m(p) sqrt(P);
* children per *side* row of the link table (a person's holdings): the person's m(side) entries,
  and each co-holder row of the entities they own (at most m(entity) (k_e - 1)) moves another
  person's entry between two cells: Δ = m(side) + 2 m(entity) (k_e - 1);
* a profile share over a keyed sample of m people: a person's profile is a function of the rows
  attributed to them only, so one person moves one indicator on one side: Δ = 1/m (close copies:
  sqrt(C)/m for C public cuts); people counts: Δ = 1.

The gate's rho (`GateNoise.rho`) is split over the figures by the public `RHO_WEIGHTS`; their sum
is the rho to charge (`RelationalGate.rho_charged`). Noise, the "sure of a problem" rule and the
family-wise z are the single-table gate's (`lib/gate/private_decision`): keyed deterministic noise
(the same evaluation draws the same noise), and every blocking figure is decided at
`family_z(false_block_rate, F)` with F the number of such figures (public: from the spec). A TVD
of a noisy histogram is biased upwards by the noise; it blocks only when it minus the expected
noise error (sum |noise| / noisy total) is surely above its threshold.

Only noisy figures decide and appear in a `Verdict`; exact figures are not returned.
`schema_verdict` turns every verdict (these and the per-table gates') into one decision: the
whole schema is released, or nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from synth_platform.lib.gate import bounded_figures as bf
from synth_platform.lib.gate import private_decision as pd_
from synth_platform.lib.gate.private_decision import GateNoise, NoisyFigure
from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.contribution import PERSON, q, simplex_shares
from synth_platform.lib.relational.schema_spec import ForeignKey, SchemaSpec, ownership
from synth_platform.lib.relational.synthesizer import CATEGORICAL, count_buckets, model_columns

#: public weights of the gate's rho per figure kind (privacy attacks get most: thresholds are small)
RHO_WEIGHTS = {
    "holdout_people": 1.0,
    "children_per_parent": 0.5,
    "pair_trends": 0.5,
    "profile_exact_copies": 2.0,
    "profile_close_copies": 4.0,
}
#: summaries per table in a joined profile, and parent columns per pair-trend figure
PROFILE_NUMBERS = 2
PROFILE_CATEGORIES = 2
TREND_PARENT_COLUMNS = 2
TREND_NUMBERS = 2
TREND_BINS = 5
#: category values of a parent column taken from the synthetic table when none are declared
MAX_PUBLIC_VALUES = 30
NUMERIC = ("integer", "float", "date")


@dataclass(frozen=True)
class RelationalChecks:
    """Thresholds of the gate across tables (defaults pass an honest generator at a generous
    budget and block a copier of whole people; see `synth_platform_tests/test_relational_gate.py`)."""

    max_children_tvd: float = 0.25
    max_pair_trend_tvd: float = 0.3
    max_profile_exact_copy_excess: float = 0.02
    max_profile_close_copy_excess: float = 0.02
    min_holdout_people: int = 200
    false_block_rate: float = 0.01


@dataclass(frozen=True)
class Verdict:
    """One figure's public verdict: its noisy value (exact only where it reads no real data), the
    threshold, pass or block, and the rho it charged at its per-person sensitivity."""

    name: str
    value: float
    threshold: float
    passed: bool
    rho: float = 0.0
    sensitivity: float = 0.0
    sigma: float = 0.0
    description: str = ""
    noisy: NoisyFigure | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SchemaDecision:
    """One release of the whole schema or none: `tables` is every table when released, else ()."""

    release: bool
    tables: tuple[str, ...]
    blocked_by: tuple[str, ...]


@dataclass
class RelationalGate:
    verdicts: list[Verdict]
    rho_charged: float
    plan: dict[str, dict]

    def decision(self, tables) -> SchemaDecision:
        return schema_verdict(self.verdicts, tables)


def schema_verdict(verdicts, tables=()) -> SchemaDecision:
    """All or nothing: the schema is released only when every verdict passed (the cross-table
    ones and every table's own gate). No verdict at all is no evidence, so no release."""
    verdicts = list(verdicts)
    blocked = tuple(v.name for v in verdicts if not v.passed)
    release = bool(verdicts) and not blocked
    reason = blocked if verdicts else ("no verdicts",)
    return SchemaDecision(release, tuple(tables) if release else (), () if release else reason)


# ---------------------------------------------------------------------- the plan (public)


def _link_side(spec: SchemaSpec, fk: ForeignKey) -> bool:
    link = ownership(spec).link
    return link is not None and fk.column == link.side.column


def modelled_fks(spec: SchemaSpec) -> list[ForeignKey]:
    lookups = set(spec.lookups)
    return [
        fk for fk in spec.foreign_keys if fk.parent_table not in lookups and fk.child_table not in lookups
    ]


def children_bound(spec: SchemaSpec, fk: ForeignKey, bounds: dict[str, int]) -> int:
    """The bound k of children per parent along `fk` (buckets 0..k, then one beyond)."""
    own = ownership(spec)
    if own.link is not None and fk.column == own.link.side.column:
        return int(bounds[own.link.table])
    if own.link is not None and fk.column == own.link.entity.column:
        return int(bounds[own.link.entity.parent_table])
    return int(bounds[fk.child_table])


def children_sensitivity(spec: SchemaSpec, fk: ForeignKey, m: dict[str, int], bounds: dict[str, int]) -> int:
    """L2 sensitivity of the children-per-parent histogram along `fk` (module docstring)."""
    if _link_side(spec, fk):
        entity = ownership(spec).link.entity.parent_table
        return int(m[fk.parent_table] + 2 * m[entity] * (int(bounds[entity]) - 1))
    return int(m[fk.parent_table])


def trend_parent_columns(spec: SchemaSpec, table: str) -> list[str]:
    """Category/boolean model columns of a parent a pair trend is read on (spec order)."""
    columns = spec.tables[table].columns
    return [
        c
        for c in model_columns(spec, table)
        if columns[c].type in CATEGORICAL or columns[c].type == "boolean"
    ][:TREND_PARENT_COLUMNS]


def trend_child_numbers(spec: SchemaSpec, table: str) -> list[str]:
    columns = spec.tables[table].columns
    return [c for c in model_columns(spec, table) if columns[c].type in ("integer", "float")][:TREND_NUMBERS]


def gate_plan(spec: SchemaSpec, bounds: dict[str, int]) -> dict[str, dict]:
    """Every noisy figure, its kind, its per-person sensitivity and how many figures it decides.
    A function of the spec and the bounds only (declared, or chosen under DP): public."""
    m = contrib.multiplicities(spec, bounds)
    plan: dict[str, dict] = {"holdout_people": {"kind": "holdout_people", "sensitivity": 1.0, "figures": 0}}
    for fk in modelled_fks(spec):
        plan[f"children_per_parent:{fk.column}"] = {
            "kind": "children_per_parent",
            "fk": fk,
            "sensitivity": float(children_sensitivity(spec, fk, m, bounds)),
            "figures": 1,
        }
    for fk in modelled_fks(spec):
        parents = trend_parent_columns(spec, fk.parent_table)
        if _link_side(spec, fk) or not parents:
            continue
        tables = len(parents) * (1 + len(trend_child_numbers(spec, fk.child_table)))
        plan[f"pair_trends:{fk.column}"] = {
            "kind": "pair_trends",
            "fk": fk,
            "sensitivity": float(m[fk.parent_table] * math.sqrt(tables)),
            "figures": 1,
        }
    plan["profile_exact_copies"] = {"kind": "profile_exact_copies", "sensitivity": "1/m", "figures": 1}
    plan["profile_close_copies"] = {
        "kind": "profile_close_copies",
        "sensitivity": f"sqrt({len(bf.CLOSE_CUTS)})/m",
        "figures": len(bf.CLOSE_CUTS),
    }
    weights = {name: RHO_WEIGHTS[p["kind"]] for name, p in plan.items()}
    total = sum(weights.values())
    for name, p in plan.items():
        p["weight"] = weights[name] / total
    return plan


# ---------------------------------------------------------------------- synthetic attribution


def attribute_synthetic(con, spec: SchemaSpec, relations: dict[str, str], schema: str) -> dict[str, str]:
    """Copies of the synthetic modelled tables with `__person`, by the rule the real side uses
    (`contribution`): a person row to itself, a child to its parent's person, an entity to its
    holder with the smallest key, a link row to its entity's person. Synthetic only: free."""
    own = ownership(spec)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
    out: dict[str, str] = {}

    def target(name: str) -> str:
        return f"{q(schema)}.{q(name)}"

    pk = spec.tables[spec.person].primary_key
    person_key = q(pk) if pk else "row_number() OVER ()"
    con.execute(
        f"CREATE OR REPLACE TABLE {target(spec.person)} AS "
        f"SELECT *, CAST({person_key} AS VARCHAR) AS {PERSON} FROM {relations[spec.person]}"
    )
    out[spec.person] = target(spec.person)
    for name in own.order[1:]:
        if own.link is not None and name == own.link.entity.parent_table:
            continue
        if own.link is not None and name == own.link.table:
            side, entity = own.link.side, own.link.entity
            side_pk = q(spec.tables[side.parent_table].primary_key)
            entity_pk = q(spec.tables[entity.parent_table].primary_key)
            con.execute(
                f"CREATE OR REPLACE TABLE {target(entity.parent_table)} AS "
                f"WITH owner AS (SELECT {q(entity.child_column)} AS e, min({q(side.child_column)}) AS s "
                f"FROM {relations[name]} GROUP BY 1) "
                f"SELECT x.*, sp.{PERSON} AS {PERSON} FROM {relations[entity.parent_table]} x "
                f"JOIN owner o ON x.{entity_pk} = o.e JOIN {out[side.parent_table]} sp ON sp.{side_pk} = o.s"
            )
            con.execute(
                f"CREATE OR REPLACE TABLE {target(name)} AS SELECT l.*, x.{PERSON} AS {PERSON} "
                f"FROM {relations[name]} l JOIN {target(entity.parent_table)} x "
                f"ON l.{q(entity.child_column)} = x.{entity_pk}"
            )
            out[name], out[entity.parent_table] = target(name), target(entity.parent_table)
            continue
        fk = own.owner_fk[name]
        parent_pk = q(spec.tables[fk.parent_table].primary_key)
        con.execute(
            f"CREATE OR REPLACE TABLE {target(name)} AS SELECT t.*, p.{PERSON} AS {PERSON} "
            f"FROM {relations[name]} t JOIN {out[fk.parent_table]} p "
            f"ON t.{q(fk.child_column)} = p.{parent_pk}"
        )
        out[name] = target(name)
    return out


# ---------------------------------------------------------------------- joined profiles


def profile_sql(spec: SchemaSpec, relations: dict[str, str]) -> str:
    """One row per person (`relations` carry `__person`): the person's model columns, then per
    modelled table the rows attributed to them (`n__<t>`), means of up to two numbers (rounded to
    6 decimals: equal rows give equal profiles whatever the summation order) and the most frequent
    value of up to two categories (ties: the smallest text). Depends on the person's rows only."""
    person = spec.person
    select = [f"p.{PERSON}"] + [f"p.{q(c)}" for c in model_columns(spec, person)]
    joins, ctes = [], []
    for i, table in enumerate(t for t in ownership(spec).order if t != person):
        columns = spec.tables[table].columns
        numbers = [c for c in model_columns(spec, table) if columns[c].type in ("integer", "float")]
        categories = [c for c in model_columns(spec, table) if columns[c].type not in NUMERIC]
        aggregates = [f"count(*) AS {q('n__' + table)}"] + [
            f"round(avg(CAST({q(c)} AS DOUBLE)), 6) AS {q(f'mean__{table}__{c}')}"
            for c in numbers[:PROFILE_NUMBERS]
        ]
        ctes.append(f"a{i} AS (SELECT {PERSON}, {', '.join(aggregates)} FROM {relations[table]} GROUP BY 1)")
        joins.append(f"LEFT JOIN a{i} ON a{i}.{PERSON} = p.{PERSON}")
        select.append(f"coalesce(a{i}.{q('n__' + table)}, 0) AS {q('n__' + table)}")
        select += [f"a{i}.{q(f'mean__{table}__{c}')}" for c in numbers[:PROFILE_NUMBERS]]
        for j, c in enumerate(categories[:PROFILE_CATEGORIES]):
            name = f"m{i}_{j}"
            ctes.append(
                f"{name} AS (SELECT {PERSON}, v FROM (SELECT {PERSON}, CAST({q(c)} AS VARCHAR) AS v, "
                f"count(*) AS k FROM {relations[table]} GROUP BY 1, 2) "
                f"QUALIFY row_number() OVER (PARTITION BY {PERSON} ORDER BY k DESC, v NULLS LAST) = 1)"
            )
            joins.append(f"LEFT JOIN {name} ON {name}.{PERSON} = p.{PERSON}")
            select.append(f"{name}.v AS {q(f'mode__{table}__{c}')}")
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    return f"{with_}SELECT {', '.join(select)} FROM {relations[person]} p {' '.join(joins)}"


def joined_profiles(con, spec: SchemaSpec, relations: dict[str, str]) -> pd.DataFrame:
    """Every person's joined profile as a frame (without the person column)."""
    return con.execute(profile_sql(spec, relations)).df().drop(columns=[PERSON])


# ---------------------------------------------------------------------- histograms


def _children_counts(con, relations: dict[str, str], fk: ForeignKey, pk: str) -> pd.DataFrame:
    """Per parent row: its number of children along `fk` (0 included)."""
    return con.execute(
        f"SELECT coalesce(c.n, 0) AS n FROM {relations[fk.parent_table]} p LEFT JOIN "
        f"(SELECT {q(fk.child_column)} AS r, count(*) AS n FROM {relations[fk.child_table]} GROUP BY 1) c "
        f"ON p.{q(pk)} = c.r"
    ).df()


def _bucket_index(counts: np.ndarray, k: int) -> np.ndarray:
    buckets = count_buckets(k)
    highs = np.array([b[1] for b in buckets])
    return np.searchsorted(highs, np.minimum(counts, k + 1), side="left")  # k + 1: the "over" bucket


def _children_histogram(con, relations, fk: ForeignKey, pk: str, k: int) -> np.ndarray:
    counts = _children_counts(con, relations, fk, pk)["n"].to_numpy()
    return np.bincount(_bucket_index(counts, k), minlength=len(count_buckets(k)) + 1).astype(float)


def _trend_frame(con, spec: SchemaSpec, relations: dict[str, str], fk: ForeignKey) -> pd.DataFrame:
    """Per parent row: its trend columns, its number of children and the mean of numeric children."""
    parents = trend_parent_columns(spec, fk.parent_table)
    numbers = trend_child_numbers(spec, fk.child_table)
    pk = q(spec.tables[fk.parent_table].primary_key)
    means = "".join(f", avg(CAST({q(c)} AS DOUBLE)) AS {q('mean_' + c)}" for c in numbers)
    picked = ", ".join([f"p.{q(c)}" for c in parents] + ["coalesce(c.n, 0) AS __n"])
    picked += "".join(f", c.{q('mean_' + c)}" for c in numbers)
    return con.execute(
        f"SELECT {picked} FROM {relations[fk.parent_table]} p LEFT JOIN (SELECT {q(fk.child_column)} AS r, "
        f"count(*) AS n{means} FROM {relations[fk.child_table]} GROUP BY 1) c ON p.{pk} = c.r"
    ).df()


def _public_values(spec: SchemaSpec, table: str, column: str, synthetic: pd.Series) -> list[str]:
    """A parent column's public cells: declared categories, booleans, or the synthetic values."""
    declared = spec.tables[table].columns[column]
    if declared.categories is not None:
        return list(declared.categories)
    if declared.type == "boolean":
        return ["False", "True"]
    return sorted(synthetic.dropna().astype(str).unique().tolist())[:MAX_PUBLIC_VALUES]


def _value_codes(values: pd.Series, public: list[str]) -> np.ndarray:
    """Cell of each value: its public index, 'other' (len), or NULL (len + 1)."""
    text = values.map(lambda v: None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v))
    index = {v: i for i, v in enumerate(public)}
    return np.array([len(public) + 1 if t is None else index.get(t, len(public)) for t in text])


def _number_edges(spec: SchemaSpec, table: str, column: str, synthetic: pd.Series) -> np.ndarray:
    """Public bin edges of a child number's per-parent mean: the spec's bounds, else the synthetic
    means' quantiles (a DP output)."""
    bounds = spec.tables[table].columns[column].bounds
    if bounds is not None and not hasattr(bounds[0], "year"):
        return np.linspace(float(bounds[0]), float(bounds[1]), TREND_BINS + 1)[1:-1]
    finite = synthetic.dropna().to_numpy(dtype=float)
    if finite.size == 0:
        return np.array([0.0])
    return np.unique(np.quantile(finite, np.linspace(0, 1, TREND_BINS + 1)[1:-1]))


def _number_codes(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    codes = np.searchsorted(edges, np.nan_to_num(numbers), side="left")
    return np.where(np.isnan(numbers), edges.size + 1, codes)


def _trend_tables(spec: SchemaSpec, fk: ForeignKey, k: int, real: pd.DataFrame, syn: pd.DataFrame):
    """(real cells, synthetic cells) per joint table parent column x aggregate; bins are public."""
    out = []
    for column in trend_parent_columns(spec, fk.parent_table):
        public = _public_values(spec, fk.parent_table, column, syn[column])
        rows = len(public) + 2
        codes = [_value_codes(frame[column], public) for frame in (real, syn)]
        for aggregate in ["count", *trend_child_numbers(spec, fk.child_table)]:
            if aggregate == "count":
                cols = len(count_buckets(k)) + 1
                agg = [_bucket_index(f["__n"].to_numpy(), k) for f in (real, syn)]
            else:
                edges = _number_edges(spec, fk.child_table, aggregate, syn["mean_" + aggregate])
                cols = edges.size + 2
                agg = [_number_codes(f["mean_" + aggregate], edges) for f in (real, syn)]
            out.append(
                tuple(
                    np.bincount(c * cols + a, minlength=rows * cols).astype(float)
                    for c, a in zip(codes, agg, strict=True)
                )
            )
    return out


def _noisy_tvd(
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


# ---------------------------------------------------------------------- the gate


def _verdict(name: str, noisy: NoisyFigure, threshold: float, what: str, family=None) -> Verdict:
    """A public verdict; `family`: (alpha, figures) the figure's z was shared over (Bonferroni)."""
    if family is not None:
        noisy = replace(noisy, false_block_rate=family[0], family_figures=family[1])
    return Verdict(
        name, float(noisy.value), float(threshold), bool(noisy.passed), float(noisy.rho),
        float(noisy.sensitivity), float(noisy.sigma), what, noisy,
    )  # fmt: skip


def orphan_verdict(con, spec: SchemaSpec, synthetic: dict[str, str]) -> Verdict:
    """Exact, free: reads the synthetic tables and the spec only (post-processing of DP outputs)."""
    from synth_platform.lib.relational.fidelity import orphans

    found = sum(orphans(con, spec, synthetic).values())
    return Verdict(
        "orphans", float(found), 0.0, found == 0, description="synthetic child keys with no parent"
    )


def evaluate_schema(
    con,
    spec: SchemaSpec,
    train: dict[str, str],
    holdout: dict[str, str],
    synthetic: dict[str, str],
    bounds: dict[str, int],
    noise: GateNoise,
    checks: RelationalChecks | None = None,
    scratch: str = "relational_gate",
) -> RelationalGate:
    """Every cross-table verdict. `train`/`holdout`: the bounded, split real tables
    (`person_split.split_by_person`, with `__person`); `synthetic`: the sample's tables;
    `bounds`: the bounds used (public); `noise`: the evaluation's keyed noise and the gate's rho,
    charged whole (`rho_charged`) before this reads real data."""
    checks = checks or RelationalChecks()
    plan = gate_plan(spec, bounds)
    rho = {name: noise.rho * p["weight"] for name, p in plan.items()}
    figures = sum(p["figures"] for p in plan.values())
    z = pd_.family_z(checks.false_block_rate, figures)
    family = (checks.false_block_rate, figures)
    verdicts = [orphan_verdict(con, spec, synthetic)]

    for name, p in plan.items():
        if p["kind"] not in ("children_per_parent", "pair_trends"):
            continue
        fk = p["fk"]
        k = children_bound(spec, fk, bounds)
        pk = spec.tables[fk.parent_table].primary_key
        if p["kind"] == "children_per_parent":
            tables = [tuple(_children_histogram(con, rel, fk, pk, k) for rel in (train, synthetic))]
            threshold, what = checks.max_children_tvd, "TVD of children per parent (noisy real side)"
        else:
            frames = [_trend_frame(con, spec, rel, fk) for rel in (train, synthetic)]
            tables = _trend_tables(spec, fk, k, *frames)
            threshold, what = checks.max_pair_trend_tvd, "mean TVD of parent column x child aggregate"
        noisy = _noisy_tvd(noise, name, tables, p["sensitivity"], rho[name], threshold, z)
        verdicts.append(_verdict(name, noisy, threshold, what, family))

    people = [
        con.execute(f"SELECT count(*) FROM {side[spec.person]}").fetchone()[0] for side in (train, holdout)
    ]
    n_t, n_h, sigma_n = pd_.noisy_counts(noise, int(people[0]), int(people[1]), rho["holdout_people"])
    enough = all(pd_.passes_if_surely_at_least(n, sigma_n, checks.min_holdout_people) for n in (n_t, n_h))
    size = NoisyFigure(n_h, sigma_n, 1.0, rho["holdout_people"], sigma_n, enough, {"noisy_train_people": n_t})
    verdicts.append(_verdict("holdout_people", size, checks.min_holdout_people, "noisy holdout people"))

    verdicts += _profile_verdicts(
        con, spec, train, holdout, synthetic, noise, rho, checks, z, (n_t, n_h, sigma_n), scratch, family
    )
    return RelationalGate(verdicts, float(sum(rho.values())), plan)


def _profile_verdicts(con, spec, train, holdout, synthetic, noise, rho, checks, z, counts, scratch, family):
    """Exact and close copies of joined profiles, train vs holdout, on keyed samples of public size."""
    n_t, n_h, sigma_n = counts
    attributed = attribute_synthetic(con, spec, synthetic, scratch)
    frames = [joined_profiles(con, spec, rel) for rel in (train, holdout, attributed)]
    columns = list(frames[2].columns)
    numeric = bf.numeric_columns(frames[2], columns)  # from the warehouse types: public
    key = pd_.sample_key(noise.key, "relational-profiles")
    m_t = pd_.public_size(n_t, sigma_n, bf.DISTANCE_PEOPLE)
    m_h = pd_.public_size(n_h, sigma_n, bf.DISTANCE_PEOPLE)
    people_t, people_h = bf.keyed_sample(frames[0], m_t, key), bf.keyed_sample(frames[1], m_h, key)
    hits = (
        bf.exact_copy_hits(people_t, frames[2], columns),
        bf.exact_copy_hits(people_h, frames[2], columns),
    )
    exact_threshold = checks.max_profile_exact_copy_excess
    exact = pd_.noisy_share_difference(
        noise,
        "profile_exact_copies",
        hits[0],
        m_t,
        hits[1],
        m_h,
        rho["profile_exact_copies"],
        exact_threshold,
        z,
    )
    close_t, close_h = bf.close_copy_hits(people_t, people_h, frames[2], columns, numeric)
    close_threshold = checks.max_profile_close_copy_excess
    close = pd_.noisy_share_differences(
        noise,
        "profile_close_copies",
        close_t,
        m_t,
        close_h,
        m_h,
        rho["profile_close_copies"],
        close_threshold,
        z,
    )
    what = "excess share of people whose joined profile has an exact copy"
    return [
        _verdict("profile_exact_copies", exact, exact_threshold, what, family),
        _verdict(
            "profile_close_copies", close, close_threshold, "largest excess, close joined profile", family
        ),
    ]
