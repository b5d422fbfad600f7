"""The discrete domain `dp_mst` models, and how each column is mapped into it.

MST works on small discrete domains: every model column becomes a code in `0..size-1`. The
mapping from values to codes is fixed *before* the model is fitted, and anything in it that
depends on the data (which categories exist, where a numeric column starts and ends, where its
bin edges lie) is measured here with Gaussian noise and charged to the training's budget; what
the spec declares is public and costs nothing. See `synth_platform.lib.synthesize.dp_mst` for the full
privacy statement.

Codes per column kind:

- categorical (strings): the released categories in a fixed order, then OTHER (a value not in
  the list, published as ``(rare)``), then NULL;
- boolean: false, true, NULL;
- numeric (integers, floats, dates as days since 1970-01-01, timestamps as epoch seconds):
  quantile bins over a fine public grid, then NULL. A sampled bin is drawn back by picking one
  of its fine cells in proportion to their noisy counts, then a value uniformly within that cell
  (integers stay integers, values stay inside the bounds).

The SQL expressions here turn a column into its code inside DuckDB, so counting happens in the
warehouse (`GROUP BY`) and never needs the table in Python memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: What an unreleased or undeclared category is published as (the label masking used for rare values).
OTHER_LABEL = "(rare)"
#: Cells of the fine grid a numeric column's bins are cut from (unit cells when an integer range is
#: no wider than this).
FINE_CELLS = 256
#: Signed powers of two, 2**MIN_EXP .. 2**MAX_EXP, are the public grid DP bounds are searched on.
MIN_EXP, MAX_EXP = -10, 40
#: A public coarse cell counts as occupied when its noisy count exceeds this many noise deviations
#: (about 0.3% chance that one of the 103 empty cells passes by noise alone).
BOUNDS_Z = 4.0
#: Fine cells at the ends are trimmed off the range until the noisy mass summed from that end passes
#: this many deviations of the summed noise (see `_trimmed_ends`).
TRIM_Z = 4.0
#: Only values seen at least this often are candidates for an undeclared category list; the noisy
#: threshold is this plus the Gaussian tail for the delta share.
MIN_CATEGORY_COUNT = 2


#: The codomain of the `zip3` generalisation: every 3-digit prefix. Public by construction.
ZIP3_LABELS = tuple(f"{i:03d}" for i in range(1000))


def quote(name: str) -> str:
    """A DuckDB identifier: double quotes, embedded double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass(frozen=True)
class ColumnInfo:
    """What is public about one model column: its name, kind, and any declared domain."""

    name: str
    kind: str  # categorical | boolean | numeric
    integer: bool = False
    temporal: str | None = None  # None | date | timestamp
    categories: tuple[str, ...] | None = None
    bounds: tuple[float, float] | None = None

    @property
    def value_sql(self) -> str:
        """The column as DuckDB sees it for counting (dates as day numbers, categories as text)."""
        column = quote(self.name)
        if self.temporal == "date":
            return f"datediff('day', DATE '1970-01-01', {column})"
        if self.temporal == "timestamp":
            return f"epoch({column})"
        if self.kind == "categorical":
            return f"CAST({column} AS VARCHAR)"
        if self.kind == "numeric":
            return f"CAST({column} AS DOUBLE)"
        return column


def column_info_from_type(name: str, duckdb_type: str, declared: dict | None = None) -> ColumnInfo:
    """Kind of a column from its warehouse type (the schema is public), plus a declared domain."""
    declared = declared or {}
    text = duckdb_type.upper()
    categories = declared.get("categories")
    bounds = declared.get("bounds")
    if declared.get("date_bounds") is not None:
        bounds = _date_bounds(declared["date_bounds"], text)
    if categories is not None:
        return ColumnInfo(name, "categorical", categories=tuple(str(c) for c in categories))
    if text == "BOOLEAN":
        return ColumnInfo(name, "boolean")
    if text == "DATE":
        return ColumnInfo(name, "numeric", integer=True, temporal="date", bounds=_bounds(bounds))
    if text.startswith("TIMESTAMP"):
        return ColumnInfo(name, "numeric", temporal="timestamp", bounds=_bounds(bounds))
    integer_types = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT")
    if text.startswith((*integer_types, "UINTEGER", "UBIGINT")):
        return ColumnInfo(name, "numeric", integer=True, bounds=_bounds(bounds))
    if text.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")):
        return ColumnInfo(name, "numeric", bounds=_bounds(bounds))
    return ColumnInfo(name, "categorical")


