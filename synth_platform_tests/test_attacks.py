"""The calibrated privacy attacks, on a table shaped unlike the demo data.

An "honest generator" here is a fresh draw from the same population as the real rows (what
an ideal generator produces), so the honest side is exact; leaks are planted training rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.gate.attacks import ATTACKS, AttackConfig, run_suite
from synth_platform.lib.gate.attacks import suite as suite_module
from synth_platform.lib.gate.leak_battery import build_battery

QI = ["Patient Age", "ward-code", "postcode area", "admission day"]
SENSITIVE = ["Diagnosis"]
GENERALISED = ["postcode area"]
SECRET_LABEL = "zz-Planted-Ward-Label-77"


def population(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 91, n)
    ward = rng.choice([f"W{i:02d}" for i in range(11)] + [SECRET_LABEL], n)
    diagnosis = np.where(age > 60, rng.choice(["cardio", "ortho", "onco"], n), rng.choice(["none", "flu"], n))
    return pd.DataFrame(
        {
            "Patient Age": age.astype("float64"),
            "ward-code": ward,
            "postcode area": rng.choice([f"P{i}" for i in range(40)], n),
            "admission day": rng.integers(1, 366, n).astype("float64"),
            "Body Mass": rng.normal(26, 4, n).round(1),
            "visits.count": rng.poisson(3, n).astype("float64"),
            "smoker?": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
            "Diagnosis": diagnosis,
            "lab value": rng.lognormal(1, 0.5, n).round(3),
        }
    )


COLUMNS = list(population(1, 0).columns)
CONFIG = AttackConfig(anonymeter_attacks=200, distance_rows=3000)


@pytest.fixture(scope="module")
def real():
    return population(3000, 1), population(1000, 2)


def suite(train, holdout, synthetic, **overrides):
    config = AttackConfig(**{**CONFIG.__dict__, **overrides})
    return {
        r.name: r for r in run_suite(train, holdout, synthetic, COLUMNS, QI, SENSITIVE, GENERALISED, config)
    }


@pytest.fixture(scope="module")
def honest_results(real):
    return suite(*real, population(3000, 3))


@pytest.fixture(scope="module")
def copy_results(real):
    train, holdout = real
    return suite(train, holdout, train.sample(frac=1.0, random_state=0))


def test_fresh_draws_from_the_population_pass_every_attack(honest_results):
    assert set(honest_results) == set(ATTACKS)
    failed = {n: r.message for n, r in honest_results.items() if not r.passed}
    assert failed == {}
    assert all(r.verdict == "pass" for r in honest_results.values())
    assert 0.4 < honest_results["membership_inference"].statistic < 0.6


def test_a_copy_of_the_training_table_is_blocked_by_every_attack(copy_results):
    assert {n for n, r in copy_results.items() if r.verdict == "block"} == set(ATTACKS)
    assert copy_results["membership_inference"].statistic > 0.9
    for result in copy_results.values():
        assert result.ci[0] > result.threshold  # blocked on the interval, not the point


@pytest.mark.parametrize(
    ("leak", "attacks"),
    [
        ("near_copies_1%", {"near_copies", "unique_people"}),
        ("unique_replay_2%", {"near_copies", "unique_people"}),
        ("noisy_copies_2%", {"close_copies"}),
    ],
)
def test_planted_leaks_of_one_or_two_percent_are_blocked(real, leak, attacks):
    train, holdout = real
    honest = population(3000, 3)
    leaky = build_battery(train, holdout, honest, GENERALISED, QI, seed=5)[leak]
    results = suite(train, holdout, leaky)
    assert attacks <= {n for n, r in results.items() if r.verdict == "block"}


def test_rerun_gives_the_same_figures(real, honest_results):
    rerun = suite(*real, population(3000, 3))
    assert [r.as_dict() for r in rerun.values()] == [r.as_dict() for r in honest_results.values()]


@pytest.mark.parametrize("holdout_rows", [0, 50])
def test_no_evidence_is_no_pass_an_empty_or_tiny_holdout_blocks(real, holdout_rows):
    train, holdout = real
    results = suite(train, holdout.iloc[:holdout_rows], train)
    assert all(r.verdict == "block" for r in results.values())
    assert all(f"holdout has {holdout_rows} rows" in r.message for r in results.values())


def test_too_few_synthetic_rows_block(real):
    results = suite(*real, population(20, 3))
    assert all(r.verdict == "block" and "synthetic table has 20 rows" in r.message for r in results.values())


def test_an_attack_that_cannot_compute_blocks_with_its_reason(real, monkeypatch):
    def broken(data, config):
        raise RuntimeError(f"cell value {SECRET_LABEL} in the message")

    _, field, description = ATTACKS["linkability"]
    monkeypatch.setitem(suite_module.ATTACKS, "linkability", (broken, field, description))
    train, holdout = real
    result = suite(train.iloc[:600], holdout.iloc[:300], population(600, 3))["linkability"]
    assert result.verdict == "block"
    assert "RuntimeError" in result.message and SECRET_LABEL not in result.message


def test_without_quasi_identifiers_or_sensitive_columns_those_attacks_do_not_apply(real):
    train, holdout = real
    config = AttackConfig(**{**CONFIG.__dict__})
    smaller = (train.iloc[:600], holdout.iloc[:300], population(600, 3))
    results = {r.name: r for r in run_suite(*smaller, COLUMNS, [], [], [], config)}
    for name in ("linkability", "attribute_inference", "unique_people"):
        assert results[name].verdict == "not_applicable" and results[name].passed
    assert results["near_copies"].verdict == "pass"


def test_results_carry_no_cell_value(honest_results, copy_results):
    for results in (honest_results, copy_results):
        text = json.dumps([{**r.as_dict(), **r.details} for r in results.values()])
        assert SECRET_LABEL not in text


def test_a_synthetic_range_resolution_makes_a_match_depend_on_the_two_values_only():
    """The private figures compare numbers at a resolution set by the synthetic table alone: a real
    outlier (one person) must not change whether anyone else matches."""
    from synth_platform.lib.gate.attacks.near_match import column_codes

    synthetic = pd.DataFrame({"x": [10.0, 20.0, 30.0]})
    real = pd.DataFrame({"x": [20.0, 25.0]})
    outlier = pd.DataFrame({"x": [20.0, 25.0, 1e9]})
    for frame in (real, outlier):
        codes = column_codes([frame, synthetic], ["x"], ["x"], resolution_from=1)
        assert np.isin(codes[0][:2, 0], codes[1][:, 0]).tolist() == [True, False]
    # without it the range of every frame sets the resolution (the exact attacks, restricted)
    wide = column_codes([outlier, synthetic], ["x"], ["x"])
    assert wide[0].shape == (3, 1)


# --- close_copies: what its figure counts, and when it samples ------------------------------------


def _close_copies(train, holdout, synthetic, seed: int = 0):
    from synth_platform.lib.gate.attacks import closest_record
    from synth_platform.lib.gate.attacks.space import AttackData

    config = AttackConfig(**{**CONFIG.__dict__, "seed": seed})
    return closest_record.run(AttackData(train, holdout, synthetic, list(train.columns)), config)


def test_close_copies_counts_training_people_not_synthetic_rows_as_its_description_says(real):
    """Half the synthetic rows are copies of one training person: a share of synthetic rows close to
    a training row (what the UI once said) would be 0.5; the figure is a share of training people
    (one person in 3,000) minus the holdout's, as the description now says."""
    train, holdout = real
    synthetic = population(3000, 3)
    synthetic.iloc[:1500] = train.iloc[[0] * 1500].to_numpy()
    result = _close_copies(train, holdout, synthetic)
    shares = result.details["share_train_within_cut"], result.details["share_holdout_within_cut"]
    assert result.statistic == pytest.approx(shares[0] - shares[1], abs=1e-6)
    assert shares[0] < 0.02 and result.statistic < 0.01  # one person, not half the table
    description = ATTACKS["close_copies"][2]
    assert "share of training people with a synthetic row" in description
    assert "holdout" in description and "share of synthetic rows" not in description
    assert "share of training people" in ATTACKS["near_copies"][2]


