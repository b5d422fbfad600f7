"""Jobs, the nightly schedule, one landing-folder sensor per dataset, and the lease's run-end hook.

Every run that writes a dataset's tables carries the tag `synth/dataset: <dataset>`, so the
daemon's run queue (`tag_concurrency_limits` in config/dagster.yaml) runs one per dataset at a
time; the nightly refresh therefore launches one run per dataset rather than one for all. And
no run takes a landing file that may still be being copied: the sensor waits until a file looks
the same on two ticks, the schedule takes only files unchanged for `STABLE_AFTER_SECONDS`.
"""

import hashlib
import json
import os
import time

import dagster as dg

from synth_platform.defs.automation_status import default_status
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage import ingest, run_lease

REFRESH_ALL_JOB = "refresh_all_datasets"
DATASET_TAG = "synth/dataset"
SENSOR_INTERVAL_SECONDS = 30
#: A file the schedule takes must be unchanged this long: the sensor's two ticks, and the same again.
STABLE_AFTER_SECONDS = 2 * SENSOR_INTERVAL_SECONDS


def chain_job_name(dataset: str) -> str:
    return f"{dataset}_governed_chain"


def dataset_selection(spec: DatasetSpec) -> dg.AssetSelection:
    """The dataset's chain and everything downstream of its release (the dbt models)."""
    release = dg.AssetKey([spec.name, "release"])
    return dg.AssetSelection.groups(spec.name) | dg.AssetSelection.assets(release).downstream()


def chain_job(spec: DatasetSpec):
    """The dataset's chain, every step in the run's own process (`in_process_executor`).

    The chain is a line (each step waits for the one before, and every warehouse step holds the
    one `duckdb_warehouse` pool slot), so the multiprocess executor ran nothing in parallel; it
    only started a process per step, each importing the code location again (~6.5 s of CPU per
    step, 9 steps): a launched 50,000-row run used 106 s of CPU against 47 s in process. Pools,
    retries, the run lease and run monitoring work the same in process (the executor's engine
    event still names the process the lease and the health check watch).
    """
    return dg.define_asset_job(
        chain_job_name(spec.name),
        selection=dataset_selection(spec),
        description=f"Ingest, discover, mask, train, sample, check and release '{spec.name}', then dbt.",
        tags={DATASET_TAG: spec.name},
        executor_def=dg.in_process_executor,
    )


def newest_stable_file(landing_dir, pattern: str, now: float, wait: float = STABLE_AFTER_SECONDS):
    """The newest landing file not modified for `wait` seconds, and how many newer ones still change.

    The schedule keeps no cursor across nights, so the sensor's two-tick comparison becomes an
    age: a file whose mtime is `wait` old has looked the same for that long. Files are listed
    oldest first (`ingest.landing_files`, which never lists a symlink).
    """
    stable, changing = None, 0
    for path in ingest.landing_files(landing_dir, pattern):
        signature = _signature(path)
        if signature is None:
            continue
        if signature[0] / 1e9 <= now - wait:
            stable = path
        else:
            changing += 1
    return stable, changing


#: When the nightly refreshes run (datasets and schemas alike), in `nightly_timezone()`.
NIGHTLY_CRON = "0 2 * * *"


def nightly_timezone() -> str:
    """The nightly refreshes' timezone: `SYNTH_SCHEDULE_TIMEZONE`, UTC by default."""
    return os.environ.get("SYNTH_SCHEDULE_TIMEZONE", "UTC")


def nightly_when(timezone: str) -> str:
    """The start of a nightly schedule's description: when it runs and how to move it."""
    return f"Every night at 02:00 ({timezone}; set SYNTH_SCHEDULE_TIMEZONE)"


