"""Expectations derived from the training data let an honest generator through."""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from synth_platform.bench_gate import as_ingested, numeric_credit
from synth_platform.lib import evaluation, synthesis
from synth_platform.lib.masking import apply_masking, plan_masking
from synth_platform.lib.quality import BETWEEN, IN_SET, NOT_NULL, build_suite, numeric_bounds, run_suite
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.split import split_train_holdout


def _failed(result) -> set[tuple[str, str]]:
    return {(o.expectation, o.column) for o in result.failures()}


def test_rounding_slack_allows_what_a_clipping_rounding_model_produces():
    reference = pd.DataFrame({"amount": [0.10, 1.25, 2.35], "count": pd.array([1, 5, 9], dtype="Int64")})
    low, high = numeric_bounds(reference["amount"])
    assert low < 0.10 and high > 2.35 and high - 2.35 <= 0.005 + 1e-6
    assert numeric_bounds(reference["count"]) == (1, 9)
    suite = build_suite(reference)
    honest = pd.DataFrame({"amount": [2.354, 0.096], "count": pd.array([9, 1], dtype="Int64")})
    assert run_suite(suite, honest).success
    beyond = pd.DataFrame({"amount": [2.37, 0.5], "count": pd.array([10, 1], dtype="Int64")})
    assert _failed(run_suite(suite, beyond)) == {(BETWEEN, "amount"), (BETWEEN, "count")}


def test_published_bounds_widen_the_range():
    reference = pd.DataFrame({"score": [10.0, 20.0, 30.0]})
    suite = build_suite(reference, bounds={"score": (0.0, 100.0)})
    assert run_suite(suite, pd.DataFrame({"score": [0.0, 99.5]})).success


def test_nan_passes_range_and_set_but_the_null_share_is_checked():
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0] * 25, "c": ["a", "b", "(rare)", "a"] * 25})
    suite = build_suite(reference)
    gappy = pd.DataFrame({"x": [1.0, np.nan] * 50, "c": ["(rare)", None] * 50})
    assert _failed(run_suite(suite, gappy)) == {(NOT_NULL, "x"), (NOT_NULL, "c")}
    assert run_suite(suite, pd.DataFrame({"x": [2.5] * 100, "c": ["(rare)"] * 100})).success


def test_a_restored_column_is_checked_by_its_format_not_its_model_space_categories():
    reference = pd.DataFrame({"zip": ["021", "100", "941"] * 20})
    suite = build_suite(reference, formats={"zip": r"^\d{5}$"})
    assert IN_SET not in {o.expectation for o in run_suite(suite, reference).outcomes}
    restored = pd.DataFrame({"zip": ["02134", "10001", "94105"] * 20})
    assert run_suite(suite, restored).success
    assert not run_suite(suite, pd.DataFrame({"zip": ["0213"] * 60})).success


def _honest_copula_on_numeric_credit(rows: int, sampled_rows: int):
    """(spec, plan, model-space train, sampled, sampled in model space) of an honest GaussianCopula."""
    frame, spec_dict = numeric_credit(rows, seed=4)
    spec = DatasetSpec.model_validate(spec_dict)
    source = as_ingested(frame, spec)
    plan = plan_masking(spec, {})
    masked, _ = apply_masking(source, plan, spec, b"test-key")
    train, _holdout = split_train_holdout(masked, spec.split.holdout_fraction, spec.split.seed, spec.key)
    columns = [t.column for t in plan if t.reaches_model]
    with tempfile.TemporaryDirectory() as tmp:
        model = synthesis.fit_and_save(train[columns], "gaussian_copula", {}, 0, Path(tmp))
        sampled = synthesis.load_and_sample(model, sampled_rows, seed=1)
    return spec, plan, train[columns], sampled, evaluation.to_model_space(sampled, plan, train[columns])


def test_gaussian_copula_on_an_all_numeric_table_of_tens_of_thousands_of_rows_is_not_blocked():
    _spec, _plan, train, _sampled, synthetic = _honest_copula_on_numeric_credit(20_000, 5_000)
    result = run_suite(build_suite(train), synthetic)
    assert result.success, [(o.column, o.detail) for o in result.failures()]


def test_the_public_suite_is_built_from_declared_domains_and_types_only():
    from synth_platform.lib.quality import _configs, build_public_suite

    schema = pd.DataFrame(
        {
            "age": pd.array([], dtype="Int64"),
            "ward": pd.Series([], dtype=object),
            "stay": pd.Series([], dtype=float),
        }
    )
    suite = build_public_suite(
        schema, bounds={"age": (17, 90)}, categories={"ward": ["a", "b"]}, extra_categories=["(rare)"]
    )
    # no data went in: the same suite whatever real rows exist
    kinds = sorted((c["type"], c["kwargs"].get("column")) for c in _configs(suite))
    assert ("expect_column_values_to_be_between", "age") in kinds
    assert ("expect_column_values_to_be_in_set", "ward") in kinds
    assert not any(
        k == (BETWEEN, "stay") or k[0] == NOT_NULL for k in kinds
    )  # undeclared: no range, no null share
    honest = pd.DataFrame(
        {
            "age": pd.array([17, 90, None], dtype="Int64"),
            "ward": ["a", "(rare)", None],
            "stay": [1.5, 300.0, None],
        }
    )
    assert run_suite(suite, honest).success
    wrong = pd.DataFrame(
        {"age": pd.array([16, 40, 50], dtype="Int64"), "ward": ["c", "a", "b"], "stay": [1.0, 2.0, 3.0]}
    )
    assert _failed(run_suite(suite, wrong)) == {(BETWEEN, "age"), (IN_SET, "ward")}


def test_the_gate_runs_the_public_suite_on_an_honest_table_without_blocking():
    spec, plan, train, sampled, synthetic = _honest_copula_on_numeric_credit(4_000, 2_000)
    outcome = evaluation.public_expectations(spec, plan, train, sampled, synthetic)
    assert outcome.public and outcome.passed, outcome.details
