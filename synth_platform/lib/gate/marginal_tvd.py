"""All-pairs total-variation distance: how far a synthetic table's 2-way marginals are from the real ones.

For every pair of columns, the share of rows in each cell of their contingency table is compared
(TVD = half the L1 distance); the figure is the mean over pairs. Numeric columns are cut into
quantile bins of the *real* column, missing values are a cell of their own. The same figure for
a table whose columns are shuffled independently is the baseline a synthesizer that ignores
correlations would reach.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

NUMERIC_BINS = 10


def _discretise(real: pd.Series, other: pd.Series, bins: int) -> tuple[np.ndarray, np.ndarray]:
    numeric = pd.api.types.is_numeric_dtype(real.dtype) and not pd.api.types.is_bool_dtype(real.dtype)
    temporal = pd.api.types.is_datetime64_any_dtype(real.dtype)
    if numeric or temporal:
        a = pd.to_numeric(real.astype("int64") if temporal else real, errors="coerce").astype("float64")
        b = pd.to_numeric(other.astype("int64") if temporal else other, errors="coerce").astype("float64")
        edges = np.unique(np.nanquantile(a.to_numpy(), np.linspace(0, 1, bins + 1)[1:-1]))
        codes_a = np.where(a.isna(), -1, np.searchsorted(edges, a.to_numpy(), side="right"))
        codes_b = np.where(b.isna(), -1, np.searchsorted(edges, b.to_numpy(), side="right"))
        return codes_a, codes_b
    a = real.astype(object).where(real.notna(), None).astype(str)
    b = other.astype(object).where(other.notna(), None).astype(str)
    categories = pd.Index(pd.unique(pd.concat([a, b], ignore_index=True)))
    return categories.get_indexer(a), categories.get_indexer(b)


def all_pairs_tvd(real: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str] | None = None) -> float:
    """Mean TVD of the 2-way marginals over all column pairs (0 = identical, 1 = disjoint)."""
    columns = list(columns if columns is not None else real.columns)
    codes = {c: _discretise(real[c], synthetic[c], NUMERIC_BINS) for c in columns}
    distances = []
    for a, b in itertools.combinations(columns, 2):
        width = int(max(codes[b][0].max(initial=0), codes[b][1].max(initial=0))) + 2
        real_cells = (codes[a][0].astype(np.int64) + 1) * width + codes[b][0] + 1
        synth_cells = (codes[a][1].astype(np.int64) + 1) * width + codes[b][1] + 1
        real_share = pd.Series(real_cells).value_counts(normalize=True)
        synth_share = pd.Series(synth_cells).value_counts(normalize=True)
        joined = pd.concat([real_share, synth_share], axis=1).fillna(0.0)
        distances.append(0.5 * float(np.abs(joined.iloc[:, 0] - joined.iloc[:, 1]).sum()))
    return float(np.mean(distances)) if distances else 0.0


def independent_baseline(real: pd.DataFrame, columns: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """The real table with every column shuffled on its own: right marginals, no correlations."""
    rng = np.random.default_rng(seed)
    columns = list(columns if columns is not None else real.columns)
    return pd.DataFrame({c: real[c].to_numpy()[rng.permutation(len(real))] for c in columns})
