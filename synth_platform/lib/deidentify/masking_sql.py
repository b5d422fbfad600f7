"""Masking as one SQL SELECT, so the `masked` table is computed where the raw table lives.

The rules are those of `lib.deidentify.masking` (its module docstring says why): drop direct identifiers,
pseudonymise the key with a keyed HMAC-SHA256, generalise quasi-identifiers, clip to declared
bounds for a DP synthesizer, and otherwise merge rare categories and winsorise at quantiles.
Everything here is a pure function returning SQL text for a `Dialect` (DuckDB or Spark SQL); the
key reaches the engine only as two hex parameters (the HMAC pads), never in the SQL text.

A column's *kind* says how pandas saw it, which decides the result exactly as `lib.deidentify.masking` did:

- ``text`` (VARCHAR, ENUM), ``float`` (DOUBLE, REAL, DECIMAL), ``bool``, ``date``, ``timestamp``;
- ``int``: a numpy integer column: integer through bounds clipping, DOUBLE after quantile clipping or
  binning (as pandas turned int64 into float64);
- ``nullable_int``: a pandas ``Int64`` column, which stays integer through every step.

Pseudonyms hash the text form `str(value)` of the pandas cell: the value itself for strings, its
digits for integers, Python's `repr` for doubles ('3.0'), 'True'/'False' for booleans and
'YYYY-MM-DD HH:MM:SS[.ffffff]' for dates and timestamps. One deliberate difference from reading
the table into pandas: an integer key column holding a NULL stays an integer ('7', where pandas,
which turned the column into float64, hashed '7.0').
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from synth_platform.lib.deidentify.masking import RARE_CATEGORY, ColumnTreatment, MaskingReport
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage.sql_dialect import Dialect, hmac_pads

KINDS = ("text", "int", "nullable_int", "float", "bool", "date", "timestamp", "other")
NUMERIC = ("int", "nullable_int", "float", "bool")
_INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "INT",
    "LONG",
    "SHORT",
    "BYTE",
)
_POS = "_synth_pos"


def kind_of_type(sql_type: str) -> str:
    """The kind of a DuckDB (or Spark) column type name."""
    name = sql_type.upper()
    if name.startswith("ENUM") or name in ("VARCHAR", "STRING", "TEXT") or name.startswith("VARCHAR"):
        return "text"
    if name in _INTEGER_TYPES or name.endswith("INT"):
        return "int"
    if name in ("DOUBLE", "FLOAT", "REAL") or name.startswith("DECIMAL"):
        return "float"
    if name == "BOOLEAN":
        return "bool"
    if name == "DATE":
        return "date"
    if name.startswith("TIMESTAMP"):
        return "timestamp"
    return "other"


def duckdb_column_kinds(con, relation: str) -> dict[str, str]:
    """Each column's kind, from DuckDB's DESCRIBE of a table or registered frame (no row read)."""
    return {row[0]: kind_of_type(row[1]) for row in con.execute(f"DESCRIBE {relation}").fetchall()}


# --- value expressions ------------------------------------------------------------------------


def _num(value: float) -> str:
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        return f"CAST('{number!r}' AS DOUBLE)"
    return f"CAST({number!r} AS DOUBLE)"


def is_missing(expr: str, kind: str) -> str:
    """pandas' `isna` of a cell: NULL, or NaN in a double column."""
    if kind == "float":
        return f"({expr} IS NULL OR isnan({expr}))"
    return f"({expr} IS NULL)"


def python_str(expr: str, kind: str, dialect: Dialect) -> str:
    """`str(value)` of the pandas cell (see the module docstring), as SQL text."""
    if kind == "text":
        return dialect.to_text(expr)
    if kind in ("int", "nullable_int"):
        return dialect.to_text(expr)
    if kind == "float":
        return dialect.double_text(f"CAST({expr} AS DOUBLE)")
    if kind == "bool":
        return f"CASE WHEN {expr} THEN 'True' ELSE 'False' END"
    if kind in ("date", "timestamp"):
        ts = f"CAST({expr} AS TIMESTAMP)"
        micro = dialect.microsecond(ts)
        base = dialect.iso_seconds(ts)
        return (
            f"concat(replace({base}, 'T', ' '), CASE WHEN {micro} = 0 THEN '' "
            f"ELSE concat('.', lpad({dialect.to_text(micro)}, 6, '0')) END)"
        )
    return dialect.to_text(expr)


def pseudonym(expr: str, kind: str, dialect: Dialect, ipad: str = "ps_ipad", opad: str = "ps_opad") -> str:
    """'ps_' + the first 24 hex digits of HMAC-SHA256(key, str(value)); NULL stays NULL."""
    digest = dialect.hmac_sha256_hex(ipad, opad, dialect.utf8(python_str(expr, kind, dialect)))
    return f"CASE WHEN {is_missing(expr, kind)} THEN NULL ELSE concat('ps_', substr({digest}, 1, 24)) END"


