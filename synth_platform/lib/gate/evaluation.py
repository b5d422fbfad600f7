"""The release gate: every figure a release decision rests on, computed in one place.

The synthetic table is brought back into the masked (model) space — generalised
columns generalised again — so that it is compared with the training data like for
like. Each check has a figure, a threshold from the spec, and a verdict.

Checks: the GX suite, the SDMetrics quality score, exact copies, one check per privacy
attack of `lib/gate/attacks/` (close copies, near copies, membership inference, singling out,
linkability, attribute inference, unique people — each with a 95 % interval, blocking only
when the interval lies above its threshold, and blocking when there is too little data to
judge), and identifier leaks. The attacks replaced the old distance-to-closest-record train
share, which passed tables of planted real people up to 100 % of the rows. `evaluate` is
the one function both the gate asset and `synth-platform check` call.

A private decision: the GX suite is public (built from warehouse types, declared domains and
the plan, run on the synthetic table). With a `GateNoise` (the gate asset, after its charge),
every real-data check decides on a noisy bounded figure (`private_figures`: `lib/bounded_figures`
for the figures, `lib/private_decision` for the noise, the rho split and the rule); its exact
figure, interval and verdict stay on the outcome for the restricted evidence pack, and
`GateReport.figures()` — what the assessment and the ledger store — holds the noisy ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from synth_platform.lib.deidentify.masking import RARE_CATEGORY, ColumnTreatment, generalize
from synth_platform.lib.gate import bounded_figures, privacy, private_decision, quality
from synth_platform.lib.gate.attacks import ATTACKS, AttackConfig, AttackResult, run_suite
from synth_platform.lib.gate.attacks.suite import RELATIVE_ATTACKS
from synth_platform.lib.gate.private_decision import GateNoise, NoisyFigure
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.synthesize.synthesis import sdv_metadata

FORMAT_PATTERNS = {
    "email": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
    "ssn": r"^\d{3}-\d{2}-\d{4}$",
    "zip_code": r"^\d{5}$",
    "phone": r"^[0-9+().\-x ]{7,}$",
}


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    figure: float
    threshold: float
    description: str
    details: dict = field(default_factory=dict)
    #: 95 % interval of the figure, for the privacy attacks (None for checks without one)
    ci: tuple[float, float] | None = None
    #: one line a person understands: what was measured and why it passed or blocked
    verdict: str = ""
    #: under a private gate, the released (noisy) figure of a real-data check, which decides;
    #: `figure`, `ci` and `details` then stay exact, for the restricted evidence pack only
    noisy: NoisyFigure | None = None
    #: computed from public inputs only (the synthetic table, spec, declared domains, plan): free
    public: bool = False

    def as_dict(self) -> dict:
        """JSON-safe figures that may leave the governed side: under a private gate a real-data
        check shows its noisy figure only (a figure that could not be computed is None, never NaN)."""
        if self.noisy is not None:
            out = {
                "figure": _json_number(self.noisy.value),
                "threshold": self.threshold,
                "passed": self.passed,
                "private": True,
                **self.noisy.as_dict(),
            }
            if self.verdict:
                out["verdict"] = self.verdict
            return out
        return self.exact_dict()

    def exact_dict(self) -> dict:
        """The exact figure, interval and verdict (restricted: the evidence pack, an operator)."""
        out = {"figure": _json_number(self.figure), "threshold": self.threshold, "passed": self.passed}
        if self.ci is not None:
            out["ci_low"], out["ci_high"] = _json_number(self.ci[0]), _json_number(self.ci[1])
        if self.verdict:
            out["verdict"] = self.verdict
        if self.noisy is not None:
            out["exact_passed"] = self.details.get("exact_passed")
            out["exact_verdict"] = self.details.get("exact_verdict")
            out.update(self.noisy.as_dict())
        return out


def _json_number(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class GateReport:
    outcomes: list[CheckOutcome]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def failed_checks(self) -> list[str]:
        return [o.name for o in self.outcomes if not o.passed]

    def figure(self, name: str) -> float | None:
        return next((o.figure for o in self.outcomes if o.name == name), None)

    def figures(self) -> dict:
        """Every check's public figure, threshold and verdict, JSON-safe: under a private gate the
        noisy figures of the real-data checks (with sigma, sensitivity, rho), exact ones otherwise.
        This is what the assessment and the ledger's decision row store."""
        return {o.name: o.as_dict() for o in self.outcomes}

    def exact_figures(self) -> dict:
        """Every check's exact figure, interval and verdict: restricted (evidence pack)."""
        return {o.name: o.exact_dict() for o in self.outcomes}

    @property
    def private(self) -> bool:
        """Was the decision taken from noisy figures (a charged, private gate)?"""
        return any(o.noisy is not None for o in self.outcomes)

    def decision_rule(self) -> dict | None:
        """How sure a noisy check had to be to block (public): the spec's family-wise false-block
        rate, the figures it is shared over and the z each was decided at; None when no noisy
        figure decided (an exact report, or a gate refused before it read data)."""
        for o in self.outcomes:
            if o.noisy is not None and o.noisy.false_block_rate is not None:
                return {
                    "false_block_rate": o.noisy.false_block_rate,
                    "figures": o.noisy.family_figures,
                    "z": o.noisy.z,
                    "z_minimum": private_decision.Z,
                }
        return None


#: Above this many categories, SDMetrics' pair trends on an evaluation sample measure sampling noise
#: (a ZIP3 column has ~900 categories): such columns are left out of the score, and said so.
MAX_SCORED_CATEGORIES = 100


def _high_cardinality(values: pd.Series) -> bool:
    categorical = values.dtype == object or str(values.dtype) in ("string", "category")
    return categorical and values.nunique() > MAX_SCORED_CATEGORIES


def scored_columns(train: pd.DataFrame, model_columns: list[str]) -> list[str]:
    """The model columns the quality score covers: all but high-cardinality categoricals."""
    return [c for c in model_columns if not _high_cardinality(train[c])]


def to_model_space(synthetic: pd.DataFrame, plan: list[ColumnTreatment], like: pd.DataFrame) -> pd.DataFrame:
    """The model's columns of a source-shaped frame, generalised again and typed like `like`."""
    out = {}
    for treatment in plan:
        if not treatment.reaches_model:
            continue
        values = synthetic[treatment.column]
        if treatment.action == "generalize" and treatment.generalize:
            values = generalize(values, treatment.generalize)
        target = like[treatment.column].dtype
        try:
            out[treatment.column] = values.astype(target)
        except (TypeError, ValueError):
            out[treatment.column] = values
    return pd.DataFrame(out)