def nightly_schedule(job, specs: list[DatasetSpec]) -> dg.ScheduleDefinition:
    """One run per dataset, each with its `synth/dataset` tag and its newest *stable* landing file.

    A schedule launches runs of its one job, so each request narrows `refresh_all_datasets` to the
    dataset's chain and its dbt models (the chain job's selection, with its gate checks); the tag
    puts each run in the dataset's queue next to the sensor's runs of it.
    """
    timezone = nightly_timezone()

    @dg.schedule(
        name="nightly_refresh",
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=timezone,
        job=job,
        default_status=default_status(dg.DefaultScheduleStatus),
        description=f"{nightly_when(timezone)}: one run per dataset, "
        f"from its newest landing file unchanged for {STABLE_AFTER_SECONDS} s.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext, storage: StorageResource):
        graph = context.repository_def.asset_graph
        now, requests, skipped = time.time(), [], []
        for spec in specs:
            landing_dir = storage.landing_dir(spec.source.landing_dir)
            path, changing = newest_stable_file(landing_dir, spec.source.pattern, now)
            if changing:
                skipped.append(f"{spec.name}: {changing} file(s) still changing, not taken")
            if path is None:
                skipped.append(f"{spec.name}: no landing file unchanged for {STABLE_AFTER_SECONDS} s")
                continue
            selection = dataset_selection(spec)
            requests.append(
                dg.RunRequest(
                    run_key=f"nightly:{spec.name}",
                    # in process, as every job runs (`definitions.build_definitions`)
                    run_config={"ops": {raw_op_name(spec.name): {"config": {"landing_file": str(path)}}}},
                    tags={DATASET_TAG: spec.name, "synth/source_file": path.name},
                    asset_selection=sorted(selection.resolve(graph)),
                    asset_check_keys=sorted(selection.resolve_checks(graph)),
                )
            )
        for note in skipped:
            context.log.info(note)
        return requests or dg.SkipReason(" | ".join(skipped) or "no dataset")

    return _schedule


def lease_release_sensor() -> dg.SensorDefinition:
    """Give back the dataset leases of a failed run (lib.storage.run_lease).

    A successful chain frees its lease itself with its last write (`release`); a failed one
    never gets there. Without the daemon (or for a `kill -9`) this never fires, and the lease
    stays until the next run takes it over: liveness says its run has ended.
    """

    @dg.run_failure_sensor(
        name="release_lease_of_failed_run",
        default_status=default_status(dg.DefaultSensorStatus),
        description="Frees the datasets a failed run held, so their lease names no ended run.",
    )
    def _sensor(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
        with warehouse.connect() as con:
            freed = run_lease.release(con, context.dagster_run.run_id)
        if freed:
            context.log.info(
                f"Released the lease of {', '.join(freed)} held by failed run {context.dagster_run.run_id}"
            )

    return _sensor


def raw_op_name(dataset: str) -> str:
    return f"{dataset}__raw"


def plan_file_digest(specs_dir, dataset: str) -> str | None:
    """SHA-256 of the dataset's approved-plan file, or None while there is none."""
    from synth_platform.lib.pii.approved_plan import plan_path

    path = plan_path(specs_dir, dataset)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def chain_version(spec: DatasetSpec, plan_digest: str | None = None) -> str:
    """The spec's, the approved plan's and the code's version: a file runs again after any changes.

    The spec digest covers every field (columns, thresholds, synthesizer); the plan part is the
    approved-plan file's digest (so a file stopped for want of an approval runs again once the
    plan is approved); the code part is the package version and every stage's code_version.
    """
    from synth_platform import __version__
    from synth_platform.defs.chain.common import STAGE_VERSIONS
    from synth_platform.lib.spec import spec_sha256

    spec_digest = spec_sha256(spec)[:12]
    stages = json.dumps(STAGE_VERSIONS, sort_keys=True)
    code_digest = hashlib.sha256(f"{__version__}|{stages}".encode()).hexdigest()[:12]
    plan = f".plan-{plan_digest[:12]}" if plan_digest else ""
    return f"spec-{spec_digest}{plan}.code-{code_digest}"


def _signature(path) -> list | None:
    try:
        stat = path.stat()
    except FileNotFoundError:  # moved away (quarantined) between listing and looking
        return None
    return [stat.st_mtime_ns, stat.st_size]


def _refusal(path, spec: DatasetSpec, storage, log) -> str | None:
    """Why the sensor quarantines a chosen file (schema differs, over a size limit), or None.

    Errors are turned into a reason, never raised: a sensor that raises errors on every tick and
    stops watching the other files.
    """
    from synth_platform.defs.alerts import quarantine_if_schema_differs

    try:
        ingest.check_file_size(path, spec)
        return quarantine_if_schema_differs(path, spec, storage, log)
    except ingest.IngestError as error:
        landing_dir = storage.landing_dir(spec.source.landing_dir)
        try:
            moved = ingest.quarantine(path, storage.quarantine_dir(spec.name), str(error), landing_dir)
        except OSError as move_error:
            return f"{error}; not moved ({move_error.__class__.__name__})"
        return f"{error}. The file was moved to {moved}."
    except OSError as error:  # gone or unreadable between listing and looking
        return f"{path.name}: skipped ({error.__class__.__name__})"


def landing_sensor(spec: DatasetSpec, job) -> dg.SensorDefinition:
    """Launch the dataset's chain for each new file in its landing folder.

    A file is taken only once its size and modification time are the same on two ticks in a
    row, so a file still being copied is not ingested half-written. The cursor remembers each
    file's signature, content hash and the chain version it ran with; the run key is the
    content hash plus the spec's and code's version, so the same bytes never run twice under
    one version, and the newest file runs again after the spec or the code changes.
    """

    @dg.sensor(
        name=f"{spec.name}_landing_sensor",
        job=job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status(dg.DefaultSensorStatus),
        description=f"Watches {spec.source.landing_dir} and runs the chain of '{spec.name}' for new files "
        "once they have stopped changing.",
    )
    def _sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
        seen: dict = json.loads(context.cursor) if context.cursor else {}
        version = chain_version(spec, plan_file_digest(storage.specs_path, spec.name))
        landing_dir = storage.landing_dir(spec.source.landing_dir)
        current: dict = {}
        chosen: list = []
        waiting = 0
        outdated = []
        # Links are never followed: each is moved to quarantine (the link, not its target) and named
        # in the skip reason; landing_files lists only regular files inside the folder.
        quarantined = ingest.quarantine_symlinks(
            landing_dir, spec.source.pattern, storage.quarantine_dir(spec.name)
        )
        for path in ingest.landing_files(landing_dir, spec.source.pattern):
            signature = _signature(path)
            if signature is None:
                continue
            previous = seen.get(path.name) or {}
            if previous.get("signature") != signature:
                # New or still changing: look again next tick before taking it.
                current[path.name] = {**previous, "signature": signature, "pending": True}
                waiting += 1
                continue
            if not previous.get("pending"):
                current[path.name] = previous
                if previous.get("version") != version:
                    outdated.append(path)
                continue
            content_hash = ingest.file_sha256(path)
            current[path.name] = {"signature": signature, "sha256": content_hash, "version": version}
            if previous.get("sha256") == content_hash and previous.get("version") == version:
                continue  # touched, not changed
            chosen.append((path, content_hash))
        if outdated and not chosen:
            newest = outdated[-1]  # older files would only be superseded by the newest
            content_hash = current[newest.name].get("sha256") or ingest.file_sha256(newest)
            current[newest.name] = {**current[newest.name], "sha256": content_hash, "version": version}
            chosen.append((newest, content_hash))
        for path in outdated:
            current[path.name] = {**current[path.name], "version": version}
        # A file whose header differs from the spec, or over a size limit, is quarantined here.
        for path, content_hash in list(chosen):
            why = _refusal(path, spec, storage, context.log)
            if why:
                quarantined.append(why)
                chosen.remove((path, content_hash))
                current.pop(path.name, None)
        requests = [
            dg.RunRequest(
                run_key=f"{spec.name}:{content_hash}:{version}",
                run_config={"ops": {raw_op_name(spec.name): {"config": {"landing_file": str(path)}}}},
                tags={DATASET_TAG: spec.name, "synth/source_file": path.name, "synth/version": version},
            )
            for path, content_hash in chosen
        ]
        cursor = json.dumps(current, sort_keys=True)
        if not requests:
            reason = " | ".join(quarantined) if quarantined else f"No new file in {landing_dir}"
            if waiting:
                reason += f"; {waiting} file(s) still changing, taken once unchanged for a tick"
            return dg.SensorResult(skip_reason=reason, cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _sensor
