"""The empirical epsilon audit (governance/dp_audit.py): its bound stays below the claim, and it has power.

The slow version is `make audit` (200 fits per world); here a small one. An audit that can never
find anything proves nothing, so the same test at a large epsilon must find a positive bound.
"""

import numpy as np
import pytest

from synth_platform.lib.governance import dp_audit


def test_canary_is_unique_and_its_values_common():
    table = dp_audit.audit_table(rows=400, seed=0)
    names = list(table.canary)
    same = np.logical_and.reduce([table.base[c] == table.canary[c] for c in names])
    assert same.sum() == 0
    assert len(table.with_canary()) == 401
    for column, value in table.canary.items():
        assert (table.base[column] == value).sum() > 80  # each value is common: its cells are measured


def test_lower_bound_of_perfectly_separated_statistics_is_large_but_finite():
    rng = np.random.default_rng(0)
    inside = rng.permutation(np.arange(100, 200, dtype=float))
    outside = rng.permutation(np.arange(0, 100, dtype=float))
    bound = dp_audit.lower_bound(inside, outside, epsilon_claimed=10.0, delta=1e-9)
    assert bound.true_positives == bound.trials == 50 and bound.false_positives == 0
    # 50 held-out trials can prove at most about log(50 / 3): the bound is limited by the evidence
    assert 2.0 < bound.lower < 4.5


def test_lower_bound_of_identical_worlds_is_about_zero():
    rng = np.random.default_rng(1)
    bound = dp_audit.lower_bound(rng.normal(size=200), rng.normal(size=200), epsilon_claimed=1.0, delta=1e-9)
    assert bound.lower < 0.5


@pytest.mark.parametrize(("epsilon", "fits", "must_find"), [(1.0, 12, False), (60.0, 30, True)])
def test_dp_mst_audit_stays_below_the_claim(epsilon, fits, must_find):
    bound = dp_audit.run_lower_bound_audit(fits=fits, epsilon=epsilon, iters=10, seed=3)
    assert bound.lower <= epsilon, bound.line()
    assert "lower bound" in bound.line()
    if must_find:
        assert bound.lower > 0.2, bound.line()  # at epsilon 60 the canary is plain to see
