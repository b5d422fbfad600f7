"""The spec's column types in SQL: each column read as text, then typed and checked by the rules
the ingest has always used, as layered DuckDB expressions over the file's reader.

Text stripped of (Unicode) whitespace; integers and floats spelled as pandas' to_numeric reads
them (no digit separators or hex); a whole number stays exact to 64 bits; dates in ISO 8601 within
pandas' nanosecond range, normalised to midnight (spellings other than YYYY-MM-DD go through pandas,
distinct values only). The SQL is layered (text, stripped text, number) so each cell is stripped
and parsed once, whatever checks use it.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import duckdb
import pandas as pd

from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage.ingest.errors import (
    IngestError,
)
from synth_platform.lib.storage.ingest.file_checks import (
    _sql_text,
)
from synth_platform.lib.storage.warehouse import quote_ident

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


# --- typing: the spec's column types, in SQL --------------------------------------------------
#
# Each column is read as text (NULL where the field is empty) and cast by the rules the ingest has
# always used: text stripped of (Unicode) whitespace; integers and floats spelled as pandas'
# to_numeric reads them (no digit separators or hex); a whole number stays exact to 64 bits;
# dates in ISO 8601 within pandas' nanosecond range, normalised to midnight. The SQL is layered
# (text, stripped text, number) so each cell is stripped and parsed once, whatever checks use it;
# inside, column i is c<i> (text), t<i> (stripped), n<i> (number), d<i> (other date spellings).

_WHITESPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
_NUMBER = (
    r"[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])"
)
_INFINITY = r"[+-]?[iI][nN][fF]([iI][nN][iI][tT][yY])?"
_PLAIN_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
#: pandas' nanosecond timestamps hold these calendar days (the first one starts at 00:12:43).
_FIRST_DAY, _LAST_DAY = "1677-09-22", "2262-04-11"


@dataclass(frozen=True)
class _Check:
    """One refusal rule for a column: the rows it catches (SQL over the layers) and the message's words."""

    column: str
    kind: str
    bad_sql: str


@dataclass(frozen=True)
class _Typed:
    """A column's typed SQL expression (over the layers) and its checks, in the order they apply."""

    sql: str
    checks: list[_Check]


def _present(i: int) -> str:
    """A non-empty field (DuckDB's reader gives NULL for an empty one; a frame may hold '')."""
    return f"(c{i} IS NOT NULL AND c{i} <> '')"


def _strip_sql(i: int) -> str:
    """Column i's text stripped as Python's `str.strip` does. The full strip (29 characters,
    costs ten times a plain read) runs only on values whose first or last character is not
    printable ASCII (all whitespace is a control character, a space or non-ASCII)."""
    c = f"c{i}"
    edge = f"({c}[1] <= ' ' OR {c}[1] > '~' OR {c}[-1] <= ' ' OR {c}[-1] > '~')"
    return f"CASE WHEN {edge} THEN trim({c}, {_sql_text(_WHITESPACE)}) ELSE {c} END"


def _number_sql(i: int) -> str:
    """Column i as a double, where pandas' to_numeric would read it as a number (else NULL)."""
    return f"CASE WHEN regexp_full_match(t{i}, {_sql_text(_NUMBER)}) THEN TRY_CAST(t{i} AS DOUBLE) END"


def _numeric_checks(column: str, i: int) -> list[_Check]:
    """Not a number (an overflowing spelling such as 1e400 included) / not finite."""
    spelled_inf = f"regexp_full_match(t{i}, {_sql_text(_INFINITY)})"
    not_number = f"(n{i} IS NULL OR isnan(n{i}) OR (isinf(n{i}) AND NOT {spelled_inf}))"
    return [
        _Check(column, "numbers", f"{_present(i)} AND {not_number}"),
        _Check(column, "finite numbers", f"{_present(i)} AND NOT {not_number} AND isinf(n{i})"),
    ]


