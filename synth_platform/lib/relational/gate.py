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
* ``table_quality:<table>`` -- per modelled table, 1 - the mean TVD of its model columns'
  marginals, real train side noised (`figures/marginals.py`: public cells, numbers on public
  bins); blocks when the TVD is surely above 1 - `min_table_quality`.
* ``identifier_leaks:<table>`` -- (when the raw tables are given) per table with refilled
  identifier columns, the real rows whose identifier value a synthetic refilled cell of the same
  column holds (`figures/leaks.py`); must be 0, blocks when surely above 0.
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
  in one cell is the worst case); over P joint tables released together: Δ = m(p) sqrt(P). The
  real side under the link's entity is one copy per holding (`contribution`), so children per
  *side* row are a person's own holdings: Δ = m(side);
* holders per entity (and its pair trends), counted per original entity: a person adds one
  holder to at most m(link) entities, or adds the entity: Δ = sqrt(2) m(link) (times sqrt(P));
* a table's column marginals (C histograms, each of a person's m(t) rows in one cell of each):
  Δ = m(t) sqrt(C);
* a leak count: Δ = m(t) (`figures/leaks.py`);
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

The figures live in `lib/relational/figures/` (plan, attribution, histograms, profiles); this
module holds the verdicts and the decision, and re-exports the figures' public names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from synth_platform.lib.gate import private_decision as pd_
from synth_platform.lib.gate.private_decision import GateNoise, NoisyFigure
from synth_platform.lib.relational.figures import leaks
from synth_platform.lib.relational.figures.attribution import attribute_synthetic
from synth_platform.lib.relational.figures.histograms import (
    MAX_PUBLIC_VALUES,
    children_histogram,
    noisy_tvd,
    trend_tables,
)
from synth_platform.lib.relational.figures.marginals import marginal_tables
from synth_platform.lib.relational.figures.plan import (
    RHO_WEIGHTS,
    TREND_BINS,
    TREND_NUMBERS,
    TREND_PARENT_COLUMNS,
    children_bound,
    children_sensitivity,
    gate_plan,
    holders_fk,
    modelled_fks,
    trend_child_numbers,
    trend_parent_columns,
)
from synth_platform.lib.relational.figures.profiles import (
    NUMERIC,
    PROFILE_CATEGORIES,
    PROFILE_NUMBERS,
    joined_profiles,
    profile_figures,
    profile_sql,
)
from synth_platform.lib.relational.schema_spec import SchemaSpec

__all__ = [
    "MAX_PUBLIC_VALUES",
    "NUMERIC",
    "PROFILE_CATEGORIES",
    "PROFILE_NUMBERS",
    "RHO_WEIGHTS",
    "TREND_BINS",
    "TREND_NUMBERS",
    "TREND_PARENT_COLUMNS",
    "RelationalChecks",
    "RelationalGate",
    "SchemaDecision",
    "Verdict",
    "attribute_synthetic",
    "children_bound",
    "children_sensitivity",
    "evaluate_schema",
    "gate_plan",
    "joined_profiles",
    "modelled_fks",
    "orphan_verdict",
    "profile_sql",
    "schema_verdict",
    "trend_child_numbers",
    "trend_parent_columns",
]


@dataclass(frozen=True)
class RelationalChecks:
    """Thresholds of the gate across tables (defaults pass an honest generator at a generous
    budget and block a copier of whole people; see `synth_platform_tests/test_relational_gate.py`)."""

    max_children_tvd: float = 0.25
    max_pair_trend_tvd: float = 0.3
    max_profile_exact_copy_excess: float = 0.02
    max_profile_close_copy_excess: float = 0.02
    min_holdout_people: int = 200
    #: per modelled table: 1 - mean TVD of its model columns' marginals (noisy real side)
    min_table_quality: float = 0.7
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


def _table_quality(con, spec, p, train, synthetic, noise, rho, checks, z, family) -> Verdict:
    """`table_quality:<t>`: 1 - mean marginal TVD of table t's model columns, real side noised at
    m(t) sqrt(C); passes unless the TVD (less the noise's inflation) is surely above
    1 - `min_table_quality` (`figures/marginals.py`)."""
    name, table = f"table_quality:{p['table']}", p["table"]
    tables = marginal_tables(con, spec, table, train[table], synthetic[table])
    tvd = noisy_tvd(noise, name, tables, p["sensitivity"], rho, 1.0 - checks.min_table_quality, z)
    quality = replace(tvd, value=1.0 - tvd.value)
    what = "1 - mean TVD of the table's column marginals (noisy real side)"
    return _verdict(name, quality, checks.min_table_quality, what, family)


