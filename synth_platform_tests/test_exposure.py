"""Absolute exposure: real people of the whole source found in a table beyond chance.

The table is a hospital extract shaped unlike the demo (odd column names, floats, a rare ward),
and the leaks are built the way a user built them when the relative attacks let them through:
drawn from the whole source or the holdout, with generalised columns redrawn, numbers nudged and
a category changed, or one column group copied. The honest side is an ideal generator: a fresh
draw from the same population, the null the check is calibrated against.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.gate import bounded_figures, private_decision
from synth_platform.lib.gate.attacks import AttackConfig, exposure
from synth_platform.lib.gate.attacks.space import AttackData
from synth_platform_tests.test_attacks import COLUMNS, GENERALISED, QI, SENSITIVE, population

NUMERIC = ["Patient Age", "admission day", "Body Mass", "visits.count", "lab value"]
CATEGORICAL = [c for c in COLUMNS if c not in NUMERIC]


@pytest.fixture(scope="module")
def real():
    return population(4000, 11), population(1000, 12)


def judge(train, holdout, table, seed=11):
    data = AttackData(train, holdout, table, COLUMNS, QI, SENSITIVE, GENERALISED)
    return exposure.run(data, AttackConfig(seed=seed))


def _source(real):
    return pd.concat(real, ignore_index=True)


def _mix(honest: pd.DataFrame, planted: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = honest.copy().reset_index(drop=True)
    rows = rng.choice(len(out), len(planted), replace=False)
    out.iloc[rows] = planted[out.columns].to_numpy()
    return out.astype(honest.dtypes.to_dict())


def _redrawn(rows: pd.DataFrame, source: pd.DataFrame, columns: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = rows.copy()
    for column in columns:
        out[column] = source[column].to_numpy()[rng.integers(0, len(source), len(out))]
    return out


def _nudged(rows: pd.DataFrame, source: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Two numbers moved by up to 3 % of their range, one category changed to another value."""
    rng = np.random.default_rng(seed)
    out = rows.copy().reset_index(drop=True)
    for i in range(len(out)):
        for column in rng.choice(NUMERIC, 2, replace=False):
            span = float(source[column].max() - source[column].min())
            out.loc[i, column] = out.loc[i, column] + rng.uniform(-0.03, 0.03) * span
        column = rng.choice(CATEGORICAL)
        others = [v for v in source[column].unique() if v != out.loc[i, column]]
        out.loc[i, column] = rng.choice(others)
    return out


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_an_ideal_honest_generator_is_not_blocked(real, seed):
    result = judge(*real, population(4000, seed))
    assert result.passed, result.message
    assert result.details["criteria"], "some criterion was judged"


def test_the_whole_source_with_generalised_columns_redrawn_is_blocked(real):
    source = _source(real)
    leak = _redrawn(source.sample(4000, random_state=1), source, [*GENERALISED, "admission day"], seed=1)
    result = judge(*real, leak.reset_index(drop=True))
    assert not result.passed, result.message


def test_a_fifth_of_real_people_from_the_whole_source_is_blocked(real):
    source = _source(real)
    planted = _redrawn(source.sample(800, random_state=2), source, [*GENERALISED, "admission day"], seed=2)
    result = judge(*real, _mix(population(4000, 3), planted, seed=2))
    assert not result.passed, result.message


def test_five_percent_exact_copies_of_holdout_people_are_blocked(real):
    _, holdout = real
    result = judge(*real, _mix(population(4000, 3), holdout.sample(200, random_state=3), seed=3))
    assert not result.passed, result.message
    assert "not identical" in result.details["deciding_criterion"]


def test_ten_percent_k_attribute_neighbours_are_blocked(real):
    source = _source(real)
    planted = _nudged(source.sample(400, random_state=4), source, seed=4)
    result = judge(*real, _mix(population(4000, 3), planted, seed=4))
    assert not result.passed, result.message


def test_one_column_group_copied_from_real_people_is_blocked(real):
    """Only the quasi-identifiers of real people, the rest of each row honest."""
    source = _source(real)
    honest = population(4000, 3)
    donors = source.sample(400, random_state=5).reset_index(drop=True)
    rows = np.random.default_rng(5).choice(len(honest), 400, replace=False)
    leaky = honest.copy()
    for column in QI:
        leaky.loc[rows, column] = donors[column].to_numpy()
    result = judge(*real, leaky)
    assert not result.passed, result.message
    assert "quasi-identifier" in result.details["deciding_criterion"]


def test_the_figures_carry_no_cell_value_and_are_seeded(real):
    table = population(4000, 3)
    first, second = judge(*real, table), judge(*real, table)
    assert first.as_dict() == second.as_dict()
    text = json.dumps(first.as_dict(), default=str)
    for value in ("zz-Planted-Ward-Label-77", "W01", "P13", "cardio"):
        assert value not in text


def test_a_table_of_common_profiles_only_is_not_judged_blocking():
    """Nobody stands out in three binary columns: nothing can be exposed, nothing blocks."""
    rng = np.random.default_rng(0)

    def draw(n):
        return pd.DataFrame({c: rng.choice(["a", "b"], n) for c in ("u", "v", "w")})

    train, holdout, table = draw(2000), draw(500), draw(2000)
    data = AttackData(train, holdout, table, ["u", "v", "w"])
    assert exposure.run(data, AttackConfig()).passed


# --- the bounded figure of the private gate ------------------------------------------------------


def test_a_maximum_matching_moves_by_at_most_one_per_person():
    """The sensitivity the private gate's noise is calibrated to, on random small tables."""
    rng = np.random.default_rng(7)
    criteria = [exposure.Criterion("all", 0, None), exposure.Criterion("all", 1, None)]
    criteria.append(exposure.Criterion("all", 2, 0))
    columns, numeric = ["a", "b", "x"], ["x"]

    def draw(n):
        return pd.DataFrame(
            {
                "a": rng.choice(list("pq"), n),
                "b": rng.choice(list("rst"), n),
                "x": rng.integers(0, 5, n) * 1.0,
            }
        )

    for _ in range(20):
        people, reference = draw(30), draw(30)
        base = exposure.matched_people(people, [reference], columns, numeric, criteria, range_from=0)[0]
        fewer = exposure.matched_people(
            people.iloc[1:], [reference], columns, numeric, criteria, range_from=0
        )[0]
        more = exposure.matched_people(
            people, [pd.concat([reference, draw(1)])], columns, numeric, criteria, 0
        )[0]
        for b, f, m in zip(base, fewer, more, strict=True):
            assert 0 <= b - f <= 1
            assert 0 <= m - b <= 1


def test_the_private_figure_releases_honest_tables_and_blocks_a_whole_source_replay(real):
    train, _ = real
    source = _source(real)
    numeric = bounded_figures.numeric_columns(train, COLUMNS)
    honest = population(4000, 3)
    leak = _redrawn(source.sample(4000, random_state=1), source, GENERALISED, seed=1).reset_index(drop=True)
    key = b"k" * 32
    verdicts = {}
    for name, table in (("honest", honest), ("leak", leak)):
        noise = private_decision.GateNoise(key, "model", name, 0.01)
        found, chance, _ = bounded_figures.exposure_matchings(
            source, table, COLUMNS, numeric, 2000, 2000, private_decision.sample_key(key, "absolute_exposure")
        )
        noisy = private_decision.noisy_share_differences(
            noise, "absolute_exposure", found, 2000, chance, 2000, 0.002, 0.002
        )
        verdicts[name] = noisy.passed
    assert verdicts == {"honest": True, "leak": False}