def withhold_rare_generalized(frame: pd.DataFrame, plan: list[ColumnTreatment]) -> pd.DataFrame:
    """A generalised value suppressed as rare (a ZIP3 of few people) is published as missing: it
    has no full-format form. Real data is viewed the same way before it is compared."""
    out = frame.copy()
    for treatment in plan:
        if (
            treatment.action == "generalize"
            and treatment.column in out
            and out[treatment.column].dtype == object
        ):
            out[treatment.column] = out[treatment.column].mask(out[treatment.column] == RARE_CATEGORY)
    return out


def format_patterns(plan: list[ColumnTreatment]) -> dict[str, str]:
    """Regexes that refilled / restored identifier columns must match."""
    patterns = {}
    for treatment in plan:
        kind = treatment.detected_type
        if treatment.generalize == "zip3":
            patterns[treatment.column] = FORMAT_PATTERNS["zip_code"]
        elif not treatment.reaches_model and treatment.format is not None:
            # the approved plan's display format: the refill's own pattern for it (lib.deidentify.refill)
            from synth_platform.lib.deidentify.refill import format_regex

            pattern = format_regex(kind, treatment.format)
            if pattern is not None:
                patterns[treatment.column] = pattern
        elif not treatment.reaches_model and kind in FORMAT_PATTERNS:
            patterns[treatment.column] = FORMAT_PATTERNS[kind]
    return patterns


def published_domains(spec: DatasetSpec, plan: list[ColumnTreatment]) -> dict[str, dict]:
    """The spec's declared (public) domains in model space: values a synthesizer may rightly draw
    even when a small training split happens to lack them.

    Declared dates become year bounds on a column generalised to its year, and a datetime window on
    a date or timestamp column: from the first day's start to the last day's end, since a declared
    date covers its whole day (`dp_mst` draws days, or epoch seconds, inside it)."""
    from synth_platform.lib.synthesize.dp_mst import declared_domains

    domains = declared_domains(spec, plan)
    for treatment in plan:
        dates = domains.get(treatment.column, {}).pop("date_bounds", None)
        if dates is not None and treatment.generalize == "year":
            domains[treatment.column]["bounds"] = (dates[0].year, dates[1].year)
        elif dates is not None and treatment.generalize is None:
            low, high = (pd.Timestamp(d).normalize() for d in dates)
            end = high + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
            domains[treatment.column]["bounds"] = (low.to_pydatetime(), end.to_pydatetime())
    return domains


HOLDOUT_CHECK = "holdout_size"


# --- What the gate reads: bounded samples in SQL, whole-table figures in SQL ----------------------

#: rows of each of train, holdout and synthetic the gate's pandas checks read at most. Every check
#: already works on a bounded sample of people (quality: `checks.evaluation_rows`; the attacks'
#: own sizes; the private figures' m, capped at this): a larger table adds SQL scans, not pandas work.
GATE_SAMPLE_ROWS = 50_000


@dataclass(frozen=True)
class WholeTables:
    """Figures over the whole warehouse tables (SQL), beside the bounded samples the checks read:
    sizes, exact copies and identifier leaks must stay exact (one copied or leaked row in millions
    is what they look for), so no sample decides them."""

    rows: dict[str, int]  # train, holdout, synthetic: COUNT(*)
    sample_rows: dict[str, int]  # rows of each sample the pandas checks read
    copies: privacy.ExactCopyResult
    leaks: privacy.LeakResult
    #: source people with an identifying identifier in the synthetic table (the private figure)
    leaking_people: int
    #: per row of the training sample (its index): an exact copy is somewhere in the synthetic table
    copied: pd.Series


def sample_query(source: str, columns: list[str], rows: int, hash_key: str) -> str:
    """The `rows` rows with the smallest keyed hash of their content (DuckDB's `hash`, ties broken
    by the content): a fixed function of the table and the key, so re-running the gate reads the
    same rows, and one person added or removed changes the sample by at most one row in and one
    row out (as `bounded_figures.keyed_sample`, which then picks each check's m people inside
    it: the composition keeps that bound)."""
    names = ", ".join(privacy._ident(c) for c in columns)
    literal = "'" + hash_key.replace("'", "''") + "'"
    return f"SELECT {names} FROM {source} ORDER BY hash({literal}, {names}), {names} LIMIT {int(rows)}"


def _sample(con, schema: str, table: str, rows: int, hash_key: str) -> tuple[pd.DataFrame, int]:
    """(sample, rows of the whole table). A table of at most `rows` rows is read whole in its
    stored order: the keyed sample would hold the same rows, and the order keeps every seeded
    check's draws (and so its figures) what they were when the gate read whole tables."""
    source = f"{privacy._ident(schema)}.{privacy._ident(table)}"
    total = int(con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0])
    if total <= rows:
        return con.execute(f"SELECT * FROM {source}").df(), total
    columns = list(privacy.table_columns(con, schema, table))
    return con.execute(sample_query(source, columns, rows, hash_key)).df(), total


def _copied_flags(con, plan, synthetic: tuple[str, str], train: tuple[str, str], sample: pd.DataFrame):
    """Per row of the training sample, whether an exact copy (model columns, NULL-safe, model space)
    is anywhere in the whole synthetic table: the private exact-copy figure's indicator."""
    n = sum(1 for t in plan if t.reaches_model)
    if sample.empty or n == 0:
        return pd.Series(False, index=sample.index)
    like = privacy.table_columns(con, *train)
    people_frame = sample.reset_index(drop=True)
    people_frame["__i"] = np.arange(len(people_frame))  # positions, whatever order DuckDB scans in
    con.register("__gate_people", people_frame)
    try:
        types = {c: like.get(c, "VARCHAR") for c in sample.columns}
        select = ", ".join(privacy.model_space_select(plan, like, types, real=True))
        people = f"(SELECT __i, {select} FROM __gate_people)"
        syn = privacy._model_space_relation(con, plan, *synthetic, like, real=False)
        hits = con.execute(
            f"SELECT a.__i FROM {people} a SEMI JOIN (SELECT DISTINCT * FROM {syn}) b "
            f"ON {privacy._null_safe_on(n)}"
        ).fetchall()
    finally:
        con.unregister("__gate_people")
    flags = np.zeros(len(sample), dtype=bool)
    flags[[h[0] for h in hits]] = True
    return pd.Series(flags, index=sample.index)