@dataclass(frozen=True)
class _Column:
    """One masked column on its way through the stages: its SQL, kind, and what follows."""

    name: str
    expr: str
    kind: str
    rare: bool = False  # merge rare categories (non-DP, text)
    outliers: bool = False  # winsorise at quantiles (non-DP, numeric)
    bounds: tuple[float, float] | None = None  # clipped to declared bounds (DP, numeric)
    bounds_source: str | None = None  # the double the bounds were compared on


def _generalize(expr: str, kind: str, rule: str, dialect: Dialect) -> tuple[str, str]:
    """`masking.generalize` in SQL: (expression, kind of the result)."""
    if rule == "zip3":
        text = dialect.strip(python_str(expr, kind, dialect))
        return f"CASE WHEN length({text}) >= 3 THEN substr({text}, 1, 3) ELSE NULL END", "text"
    if rule in ("year", "month"):
        if kind in ("date", "timestamp"):
            ts = f"CAST({expr} AS TIMESTAMP)"
        else:
            ts = dialect.try_timestamp(dialect.to_text(expr))
        if rule == "year":
            return f"CAST(year({ts}) AS BIGINT)", "nullable_int"
        return dialect.format_year_month(ts), "text"
    if rule.startswith("bin:"):
        width = int(rule.split(":", 1)[1])
        number = f"CAST({expr} AS DOUBLE)" if kind in NUMERIC else dialect.try_double(dialect.to_text(expr))
        binned = f"(floor({number} / {width}) * {width})"
        if kind == "nullable_int":
            return f"CAST({binned} AS BIGINT)", "nullable_int"
        return f"CAST({binned} AS DOUBLE)", "float"
    raise ValueError(f"unknown generalisation {rule!r}")


def _clip_to_bounds(expr: str, kind: str, bounds: tuple[float, float], dialect: Dialect) -> tuple[str, str]:
    number = f"CAST({expr} AS DOUBLE)"
    low, high = _num(bounds[0]), _num(bounds[1])
    clipped = f"(CASE WHEN {number} < {low} THEN {low} WHEN {number} > {high} THEN {high} ELSE {number} END)"
    if kind in ("int", "nullable_int"):  # integers stay integers
        return f"CAST({dialect.round_half_even(clipped)} AS BIGINT)", kind
    return clipped, "float"


def _columns(
    plan: Sequence[ColumnTreatment], spec: DatasetSpec, kinds: Mapping[str, str], dialect: Dialect
) -> list[_Column]:
    """Every column that stays, with its expression over the source (before the data-dependent steps)."""
    private = spec.synthesizer.kind == "dp_mst"
    out = []
    for treatment in plan:
        name, kind = treatment.column, kinds[treatment.column]
        expr = dialect.quote(name)
        if treatment.action == "drop":
            continue
        if treatment.action == "pseudonymize":
            out.append(_Column(name, pseudonym(expr, kind, dialect), "text"))
            continue
        bounds = spec.columns[name].bounds
        clipped_bounds, source = None, None
        if private and bounds is not None and kind in NUMERIC:
            clipped_bounds, source = (float(bounds[0]), float(bounds[1])), f"CAST({expr} AS DOUBLE)"
            expr, kind = _clip_to_bounds(expr, kind, clipped_bounds, dialect)
        if treatment.action == "generalize":
            expr, kind = _generalize(expr, kind, treatment.generalize or "", dialect)
        rare = not private and kind == "text"
        outliers = not private and kind in NUMERIC and bool(spec.masking.outlier_quantiles)
        if kind == "text":
            expr = dialect.to_text(expr)  # ENUMs (pandas categories) compare as text
        out.append(_Column(name, expr, kind, rare, outliers, clipped_bounds, source))
    return out


