"""Privacy checks that need no model of the data: exact copies and identifier leaks.

* exact copies: synthetic rows identical to a training row;
* identifier leaks: any raw direct-identifier value of the source, in any column.

The calibrated attacks (close and near copies, membership inference, anonymeter's
singling out / linkability / inference, unique people) live in `lib/gate/attacks/`; they
replaced the distance-to-closest-record train share that used to be here, which a table
of planted real people passed (see `lib/gate/attacks/closest_record.py` for why).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synth_platform.lib.deidentify.refill import (
    NUMERIC_COLUMN_TYPES,
    forbidden_values,
    raw_reserved_regex,
    reserved_space_regex,
)
from synth_platform.lib.gate.identifier_match import WHITESPACE_CLASS


@dataclass(frozen=True)
class ExactCopyResult:
    copies: int
    share: float
    holdout_baseline_share: float  # how often a *real* unseen row equals a training row


@dataclass(frozen=True)
class LeakResult:
    leaked_cells: int  # cells equal to an identifying raw value: a leak, blocking
    columns_with_leaks: dict[str, int]
    coincidences: int = 0  # cells equal only to a common raw value (a name): chance, reported
    columns_with_coincidences: dict[str, int] = field(default_factory=dict)
    rule: str = ""  # how a leak is told from a coincidence, for the report
    #: cells of refilled columns inside their refill's reserved space: never compared (see RESERVED_RULE)
    reserved_cells: int = 0
    columns_in_reserved_space: dict[str, int] = field(default_factory=dict)


def _canonical(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns as comparable strings (1 == 1.0, NaN == None), so equal rows hash equal."""
    out = {}
    for column in columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            values = pd.to_numeric(values, errors="coerce").astype("float64").round(9)
        out[column] = values.astype("string").fillna("<NA>")
    return pd.DataFrame(out)


def _row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return pd.util.hash_pandas_object(_canonical(frame, columns), index=False).to_numpy()


def exact_copies(synthetic: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, columns: list[str]):
    train_hashes = _row_hashes(train, columns)
    synthetic_copies = np.isin(_row_hashes(synthetic, columns), train_hashes)
    holdout_copies = np.isin(_row_hashes(holdout, columns), train_hashes)
    return ExactCopyResult(
        copies=int(synthetic_copies.sum()),
        share=float(synthetic_copies.mean()) if len(synthetic) else 0.0,
        holdout_baseline_share=float(holdout_copies.mean()) if len(holdout) else 0.0,
    )


LEAK_RULE = (
    "a synthetic cell is a leak when it equals a raw direct identifier of the source in any written "
    "form (case, spaces and separators, phone country code and extension, 'Smith, John' word order); "
    "raw values shorter than 6 characters once trimmed (a short code, initials, a key under 100000) "
    "are not compared, since every column is searched and such a value turns up there by chance; "
    "when the raw value is a common one (one to six words, each a dictionary first or last name), "
    "many people share it and a fake-name generator produces it by chance, so equality is a "
    "coincidence: counted and reported, not a leak"
)
RESERVED_RULE = (
    "; a cell of a refilled column inside its refill's reserved space (a fictional 555-01xx phone, "
    "an SSN of group 00, an example.com e-mail, the SYN- id prefix, a documentation IP or MAC, as "
    "the approved plan's kind and format declare it) is a function of the refill's seed only, never "
    "of data, so it is not compared (counted apart as reserved); a raw value inside a public reserved "
    "space (a fictional phone, an example.com e-mail, an SSN of group 00) identifies nobody and is not "
    "compared either; every other cell -- model columns, refilled cells outside their space, names -- "
    "keeps the rule above"
)


@dataclass(frozen=True)
class ReservedSpaces:
    """Declared, public patterns (never learnt from data) of what cannot be a leak: per refilled
    column, the reserved space its fakes are drawn from (`refill.reserved_space_regex`, matched on
    the cell as written); per raw identifier column, the public reserved space of its type
    (`refill.raw_reserved_regex`, matched on the trimmed lower-case text)."""

    synthetic: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)