def _reserved_spaces(spec: DatasetSpec, plan: list[ColumnTreatment]) -> privacy.ReservedSpaces:
    """The plan's declared reserved spaces for the leak check (as the SQL scan derives them)."""
    return privacy.reserved_spaces(plan, {c: col.type for c, col in spec.columns.items()})


def read_gate_inputs(
    con,
    plan: list[ColumnTreatment],
    tables: dict[str, tuple[str, str]],
    identifier_columns: list[str],
    hash_key: str,
    sample_rows: int = GATE_SAMPLE_ROWS,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, WholeTables]:
    """(synthetic, train, holdout samples, whole-table figures) for `evaluate`, read from the
    warehouse: `tables` maps synthetic / train / holdout / raw to (schema, table). Tables of at
    most `sample_rows` rows are read whole, in stored order: the gate then sees exactly what it
    saw when it read whole tables."""

    frames, rows = {}, {}
    for name in ("synthetic", "train", "holdout"):
        frames[name], rows[name] = _sample(con, *tables[name], sample_rows, hash_key)
    copies = privacy.exact_copies_sql(con, plan, tables["synthetic"], tables["train"], tables["holdout"])
    if identifier_columns:
        candidates = privacy.leak_candidates(
            con, tables["synthetic"], tables["raw"], identifier_columns, plan
        )
        leaks = privacy.identifier_leaks_of_candidates(candidates, list(frames["synthetic"].columns))
        leaking = privacy.leaking_people_sql(con, candidates, tables["raw"])
    else:
        leaks = privacy.identifier_leaks(frames["synthetic"].iloc[:0], [])
        leaking = 0
    copied = _copied_flags(con, plan, tables["synthetic"], tables["train"], frames["train"])
    whole = WholeTables(
        rows=rows,
        sample_rows={name: len(frame) for name, frame in frames.items()},
        copies=copies,
        leaks=leaks,
        leaking_people=leaking,
        copied=copied,
    )
    return frames["synthetic"], frames["train"], frames["holdout"], whole


def public_expectations(
    spec: DatasetSpec,
    plan: list[ColumnTreatment],
    schema: pd.DataFrame,
    synthetic: pd.DataFrame,
    synthetic_model: pd.DataFrame,
) -> CheckOutcome:
    """The GX suite, built from public inputs only (warehouse types, declared domains, the plan's
    formats) and run on the synthetic table: a public check, exact and free."""
    published = published_domains(spec, plan)
    formats = format_patterns(plan)
    suite = quality.build_public_suite(
        schema.head(0),
        formats=formats,
        bounds={c: d["bounds"] for c, d in published.items() if "bounds" in d},
        categories={c: d["categories"] for c, d in published.items() if "categories" in d},
        extra_categories=[RARE_CATEGORY],
    )
    suite_frame = synthetic_model.copy()
    for column in formats:
        suite_frame[column] = synthetic[column].astype("string")
    suite_result = quality.run_suite(suite, suite_frame)
    failed = [f"{o.expectation}({o.column})" for o in suite_result.outcomes if not o.success]
    return CheckOutcome(
        "schema_expectations",
        suite_result.success,
        float(suite_result.failed),
        0.0,
        f"{suite_result.evaluated - suite_result.failed} of {suite_result.evaluated} expectations built "
        "from public inputs (warehouse types, declared domains, identifier formats) hold on the synthetic "
        "table",
        {"failed_expectations": failed[:20]},
        public=True,
    )


def evaluate(
    spec: DatasetSpec,
    plan: list[ColumnTreatment],
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    raw_identifiers: list[pd.Series],
    noise: GateNoise | None = None,
    trained_on: str = "train",
    whole: WholeTables | None = None,
) -> GateReport:
    """Every check of the gate. Without `noise` the decision is taken on the exact figures
    (restricted: an operator's view, `synth-platform check`); with it (the gate asset, after the
    charge) every real-data check decides on its noisy bounded figure (`lib/private_decision`).

    `trained_on`: what the generator saw. "train" (the platform's models; a generator fitted on
    `synth-platform export-train`): every check applies. "all" (the whole source, or unknown):
    the checks that use the holdout as unseen people (`HOLDOUT_RELATIVE`) are shown but do not
    decide; absolute exposure, exact copies, identifier leaks and quality do.

    `whole` (the gate asset, `read_gate_inputs`): the frames are bounded samples of the warehouse
    tables and the sizes, exact copies and identifier leaks come from SQL over the whole tables;
    without it the frames are the whole tables (`synth-platform check`, tests).
    """
    if trained_on not in TRAINED_ON:
        raise ValueError(f"trained_on must be one of {', '.join(TRAINED_ON)}, not {trained_on!r}")
    if noise is not None and trained_on != "train":
        raise ValueError("the private gate judges the platform's own models, trained on the training split")
    checks = spec.checks
    model_columns = [t.column for t in plan if t.reaches_model]
    train = withhold_rare_generalized(train[model_columns], plan)
    holdout = withhold_rare_generalized(holdout[model_columns], plan)
    synthetic_model = to_model_space(synthetic, plan, train)

    gx = public_expectations(spec, plan, train, synthetic, synthetic_model)

    rows = (
        whole.rows
        if whole is not None
        else {"train": len(train), "holdout": len(holdout), "synthetic": len(synthetic)}
    )
    sizes_ok = (
        rows["holdout"] >= checks.min_holdout_rows
        and rows["train"] >= checks.min_evaluation_rows
        and rows["synthetic"] >= checks.min_evaluation_rows
    )
    size_check = CheckOutcome(
        HOLDOUT_CHECK,
        sizes_ok,
        float(rows["holdout"]),
        float(checks.min_holdout_rows),
        f"rows of the holdout (at least min_holdout_rows) and of train and synthetic (at least "
        f"min_evaluation_rows {checks.min_evaluation_rows}): no evidence is no pass",
        {"train_rows": rows["train"], "synthetic_rows": rows["synthetic"]},
    )

    scored = scored_columns(train, model_columns)
    score, properties = quality.quality_score(
        train[scored],
        synthetic_model[scored],
        sdv_metadata(train[scored]),
        max_rows=checks.evaluation_rows,
        seed=checks.seed,
    )
    quality_check = CheckOutcome(
        "quality_score",
        score >= checks.min_quality_score,
        float(score),
        checks.min_quality_score,
        "SDMetrics quality score (column shapes and pair trends) of synthetic vs training data",
        {
            **{k: round(float(v), 4) for k, v in properties.items()},
            "not_scored_high_cardinality": [c for c in model_columns if c not in scored],
        },
    )

    copies = (
        whole.copies
        if whole is not None
        else privacy.exact_copies(synthetic_model, train, holdout, model_columns)
    )
    copy_check = CheckOutcome(
        "exact_copies",
        copies.share <= checks.max_exact_copy_share,
        copies.share,
        checks.max_exact_copy_share,
        f"{copies.copies} synthetic rows are exact copies of training rows",
        {"copies": copies.copies, "holdout_baseline_share": round(copies.holdout_baseline_share, 6)},
    )

    attack_checks = privacy_attacks(checks, plan, synthetic_model, train, holdout)

    leaks = (
        whole.leaks
        if whole is not None
        else privacy.identifier_leaks(synthetic, raw_identifiers, _reserved_spaces(spec, plan))
    )
    leak_check = CheckOutcome(
        "no_identifier_leak",
        leaks.leaked_cells == 0,
        float(leaks.leaked_cells),
        0.0,
        "cells of the synthetic table equal to an identifying raw direct identifier of the source "
        "(chance coincidences with common names are counted apart, not blocking)",
        {
            "columns_with_leaks": leaks.columns_with_leaks,
            "chance_coincidences": leaks.coincidences,
            "columns_with_coincidences": leaks.columns_with_coincidences,
            "rule": leaks.rule,
        },
    )
    outcomes = [gx, size_check, quality_check, copy_check, *attack_checks, leak_check]
    if spec.utility.targets:  # TSTR (H6 block below)
        outcomes.append(utility_check(spec, train, synthetic_model, holdout))
    if trained_on == "all":
        outcomes = [_not_deciding(o) if o.name in HOLDOUT_RELATIVE else o for o in outcomes]
    if noise is None:
        return GateReport(outcomes)
    released = private_figures(
        spec, plan, synthetic, synthetic_model, train, holdout, raw_identifiers, noise, whole
    )
    return GateReport([_privatised(o, released.get(o.name)) for o in outcomes])


