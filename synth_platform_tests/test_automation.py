"""Schedule and sensor behaviour, evaluated the way the daemon evaluates them."""

from __future__ import annotations

import dataclasses
import json
import os
import time

import dagster as dg
import pytest

from synth_platform.definitions import build_definitions
from synth_platform.defs.automation import (
    REFRESH_ALL_JOB,
    STABLE_AFTER_SECONDS,
    chain_job_name,
    chain_version,
    plan_file_digest,
)
from synth_platform.lib.dataset_instances import instance_path, load_datasets, read_spec_dict, write_instance
from synth_platform.lib.pii.approved_plan import plan_path
from synth_platform.lib.storage.ingest import file_sha256
from synth_platform.settings import DATASETS_DIR, Settings

DATASET = "adult_customers"
#: The demo spec's header: the sensor quarantines a file whose header differs (test_alerts covers that).
HEADER = ",".join(read_spec_dict(DATASETS_DIR / DATASET)["columns"])


@pytest.fixture
def defs_and_landing(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_SCHEDULE_TIMEZONE", "Europe/Zurich")
    settings = Settings(root=tmp_path, specs_dir=DATASETS_DIR, warehouse_path=tmp_path / "w.duckdb")
    landing = tmp_path / "data" / "landing" / DATASET
    landing.mkdir(parents=True)
    return build_definitions(settings), landing, settings


def _tick(defs, sensor_name, cursor=None):
    sensor = defs.get_sensor_def(sensor_name)
    with dg.build_sensor_context(cursor=cursor, resources={"storage": defs.resources["storage"]}) as context:
        result = sensor.evaluate_tick(context)
    return result


def test_schedule_runs_every_dataset_nightly_in_configured_timezone(defs_and_landing):
    defs, _, _ = defs_and_landing
    schedule = defs.get_schedule_def("nightly_refresh")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/Zurich"
    assert schedule.job_name == REFRESH_ALL_JOB
    job = defs.resolve_job_def(REFRESH_ALL_JOB)
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert {f"{DATASET}/raw", f"{DATASET}/release", "analytics/income_by_education"} <= keys


def _nightly_tick(defs):
    schedule = defs.get_schedule_def("nightly_refresh")
    resources = {"storage": defs.resources["storage"]}
    with dg.build_schedule_context(repository_def=defs.get_repository_def(), resources=resources) as context:
        return schedule.evaluate_tick(context)


def test_nightly_refresh_runs_each_dataset_in_its_queue_from_a_file_that_stopped_changing(defs_and_landing):
    """Was: one untagged run for all datasets (bypassing the per-dataset run queue), reading whatever
    file was newest, even one still being copied."""
    defs, landing, _ = defs_and_landing
    stable, copying = landing / "customers_1.csv", landing / "customers_2.csv"
    stable.write_text(f"{HEADER}\nC1\n")
    past = time.time() - STABLE_AFTER_SECONDS - 5
    os.utime(stable, (past, past))
    copying.write_text(f"{HEADER}\nC2\n")  # modified just now: may still be growing

    (request,) = _nightly_tick(defs).run_requests
    assert request.tags["synth/dataset"] == DATASET  # config/dagster.yaml queues runs per this tag
    assert request.run_config["ops"][f"{DATASET}__raw"]["config"]["landing_file"] == str(stable)
    selected = {k.to_user_string() for k in request.asset_selection}
    assert {f"{DATASET}/raw", f"{DATASET}/release", "analytics/stg_adult_customers"} <= selected
    assert all(k.split("/")[0] in (DATASET, "analytics") for k in selected)
    assert dg.AssetCheckKey(dg.AssetKey([DATASET, "synthetic"]), "quality_score") in request.asset_check_keys

    stable.unlink()
    skipped = _nightly_tick(defs)
    assert not skipped.run_requests and "still changing" in skipped.skip_message


def _stable_tick(defs, sensor_name, cursor):
    """Two ticks: a new file is only taken once it looked the same on two ticks in a row."""
    first = _tick(defs, sensor_name, cursor)
    assert not first.run_requests and "still changing" in first.skip_message
    return _tick(defs, sensor_name, first.cursor)


def test_sensor_requests_a_run_per_new_stable_file_keyed_by_content_and_version(defs_and_landing):
    defs, landing, _ = defs_and_landing
    sensor_name = f"{DATASET}_landing_sensor"
    first = _tick(defs, sensor_name)
    assert not first.run_requests and "No new file" in first.skip_message

    path = landing / "customers_1.csv"
    path.write_text(f"{HEADER}\nC1\n")
    second = _stable_tick(defs, sensor_name, first.cursor)
    (request,) = second.run_requests
    spec = next(s for s in load_datasets(DATASETS_DIR) if s.name == DATASET)
    plan = plan_file_digest(DATASETS_DIR, DATASET)
    assert plan is not None  # the demo ships its approved plan: an approval (or a new one) re-runs the file
    assert request.run_key == f"{DATASET}:{file_sha256(path)}:{chain_version(spec, plan)}"
    assert request.run_config["ops"][f"{DATASET}__raw"]["config"]["landing_file"] == str(path)
    assert request.tags["synth/dataset"] == DATASET
    assert defs.get_sensor_def(sensor_name).job_name == chain_job_name(DATASET)

    third = _tick(defs, sensor_name, second.cursor)
    assert not third.run_requests  # seen, unchanged

    (landing / "customers_2.csv").write_text(f"{HEADER}\nC2\n")
    fourth = _stable_tick(defs, sensor_name, third.cursor)
    assert [r.tags["synth/source_file"] for r in fourth.run_requests] == ["customers_2.csv"]
    assert set(json.loads(fourth.cursor)) == {"customers_1.csv", "customers_2.csv"}


def test_sensor_waits_while_a_file_is_still_being_written(defs_and_landing):
    defs, landing, _ = defs_and_landing
    sensor_name = f"{DATASET}_landing_sensor"
    path = landing / "customers_1.csv"
    cursor = None
    with open(path, "w") as handle:
        for part in range(3):
            handle.write(f"{HEADER}\nC{part}\n")
            handle.flush()
            result = _tick(defs, sensor_name, cursor)
            assert not result.run_requests, "a file that grew since the last tick was taken"
            cursor = result.cursor
    done = _tick(defs, sensor_name, cursor)
    assert [r.tags["synth/source_file"] for r in done.run_requests] == ["customers_1.csv"]


def test_sensor_ignores_a_touched_file_with_the_same_content(defs_and_landing):
    defs, landing, _ = defs_and_landing
    path = landing / "customers_1.csv"
    path.write_text(f"{HEADER}\nC1\n")
    first = _stable_tick(defs, f"{DATASET}_landing_sensor", None)
    assert first.run_requests
    os.utime(path, (1_000_000, 1_000_000))
    second = _tick(defs, f"{DATASET}_landing_sensor", first.cursor)
    third = _tick(defs, f"{DATASET}_landing_sensor", second.cursor)
    assert not second.run_requests and not third.run_requests


def test_newest_file_runs_again_after_the_spec_changes(defs_and_landing, tmp_path):
    defs, landing, settings = defs_and_landing
    sensor_name = f"{DATASET}_landing_sensor"
    for name in ("customers_1.csv", "customers_2.csv"):
        (landing / name).write_text(f"{HEADER}\n{name}\n")
    os.utime(landing / "customers_1.csv", (1_000_000, 1_000_000))
    done = _stable_tick(defs, sensor_name, None)
    assert len(done.run_requests) == 2
    assert not _tick(defs, sensor_name, done.cursor).run_requests

    specs_dir = tmp_path / "changed_specs"
    specs_dir.mkdir()
    spec = read_spec_dict(DATASETS_DIR / DATASET)
    spec["checks"]["min_quality_score"] = 0.8
    write_instance(specs_dir, spec)
    changed = build_definitions(dataclasses.replace(settings, specs_dir=specs_dir))
    rerun = _tick(changed, sensor_name, done.cursor)
    (request,) = rerun.run_requests
    assert request.tags["synth/source_file"] == "customers_2.csv"  # the newest only
    assert request.run_key not in {r.run_key for r in done.run_requests}
    assert not _tick(changed, sensor_name, rerun.cursor).run_requests


def test_newest_file_runs_again_once_its_masking_plan_is_approved(defs_and_landing, tmp_path):
    """A run stopped for want of an approved plan must not need a new file: approving re-runs it."""
    import shutil

    _, landing, settings = defs_and_landing
    sensor_name = f"{DATASET}_landing_sensor"
    specs_dir = tmp_path / "unapproved_specs"
    specs_dir.mkdir()
    (specs_dir / DATASET).mkdir()
    shutil.copy(instance_path(DATASETS_DIR, DATASET), instance_path(specs_dir, DATASET))
    defs = build_definitions(dataclasses.replace(settings, specs_dir=specs_dir))
    (landing / "customers_1.csv").write_text(f"{HEADER}\nC1\n")
    first = _stable_tick(defs, sensor_name, None)
    assert len(first.run_requests) == 1  # runs, and stops at pii_report without a plan
    assert not _tick(defs, sensor_name, first.cursor).run_requests
    plan = plan_path(DATASETS_DIR, DATASET)
    shutil.copy(plan, plan_path(specs_dir, DATASET))  # the person approves
    (again,) = _tick(defs, sensor_name, first.cursor).run_requests
    assert again.run_key != first.run_requests[0].run_key
