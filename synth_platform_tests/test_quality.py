from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.gate.quality import (
    BETWEEN,
    EXIST,
    IN_SET,
    NOT_NULL,
    REGEX,
    TYPE,
    ExpectationOutcome,
    SuiteResult,
    build_suite,
    quality_score,
    run_suite,
)

ROWS = 300
SECRET = "SECRET-7f3a9-do-not-leak"
EMAIL_RE = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
CITIES = ["Lyon", "Oslo", "Porto", "Quito", "Riga"]


def _frame(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 91, rows)
    income = np.round(1000.0 + 50.0 * age + rng.normal(0.0, 300.0, rows), 2)
    income[rng.choice(rows, 6, replace=False)] = np.nan  # 2% nulls in the reference
    city = np.where(age < 40, rng.choice(CITIES[:2], rows), rng.choice(CITIES[2:], rows))
    notes = [f"free text note {i} {rng.integers(1_000_000)}" for i in range(rows)]
    notes[17] = f"customer said {SECRET}"
    return pd.DataFrame(
        {
            "age": age,
            "income": income,
            "city": city,
            "tier": pd.Categorical(np.where(income > 3500, "gold", "basic")),
            "joined": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 900, rows), unit="D"),
            "active": rng.random(rows) < 0.7,
            "note": notes,
            "email": [f"user{i}@example.org" for i in range(rows)],
        }
    )


FORMATS = {"email": EMAIL_RE}


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    # The masked reference has no email column; it is refilled after sampling.
    return _frame().drop(columns=["email"])


@pytest.fixture(scope="module")
def suite(reference):
    return build_suite(reference, formats=FORMATS)


@pytest.fixture()
def synthetic() -> pd.DataFrame:
    return _frame()


def _failures(result: SuiteResult) -> set[tuple[str, str | None]]:
    return {(o.expectation, o.column) for o in result.outcomes if not o.success}


def _suite_types(suite) -> list[tuple[str, str | None]]:
    return [(e.expectation_type, e.configuration.kwargs.get("column")) for e in suite.expectations]


def test_suite_shape(suite, reference):
    kinds = _suite_types(suite)
    for column in reference.columns:
        assert (EXIST, column) in kinds
        assert (NOT_NULL, column) in kinds
        assert (TYPE, column) in kinds
    assert (BETWEEN, "age") in kinds and (BETWEEN, "income") in kinds
    assert (IN_SET, "city") in kinds and (IN_SET, "tier") in kinds
    # A high-cardinality text column gets no value set, so its values never enter the suite.
    assert (IN_SET, "note") not in kinds
    assert (EXIST, "email") in kinds and (REGEX, "email") in kinds
    assert SECRET not in json.dumps([e.configuration.to_json_dict() for e in suite.expectations])

    ranges = {
        e.configuration.kwargs["column"]: (
            e.configuration.kwargs["min_value"],
            e.configuration.kwargs["max_value"],
        )
        for e in suite.expectations
        if e.expectation_type == BETWEEN
    }
    assert ranges["age"] == (int(reference["age"].min()), int(reference["age"].max()))
    not_null = {
        e.configuration.kwargs["column"]: e.configuration.kwargs["mostly"]
        for e in suite.expectations
        if e.expectation_type == NOT_NULL
    }
    assert not_null["age"] == pytest.approx(0.95)
    assert not_null["income"] == pytest.approx(1 - 6 / ROWS - 0.05)


def test_passes_on_same_frame(suite, synthetic):
    result = run_suite(suite, synthetic)
    assert result.success, [o for o in result.outcomes if not o.success]
    assert result.failed == 0
    assert result.evaluated == len(suite.expectations) == len(result.outcomes)
    assert all(isinstance(o, ExpectationOutcome) and o.success for o in result.outcomes)
    # Outcomes keep the suite's order.
    assert [(o.expectation, o.column) for o in result.outcomes] == _suite_types(suite)