#: what a generator may have been trained on (`synth-platform check --trained-on`)
TRAINED_ON = ("train", "all")
#: checks that need the holdout to be people the generator never saw (relative attacks, TSTR)
HOLDOUT_RELATIVE = (*RELATIVE_ATTACKS, "utility_tstr")


def _not_deciding(outcome: CheckOutcome) -> CheckOutcome:
    """A holdout-relative check under --trained-on all: shown with its figures, never deciding."""
    return replace(
        outcome,
        passed=True,
        verdict=(
            "n/a under --trained-on all (the holdout was not unseen, so this comparison says nothing; "
            f"shown, not deciding): {outcome.verdict or outcome.description}"
        ),
        details={**outcome.details, "deciding": False, "exact_passed": outcome.passed},
    )


# --- The private decision: bounded figures, noised (lib/private_decision, lib/bounded_figures) ---


def real_data_checks(spec: DatasetSpec, plan: list[ColumnTreatment]) -> list[str]:
    """The checks that read real data and apply to this dataset (a function of the spec and the
    plan: public), in gate order; the gate's rho is split over these."""
    reaching = [t for t in plan if t.reaches_model]
    qis = [t for t in reaching if t.pii_class == "quasi_identifier"]
    sensitive = [t for t in reaching if t.pii_class == "sensitive"]
    names = [HOLDOUT_CHECK, "quality_score", "exact_copies", "close_copies", "near_copies"]
    names += ["membership_inference", "singling_out"]
    if len(qis) >= 2:
        names.append("linkability")
    if sensitive and len(reaching) >= 2:
        names.append("attribute_inference")
    if qis:
        names.append("unique_people")
    names.append("absolute_exposure")
    names.append("no_identifier_leak")
    if spec.utility.targets:
        names.append(UTILITY_CHECK)
    return names


def decided_figures(spec: DatasetSpec, plan: list[ColumnTreatment], numeric: list[str]) -> dict[str, int]:
    """Per noisy check that can falsely block an honest release, how many figures it decides: the
    family the gate's false-block rate is shared over (`private_decision.family_z`). Public: from the
    spec, the plan and the warehouse types (`numeric`), never from data.

    Every real-data check but the holdout minimum, whose error is the other way (a false pass: it
    passes only when surely at least the minimum, at `private_decision.Z`). Close copies decide one
    excess per public cut, absolute exposure one per public criterion, attribute inference one per
    sensitive column (the worst decides, so each may block); the others one figure each.
    """
    reaching = [t for t in plan if t.reaches_model]
    columns = [t.column for t in reaching]
    secrets = [t.column for t in reaching if t.pii_class == "sensitive"]
    many = {
        "close_copies": len(bounded_figures.CLOSE_CUTS),
        "absolute_exposure": len(bounded_figures.exposure_criteria(columns, numeric)),
        "attribute_inference": len(secrets),
    }
    return {name: max(1, many.get(name, 1)) for name in real_data_checks(spec, plan) if name != HOLDOUT_CHECK}


def gate_decision_rule(spec: DatasetSpec, plan: list[ColumnTreatment], numeric: list[str]) -> dict:
    """The gate's decision rule as stated to a user (public): the family-wise false-block rate alpha,
    how many figures share it, and the z each one is decided at."""
    figures = decided_figures(spec, plan, numeric)
    alpha = spec.checks.false_block_rate
    total = sum(figures.values())
    return {
        "false_block_rate": alpha,
        "figures": total,
        "figures_per_check": figures,
        "z": private_decision.family_z(alpha, total),
        "z_minimum": private_decision.Z,  # the holdout minimum's "surely at least"
    }


def _in_family(name: str, released: tuple[NoisyFigure, str], rule: dict) -> tuple[NoisyFigure, str]:
    """A released figure stamped with the family it was decided in (alpha and its size): public.
    A check that decided more figures than the family counted would break the stated rate: an
    error (the gate then fails, never passes), not a silent drift."""
    noisy, verdict = released
    per_figure = noisy.parts.get("noisy_excess_per_cut") or noisy.parts.get("noisy_excess_per_criterion")
    if per_figure is not None and len(per_figure) > rule["figures_per_check"][name]:
        raise RuntimeError(
            f"{name} decided {len(per_figure)} figures but the gate's false-block rate was shared over "
            f"{rule['figures_per_check'][name]} of them (evaluation.decided_figures is out of date)"
        )
    noisy = replace(noisy, false_block_rate=rule["false_block_rate"], family_figures=rule["figures"])
    return noisy, verdict


