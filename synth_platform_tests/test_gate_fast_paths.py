"""The gate's fast paths give the figures of their plain definitions, to the last bit.

The release gate's checks were sped up (broadcast code comparisons instead of one-hot products,
row minima instead of index partitions, hash lookups instead of sorts, bincounts instead of
`np.unique`); the seeded test suite pins decisions on the exact figures, so each fast path is
checked here against a plain, slow statement of what it computes, on small tables unlike the
demo: NULLs, unicode categories, negative zero, ties everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.gate import bounded_figures, utility
from synth_platform.lib.gate.attacks import exposure, near_match, space


def _odd_tables(seed: int) -> list[pd.DataFrame]:
    """Three small tables sharing columns: unicode categories with NULLs, integers with NULLs,
    amounts with a negative zero and a far outlier."""
    rng = np.random.default_rng(seed)

    def table(n: int) -> pd.DataFrame:
        amounts = rng.choice([0.0, -0.0, 1.5, 2.0, 2.25, 1e6], n)
        amounts[rng.random(n) < 0.1] = np.nan
        return pd.DataFrame(
            {
                "städt": pd.Series(rng.choice(["Zürich", "東京", "São Paulo", None], n), dtype=object),
                "n kids": pd.array(rng.choice([0, 1, 2, 3, None], n), dtype="Int64"),
                "amount €": amounts,
                "flag": rng.choice(["y", "n"], n),
            }
        )

    return [table(37), table(29), table(41)]


def _plain_counts(coded: exposure._Coded, queries: int, reference: int, columns) -> tuple:
    """Columns agreeing per pair as the one-hot products defined them: exact codes equal; for
    numbers, the query's tolerance bin marked by the reference's bin or a neighbour (the
    missing bin marks only itself)."""
    n_q, n_r = len(coded.exact[queries][0]), len(coded.exact[reference][0])
    exact = np.zeros((n_q, n_r), int)
    tolerant = np.zeros((n_q, n_r), int)
    for j in columns:
        same = coded.exact[queries][j][:, None] == coded.exact[reference][j][None, :]
        exact += same
        if not coded.is_numeric[j]:
            tolerant += same
            continue
        width = coded.bins[j]
        for a, q_bin in enumerate(coded.tolerant[queries][j]):
            for b, r_bin in enumerate(coded.tolerant[reference][j]):
                marked = (
                    {r_bin} if r_bin == width - 1 else {max(r_bin - 1, 0), r_bin, min(r_bin + 1, width - 2)}
                )
                tolerant[a, b] += q_bin in marked
    return exact, tolerant


@pytest.mark.parametrize("seed", [0, 1])
def test_exposure_agreement_counts_match_their_definition(seed):
    frames = _odd_tables(seed)
    columns = list(frames[0].columns)
    numeric = ["n kids", "amount €"]
    coded = exposure._Coded(frames, columns, numeric, range_from=[0, 1])
    for group in (tuple(range(len(columns))), (0, 3), (1, 2)):
        agreement = exposure._Agreement(coded, 0, 2, group)
        exact, tolerant = agreement.differences(np.arange(len(frames[0])))
        plain_exact, plain_tolerant = _plain_counts(coded, 0, 2, group)
        assert np.array_equal(exact, len(group) - plain_exact)
        assert np.array_equal(tolerant, len(group) - plain_tolerant)


def test_neighbour_profile_matches_a_full_scan_with_the_person_left_out():
    frames = _odd_tables(3)
    columns = list(frames[0].columns)
    coded = exposure._Coded(frames, columns, ["n kids", "amount €"], range_from=[0, 1])
    everything = tuple(range(len(columns)))
    rows = np.array([0, 3, 4, 10, 36])
    for reference, exclude in ((0, rows), (2, None)):
        profile = exposure.neighbour_profile(coded, 0, rows, reference, everything, 2, exclude=exclude)
        exact, tolerant = _plain_counts(coded, 0, reference, everything)
        exact, tolerant = len(columns) - exact[rows], len(columns) - tolerant[rows]
        if exclude is not None:
            exact[np.arange(len(rows)), exclude] = exposure.NO_ROW
            tolerant[np.arange(len(rows)), exclude] = exposure.NO_ROW
        for e in range(3):
            assert np.array_equal(profile[:, e], np.where(exact <= e, tolerant, exposure.NO_ROW).min(axis=1))
        assert np.array_equal(profile[:, -1], tolerant.min(axis=1))


def test_nearest_is_the_first_closest_row_with_ties_and_missing_values():
    rng = np.random.default_rng(4)
    queries = rng.integers(0, 2, (300, 3)).astype(np.float32)  # every distance tied many times
    reference = rng.integers(0, 2, (90, 3)).astype(np.float32)
    queries[5, 1] = np.nan
    distances, index = space.nearest_with_index(queries, reference, k=1)
    plain = (
        (queries**2).sum(axis=1)[:, None] + (reference**2).sum(axis=1)[None, :] - 2 * queries @ reference.T
    )
    for i in range(len(queries)):
        if i == 5:
            assert np.isnan(distances[i, 0])  # a missing value has no nearest row
            continue
        assert index[i, 0] == int(np.flatnonzero(plain[i] == plain[i].min())[0])
    two = space.nearest(queries, reference, k=2)
    assert np.array_equal(two, space.nearest_with_index(queries, reference, k=2)[0], equal_nan=True)
    assert np.array_equal(space.nearest(queries, reference), distances, equal_nan=True)


def test_number_codes_keep_every_written_form_apart():
    rounded = np.array([0.0, -0.0, np.nan, 3.0, -0.0, np.inf, np.nan, 1e16, 3.0])
    by_text, _ = pd.factorize(pd.Series(rounded).astype("string").fillna("\x00<NA>").astype(object))
    assert near_match._number_codes(rounded).tolist() == by_text.tolist()


def test_near_matches_agree_with_a_set_lookup():
    frames = _odd_tables(5)
    columns = list(frames[0].columns)
    codes = near_match.column_codes(frames, columns, ["n kids", "amount €"])
    sets = near_match.left_out_sets(len(columns))
    hits = near_match.near_matches(codes[:2], codes[2], sets)
    for found, table in zip(hits, codes[:2], strict=True):
        for i, row in enumerate(table):
            expected = any(
                any(all(row[c] == other[c] for c in range(len(columns)) if c not in s) for other in codes[2])
                for s in sets
            )
            assert found[i] == expected


@pytest.mark.parametrize("columns", [1, 2])
def test_tv_distance_counts_the_same_cells_in_the_same_order(columns):
    rng = np.random.default_rng(columns)
    real = rng.integers(0, 7, (53, columns))
    synthetic = rng.integers(0, 9, (80, columns))
    keys = [tuple(r) for r in real], [tuple(r) for r in synthetic]
    cells = sorted(set(keys[0]) | set(keys[1]))
    p_r = np.array([keys[0].count(c) for c in cells]) / 60
    p_s = np.array([keys[1].count(c) for c in cells]) / 80
    plain = 0.5 * (float(np.abs(p_r - p_s).sum()) + max(0.0, 1 - 53 / 60))
    assert bounded_figures._tv_codes(real, synthetic, 60) == plain


def test_bootstrap_auc_equals_the_rank_sum_auc_of_each_resample():
    rng = np.random.default_rng(6)
    score = np.round(rng.random(400), 1)  # heavy ties
    truth = rng.choice(np.array(["no", "yes"], dtype=object), 400)
    ranked = utility._RankedScores.of({"score": score})
    for _ in range(5):
        idx = rng.integers(0, 400, 400)
        is_positive = truth[idx] == "yes"
        assert ranked.auc(is_positive, idx) == utility._auc(is_positive, score[idx])
    assert utility._RankedScores.of({"score": np.array([0.1, np.nan])}) is None
