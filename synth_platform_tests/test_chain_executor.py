"""The chain runs its steps in the run's own process, however it is started (defs/automation.py).

The chain job declares `in_process_executor`, and so do the Definitions for every other job: the
nightly schedule's refresh job and the implicit asset job a UI "Materialize" click launches. A
run started from the UI then costs what a run of the chain job costs (a process per step re-imported
the code location each time), and the nightly request's config must be one the job accepts, or
every nightly run would fail before its first step.
"""

from __future__ import annotations

import os
import time

import dagster as dg

from synth_platform.definitions import build_definitions
from synth_platform.defs.automation import REFRESH_ALL_JOB, STABLE_AFTER_SECONDS, chain_job_name
from synth_platform.lib.dataset_instances import read_spec_dict
from synth_platform.settings import DATASETS_DIR, Settings

DATASET = "adult_customers"


def test_chain_job_executes_in_process_and_nightly_runs_ask_for_it(tmp_path):
    settings = Settings(root=tmp_path, specs_dir=DATASETS_DIR, warehouse_path=tmp_path / "w.duckdb")
    defs = build_definitions(settings)
    assert defs.resolve_job_def(chain_job_name(DATASET)).executor_def is dg.in_process_executor

    landing = tmp_path / "data" / "landing" / DATASET
    landing.mkdir(parents=True)
    stable = landing / "customers_ü 1.csv"
    stable.write_text(",".join(read_spec_dict(DATASETS_DIR / DATASET)["columns"]) + "\n")
    past = time.time() - STABLE_AFTER_SECONDS - 5
    os.utime(stable, (past, past))
    schedule = defs.get_schedule_def("nightly_refresh")
    with dg.build_schedule_context(
        repository_def=defs.get_repository_def(), resources={"storage": defs.resources["storage"]}
    ) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert "execution" not in request.run_config
    refresh = defs.resolve_job_def(REFRESH_ALL_JOB)
    assert refresh.executor_def is dg.in_process_executor
    dg.validate_run_config(refresh, request.run_config)  # launchable as requested


def test_a_ui_materialize_run_executes_in_process(tmp_path):
    """The UI's "Materialize" launches the implicit asset job: Dagster's default would start a
    process per step; the Definitions give it the in-process executor."""
    settings = Settings(root=tmp_path, specs_dir=DATASETS_DIR, warehouse_path=tmp_path / "w.duckdb")
    defs = build_definitions(settings)
    assert defs.resolve_implicit_global_asset_job_def().executor_def is dg.in_process_executor
