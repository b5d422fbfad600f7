"""The release gate's decision compute, made cheaper, gives the same figures to the last bit.

Each faster path is checked against the plain statement it replaced, on data unlike the demo
(ties everywhere, infinities, missing values).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.gate import bounded_figures
from synth_platform.lib.gate.attacks import ATTACKS, AttackConfig, run_suite, space
from synth_platform.lib.gate.evaluation.evidence_worker import GATE_SIDE_ATTACKS


def _partition_smallest(distances: np.ndarray, k: int) -> np.ndarray:
    """The k smallest values of each row as the gate took them before: partition, then sort."""
    picked = np.partition(distances, k - 1, axis=1)[:, :k] if k < distances.shape[1] else distances
    return np.sort(picked, axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [2, 3, 5, 8, 9])
def test_k_smallest_by_scans_equals_a_partition(seed, k):
    rng = np.random.default_rng(seed)
    distances = rng.integers(0, 4, (200, 40)).astype(np.float32)  # ties in every row
    distances[rng.random(distances.shape) < 0.05] = np.inf
    distances[7, :] = np.inf  # a row with nothing finite
    distances[11, :] = 2.0  # a row of one value
    expected = _partition_smallest(distances, k)
    assert np.array_equal(space._smallest(distances.copy(), k), expected)
    with_nan = distances.copy()
    with_nan[3, 5] = np.nan  # NaN rows fall back to the partition, NaN last
    assert np.array_equal(
        space._smallest(with_nan.copy(), k), _partition_smallest(with_nan, k), equal_nan=True
    )


@pytest.mark.parametrize("k", [1, 2, 5])
def test_nearest_values_equal_the_indexed_search(k):
    rng = np.random.default_rng(9)
    queries = rng.normal(size=(600, 6)).astype(np.float32)
    queries[:100] = np.round(queries[:100])  # ties
    reference = np.vstack([queries[:50], rng.normal(size=(300, 6)).astype(np.float32)])
    values = space.nearest(queries, reference, k=k, chunk=128)
    indexed = space.nearest_with_index(queries, reference, k=k, chunk=128)[0]
    assert np.array_equal(values, indexed)


def _plain_text(values: pd.Series) -> pd.Series:
    """`as_text` as it was: through pandas' string dtype."""
    return values.astype("string").fillna(space.MISSING).astype(object)


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(
            ["Zürich", None, "東京", np.nan, "", "a b", pd.NA], index=[5, 3, 9, 1, 0, 2, 7], name="städt"
        ),
        pd.Series([None, np.nan], dtype=object),
        pd.Series([], dtype=object),
        pd.Series(["x", 1, 2.5, None], dtype=object),  # mixed: the string dtype writes the numbers
        pd.Series([np.str_("ok"), "ok", None], dtype=object),
        pd.Series(["a", "b", None], dtype="category"),
        pd.Series([1, None, 3], dtype="Int64"),
        pd.Series([0.1, -0.0, np.nan]),
        pd.Series([True, None, False], dtype=object),
    ],
)
def test_as_text_equals_the_string_dtype_round_trip(values):
    fast, plain = space.as_text(values), _plain_text(values)
    assert fast.dtype == plain.dtype == object
    assert fast.index.equals(plain.index) and fast.name == plain.name
    assert fast.tolist() == plain.tolist()
    assert all(isinstance(v, str) for v in fast)


def _people(seed: int, n: int) -> pd.DataFrame:
    """Odd little tables: unicode categories with NULLs, integers with NULLs, a negative zero."""
    rng = np.random.default_rng(seed)
    amounts = rng.choice([0.0, -0.0, 1.5, 2.25, 1e6], n)
    amounts[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "städt": pd.Series(rng.choice(["Zürich", "東京", "São Paulo", None], n), dtype=object),
            "âge": pd.array(np.where(rng.random(n) < 0.05, None, rng.integers(18, 30, n)), dtype="Int64"),
            "montant": amounts,
            "sexe": pd.Series(rng.choice(["f", "m"], n), dtype=object),
        }
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_exposure_matchings_on_a_shared_text_equal_its_own_hashing(seed):
    """The private gate writes the train and holdout rows' text once and hands it to the exposure
    figure: the same halves, samples and matchings as when the figure writes it itself."""
    train, holdout, synthetic = _people(seed, 900), _people(seed + 10, 300), _people(seed + 20, 800)
    columns = list(train.columns)
    numeric = bounded_figures.numeric_columns(train, columns)
    source = pd.concat([train, holdout], ignore_index=True)
    shared = pd.concat([bounded_figures.canonical_text(f) for f in (train, holdout)], ignore_index=True)
    for m, n_reference in ((200, 250), (5000, 5000)):  # sampled halves, and halves taken whole
        plain = bounded_figures.exposure_matchings(
            source, synthetic, columns, numeric, m, n_reference, "0123456789abcdef"
        )
        fast = bounded_figures.exposure_matchings(
            source, synthetic, columns, numeric, m, n_reference, "0123456789abcdef", canonical=shared
        )
        assert fast == plain
    halves = bounded_figures.exposure_halves(source, "fedcba9876543210")
    assert len(halves[0]) + len(halves[1]) == len(source) and 0 < len(halves[0]) < len(source)


def test_the_attack_suite_split_gives_each_attack_its_own_figures():
    """The private gate splits the exact attacks between its process and its evidence worker
    (`only`): each attack's result is the one the whole suite gives, in suite order."""
    train, holdout, synthetic = _people(3, 600), _people(4, 300), _people(5, 600)
    columns = list(train.columns)
    kwargs = {"quasi_identifiers": ["städt", "âge"], "sensitive": ["montant"], "generalised": []}
    config = AttackConfig(seed=4, anonymeter_attacks=40, min_holdout_rows=50, min_evaluation_rows=50)
    whole = run_suite(train, holdout, synthetic, columns, config=config, **kwargs)
    here = run_suite(train, holdout, synthetic, columns, config=config, only=GATE_SIDE_ATTACKS, **kwargs)
    rest = [name for name in ATTACKS if name not in GATE_SIDE_ATTACKS]
    there = run_suite(train, holdout, synthetic, columns, config=config, only=rest, **kwargs)
    assert [r.name for r in here] == list(GATE_SIDE_ATTACKS) and [r.name for r in there] == rest
    by_name = {r.name: r for r in [*here, *there]}
    assert [repr(by_name[r.name]) for r in whole] == [repr(r) for r in whole]
    # with too few rows every chosen attack blocks with the reason, and only those
    tiny = run_suite(train, holdout.iloc[:5], synthetic, columns, config=config, only=rest, **kwargs)
    assert [r.name for r in tiny] == rest and not any(r.passed for r in tiny)
