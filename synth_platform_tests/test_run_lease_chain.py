"""The dataset run lease at the chain's real write sites, with real runs on a real warehouse.

Holes this closes: `pii_report`, `masked` and `synthetic` wrote without checking the lease, so a
second run (one that did not start at `raw`) overwrote a live run's tables; the synthesizer's
check had no liveness, so a run starting at `synthesizer` failed while an *ended* run held the
lease; and a run's lease was never given back. The lease rules themselves are unit-tested in
`test_concurrency.py`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg
import pytest

from synth_platform.defs.automation import chain_job_name, lease_release_sensor
from synth_platform.lib.storage import liveness, run_lease, warehouse
from synth_platform_tests.pipeline_harness import DATASET, Project, make_project

FOREIGN_RUN = "run-of-another-dagster-instance"


def _key(stage: str) -> dg.AssetKey:
    return dg.AssetKey([DATASET, stage])


def _materialise(project, *stages: str):
    job = project.definitions().resolve_job_def(chain_job_name(DATASET))
    config = {"ops": {f"{DATASET}__raw": {"config": {"landing_file": ""}}}} if "raw" in stages else {}
    return job.execute_in_process(
        run_config=config,
        instance=project.instance,
        asset_selection=[_key(s) for s in stages],
        raise_on_error=False,
    )


def _failure_text(result) -> str:
    return "\n".join(
        event.event_specific_data.error.to_string()
        for event in result.all_events
        if event.is_step_failure and event.event_specific_data.error
    )


def _count(project, table: str) -> int | None:
    frame = project.table_or_none(f"SELECT count(*) AS n FROM {table}")
    return None if frame is None else int(frame["n"][0])


@dataclass
class Chain:
    project: Project
    first: dg.ExecuteInProcessResult  # raw .. split: ended, and held the lease (no `release` ran)
    holder_after_first: str | None
    synthesizer: dg.ExecuteInProcessResult  # a run that started at `synthesizer`, after it


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    project = make_project(
        tmp_path_factory.mktemp("lease"), rows=1500, spec_overrides={"split": {"holdout_fraction": 0.3}}
    )
    first = _materialise(project, "raw", "pii_report", "masked", "train", "holdout")
    assert first.success, _failure_text(first)
    with warehouse.connect(project.settings.warehouse_path) as con:
        held = run_lease.holder(con, DATASET)
    return Chain(project, first, held, _materialise(project, "synthesizer"))


def test_a_run_starting_at_synthesizer_after_an_ended_run_proceeds(chain):
    assert chain.holder_after_first == chain.first.run_id
    assert chain.synthesizer.success, _failure_text(chain.synthesizer)
    with warehouse.connect(chain.project.settings.warehouse_path) as con:
        assert run_lease.holder(con, DATASET) == chain.synthesizer.run_id  # took the ended run's lease


@pytest.mark.parametrize(
    ("stage", "table"),
    [
        ("pii_report", f"governance.pii_{DATASET}"),
        ("masked", f"masked.{DATASET}"),
        ("synthetic", f"synthetic.{DATASET}"),  # never written yet: must stay absent
    ],
)
def test_a_stage_write_refuses_while_a_live_run_of_another_instance_holds_the_lease(chain, stage, table):
    project = chain.project
    assert chain.synthesizer.success  # synthetic needs the model it fitted
    # A live run this instance does not know: its lease names this very (running) process.
    with warehouse.connect(project.settings.warehouse_path) as con:
        run_lease.claim(con, DATASET, FOREIGN_RUN, lambda run: False, liveness.run_process(os.getpid()))
        if stage != "synthetic":
            con.execute(f"DELETE FROM {table}")  # a sentinel: any write of the stage refills it
    before = _count(project, table)
    assert before in (0, None)
    result = _materialise(project, stage)
    assert not result.success
    assert f"does not own the tables of '{DATASET}' (run {FOREIGN_RUN} does" in _failure_text(result)
    assert _count(project, table) == before  # still 0 rows, or (synthetic) still no table
    with warehouse.connect(project.settings.warehouse_path) as con:
        assert run_lease.holder(con, DATASET) == FOREIGN_RUN
        run_lease.release(con, FOREIGN_RUN)  # the foreign run ends


def test_a_failed_runs_lease_is_released_by_the_failure_sensor(tmp_path):
    @dg.op
    def stage():
        raise RuntimeError("the step failed")

    @dg.job
    def chain():
        stage()

    instance = dg.DagsterInstance.ephemeral()
    result = chain.execute_in_process(instance=instance, raise_on_error=False)
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db) as con:
        run_lease.claim(con, "people", result.run_id, lambda run: False)
        run_lease.claim(con, "other", "another-run", lambda run: False)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="release_lease_of_failed_run",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        resources={"warehouse": project_warehouse(db)},
    ).for_run_failure()
    lease_release_sensor()(context)
    with warehouse.connect(db) as con:
        assert run_lease.holder(con, "people") is None
        assert run_lease.holder(con, "other") == "another-run"  # another run's lease is left alone


def project_warehouse(db):
    from synth_platform.defs.resources import WarehouseResource

    return WarehouseResource(path=str(db))