def _privatised(outcome: CheckOutcome, released: tuple[NoisyFigure, str] | None) -> CheckOutcome:
    if outcome.public:
        return outcome
    details = {
        **outcome.details,
        "exact_passed": outcome.passed,
        "exact_verdict": outcome.verdict,
        "exact_description": outcome.description,  # may quote exact counts or scores: restricted
    }
    description = "noisy bounded figure: " + private_decision.SENSITIVITY.get(outcome.name, outcome.name)
    outcome = replace(outcome, description=description)
    if released is None:  # does not apply to this dataset (the plan says so): nothing to release
        return replace(
            outcome,
            passed=True,
            verdict="n/a: does not apply to this dataset's columns (public: from the masking plan)",
            details=details,
        )
    noisy, verdict = released
    details["released"] = noisy.as_dict()  # the noisy figure beside the exact ones, in the pack
    return replace(outcome, passed=noisy.passed, verdict=verdict, details=details, noisy=noisy)


def _verdict(noisy: NoisyFigure, what: str, threshold: float, direction: str = "above") -> str:
    if not math.isfinite(noisy.value):
        return f"BLOCK: {what} could not be computed; no evidence is no pass"
    word = {"above": "surely above", "below": "surely below", "at_least": "surely at least"}[direction]
    state = "pass" if noisy.passed else "BLOCK"
    if direction == "at_least":
        is_word = word if noisy.passed else "not " + word
    else:
        is_word = ("not " + word) if noisy.passed else word
    return (
        f"{state}: noisy {what} is {noisy.value:.4f} (DP noise sd {noisy.sigma:.4g}, total uncertainty "
        f"{noisy.uncertainty:.4g}), {is_word} {threshold:g} (sure: z {noisy.z:.3f})"
    )


def _auc_sd(m: int):
    def sd(value: float) -> float:
        a = min(0.99, max(0.5, value))
        q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
        return math.sqrt(max(a * (1 - a) + (m - 1) * (q1 - a * a) + (m - 1) * (q2 - a * a), 0.0)) / m

    return sd


