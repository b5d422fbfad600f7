"""Masking: what reaches a model is decided here, column by column.

Direct identifiers never reach a synthesizer: they are dropped (and refilled with fake
values after sampling), or, for the dataset's key, replaced by a keyed pseudonym so
the masked table can still be joined by whoever holds the key. Quasi-identifiers are
generalised as the spec says. Rare categories and extreme values, which single people
out, are suppressed in every column that is kept -- except for a differentially private
synthesizer (`dp_mst`): there a data-dependent merge or quantile clip would happen outside
the privacy analysis, so values are only clipped to the spec's declared (public) bounds and
the synthesizer's own DP domain compression does the rest.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth_platform.lib.spec import DatasetSpec

RARE_CATEGORY = "(rare)"

#: How a direct identifier is refilled after sampling; keys are discovery's detected types.
DIRECT = "direct_identifier"


@dataclass(frozen=True)
class ColumnTreatment:
    column: str
    pii_class: str
    detected_type: str | None
    action: str  # drop | pseudonymize | generalize | keep
    generalize: str | None = None
    #: How a refilled identifier looks to a person (from the approved plan), e.g. 'Family, Given'
    #: or '#########'; None: the detected type's default format (lib.refill).
    format: str | None = None

    @property
    def reaches_model(self) -> bool:
        return self.action in ("generalize", "keep")


@dataclass(frozen=True)
class MaskingReport:
    treatments: list[ColumnTreatment]
    rare_values_suppressed: dict[str, int]
    outliers_clipped: dict[str, int]

    def as_rows(self) -> list[dict]:
        return [
            {
                "column": t.column,
                "pii_class": t.pii_class,
                "detected_type": t.detected_type or "",
                "action": t.action if t.action != "generalize" else f"generalize:{t.generalize}",
                "rare_values_suppressed": self.rare_values_suppressed.get(t.column, 0),
                "outliers_clipped": self.outliers_clipped.get(t.column, 0),
            }
            for t in self.treatments
        ]


def plan_masking(spec: DatasetSpec, classes: Mapping[str, tuple[str, str | None]]) -> list[ColumnTreatment]:
    """Decide one action per column from its class (discovery, or the spec's hint) and the spec."""
    plan = []
    for column, column_spec in spec.columns.items():
        pii_class, detected_type = classes.get(column, ("other", None))
        if column_spec.mask is not None:
            action = column_spec.mask
        elif column == spec.key:
            action = "pseudonymize"
        elif pii_class == DIRECT:
            action = "drop"
        else:
            action = "keep"
        generalize = column_spec.generalize
        if action == "keep" and generalize:
            action = "generalize"
        plan.append(ColumnTreatment(column, pii_class, detected_type, action, generalize))
    return plan


def pseudonymize(values: pd.Series, key: bytes) -> pd.Series:
    """Keyed pseudonyms: HMAC-SHA256 of the value, so equal inputs map to equal outputs and
    nobody without the key can recompute or dictionary-attack them."""

    def one(value: object) -> object:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return None
        return "ps_" + hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:24]

    return values.map(one).astype(object)


def generalize(values: pd.Series, rule: str) -> pd.Series:
    if rule == "zip3":
        text = values.astype("string").str.strip()
        return text.str.slice(0, 3).where(text.str.len() >= 3).astype(object)
    if rule in ("year", "month"):
        dates = pd.to_datetime(values, errors="coerce")
        if rule == "year":
            return dates.dt.year.astype("Int64")
        return dates.dt.strftime("%Y-%m").astype(object).where(dates.notna(), None)
    if rule.startswith("bin:"):
        width = int(rule.split(":", 1)[1])
        numbers = pd.to_numeric(values, errors="coerce")
        return ((numbers // width) * width).astype(
            values.dtype if str(values.dtype) == "Int64" else "float64"
        )
    raise ValueError(f"unknown generalisation {rule!r}")


def suppress_rare(values: pd.Series, min_count: int) -> tuple[pd.Series, int]:
    """Replace categories seen fewer than `min_count` times with one '(rare)' category."""
    if min_count <= 1:
        return values, 0
    counts = values.value_counts(dropna=True)
    rare = counts.index[counts < min_count]
    if len(rare) == 0:
        return values, 0
    is_rare = values.isin(rare)
    return values.mask(is_rare, RARE_CATEGORY), int(is_rare.sum())


def clip_outliers(values: pd.Series, quantiles: tuple[float, float]) -> tuple[pd.Series, int]:
    """Winsorise a numeric column to its quantiles so a single extreme person is not reproduced."""
    numbers = values.astype("float64")
    low, high = numbers.quantile(quantiles[0]), numbers.quantile(quantiles[1])
    outside = (numbers < low) | (numbers > high)
    clipped = numbers.clip(low, high)
    if str(values.dtype) == "Int64":
        clipped = clipped.round().astype("Int64")
    return clipped, int(outside.sum())


def clip_to_bounds(values: pd.Series, bounds: tuple[float, float]) -> tuple[pd.Series, int]:
    """Clip a numeric column to declared (public) bounds: no data-dependent choice involved."""
    numbers = values.astype("float64")
    outside = (numbers < bounds[0]) | (numbers > bounds[1])
    clipped = numbers.clip(bounds[0], bounds[1])
    if pd.api.types.is_integer_dtype(values.dtype):  # integers stay integers (any width, nullable)
        clipped = clipped.round().astype(values.dtype)
    return clipped, int(outside.sum())


def _is_categorical(series: pd.Series) -> bool:
    return series.dtype == object or str(series.dtype) in ("string", "category")


def apply_masking(
    frame: pd.DataFrame, plan: list[ColumnTreatment], spec: DatasetSpec, key: bytes
) -> tuple[pd.DataFrame, MaskingReport]:
    out: dict[str, pd.Series] = {}
    rare: dict[str, int] = {}
    clipped: dict[str, int] = {}
    private = spec.synthesizer.kind == "dp_mst"
    for treatment in plan:
        column = frame[treatment.column]
        if treatment.action == "drop":
            continue
        if treatment.action == "pseudonymize":
            out[treatment.column] = pseudonymize(column, key)
            continue
        bounds = spec.columns[treatment.column].bounds
        if private and bounds is not None and pd.api.types.is_numeric_dtype(column):
            column, clipped[treatment.column] = clip_to_bounds(column, bounds)
        if treatment.action == "generalize":
            column = generalize(column, treatment.generalize or "")
        if private:
            pass  # no rare merge, no quantile clipping: see the module docstring
        elif _is_categorical(column):
            column, rare[treatment.column] = suppress_rare(column, spec.masking.rare_category_min_count)
        elif pd.api.types.is_numeric_dtype(column) and spec.masking.outlier_quantiles:
            column, clipped[treatment.column] = clip_outliers(column, spec.masking.outlier_quantiles)
        out[treatment.column] = column
    masked = pd.DataFrame(out, index=frame.index)
    return masked, MaskingReport(plan, rare, clipped)