def _date_bounds(bounds, duckdb_type: str) -> tuple[float, float]:
    """Declared dates in the column's model units: days (DATE), epoch seconds (TIMESTAMP), or
    calendar years (a date generalised to its year is an integer column)."""
    low, high = (pd.Timestamp(v) for v in bounds)
    if duckdb_type == "DATE":
        epoch = pd.Timestamp("1970-01-01")
        return float((low - epoch).days), float((high - epoch).days)
    if duckdb_type.startswith("TIMESTAMP"):
        return low.timestamp(), high.timestamp()
    return float(low.year), float(high.year)


def _bounds(bounds) -> tuple[float, float] | None:
    return None if bounds is None else (float(bounds[0]), float(bounds[1]))


# --------------------------------------------------------------------------------------------
# Encodings: a fixed value -> code mapping per column
# --------------------------------------------------------------------------------------------


@dataclass
class CategoricalEncoding:
    """Codes: the labels in order, then OTHER (only when the list was chosen under DP), then NULL.

    A declared list is the whole domain: a value outside it is modelled as missing, so samples
    hold only declared values (or nulls). A list chosen by thresholding leaves out values that
    exist; they are modelled as one OTHER value, published as ``(rare)``.
    """

    info: ColumnInfo
    labels: list  # released categories (strings), or [False, True] for booleans

    @property
    def has_other(self) -> bool:
        return self.info.kind == "categorical" and self.info.categories is None

    @property
    def size(self) -> int:
        return len(self.labels) + (2 if self.has_other else 1)

    @property
    def null_code(self) -> int:
        return self.size - 1

    def code_sql(self) -> str:
        column = quote(self.info.name)
        if self.info.kind == "boolean":
            return f"(CASE WHEN {column} IS NULL THEN 2 WHEN {column} THEN 1 ELSE 0 END)"
        if not self.labels:
            return f"(CASE WHEN {column} IS NULL THEN {self.null_code} ELSE 0 END)"
        unlisted = len(self.labels) if self.has_other else self.null_code
        if tuple(self.labels) == ZIP3_LABELS:  # arithmetic instead of a 1000-item list search per row
            value = self.info.value_sql
            return (
                f"(CASE WHEN {column} IS NULL THEN {self.null_code} "
                f"WHEN regexp_full_match({value}, '[0-9]{{3}}') THEN CAST({value} AS INTEGER) "
                f"ELSE {unlisted} END)"
            )
        listed = "[" + ", ".join(literal(str(v)) for v in self.labels) + "]"
        return (
            f"(CASE WHEN {column} IS NULL THEN {self.null_code} "
            f"ELSE coalesce(list_position({listed}, {self.info.value_sql}) - 1, {unlisted}) END)"
        )

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        if self.info.kind == "boolean":
            values = pd.array(np.where(codes == 1, True, False), dtype="boolean")
            values[codes == 2] = pd.NA
            return pd.Series(values)
        table = [*self.labels, OTHER_LABEL, None] if self.has_other else [*self.labels, None]
        return pd.Series(np.array(table, dtype=object)[codes], dtype=object)


