"""The release gate: every figure a release decision rests on, computed in one place.

The synthetic table is brought back into the masked (model) space — generalised
columns generalised again — so that it is compared with the training data like for
like. Each check has a figure, a threshold from the spec, and a verdict.

Checks: the GX suite, the SDMetrics quality score, exact copies, one check per privacy
attack of `lib/attacks/` (close copies, near copies, membership inference, singling out,
linkability, attribute inference, unique people — each with a 95 % interval, blocking only
when the interval lies above its threshold, and blocking when there is too little data to
judge), and identifier leaks. The attacks replaced the old distance-to-closest-record train
share, which passed tables of planted real people up to 100 % of the rows. `evaluate` is
the one function both the gate asset and `synth-platform check` call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from synth_platform.lib import privacy, quality
from synth_platform.lib.attacks import ATTACKS, AttackConfig, AttackResult, run_suite
from synth_platform.lib.masking import RARE_CATEGORY, ColumnTreatment, generalize
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.synthesis import sdv_metadata

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

    def as_dict(self) -> dict:
        """JSON-safe figures (a figure that could not be computed is None, never NaN)."""
        out = {"figure": _json_number(self.figure), "threshold": self.threshold, "passed": self.passed}
        if self.ci is not None:
            out["ci_low"], out["ci_high"] = _json_number(self.ci[0]), _json_number(self.ci[1])
        if self.verdict:
            out["verdict"] = self.verdict
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
        """Every check's figure, threshold, verdict and (for the attacks) 95 % interval, JSON-safe:
        this is what the assessment and the ledger's decision row store."""
        return {o.name: o.as_dict() for o in self.outcomes}


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
        elif not treatment.reaches_model and kind in FORMAT_PATTERNS:
            patterns[treatment.column] = FORMAT_PATTERNS[kind]
    return patterns


def published_domains(spec: DatasetSpec, plan: list[ColumnTreatment]) -> dict[str, dict]:
    """The spec's declared (public) domains in model space: values a synthesizer may rightly draw
    even when a small training split happens to lack them."""
    from synth_platform.lib.dp_mst import declared_domains

    domains = declared_domains(spec, plan)
    for treatment in plan:
        dates = domains.get(treatment.column, {}).pop("date_bounds", None)
        if dates is not None and treatment.generalize == "year":
            domains[treatment.column]["bounds"] = (dates[0].year, dates[1].year)
    return domains


def evaluate(
    spec: DatasetSpec,
    plan: list[ColumnTreatment],
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    raw_identifiers: list[pd.Series],
) -> GateReport:
    checks = spec.checks
    model_columns = [t.column for t in plan if t.reaches_model]
    train = withhold_rare_generalized(train[model_columns], plan)
    holdout = withhold_rare_generalized(holdout[model_columns], plan)
    synthetic_model = to_model_space(synthetic, plan, train)

    published = published_domains(spec, plan)
    suite = quality.build_suite(
        train,
        formats=format_patterns(plan),
        bounds={c: d["bounds"] for c, d in published.items() if "bounds" in d},
        categories={c: d["categories"] for c, d in published.items() if "categories" in d},
    )
    suite_frame = synthetic_model.copy()
    for column in format_patterns(plan):
        suite_frame[column] = synthetic[column].astype("string")
    suite_result = quality.run_suite(suite, suite_frame)
    failed = [f"{o.expectation}({o.column})" for o in suite_result.outcomes if not o.success]
    gx = CheckOutcome(
        "schema_expectations",
        suite_result.success,
        float(suite_result.failed),
        0.0,
        f"{suite_result.evaluated - suite_result.failed} of {suite_result.evaluated} expectations derived "
        "from the masked data hold on the synthetic table",
        {"failed_expectations": failed[:20]},
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

    copies = privacy.exact_copies(synthetic_model, train, holdout, model_columns)
    copy_check = CheckOutcome(
        "exact_copies",
        copies.share <= checks.max_exact_copy_share,
        copies.share,
        checks.max_exact_copy_share,
        f"{copies.copies} synthetic rows are exact copies of training rows",
        {"copies": copies.copies, "holdout_baseline_share": round(copies.holdout_baseline_share, 6)},
    )

    attack_checks = privacy_attacks(checks, plan, synthetic_model, train, holdout)

    leaks = privacy.identifier_leaks(synthetic, raw_identifiers)
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
    outcomes = [gx, quality_check, copy_check, *attack_checks, leak_check]
    if spec.utility.targets:  # TSTR (H6 block below)
        outcomes.append(utility_check(spec, train, synthetic_model, holdout))
    return GateReport(outcomes)


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
# Kept as its own block: one check over every target the spec declares (lib.utility does the work).

UTILITY_CHECK = "utility_tstr"


def utility_check(
    spec: DatasetSpec, train: pd.DataFrame, synthetic_model: pd.DataFrame, holdout: pd.DataFrame
) -> CheckOutcome:
    """The largest TRTR - TSTR gap over the spec's targets, against `utility.max_gap`.

    Frames are model space (as the other checks see them). A target that does not reach the
    model (a dropped identifier) or has no values fails the check with the reason, not an error.
    """
    from synth_platform.lib import utility

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
    return None  # numbers: lib.utility decides (few distinct integers are classes)
