"""Near copies: real people who have a twin in the synthetic table on all columns but one or two.

A planted real person whose generalised columns (ZIP3, birth year) were changed, or whose
record was edited in a column or two, is no longer an exact copy but still that person.
Every row of every table is hashed once per column set "all columns", "all but column c"
and "all but columns c, d" — combined per-column hashes, so leaving columns out is a
subtraction, fully vectorised — and a real row has a near copy if any of its hashes is
among the synthetic rows' hashes for the same column set. All rows are evaluated: this is
cheap, and it is what makes 1 % of planted rows a clear signal.

Calibration, attacker's view: the question is whether a *training* person is more likely
to have a near twin in the output than an unseen person from the same population. Both
are looked up in the same synthetic table, so an honest generator treats them alike
whatever its style; the figure is the share of training rows with a near copy minus the
share of holdout rows with one (Newcombe's interval). (Comparing synthetic rows with the
holdout's own matches against train instead is biased: a smooth generator matches far
less often than real people do — 1 % vs 18 % on the demo data — which would hide a
planted 1 %.) When the synthetic table has as many rows as train, planting x % of
synthetic rows gives a figure of about x %.

Numeric values are compared at a resolution of 1e-6 of the column's range (a generator's
37.0000001 is 37). How many columns may differ grows with the width of the table: at most
a third of the columns, and at most two (`max_left_out`), so a narrow table is not
matched on a single column.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from synth_platform.lib.gate.attacks.config import AttackConfig
from synth_platform.lib.gate.attacks.result import AttackResult, decide, share_difference
from synth_platform.lib.gate.attacks.space import AttackData, as_float, as_text

NAME = "near_copies"


def max_left_out(n_columns: int) -> int:
    return max(0, min(2, (n_columns - 1) // 3))


def column_codes(
    frames: list[pd.DataFrame], columns: list[str], numeric: list[str], resolution_from: int | None = None
) -> list[np.ndarray]:
    """Per frame, a (rows x columns) uint64 array of per-column value hashes, shared coding.

    Numbers are compared at 1e-6 of the column's range over all frames, or over
    `frames[resolution_from]` alone (the synthetic table: then no real value sets the resolution,
    and whether two values match depends on those two values only).
    """
    lengths = [len(f) for f in frames]
    out = [np.empty((n, len(columns)), dtype=np.uint64) for n in lengths]
    for j, column in enumerate(columns):
        values = pd.concat([f[column] for f in frames], ignore_index=True)
        if column in numeric:
            numbers = as_float(values)
            ranged = numbers if resolution_from is None else as_float(frames[resolution_from][column])
            span = float(ranged.max() - ranged.min()) if ranged.notna().any() else 0.0
            resolution = span * 1e-6 if span > 0 else 1.0
            codes = _number_codes((numbers / resolution).round().to_numpy())
        else:
            codes, _ = pd.factorize(as_text(values))
        hashed = _mix(codes.astype(np.uint64) + np.uint64((j * 0x9E3779B97F4A7C15) % 2**64))
        start = 0
        for frame_out, n in zip(out, lengths, strict=True):
            frame_out[:, j] = hashed[start : start + n]
            start += n
    return out


def _number_codes(rounded: np.ndarray) -> np.ndarray:
    """Codes of rounded numbers in order of first appearance, one per distinct written form (as
    factorising their text would give, a few times faster): by the float's bits, so -0.0 and 0.0
    stay apart as their text does, and every missing value is one code."""
    bits = rounded.astype(np.float64).view(np.int64).copy()
    bits[np.isnan(rounded)] = np.array([np.nan]).view(np.int64)[0]
    codes, _ = pd.factorize(bits)
    return codes


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of each code."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def left_out_sets(n_columns: int) -> list[tuple[int, ...]]:
    k = max_left_out(n_columns)
    return [s for size in range(k + 1) for s in combinations(range(n_columns), size)]


def _keys(codes: np.ndarray, total: np.ndarray, left_out: tuple[int, ...]) -> np.ndarray:
    if not left_out:
        return total
    return total - codes[:, list(left_out)].sum(axis=1, dtype=np.uint64)


def near_matches(
    queries: list[np.ndarray], reference: np.ndarray, sets: list[tuple[int, ...]]
) -> list[np.ndarray]:
    """Per query table, per row: does some reference row agree with it on all columns but one set?"""
    hits = [np.zeros(len(q), dtype=bool) for q in queries]
    with np.errstate(over="ignore"):
        totals = [q.sum(axis=1, dtype=np.uint64) for q in queries]
        reference_total = reference.sum(axis=1, dtype=np.uint64)
        for left_out in sets:
            reference_keys = _keys(reference, reference_total, left_out)
            for hit, codes, total in zip(hits, queries, totals, strict=True):
                # a hash-table lookup (pandas), not two sorts per set as np.isin: same answer
                hit |= pd.Series(_keys(codes, total, left_out), copy=False).isin(reference_keys).to_numpy()
    return hits


def run(data: AttackData, config: AttackConfig) -> AttackResult:
    train_codes, holdout_codes, synthetic_codes = column_codes(
        [data.train, data.holdout, data.synthetic], data.columns, data.numeric
    )
    sets = left_out_sets(len(data.columns))
    train_hits, holdout_hits = near_matches([train_codes, holdout_codes], synthetic_codes, sets)
    excess, ci = share_difference(
        int(train_hits.sum()), len(train_hits), int(holdout_hits.sum()), len(holdout_hits)
    )
    k = max_left_out(len(data.columns))
    return decide(
        NAME,
        excess,
        ci,
        config.max_near_copy_excess,
        len(train_hits) + len(holdout_hits),
        config.seed,
        f"excess share of training people with a synthetic twin on all but <= {k} columns",
        {
            "columns_allowed_to_differ": k,
            "share_train_with_near_copy": round(float(train_hits.mean()), 6),
            "share_holdout_with_near_copy": round(float(holdout_hits.mean()), 6),
            "synthetic_rows_evaluated": len(synthetic_codes),
        },
    )