@dataclass
class NumericEncoding:
    """Bins of a numeric column, cut from a fine grid of cells over [low, high].

    Fine cells are indexed by an ordinal `g`: cell `u` of the uniform grid has `g = 2u`, except
    that, when the cells are wider than one value and 0 is inside the range, the cell holding 0
    is split into the point {0} (`g = 2u`) and the rest (`g = 2u + 1`): zero is often a point
    mass (amounts, counts) that drawing uniformly within a wide cell would smear.
    """

    info: ColumnInfo
    low: float
    high: float  # inclusive for integers
    width: float  # width of a fine cell
    cells: int  # uniform cells
    zero_cell: int | None  # u of the cell split at zero, if any
    bin_starts: list[int] = field(default_factory=list)  # first g of each bin (ascending)
    cell_weights: dict[int, float] = field(default_factory=dict)  # g -> noisy count (>= 0)

    @property
    def size(self) -> int:
        return len(self.bin_starts) + 1

    @property
    def null_code(self) -> int:
        return self.size - 1

    def fine_sql(self) -> str:
        """SQL of the ordinal fine cell `g` of the column's value (NULL stays NULL)."""
        x = self.info.value_sql
        cell = f"floor(({x} - {sql_number(self.low)}) / {sql_number(self.width)})"
        u = f"least(greatest({cell}, 0), {self.cells - 1})"
        if self.zero_cell is None:
            return f"(2 * CAST({u} AS BIGINT))"
        return f"(2 * CAST({u} AS BIGINT) + CASE WHEN {u} = {self.zero_cell} AND {x} > 0 THEN 1 ELSE 0 END)"

    def code_sql(self) -> str:
        g = self.fine_sql()
        x = self.info.value_sql
        parts = [f"WHEN {x} IS NULL THEN {self.null_code}"]
        for index, start in list(enumerate(self.bin_starts))[:0:-1]:
            parts.append(f"WHEN {g} >= {start} THEN {index}")
        return "(CASE " + " ".join(parts) + " ELSE 0 END)"

    def cell_range(self, g: int) -> tuple[float, float]:
        """Values of fine cell g as [lo, hi) (a point cell is (0, 0))."""
        u, rest = divmod(g, 2)
        lo = self.low + u * self.width
        hi = self.high + 1 if self.info.integer and u == self.cells - 1 else lo + self.width
        hi = min(hi, self.high + 1) if self.info.integer else min(hi, self.high)
        if self.zero_cell is not None and u == self.zero_cell:
            if rest == 0:
                return (0.0, 0.0)
            lo = 0.0 if not self.info.integer else 1.0
        return (lo, hi)

    def all_cells(self) -> list[int]:
        cells = [2 * u for u in range(self.cells)]
        if self.zero_cell is not None:
            cells.append(2 * self.zero_cell + 1)
        return sorted(cells)

    def bin_cells(self, index: int) -> list[int]:
        start = self.bin_starts[index]
        stop = self.bin_starts[index + 1] if index + 1 < len(self.bin_starts) else 2 * self.cells + 2
        return [g for g in self.all_cells() if start <= g < stop]

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        values = np.full(len(codes), np.nan)
        for index in range(len(self.bin_starts)):
            rows = np.flatnonzero(codes == index)
            if len(rows) == 0:
                continue
            cells = self.bin_cells(index)
            weights = np.array([self.cell_weights.get(g, 0.0) for g in cells], dtype=float)
            if weights.sum() <= 0:
                weights = np.array([max(self._span(g), 1e-9) for g in cells])
            picked = rng.choice(len(cells), size=len(rows), p=weights / weights.sum())
            ranges = np.array([self.cell_range(cells[i]) for i in range(len(cells))])
            lo, hi = ranges[picked, 0], ranges[picked, 1]
            if self.info.integer:
                lo_int, hi_int = np.ceil(lo), np.maximum(np.ceil(hi) - 1, np.ceil(lo))
                drawn = lo_int + np.floor(rng.random(len(rows)) * (hi_int - lo_int + 1))
                values[rows] = np.clip(drawn, math.ceil(self.low), math.floor(self.high))
            else:
                values[rows] = np.clip(lo + rng.random(len(rows)) * (hi - lo), self.low, self.high)
        return self._typed(values)

    def _span(self, g: int) -> float:
        lo, hi = self.cell_range(g)
        return max(hi - lo, 1.0 if self.info.integer else 0.0)

    def _typed(self, values: np.ndarray) -> pd.Series:
        temporal = self.info.temporal
        if temporal == "date":
            days = pd.array(np.where(np.isnan(values), 0, values).astype("int64"))
            out = pd.Series(pd.to_datetime(days, unit="D", origin="unix"))
            return out.where(~np.isnan(values), pd.NaT)
        if temporal == "timestamp":
            out = pd.Series(pd.to_datetime(np.where(np.isnan(values), 0, values), unit="s"))
            return out.where(~np.isnan(values), pd.NaT)
        if self.info.integer:
            integers = pd.array(np.where(np.isnan(values), 0, values).astype("int64"), dtype="Int64")
            return pd.Series(integers).mask(np.isnan(values))
        return pd.Series(values)


