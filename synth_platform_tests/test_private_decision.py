"""The private release decision: noise scale, determinism, the decision rule, sensitivities, the charge.

Sensitivity is checked empirically: one person added to (or removed from) train or holdout moves
every bounded figure (`lib/bounded_figures`) by at most its stated Δ, over many random neighbours.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.gate import bounded_figures as bf
from synth_platform.lib.gate import evaluation, private_decision
from synth_platform.lib.gate.private_decision import GateNoise, NoisyFigure
from synth_platform.lib.governance import ledger
from synth_platform.lib.test_noise import TEST_GUARD_ENV, TEST_NOISE_SEED_ENV

KEY = b"fixed-test-only-gate-key"


def _noise(rho: float = 0.01, synthetic: str = "syn", key: bytes = KEY) -> GateNoise:
    return GateNoise(key, "model-sha", synthetic, rho, evaluation="eval-1")


# --- noise ---------------------------------------------------------------------------------------


def test_noise_scale_matches_sensitivity_over_sqrt_two_rho():
    assert private_decision.gaussian_sigma(0.001, 0.005) == pytest.approx(0.001 / math.sqrt(0.01))
    noise = _noise()
    draws = np.array([noise.gaussian(f"check-{i}", 1.0) for i in range(4000)])
    assert abs(draws.mean()) < 0.06 and draws.std() == pytest.approx(1.0, abs=0.05)
    sigma = private_decision.gaussian_sigma(1 / 500, 0.002)
    values = [
        private_decision.noisy_scalar(_noise(synthetic=f"s{i}"), "q", 0.5, 1 / 500, 0.002, 0.0).value
        for i in range(2000)
    ]
    assert np.std(values) == pytest.approx(sigma, rel=0.08)
    # a share difference: each side gets its own sigma = (1/m_side) / sqrt(2 rho)
    figure = private_decision.noisy_share_difference(_noise(), "near", 10, 1000, 2, 250, 0.004, 0.002)
    expected = math.hypot(1 / 1000, 1 / 250) / math.sqrt(0.008)
    assert figure.sigma == pytest.approx(expected)
    assert figure.sensitivity == pytest.approx(1 / 250)


def test_rho_split_uses_public_weights_and_sums_to_the_gate_rho():
    names = ["holdout_size", "near_copies", "quality_score"]
    split = private_decision.split_rho(0.01, names)
    assert sum(split.values()) == pytest.approx(0.01)
    weights = private_decision.RHO_WEIGHTS
    assert split["near_copies"] / split["quality_score"] == pytest.approx(
        weights["near_copies"] / weights["quality_score"]
    )


def test_noise_is_deterministic_under_the_key_and_new_for_a_new_evaluation(monkeypatch):
    monkeypatch.delenv(TEST_NOISE_SEED_ENV)  # outside a test run: the noise is the evaluation's
    first = _noise().gaussian("near_copies", 1.0, 3)
    assert np.array_equal(first, _noise().gaussian("near_copies", 1.0, 3))  # a re-run: same draw
    assert not np.array_equal(first, _noise(key=b"another-key-entirely").gaussian("near_copies", 1.0, 3))
    assert not np.array_equal(first, _noise(synthetic="other").gaussian("near_copies", 1.0, 3))
    assert not np.array_equal(first, _noise().gaussian("close_copies", 1.0, 3))
    other = GateNoise(KEY, "model-sha", "syn", 0.01, evaluation="eval-2").gaussian("near_copies", 1.0, 3)
    assert not np.array_equal(first, other)
    one = private_decision.evaluation_id("m", "s", "t", {"gate_rho": 0.01})
    assert one == private_decision.evaluation_id("m", "s", "t", {"gate_rho": 0.01})
    assert one != private_decision.evaluation_id("m", "s", "t", {"gate_rho": 0.02})


def test_a_test_run_draws_the_same_gate_noise_for_a_refitted_model_and_a_deployment_never_does(monkeypatch):
    """A refit writes new model bytes (fit timestamps), so an end-to-end test would draw new gate noise
    on every run; under the test seed the draw follows the synthetic table only. Without pytest's own
    guard variable the seed is ignored and each model is its own evaluation."""
    monkeypatch.setenv(TEST_NOISE_SEED_ENV, "19")
    refits = [GateNoise(KEY, f"model-{i}", "syn", 0.01, evaluation=f"eval-{i}") for i in range(2)]
    first, second = (noise.gaussian("near_copies", 1.0, 3) for noise in refits)
    assert np.array_equal(first, second)
    assert not np.array_equal(
        first, GateNoise(KEY, "model-0", "other-syn", 0.01).gaussian("near_copies", 1.0, 3)
    )
    assert not np.array_equal(
        first, GateNoise(b"another-key", "model-0", "syn", 0.01).gaussian("near_copies", 1.0, 3)
    )
    monkeypatch.delenv(TEST_GUARD_ENV)
    first, second = (noise.gaussian("near_copies", 1.0, 3) for noise in refits)
    assert not np.array_equal(first, second)


# --- the decision --------------------------------------------------------------------------------


def test_the_rule_blocks_only_when_the_noisy_figure_is_surely_beyond_the_threshold():
    z = private_decision.Z
    assert not private_decision.passes_unless_surely_above(0.010, 0.001, 0.002)  # surely a leak
    assert private_decision.passes_unless_surely_above(0.002 + z * 0.001 - 1e-9, 0.001, 0.002)
    assert not private_decision.passes_unless_surely_above(0.002 + z * 0.001 + 1e-9, 0.001, 0.002)
    assert not private_decision.passes_unless_surely_below(0.70, 0.01, 0.75)  # surely poor quality
    assert private_decision.passes_unless_surely_below(0.74, 0.01, 0.75)  # not surely below
    assert private_decision.passes_if_surely_at_least(300.0, 10.0, 200)
    assert not private_decision.passes_if_surely_at_least(210.0, 10.0, 200)  # not surely enough rows


def test_the_decision_flips_only_through_the_noisy_figure():
    exact_block = evaluation.CheckOutcome("near_copies", False, 0.5, 0.002, "12 exact", {"share_train": 0.5})
    quiet = NoisyFigure(0.0, 0.001, 0.001, 0.004, 0.001, True, {})
    released = evaluation._privatised(exact_block, (quiet, "pass: noisy"))
    assert released.passed and released.details["exact_passed"] is False
    public = released.as_dict()
    assert public["figure"] == 0.0 and public["private"] is True and "share_train" not in public
    assert released.exact_dict()["figure"] == 0.5  # the restricted view keeps the exact figure
    assert "12" not in released.description and released.details["exact_description"] == "12 exact"
    loud = NoisyFigure(0.5, 0.001, 0.001, 0.004, 0.001, False, {})
    exact_pass = evaluation.CheckOutcome("near_copies", True, 0.0, 0.002, "d")
    assert not evaluation._privatised(exact_pass, (loud, "BLOCK: noisy")).passed
    # a public check is never noised
    gx = evaluation.CheckOutcome("schema_expectations", True, 0.0, 0.0, "d", public=True)
    assert evaluation._privatised(gx, None) is gx
    report = evaluation.GateReport([released, gx])
    assert report.private and "exact_verdict" not in report.figures()["near_copies"]
    assert report.exact_figures()["near_copies"]["exact_passed"] is False


def test_a_refused_or_missing_figure_blocks():
    nan = private_decision.noisy_scalar(_noise(), "q", math.nan, 0.01, 0.001, 0.75, "below")
    assert not nan.passed
    nobody = private_decision.noisy_share_difference(_noise(), "near", 0, 0, 0, 100, 0.001, 0.002)
    assert not nobody.passed


# --- sensitivity, empirically --------------------------------------------------------------------

COLUMNS = ["a", "b", "c", "x", "y"]
NUMERIC = ["x", "y"]


def _people(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": rng.choice(list("pqr"), n),
            "b": rng.choice(list("uvwxyz"), n),
            "c": rng.choice(["lo", "hi"], n),
            "x": rng.integers(18, 30, n).astype("int64"),
            "y": np.round(rng.normal(50, 10, n), 1),
        }
    )


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(7)
    train, holdout = _people(rng, 160), _people(rng, 90)
    # the synthetic table: fresh draws plus a few copies of training people, so indicators fire
    synthetic = pd.concat([_people(rng, 300), train.iloc[:12]], ignore_index=True)
    extra = _people(np.random.default_rng(99), 40)
    return train, holdout, synthetic, extra


def _figures(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, m_t: int, m_h: int) -> dict:
    key = "0123456789abcdef"
    t, h = bf.keyed_sample(train, m_t, key), bf.keyed_sample(holdout, m_h, key)
    m_n = min(m_t, m_h)
    tn, hn = bf.keyed_sample(train, m_n, key), bf.keyed_sample(holdout, m_n, key)
    close = bf.close_copy_hits(t, h, synthetic, COLUMNS, NUMERIC)
    inference = bf.inference_hits(tn, hn, synthetic, COLUMNS, ["c", "y"], NUMERIC, 3)
    return {
        # share differences: (train hits / m_t, holdout hits / m_h)
        "exact": (
            bf.exact_copy_hits(t, synthetic, COLUMNS) / m_t,
            bf.exact_copy_hits(h, synthetic, COLUMNS) / m_h,
        ),
        "near": _shares(bf.near_copy_hits(t, h, synthetic, COLUMNS, NUMERIC), m_t, m_h),
        "unique": _shares(
            bf.unique_people_hits(t, h, synthetic, ["a", "x"], ["b", "c", "y"], NUMERIC), m_t, m_h
        ),
        **{f"close_{i}": _shares((close[0][i], close[1][i]), m_t, m_h) for i in range(len(bf.CLOSE_CUTS))},
        "singling": _shares(bf.singling_out_hits(t, h, synthetic, COLUMNS, NUMERIC, 3), m_t, m_h),
        "linkability": _shares(bf.linkability_hits(tn, hn, synthetic, ["a", "b", "x"], NUMERIC, 3), m_n, m_n),
        **{f"inference_{s}": _shares(v, m_n, m_n) for s, v in inference.items()},
        # scalars
        "auc": bf.membership_auc(tn, hn, synthetic, COLUMNS, NUMERIC, m_n, 3),
        "quality": bf.bounded_quality(bf.keyed_sample(train, m_t, key), synthetic, COLUMNS, NUMERIC, m_t, 3)[
            "score"
        ],
        "tstr": bf.tstr_scores(synthetic, h, "c", "classification", 1000, 3)[1] / m_h,
    }


def _shares(hits, m_t, m_h):
    return hits[0] / m_t, hits[1] / m_h


def _assert_within(before: dict, after: dict, m_t: int, m_h: int, side: str) -> None:
    m = m_t if side == "train" else m_h
    m_n = min(m_t, m_h)
    for name, value in before.items():
        moved = after[name]
        if isinstance(value, tuple):
            bound = 1 / m_n if name in ("linkability",) or name.startswith("inference") else 1 / m
            other = 1 if side == "train" else 0  # the other side's share must not move at all
            assert abs(moved[1 - other] - value[1 - other]) <= bound + 1e-12, name
            assert abs(moved[other] - value[other]) <= 1e-12, name
        else:
            bound = {"auc": 1 / m_n, "quality": 1 / m_t, "tstr": 1 / m_h}[name]
            assert abs(moved - value) <= bound + 1e-12, (name, moved - value, bound)


@pytest.mark.parametrize("side", ["train", "holdout"])
def test_one_person_added_or_removed_moves_each_bounded_figure_by_at_most_its_sensitivity(tables, side):
    train, holdout, synthetic, extra = tables
    m_t, m_h = 150, 80  # public sizes (from the noisy counts): fewer than the tables hold
    base = _figures(train, holdout, synthetic, m_t, m_h)
    frame = train if side == "train" else holdout
    rng = np.random.default_rng(3)
    for trial in range(6):
        added = pd.concat([frame, extra.iloc[[trial]]], ignore_index=True)
        removed = frame.drop(index=frame.index[rng.integers(0, len(frame))]).reset_index(drop=True)
        for neighbour in (added, removed):
            pair = (neighbour, holdout) if side == "train" else (train, neighbour)
            _assert_within(base, _figures(*pair, synthetic, m_t, m_h), m_t, m_h, side)


def test_a_sample_larger_than_the_table_pads_so_the_bound_still_holds(tables):
    train, holdout, synthetic, extra = tables
    m_t, m_h = 200, 120  # more than the tables hold: the missing people count as misses
    base = _figures(train, holdout, synthetic, m_t, m_h)
    grown = pd.concat([train, extra.iloc[[0]]], ignore_index=True)
    _assert_within(base, _figures(grown, holdout, synthetic, m_t, m_h), m_t, m_h, "train")


def test_the_identifier_leak_count_moves_by_at_most_one_person():
    synthetic = pd.DataFrame({"email": ["ann.smith@corp-mail.com", "zz@example.org"], "x": [1, 2]})
    raw = pd.Series(["ann.smith@corp-mail.com", "bob.jones@corp-mail.com", "carol@corp-mail.com"])
    assert bf.leaking_people(synthetic, [raw]) == 1
    twice = pd.concat([synthetic, synthetic], ignore_index=True)  # many cells: still one person
    assert bf.leaking_people(twice, [raw]) == 1
    assert bf.leaking_people(synthetic, [raw.iloc[1:]]) == 0


def test_the_keyed_sample_changes_by_at_most_one_person_in_and_one_out(tables):
    train, _, _, extra = tables
    key = "0123456789abcdef"
    before = bf.keyed_sample(train, 100, key)
    after = bf.keyed_sample(pd.concat([train, extra.iloc[[5]]], ignore_index=True), 100, key)
    as_rows = lambda f: f.astype(str).agg("|".join, axis=1).value_counts()  # noqa: E731
    diff = as_rows(before).subtract(as_rows(after), fill_value=0)
    assert diff.abs().sum() <= 2 and len(after) == 100


# --- the charge ----------------------------------------------------------------------------------


def _entry(evaluation_id: str, rho: float = 0.01) -> ledger.LedgerEntry:
    return ledger.LedgerEntry(
        run_id="run-1",
        dataset="ds",
        event="gate",
        source_hash="",
        train_data_hash="t",
        synthesizer="dp_mst",
        parameters={"gate_evaluation": evaluation_id, "gate_rho": rho},
        code_version="test",
        delta=1e-9,
        rho_spent=rho,
        budget_delta=1e-9,
        model_sha256="m",
    )


def test_the_gate_is_charged_once_per_evaluation_and_refused_past_the_budget(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        first = private_decision.charge_gate(con, _entry("e1"), budget=10.0, delta=1e-9)
        assert first.status == "charged" and first.row["event"] == "gate"
        assert first.row["rho_spent"] == pytest.approx(0.01)
        again = private_decision.charge_gate(con, _entry("e1"), budget=10.0, delta=1e-9)
        assert again.status == "reused" and again.row["entry_id"] == first.row["entry_id"]
        assert len(ledger.read_ledger(con, "ds")) == 1  # a re-run adds no row
        assert ledger.cumulative_rho(con, "ds") == pytest.approx(0.01)
        second = private_decision.charge_gate(con, _entry("e2"), budget=10.0, delta=1e-9)
        assert second.status == "charged" and ledger.cumulative_rho(con, "ds") == pytest.approx(0.02)
        tiny = private_decision.charge_gate(con, _entry("e3", rho=0.5), budget=1.0, delta=1e-9)
        assert tiny.status == "refused" and "budget" in tiny.reason
        assert len(ledger.read_ledger(con, "ds")) == 2  # refused: nothing appended
    finally:
        con.close()


def test_the_gate_costs_about_epsilon_point_eight_at_the_demo_delta():
    from synth_platform.lib.spec import CheckSpec

    rho = CheckSpec().gate_rho
    assert 0.7 < private_decision.gate_epsilon(rho, 1e-9) < 0.9


def test_the_ui_metadata_of_a_real_data_check_holds_noisy_figures_only():
    from synth_platform.defs.chain.gate import public_metadata

    exact = evaluation.CheckOutcome(
        "near_copies",
        False,
        0.0123,
        0.002,
        "37 exact",
        {"share_train_with_near_copy": 0.0123},
        ci=(0.01, 0.014),
    )
    noisy = private_decision.noisy_share_difference(_noise(), "near_copies", 30, 1000, 1, 500, 0.004, 0.002)
    released = evaluation._privatised(exact, (noisy, "pass: noisy"))
    metadata = public_metadata(released)
    assert metadata["figure"].value == pytest.approx(noisy.value)
    assert {"sigma", "sensitivity", "rho", "verdict"} <= set(metadata)
    assert not {"ci_95", "share_train_with_near_copy", "exact_verdict", "exact_description"} & set(metadata)
    assert 0.0123 not in [getattr(v, "value", None) for v in metadata.values()]
