"""The release gate: every figure a release decision rests on, computed in one place.

The synthetic table is brought back into the masked (model) space — generalised
columns generalised again — so that it is compared with the training data like for
like. Each check has a figure, a threshold from the spec, and a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from synth_platform.lib import privacy, quality
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
        return {
            o.name: {"figure": o.figure, "threshold": o.threshold, "passed": o.passed} for o in self.outcomes
        }


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

    suite = quality.build_suite(train, formats=format_patterns(plan))
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

    dcr = privacy.distance_to_closest_record(
        synthetic_model, train, holdout, model_columns, max_rows=checks.evaluation_rows, seed=checks.seed
    )
    dcr_check = CheckOutcome(
        "distance_to_closest_record",
        dcr.share_closer_to_train <= checks.max_dcr_train_share,
        dcr.share_closer_to_train,
        checks.max_dcr_train_share,
        "share of synthetic rows closer to a training row than to any holdout row (ideal: 0.5)",
        {
            "rows_evaluated": dcr.rows_evaluated,
            "median_dcr_train": round(dcr.median_dcr_train, 4),
            "median_dcr_holdout": round(dcr.median_dcr_holdout, 4),
        },
    )

    leaks = privacy.identifier_leaks(synthetic, raw_identifiers)
    leak_check = CheckOutcome(
        "no_identifier_leak",
        leaks.leaked_cells == 0,
        float(leaks.leaked_cells),
        0.0,
        "cells of the synthetic table equal to a raw direct identifier of the source",
        {"columns_with_leaks": leaks.columns_with_leaks},
    )
    return GateReport([gx, quality_check, copy_check, dcr_check, leak_check])
