"""`make demo`: run the whole governed chain of the demo dataset and print a summary.

The run goes to the Dagster instance in $DAGSTER_HOME, so it shows in the UI
afterwards (`make dev`).
"""

from __future__ import annotations

import sys
import time

import dagster as dg

from synth_platform.defs.automation import chain_job_name
from synth_platform.lib.demo_data import write_demo_landing_file
from synth_platform.lib.storage.private_files import restrict_process_umask
from synth_platform.run_summary import render
from synth_platform.settings import Settings

DATASET = "adult_customers"


def main() -> int:
    restrict_process_umask()  # the demo's landing file, warehouse, models, evidence: owner-only
    settings = Settings.from_env()
    landing = settings.root / "data" / "landing" / DATASET
    started = time.perf_counter()
    path = write_demo_landing_file(landing)
    print(f"Demo landing file: {path.relative_to(settings.root)} ({time.perf_counter() - started:.1f} s)")

    from synth_platform.definitions import defs

    job = defs.resolve_job_def(chain_job_name(DATASET))
    instance = dg.DagsterInstance.get()
    from synth_platform.defs.run_health import reap_dead_runs

    for run_id in reap_dead_runs(instance):  # a killed earlier demo must not hold the warehouse pool
        print(f"Marked run {run_id} failed: its process is gone; its pool slot is free again.")
    run_config = {
        "ops": {f"{DATASET}__raw": {"config": {"landing_file": str(path)}}},
        # INFO, not DEBUG: progress and warnings, without every engine event; the UI has them all.
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }
    print(f"Running {chain_job_name(DATASET)} on {path.name} (about a minute on 2 cores) ...", flush=True)
    started = time.perf_counter()
    result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
    elapsed = time.perf_counter() - started
    run = instance.get_run_by_id(result.run_id)
    print()
    print(render(instance, run, settings.warehouse_path, DATASET))
    print(
        f"\nWall time of the run: {elapsed:.1f} s. Browse it in the UI: make dev, then http://127.0.0.1:3000"
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