def reserved_spaces(plan, column_types: dict[str, str]) -> ReservedSpaces:
    """The reserved spaces of a plan's refilled columns. `column_types`: column -> the spec's type
    (`string`, `integer`, ...) or a DuckDB type (a whole-number column is refilled with digits)."""
    synthetic, raw = {}, {}
    for treatment in plan:
        if treatment.reaches_model:
            continue
        column_type = _spec_type(column_types.get(treatment.column, "string"))
        fake = reserved_space_regex(treatment.detected_type, treatment.format, column_type)
        real = raw_reserved_regex(treatment.detected_type, column_type)
        if fake is not None:
            synthetic[treatment.column] = fake
        if real is not None:
            raw[treatment.column] = real
    return ReservedSpaces(synthetic, raw)


def _spec_type(column_type: str) -> str:
    """`integer` for a DuckDB numeric type, else the type as given (the refill only asks numeric or not)."""
    if column_type in NUMERIC_COLUMN_TYPES:
        return column_type
    return "integer" if _kind(column_type) == "numeric" else column_type


def _full_match(texts: pa.Array, regex: str) -> np.ndarray:
    """Which texts match `regex` in full, with RE2 (as DuckDB's `regexp_full_match`); null: no."""
    hit = pc.match_substring_regex(texts, f"^(?:{regex})$")
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)


def in_synthetic_space(values: pd.Series, regex: str | None) -> np.ndarray:
    """Which cells (non-null, as written: `str` of the value) lie inside a refill's reserved space."""
    if regex is None or values.empty:
        return np.zeros(len(values), dtype=bool)
    text = values.astype(object).where(values.isna(), values.astype(str))
    return _full_match(pa.array(text.to_numpy(dtype=object), type=pa.string(), from_pandas=True), regex)


def in_raw_space(values: pd.Series, regex: str | None) -> np.ndarray:
    """Which raw values (trimmed, lower-case) lie inside a public reserved space: they identify nobody."""
    if regex is None or values.empty:
        return np.zeros(len(values), dtype=bool)
    from synth_platform.lib.gate.identifier_match import _arrow_text

    return _full_match(_arrow_text(values), regex)


def outside_raw_spaces(
    raw_identifiers: Iterable[pd.Series], reserved: ReservedSpaces | None
) -> list[pd.Series]:
    """The raw identifiers without their values inside a public reserved space (by series name)."""
    out = []
    for series in raw_identifiers:
        regex = reserved.raw.get(str(series.name)) if reserved is not None else None
        out.append(series[~in_raw_space(series, regex)] if regex is not None else series)
    return out


def _leak_result(
    per_column: dict[str, int], by_chance: dict[str, int], reserved: dict[str, int] | None = None
) -> LeakResult:
    """Leaked, coincidental and reserved-space cells per column as the gate reports them (counts only)."""
    return LeakResult(
        leaked_cells=sum(per_column.values()),
        columns_with_leaks=per_column,
        coincidences=sum(by_chance.values()),
        columns_with_coincidences=by_chance,
        rule=LEAK_RULE + RESERVED_RULE,
        reserved_cells=sum((reserved or {}).values()),
        columns_in_reserved_space=dict(reserved or {}),
    )


