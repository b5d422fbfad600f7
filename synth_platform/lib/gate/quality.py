"""Quality gates for a synthetic twin: schema expectations (Great Expectations) and fidelity
(SDMetrics).

The expectation suite is derived from the masked reference frame's schema only: columns,
type families, numeric ranges, low-cardinality category sets, null shares, plus regex formats
for identifier columns that are refilled after sampling. Outcome details are short texts made
of counts, shares, numeric ranges and category counts; they never echo a cell value of the
validated frame (GX's unexpected-value lists are not even requested).

Great Expectations and SDMetrics are imported lazily: both are slow to import and only the
quality step needs them.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import great_expectations as gx

# GX must never phone home; it reads this when a context is created.
os.environ["GX_ANALYTICS_ENABLED"] = "false"


def _hide_spark_connect_from_gx() -> None:
    """GX probes `pyspark.sql.connect` when pyspark is installed (the Spark engine test needs it).
    In a process whose `__main__` has neither a file nor a spec (a Dagster step subprocess),
    that module's import calls `sys.exit(0)`, believing it runs doctests, and kills the step.
    GX is never handed a Spark frame here, so in such a process Spark Connect is made
    unimportable for GX (an ImportError it expects) instead."""
    main = sys.modules.get("__main__")
    bare = main is not None and getattr(main, "__spec__", None) is None and not hasattr(main, "__file__")
    if bare and not hasattr(sys, "ps1"):
        sys.modules.setdefault("pyspark.sql.connect", None)


_hide_spark_connect_from_gx()

SUITE_NAME = "synth_platform_quality"
_META_KEY = "synth_platform"

EXIST = "expect_column_to_exist"
TYPE = "expect_column_values_to_be_in_type_list"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
NOT_NULL = "expect_column_values_to_not_be_null"
REGEX = "expect_column_values_to_match_regex"

# Type names GX resolves for expect_column_values_to_be_in_type_list on pandas: numpy dtype
# names match typed columns, pandas extension dtype class names match nullable columns, and
# python names ("int", "str", ...) match values of object-dtype columns one by one.
_NUMERIC_TYPES = [
    *(f"int{b}" for b in (8, 16, 32, 64)),
    *(f"uint{b}" for b in (8, 16, 32, 64)),
    "float16",
    "float32",
    "float64",
    *(f"Int{b}Dtype" for b in (8, 16, 32, 64)),
    *(f"UInt{b}Dtype" for b in (8, 16, 32, 64)),
    "Float32Dtype",
    "Float64Dtype",
    "int",
    "float",
]
_FAMILY_TYPES: dict[str, list[str]] = {
    "numeric": _NUMERIC_TYPES,
    "string": ["str"],
    "datetime": [
        "datetime64",
        "datetime64[ns]",
        "datetime64[us]",
        "datetime64[ms]",
        "datetime64[s]",
        "Timestamp",
    ],
    "boolean": ["bool", "BooleanDtype"],
}
_INFERRED_FAMILY = {
    "string": "string",
    "integer": "numeric",
    "floating": "numeric",
    "mixed-integer-float": "numeric",
    "decimal": "numeric",
    "boolean": "boolean",
    "datetime64": "datetime",
    "datetime": "datetime",
}


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str  # e.g. "expect_column_values_to_be_between"
    column: str | None
    success: bool
    detail: str  # observed figure vs expected; never a cell value of the validated frame


@dataclass(frozen=True)
class SuiteResult:
    success: bool
    evaluated: int
    failed: int
    outcomes: list[ExpectationOutcome]

    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _gx():
    import great_expectations as gx

    return gx


def _validation_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Frame with dtypes GX's type checks understand; values (and nulls) are unchanged.

    GX's pandas type-list check compares a typed column's dtype with the listed names and
    cannot match categorical, pandas string or timezone-aware datetime dtypes; as object (or
    naive UTC) columns their values are checked one by one instead. The view is a
    consolidated copy: GX filters rows once per metric, and on a fragmented frame (one built
    column by column) every filter pays for consolidating all its blocks again.
    """
    replaced: dict[str, pd.Series] = {}
    for name in frame.columns:
        col = frame[name]
        dtype = col.dtype
        if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype)):
            replaced[name] = col.astype(object)
        elif isinstance(dtype, pd.DatetimeTZDtype):
            replaced[name] = col.dt.tz_convert("UTC").dt.tz_localize(None)
    view = frame.copy(deep=False)
    for name, col in replaced.items():
        view[name] = col
    return view.copy()


