"""The synthetic table seen like the training data: generalised columns generalised again, rare
generalised values withheld, the identifier formats and declared (public) domains the GX suite checks."""

from __future__ import annotations

import pandas as pd

from synth_platform.lib.deidentify.masking import RARE_CATEGORY, ColumnTreatment, generalize
from synth_platform.lib.spec import DatasetSpec

FORMAT_PATTERNS = {
    "email": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
    "ssn": r"^\d{3}-\d{2}-\d{4}$",
    "zip_code": r"^\d{5}$",
    "phone": r"^[0-9+().\-x ]{7,}$",
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