def test_suite_is_reusable_and_plain_configs_work(suite, synthetic):
    first = run_suite(suite, synthetic)
    second = run_suite(suite, synthetic)
    assert first == second
    configs = [e.configuration.to_json_dict() for e in suite.expectations]
    assert run_suite(configs, synthetic) == first


def test_numeric_out_of_range_fails(suite, synthetic):
    synthetic.loc[3, "age"] = 200
    result = run_suite(suite, synthetic)
    assert not result.success
    assert _failures(result) == {(BETWEEN, "age")}
    assert result.failed == 1
    (outcome,) = [o for o in result.outcomes if not o.success]
    assert "1 values" in outcome.detail and "[18, 90]" in outcome.detail and "200" in outcome.detail


def test_unknown_category_fails(suite, synthetic):
    synthetic.loc[5, "city"] = "Atlantis"
    result = run_suite(suite, synthetic)
    assert _failures(result) == {(IN_SET, "city")}
    (outcome,) = [o for o in result.outcomes if not o.success]
    assert "5 reference categories" in outcome.detail
    assert "Atlantis" not in outcome.detail


def test_unknown_category_in_categorical_dtype_fails(suite, synthetic):
    synthetic["tier"] = pd.Categorical(
        np.where(synthetic.index < 10, "platinum", synthetic["tier"].astype(str))
    )
    result = run_suite(suite, synthetic)
    assert _failures(result) == {(IN_SET, "tier")}


def test_missing_column_fails(suite, synthetic):
    result = run_suite(suite, synthetic.drop(columns=["city"]))
    assert not result.success
    failures = _failures(result)
    assert (EXIST, "city") in failures
    assert {column for _, column in failures} == {"city"}
    exist = next(o for o in result.outcomes if (o.expectation, o.column) == (EXIST, "city"))
    assert exist.detail == "column missing"


def test_missing_format_column_fails(suite, synthetic):
    result = run_suite(suite, synthetic.drop(columns=["email"]))
    assert _failures(result) == {(EXIST, "email"), (REGEX, "email")}


def test_nulls_beyond_tolerance_fail(suite, synthetic):
    synthetic.loc[synthetic.index[:60], "income"] = np.nan  # 20%+ nulls vs 2% in the reference
    result = run_suite(suite, synthetic)
    assert _failures(result) == {(NOT_NULL, "income")}
    (outcome,) = [o for o in result.outcomes if not o.success]
    assert "allowed at most 7.00%" in outcome.detail


def test_nulls_within_tolerance_pass(suite, synthetic):
    synthetic.loc[synthetic.index[:5], "city"] = None  # 1.7% nulls, tolerance is 5%
    assert run_suite(suite, synthetic).success


def test_nan_in_ranged_column_passes(suite, synthetic):
    synthetic["age"] = synthetic["age"].astype(float)
    synthetic.loc[[1, 2], "age"] = np.nan
    synthetic.loc[[8, 9], "income"] = np.nan
    result = run_suite(suite, synthetic)
    assert result.success, _failures(result)


def test_bad_format_fails(suite, synthetic):
    synthetic.loc[4, "email"] = "not-an-email"
    result = run_suite(suite, synthetic)
    assert _failures(result) == {(REGEX, "email")}
    (outcome,) = [o for o in result.outcomes if not o.success]
    assert outcome.detail.startswith("1 of 300")
    assert "not-an-email" not in outcome.detail


def test_type_family_mismatch_fails(suite, synthetic):
    synthetic["age"] = synthetic["age"].astype(str)
    synthetic["city"] = np.arange(len(synthetic)).astype(object)
    failures = _failures(run_suite(suite, synthetic))
    assert (TYPE, "age") in failures
    assert (TYPE, "city") in failures


