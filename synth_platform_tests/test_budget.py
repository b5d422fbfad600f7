"""The enforced budget: refusals before any data is read, concurrent reservations, reuse, status."""

import math
import multiprocessing

import duckdb
import pytest

from synth_platform.lib.governance import budget, ledger
from synth_platform.lib.storage import warehouse
from synth_platform.lib.synthesize import accounting

DELTA = 1e-9


def _entry(dataset="people", kind="dp_mst"):
    return ledger.LedgerEntry(
        run_id="run-1",
        dataset=dataset,
        event="trained",
        source_hash="s" * 64,
        train_data_hash="",
        synthesizer=kind,
        parameters={"epsilon": 1.0},
        code_version="test",
    )


ONE = budget.spend_for("dp_mst", {"epsilon": 1.0, "delta": DELTA})


def _budget_for(trainings: float) -> float:
    """The epsilon budget (at DELTA) that holds exactly `trainings` fits at epsilon 1."""
    return accounting.epsilon_from_rho(trainings * ONE.rho, DELTA)


def test_spend_of_each_kind():
    assert ONE.rho == pytest.approx(accounting.rho_from_epsilon_delta(1.0, DELTA))
    assert ONE.delta_additive == 0.0
    thresholded = budget.spend_for("dp_mst", {"epsilon": 1.0, "delta": DELTA}, thresholded=True)
    assert thresholded.delta_additive == DELTA / 2
    assert thresholded.rho == pytest.approx(accounting.rho_from_epsilon_delta(1.0, DELTA / 2))
    copula = budget.spend_for("gaussian_copula", {})
    assert copula.unbounded and math.isinf(copula.rho)  # unbounded, never zero
    types = {"age": "BIGINT", "job": "VARCHAR"}
    assert budget.training_spend("dp_mst", {}, types, {}).delta_additive == DELTA / 2
    declared = {"job": {"categories": ["a", "b"]}}
    assert budget.training_spend("dp_mst", {}, types, declared).delta_additive == 0.0


def test_training_over_budget_is_refused_with_a_refused_row(tmp_path):
    db = tmp_path / "w.duckdb"
    limit = _budget_for(2.5)
    with warehouse.connect(db) as con:
        for _ in range(2):
            assert budget.reserve_training(con, _entry(), ONE, limit, DELTA)["event"] == "trained"
        spent_before = ledger.cumulative_rho(con, "people")
        with pytest.raises(ledger.BudgetExceededError, match="exceeds the dataset's budget") as refused:
            budget.reserve_training(con, _entry(), ONE, limit, DELTA)
        assert refused.value.row["event"] == "refused"
        assert refused.value.row["epsilon_spent"] == 0.0
        assert ledger.cumulative_rho(con, "people") == spent_before
        assert ledger.read_ledger(con)["event"].tolist() == ["trained", "trained", "refused"]
        assert ledger.verify_chain(con) == []


def test_non_private_kind_is_refused_on_a_dataset_with_a_budget(tmp_path):
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        copula = budget.spend_for("gaussian_copula", {})
        with pytest.raises(ledger.BudgetExceededError, match="not differentially private"):
            budget.reserve_training(con, _entry(kind="gaussian_copula"), copula, 10.0, DELTA)
        row = budget.reserve_training(
            con, _entry(dataset="open", kind="gaussian_copula"), copula, None, DELTA
        )
        assert row["event"] == "trained" and "unbounded" in row["epsilon_note"]


def _reserve_one(args) -> str:
    db, limit = args
    with warehouse.connect(db) as con:
        try:
            return budget.reserve_training(con, _entry(), ONE, limit, DELTA)["event"]
        except ledger.BudgetExceededError:
            return "refused"


def test_ten_concurrent_trainings_never_spend_more_than_the_budget(tmp_path):
    db, limit = tmp_path / "w.duckdb", _budget_for(4.5)
    # Ten fresh processes ("spawn": forking this test process, which holds library threads, can
    # deadlock a child); a hang fails the test after two minutes instead of stalling the suite.
    with multiprocessing.get_context("spawn").Pool(10) as pool:
        outcomes = pool.map_async(_reserve_one, [(db, limit)] * 10).get(timeout=120)
    assert sorted(outcomes) == ["refused"] * 6 + ["trained"] * 4
    with warehouse.connect(db, read_only=True) as con:
        spent = ledger.cumulative_rho(con, "people")
        assert spent <= accounting.rho_from_epsilon_delta(limit, DELTA) * (1 + 1e-9)
        assert ledger.cumulative_epsilon(con, "people", DELTA) <= limit * (1 + 1e-9)
        assert len(ledger.read_ledger(con)) == 10
        assert ledger.verify_chain(con) == []