def private_figures(
    spec: DatasetSpec,
    plan: list[ColumnTreatment],
    synthetic: pd.DataFrame,
    synthetic_model: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    raw_identifiers: list[pd.Series],
    noise: GateNoise,
    whole: WholeTables | None = None,
) -> dict[str, tuple[NoisyFigure, str]]:
    """Each applicable real-data check's noisy bounded figure and public verdict.

    Sample sizes are public: the noisy counts less two sigma (capped per check, and at
    `GATE_SAMPLE_ROWS`: with `whole`, train and holdout are the gate's SQL samples of that size,
    themselves a keyed function of the data, so one person still moves each chosen set by at most
    one in and one out). Everything that scales an indicator comes from the synthetic table
    (`lib/bounded_figures`); exact copies and leaks are looked up in the whole tables (`whole`).
    """
    checks = spec.checks
    bf = bounded_figures
    names = real_data_checks(spec, plan)
    rho = private_decision.split_rho(noise.rho, names)
    reaching = [t for t in plan if t.reaches_model]
    columns = [t.column for t in reaching]
    qis = [t.column for t in reaching if t.pii_class == "quasi_identifier"]
    secrets = [t.column for t in reaching if t.pii_class == "sensitive"]
    generalised = [t.column for t in reaching if t.action == "generalize"]
    numeric = bf.numeric_columns(train, columns)  # from the warehouse types: public
    # one z for every "sure of a problem" figure: the spec's family-wise false-block rate, shared
    # (Bonferroni) over every figure this evaluation decides (public: spec, plan, types)
    rule = gate_decision_rule(spec, plan, numeric)
    z = rule["z"]
    out: dict[str, tuple[NoisyFigure, str]] = {}

    rows = (
        whole.rows
        if whole is not None
        else {"train": len(train), "holdout": len(holdout), "synthetic": len(synthetic)}
    )
    n_t, n_h, sigma_n = private_decision.noisy_counts(
        noise, rows["train"], rows["holdout"], rho[HOLDOUT_CHECK]
    )
    enough = (
        private_decision.passes_if_surely_at_least(n_h, sigma_n, checks.min_holdout_rows)
        and private_decision.passes_if_surely_at_least(n_t, sigma_n, checks.min_evaluation_rows)
        and rows["synthetic"] >= checks.min_evaluation_rows
    )
    size = NoisyFigure(n_h, sigma_n, 1.0, rho[HOLDOUT_CHECK], sigma_n, enough, {"noisy_train_rows": n_t})
    out[HOLDOUT_CHECK] = (size, _verdict(size, "holdout row count", checks.min_holdout_rows, "at_least"))

    key = private_decision.sample_key(noise.key)
    m_t = private_decision.public_size(n_t, sigma_n, GATE_SAMPLE_ROWS)
    m_h = private_decision.public_size(n_h, sigma_n, GATE_SAMPLE_ROWS)

    hashes: dict[int, np.ndarray] = {}  # per frame (train, holdout): hashed once for every check

    def sample(frame: pd.DataFrame, m: int) -> pd.DataFrame:
        if 0 < m < len(frame) and id(frame) not in hashes:
            hashes[id(frame)] = bf.keyed_hashes(frame, key)
        return bf.keyed_sample(frame, m, key, hashes.get(id(frame)))

    people_t, people_h = sample(train, m_t), sample(holdout, m_h)

    def shares(name: str, hits: tuple[int, int], sizes: tuple[int, int], threshold: float, what: str):
        noisy = private_decision.noisy_share_difference(
            noise, name, hits[0], sizes[0], hits[1], sizes[1], rho[name], threshold, z
        )
        out[name] = (noisy, _verdict(noisy, what, threshold))

    m_q = min(m_t, bf.DISTANCE_PEOPLE)
    scored = bf.scored_columns(synthetic_model, columns, numeric)
    quality_score = bf.bounded_quality(
        sample(train, m_q), synthetic_model, scored, numeric, m_q, checks.seed
    )["score"]
    noisy = private_decision.noisy_scalar(
        noise,
        "quality_score",
        quality_score,
        1.0 / max(m_q, 1),
        rho["quality_score"],
        checks.min_quality_score,
        "below",
        clip=(0.0, 1.0),
        z=z,
    )
    out["quality_score"] = (
        noisy,
        _verdict(noisy, "quality score (bounded TV/KS variant)", checks.min_quality_score, "below"),
    )

    noisy = private_decision.noisy_share(
        noise,
        "exact_copies",
        (
            int(whole.copied.loc[people_t.index].sum())
            if whole is not None
            else bf.exact_copy_hits(people_t, synthetic_model, columns)
        ),
        m_t,
        rho["exact_copies"],
        checks.max_exact_copy_share,
        z,
    )
    out["exact_copies"] = (
        noisy,
        _verdict(noisy, "share of training people with an exact copy", checks.max_exact_copy_share),
    )

    m_td, m_hd = min(m_t, bf.DISTANCE_PEOPLE), min(m_h, bf.DISTANCE_PEOPLE)
    close_t, close_h = bf.close_copy_hits(
        sample(train, m_td), sample(holdout, m_hd), synthetic_model, columns, numeric
    )
    noisy = private_decision.noisy_share_differences(
        noise,
        "close_copies",
        close_t,
        m_td,
        close_h,
        m_hd,
        rho["close_copies"],
        checks.max_close_copy_excess,
        z,
    )
    what = "largest excess share of training people close to a synthetic row (public cuts)"
    out["close_copies"] = (noisy, _verdict(noisy, what, checks.max_close_copy_excess))

    shares(
        "near_copies",
        bf.near_copy_hits(people_t, people_h, synthetic_model, columns, numeric),
        (m_t, m_h),
        checks.max_near_copy_excess,
        "excess share of training people with a near twin",
    )

    m_n = min(m_t, m_h, bf.NEIGHBOUR_PEOPLE)
    near_t, near_h = sample(train, m_n), sample(holdout, m_n)
    auc = bf.membership_auc(near_t, near_h, synthetic_model, columns, numeric, m_n, checks.seed)
    noisy = private_decision.noisy_scalar(
        noise,
        "membership_inference",
        auc,
        1.0 / max(m_n, 1),
        rho["membership_inference"],
        checks.max_membership_auc,
        "above",
        sampling_sd=_auc_sd(max(m_n, 1)),
        z=z,
    )
    out["membership_inference"] = (
        noisy,
        _verdict(noisy, "membership AUC (distance attack)", checks.max_membership_auc),
    )

    shares(
        "singling_out",
        bf.singling_out_hits(people_t, people_h, synthetic_model, columns, numeric, checks.seed),
        (m_t, m_h),
        checks.max_singling_out_risk,
        "excess share of people matching a combination unique in the synthetic table",
    )
    if "linkability" in rho:
        shares(
            "linkability",
            bf.linkability_hits(near_t, near_h, synthetic_model, qis, numeric, checks.seed),
            (m_n, m_n),
            checks.max_linkability_risk,
            "excess share of people re-linked through the synthetic table",
        )
    if "attribute_inference" in rho:
        found = bf.inference_hits(near_t, near_h, synthetic_model, columns, secrets, numeric, checks.seed)
        out["attribute_inference"] = _inference(noise, found, m_n, rho["attribute_inference"], checks, z)
    if "unique_people" in rho:
        kept = [c for c in columns if c not in generalised]
        profile = kept if len(kept) >= 2 else columns
        shares(
            "unique_people",
            bf.unique_people_hits(people_t, people_h, synthetic_model, qis, profile, numeric),
            (m_t, m_h),
            checks.max_unique_people_excess,
            "excess share of people with a rare combination whose profile reappears",
        )

    out["absolute_exposure"] = _private_exposure(
        noise, train, holdout, synthetic_model, columns, numeric, n_t + n_h, sigma_n, rho, checks, z
    )

    leaking = (
        whole.leaking_people
        if whole is not None
        else bf.leaking_people(synthetic, raw_identifiers, _reserved_spaces(spec, plan))
    )
    noisy = private_decision.noisy_scalar(
        noise, "no_identifier_leak", float(leaking), 1.0, rho["no_identifier_leak"], 0.0, "above", z=z
    )
    out["no_identifier_leak"] = (noisy, _verdict(noisy, "count of people with a leaked identifier", 0.0))

    if UTILITY_CHECK in rho:
        m_u = min(m_h, spec.utility.max_rows)
        out[UTILITY_CHECK] = _private_utility(
            spec, synthetic_model, sample(holdout, m_u), m_u, noise, rho[UTILITY_CHECK], z
        )
    return {
        name: _in_family(name, pair, rule) if name in rule["figures_per_check"] else pair
        for name, pair in out.items()
    }


def _private_exposure(
    noise, train, holdout, synthetic_model, columns, numeric, noisy_total, sigma_n, rho, checks, z=None
):
    """Absolute exposure's bounded figure: matchings of one keyed half's people to the synthetic
    table and to the other half (`bounded_figures.exposure_matchings`), released as a vector of
    shares. One person moves both sides, so each side gets half the check's rho."""
    bf = bounded_figures
    half = max(noisy_total, 0.0) / 2.0
    # the keyed half's size is binomial about the total's half: keep 3 sd of it and 2 of the noise
    m_public = private_decision.public_size(half - 3.0 * math.sqrt(half), math.sqrt(2.0) * sigma_n)
    m = min(m_public, bf.EXPOSURE_PEOPLE)
    n_reference = min(m_public, bf.EXPOSURE_REFERENCE, len(synthetic_model))
    found, chance, chosen = bf.exposure_matchings(
        pd.concat([train, holdout], ignore_index=True),
        synthetic_model,
        columns,
        numeric,
        m,
        n_reference,
        private_decision.sample_key(noise.key, "absolute_exposure"),
    )
    threshold = checks.max_absolute_exposure_excess
    noisy = private_decision.noisy_share_differences(
        noise, "absolute_exposure", found, m, chance, m, rho["absolute_exposure"] / 2.0, threshold, z
    )
    parts = {
        "noisy_excess_per_criterion": noisy.parts.get("noisy_excess_per_cut"),
        "criteria": [c.label for c in chosen],
        "people": m,
        "reference_rows": n_reference,
    }
    noisy = replace(noisy, rho=rho["absolute_exposure"], parts=parts)
    what = "largest excess share of real people (whole source) found in the table beyond chance"
    return noisy, _verdict(noisy, what, threshold)


