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

from collections.abc import Callable, Mapping
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
    #: or '#########'; None: the detected type's default format (lib.deidentify.refill).
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
    nobody without the key can recompute or dictionary-attack them. Computed by the warehouse's SQL
    (`masking_sql.pseudonym`) on an in-memory DuckDB, as `apply_masking` does."""
    import duckdb

    from synth_platform.lib.deidentify import masking_sql
    from synth_platform.lib.storage.sql_dialect import DUCKDB, bind_duckdb, hmac_pads

    con = duckdb.connect()
    try:
        kinds = register_frame(con, "values_to_hash", values.to_frame("v"))
        ipad, opad = hmac_pads(bytes(key))
        sql = f"SELECT {masking_sql.pseudonym(DUCKDB.quote('v'), kinds['v'], DUCKDB)} FROM values_to_hash"
        with bind_duckdb(con, {"ps_ipad": ipad, "ps_opad": opad}):
            hashed = [row[0] for row in con.execute(sql).fetchall()]
    finally:
        con.close()
    return pd.Series(hashed, index=values.index, dtype=object)


def generalize(values: pd.Series, rule: str) -> pd.Series:
    """One generalisation rule on a series in pandas: the rule `masking_sql` writes in SQL (the test
    suite checks both agree); the chain and `apply_masking` use the SQL."""
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


def frame_kind(series: pd.Series, duckdb_type: str) -> str:
    """A frame column's kind for the SQL (`masking_sql`): DuckDB's type, and pandas' nullable
    integers (which stay integers where numpy's turn float)."""
    from synth_platform.lib.deidentify.masking_sql import kind_of_type

    if pd.api.types.is_integer_dtype(series.dtype) and pd.api.types.is_extension_array_dtype(series.dtype):
        return "nullable_int"
    return kind_of_type(duckdb_type)


def _as_duckdb_input(series: pd.Series) -> pd.Series:
    """An object column DuckDB can scan: mixed Python values become their `str` (what pandas'
    pseudonyms and ZIP3 read anyway); NULLs stay NULL."""
    if series.dtype != object:
        return series
    values = series.dropna()
    if values.map(lambda v: isinstance(v, str)).all():
        return series
    return series.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))


def register_frame(con, name: str, frame: pd.DataFrame) -> dict[str, str]:
    """Register a frame in an in-memory DuckDB; returns each column's kind."""
    names = [str(c) for c in frame.columns]
    if len({n.lower() for n in names}) < len(names):
        raise ValueError("column names must differ in more than upper/lower case (SQL names ignore case)")
    source = pd.DataFrame({str(c): _as_duckdb_input(frame[c]) for c in frame.columns}).reset_index(drop=True)
    con.register(name, source)
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {name})").fetchall())
    return {column: frame_kind(source[column], types[column]) for column in source.columns}


def _restore_dtype(result: pd.Series, kind: str, original: pd.Series) -> pd.Series:
    """The dtype pandas' masking gave the column (DuckDB hands integers with NULLs back as floats)."""
    if kind == "text":
        return result.astype(object).where(result.notna(), None)
    if kind == "nullable_int":
        return result.astype("Int64")
    if kind == "int":
        return result.astype(original.dtype) if result.notna().all() else result
    if kind == "float":
        return result.astype("float64")
    return result


def apply_masking(
    frame: pd.DataFrame, plan: list[ColumnTreatment], spec: DatasetSpec, key: bytes
) -> tuple[pd.DataFrame, MaskingReport]:
    """Mask a frame with the warehouse's SQL (`masking_sql`) on an in-memory DuckDB: one
    implementation for a test's ten rows and the warehouse's ten million."""
    import duckdb

    from synth_platform.lib.deidentify import masking_sql
    from synth_platform.lib.storage.sql_dialect import DUCKDB, bind_duckdb

    columns = [t.column for t in plan]
    con = duckdb.connect()
    try:
        kinds = register_frame(con, "frame_to_mask", frame[columns])
        source = DUCKDB.quote("frame_to_mask")
        sql, params = masking_sql.masking_select(plan, spec, source, kinds, key, DUCKDB)
        with bind_duckdb(con, params):
            result = con.execute(sql).df()
        counts_sql, fields = masking_sql.masking_counts_select(plan, spec, source, kinds, DUCKDB)
        row = con.execute(counts_sql).fetchone()
        out_kinds = masking_sql.output_kinds(plan, spec, kinds)
    finally:
        con.close()
    out: dict[str, pd.Series] = {}
    for treatment in plan:
        name = treatment.column
        if name not in out_kinds:
            continue
        if masking_sql.unchanged(treatment, spec, kinds[name]):
            out[name] = frame[name]  # kept as it is: the very column
            continue
        series = result[name]
        series.index = frame.index
        out[name] = _restore_dtype(series, out_kinds[name], frame[name])
    masked = pd.DataFrame(out, index=frame.index)
    return masked, masking_sql.masking_report(plan, fields, row)


def mask_table(
    con,
    plan: list[ColumnTreatment],
    spec: DatasetSpec,
    key: bytes,
    source: tuple[str, str],
    target: tuple[str, str],
    before_commit: Callable[[object], None] | None = None,
) -> MaskingReport:
    """Write `target` as the masked `source`, inside the warehouse (`masking_sql`): no row passes
    through Python. `before_commit(con)` runs in the write's transaction (the run-lease check);
    if it raises, the previous table stays. The key reaches DuckDB only as session variables."""
    from synth_platform.lib.deidentify import masking_sql
    from synth_platform.lib.storage.sql_dialect import DUCKDB, bind_duckdb
    from synth_platform.lib.storage.warehouse import SqlQuery, replacing_tables

    relation = DUCKDB.relation(*source)
    kinds = masking_sql.duckdb_column_kinds(con, relation)
    counts_sql, fields = masking_sql.masking_counts_select(plan, spec, relation, kinds, DUCKDB)
    report = masking_sql.masking_report(plan, fields, con.execute(counts_sql).fetchone())
    sql, params = masking_sql.masking_select(plan, spec, relation, kinds, key, DUCKDB)
    with bind_duckdb(con, params), replacing_tables(con, {target: SqlQuery(sql)}):
        if before_commit is not None:
            before_commit(con)
    return report