def identifier_leaks(
    synthetic: pd.DataFrame, raw_identifiers: Iterable[pd.Series], reserved: ReservedSpaces | None = None
) -> LeakResult:
    """Count synthetic cells (in any column) equal to a raw direct identifier of the source.

    Cells equal to an *identifying* raw value (an e-mail, a number, an address, an id) are
    leaks; cells equal only to a *common* raw value (a name many people share) are chance
    coincidences, counted apart (`LEAK_RULE` says how the two are told apart). Only counts
    are returned: the leaked values themselves must not travel further. With `reserved` (the
    plan's `ReservedSpaces`), refilled cells inside their space and raw values inside a public
    reserved space are not compared (`RESERVED_RULE`); the SQL scan skips the same ones.
    """
    forbidden = forbidden_values(outside_raw_spaces(raw_identifiers, reserved))
    per_column: dict[str, int] = {}
    by_chance: dict[str, int] = {}
    in_space: dict[str, int] = {}
    for column in synthetic.columns:
        # Each distinct value is looked up once: a category column of a million rows costs a few lookups.
        codes, uniques = pd.factorize(synthetic[column].dropna())
        uniques = pd.Series(uniques)
        regex = reserved.synthetic.get(str(column)) if reserved is not None else None
        skipped = in_synthetic_space(uniques, regex)
        distinct_identifying, distinct_common = forbidden.classify(uniques)
        distinct_identifying &= ~skipped
        distinct_common &= ~skipped
        identifying, common = distinct_identifying[codes], distinct_common[codes]
        if identifying.any():
            per_column[str(column)] = int(identifying.sum())
        if common.any():
            by_chance[str(column)] = int(common.sum())
        if skipped.any():
            in_space[str(column)] = int(skipped[codes].sum())
    return _leak_result(per_column, by_chance, in_space)