def _numbers(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(0, 1, n), "y": rng.gamma(2.0, 1.0, n), "z": rng.random(n)})


def test_close_copies_compares_every_row_up_to_the_pair_cap_then_a_seeded_sample():
    """No categorical column: every real row pairs with every synthetic row. 4,000 train and 1,000
    holdout rows against 4,000 synthetic ones are exactly the 20 M-pair cap: every row is compared;
    1,500 holdout rows make 22 M pairs: 20/22 of each side, sampled with the check's seed."""
    from synth_platform.lib.gate.attacks import closest_record

    train, synthetic = _numbers(4000, 1), _numbers(4000, 3)
    at_cap = _close_copies(train, _numbers(1000, 2), synthetic)
    assert closest_record.MAX_PAIRS == 20_000_000
    assert (at_cap.details["train_rows_evaluated"], at_cap.details["holdout_rows_evaluated"]) == (4000, 1000)
    assert at_cap.details["method"] == "blocked on categorical values, all pairs"

    holdout = _numbers(1500, 2)
    above = _close_copies(train, holdout, synthetic, seed=5)
    fraction = 20_000_000 / (4000 * 4000 + 1500 * 4000)
    expected = (int(4000 * fraction), int(1500 * fraction))
    assert (above.details["train_rows_evaluated"], above.details["holdout_rows_evaluated"]) == expected
    assert above.details["method"] == f"blocked on categorical values, {fraction:.1%} of real rows"
    again = _close_copies(train, holdout, synthetic, seed=5)
    assert (again.statistic, again.details) == (above.statistic, above.details)  # seeded: reproducible
    other = _close_copies(train, holdout, synthetic, seed=6)
    assert other.details["distance_cut"] != above.details["distance_cut"]  # another seed, other rows