def _stages(
    plan: Sequence[ColumnTreatment],
    spec: DatasetSpec,
    source_relation: str,
    kinds: Mapping[str, str],
    dialect: Dialect,
) -> tuple[list[_Column], str]:
    """The columns and the CTEs every masking query shares: `staged` (one row per source row, in
    order), `rare_<i>` (the rare values of a column, with their counts), `bounds_q` (the quantiles)."""
    columns = _columns(plan, spec, kinds, dialect)
    select = [f"{dialect.position()} AS {_POS}"]
    for i, column in enumerate(columns):
        select.append(f"{column.expr} AS c{i}")
        if column.bounds_source is not None:
            select.append(f"{column.bounds_source} AS b{i}")
    ctes = [f"staged AS (SELECT {', '.join(select)} FROM {source_relation})"]
    minimum = int(spec.masking.rare_category_min_count)
    quantiles, sources = [], []
    for i, column in enumerate(columns):
        if column.rare:
            ctes.append(
                f"rare_{i} AS (SELECT c{i} AS v, count(*) AS n FROM staged WHERE c{i} IS NOT NULL "
                f"GROUP BY c{i} HAVING count(*) < {max(minimum, 0)})"
            )
        if column.outliers:
            ctes += _quantile_ctes(i, spec.masking.outlier_quantiles)
            quantiles += [f"q{i}.lo AS lo{i}", f"q{i}.hi AS hi{i}"]
            sources.append(f"q{i}")
    if quantiles:
        ctes.append(f"bounds_q AS (SELECT {', '.join(quantiles)} FROM {' CROSS JOIN '.join(sources)})")
    return columns, "WITH " + ",\n".join(ctes)


def _numpy_q(q: float) -> str:
    """The quantile numpy computes with: pandas passes `q * 100` to `np.percentile`, which divides
    by 100 again (not always q itself in the last bit)."""
    return _num((float(q) * 100.0) / 100.0)


def _lerp(a: str, b: str, gamma: str) -> str:
    """numpy's `_lerp`: from the nearer end, so equal neighbours give the value exactly."""
    upper, lower = f"{b} - ({b} - {a}) * (1 - {gamma})", f"{a} + ({b} - {a}) * {gamma}"
    return f"(CASE WHEN {gamma} >= 0.5 THEN {upper} ELSE {lower} END)"


def _quantile_ctes(i: int, quantiles: tuple[float, float]) -> list[str]:
    """pandas' linear quantiles of column i, to the last bit: the sorted non-missing values
    (`ord_i`), numpy's virtual index (n - 1) * q, its two neighbours and numpy's interpolation.
    (SQL's own `quantile_cont` rounds differently: two equal neighbours can give a value one bit
    off, and then every row of that value counts as an outlier.)"""
    low, high = _numpy_q(quantiles[0]), _numpy_q(quantiles[1])
    value = f"CAST(c{i} AS DOUBLE)"
    ends = []
    for end, q in (("lo", low), ("hi", high)):
        ends += [
            f"(count(*) - 1) * {q} AS vi_{end}",
            f"floor((count(*) - 1) * {q}) AS p_{end}",
        ]
    picks = []
    for end in ("lo", "hi"):
        previous = f"CASE WHEN vi_{end} >= n - 1 THEN n - 1 ELSE p_{end} END"
        following = f"CASE WHEN vi_{end} >= n - 1 THEN n - 1 ELSE p_{end} + 1 END"
        picks += [
            f"max(CASE WHEN k = {previous} THEN v END) AS a_{end}",
            f"max(CASE WHEN k = {following} THEN v END) AS b_{end}",
            f"max(vi_{end} - p_{end}) AS g_{end}",
        ]
    return [
        f"ord_{i} AS (SELECT v, row_number() OVER (ORDER BY v) - 1 AS k FROM "
        f"(SELECT {value} AS v FROM staged WHERE NOT {is_missing(value, 'float')}) AS present)",
        f"pos_{i} AS (SELECT count(*) AS n, {', '.join(ends)} FROM ord_{i})",
        f"pick_{i} AS (SELECT {', '.join(picks)} FROM ord_{i} CROSS JOIN pos_{i})",
        f"q{i} AS (SELECT {_lerp('a_lo', 'b_lo', 'g_lo')} AS lo, "
        f"{_lerp('a_hi', 'b_hi', 'g_hi')} AS hi FROM pick_{i})",
    ]


def _from(columns: Sequence[_Column]) -> str:
    joins = ["staged"]
    for i, column in enumerate(columns):
        if column.rare:
            joins.append(f"LEFT JOIN rare_{i} ON staged.c{i} = rare_{i}.v")
    if any(c.outliers for c in columns):
        joins.append("CROSS JOIN bounds_q")
    return " ".join(joins)


def _final(i: int, column: _Column, dialect: Dialect) -> str:
    if column.rare:
        return f"CASE WHEN rare_{i}.v IS NOT NULL THEN {dialect.literal(RARE_CATEGORY)} ELSE staged.c{i} END"
    if column.outliers:
        value = f"CAST(staged.c{i} AS DOUBLE)"
        clipped = (
            f"(CASE WHEN {value} < bounds_q.lo{i} THEN bounds_q.lo{i} WHEN {value} > bounds_q.hi{i} "
            f"THEN bounds_q.hi{i} ELSE {value} END)"
        )
        if column.kind == "nullable_int":
            return f"CAST({dialect.round_half_even(clipped)} AS BIGINT)"
        return clipped
    return f"staged.c{i}"