def _inference(
    noise: GateNoise, found: dict, m: int, rho: float, checks, z: float = private_decision.Z
) -> tuple[NoisyFigure, str]:
    """Per secret, the train and holdout shares (2 S noisy figures; one person moves S of them, one
    side: L2 sensitivity sqrt(S)/m); the figure is the largest noisy excess, decided at `z` (the
    gate's family z counts the S excesses: the worst of them decides)."""
    threshold = checks.max_inference_risk
    if m < 1 or not found:
        noisy = NoisyFigure(math.nan, math.inf, math.inf, rho, math.inf, False, {}, z)
        return noisy, _verdict(noisy, "attribute-inference excess", threshold)
    secrets = sorted(found)
    sigma = private_decision.gaussian_sigma(math.sqrt(len(secrets)) / m, rho)
    draws = noise.gaussian("attribute_inference", sigma, 2 * len(secrets))
    excess = {}
    for i, secret in enumerate(secrets):
        p_t = found[secret][0] / m + draws[2 * i]
        p_h = found[secret][1] / m + draws[2 * i + 1]
        sampling = sum(min(1.0, max(p, 1.0 / m)) * (1 - min(1.0, max(p, 1.0 / m))) / m for p in (p_t, p_h))
        excess[secret] = (p_t - p_h, math.sqrt(2 * sigma**2 + sampling))
    worst = max(secrets, key=lambda s: excess[s][0])
    value, uncertainty = excess[worst]
    noisy = NoisyFigure(
        float(value),
        math.sqrt(2) * sigma,
        math.sqrt(len(secrets)) / m,
        rho,
        uncertainty,
        private_decision.passes_unless_surely_above(value, uncertainty, threshold, z),
        {"worst_secret_column": worst, "people_per_side": m},
        z,
    )
    return noisy, _verdict(noisy, "attribute-inference excess (worst sensitive column)", threshold)


def _private_utility(
    spec, synthetic_model, holdout_people, m, noise, rho, z: float = private_decision.Z
) -> tuple[NoisyFigure, str]:
    """The largest public-reference gap: score of the synthetic-trained model on held-out synthetic
    rows minus its score summed over m holdout people, over m (each person's score in [0, 1]:
    Δ = 1/m)."""
    settings = spec.utility
    gaps, problems = [], []
    for target in settings.targets:
        try:
            public, private_sum = bounded_figures.tstr_scores(
                synthetic_model,
                holdout_people,
                target,
                _utility_task(spec, target),
                settings.max_rows,
                settings.seed,
            )
            gaps.append(public - private_sum / max(m, 1))
        except (ValueError, KeyError) as error:
            problems.append(type(error).__name__)
    exact = max(gaps) if gaps and not problems and m >= 1 else math.nan
    noisy = private_decision.noisy_scalar(
        noise,
        UTILITY_CHECK,
        exact,
        1.0 / max(m, 1),
        rho,
        settings.max_gap,
        "above",
        sampling_sd=lambda _v: math.sqrt(0.25 / max(m, 1)),
        z=z,
    )
    what = "utility gap (synthetic-trained model: public reference score minus holdout score)"
    return noisy, _verdict(noisy, what, settings.max_gap)


# --- Privacy attacks (lib/attacks): one blocking check per attack ----------------------------------


def attack_config(checks) -> AttackConfig:
    """The attack suite's settings from the spec's `checks` (one source of thresholds)."""
    return AttackConfig(
        seed=checks.seed,
        distance_rows=checks.evaluation_rows,
        close_quantile=checks.close_copy_quantile,
        max_close_copy_excess=checks.max_close_copy_excess,
        max_near_copy_excess=checks.max_near_copy_excess,
        max_membership_auc=checks.max_membership_auc,
        max_singling_out_risk=checks.max_singling_out_risk,
        max_linkability_risk=checks.max_linkability_risk,
        max_inference_risk=checks.max_inference_risk,
        max_unique_people_excess=checks.max_unique_people_excess,
        max_absolute_exposure_excess=checks.max_absolute_exposure_excess,
        anonymeter_attacks=checks.anonymeter_attacks,
        min_holdout_rows=checks.min_holdout_rows,
        min_evaluation_rows=checks.min_evaluation_rows,
    )


#: check name -> description, in gate order (the gate asset declares one blocking check per attack)
ATTACK_CHECKS = {name: description for name, (_, _, description) in ATTACKS.items()}


def attack_outcome(result: AttackResult) -> CheckOutcome:
    return CheckOutcome(
        result.name,
        result.passed,
        result.statistic,
        result.threshold,
        ATTACK_CHECKS[result.name],
        {
            **result.details,
            "rows_evaluated": result.rows_evaluated,
            "seed": result.seed,
            "outcome": result.verdict,  # pass | block | not_applicable
        },
        ci=result.ci,
        verdict=result.message,
    )


def privacy_attacks(
    checks,
    plan: list[ColumnTreatment],
    synthetic_model: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    timings: dict | None = None,
) -> list[CheckOutcome]:
    """Every attack of the suite on model-space tables; roles from the PII report classes."""
    reaching = [t for t in plan if t.reaches_model]
    results = run_suite(
        train,
        holdout,
        synthetic_model,
        [t.column for t in reaching],
        quasi_identifiers=[t.column for t in reaching if t.pii_class == "quasi_identifier"],
        sensitive=[t.column for t in reaching if t.pii_class == "sensitive"],
        generalised=[t.column for t in reaching if t.action == "generalize"],
        config=attack_config(checks),
        timings=timings,
    )
    return [attack_outcome(r) for r in results]


# --- Utility: train synthetic, test real (TSTR) ----------------------------------------------------
# Kept as its own block: one check over every target the spec declares (lib.gate.utility does the work).

UTILITY_CHECK = "utility_tstr"