def _exact_sql(i: int) -> str:
    """Column i's whole number exactly (HUGEINT): from the digits when it is spelled as digits, since
    a double rounds beyond 2**53; else the double's value (1.5e16, 1e20)."""
    from_text = f"CASE WHEN regexp_full_match(t{i}, '[+-]?[0-9]+') THEN TRY_CAST(t{i} AS HUGEINT) END"
    return f"COALESCE({from_text}, TRY_CAST(n{i} AS HUGEINT))"


def _integer(column: str, i: int) -> _Typed:
    """A whole number, exact to 64 bits."""
    checks = _numeric_checks(column, i)
    finite = f"{_present(i)} AND isfinite(n{i})"
    checks.append(_Check(column, "whole numbers", f"{finite} AND n{i} <> floor(n{i})"))
    big = f"abs(n{i}) >= {2.0**53!r}"
    exact = _exact_sql(i)
    in_range = f"COALESCE({exact} BETWEEN {-(2**63)} AND {2**63 - 1}, false)"
    checks.append(
        _Check(
            column,
            "within the 64-bit integer range",
            f"{finite} AND n{i} = floor(n{i}) AND {big} AND NOT {in_range}",
        )
    )
    value = f"CASE WHEN {big} THEN TRY_CAST({exact} AS BIGINT) ELSE TRY_CAST(n{i} AS BIGINT) END"
    return _Typed(f"CASE WHEN {_present(i)} THEN {value} END", checks)


def _float(column: str, i: int) -> _Typed:
    return _Typed(f"CASE WHEN {_present(i)} THEN n{i} END", _numeric_checks(column, i))


def _boolean(column: str, i: int) -> _Typed:
    truthy = ", ".join(_sql_text(v) for v in sorted(_TRUE))
    falsy = ", ".join(_sql_text(v) for v in sorted(_FALSE))
    value = f"(CASE WHEN lower(t{i}) IN ({truthy}) THEN true WHEN lower(t{i}) IN ({falsy}) THEN false END)"
    return _Typed(value, [_Check(column, "booleans", f"{_present(i)} AND {value} IS NULL")])


def _string(column: str, i: int) -> _Typed:
    return _Typed(f"NULLIF(t{i}, '')", [])


def _date(column: str, i: int) -> _Typed:
    """Plain YYYY-MM-DD in SQL; any other spelling (times, offsets, YYYYMMDD) from d<i>, the day
    pandas found for it (`_odd_dates`). Dates are not stripped: pandas never read ' 1980-05-01'."""
    day = f"TRY_CAST(c{i} AS DATE)"
    plain = f"CASE WHEN {day} BETWEEN DATE '{_FIRST_DAY}' AND DATE '{_LAST_DAY}' THEN {day} END"
    is_plain = f"regexp_full_match(c{i}, {_sql_text(_PLAIN_DATE)})"
    value = f"CAST((CASE WHEN {is_plain} THEN {plain} ELSE d{i} END) AS TIMESTAMP_NS)"
    return _Typed(
        f"CASE WHEN {_present(i)} THEN {value} END",
        [_Check(column, "ISO dates", f"{_present(i)} AND {value} IS NULL")],
    )


def _date_map_name(column: str) -> str:
    """The lookup table of a date column's other spellings (a name fixed by the column's name)."""
    return "_ingest_dates_" + hashlib.sha256(column.encode()).hexdigest()[:12]


def _odd_dates(con: duckdb.DuckDBPyConnection, source: str, column: str, file_name: str) -> pd.DataFrame:
    """The day for each distinct non-plain spelling in a date column, parsed by pandas' ISO 8601 reader.

    Only spellings other than YYYY-MM-DD reach Python (a column of timestamps or offsets: rarely
    more than a few distinct values per day), with one plain date when the column has any: pandas
    then judges mixed time-zone offsets on the whole column as it always has.
    """
    raw = quote_ident(column)
    present = f"({raw} IS NOT NULL AND {raw} <> '')"
    plain = f"regexp_full_match({raw}, {_sql_text(_PLAIN_DATE)})"
    odd = con.execute(f"SELECT DISTINCT {raw} AS text FROM {source} WHERE {present} AND NOT {plain}").df()
    if odd.empty:
        return odd
    one_plain = con.execute(f"SELECT {raw} FROM {source} WHERE {present} AND {plain} LIMIT 1").fetchall()
    values = pd.concat([odd["text"], pd.Series([r[0] for r in one_plain], dtype=object)], ignore_index=True)
    parsed = _pandas_dates(values, column, file_name)
    return odd.assign(day=parsed.iloc[: len(odd)].to_numpy())


