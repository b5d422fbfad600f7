"""What every attack sees: train, holdout and synthetic rows in model space, and column roles.

The attacks compare like with like: the synthetic table is brought back into the masked
training columns (generalised columns generalised again, `evaluation.to_model_space`) before
it gets here. Columns can have any name and any mix of types; their *roles* come from the
PII report (quasi-identifier, sensitive) and the masking plan (generalised), never from
their names.

`MixedEncoder` turns mixed-type rows into vectors whose squared Euclidean distance is a
Gower-like sum of per-column differences: a numeric column contributes its squared
difference scaled by the real range, a category mismatch contributes 1, a missing/present
mismatch 1. Squared Euclidean (rather than Gower's L1) lets nearest neighbours run as a
matrix product (BLAS), tens of times faster than an L1 scan, which is what makes distance
attacks on tens of thousands of rows fit in seconds. Categories are one-hot (weight
1/sqrt 2, so a mismatch costs exactly 1) up to `ONE_HOT_MAX` categories; beyond that (ZIP3:
~900 values) each category gets a seeded random unit vector of `EMBED_DIM` dimensions, so a
mismatch costs 1 on average without a thousand columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

ONE_HOT_MAX = 64
EMBED_DIM = 24
MISSING = "\x00<NA>"


def is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def as_float(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        days = values.astype("int64") // 86_400_000_000_000
        return days.astype("float64").mask(values.isna())
    return pd.to_numeric(values, errors="coerce").astype("float64")


def as_text(values: pd.Series) -> pd.Series:
    """Each value as text, missing ones `MISSING` (object dtype): what comparing categories sees.

    An object column of text and nulls only (the warehouse's usual text column) is written
    directly: the round trip through pandas' string dtype, which re-validates every cell, gives
    the same values and was a tenth of the private figures' time (~230 calls a gate)."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        out = values.to_numpy(dtype=object, copy=True)
        out[pd.isna(out)] = MISSING
        return pd.Series(out, index=values.index, name=values.name, dtype=object)
    return values.astype("string").fillna(MISSING).astype(object)


@dataclass
class AttackData:
    """The three tables (model space, same columns) and the roles of their columns."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    columns: list[str]
    quasi_identifiers: list[str] = field(default_factory=list)
    sensitive: list[str] = field(default_factory=list)
    generalised: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.train = self.train[self.columns].reset_index(drop=True)
        self.holdout = self.holdout[self.columns].reset_index(drop=True)
        self.synthetic = self.synthetic[self.columns].reset_index(drop=True)
        self.numeric = [c for c in self.columns if is_numeric(self.train[c]) or _is_datetime(self.train[c])]

    @cached_property
    def encoder(self) -> MixedEncoder:
        return MixedEncoder(pd.concat([self.train, self.holdout], ignore_index=True), self.numeric)

    def encoded(self, which: str) -> np.ndarray:
        """Encoded rows of 'train', 'holdout' or 'synthetic', computed once per table."""
        cache = self.__dict__.setdefault("_encoded", {})
        if which not in cache:
            cache[which] = self.encoder.transform(getattr(self, which))
        return cache[which]


def _is_datetime(values: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(values)


class MixedEncoder:
    """Gower-like vectors: see the module docstring. Fitted on the real rows (train + holdout)."""

    def __init__(self, reference: pd.DataFrame, numeric: list[str]):
        self.columns = list(reference.columns)
        self.numeric: dict[str, tuple[float, float, float]] = {}
        self.vocabulary: dict[str, pd.Index] = {}
        self.embedding: dict[str, np.ndarray] = {}
        for position, column in enumerate(self.columns):
            if column in numeric:
                numbers = as_float(reference[column])
                low, high = numbers.min(), numbers.max()
                span = float(high - low) if pd.notna(high) and high > low else 1.0
                median = float(numbers.median()) if numbers.notna().any() else 0.0
                self.numeric[column] = (float(low) if pd.notna(low) else 0.0, span, median)
                continue
            vocabulary = pd.Index(sorted(set(as_text(reference[column]).unique())))
            self.vocabulary[column] = vocabulary
            if len(vocabulary) > ONE_HOT_MAX:
                rng = np.random.default_rng(1_000 + position)
                vectors = rng.normal(size=(len(vocabulary) + 1, EMBED_DIM))
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                self.embedding[column] = (vectors / np.sqrt(2)).astype(np.float32)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        for column, (low, span, median) in self.numeric.items():
            numbers = as_float(frame[column])
            missing = numbers.isna().to_numpy()
            scaled = ((numbers.fillna(median) - low) / span).to_numpy()
            blocks.append(np.clip(scaled, -1.0, 2.0)[:, None])
            blocks.append(missing[:, None].astype(np.float64))
        for column, vocabulary in self.vocabulary.items():
            codes = vocabulary.get_indexer(as_text(frame[column]))
            codes[codes < 0] = len(vocabulary)  # unseen in real data: one shared "other"
            if column in self.embedding:
                blocks.append(self.embedding[column][codes])
            else:
                one_hot = np.zeros((len(frame), len(vocabulary) + 1), dtype=np.float32)
                one_hot[np.arange(len(frame)), codes] = 1 / np.sqrt(2)
                blocks.append(one_hot)
        if not blocks:
            return np.zeros((len(frame), 0), np.float32)
        return np.hstack([b.astype(np.float32) for b in blocks])


#: Cells of one query x reference distance block (float32 distances + int64 indices: ~12 bytes each).
MAX_BLOCK_CELLS = 8_000_000


def nearest(queries: np.ndarray, reference: np.ndarray, k: int = 1, chunk: int = 1024) -> np.ndarray:
    """Squared distances from each query row to its k nearest reference rows, ascending.

    The values of `nearest_with_index` without its index arrays: the k smallest values of a row
    are the same whichever of tied rows holds them, so a row minimum (k = 1) or a partition gives
    them at a fraction of the cost of an index partition.
    """
    k = max(1, min(k, len(reference)))
    chunk = max(1, min(chunk, MAX_BLOCK_CELLS // max(len(reference), 1)))
    distances_out = np.empty((len(queries), k), dtype=np.float32)
    if len(queries) == 0 or len(reference) == 0:
        return distances_out
    ref_norms = np.einsum("ij,ij->i", reference, reference)
    for start in range(0, len(queries), chunk):
        distances = _squared_distances(queries[start : start + chunk], reference, ref_norms)
        picked = _smallest(distances, k)
        distances_out[start : start + chunk] = np.maximum(picked, 0.0)
    return distances_out


@lru_cache(maxsize=1)
def _blas():
    """The process's BLAS thread pools (found once: looking them up costs milliseconds)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def _squared_distances(block: np.ndarray, reference: np.ndarray, ref_norms: np.ndarray) -> np.ndarray:
    """|q|^2 + |r|^2 - 2 q.r for one block of query rows, in `nearest_with_index`'s order of
    operations (the same float32 values to the last bit).

    The product runs on one BLAS thread: OpenBLAS splits a float32 product over its threads and
    sums in another order for each thread count (1 and 2 threads differed in the last bit on
    132,495 of 20 million distances), so the gate's figures, and which of two near-tied rows is
    nearest, would depend on the host's cores. The gate's process and its evidence worker keep a
    small machine's cores busy already."""
    with _blas().limit(limits=1):
        distances = block @ reference.T
    distances *= -2.0
    distances += ref_norms[None, :]
    distances += np.einsum("ij,ij->i", block, block)[:, None]
    return distances


#: Up to this k, `_smallest` takes a row's k smallest values by k minimum scans instead of a
#: partition (which copies the block and selects row by row: ~40x slower for k = 2 on a
#: 800 x 10,000 block; the close-copy profile asks k = 2, membership k = 5).
SCAN_K = 8


def _smallest(distances: np.ndarray, k: int) -> np.ndarray:
    """Each row's k smallest values, ascending, NaN last (as an index partition and sort give).

    May overwrite `distances` (a block `nearest` computed for this call only)."""
    if k == 1:
        picked = distances.min(axis=1, keepdims=True)
        if not np.isnan(picked).any():
            return picked
    elif k <= SCAN_K and k < distances.shape[1]:
        picked = _smallest_by_scans(distances, k)
        if picked is not None:
            return picked
    picked = np.partition(distances, k - 1, axis=1)[:, :k] if k < distances.shape[1] else distances
    return np.sort(picked, axis=1)


def _smallest_by_scans(distances: np.ndarray, k: int) -> np.ndarray | None:
    """Each row's k smallest values, ascending, by k passes that take a row's minimum and mask it
    (+inf): the same values a partition then sort gives (the k smallest of a row are the same
    numbers whichever tied cells hold them). None, with `distances` untouched, when a row holds
    NaN (the partition orders it last; the caller then partitions)."""
    rows = np.arange(len(distances))
    out = np.empty((len(distances), k), dtype=distances.dtype)
    for j in range(k):
        at = distances.argmin(axis=1)
        out[:, j] = distances[rows, at]
        if j == 0 and np.isnan(out[:, 0]).any():  # argmin stops at a row's first NaN
            return None
        distances[rows, at] = np.inf
    return out


def nearest_with_index(
    queries: np.ndarray, reference: np.ndarray, k: int = 1, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Squared distances to, and indices of, each query row's k nearest reference rows (ascending).

    Chunked matrix products (|q|^2 + |r|^2 - 2 q.r); the chunk shrinks as the reference grows so
    that one block (and argpartition's index array of the same shape) stays under
    `MAX_BLOCK_CELLS` cells: memory is bounded whatever the table's size (a 1M-row table's
    200k-row holdout would otherwise take several GB per block).
    """
    k = max(1, min(k, len(reference)))
    chunk = max(1, min(chunk, MAX_BLOCK_CELLS // max(len(reference), 1)))
    distances_out = np.empty((len(queries), k), dtype=np.float32)
    index_out = np.zeros((len(queries), k), dtype=np.int64)
    if len(queries) == 0 or len(reference) == 0:
        return distances_out, index_out
    ref_norms = np.einsum("ij,ij->i", reference, reference)
    for start in range(0, len(queries), chunk):
        distances = _squared_distances(queries[start : start + chunk], reference, ref_norms)
        if k == 1 and _first_minimum(distances, index_out[start : start + chunk]):
            distances_out[start : start + chunk] = np.maximum(
                np.take_along_axis(distances, index_out[start : start + chunk], axis=1), 0.0
            )
            continue
        if k < distances.shape[1]:
            index = np.argpartition(distances, k - 1, axis=1)[:, :k]
        else:
            index = np.broadcast_to(np.arange(distances.shape[1]), distances.shape).copy()
        picked = np.take_along_axis(distances, index, axis=1)
        order = np.argsort(picked, axis=1, kind="stable")
        distances_out[start : start + chunk] = np.maximum(np.take_along_axis(picked, order, axis=1), 0.0)
        index_out[start : start + chunk] = np.take_along_axis(index, order, axis=1)
    return distances_out, index_out


def _first_minimum(distances: np.ndarray, out: np.ndarray) -> bool:
    """Each row's nearest reference row into `out` (rows x 1), as `argpartition(.., 0)` picks it:
    numpy selects the smallest of a row by a linear scan that keeps the first of tied values,
    which is what `argmin` returns, in one vectorised pass instead of a partition of an index
    array per row. False (and `out` not to be used) when a row holds NaN, which the two order
    differently: the caller then partitions."""
    first = distances.argmin(axis=1)
    if np.isnan(distances[np.arange(len(first)), first]).any():
        return False
    out[:, 0] = first
    return True


def sample_rows(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a seeded sample without replacement (all rows, in order, when size >= n)."""
    if size >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size, replace=False))
