"""A schema's job, its landing sensor and its nightly refresh: one run per complete set of files.

The sensor waits for the whole set: it fires only when every table of the schema (modelled and
lookup) has a newest file that differs from the one the last run took (`lib.relational.ingest.
landing_set`); until then it says which tables it is waiting for.

The nightly refresh (`nightly_schema_schedule`, next to the datasets' `nightly_refresh`) runs
each schema from its newest complete set, as the datasets' schedule does: every table's newest
file must be unchanged for `STABLE_AFTER_SECONDS` (the `raw` stage reads each table's newest
file, so a set with one file still being copied is not taken that night), and an unchanged set
re-uses the current model at no cost (the synthesizer stage's `reused` row: same source hash,
same fit settings). Every run of a schema carries `synth/dataset: <schema>`, so the daemon's
run queue runs one per name at a time, like a dataset's.
"""

import hashlib
import json
import time
from pathlib import Path

import dagster as dg

from synth_platform.defs.automation import (
    DATASET_TAG,
    NIGHTLY_CRON,
    STABLE_AFTER_SECONDS,
    nightly_timezone,
    nightly_when,
)
from synth_platform.defs.automation_status import default_status
from synth_platform.defs.resources import StorageResource
from synth_platform.defs.schema_chain.common import CHAIN_TAG, CHAIN_TAG_VALUE, SchemaChain
from synth_platform.lib.relational import ingest as rel_ingest
from synth_platform.lib.relational.schema_spec import SchemaSpec

SENSOR_INTERVAL_SECONDS = 60
REFRESH_ALL_JOB = "refresh_all_schemas"
SCHEMA_TAG = "synth/schema"


def job_name(schema: str) -> str:
    return f"{schema}_governed_schema"


def schema_selection(schema: str) -> dg.AssetSelection:
    """The schema's chain and everything downstream of its release (its dbt models)."""
    return (
        dg.AssetSelection.groups(schema)
        | dg.AssetSelection.assets(dg.AssetKey([schema, "release"])).downstream()
    )


def schema_job(chain: SchemaChain):
    return dg.define_asset_job(
        job_name(chain.name),
        selection=schema_selection(chain.name),
        description=f"Ingest, mask, split, train, sample, check and release schema '{chain.name}' (all "
        "tables or none), then its dbt models.",
        tags={SCHEMA_TAG: chain.name, DATASET_TAG: chain.name},
        # The chain is a line holding the one warehouse pool slot: a process per step would only
        # re-import the code location (see defs.automation.chain_job).
        executor_def=dg.in_process_executor,
    )


def landing_set_sensor(chain: SchemaChain, job) -> dg.SensorDefinition:
    spec = chain.spec

    @dg.sensor(
        name=f"{chain.name}_landing_set_sensor",
        job=job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status(dg.DefaultSensorStatus),
        description=f"Runs schema '{chain.name}' once every table has a new file in "
        f"{rel_ingest.schema_landing_dir(chain.name)}/<table>/.",
    )
    def _sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
        marks, waiting = rel_ingest.landing_set(storage.root_path, spec, context.cursor)
        if marks is None:
            return dg.SkipReason(
                f"Schema '{chain.name}' waits for a new file of table(s) {waiting} before it runs the set."
            )
        context.update_cursor(json.dumps(marks, sort_keys=True))
        run_key = hashlib.sha256(json.dumps(marks, sort_keys=True).encode()).hexdigest()[:32]
        return dg.RunRequest(run_key=run_key)

    return _sensor


def refresh_all_schemas_job():
    """Every schema's chain (by its tag) and its dbt models: the job the nightly schedule narrows."""
    chains = dg.AssetSelection.tag(CHAIN_TAG, CHAIN_TAG_VALUE)
    return dg.define_asset_job(
        REFRESH_ALL_JOB, selection=chains | chains.downstream(), description="Refresh every schema."
    )


def stable_landing_set(
    root: Path, spec: SchemaSpec, now: float, wait: float = STABLE_AFTER_SECONDS
) -> tuple[dict[str, Path] | None, list[str], list[str]]:
    """(table -> its newest file, when all of them are unchanged for `wait` s, else None; the tables
    with no file; the tables whose newest file still changes).

    The schedule keeps no cursor across nights, so "looked the same on two ticks" becomes an age,
    as for a dataset (`defs.automation.newest_stable_file`). An older stable file of a table is no
    way out: `raw` reads each table's newest file, so the whole set waits.
    """
    files = rel_ingest.newest_files(root, spec)
    missing = rel_ingest.missing_tables(files)
    changing = sorted(t for t, p in files.items() if p is not None and not _settled(p, now - wait))
    if missing or changing:
        return None, missing, changing
    return dict(files), [], []


def _settled(path: Path, before: float) -> bool:
    """Last modified before `before` (a file moved away meanwhile is not settled)."""
    try:
        return path.stat().st_mtime_ns / 1e9 <= before
    except FileNotFoundError:
        return False


def nightly_schema_schedule(job, specs: list[SchemaSpec]) -> dg.ScheduleDefinition:
    """One run per schema, at the datasets' hour, each from its newest complete, stable landing set.

    A schedule launches runs of its one job, so each request narrows `refresh_all_schemas` to the
    schema's chain, its gate and its dbt models (the schema job's selection); the `synth/dataset`
    tag puts it in the same queue as the sensor's runs of that schema.
    """
    timezone = nightly_timezone()

    @dg.schedule(
        name="nightly_schema_refresh",
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=timezone,
        job=job,
        default_status=default_status(dg.DefaultScheduleStatus),
        description=f"{nightly_when(timezone)}: one run per schema, "
        f"once every table's newest landing file is unchanged for {STABLE_AFTER_SECONDS} s; an unchanged "
        "set re-uses the model at no cost.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext, storage: StorageResource):
        graph = context.repository_def.asset_graph
        now, requests, skipped = time.time(), [], []
        for spec in specs:
            files, missing, changing = stable_landing_set(storage.root_path, spec, now)
            if missing:
                skipped.append(f"{spec.name}: no landing file for table(s) {missing}")
            if changing:
                skipped.append(
                    f"{spec.name}: the newest file of table(s) {changing} is still changing, not taken"
                )
            if files is None:
                continue
            selection = schema_selection(spec.name)
            requests.append(
                dg.RunRequest(
                    run_key=f"nightly:{spec.name}",
                    tags={DATASET_TAG: spec.name, SCHEMA_TAG: spec.name},
                    asset_selection=sorted(selection.resolve(graph)),
                    asset_check_keys=sorted(selection.resolve_checks(graph)),
                )
            )
        for note in skipped:
            context.log.info(note)
        return requests or dg.SkipReason(" | ".join(skipped) or "no schema")

    return _schedule
