"""Telling a dead run from a running one, for run monitoring and for the dataset run lease.

A `kill -9`'d run stays STARTED in Dagster's run storage and keeps its `duckdb_warehouse`
pool slot, so every later run waited for ever. Dagster's run monitoring would mark it
failed (and then free its slots, `free_slots_after_run_end_seconds`), but the default run
launcher cannot check a run worker's health. `LocalRunLauncher` can: every run on this
deployment executes on this machine (that is what the default launcher does), and the
executor records its process id in the run's first engine event, so a process that no longer
exists, or that started after the run did (a recycled id), means the run is dead.
Configured in config/dagster.yaml.
"""

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

from synth_platform.lib.storage.liveness import process_alive

_EXECUTOR_MESSAGE = "Executing steps"


def executor_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The process id the run's executor recorded when it started (the newest, if resumed)."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ENGINE_EVENT, ascending=False, limit=50
    ).records
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        message = entry.user_message or (event.message if event else "") or ""
        if not (event and message.startswith(_EXECUTOR_MESSAGE)):
            continue
        pid = event.engine_event_data.metadata.get("pid") if event.engine_event_data else None
        if pid is not None:
            return int(pid.value)
    return None


def run_is_alive(instance: dg.DagsterInstance, run_id: str) -> bool:
    """False once the run has ended, or its executor process is gone; True while in doubt."""
    record = instance.get_run_record_by_id(run_id)
    if record is None or record.dagster_run.is_finished:
        return False
    pid = executor_pid(instance, run_id)
    if pid is None:
        return True  # queued, or starting: the executor has not said where it runs yet
    started = record.start_time or record.create_timestamp.timestamp()
    return process_alive(pid, started_before=started)


class LocalRunLauncher(DefaultRunLauncher):
    """The default launcher, plus the worker health check that lets run monitoring fail dead runs."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        instance = self._instance
        pid = executor_pid(instance, run.run_id)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "executor not started yet")
        if run_is_alive(instance, run.run_id):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"executor process {pid} is alive")
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"the run's executor process {pid} is gone (killed or crashed)"
        )


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail every STARTED run whose process is gone and free its pool slots; return their ids.

    What run monitoring does in the daemon, for entry points that run without one (`make demo`
    after a killed demo): call before launching, so a dead run's slot does not block this one.
    """
    reaped = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        if run_is_alive(instance, run.run_id) or executor_pid(instance, run.run_id) is None:
            continue
        instance.report_run_failed(run, "its executor process is gone (killed or crashed)")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped
