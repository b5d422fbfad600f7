"""`kill -9` of a run at the worst moments never blocks the next run and never half-writes.

Observed before: after any kill the dead run stayed STARTED with the only slot of the
`duckdb_warehouse` pool, and every later run waited for ever. The kills themselves happen in
the session fixture `faulted_chain` (chain_under_faults.py; its project is reused by
test_bad_files.py): four runs through the `dagster` CLI, next to a real `dagster-daemon` with
the shipped config, killed (process group, SIGKILL) during the fit, the sampling, the gate's
evaluation and the release transaction. The fixture itself fails if the daemon has not failed a
killed run and freed its slot within a minute. Here: what each kill left behind, and that the
next runs got going and one succeeded.
"""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pytest

from synth_platform_tests.chain_under_faults import KILL_POINTS, POOL
from synth_platform_tests.pipeline_harness import DATASET


@pytest.mark.integration
def test_killed_runs_leave_nothing_half_written_and_never_block_the_next(faulted_chain):
    kills = faulted_chain.kills
    assert [k.point for k in kills] == list(KILL_POINTS)
    for kill in kills:
        state = kill.state
        assert kill.held_slot, f"the run stalled at the {kill.point} held no pool slot: nothing was proven"
        assert state["chain_problems"] == [], kill.point
        assert state["release"] is None, f"a release appeared after a kill at the {kill.point}"
        assert "released" not in [event for _, event in state["events"]], kill.point
        assert kill.run_id not in state["verdict_runs"] or kill.point == "release", kill.point
        counts = state["split_counts"]
        if f"masked.{DATASET}_train" in counts:
            train, holdout = counts[f"masked.{DATASET}_train"], counts[f"masked.{DATASET}_holdout"]
            assert train + holdout == counts[f"masked.{DATASET}"], f"split half-written at the {kill.point}"
    # Each kill's successor got past every earlier kill point: the release kill came after a passed gate.
    release_kill = kills[-1]
    assert release_kill.run_id in release_kill.state["verdict_runs"]
    instance = faulted_chain.project.instance
    assert all(instance.get_run_by_id(k.run_id).status == dg.DagsterRunStatus.FAILURE for k in kills)
    statuses = sorted(r.status.value for r in faulted_chain.two_runs.values())
    assert statuses == ["FAILURE", "SUCCESS"]  # the runs after the kills: one released (the other refused)
    assert faulted_chain.project.query(f"SELECT count(*) AS n FROM release.{DATASET}")["n"][0] > 0


def test_a_dead_run_is_failed_and_its_slot_freed_without_a_daemon(tmp_path):
    """What `make demo` does first (no daemon there): a STARTED run whose process is gone is reaped."""
    from dagster._core.events import EngineEventData
    from dagster._core.test_utils import create_run_for_test

    from synth_platform.defs.run_health import reap_dead_runs, run_is_alive

    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs = {}
    for name, pid in (("dead", dead.pid), ("alive", os.getpid())):
        run = create_run_for_test(instance, job_name="chain", status=dg.DagsterRunStatus.STARTED)
        instance.report_engine_event(
            f"Executing steps in process (pid: {pid})", run, EngineEventData.in_process(pid)
        )
        instance.event_log_storage.set_concurrency_slots(POOL, 2)
        instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, f"{name}_step")
        runs[name] = run.run_id

    assert not run_is_alive(instance, runs["dead"]) and run_is_alive(instance, runs["alive"])
    assert reap_dead_runs(instance) == [runs["dead"]]
    assert instance.get_run_by_id(runs["dead"]).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(runs["alive"]).status == dg.DagsterRunStatus.STARTED
    assert instance.event_log_storage.get_concurrency_info(POOL).active_run_ids == {runs["alive"]}