Encoding = CategoricalEncoding | NumericEncoding


# --------------------------------------------------------------------------------------------
# Measurements on public grids (each one a Gaussian mechanism of sensitivity 1)
# --------------------------------------------------------------------------------------------


def coarse_cell_sql(info: ColumnInfo) -> str:
    """Signed power-of-two cell of a value: 0 for zero, +-(e - MIN_EXP + 1) for |x| in [2^e, 2^(e+1))."""
    x = info.value_sql
    exponent = f"least(greatest(floor(log2(abs({x}))), {MIN_EXP}), {MAX_EXP})"
    return f"(CASE WHEN {x} = 0 THEN 0 ELSE CAST(sign({x}) * ({exponent} - {MIN_EXP - 1}) AS BIGINT) END)"


def coarse_cell_range(cell: int) -> tuple[float, float]:
    if cell == 0:
        return (0.0, 0.0)
    exponent = abs(cell) + MIN_EXP - 1
    lo, hi = 2.0**exponent, 2.0 ** (exponent + 1)
    if exponent == MIN_EXP:
        lo = 0.0
    return (lo, hi) if cell > 0 else (-hi, -lo)


def coarse_cells() -> list[int]:
    span = MAX_EXP - MIN_EXP + 1
    return list(range(-span, span + 1))


def dp_bounds(counts: dict[int, float], info: ColumnInfo, sigma: float, rng: np.random.Generator):
    """DP bounds from true counts on the public power-of-two grid: noise every cell, keep cells
    whose noisy count passes BOUNDS_Z deviations, span the kept cells."""
    cells = coarse_cells()
    noisy = np.array([counts.get(c, 0.0) for c in cells]) + rng.normal(0.0, sigma, len(cells))
    kept = [c for c, y in zip(cells, noisy, strict=True) if y >= BOUNDS_Z * sigma]
    if not kept:
        kept = [cells[int(np.argmax(noisy))]]
    lo = coarse_cell_range(min(kept))[0]
    hi = coarse_cell_range(max(kept))[1]
    if info.integer:
        lo, hi = math.floor(lo), max(math.ceil(hi) - 1, math.floor(lo))
    return float(lo), float(hi)


def fine_grid(info: ColumnInfo, low: float, high: float) -> NumericEncoding:
    """The public fine grid over [low, high] (bins are chosen later from its noisy counts)."""
    if info.integer:
        low, high = math.ceil(low), math.floor(high)
        high = max(high, low)
        span = high - low + 1
        if span <= FINE_CELLS:
            return NumericEncoding(info, low, high, 1.0, int(span), None)
        width = span / FINE_CELLS
    else:
        width = (high - low) / FINE_CELLS if high > low else 1.0
    zero = min(math.floor((0 - low) / width), FINE_CELLS - 1) if low <= 0 <= high else None
    return NumericEncoding(info, low, high, width, FINE_CELLS, zero)


