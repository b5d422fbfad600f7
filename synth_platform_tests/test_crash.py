"""`kill -9` of a run at the worst moments never blocks the next run and never half-writes.

Observed before: after any kill the dead run stayed STARTED with the only slot of the
`duckdb_warehouse` pool, and every later run waited for ever. The kills themselves happen in
the session fixture `faulted_chain` (chain_under_faults.py; its project is reused by
test_bad_files.py): seven runs through the `dagster` CLI, next to a real `dagster-daemon` with
the shipped config, killed (process group, SIGKILL) inside the transactions of the raw table +
ingest log, of train + holdout, of the gate's verdict and of the release + its ledger row (each
after its last write, before its COMMIT), and during the fit, the sampling and the gate's
evaluation. The fixture itself fails if the daemon has not failed a killed run and freed its slot
within a minute. Here: what each kill left behind (every pair all or nothing), and that the next
runs got going and one succeeded. One more kill, without Dagster, lands between a blocked
verdict and its `blocked` ledger row (the honest chain's gate passes, so it never writes one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

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
        counts = state["counts"]
        assert (f"masked.{DATASET}_train" in counts) == (f"masked.{DATASET}_holdout" in counts), kill.point
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


def _killed_at(faulted_chain, point: str):
    (kill,) = [k for k in faulted_chain.kills if k.point == point]
    after = faulted_chain.kills[faulted_chain.kills.index(kill) + 1]  # the next run, not killed there
    return kill, after


def _train_holdout(state) -> tuple:
    counts = state["counts"]
    return counts.get(f"masked.{DATASET}_train"), counts.get(f"masked.{DATASET}_holdout")


@pytest.mark.integration
def test_a_kill_inside_the_raw_split_and_verdict_transactions_leaves_all_or_nothing(faulted_chain):
    """Each run stalled after the last write of its transaction (the fixture waited for the marker
    the stall writes, and the run held the pool slot), was killed there, and left the previous
    state; the next run made the same writes and they show, so the comparison can see a commit."""
    raw_table = f"raw.{DATASET}"
    raw, after = _killed_at(faulted_chain, "raw")
    assert raw.held_slot
    # The raw table and the ingest log, both as before the run (the first run: neither existed).
    assert raw.run_id not in raw.state["ingested_runs"]
    assert raw.state["ingested_runs"] == raw.before["ingested_runs"]
    assert raw.state["counts"].get(raw_table) == raw.before["counts"].get(raw_table)
    assert after.run_id in after.state["ingested_runs"]
    assert after.state["counts"][raw_table] == len(faulted_chain.rows)

    split, after = _killed_at(faulted_chain, "split")
    assert split.held_slot
    assert f"masked.{DATASET}" in split.state["counts"]  # the split's input was committed
    assert _train_holdout(split.state) == _train_holdout(split.before), "train or holdout half-written"
    assert _train_holdout(split.before) == (None, None)  # so either one committing would show
    train, holdout = _train_holdout(after.state)
    assert train + holdout == after.state["counts"][f"masked.{DATASET}"]

    # The gate passes on the honest chain: its verdict's transaction writes the assessment alone
    # (a failed gate adds its `blocked` row: the next test kills between those two).
    verdict, after = _killed_at(faulted_chain, "verdict")
    assert verdict.held_slot
    assert verdict.run_id not in verdict.state["verdict_runs"]
    assert verdict.state["verdict_runs"] == verdict.before["verdict_runs"]
    decisions = {e for r, e in verdict.state["events"] if r == verdict.run_id} & {"blocked", "released"}
    assert decisions == set() and verdict.state["chain_problems"] == []
    assert after.run_id in after.state["verdict_runs"]


_VERDICT_RUN = """
import sys, time
from pathlib import Path

import duckdb

from synth_platform.lib.governance import ledger, release

db, run_id, marker = sys.argv[1], sys.argv[2], sys.argv[3:]
entry = ledger.LedgerEntry(
    run_id=run_id, dataset="people", event="blocked", source_hash="s" * 64, train_data_hash="t" * 64,
    synthesizer="gaussian_copula", parameters={}, code_version="test", decision="blocked: exact_copies",
)
if marker:  # stall after the `blocked` row is appended, before the transaction commits
    append = ledger.append

    def stalled(*args, **kwargs):
        row = append(*args, **kwargs)
        Path(marker[0]).write_text("stalled")
        time.sleep(600)
        return row

    ledger.append = stalled
assessment = release.Assessment(run_id, "people", False, ["exact_copies"], {})
release.record_verdict(duckdb.connect(db), assessment, entry, key=b"k" * 32)
"""


def test_a_kill_between_a_blocked_verdict_and_its_ledger_row_leaves_neither(tmp_path):
    """A real `kill -9` of a process inside `record_verdict`'s transaction, after both writes."""
    import duckdb

    from synth_platform.lib.governance import ledger

    db, marker = tmp_path / "w.duckdb", tmp_path / "stalled"

    def verdict_run(run_id: str, *stall: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", _VERDICT_RUN, str(db), run_id, *stall])

    assert verdict_run("run-1").wait(timeout=120) == 0
    killed = verdict_run("run-2", str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert killed.poll() is None and time.monotonic() < deadline, "the run never reached the stall"
        time.sleep(0.2)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert verdict_run("run-3").wait(timeout=120) == 0  # the next verdict is not stopped by the dead one

    con = duckdb.connect(str(db), read_only=True)
    try:
        verdicts = [r[0] for r in con.execute("SELECT run_id FROM governance.assessments").fetchall()]
        rows = ledger.read_ledger(con)
        assert sorted(verdicts) == ["run-1", "run-3"]
        assert list(zip(rows["run_id"], rows["event"], strict=True)) == [
            ("run-1", "blocked"),
            ("run-3", "blocked"),
        ]
        assert ledger.verify_chain(con, key=b"k" * 32) == []
    finally:
        con.close()


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