def _family(col: pd.Series) -> str | None:
    """numeric / string / datetime / boolean, or None when the column has no single family."""
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric"
    if pd.api.types.is_object_dtype(dtype):
        return _INFERRED_FAMILY.get(pd.api.types.infer_dtype(col, skipna=True))
    return None


def _py(value: Any) -> Any:
    """A JSON-friendly python scalar."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _fmt(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.6g}"
    return str(value)


def _pct(share: float) -> str:
    return f"{100.0 * share:.2f}%"


def _column_kwargs(cfg: Mapping[str, Any]) -> str | None:
    column = cfg.get("column")
    return column if isinstance(column, str) else None


# --------------------------------------------------------------------------------------------
# Suite
# --------------------------------------------------------------------------------------------


def _decimals(values: pd.Series, cap: int = 9) -> int:
    """The fewest decimals that write every value exactly (0 for whole numbers), at most `cap`."""
    numbers = values.astype("float64").to_numpy()
    numbers = numbers[np.isfinite(numbers)]
    for decimals in range(cap + 1):
        if np.allclose(numbers, np.round(numbers, decimals), rtol=0, atol=10.0 ** -(cap + 2)):
            return decimals
    return cap


def numeric_bounds(values: pd.Series, published: tuple[float, float] | None = None) -> tuple[Any, Any]:
    """The range an honest model may produce for a numeric column.

    The reference min..max (masking already clipped the extremes to its published quantiles),
    widened by half a unit of the data's own precision: a synthesizer that clips to the range
    and then rounds to the learnt number of decimals can land that far outside (SDV does), and
    float noise of a relative 1e-9. A range the spec publishes (`bounds`) is allowed too.
    Integers keep integer bounds.
    """
    low, high = float(values.min()), float(values.max())
    if published is not None:
        low, high = min(low, float(published[0])), max(high, float(published[1]))
    decimals = _decimals(values)
    slack = 0.5 * 10.0**-decimals + 1e-9 * max(abs(low), abs(high), 1.0)
    if pd.api.types.is_integer_dtype(values.dtype):
        return int(np.floor(low)), int(np.ceil(high))
    return low - slack, high + slack


def build_suite(
    reference: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    null_tolerance: float = 0.05,
    max_categories: int = 200,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    categories: Mapping[str, Sequence[str]] | None = None,
) -> gx.ExpectationSuite:
    """Derive an expectation suite from the masked (reference) frame's schema.

    Per reference column: it exists; its type family (numeric / string / datetime / boolean)
    matches; numeric values lie within the reference min..max; values of object/category
    columns with at most ``max_categories`` distinct values are in the reference value set;
    the null share is at most the reference's plus ``null_tolerance``
    (``mostly = max(0, 1 - reference_null_share - null_tolerance)``). ``formats`` maps extra
    columns (refilled identifiers such as email/ssn/phone) to a regex every non-null value
    must match. Range and set checks let nulls pass; the null check governs them.

    What an honest model legitimately produces passes (no false blocks): ranges are widened by
    the data's rounding precision (`numeric_bounds`) and by any `bounds` the spec publishes;
    category sets are the reference's own, `(rare)` included, plus any `categories` the spec
    publishes (a DP synthesizer may draw a declared value a small training split lacks); a
    column in ``formats`` is checked by its format only, since it is validated in its restored
    shape (a ZIP3 category becomes a full ZIP code) where its model-space value set cannot apply.

    The suite belongs to no Data Context; ``run_suite`` validates a copy of it.
    """
    gx = _gx()
    import great_expectations.expectations as gxe

    if not 0.0 <= null_tolerance <= 1.0:
        raise ValueError("null_tolerance must be within [0, 1]")
    view = _validation_view(reference)
    expectations: list = []
    rows = len(view)
    for name in view.columns:
        col = view[name]
        column = str(name)
        expectations.append(gxe.ExpectColumnToExist(column=column))

        family = _family(col)
        if family is not None:
            expectations.append(
                gxe.ExpectColumnValuesToBeInTypeList(
                    column=column, type_list=_FAMILY_TYPES[family], meta={_META_KEY: {"family": family}}
                )
            )

        non_null = col.dropna()
        if column in (formats or {}):
            pass  # a restored column (ZIP3 -> ZIP): its format governs it, not model-space values
        elif family == "numeric" and len(non_null) and not pd.api.types.is_object_dtype(col.dtype):
            low, high = numeric_bounds(non_null, (bounds or {}).get(column))
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)
            )
        elif pd.api.types.is_object_dtype(col.dtype) and family not in ("datetime", "boolean"):
            try:
                distinct = pd.unique(non_null)
            except TypeError:  # unhashable cells (lists, dicts): no value set
                distinct = None
            if distinct is not None and 0 < len(distinct) <= max_categories:
                published = (categories or {}).get(column, ())  # declared public categories are allowed
                values = {_py(v) for v in distinct} | set(published)
                value_set = sorted(values, key=lambda v: (type(v).__name__, str(v)))
                expectations.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=value_set))

        null_share = float(col.isna().mean()) if rows else 0.0
        mostly = round(max(0.0, 1.0 - null_share - null_tolerance), 6)
        expectations.append(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column, mostly=mostly, meta={_META_KEY: {"reference_null_share": null_share}}
            )
        )

    expectations.extend(_format_expectations(formats, view.columns))

    return gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations)


def _format_expectations(formats: dict[str, str] | None, present) -> list:
    """Every value of a refilled or restored column matches its format (a column missing from the
    table is an expectation failure too, not an error)."""
    import great_expectations.expectations as gxe

    out = []
    for column, regex in (formats or {}).items():
        if column not in present:
            out.append(gxe.ExpectColumnToExist(column=column))
        out.append(
            gxe.ExpectColumnValuesToMatchRegex(
                column=column, regex=regex, mostly=1.0, meta={_META_KEY: {"format": True}}
            )
        )
    return out


def build_public_suite(
    schema: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    categories: Mapping[str, Sequence[str]] | None = None,
    extra_categories: Sequence[str] = (),
) -> gx.ExpectationSuite:
    """An expectation suite from public inputs only: no value of the real data shapes it.

    `schema` gives the columns and their warehouse types (its rows are not read: pass the masked
    table's head(0)); `bounds` and `categories` are the domains the spec declares (and public
    codomains such as every ZIP3 prefix); `formats` the regexes of refilled identifiers. Per
    column: it exists; its type family matches the warehouse type; numbers lie within the
    declared bounds (dates within a declared window of datetimes); categories are in the declared
    list (plus `extra_categories`, e.g. the public `(rare)` token). Bounds are inclusive and nulls
    pass them, so an honest generator that draws exactly the promised domain always passes.
    Columns without a declared domain get no range or set, and no null share is expected (a real
    null share would be a figure of the real data). Because the suite is a function of public
    inputs and the synthetic table, the check is free: no noise, no charge.
    """
    _gx()
    import great_expectations as gx_module
    import great_expectations.expectations as gxe

    expectations: list = []
    for name in schema.columns:
        column = str(name)
        expectations.append(gxe.ExpectColumnToExist(column=column))
        dtype = schema[name].dtype
        family = _family(schema[name].iloc[:0])
        if family is None and (pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)):
            family = "string"
        if family is not None:
            expectations.append(
                gxe.ExpectColumnValuesToBeInTypeList(
                    column=column, type_list=_FAMILY_TYPES[family], meta={_META_KEY: {"family": family}}
                )
            )
        if column in (formats or {}):
            continue
        declared_bounds = (bounds or {}).get(column)
        declared_set = (categories or {}).get(column)
        if family in ("numeric", "datetime") and declared_bounds is not None:
            low, high = declared_bounds
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)
            )
        elif declared_set is not None:
            values = sorted({_py(v) for v in declared_set} | set(extra_categories), key=str)
            expectations.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values))
    expectations.extend(_format_expectations(formats, schema.columns))
    return gx_module.ExpectationSuite(name=SUITE_NAME, expectations=expectations)


def _configs(suite: Any) -> list[dict]:
    """Plain ``{"type", "kwargs", "meta"}`` dicts from a suite, expectations or configs."""
    items = suite.expectations if hasattr(suite, "expectations") else suite
    out = []
    for item in items:
        if isinstance(item, Mapping):
            cfg = {"type": item["type"], "kwargs": dict(item["kwargs"]), "meta": dict(item.get("meta") or {})}
        else:
            config = item.configuration if hasattr(item, "configuration") else item
            cfg = {"type": config.type, "kwargs": dict(config.kwargs), "meta": dict(config.meta or {})}
        cfg["kwargs"].pop("batch_id", None)
        out.append(cfg)
    return out


def _exception_detail(exception_info: Any) -> str | None:
    """The exception class a failed evaluation raised (its message may quote cell values)."""
    if not isinstance(exception_info, Mapping):
        return None
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for info in infos:
        if isinstance(info, Mapping) and info.get("raised_exception"):
            last = (info.get("exception_traceback") or "").strip().splitlines()
            name = last[-1].split(":", 1)[0].rsplit(".", 1)[-1] if last else "error"
            return f"could not be evaluated ({name})"
    return None


def _detail(cfg: dict, success: bool, result: Mapping[str, Any], frame: pd.DataFrame) -> str:
    kind = cfg["type"]
    kwargs = cfg["kwargs"]
    column = kwargs.get("column")
    ours = cfg["meta"].get(_META_KEY, {})
    if kind == EXIST:
        return "column present" if success else "column missing"

    unexpected = int(result.get("unexpected_count") or 0)
    elements = int(result.get("element_count") or 0)
    missing = int(result.get("missing_count") or 0)
    non_null = max(elements - missing, 0)
    share_non_null = unexpected / non_null if non_null else 0.0

    if kind == TYPE:
        family = ours.get("family") or "/".join(kwargs.get("type_list", []))
        observed = result.get("observed_value")
        if observed is not None:
            return f"dtype {observed}; expected {family} family"
        if success:
            return f"values of {family} family"
        return f"{unexpected} of {non_null} non-null values ({_pct(share_non_null)}) not of {family} family"
    if kind == BETWEEN:
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        text = (
            f"{unexpected} values ({_pct(share_non_null)}) outside reference range [{_fmt(lo)}, {_fmt(hi)}]"
        )
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
            observed = values.dropna()
            if len(observed):
                text += f"; observed [{_fmt(observed.min())}, {_fmt(observed.max())}]"
        return text
    if kind == IN_SET:
        categories = len(kwargs.get("value_set") or [])
        return f"{unexpected} values ({_pct(share_non_null)}) outside the {categories} reference categories"
    if kind == NOT_NULL:
        nulls = unexpected / elements if elements else 0.0
        allowed = 1.0 - float(kwargs.get("mostly", 1.0))
        text = f"null share {_pct(nulls)}; allowed at most {_pct(allowed)}"
        if "reference_null_share" in ours:
            text += f" (reference {_pct(ours['reference_null_share'])})"
        return text
    if kind == REGEX:
        return f"{unexpected} of {non_null} non-null values ({_pct(share_non_null)}) do not match the format"
    return "passed" if success else "failed"


def run_suite(suite: Any, frame: pd.DataFrame) -> SuiteResult:
    """Validate ``frame`` against ``suite`` in one GX run and summarise the outcomes.

    ``suite`` is what ``build_suite`` returns, or a list of expectations / expectation
    configurations / ``{"type", "kwargs", "meta"}`` dicts. Each call uses its own ephemeral
    Data Context (pandas datasource, dataframe asset, whole-dataframe batch definition, one
    ValidationDefinition) and validates a fresh copy of the suite, so a suite can be reused.
    Outcomes follow the suite's order.
    """
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    configs = _configs(suite)
    if not configs:
        return SuiteResult(success=True, evaluated=0, failed=0, outcomes=[])
    view = _validation_view(frame)

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    tag = uuid.uuid4().hex[:12]
    batch_definition = (
        context.data_sources.add_pandas(f"synth_platform_{tag}")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole_frame")
    )
    fresh = context.suites.add(gx.ExpectationSuite(name=f"{SUITE_NAME}_{tag}", expectations=configs))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"validation_{tag}", data=batch_definition, suite=fresh)
    )
    result = validation.run(
        batch_parameters={"dataframe": view},
        # BASIC gives counts; partial_unexpected_count=0 keeps cell values out of the results.
        result_format={"result_format": "BASIC", "partial_unexpected_count": 0},
    )

    order = {exp.id: i for i, exp in enumerate(fresh.expectations)}
    ranked = sorted(result.results, key=lambda r: order.get(r.expectation_config.id, len(order)))
    columns = set(view.columns)
    outcomes: list[ExpectationOutcome] = []
    for res in ranked:
        config = res.expectation_config
        cfg = {"type": config.type, "kwargs": dict(config.kwargs), "meta": dict(config.meta or {})}
        column = _column_kwargs(cfg["kwargs"])
        success = bool(res.success)
        if column is not None and column not in columns and cfg["type"] != EXIST:
            detail = "column missing"
            success = False
        else:
            detail = _exception_detail(res.exception_info) or _detail(cfg, success, res.result or {}, view)
        outcomes.append(ExpectationOutcome(cfg["type"], column, success, detail))

    failed = sum(not o.success for o in outcomes)
    return SuiteResult(success=failed == 0, evaluated=len(outcomes), failed=failed, outcomes=outcomes)


# --------------------------------------------------------------------------------------------
# Fidelity
# --------------------------------------------------------------------------------------------

_TABLE = "table"


def _subsample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    frame = frame.reset_index(drop=True)
    # Categorical dtypes only change how SDMetrics groups (and make pandas warn about it).
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(categorical, object)) if categorical else frame


def quality_score(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict,
    max_rows: int = 5000,
    seed: int = 0,
) -> tuple[float, dict[str, float]]:
    """SDMetrics quality report: overall score and property scores.

    Returns ``(overall, {"Column Shapes": ..., "Column Pair Trends": ...})``. Both frames are
    cut to seeded random subsamples of at most ``max_rows`` rows (the pair trends are
    quadratic in columns and slow on many rows). ``metadata`` is an SDV single-table metadata
    dict (``{"columns": {name: {"sdtype": ...}}}``; a one-table ``{"tables": ...}`` dict is
    accepted too). Only metadata columns present in both frames are scored.
    """
    from sdmetrics.reports import QualityReport

    if max_rows < 1:
        raise ValueError("max_rows must be positive")
    table_meta = metadata
    if "tables" in metadata:
        tables = metadata["tables"]
        if len(tables) != 1:
            raise ValueError("quality_score takes single-table metadata")
        table_meta = next(iter(tables.values()))
    columns_meta = table_meta.get("columns") or {}
    columns = [c for c in columns_meta if c in real.columns and c in synthetic.columns]
    if not columns:
        raise ValueError("no metadata column is present in both frames")

    real_sample = _subsample(real[columns], max_rows, seed)
    synthetic_sample = _subsample(synthetic[columns], max_rows, seed + 1)
    report = QualityReport()
    report.generate(
        {_TABLE: real_sample},
        {_TABLE: synthetic_sample},
        {"tables": {_TABLE: {"columns": {c: dict(columns_meta[c]) for c in columns}}}},
        verbose=False,
    )
    properties = report.get_properties()
    scores = {str(p): float(s) for p, s in zip(properties["Property"], properties["Score"], strict=True)}
    return float(report.get_score()), scores
