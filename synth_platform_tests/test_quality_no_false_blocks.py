"""Expectations derived from the training data let an honest generator through."""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from synth_platform.bench.gate import as_ingested, numeric_credit
from synth_platform.lib.deidentify.masking import apply_masking, plan_masking
from synth_platform.lib.gate import evaluation
from synth_platform.lib.gate.quality import BETWEEN, IN_SET, NOT_NULL, build_suite, numeric_bounds, run_suite
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.synthesize import synthesis
from synth_platform.lib.synthesize.split import split_train_holdout


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
    from synth_platform.lib.gate.quality import _configs, build_public_suite

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


# --- issue 14: range and set checks hold exactly the domain the generator was promised -------------


def test_public_ranges_admit_values_exactly_at_the_declared_bounds_and_refuse_beyond():
    from synth_platform.lib.gate.quality import build_public_suite

    schema = pd.DataFrame(
        {"n": pd.array([], dtype="Int64"), "x": pd.Series([], dtype=float), "c": pd.Series([], dtype=object)}
    )
    suite = build_public_suite(
        schema,
        bounds={"n": (0, 10), "x": (-2.5, 0.125)},
        categories={"c": ["a"]},
        extra_categories=["(rare)"],
    )
    at_edges = pd.DataFrame(
        {"n": pd.array([0, 10, None], dtype="Int64"), "x": [-2.5, 0.125, np.nan], "c": ["a", "(rare)", None]}
    )
    assert run_suite(suite, at_edges).success  # inclusive bounds; nulls are not range violations
    beyond = pd.DataFrame(
        {"n": pd.array([0, 11, 5], dtype="Int64"), "x": [-2.5, 0.1250001, 0.0], "c": ["a", "b", "a"]}
    )
    assert _failed(run_suite(suite, beyond)) == {(BETWEEN, "n"), (BETWEEN, "x"), (IN_SET, "c")}


def _dp_gate_suite_outcome(frame: pd.DataFrame, columns: dict, shift: dict | None = None):
    """dp_mst on `frame` (declared domains as in `columns`), sampled, restored to the source's shape
    and checked by the gate's public suite; `shift` adds a constant to a column of the sample first."""
    from synth_platform.lib.deidentify import refill
    from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer, declared_domains

    spec = DatasetSpec.model_validate({"name": "t", "source": {"landing_dir": "x"}, "columns": columns})
    plan = plan_masking(spec, {})
    source = as_ingested(frame, spec)
    masked, _ = apply_masking(source, plan, spec, b"test-key")
    synth = DPMSTSynthesizer(None, epsilon=4.0, iters=50, domains=declared_domains(spec, plan)).fit(masked)
    sampled = synth.sample(2_000, seed=3)
    for column, delta in (shift or {}).items():
        sampled[column] = sampled[column] + delta
    shaped = refill.restore_source_shape(sampled, spec, plan, seed=0)
    model_space = evaluation.to_model_space(shaped, plan, masked)
    return evaluation.public_expectations(spec, plan, masked, shaped, model_space)


def test_an_honest_dp_mst_sample_passes_declared_ranges_and_sets_at_their_edges():
    rng = np.random.default_rng(5)
    rows = 3_000
    frame = pd.DataFrame(
        {
            # values pile up at both declared edges (clipped in masking, drawn back at the edge)
            "age": np.clip(rng.normal(50, 30, rows), 18, 90).round().astype(int),
            "share": np.clip(rng.normal(0.5, 0.4, rows), 0.0, 1.0).round(3),
            "delta": np.round(rng.laplace(0.0, 5.0, rows), 2),
            "level": rng.choice(["low", "mid", "high"], rows),
        }
    )
    columns = {
        "age": {"type": "integer", "bounds": [17.5, 90.4]},  # fractional bounds on integers
        "share": {"type": "float", "bounds": [0.0, 1.0]},
        "delta": {"type": "float", "bounds": [-10.0, 10.0]},  # narrower than the data: clipped
        "level": {"type": "category", "categories": ["low", "mid", "high", "unused"]},
    }
    honest = _dp_gate_suite_outcome(frame, columns)
    assert honest.passed, honest.details
    shifted = _dp_gate_suite_outcome(frame, columns, shift={"share": 0.5})
    assert not shifted.passed and shifted.details["failed_expectations"] == [f"{BETWEEN}(share)"]


def test_trimming_keeps_a_column_whose_cells_are_thin_under_noise():
    """Root cause of a quality block on a 5,345-row table: with ~4,000 training rows, eleven
    columns and the default epsilon, a fine cell's noise (sd ~77) exceeds its count (~30), the
    trimming never found the mass and kept one peak cell: the column collapsed to a point."""
    from synth_platform.lib.synthesize.dp_domain import _trimmed_ends

    rng = np.random.default_rng(0)
    thin = np.zeros(256)
    thin[21:162] = 30.0
    from_edge = np.zeros(112)
    from_edge[:68] = 63.0  # integer ages from the lowest cell on
    thin_ends = np.array([_trimmed_ends(thin + rng.normal(0.0, 77.0, 256), 77.0) for _ in range(50)])
    edge_ends = np.array([_trimmed_ends(from_edge + rng.normal(0.0, 77.0, 112), 77.0) for _ in range(50)])
    assert (thin_ends[:, 1] - thin_ends[:, 0]).min() >= 50  # the column keeps its spread, never one cell
    # real values before the proof of mass are kept (the old rule cut a median 16 cells, up to 96)
    assert np.median(edge_ends[:, 0]) <= 1 and np.median(edge_ends[:, 1]) >= 67
    sharp = np.zeros(256)
    sharp[100:120] = 1000.0
    assert _trimmed_ends(sharp + rng.normal(0.0, 10.0, 256), 10.0) == (100, 119)  # empty ends still trimmed


def test_a_declared_date_window_is_checked_whole_days_inclusive():
    """A declared date window was dropped from the public suite (no check at all); it now holds
    every instant of its first to last day, and a date outside it fails."""
    spec = DatasetSpec.model_validate(
        {
            "name": "t",
            "source": {"landing_dir": "x"},
            "columns": {"day": {"type": "date", "bounds": ["2022-01-01", "2024-12-31"]}},
        }
    )
    plan = plan_masking(spec, {})
    schema = pd.DataFrame({"day": pd.Series([], dtype="datetime64[ns]")})
    inside = pd.DataFrame({"day": pd.to_datetime(["2022-01-01 00:00:00", "2024-12-31 23:59:59", None])})
    assert evaluation.public_expectations(spec, plan, schema, inside, inside).passed
    outside = pd.DataFrame({"day": pd.to_datetime(["2022-01-01", "2025-01-01"])})
    failed = evaluation.public_expectations(spec, plan, schema, outside, outside)
    assert failed.details["failed_expectations"] == [f"{BETWEEN}(day)"]
