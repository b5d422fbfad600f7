"""One real chain run on a dataset whose budget is already spent: it stops at training, before
any data is read, with a `refused` ledger row; the published release and the ledger stay intact."""

import dagster as dg
import pandas as pd
import pytest

from synth_platform.lib.governance import budget, ledger, release
from synth_platform.lib.storage import warehouse
from synth_platform.lib.synthesize import accounting
from synth_platform_tests.pipeline_harness import DATASET, make_project

pytestmark = pytest.mark.integration


def test_exhausted_budget_stops_the_chain_at_training_and_keeps_the_release(tmp_path):
    spend = budget.spend_for("dp_mst", {"epsilon": 1.0, "delta": 1e-9})
    limit = accounting.epsilon_from_rho(2 * spend.rho, 1e-9)  # exactly two trainings at epsilon 1
    project = make_project(
        tmp_path,
        rows=1500,  # with a 30 % holdout: what the gate's size check needs (lib.synthesize.split.rows_needed)
        spec_overrides={
            "split": {"holdout_fraction": 0.3},
            "synthesizer": {"kind": "dp_mst", "params": {"epsilon": 1.0, "delta": 1e-9}},
            "privacy": {"epsilon_budget": limit, "delta": 1e-9},
        },
    )
    db = project.settings.warehouse_path
    published = pd.DataFrame({"marker": ["an earlier release"]})
    with warehouse.connect(db) as con:  # two earlier trainings at epsilon 1 and their release
        for run in ("earlier-1", "earlier-2"):
            entry = ledger.LedgerEntry(run, DATASET, "trained", "s" * 64, "", "dp_mst", {}, "test")
            budget.reserve_training(con, entry, spend, limit, 1e-9)
        entry = ledger.LedgerEntry("earlier-2", DATASET, "released", "s" * 64, "", "dp_mst", {}, "test")
        release.publish(con, DATASET, published, entry)
        before = ledger.read_ledger(con)

    result = project.run()

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert failure.step_key == f"{DATASET}__synthesizer"
    message = failure.event_specific_data.error.message
    assert "refused" in message and f"exceeds the dataset's budget of epsilon {limit:g}" in message
    with warehouse.connect(db, read_only=True) as con:
        after = ledger.read_ledger(con)
        assert ledger.verify_chain(con) == []
        kept = con.execute(f"SELECT * FROM release.{DATASET}").df()
    pd.testing.assert_frame_equal(kept, published)
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    new = after.iloc[len(before) :]
    assert new["event"].tolist() == ["refused"] and new["run_id"].tolist() == [result.run_id]
    assert new["rho_spent"].tolist() == [0.0]
    assert not (project.root / "data" / "models" / DATASET / "current.json").exists()
    # The chain head of the refused row is kept in Dagster too (the ledger materialisation's metadata).
    head = project.instance.get_latest_materialization_event(dg.AssetKey(["governance", "ledger"]))
    metadata = head.asset_materialization.metadata
    assert metadata["event"].value == "refused"
    assert metadata["row_hash"].value == after["row_hash"].iloc[-1]


def test_the_budget_is_the_landing_folders_not_the_dataset_names(tmp_path):
    """Two trainings charged under another dataset name on the same landing folder (a renamed
    dataset, or a second spec) use the budget up: the chain's next training is refused."""
    from synth_platform.lib.governance.source_identity import source_id

    spend = budget.spend_for("dp_mst", {"epsilon": 1.0, "delta": 1e-9})
    limit = accounting.epsilon_from_rho(2 * spend.rho, 1e-9)
    project = make_project(
        tmp_path,
        rows=1500,  # with a 30 % holdout: what the gate's size check needs (lib.synthesize.split.rows_needed)
        spec_overrides={
            "split": {"holdout_fraction": 0.3},
            "synthesizer": {"kind": "dp_mst", "params": {"epsilon": 1.0, "delta": 1e-9}},
            "privacy": {"epsilon_budget": limit, "delta": 1e-9},
        },
    )
    source = source_id(project.landing, ledger.default_platform_key())
    with warehouse.connect(project.settings.warehouse_path) as con:
        for run in ("old-name-1", "old-name-2"):
            entry = ledger.LedgerEntry(run, "old_name", "trained", "s" * 64, "", "dp_mst", {}, "test")
            entry.source_id = source
            budget.reserve_training(con, entry, spend, limit, 1e-9)

    result = project.run()

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert failure.step_key == f"{DATASET}__synthesizer"
    assert "refused" in failure.event_specific_data.error.message
    with warehouse.connect(project.settings.warehouse_path, read_only=True) as con:
        rows = ledger.read_ledger(con)
        assert ledger.verify_chain(con) == []
    refused = rows.iloc[-1]
    assert (refused["dataset"], refused["event"], refused["source_id"]) == (DATASET, "refused", source)
    assert refused["mac_kind"] == ledger.MAC_KIND