def test_details_never_quote_cell_values(suite, synthetic):
    # The secret shows up where GX would otherwise list it: as an unexpected category, a bad
    # format and in the free-text column, whose type and null checks also fail.
    synthetic.loc[0, "city"] = SECRET
    synthetic.loc[1, "email"] = SECRET
    synthetic["note"] = [SECRET if i % 2 else 7 for i in range(len(synthetic))]
    synthetic.loc[synthetic.index[:100], "note"] = None
    result = run_suite(suite, synthetic)
    failures = _failures(result)
    assert {(IN_SET, "city"), (REGEX, "email"), (TYPE, "note"), (NOT_NULL, "note")} <= failures
    for outcome in result.outcomes:
        assert SECRET not in outcome.detail
        assert "do-not-leak" not in outcome.detail


def test_extension_dtypes_pass_on_same_frame():
    frame = pd.DataFrame(
        {
            "code": pd.array(["a", "b", None, "a"] * 25, dtype="string"),
            "when": pd.date_range("2022-01-01", periods=100, freq="D", tz="Europe/Oslo"),
            "count": pd.array([1, None, 3, 4] * 25, dtype="Int64"),
            "flag": pd.array([True, False, None, True] * 25, dtype="boolean"),
        }
    )
    suite = build_suite(frame, null_tolerance=0.0)
    result = run_suite(suite, frame)
    assert result.success, [o for o in result.outcomes if not o.success]
    worse = frame.assign(code=pd.array(["a", "z", None, "a"] * 25, dtype="string"))
    assert _failures(run_suite(suite, worse)) == {(IN_SET, "code")}


# --------------------------------------------------------------------------------------------
# quality_score
# --------------------------------------------------------------------------------------------

METADATA = {
    "columns": {
        "age": {"sdtype": "numerical"},
        "income": {"sdtype": "numerical"},
        "city": {"sdtype": "categorical"},
        "tier": {"sdtype": "categorical"},
        "joined": {"sdtype": "datetime"},
        "active": {"sdtype": "boolean"},
    }
}


def test_quality_score_self_is_high():
    frame = _frame(400)
    overall, properties = quality_score(frame, frame, METADATA)
    assert set(properties) == {"Column Shapes", "Column Pair Trends"}
    assert overall > 0.95
    assert all(score > 0.95 for score in properties.values())
    assert overall == pytest.approx(np.mean(list(properties.values())))


def test_quality_score_drops_for_shuffled_and_garbled():
    frame = _frame(400)
    overall, properties = quality_score(frame, frame, METADATA)

    rng = np.random.default_rng(1)
    shuffled = frame.apply(
        lambda col: col.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).to_numpy()
    )
    shuffled_overall, shuffled_properties = quality_score(frame, shuffled, METADATA)
    assert shuffled_properties["Column Shapes"] > 0.95  # marginals untouched
    assert shuffled_properties["Column Pair Trends"] < properties["Column Pair Trends"] - 0.1
    assert shuffled_overall < overall - 0.05

    garbled = frame.assign(
        age=rng.integers(0, 200, len(frame)),
        income=rng.exponential(10_000.0, len(frame)),
        city=rng.choice(["Lyon", "Riga"], len(frame), p=[0.9, 0.1]),
        active=False,
    )
    garbled_overall, garbled_properties = quality_score(frame, garbled, METADATA)
    assert garbled_properties["Column Shapes"] < properties["Column Shapes"] - 0.2
    assert garbled_overall < overall - 0.2


def test_quality_score_subsamples_with_seed():
    frame = _frame(600)
    other = _frame(600, seed=5)
    first = quality_score(frame, other, METADATA, max_rows=200, seed=3)
    assert quality_score(frame, other, METADATA, max_rows=200, seed=3) == first
    assert 0.0 < first[0] <= 1.0


def test_quality_score_ignores_columns_outside_metadata_or_either_frame():
    frame = _frame(300)
    overall, _ = quality_score(frame, frame.drop(columns=["tier"]), METADATA)
    assert overall > 0.95
    with pytest.raises(ValueError):
        quality_score(frame, frame, {"columns": {"nope": {"sdtype": "numerical"}}})