def _pandas_dates(values: pd.Series, column: str, file_name: str) -> pd.Series:
    """pandas' ISO 8601 reading of some date spellings (NaT where not one); mixed offsets refused."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns about mixed offsets; they are refused below
        try:
            dates = pd.to_datetime(values, errors="coerce", format="ISO8601")
        except (ValueError, TypeError, OverflowError) as exc:
            raise IngestError(
                f"{file_name}: column '{column}' has values that are not ISO dates, or that mix time-zone "
                "offsets; deliver plain dates (YYYY-MM-DD)"
            ) from exc
    if not pd.api.types.is_datetime64_any_dtype(dates):
        raise IngestError(
            f"{file_name}: column '{column}' mixes time-zone offsets (or dates with and without one); "
            "deliver plain dates (YYYY-MM-DD) or one offset throughout"
        )
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)  # one offset throughout: keep the local calendar date
    return dates.dt.normalize().astype("datetime64[ns]")


@dataclass(frozen=True)
class _Layers:
    """The typing of one source: its layered FROM clause and each spec column's typed expression."""

    source: str
    columns: list[str]
    typed: dict[str, _Typed]
    lookups: dict[str, pd.DataFrame]
    kinds: dict[str, str]

    def relation(self, numbered: bool = False) -> str:
        """c<i> text, t<i> stripped, n<i> number, d<i> other date spellings' day (and _row, 1-based)."""
        spec_types = self.kinds
        texts = ", ".join(f"{quote_ident(c)} AS c{i}" for i, c in enumerate(self.columns))
        row = "row_number() OVER () AS _row, " if numbered else ""
        base = f"SELECT {row}{texts} FROM {self.source}"
        stripped = [f"{_strip_sql(i)} AS t{i}" for i, c in enumerate(self.columns) if spec_types[c] != "date"]
        numbers = [
            f"{_number_sql(i)} AS n{i}"
            for i, c in enumerate(self.columns)
            if spec_types[c] in ("integer", "float")
        ]
        days, joins = [], ""
        for i, c in enumerate(self.columns):
            if spec_types[c] == "date":
                name = _date_map_name(c)
                if name in self.lookups:
                    days.append(f"{name}.day AS d{i}")
                    joins += f" LEFT JOIN {name} ON {name}.text = l1.c{i}"
                else:
                    days.append(f"CAST(NULL AS DATE) AS d{i}")
        layer1 = f"(SELECT *{''.join(', ' + s for s in stripped)} FROM ({base})) AS l1"
        return f"(SELECT l1.*{''.join(', ' + s for s in numbers + days)} FROM {layer1}{joins}) AS l2"

    def select_sql(self) -> str:
        columns = ", ".join(f"{t.sql} AS {quote_ident(c)}" for c, t in self.typed.items())
        return f"SELECT {columns} FROM {self.relation()}"

    def checks(self) -> list[_Check]:
        return [check for t in self.typed.values() for check in t.checks]


def _layers(source: str, spec: DatasetSpec, lookups: dict[str, pd.DataFrame]) -> _Layers:
    """The typed expressions and checks of each spec column, in spec order, over `source`."""
    builders = {"integer": _integer, "float": _float, "boolean": _boolean, "date": _date}
    typed = {c: builders.get(s.type, _string)(c, i) for i, (c, s) in enumerate(spec.columns.items())}
    kinds = {c: s.type for c, s in spec.columns.items()}
    return _Layers(source, list(spec.columns), typed, lookups, kinds)
