"""TSTR vs TRTR (lib.gate.utility) on generated tables unlike the demo: a sensor log with a fault flag."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.gate import utility
from synth_platform.lib.gate.evaluation import UTILITY_CHECK, utility_check
from synth_platform.lib.spec import DatasetSpec


def sensor_log(rows: int, seed: int) -> pd.DataFrame:
    """Readings where `fault` depends on temperature and site, and `load` is linear in two inputs."""
    rng = np.random.default_rng(seed)
    temperature = rng.normal(60, 15, rows)
    site = rng.choice(["north", "south", "east"], rows)
    vibration = rng.gamma(2.0, 1.5, rows)
    risk = 0.12 * (temperature - 60) + np.where(site == "south", 1.5, 0.0) + 0.4 * vibration - 1.5
    fault = np.where(rng.random(rows) < 1 / (1 + np.exp(-risk)), "fault", "ok")
    load = 2.0 * temperature + 10 * vibration + rng.normal(0, 5, rows)
    serial = [f"SN{i:06d}" for i in rng.permutation(rows)]  # unique per row: useless as a feature
    return pd.DataFrame(
        {
            "temperature": temperature,
            "site": site,
            "vibration": vibration,
            "serial": serial,
            "fault": fault,
            "load": load,
        }
    )


@pytest.fixture(scope="module")
def tables():
    return sensor_log(3000, 1), sensor_log(1000, 2), sensor_log(3000, 3)  # train, holdout, faithful synth


def test_faithful_synthetic_table_scores_like_real_data(tables):
    train, holdout, faithful = tables
    result = utility.train_synthetic_test_real(train, faithful, holdout, "fault", seed=0)
    assert result.task == "classification" and result.metric == "auc"
    assert result.trtr > 0.75  # the relationship is learnable
    assert abs(result.gap) < 0.05
    assert result.features_left_out == ["serial"]  # a unique id is not a feature


def test_synthetic_table_that_lost_the_relationship_has_a_large_gap(tables):
    train, holdout, faithful = tables
    broken = faithful.copy()
    broken["fault"] = broken["fault"].sample(frac=1, random_state=0).to_numpy()  # marginal kept, link lost
    result = utility.train_synthetic_test_real(train, broken, holdout, "fault", seed=0)
    assert result.tstr < 0.6  # about chance
    assert result.gap > 0.2
    assert result.scores["tstr_accuracy"] <= result.scores["trtr_accuracy"]


def test_numeric_target_is_scored_with_r2(tables):
    train, holdout, faithful = tables
    good = utility.train_synthetic_test_real(train, faithful, holdout, "load", seed=0)
    assert good.task == "regression" and good.metric == "r2"
    assert good.trtr > 0.8 and abs(good.gap) < 0.05
    noisy = faithful.assign(load=faithful["load"].sample(frac=1, random_state=1).to_numpy())
    assert utility.train_synthetic_test_real(train, noisy, holdout, "load", seed=0).gap > 0.5


def test_single_class_synthetic_table_is_chance_not_an_error(tables):
    train, holdout, faithful = tables
    one_class = faithful.assign(fault="ok")
    result = utility.train_synthetic_test_real(train, one_class, holdout, "fault", seed=0)
    assert result.tstr == 0.5
    assert result.scores["tstr_accuracy"] == pytest.approx((holdout["fault"] == "ok").mean())


def test_rows_are_capped_and_results_hold_no_value(tables):
    train, holdout, faithful = tables
    result = utility.train_synthetic_test_real(train, faithful, holdout, "fault", max_rows=500, seed=0)
    assert result.train_rows == 500 and result.test_rows == 500
    text = str(result.as_dict())
    assert "SN0" not in text and "north" not in text


def _spec(targets: list[str], max_gap: float) -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "name": "sensors",
            "source": {"landing_dir": "landing/sensors"},
            "columns": {
                "temperature": {"type": "float"},
                "site": {"type": "category"},
                "vibration": {"type": "float"},
                "serial": {"type": "string"},
                "fault": {"type": "category"},
                "load": {"type": "float"},
            },
            "utility": {"targets": targets, "max_gap": max_gap, "max_rows": 2000},
        }
    )


def test_gate_check_takes_the_largest_gap_over_targets(tables):
    train, holdout, faithful = tables
    broken = faithful.assign(load=faithful["load"].sample(frac=1, random_state=1).to_numpy())
    passing = utility_check(_spec(["fault", "load"], 0.1), train, faithful, holdout)
    failing = utility_check(_spec(["fault", "load"], 0.1), train, broken, holdout)
    assert passing.name == UTILITY_CHECK and passing.passed
    assert not failing.passed and failing.figure > 0.5 and failing.ci[0] > 0.1  # surely worse
    assert [t["target"] for t in failing.details["targets"]] == ["fault", "load"]


def test_target_missing_from_the_model_space_fails_the_check_with_the_reason(tables):
    train, holdout, faithful = tables
    outcome = utility_check(_spec(["fault"], 0.1), train.drop(columns="fault"), faithful, holdout)
    assert not outcome.passed
    assert "'fault' is not in the train table" in outcome.details["problems"][0]


def test_spec_rejects_an_undeclared_target():
    with pytest.raises(ValueError, match="utility target"):
        _spec(["no_such_column"], 0.1)


def test_gap_interval_is_wide_on_a_small_holdout_and_tight_on_a_large_one(tables):
    train, _, faithful = tables
    small = utility.train_synthetic_test_real(train, faithful, sensor_log(150, 4), "fault", seed=0)
    large = utility.train_synthetic_test_real(train, faithful, sensor_log(3000, 4), "fault", seed=0)
    for result in (small, large):
        low, high = result.gap_ci
        assert low <= result.gap <= high
    assert (small.gap_ci[1] - small.gap_ci[0]) > 2 * (large.gap_ci[1] - large.gap_ci[0])
    assert large.gap_ci[0] < 0.05  # a faithful table is not surely worse
