"""Jobs, the nightly schedule, and one landing-folder sensor per dataset."""

import json
import os

import dagster as dg

from synth_platform.defs.resources import StorageResource
from synth_platform.lib import ingest
from synth_platform.lib.spec import DatasetSpec

REFRESH_ALL_JOB = "refresh_all_datasets"


def chain_job_name(dataset: str) -> str:
    return f"{dataset}_governed_chain"


def chain_job(spec: DatasetSpec):
    """The dataset's chain and everything downstream of its release (the dbt models)."""
    selection = dg.AssetSelection.groups(spec.name)
    return dg.define_asset_job(
        chain_job_name(spec.name),
        selection=selection | dg.AssetSelection.keys(dg.AssetKey([spec.name, "release"])).downstream(),
        description=f"Ingest, discover, mask, train, sample, check and release '{spec.name}', then dbt.",
        tags={"synth/dataset": spec.name},
    )


def refresh_all_job(specs: list[DatasetSpec]):
    selection = dg.AssetSelection.groups(*[s.name for s in specs], "analytics")
    return dg.define_asset_job(REFRESH_ALL_JOB, selection=selection, description="Refresh every dataset.")


def _status(kind: type) -> object:
    wanted = os.environ.get("SYNTH_AUTOMATION_STATUS", "RUNNING").upper()
    return kind.RUNNING if wanted == "RUNNING" else kind.STOPPED


def nightly_schedule(job) -> dg.ScheduleDefinition:
    timezone = os.environ.get("SYNTH_SCHEDULE_TIMEZONE", "UTC")
    return dg.ScheduleDefinition(
        name="nightly_refresh",
        cron_schedule="0 2 * * *",
        execution_timezone=timezone,
        job=job,
        default_status=_status(dg.DefaultScheduleStatus),
        description=f"Every night at 02:00 ({timezone}; set SYNTH_SCHEDULE_TIMEZONE): refresh every dataset "
        "from its newest landing file.",
    )


def raw_op_name(dataset: str) -> str:
    return f"{dataset}__raw"


def landing_sensor(spec: DatasetSpec, job) -> dg.SensorDefinition:
    """Launch the dataset's chain for each new file in its landing folder.

    The cursor remembers each file's (mtime, size) so unchanged files are not hashed
    again; the run key is the content hash, so the same bytes never run twice.
    """

    @dg.sensor(
        name=f"{spec.name}_landing_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=_status(dg.DefaultSensorStatus),
        description=f"Watches {spec.source.landing_dir} and runs the chain of '{spec.name}' for new files.",
    )
    def _sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
        seen: dict = json.loads(context.cursor) if context.cursor else {}
        landing_dir = storage.landing_dir(spec.source.landing_dir)
        current: dict = {}
        requests = []
        for path in ingest.landing_files(landing_dir, spec.source.pattern):
            stat = path.stat()
            signature = [stat.st_mtime_ns, stat.st_size]
            previous = seen.get(path.name)
            if previous and previous["signature"] == signature:
                current[path.name] = previous
                continue
            content_hash = ingest.file_sha256(path)
            current[path.name] = {"signature": signature, "sha256": content_hash}
            if previous and previous["sha256"] == content_hash:
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{spec.name}:{content_hash}",
                    run_config={"ops": {raw_op_name(spec.name): {"config": {"landing_file": str(path)}}}},
                    tags={"synth/dataset": spec.name, "synth/source_file": path.name},
                )
            )
        cursor = json.dumps(current, sort_keys=True)
        if not requests:
            return dg.SensorResult(skip_reason=f"No new file in {landing_dir}", cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _sensor