def test_status_reports_spent_and_remaining(tmp_path):
    limit = _budget_for(5)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        assert budget.budget_status(con, "people", limit, DELTA) == pytest.approx((0.0, limit, 1.0))
        for _ in range(4):
            budget.reserve_training(con, _entry(), ONE, limit, DELTA)
        spent, remaining, share = budget.budget_status(con, "people", limit, DELTA)
    assert spent == pytest.approx(_budget_for(4))
    assert share == pytest.approx(0.2)
    assert remaining == pytest.approx(accounting.epsilon_from_rho(ONE.rho, DELTA), rel=1e-6)


def test_the_evidence_packs_budget_summary_is_what_the_budget_check_enforces(tmp_path):
    """`budget.summary`, the evidence pack's privacy-budget section: with room for 5 trainings at
    epsilon 1 and 4 spent, it says one training's epsilon (1) remains, not budget minus spent (about
    0.26: epsilons do not subtract under zCDP); one more training is then charged and the next refused."""
    limit = _budget_for(5)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        for _ in range(4):
            budget.reserve_training(con, _entry(), ONE, limit, DELTA)
        shown = budget.summary(con, "people", limit, DELTA)
        assert shown["epsilon_cumulative"] == pytest.approx(_budget_for(4))
        assert shown["epsilon_remaining"] == pytest.approx(1.0, rel=1e-6)
        assert limit - shown["epsilon_cumulative"] < 0.3  # what a plain subtraction would say
        assert shown["remaining_share"] == pytest.approx(0.2)
        assert shown["rho_spent"] == pytest.approx(4 * ONE.rho)
        assert shown["rho_budget"] == pytest.approx(5 * ONE.rho)
        assert (shown["epsilon_budget"], shown["delta"]) == (limit, DELTA)
        budget.reserve_training(con, _entry(), ONE, limit, DELTA)  # the remaining epsilon 1 is spendable
        with pytest.raises(ledger.BudgetExceededError):
            budget.reserve_training(con, _entry(), ONE, limit, DELTA)
        left = budget.summary(con, "people", limit, DELTA)["epsilon_remaining"]
        assert left == pytest.approx(0.0, abs=1e-6)
        unbounded = budget.summary(con, "people", None, DELTA)
        assert unbounded["epsilon_remaining"] is None and unbounded["rho_budget"] is None


class _Model:
    """The fields of `synthesis.FittedModel` that reuse looks at."""

    def __init__(self, charged_by, provenance):
        self.charged_by, self.provenance = charged_by, provenance
        self.sha256, self.train_data_hash = "m" * 64, "t" * 64


def test_unchanged_source_reuses_the_current_model_at_no_cost(tmp_path):
    provenance = {"source_hash": "a" * 64, "fit_fingerprint": "f"}
    limit = _budget_for(1.5)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        first = budget.charge_or_reuse(con, _entry(), ONE, limit, DELTA, None, provenance)
        assert not first.reused
        current = _Model(first.row["entry_id"], provenance)
        again = budget.charge_or_reuse(con, _entry(), ONE, limit, DELTA, current, provenance)
        assert again.reused and again.row["event"] == "reused"
        assert again.row["rho_spent"] == 0.0 and again.row["charged_entry"] == first.row["entry_id"]
        assert "post-processing" in again.row["epsilon_note"]
        assert ledger.cumulative_rho(con, "people") == pytest.approx(ONE.rho)
        changed = {**provenance, "source_hash": "b" * 64}  # a new source: a new (charged) training
        with pytest.raises(ledger.BudgetExceededError):
            budget.charge_or_reuse(con, _entry(), ONE, limit, DELTA, current, changed)
        forged = _Model(99, provenance)  # a pointer naming no `trained` row is never reused
        with pytest.raises(ledger.BudgetExceededError):
            budget.charge_or_reuse(con, _entry(), ONE, limit, DELTA, forged, provenance)


def test_broken_chain_is_not_charged(tmp_path):
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db) as con:
        budget.reserve_training(con, _entry(), ONE, None, DELTA)
        budget.reserve_training(con, _entry(), ONE, None, DELTA)
        con.execute("DELETE FROM governance.ledger WHERE entry_id = 2")
        with pytest.raises(ledger.LedgerIntegrityError, match="truncated"):
            budget.reserve_training(con, _entry(), ONE, None, DELTA)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert len(ledger.read_ledger(con)) == 1
    finally:
        con.close()


def test_spec_declares_a_total_budget_at_a_delta():
    from synth_platform.lib.spec import DatasetSpec
    from synth_platform_tests.conftest import small_spec_dict

    spec = DatasetSpec.model_validate({**small_spec_dict(), "privacy": {"epsilon_budget": 10}})
    assert (spec.privacy.epsilon_budget, spec.privacy.delta) == (10.0, 1e-9)
    from synth_platform.lib import spec as spec_lib

    unsaid = {k: v for k, v in small_spec_dict().items() if k not in ("synthesizer", "privacy")}
    default = DatasetSpec.model_validate(unsaid).privacy.epsilon_budget
    assert default == getattr(spec_lib, "DEFAULT_EPSILON_BUDGET", None)  # a budget unless said otherwise
    explicit = DatasetSpec.model_validate({**small_spec_dict(), "privacy": {"epsilon_budget": None}})
    assert explicit.privacy.epsilon_budget is None  # unbounded, said explicitly
    for bad in ({"epsilon_budget": float("inf")}, {"epsilon_budget": 0}, {"delta": 0.5}, {"delta": 0}):
        with pytest.raises(ValueError):
            DatasetSpec.model_validate({**small_spec_dict(), "privacy": bad})