def masking_select(
    plan: Sequence[ColumnTreatment],
    spec: DatasetSpec,
    source_relation: str,
    kinds: Mapping[str, str],
    key: bytes,
    dialect: Dialect,
) -> tuple[str, dict[str, str]]:
    """(SELECT of the masked table, its parameters): the plan's columns in plan order, dropped ones
    left out, rows in source order. The parameters are the pseudonym key's HMAC pads (hex)."""
    columns, with_ = _stages(plan, spec, source_relation, kinds, dialect)
    outputs = [f"{_final(i, c, dialect)} AS {dialect.quote(c.name)}" for i, c in enumerate(columns)]
    if not outputs:
        raise ValueError("the masking plan keeps no column")
    joined = any(c.rare or c.outliers for c in columns)
    # rows in source order; a plain projection of the scan keeps it in DuckDB without a sort
    order = "" if dialect.projection_keeps_order and not joined else f" ORDER BY staged.{_POS}"
    sql = f"{with_}\nSELECT {', '.join(outputs)} FROM {_from(columns)}{order}"
    ipad, opad = hmac_pads(bytes(key))
    params = {"ps_ipad": ipad, "ps_opad": opad} if any(t.action == "pseudonymize" for t in plan) else {}
    return sql, params


def masking_counts_select(
    plan: Sequence[ColumnTreatment],
    spec: DatasetSpec,
    source_relation: str,
    kinds: Mapping[str, str],
    dialect: Dialect,
) -> tuple[str, list[tuple[str, str]]]:
    """(one-row SELECT of the report's counts, what each result column counts): ("rare", column) is
    the rows merged into '(rare)', ("clipped", column) the values outside the bounds or quantiles.
    Needs no key: pseudonyms are not computed."""
    no_key_plan = [t if t.action != "pseudonymize" else _dropped(t) for t in plan]
    columns, with_ = _stages(no_key_plan, spec, source_relation, kinds, dialect)
    fields: list[tuple[str, str]] = []
    counts: list[str] = []
    for i, column in enumerate(columns):
        if column.bounds is not None:
            low, high = _num(column.bounds[0]), _num(column.bounds[1])
            fields.append(("clipped", column.name))
            counts.append(f"(SELECT count(*) FROM staged WHERE b{i} < {low} OR b{i} > {high})")
        if column.rare:
            fields.append(("rare", column.name))
            counts.append(f"(SELECT coalesce(sum(n), 0) FROM rare_{i})")
        if column.outliers:
            value = f"CAST(staged.c{i} AS DOUBLE)"
            fields.append(("clipped", column.name))
            counts.append(
                f"(SELECT count(*) FROM staged CROSS JOIN bounds_q WHERE {value} < bounds_q.lo{i} "
                f"OR {value} > bounds_q.hi{i})"
            )
    if not counts:
        return "SELECT 0 AS nothing", []
    return f"{with_}\nSELECT {', '.join(f'{c} AS n{i}' for i, c in enumerate(counts))}", fields


def output_kinds(
    plan: Sequence[ColumnTreatment], spec: DatasetSpec, kinds: Mapping[str, str]
) -> dict[str, str]:
    """Each masked column's kind (dropped columns absent), as the SELECT leaves it."""
    from synth_platform.lib.storage.sql_dialect import DUCKDB

    out = {}
    for column in _columns(plan, spec, kinds, DUCKDB):
        kind = column.kind
        if column.outliers and kind != "nullable_int":
            kind = "float"
        out[column.name] = kind
    return out


def unchanged(treatment: ColumnTreatment, spec: DatasetSpec, kind: str) -> bool:
    """True when masking leaves the column exactly as it was (kept, nothing clipped or merged)."""
    if treatment.action != "keep":
        return False
    private = spec.synthesizer.kind == "dp_mst"
    if private:
        return not (spec.columns[treatment.column].bounds is not None and kind in NUMERIC)
    if kind == "text":
        return spec.masking.rare_category_min_count <= 1
    if kind in NUMERIC:
        return not spec.masking.outlier_quantiles
    return True


def _dropped(treatment: ColumnTreatment) -> ColumnTreatment:
    return ColumnTreatment(treatment.column, treatment.pii_class, treatment.detected_type, "drop")


def masking_report(
    plan: Sequence[ColumnTreatment], fields: Sequence[tuple[str, str]], row: Sequence[object]
) -> MaskingReport:
    """The MaskingReport from the counts query's row (`masking_counts_select`)."""
    rare: dict[str, int] = {}
    clipped: dict[str, int] = {}
    for (what, column), value in zip(fields, row, strict=False):
        (rare if what == "rare" else clipped)[column] = int(value or 0)
    return MaskingReport(list(plan), rare, clipped)