# --- Whole-table figures inside the warehouse (the gate never holds a large table in pandas) ------
#
# Exact copies and identifier leaks must stay exact: a copy or a leaked value is one row among
# millions, which no sample would find. Both run as DuckDB scans over the whole tables; only
# counts (and, for leaks, the few candidate cells the Python rule then judges) come back.


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def table_columns(con, schema: str, table: str) -> dict[str, str]:
    """Column name -> DuckDB type of a warehouse table (from the catalogue: no row read)."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return dict(rows)


_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
_UNSIGNED = ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT")


def _kind(data_type: str) -> str:
    """numeric | temporal | text: how `_canonical` renders a column of this DuckDB type."""
    upper = data_type.upper()
    if upper.startswith(_NUMERIC_TYPES) or upper.startswith(_UNSIGNED):
        return "numeric"
    if upper.startswith(("DATE", "TIMESTAMP")):
        return "temporal"
    return "text"


def _generalized_sql(expression: str, rule: str) -> tuple[str, str]:
    """(SQL, kind) of `masking.generalize(values, rule)`, for the synthetic table in model space."""
    if rule == "zip3":
        text = f"trim(CAST({expression} AS VARCHAR))"
        return f"CASE WHEN length({text}) >= 3 THEN substr({text}, 1, 3) END", "text"
    if rule == "year":
        return f"year(TRY_CAST({expression} AS TIMESTAMP))", "numeric"
    if rule == "month":
        return f"strftime(TRY_CAST({expression} AS TIMESTAMP), '%Y-%m')", "text"
    if rule.startswith("bin:"):
        width = int(rule.split(":", 1)[1])
        return f"floor(TRY_CAST({expression} AS DOUBLE) / {width}) * {width}", "numeric"
    raise ValueError(f"unknown generalisation {rule!r}")


def _canonical_sql(expression: str, kind: str) -> str:
    """A column as comparable text, like `_canonical`: numbers as doubles rounded to 9 places
    (1 == 1.0), dates as timestamps; NULL stays NULL (compared NULL-safe)."""
    if kind == "numeric":
        return f"CAST(round(TRY_CAST({expression} AS DOUBLE), 9) AS VARCHAR)"
    if kind == "temporal":
        return f"CAST(TRY_CAST({expression} AS TIMESTAMP) AS VARCHAR)"
    return f"CAST({expression} AS VARCHAR)"


def model_space_select(
    plan, like_types: dict[str, str], source_types: dict[str, str], real: bool
) -> list[str]:
    """Per model column, the SQL of its canonical model-space value (`c0`, `c1`, ...).

    `real`: a masked train / holdout table (a generalised value suppressed as rare is missing,
    as `evaluation.withhold_rare_generalized`); otherwise the synthetic table in source shape,
    generalised again (`evaluation.to_model_space`). The comparison kind of each column is the
    training table's type (`like_types`), as `to_model_space` casts to it.
    """
    out = []
    for i, treatment in enumerate(t for t in plan if t.reaches_model):
        column = _ident(treatment.column)
        kind = _kind(like_types.get(treatment.column, "VARCHAR"))
        generalised = treatment.action == "generalize" and treatment.generalize
        if real:
            expression = column
            if generalised and _kind(source_types.get(treatment.column, "VARCHAR")) == "text":
                expression = f"CASE WHEN {column} = '(rare)' THEN NULL ELSE {column} END"
        elif generalised:
            expression, _ = _generalized_sql(column, treatment.generalize)
        else:
            expression = column
        out.append(f"{_canonical_sql(expression, kind)} AS c{i}")
    return out


def _model_space_relation(con, plan, schema: str, table: str, like_types: dict, real: bool) -> str:
    types = table_columns(con, schema, table)
    select = ", ".join(model_space_select(plan, like_types, types, real))
    return f"(SELECT {select} FROM {_ident(schema)}.{_ident(table)})"


def _null_safe_on(count: int, left: str = "a", right: str = "b") -> str:
    return " AND ".join(f"{left}.c{i} IS NOT DISTINCT FROM {right}.c{i}" for i in range(count)) or "TRUE"


def exact_copies_sql(con, plan, synthetic: tuple[str, str], train: tuple[str, str], holdout: tuple[str, str]):
    """`exact_copies` over the whole warehouse tables: a NULL-safe semi-join of the synthetic
    table (generalised again) and of the holdout against the training split, on the model columns
    (a semi-join keeps a left row once whatever the right duplicates: no DISTINCT of the split).
    Returns the same `ExactCopyResult` as the pandas version (only counts leave DuckDB)."""
    like = table_columns(con, *train)
    n = sum(1 for t in plan if t.reaches_model)
    syn = _model_space_relation(con, plan, *synthetic, like, real=False)
    trn = _model_space_relation(con, plan, *train, like, real=True)
    hol = _model_space_relation(con, plan, *holdout, like, real=True)

    def copies(left: str) -> tuple[int, int]:
        row = con.execute(
            f"SELECT (SELECT count(*) FROM {left} a SEMI JOIN {trn} b "
            f"ON {_null_safe_on(n)}), (SELECT count(*) FROM {left})"
        ).fetchall()[0]
        return int(row[0]), int(row[1])

    copied, n_synthetic = copies(syn)
    baseline, n_holdout = copies(hol)
    return ExactCopyResult(
        copies=copied,
        share=copied / n_synthetic if n_synthetic else 0.0,
        holdout_baseline_share=baseline / n_holdout if n_holdout else 0.0,
    )


# Identifier leaks: candidate cells by a SQL semi-join on coarse keys, judged by the Python rule.
#
# Every written form the Python rule compares (`identifier_match._forms`: trimmed lower text; the
# text without separators; a phone's national digits; a name's sorted words) has a key: a form
# with a digit, with its separators (whitespace, `,.-/()`) deleted; a form without digits, its
# words sorted and joined. Two equal forms have equal keys, and each value is keyed under every
# form it has, so the semi-join on keys finds a superset of the cells the rule flags; the rule,
# run on those candidates only, gives exactly the counts it gives on the whole tables.

#: whitespace as the Python rule trims and splits it (Arrow's `utf8_trim_whitespace`,
#: `utf8_split_whitespace`): RE2's `\s` and `\p{Z}` miss the vertical tab, the information
#: separators U+001C..U+001F and NEL U+0085, so a raw "name\v" or "a\x85b" was keyed apart
#: from the text the rule compares (a test checks the class against Arrow's, code point by point)
_SPACE_CLASS = WHITESPACE_CLASS  # the rule's own (`identifier_match`)
_SPACE_RE = f"[{_SPACE_CLASS}]"
_SEPARATORS = f"[{_SPACE_CLASS},.\\-/()]+"
#: `identifier_match._EXTENSION`, the same RE2 syntax
_EXTENSION_SQL = r"\s*(?:x|ext\.?|extension|#)\s*\d{1,6}$"


def _keys_from(rows: str) -> str:
    """SQL of (v, k) from `rows`, a relation of (v, low): each text `v` with every key of its trimmed
    lower-case text `low` (see above). A national-digits key only for a digit-rich value
    (`identifier_match.is_digit_identifier`), as the rule forms it.

    Each regex runs once per value, in stages (a column computed once is read by the next stage;
    spelt inline, the digits' regex ran some eight times per value and the trim under every one),
    the extension regex only on a text with an `x` or a `#`, without which it cannot match, and
    fixed characters are deleted by `replace`: the same keys at less than half the cost."""
    split = f"regexp_split_to_array(replace(replace(low, ',', ' '), '.', ' '), '{_SPACE_RE}+')"
    # empty words (leading spaces) sort first and add nothing to the joined text: none is filtered
    # out; the words hold no space, comma or dot, so only `-/()` are left to delete
    sorted_words = f"array_to_string(list_sort({split}), '')"
    for separator in "-/()":
        sorted_words = f"replace({sorted_words}, '{separator}', '')"
    extension = f"regexp_replace(low, '{_EXTENSION_SQL}', '')"
    bare = f"CASE WHEN contains(low, 'x') OR contains(low, '#') THEN {extension} ELSE low END"
    staged = (
        "SELECT v, has_digit, squeezed, words, bare, regexp_replace(bare, '\\D+', '', 'g') AS digits FROM ("
        f"SELECT v, has_digit, CASE WHEN has_digit THEN regexp_replace(low, '{_SEPARATORS}', '', 'g') END "
        f"AS squeezed, CASE WHEN has_digit THEN {bare} END AS bare, "
        f"CASE WHEN NOT has_digit THEN {sorted_words} END AS words "
        f"FROM (SELECT v, low, regexp_matches(low, '\\d') AS has_digit FROM {rows}))"
    )
    national = "CASE WHEN digits LIKE '00%' THEN substr(digits, 3) ELSE digits END"
    national = (
        "CASE WHEN length(digits) >= 7 AND length(digits) * 10 >= length(bare) * 6 THEN "
        f"CASE WHEN length({national}) = 11 AND {national} LIKE '1%' "
        f"THEN substr({national}, 2) ELSE {national} END END"
    )
    keys = (
        f"CASE WHEN has_digit THEN list_filter([squeezed, {national}], lambda k: k IS NOT NULL) "
        "ELSE [words] END"
    )
    return f"SELECT v, unnest({keys}) AS k FROM ({staged})"


def _value_texts(column: str, data_type: str) -> list[str]:
    """The texts under which pandas writes a cell of this type (`str(value)`)."""
    if _kind(data_type) == "temporal":
        return [f"CAST({column} AS VARCHAR)", f"CAST(CAST({column} AS TIMESTAMP) AS VARCHAR)"]
    return [f"CAST({column} AS VARCHAR)"]


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _keys_select(
    column: str, data_type: str, source: str, skip_written: str | None = None, skip_low: str | None = None
) -> str:
    """(col, v, k): every distinct non-null value of one column as text, with each of its keys.
    Values inside a reserved space are skipped before keying: `skip_written` matched on the cell as
    written (a refilled column's fakes), `skip_low` on its trimmed lower-case text (raw values)."""
    name = _literal(column)
    where = f"{_ident(column)} IS NOT NULL"
    if skip_written is not None:
        where += f" AND NOT regexp_full_match(CAST({_ident(column)} AS VARCHAR), {_literal(skip_written)})"
    distinct = f"(SELECT DISTINCT {_ident(column)} AS x FROM {source} WHERE {where})"
    texts = " UNION ".join(f"SELECT {text} AS v FROM {distinct}" for text in _value_texts("x", data_type))
    low = f"lower(regexp_replace(v, '^{_SPACE_RE}+|{_SPACE_RE}+$', '', 'g'))"
    outer = f" WHERE NOT regexp_full_match(low, {_literal(skip_low)})" if skip_low is not None else ""
    rows = f"(SELECT v, low FROM (SELECT v, {low} AS low FROM ({texts})){outer})"
    return f"SELECT {name} AS col, v, k FROM ({_keys_from(rows)})"


def _reserved_counts(con, source: str, columns: dict[str, str]) -> dict[str, int]:
    """Per refilled column, its cells inside its reserved space (one pass over the table)."""
    if not columns:
        return {}
    counts = ", ".join(
        f"count(*) FILTER (WHERE regexp_full_match(CAST({_ident(c)} AS VARCHAR), {_literal(r)}))"
        for c, r in columns.items()
    )
    row = con.execute(f"SELECT {counts} FROM {source}").fetchall()[0]
    return {c: int(n) for c, n in zip(columns, row, strict=True) if n}


@dataclass(frozen=True)
class LeakCandidates:
    """What the SQL scan hands the Python rule: no more than the cells that might be leaks."""

    #: per synthetic column, its candidate distinct values (`v`) and how many cells hold each (`n`)
    synthetic: dict[str, pd.DataFrame]
    #: per raw identifier column, its candidate distinct values (a Series named after the column)
    raw: dict[str, pd.Series]
    #: per refilled column, its cells inside its reserved space (None: no reserved spaces given)
    reserved: dict[str, int] | None = None


def raw_keys_sql(con, raw: tuple[str, str], identifier_columns: list[str], plan=None) -> str:
    """SQL of (col, v, k): each identifier column's distinct raw values as text with their keys,
    raw values inside a public reserved space of the approved `plan` skipped."""
    raw_types = table_columns(con, *raw)
    raw_source = f"{_ident(raw[0])}.{_ident(raw[1])}"
    reals = reserved_spaces(plan, raw_types) if plan is not None else ReservedSpaces()
    return " UNION ALL ".join(
        _keys_select(c, raw_types[c], raw_source, skip_low=reals.raw.get(c)) for c in identifier_columns
    )


def leak_candidates(
    con,
    synthetic: tuple[str, str],
    raw: tuple[str, str],
    identifier_columns: list[str],
    plan=None,
) -> LeakCandidates:
    """Synthetic cells and raw identifier values whose keys meet (see above), by SQL semi-joins
    over the whole tables. Raw values of every length are keyed: the rule itself drops the short
    ones (as a forbidden value) and still classifies them (as a source person's value). With the
    approved `plan`, refilled cells inside their reserved space and raw values inside a public
    reserved space are skipped before keying (`ReservedSpaces`, `RESERVED_RULE`): most of the
    synthetic identifier text, which cannot leak.

    The raw values are keyed on every scan. Keeping their keys as keyed digests between gates of one
    source (a cache this module once read) cost ~20 s of CPU to build at a million rows and saved
    under a second a gate once the keying ran in stages, so it was removed."""
    syn_types = table_columns(con, *synthetic)
    raw_types = table_columns(con, *raw)
    syn_source = f"{_ident(synthetic[0])}.{_ident(synthetic[1])}"
    raw_source = f"{_ident(raw[0])}.{_ident(raw[1])}"
    if not identifier_columns:
        return LeakCandidates({}, {}, {} if plan is not None else None)
    fakes = reserved_spaces(plan, syn_types) if plan is not None else ReservedSpaces()
    raw_keys = raw_keys_sql(con, raw, identifier_columns, plan)
    syn_keys = " UNION ALL ".join(
        _keys_select(c, t, syn_source, skip_written=fakes.synthetic.get(c)) for c, t in syn_types.items()
    )
    in_space = _reserved_counts(con, syn_source, fakes.synthetic) if plan is not None else None
    try:
        # The synthetic keys first (most identifier text is skipped as reserved), then only the raw
        # keys that meet one of them are kept: millions of raw keys are joined, never stored.
        con.execute(f"CREATE OR REPLACE TEMP TABLE __syn_keys AS {syn_keys}")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __raw_keys AS SELECT r.col, r.v, r.k FROM ({raw_keys}) r "
            "SEMI JOIN (SELECT DISTINCT k FROM __syn_keys WHERE k <> '') s ON r.k = s.k"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __syn_hits AS SELECT DISTINCT s.col, s.v, s.k FROM __syn_keys s "
            "SEMI JOIN (SELECT DISTINCT k FROM __raw_keys) r ON s.k = r.k"
        )
        out_syn = _synthetic_candidates(con, syn_source, syn_types)
        out_raw: dict[str, pd.Series] = {}
        for column in identifier_columns:
            texts = " OR ".join(
                f"{t} IN (SELECT v FROM __raw_keys WHERE col = ?)"
                for t in _value_texts(_ident(column), raw_types[column])
            )
            params = [column] * len(_value_texts("x", raw_types[column]))
            values = con.execute(
                f"SELECT DISTINCT {_ident(column)} AS v FROM {raw_source} WHERE {texts}", params
            ).df()["v"]
            out_raw[column] = values.rename(column)
    finally:
        for name in ("__syn_keys", "__raw_keys", "__syn_hits"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return LeakCandidates(out_syn, out_raw, in_space)


def _synthetic_candidates(con, syn_source: str, syn_types: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Per synthetic column, its cells whose text is a hit of `__syn_hits`, counted per value."""
    out_syn: dict[str, pd.DataFrame] = {}
    for column, data_type in syn_types.items():
        texts = " OR ".join(
            f"{t} IN (SELECT v FROM __syn_hits WHERE col = ?)"
            for t in _value_texts(_ident(column), data_type)
        )
        params = [str(column)] * len(_value_texts("x", data_type))
        counted = con.execute(
            f"SELECT {_ident(column)} AS v, count(*) AS n FROM {syn_source} WHERE {texts} GROUP BY 1",
            params,
        ).df()
        if not counted.empty:
            out_syn[str(column)] = counted
    return out_syn


def identifier_leaks_of_candidates(candidates: LeakCandidates, synthetic_columns: list[str]) -> LeakResult:
    """`identifier_leaks` judged on the SQL scan's candidates: the same rule, the same counts."""
    forbidden = forbidden_values(candidates.raw.values())
    per_column: dict[str, int] = {}
    by_chance: dict[str, int] = {}
    for column in synthetic_columns:
        counted = candidates.synthetic.get(str(column))
        if counted is None or counted.empty:
            continue
        identifying, common = forbidden.classify(counted["v"].reset_index(drop=True))
        weights = counted["n"].to_numpy()
        if identifying.any():
            per_column[str(column)] = int(weights[identifying].sum())
        if common.any():
            by_chance[str(column)] = int(weights[common].sum())
    return _leak_result(per_column, by_chance, candidates.reserved)


def leaking_people_sql(con, candidates: LeakCandidates, raw: tuple[str, str]) -> int:
    """`bounded_figures.leaking_people` over the whole raw table: source people (rows) with an
    identifying direct identifier equal to a synthetic cell, judged by the Python rule on the
    candidates and counted by SQL (a person counts once whatever the number of cells)."""
    found = forbidden_values(
        [frame["v"].astype("string") for frame in candidates.synthetic.values() if not frame.empty]
    )
    conditions, registered = [], []
    try:
        for i, (column, values) in enumerate(candidates.raw.items()):
            if values.empty:
                continue
            identifying, _ = found.classify(pd.Series(values.to_numpy(), dtype=object))
            hit = values[identifying]
            if hit.empty:
                continue
            name = f"__leaking_{i}"
            con.register(name, pd.DataFrame({"v": hit.to_numpy()}))
            registered.append(name)
            conditions.append(f"{_ident(column)} IN (SELECT v FROM {name})")
        if not conditions:
            return 0
        source = f"{_ident(raw[0])}.{_ident(raw[1])}"
        return int(
            con.execute(f"SELECT count(*) FROM {source} WHERE {' OR '.join(conditions)}").fetchall()[0][0]
        )
    finally:
        for name in registered:
            con.unregister(name)