def test_delta_spent_outside_zcdp_adds_up_and_is_enforced(tmp_path):
    thresholded = budget.spend_for("dp_mst", {"epsilon": 1.0, "delta": DELTA}, thresholded=True)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        row = budget.reserve_training(con, _entry(), thresholded, 100.0, DELTA)
        assert row["delta_additive"] == DELTA / 2
        assert row["cumulative_epsilon"] == pytest.approx(1.0, rel=1e-6)  # (1, 1e-9) as declared
        with pytest.raises(ledger.BudgetExceededError, match="uses up the dataset's delta"):
            budget.reserve_training(con, _entry(), thresholded, 100.0, DELTA)


# --------------------------------------------------------------------------- the budget is the source's


def _on_source(dataset: str, landing, key: bytes = b"platform-key-for-source-ids-0001") -> ledger.LedgerEntry:
    from synth_platform.lib.governance.source_identity import source_id

    entry = _entry(dataset)
    entry.source_id = source_id(landing, key)
    return entry


def test_two_specs_on_one_landing_folder_share_the_budget(tmp_path):
    landing = tmp_path / "landing" / "people"
    landing.mkdir(parents=True)
    (tmp_path / "alias").symlink_to(landing)  # the same folder by another path
    limit = _budget_for(2.5)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        budget.reserve_training(con, _on_source("people", landing), ONE, limit, DELTA)
        budget.reserve_training(con, _on_source("people_copy", tmp_path / "alias"), ONE, limit, DELTA)
        with pytest.raises(ledger.BudgetExceededError, match="exceeds the dataset's budget"):
            budget.reserve_training(con, _on_source("people_again", landing / "."), ONE, limit, DELTA)
        rows = ledger.read_ledger(con)
        assert rows["event"].tolist() == ["trained", "trained", "refused"]
        assert rows["source_id"].nunique() == 1 and rows["source_id"].iloc[0].startswith("src_")
        assert rows["cumulative_rho"].iloc[1] == pytest.approx(2 * ONE.rho)
        source = rows["source_id"].iloc[0]
        status = budget.status(con, "another_name", limit, DELTA, source)
        assert status.spent_rho == pytest.approx(2 * ONE.rho)
        assert budget.status(con, "people_copy", limit, DELTA).spent_rho == pytest.approx(2 * ONE.rho)
        # A different landing folder is a different source, with its own budget.
        other = tmp_path / "landing" / "others"
        other.mkdir()
        assert (
            budget.reserve_training(con, _on_source("others", other), ONE, limit, DELTA)["event"] == "trained"
        )
        assert ledger.verify_chain(con) == []


def test_a_renamed_dataset_continues_its_budget(tmp_path):
    landing = tmp_path / "landing" / "people"
    landing.mkdir(parents=True)
    limit = _budget_for(2.5)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        # Trainings from before source ids (no source_id), then one with it, under the old name.
        budget.reserve_training(con, _entry("people"), ONE, limit, DELTA)
        budget.reserve_training(con, _on_source("people", landing), ONE, limit, DELTA)
        with pytest.raises(ledger.BudgetExceededError):
            budget.reserve_training(con, _on_source("customers", landing), ONE, limit, DELTA)
        assert ledger.cumulative_rho(con, "customers", _on_source("customers", landing).source_id) == (
            pytest.approx(2 * ONE.rho)
        )


def test_gate_charges_count_against_the_sources_budget(tmp_path):
    landing = tmp_path / "landing" / "people"
    landing.mkdir(parents=True)
    limit = _budget_for(2.0)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        budget.reserve_training(con, _on_source("people", landing), ONE, limit, DELTA)
        gate = budget.reserve_gate(con, _on_source("people", landing), ONE.rho / 2, limit, DELTA)
        assert (gate["event"], gate["rho_spent"]) == ("gate", pytest.approx(ONE.rho / 2))
        with pytest.raises(ledger.BudgetExceededError):  # 1.5 trainings' worth spent: one more does not fit
            budget.reserve_training(con, _on_source("people", landing), ONE, limit, DELTA)
        assert budget.status(con, "people", limit, DELTA).spent_rho == pytest.approx(1.5 * ONE.rho)
        with pytest.raises(ledger.BudgetExceededError, match="The release gate of 'renamed' refused"):
            budget.reserve_gate(con, _on_source("renamed", landing), ONE.rho, limit, DELTA)
        assert ledger.read_ledger(con)["event"].tolist() == ["trained", "gate", "refused", "refused"]
        assert ledger.verify_chain(con) == []
