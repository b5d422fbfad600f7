"""One project put through faults, shared by test_crash.py and test_bad_files.py (session fixture).

A full chain run is the costliest thing a test can do, so one project serves three tests:
runs go through the `dagster` CLI against a temporary DAGSTER_HOME with the shipped
config/dagster.yaml, next to a real `dagster-daemon` (run monitoring with the project's run
launcher). Seven runs are `kill -9`'d (their process group): inside the transactions of the raw
table + ingest log, of train + holdout, of the gate's verdict and of the release + its ledger row,
each after its last write and before its COMMIT; and during the fit, the sampling and the gate's
evaluation (hang points: crash_location.py). The two cheap ones come first, while neither pair has
ever been committed, so a half-commit of either would show. After each kill the daemon
must fail the run and free its pool slot within a minute, and the state is recorded (and the state
before it: the previous kill's). Then two runs of the dataset are launched at the same moment with
different files: one must own the dataset and release, the other must be refused before writing.
Their release is the one every bad file of test_bad_files.py must leave untouched.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from synth_platform_tests.conftest import PROJECT_ROOT

if TYPE_CHECKING:
    from synth_platform_tests.pipeline_harness import Project

# Dagster, DuckDB and the harness are imported where used: conftest imports this module, and
# unit tests should not pay for them.
DATASET = "adult_customers"

POOL = "duckdb_warehouse"
KILL_POINTS = ("raw", "split", "fit", "sample", "gate", "verdict", "release")
RECOVERY_DEADLINE_S = 60  # the daemon must have failed a dead run and freed its slot by then


@dataclass
class Kill:
    point: str
    run_id: str
    held_slot: bool
    state: dict
    before: dict  # the state when the run was launched


@dataclass
class FaultedChain:
    project: Project
    kills: list[Kill]
    two_runs: dict  # landing file name -> DagsterRun
    source_hashes: dict  # landing file name -> sha256
    header: list[str]
    rows: list[list[str]]
    planted: set[str] = field(default_factory=set)


def _failures(instance) -> str:
    """Why the newest run failed: failed steps and gate checks (names and messages, no values)."""
    from dagster import DagsterEventType

    newest = max(instance.get_runs(), key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)
    found = []
    for entry in instance.all_logs(newest.run_id):
        event = entry.dagster_event
        if event and event.event_type == DagsterEventType.STEP_FAILURE:
            found.append(f"{entry.step_key}: {str(event.event_specific_data.error.message)[:300]}")
        failed_check = event and event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
        if failed_check and not event.event_specific_data.passed:
            found.append(f"gate check failed: {event.event_specific_data.check_name}")
    return "; ".join(found)


def _wait(what: str, condition, timeout: float, proc: subprocess.Popen | None = None, instance=None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            why = _failures(instance) if instance is not None else ""
            raise AssertionError(f"the run exited ({proc.returncode}) before {what}: {why}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def chain_state(project: Project) -> dict:
    """What a kill must never leave half-written: raw + ingest log, split, verdicts, release, ledger."""
    import duckdb

    from synth_platform.lib.governance import ledger, release

    if not project.settings.warehouse_path.exists():  # before the first run
        empty = {"chain_problems": [], "events": [], "release": None, "counts": {}}
        return {**empty, "verdict_runs": [], "ingested_runs": []}
    con = duckdb.connect(str(project.settings.warehouse_path), read_only=True)
    try:
        listed = con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        tables = {f"{s}.{t}" for s, t in listed}
        counts = {
            name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            for name in (
                f"raw.{DATASET}",
                f"masked.{DATASET}",
                f"masked.{DATASET}_train",
                f"masked.{DATASET}_holdout",
            )
            if name in tables
        }
        entries = ledger.read_ledger(con)
        published = (
            release.frame_sha256(con.execute(f"SELECT * FROM release.{DATASET}").df())
            if f"release.{DATASET}" in tables
            else None
        )
        verdicts = (
            [r[0] for r in con.execute("SELECT run_id FROM governance.assessments").fetchall()]
            if "governance.assessments" in tables
            else []
        )
        ingested = (
            [r[0] for r in con.execute("SELECT run_id FROM governance.ingests").fetchall()]
            if "governance.ingests" in tables
            else []
        )
        return {
            "chain_problems": ledger.verify_chain(con),
            "events": list(zip(entries["run_id"], entries["event"], strict=True)),
            "release": published,
            "counts": counts,
            "verdict_runs": verdicts,
            "ingested_runs": ingested,
        }
    finally:
        con.close()


def _run_config(path: Path, landing_file: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "ops": {f"{DATASET}__raw": {"config": {"landing_file": str(landing_file)}}},
            }
        )
    )
    return path


@pytest.fixture(scope="session")
def faulted_chain(tmp_path_factory) -> FaultedChain:
    import dagster as dg
    import pandas as pd

    from synth_platform.lib.demo_data import write_demo_landing_file
    from synth_platform.lib.storage.ingest import file_sha256
    from synth_platform_tests.pipeline_harness import make_project, planted_identifiers

    tmp_path = tmp_path_factory.mktemp("faulted_chain")
    # 1,500 rows need a 30 % holdout for the gate's size check (synthesize.split.rows_needed). The kills are
    # the subject here, not the gate: a retrain after the `fit` kill may draw another model, whose
    # 1,500-row linkability figure is wide enough to block now and then (seen once in four runs), so
    # the fixture relaxes that one threshold and every run reaches the point it is killed at.
    overrides = {"split": {"holdout_fraction": 0.3}, "checks": {"max_linkability_risk": 0.5}}
    project = make_project(tmp_path, rows=1500, spec_overrides=overrides)
    first = next(project.landing.glob("*.csv"))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    project.instance = dg.DagsterInstance.local_temp(str(home))
    (tmp_path / "empty_location.py").write_text("import dagster as dg\n\ndefs = dg.Definitions()\n")
    marker = tmp_path / "stalled"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SYNTH_PROJECT_ROOT": str(project.root),
        "SYNTH_SPECS_DIR": str(project.settings.specs_dir),
        "SYNTH_WAREHOUSE_PATH": str(project.settings.warehouse_path),
        "SYNTH_TEST_STALL_MARKER": str(marker),
    }
    bin_dir = os.path.dirname(sys.executable)

    def launch(config: Path, stall_at: str = "") -> subprocess.Popen:
        command = [os.path.join(bin_dir, "dagster"), "asset", "materialize", "-f"]
        command += [str(PROJECT_ROOT / "synth_platform_tests" / "crash_location.py"), "-a", "defs"]
        command += ["--select", f"group:{DATASET}", "-c", str(config)]
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**env, "SYNTH_TEST_STALL_AT": stall_at},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: kill -9 takes every step with it
        )

    daemon = subprocess.Popen(
        [os.path.join(bin_dir, "dagster-daemon"), "run", "-f", str(tmp_path / "empty_location.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    instance = project.instance
    kills = []
    try:
        config = _run_config(tmp_path / "first.yaml", first)
        state = chain_state(project)
        for point in KILL_POINTS:
            before = state
            marker.unlink(missing_ok=True)
            proc = launch(config, point)
            _wait(f"the run to reach the {point}", marker.exists, 300, proc, instance)
            (run,) = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]
            held = run.run_id in instance.event_log_storage.get_concurrency_info(POOL).active_run_ids
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

            def recovered(run_id=run.run_id):
                status = instance.get_run_by_id(run_id).status
                slots = instance.event_log_storage.get_concurrency_info(POOL).active_run_ids
                return status == dg.DagsterRunStatus.FAILURE and run_id not in slots

            _wait(
                f"the daemon to fail the run killed at the {point} and free its slot",
                recovered,
                RECOVERY_DEADLINE_S,
            )
            state = chain_state(project)
            kills.append(Kill(point, run.run_id, held, state, before))

        second = write_demo_landing_file(tmp_path / "second", rows=1500, seed=123)
        second = Path(shutil.move(second, project.landing / "customers_second.csv"))
        before = {r.run_id for r in instance.get_runs()}
        procs = [launch(_run_config(tmp_path / f"{p.stem}.yaml", p)) for p in (first, second)]
        for proc in procs:
            proc.wait(timeout=900)
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()

    two_runs = {}
    for run in instance.get_runs():
        if run.run_id not in before:
            landing_file = run.run_config["ops"][f"{DATASET}__raw"]["config"]["landing_file"]
            two_runs[Path(landing_file).name] = run
    header, *rows = list(csv.reader(io.StringIO(first.read_text())))
    planted = planted_identifiers(pd.read_csv(first, dtype=str)) | planted_identifiers(
        pd.read_csv(second, dtype=str)
    )
    hashes = {first.name: file_sha256(first), second.name: file_sha256(second)}
    return FaultedChain(project, kills, two_runs, hashes, header, rows, planted)
