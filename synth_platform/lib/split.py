"""Deterministic train/holdout split.

With a key column, a row's side is a hash of its key, so the same person stays on the
same side across every refresh; otherwise a seeded permutation of the rows. The
holdout is what the privacy attacks compare against, so it must never reach a model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def holdout_mask(frame: pd.DataFrame, fraction: float, seed: int, key: str | None = None) -> np.ndarray:
    if not 0.0 < fraction < 1.0:
        raise ValueError("holdout fraction must be between 0 and 1")
    n = len(frame)
    if key is not None and key in frame.columns:
        hashed = pd.util.hash_pandas_object(frame[key].astype(str), index=False, hash_key=f"{seed:016d}"[:16])
        return (hashed.to_numpy() / np.float64(2**64)) < fraction
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[: round(n * fraction)]] = True
    return mask


def split_train_holdout(
    frame: pd.DataFrame, fraction: float, seed: int, key: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    mask = holdout_mask(frame, fraction, seed, key)
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)