def utility_check(
    spec: DatasetSpec, train: pd.DataFrame, synthetic_model: pd.DataFrame, holdout: pd.DataFrame
) -> CheckOutcome:
    """The largest TRTR - TSTR gap over the spec's targets, against `utility.max_gap`.

    Frames are model space (as the other checks see them). A target that does not reach the
    model (a dropped identifier) or has no values fails the check with the reason, not an error.
    """
    from synth_platform.lib.gate import utility

    settings = spec.utility
    results, problems = [], []
    for target in settings.targets:
        try:
            results.append(
                utility.train_synthetic_test_real(
                    train,
                    synthetic_model,
                    holdout,
                    target,
                    task=_utility_task(spec, target),
                    max_rows=settings.max_rows,
                    seed=settings.seed,
                )
            )
        except ValueError as error:
            problems.append(str(error))
    # The verdict uses the interval, as the attacks do: block when even the lower 95 % bound of a
    # target's gap is above max_gap. A small holdout gives a wide interval (the demo's 300-row samples
    # swing by 0.15 AUC between splits); the full table's is tight.
    worst = max(results, key=lambda r: r.gap, default=None)
    blocked = [r.target for r in results if r.gap_ci[0] > settings.max_gap]
    passed = not problems and not blocked and worst is not None
    scores = ", ".join(f"{r.target}: {r.metric} {r.tstr:.3f} vs {r.trtr:.3f}" for r in results)
    if problems or worst is None:
        verdict = "blocked: " + ("; ".join(problems) or "no target scored")
    elif blocked:
        verdict = f"blocked: the synthetic data loses more than {settings.max_gap:g} on {', '.join(blocked)}"
    else:
        verdict = f"passed: no target's gap is surely above {settings.max_gap:g} (lower 95 % bound)"
    return CheckOutcome(
        UTILITY_CHECK,
        passed,
        float(worst.gap) if worst else float("inf"),
        settings.max_gap,
        f"largest gap between a model trained on real and one trained on synthetic data, both tested on "
        f"the real holdout (TRTR - TSTR; {scores or 'no target scored'}); blocks when the gap's lower 95 % "
        "bound is above the threshold",
        {"targets": [r.as_dict() for r in results], **({"problems": problems} if problems else {})},
        ci=worst.gap_ci if worst else None,
        verdict=verdict,
    )


def _utility_task(spec: DatasetSpec, target: str):
    kind = spec.columns[target].type
    if kind in ("category", "string", "boolean"):
        return "classification"
    return None  # numbers: lib.gate.utility decides (few distinct integers are classes)


# --- How many rows each check used, and why that is enough --------------------------------------

#: checks computed over the whole warehouse tables in SQL (no sample decides them)
WHOLE_TABLE_CHECKS = (HOLDOUT_CHECK, "exact_copies", "no_identifier_leak")
Z95 = 1.959963984540054


def _sufficiency(half_width: float | None, figure: float | None, threshold: float) -> dict:
    """The 95 % half-width against the margin between the figure and its threshold: a half-width
    under the margin means more rows could not turn the verdict (at 95 %)."""
    if half_width is None or figure is None or not (math.isfinite(half_width) and math.isfinite(figure)):
        return {
            "ci95_half_width": None,
            "margin_to_threshold": None,
            "enough": "no figure: no evidence, no pass",
        }
    margin = abs(float(threshold) - float(figure))
    enough = half_width < margin
    return {
        "ci95_half_width": float(f"{half_width:.4g}"),
        "margin_to_threshold": float(f"{margin:.4g}"),
        "enough": (
            "yes: the 95 % half-width is below the margin to the threshold"
            if enough
            else "undecided at 95 %: the figure is within its half-width of the threshold (the rule "
            "blocks only a figure surely beyond it)"
        ),
    }


def _exact_half_width(outcome: CheckOutcome, people: int) -> float | None:
    if outcome.ci is not None and all(v is not None and math.isfinite(v) for v in outcome.ci):
        return (outcome.ci[1] - outcome.ci[0]) / 2.0
    if outcome.name == "exact_copies" or outcome.name == "quality_score":
        p = (
            min(1.0, max(float(outcome.figure), 1.0 / max(people, 1)))
            if math.isfinite(outcome.figure)
            else 0.5
        )
        return Z95 * math.sqrt(p * (1 - p) / max(people, 1))
    return None


def with_sample_sizes(report: GateReport, whole: WholeTables, spec: DatasetSpec) -> GateReport:
    """Each check says how many rows it used and why that is enough.

    Restricted (details, for the evidence pack): the exact rows read per table, whole-table counts
    and the exact figure's 95 % half-width against its margin. Public (a noisy figure's parts, so
    the check's metadata): the sample cap (a constant), the public people counts the figure
    already shows, and the half-width from its noisy uncertainty (post-processing, free) against
    the noisy figure's margin. No cell value, and no exact count, leaves through the public part.
    """
    outcomes = []
    for outcome in report.outcomes:
        if outcome.name in WHOLE_TABLE_CHECKS:
            scope = "whole tables (SQL scans over every row)"
            used = dict(whole.rows)
            half = 0.0  # an exact count of the whole table: no sampling error
        elif outcome.public:
            scope = f"the synthetic table's keyed sample (at most {GATE_SAMPLE_ROWS:,} rows)"
            used = {"synthetic": whole.sample_rows["synthetic"]}
            half = 3.0 / max(used["synthetic"], 1)  # rule of three: a defect share the sample would show
        else:
            scope = f"keyed samples of at most {GATE_SAMPLE_ROWS:,} rows per table, checks' own sizes inside"
            used = dict(whole.sample_rows)
            half = _exact_half_width(outcome, min(whole.sample_rows["train"], whole.sample_rows["holdout"]))
        sampling = {
            "scope": scope,
            "rows_used": used,
            "whole_table_rows": dict(whole.rows),
            **_sufficiency(half, outcome.figure, outcome.threshold),
        }
        if outcome.public:  # shown in the UI as is: the synthetic table's figures only (public)
            sampling.pop("whole_table_rows")
            sampling["synthetic_rows"] = whole.rows["synthetic"]
            sampling["enough"] = (
                f"a defect in {half:.2%} of the synthetic rows or more shows in the sample at 95 % "
                "(rule of three)"
            )
        details = {**outcome.details, "sample": sampling}
        noisy = outcome.noisy
        if noisy is not None:
            public = {
                "rows_read_per_table_at_most": GATE_SAMPLE_ROWS,
                "rows_basis": "whole tables (SQL)" if outcome.name in WHOLE_TABLE_CHECKS else "keyed samples",
                **{
                    f"sample_{k}": v
                    for k, v in _sufficiency(Z95 * noisy.uncertainty, noisy.value, outcome.threshold).items()
                },
            }
            noisy = replace(noisy, parts={**noisy.parts, **public})
        outcomes.append(replace(outcome, details=details, noisy=noisy))
    return GateReport(outcomes)