def choose_bins(
    encoding: NumericEncoding, counts: dict[int, float], sigma: float, bins: int, rng: np.random.Generator
) -> NumericEncoding:
    """Noise the fine-grid counts, trim empty ends, and cut quantile bins of about equal mass.

    Declared bounds are kept whole (the owner says values span them); DP bounds, found on the
    coarse power-of-two grid, are trimmed to where the noisy mass is.
    """
    cells = encoding.all_cells()
    noisy = np.array([counts.get(g, 0.0) for g in cells]) + rng.normal(0.0, sigma, len(cells))
    declared = encoding.info.bounds is not None
    first, last = (0, len(cells) - 1) if declared else _trimmed_ends(noisy, sigma)
    weights = np.clip(noisy, 0.0, None)
    weights[:first] = 0.0
    weights[last + 1 :] = 0.0
    kept = cells[first : last + 1]
    mass = weights[first : last + 1]
    total = mass.sum()
    starts = [kept[0]]
    if len(kept) <= bins:  # few enough cells (small integer ranges): every cell is a bin
        starts = list(kept)
    elif total > 0:
        cumulative = np.cumsum(mass) / total
        for k in range(1, bins):
            index = int(np.searchsorted(cumulative, k / bins, side="left")) + 1
            if index < len(kept) and kept[index] > starts[-1]:
                starts.append(kept[index])
    encoding.bin_starts = starts
    # Cells beyond the trimmed ends keep weight 0: their values are counted in the first / last bin
    # and drawn back inside the trimmed range.
    encoding.cell_weights = {g: float(w) for g, w in zip(cells, weights, strict=True) if w > 0}
    return encoding


def _trimmed_ends(noisy: np.ndarray, sigma: float) -> tuple[int, int]:
    """First and last cell of the range where the noisy mass lies (post-processing of noisy counts).

    Summing m cells of noise gives a deviation of sigma * sqrt(m), so the mass is surely there once
    the sum from an end passes TRIM_Z such deviations (a spread-out tail of small counts passes, an
    empty tail wanders like sqrt(m)). That cell only proves the mass is there, not where it starts:
    with few rows per cell the proof comes long after the first real values. The start is the one
    that best explains the cells up to the proof as empty cells followed by cells of one positive
    mean (the likelihood-ratio change point), so real values before the proof are kept and a sharp
    edge stays sharp. Without proof from an end (few rows for this much noise) nothing is trimmed
    there: falling back to the one peak cell would draw the whole column back into that cell.
    """
    count = len(noisy)
    first = _mass_start(noisy, sigma)
    last = count - 1 - _mass_start(noisy[::-1], sigma)
    return (first, last) if first <= last else (0, count - 1)


def _mass_start(noisy: np.ndarray, sigma: float) -> int:
    """Index of the first cell of the mass, looking from the start of `noisy` (see `_trimmed_ends`);
    0 when the sum never passes the proof (nothing is trimmed from this end)."""
    steps = np.sqrt(np.arange(1, len(noisy) + 1))
    proven = np.flatnonzero(np.cumsum(noisy) >= TRIM_Z * sigma * steps)
    if len(proven) == 0:
        return 0
    proof = int(proven[0])
    block = np.cumsum(noisy[: proof + 1][::-1])[::-1]  # block[j]: sum of cells j..proof
    lengths = np.arange(proof + 1, 0, -1)
    gain = np.where(block > 0, block**2 / (2.0 * sigma**2 * lengths), -np.inf)  # log-likelihood ratio
    # the earliest start as likely as the best one (within 2 log-likelihood units, a 95% confidence
    # set): keeping a few empty cells costs little, cutting real values off loses them
    return int(np.flatnonzero(gain >= gain.max() - 2.0)[0])


def noisy_categories(
    counts: dict[str, float], sigma: float, delta: float, rng: np.random.Generator
) -> tuple[list[str], float]:
    """Categories whose noisy count passes a threshold set so that a value held by one person is
    released with probability at most `delta` (the threshold's share of the dataset's delta).

    Returns the released categories (sorted, so their order reveals nothing more) and the threshold.
    """
    from scipy.stats import norm

    threshold = MIN_CATEGORY_COUNT + sigma * float(norm.isf(delta))
    released = [
        value
        for value, count in counts.items()
        if count >= MIN_CATEGORY_COUNT and count + rng.normal(0.0, sigma) >= threshold
    ]
    return sorted(released), threshold
