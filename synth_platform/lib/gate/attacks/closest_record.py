"""Copies and close copies: real people with a synthetic row (almost) on top of them.

For every training row and every holdout row we find the distance to the closest
*synthetic* row (Gower-like: numeric differences scaled by the real range, squared and
summed; a category mismatch or a missing/present mismatch costs 1). A generator that copies
training rows, or adds small noise to them, puts synthetic rows right on top of training
people but not of unseen people. The holdout sets the yardstick: `t` is the
`close_quantile` (1 %) quantile of the holdout rows' distances, and the figure is the share
of training rows within `t` minus the share of holdout rows within `t` (~1 % by
construction) — the true-positive rate of a distance attack at a 1 % false-positive rate,
the operating point that matters for the people most exposed (Carlini et al., 2022).

Why this way round. Comparing *synthetic* rows' distances to train with the holdout's own
distances to train (the usual DCR test) is biased by the generator's style: a smooth
generator's rows are far from everyone (0.04 % within the holdout's 1 % cut on the demo
data), so its figure sits well below the 1 % baseline and a planted 1 % of copies only
brings it back to "normal". Queried from the real side, training and holdout people face
the same synthetic table, and an honest generator treats them alike whatever its style.
Why 1 % and not 5 %: a leak of 1-2 % of the rows is a clear signal only against a baseline
of the same order.

Speed, exactly. A distance below 1 needs every categorical column to agree, so rows are
compared only within groups sharing all categorical values (distances are capped at 1;
beyond that nothing is "close"). Pairs within groups are few on real tables, so every
training and holdout row is evaluated against every synthetic row. If the groups are huge
(a table with hardly any categories: more than `MAX_PAIRS` pairs in all), time is bounded by
taking the same share MAX_PAIRS / pairs of the training and of the holdout rows, a sample
seeded with the check's seed; if that share would leave fewer than `MIN_BLOCKED_ROWS` rows on
a side, at most BRUTE_FORCE_CELLS / (2 x synthetic rows) seeded rows per side are compared by
brute force on the full encoding instead. `details["method"]` says which was done.

Reported too, not blocking (on a 1,000-row sample, full encoding, uncapped): the ratio of
median distances (training vs holdout rows; < 1 means training people are closer to the
output than unseen people are) and the nearest/second-nearest distance ratio (NNDR).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_platform.lib.gate.attacks.config import AttackConfig
from synth_platform.lib.gate.attacks.near_match import column_codes
from synth_platform.lib.gate.attacks.result import AttackResult, decide, share_difference
from synth_platform.lib.gate.attacks.space import AttackData, as_float, nearest, sample_rows

NAME = "close_copies"
MAX_PAIRS = 20_000_000
BRUTE_FORCE_CELLS = 200_000_000
DETAIL_ROWS = 1000
MIN_BLOCKED_ROWS = 1000


def _numeric_block(data: AttackData, frame: pd.DataFrame) -> np.ndarray:
    blocks = []
    for column in data.numeric:
        reference = as_float(pd.concat([data.train[column], data.holdout[column]], ignore_index=True))
        low, high = reference.min(), reference.max()
        span = float(high - low) if pd.notna(high) and high > low else 1.0
        median = float(reference.median()) if reference.notna().any() else 0.0
        numbers = as_float(frame[column])
        blocks.append(((numbers.fillna(median) - (low if pd.notna(low) else 0.0)) / span).to_numpy())
        blocks.append(numbers.isna().to_numpy().astype(np.float64))
    if not blocks:
        return np.zeros((len(frame), 0), np.float32)
    return np.clip(np.column_stack(blocks), -1.0, 2.0).astype(np.float32)


def _group_keys(data: AttackData) -> list[np.ndarray]:
    categorical = [c for c in data.columns if c not in data.numeric]
    frames = [data.train, data.holdout, data.synthetic]
    if not categorical:
        return [np.zeros(len(f), dtype=np.uint64) for f in frames]
    with np.errstate(over="ignore"):
        return [c.sum(axis=1, dtype=np.uint64) for c in column_codes(frames, categorical, data.numeric)]


def _pair_count(query_keys: np.ndarray, reference_counts: pd.Series) -> int:
    counts = pd.Series(query_keys).value_counts()
    return int((counts * reference_counts.reindex(counts.index, fill_value=0)).sum())


def capped_distances(
    query_numeric: np.ndarray, query_keys: np.ndarray, ref_numeric: np.ndarray, ref_keys: np.ndarray
) -> np.ndarray:
    """Squared distance to the nearest reference row sharing all categorical values, capped at 1.

    Memory is bounded whatever the table: groups whose pairs are few are compared pair by pair
    (in batches), a group with many pairs (a table with hardly any categories: one group of
    every row) by chunked matrix products (`space.nearest`). A 30,000-row all-numeric table once
    asked for 480 million pairs at once here and the gate was killed for memory.
    """
    best = np.ones(len(query_keys), dtype=np.float32)
    queries = pd.DataFrame({"key": query_keys, "q": np.arange(len(query_keys))})
    references = pd.DataFrame({"key": ref_keys, "r": np.arange(len(ref_keys))})
    q_counts = queries["key"].value_counts()
    r_counts = references["key"].value_counts().reindex(q_counts.index, fill_value=0)
    pairs_per_group = q_counts * r_counts
    large = pairs_per_group.index[pairs_per_group > LARGE_GROUP_PAIRS]
    for key in large:  # dense groups: blocked nearest-neighbour search
        q = np.flatnonzero(query_keys == key)
        r = np.flatnonzero(ref_keys == key)
        best[q] = np.minimum(nearest(query_numeric[q], ref_numeric[r])[:, 0], 1.0)
    small = ~queries["key"].isin(large)
    batch_q, batch_pairs = [], 0
    keys, rows = _groups(queries[small])
    for q, pairs in zip(rows, pairs_per_group.reindex(keys, fill_value=0).to_numpy(), strict=True):
        batch_q.append(q)
        batch_pairs += int(pairs)
        if batch_pairs >= PAIR_BATCH:
            _pairwise_minimum(best, np.concatenate(batch_q), query_numeric, queries, references, ref_numeric)
            batch_q, batch_pairs = [], 0
    if batch_q:
        _pairwise_minimum(best, np.concatenate(batch_q), query_numeric, queries, references, ref_numeric)
    return np.minimum(best, 1.0)


def _groups(queries: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """(keys, query rows per key), keys in order of first appearance and rows in table order (as
    `groupby(sort=False)`), by one stable sort instead of a Python call per group."""
    codes, keys = pd.factorize(queries["key"].to_numpy(), sort=False)
    order = np.argsort(codes, kind="stable")
    rows = queries["q"].to_numpy()[order]
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return keys, (np.split(rows, bounds) if len(rows) else [])


#: a group with more query x reference pairs than this is searched by matrix products
LARGE_GROUP_PAIRS = 2_000_000
#: pairs compared at once in the pair-by-pair path
PAIR_BATCH = 4_000_000


def _pairwise_minimum(best, q_rows, query_numeric, queries, references, ref_numeric) -> None:
    pairs = pd.merge(queries.iloc[q_rows], references, on="key")
    q_index, r_index = pairs["q"].to_numpy(), pairs["r"].to_numpy()
    for start in range(0, len(q_index), 2_000_000):
        q, r = q_index[start : start + 2_000_000], r_index[start : start + 2_000_000]
        diff = query_numeric[q] - ref_numeric[r]
        np.minimum.at(best, q, np.einsum("ij,ij->i", diff, diff))


def run(data: AttackData, config: AttackConfig) -> AttackResult:
    rng = np.random.default_rng(config.seed)
    train_keys, holdout_keys, synthetic_keys = _group_keys(data)
    reference_counts = pd.Series(synthetic_keys).value_counts()
    pairs = _pair_count(train_keys, reference_counts) + _pair_count(holdout_keys, reference_counts)
    fraction = min(1.0, MAX_PAIRS / max(pairs, 1))
    train_rows = sample_rows(len(data.train), max(1, int(len(data.train) * fraction)), rng)
    holdout_rows = sample_rows(len(data.holdout), max(1, int(len(data.holdout) * fraction)), rng)
    method = "blocked on categorical values, all pairs"
    if fraction == 1.0 or min(len(train_rows), len(holdout_rows)) >= MIN_BLOCKED_ROWS:
        synthetic_numeric = _numeric_block(data, data.synthetic)
        to_train = capped_distances(
            _numeric_block(data, data.train.iloc[train_rows]),
            train_keys[train_rows],
            synthetic_numeric,
            synthetic_keys,
        )
        to_holdout = capped_distances(
            _numeric_block(data, data.holdout.iloc[holdout_rows]),
            holdout_keys[holdout_rows],
            synthetic_numeric,
            synthetic_keys,
        )
        if fraction < 1.0:
            method = f"blocked on categorical values, {fraction:.1%} of real rows"
    else:  # hardly any categories: brute force on a sample, full encoding
        per_side = max(1, BRUTE_FORCE_CELLS // (2 * len(data.synthetic)))
        train_rows = sample_rows(len(data.train), per_side, rng)
        holdout_rows = sample_rows(len(data.holdout), per_side, rng)
        synthetic = data.encoded("synthetic")
        to_train = np.minimum(nearest(data.encoded("train")[train_rows], synthetic)[:, 0], 1.0)
        to_holdout = np.minimum(nearest(data.encoded("holdout")[holdout_rows], synthetic)[:, 0], 1.0)
        method = "brute force on a sample"
    cut = float(np.quantile(to_holdout, config.close_quantile))
    close = (lambda d: d < 1.0) if cut >= 1.0 else (lambda d: d <= cut)
    close_train, close_holdout = int(close(to_train).sum()), int(close(to_holdout).sum())
    excess, ci = share_difference(close_train, len(to_train), close_holdout, len(to_holdout))
    details = {
        "distance_cut": round(float(np.sqrt(cut)), 6),
        "share_train_within_cut": round(close_train / len(to_train), 6),
        "share_holdout_within_cut": round(close_holdout / len(to_holdout), 6),
        "train_rows_evaluated": len(to_train),
        "holdout_rows_evaluated": len(to_holdout),
        "method": method,
        **_distance_profile(data, rng),
    }
    return decide(
        NAME,
        excess,
        ci,
        config.max_close_copy_excess,
        len(to_train) + len(to_holdout),
        config.seed,
        f"excess share of training people with a synthetic row as close as only "
        f"{config.close_quantile:.0%} of unseen people have",
        details,
    )


def _distance_profile(data: AttackData, rng: np.random.Generator) -> dict:
    """Median-distance ratio and NNDR on a small sample (full encoding, uncapped)."""
    synthetic = data.encoded("synthetic")
    synthetic = synthetic[sample_rows(len(synthetic), 10 * DETAIL_ROWS, rng)]
    train = np.sqrt(
        nearest(data.encoded("train")[sample_rows(len(data.train), DETAIL_ROWS, rng)], synthetic, 2)
    )
    holdout = np.sqrt(
        nearest(data.encoded("holdout")[sample_rows(len(data.holdout), DETAIL_ROWS, rng)], synthetic, 2)
    )
    median_holdout = float(np.median(holdout[:, 0]))
    return {
        "median_distance_ratio_train_vs_holdout": round(float(np.median(train[:, 0])) / median_holdout, 4)
        if median_holdout > 0
        else None,
        "nndr_median_train": round(_nndr(train), 4),
        "nndr_median_holdout": round(_nndr(holdout), 4),
    }


def _nndr(distances: np.ndarray) -> float:
    if distances.shape[1] < 2:
        return float("nan")
    second = distances[:, 1]
    ratio = np.divide(distances[:, 0], second, out=np.ones_like(second), where=second > 0)
    return float(np.median(ratio))