def _identifier_leaks(con, spec, plan, raw, synthetic, bounds, noise, rho, z, family, scratch) -> list:
    """`identifier_leaks:<t>`: real rows of t whose identifier value the synthetic refilled column
    holds, noised at the table's per-person sensitivity; blocks when surely above 0
    (`figures/leaks.py`). The bounded raw copy (real identifiers) is dropped before returning."""
    wanted = {name: p for name, p in plan.items() if p["kind"] == "identifier_leaks"}
    if not wanted:
        return []
    schema = f"{scratch}__raw_bounded"
    out = []
    try:
        bounded = leaks.bounded_raw(con, spec, raw, bounds, schema)
        for name, p in wanted.items():
            count = leaks.leak_count(con, bounded[p["table"]], synthetic[p["table"]], p["columns"])
            sigma = pd_.gaussian_sigma(p["sensitivity"], rho[name])
            value = float(count + noise.gaussian(name, sigma))
            passed = pd_.passes_unless_surely_above(value, sigma, 0.0, z)
            noisy = NoisyFigure(value, sigma, p["sensitivity"], rho[name], sigma, passed, {}, z)
            what = "real rows whose identifier a synthetic refilled cell holds (noisy)"
            out.append(_verdict(name, noisy, 0.0, what, family))
    finally:
        con.execute(f"DROP SCHEMA IF EXISTS {leaks.q(schema)} CASCADE")
    return out


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
    raw: dict[str, str] | None = None,
) -> RelationalGate:
    """Every cross-table verdict. `train`/`holdout`: the bounded, split real tables
    (`person_split.split_by_person`, with `__person`); `synthetic`: the sample's tables;
    `bounds`: the bounds used (public); `noise`: the evaluation's keyed noise and the gate's rho,
    charged whole (`rho_charged`) before this reads real data. `raw`: the raw tables (identifiers
    kept); given, each table with refilled identifiers gets its `identifier_leaks` figure."""
    checks = checks or RelationalChecks()
    plan = gate_plan(spec, bounds, leaks=raw is not None)
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
            holders = holders_fk(spec, fk)
            tables = [tuple(children_histogram(con, rel, fk, pk, k, holders) for rel in (train, synthetic))]
            threshold, what = checks.max_children_tvd, "TVD of children per parent (noisy real side)"
        else:
            tables = trend_tables(con, spec, fk, k, train, synthetic)
            threshold, what = checks.max_pair_trend_tvd, "mean TVD of parent column x child aggregate"
        noisy = noisy_tvd(noise, name, tables, p["sensitivity"], rho[name], threshold, z)
        verdicts.append(_verdict(name, noisy, threshold, what, family))

    for name, p in plan.items():
        if p["kind"] == "table_quality":
            verdicts.append(
                _table_quality(con, spec, p, train, synthetic, noise, rho[name], checks, z, family)
            )
    if raw is not None:
        verdicts += _identifier_leaks(con, spec, plan, raw, synthetic, bounds, noise, rho, z, family, scratch)

    people = [
        con.execute(f"SELECT count(*) FROM {side[spec.person]}").fetchone()[0] for side in (train, holdout)
    ]
    n_t, n_h, sigma_n = pd_.noisy_counts(noise, int(people[0]), int(people[1]), rho["holdout_people"])
    enough = all(pd_.passes_if_surely_at_least(n, sigma_n, checks.min_holdout_people) for n in (n_t, n_h))
    size = NoisyFigure(n_h, sigma_n, 1.0, rho["holdout_people"], sigma_n, enough, {"noisy_train_people": n_t})
    verdicts.append(_verdict("holdout_people", size, checks.min_holdout_people, "noisy holdout people"))

    exact, close = profile_figures(
        con, spec, train, holdout, synthetic, noise, rho, checks, z, (n_t, n_h, sigma_n), scratch
    )
    what = "excess share of people whose joined profile has an exact copy"
    verdicts.append(
        _verdict("profile_exact_copies", exact, checks.max_profile_exact_copy_excess, what, family)
    )
    what = "largest excess, close joined profile"
    verdicts.append(
        _verdict("profile_close_copies", close, checks.max_profile_close_copy_excess, what, family)
    )
    return RelationalGate(verdicts, float(sum(rho.values())), plan)
