"""The evidence pictures' nearest-record search against the plain statement of what it computes.

`evidence_plots.nearest_l1` replaced sklearn's `pairwise_distances_argmin_min(..., "manhattan")`
on the one-hot matrices of `_Gower.transform`; both must give each query's distance to its
closest reference row. Table unlike the demo: unicode categories, NULLs in every column, more
categories than `_Gower` keeps (the rest pooled as "other"), a date column, a constant column,
NaN in a number.
"""

import numpy as np
import pandas as pd
from sklearn.metrics import pairwise_distances_argmin_min

from synth_platform.lib.governance import evidence_plots


def parcels(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    depot = rng.choice(["Zürich", "Łódź", "Kraków", "São Paulo", None], rows)
    route = [f"R{n}" if n % 13 else None for n in rng.integers(0, 80, rows)]  # > 50 categories
    weight = rng.gamma(2.0, 3.0, rows)
    weight[rng.random(rows) < 0.1] = np.nan
    sent = pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 2000, rows), unit="D")
    sent = pd.Series(sent).mask(rng.random(rows) < 0.05)
    return pd.DataFrame({"depot": depot, "route": route, "weight_kg": weight, "sent_on": sent, "flat": 1})


def test_nearest_l1_equals_sklearn_on_the_one_hot_matrices():
    reference, queries = parcels(700, 1), parcels(300, 2)
    columns = list(reference.columns)
    gower = evidence_plots._Gower(reference, columns)
    _, expected = pairwise_distances_argmin_min(
        gower.transform(queries), gower.transform(reference), metric="manhattan"
    )
    got = evidence_plots.nearest_l1(gower.columns_of(queries), gower.columns_of(reference), block=64)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert (got > 0).any() and (got == 0).any()  # exact matches and misses both occur


def test_closest_record_distances_of_an_empty_side_are_empty():
    train = parcels(200, 3)
    to_synth, to_holdout = evidence_plots.closest_record_distances(
        train, parcels(50, 4), train.iloc[:0], list(train.columns)
    )
    assert len(to_synth) == 50 and len(to_holdout) == 0
