"""Privacy attack checks on a synthetic table.

* exact copies: synthetic rows identical to a training row;
* distance to closest record (DCR): for each synthetic row, is its nearest real row
  in the training split or in the holdout? A model that memorises lands closer to
  train; with equal-sized train and holdout samples the share should be near 50%;
* identifier leaks: any raw direct-identifier value of the source, in any column.

Nearest neighbours are quadratic, so DCR runs on seeded samples of bounded size
(`max_rows`), brute force in float32 chunks; the cost is max_rows x holdout-sample x
encoded width, independent of the table's size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth_platform.lib.refill import forbidden_values


@dataclass(frozen=True)
class ExactCopyResult:
    copies: int
    share: float
    holdout_baseline_share: float  # how often a *real* unseen row equals a training row


@dataclass(frozen=True)
class DcrResult:
    share_closer_to_train: float
    median_dcr_train: float
    median_dcr_holdout: float
    rows_evaluated: int


@dataclass(frozen=True)
class LeakResult:
    leaked_cells: int
    columns_with_leaks: dict[str, int]


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


class _Encoder:
    """Gower-style encoding: numerics scaled to [0, 1] by the real range, categories one-hot
    at weight 0.5, so the L1 distance counts a category mismatch as 1."""

    def __init__(self, reference: pd.DataFrame, columns: list[str], max_categories: int = 50):
        self.columns = columns
        self.numeric: dict[str, tuple[float, float, float]] = {}
        self.categories: dict[str, list[str]] = {}
        for column in columns:
            values = reference[column]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                numbers = pd.to_numeric(values, errors="coerce").astype("float64")
                low, high = numbers.min(), numbers.max()
                span = (high - low) if pd.notna(high) and high > low else 1.0
                self.numeric[column] = (
                    float(low if pd.notna(low) else 0.0),
                    float(span),
                    float(numbers.median()),
                )
            elif pd.api.types.is_datetime64_any_dtype(values):
                days = values.astype("int64") // 86_400_000_000_000
                self.numeric[column] = (float(days.min()), float(max(days.max() - days.min(), 1)), 0.0)
            else:
                top = values.astype("string").value_counts().index[:max_categories]
                self.categories[column] = list(top)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        for column, (low, span, median) in self.numeric.items():
            values = frame[column]
            if pd.api.types.is_datetime64_any_dtype(values):
                numbers = (values.astype("int64") // 86_400_000_000_000).astype("float64")
            else:
                numbers = pd.to_numeric(values, errors="coerce").astype("float64")
            missing = numbers.isna().to_numpy()
            scaled = ((numbers.fillna(median) - low) / span).to_numpy()
            blocks.append(np.clip(scaled, -1, 2)[:, None])
            blocks.append(missing[:, None].astype("float64"))
        for column, categories in self.categories.items():
            values = frame[column].astype("string").fillna("<NA>")
            codes = pd.Categorical(values, categories=[*categories, "<NA>"])
            one_hot = np.zeros((len(frame), len(categories) + 2))
            index = codes.codes.copy()
            index[index < 0] = len(categories) + 1  # anything unseen: "other"
            one_hot[np.arange(len(frame)), index] = 0.5
            blocks.append(one_hot)
        return np.hstack(blocks).astype(np.float32) if blocks else np.zeros((len(frame), 0), np.float32)


def _nearest_l1(queries: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """L1 distance from each query row to its nearest reference row (chunked, in C)."""
    from sklearn.metrics import pairwise_distances_argmin_min

    if len(queries) == 0 or len(reference) == 0:
        return np.zeros(len(queries), dtype=np.float32)
    _, distances = pairwise_distances_argmin_min(queries, reference, metric="manhattan")
    return distances.astype(np.float32)


def distance_to_closest_record(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    columns: list[str],
    max_rows: int = 5000,
    seed: int = 0,
) -> DcrResult:
    """Share of synthetic rows whose closest real row is in train rather than holdout.

    Train is subsampled to the holdout's size so that 50% is what an ideal generator
    scores; ties count half to each side.
    """
    rng = np.random.default_rng(seed)
    reference_size = min(len(train), len(holdout), max_rows)
    train_sample = train.iloc[rng.choice(len(train), reference_size, replace=False)]
    holdout_sample = holdout.iloc[rng.choice(len(holdout), reference_size, replace=False)]
    synthetic_sample = synthetic.iloc[
        rng.choice(len(synthetic), min(len(synthetic), max_rows), replace=False)
    ]
    encoder = _Encoder(pd.concat([train_sample, holdout_sample]), columns)
    query = encoder.transform(synthetic_sample)
    to_train = _nearest_l1(query, encoder.transform(train_sample))
    to_holdout = _nearest_l1(query, encoder.transform(holdout_sample))
    closer = (to_train < to_holdout).sum() + 0.5 * (to_train == to_holdout).sum()
    return DcrResult(
        share_closer_to_train=float(closer / max(len(query), 1)),
        median_dcr_train=float(np.median(to_train)) if len(query) else 0.0,
        median_dcr_holdout=float(np.median(to_holdout)) if len(query) else 0.0,
        rows_evaluated=len(query),
    )


def identifier_leaks(synthetic: pd.DataFrame, raw_identifiers: Iterable[pd.Series]) -> LeakResult:
    """Count synthetic cells (in any column) equal to a raw direct identifier of the source.

    Only counts are returned: the leaked values themselves must not travel further.
    """
    forbidden = forbidden_values(raw_identifiers)
    per_column: dict[str, int] = {}
    for column in synthetic.columns:
        values = synthetic[column].dropna()
        hits = int(forbidden.matches(values).sum())
        if hits:
            per_column[column] = hits
    return LeakResult(leaked_cells=sum(per_column.values()), columns_with_leaks=per_column)
