"""Schedule and sensor behaviour, evaluated the way the daemon evaluates them."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from synth_platform.definitions import build_definitions
from synth_platform.defs.automation import REFRESH_ALL_JOB, chain_job_name
from synth_platform.lib.ingest import file_sha256
from synth_platform.settings import Settings
from synth_platform_tests.conftest import PROJECT_ROOT

DATASET = "adult_customers"


@pytest.fixture
def defs_and_landing(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_SCHEDULE_TIMEZONE", "Europe/Zurich")
    settings = Settings(
        root=tmp_path, specs_dir=PROJECT_ROOT / "config" / "datasets", warehouse_path=tmp_path / "w.duckdb"
    )
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
    with dg.build_schedule_context(scheduled_execution_time=None) as context:
        data = schedule.evaluate_tick(context)
    assert len(data.run_requests) == 1


def test_sensor_requests_a_run_per_new_file_keyed_by_content(defs_and_landing):
    defs, landing, _ = defs_and_landing
    sensor_name = f"{DATASET}_landing_sensor"
    first = _tick(defs, sensor_name)
    assert not first.run_requests and "No new file" in first.skip_message

    path = landing / "customers_1.csv"
    path.write_text("customer_id\nC1\n")
    second = _tick(defs, sensor_name, first.cursor)
    (request,) = second.run_requests
    assert request.run_key == f"{DATASET}:{file_sha256(path)}"
    assert request.run_config["ops"][f"{DATASET}__raw"]["config"]["landing_file"] == str(path)
    assert defs.get_sensor_def(sensor_name).job_name == chain_job_name(DATASET)

    third = _tick(defs, sensor_name, second.cursor)
    assert not third.run_requests  # seen, unchanged

    (landing / "customers_2.csv").write_text("customer_id\nC2\n")
    fourth = _tick(defs, sensor_name, third.cursor)
    assert [r.tags["synth/source_file"] for r in fourth.run_requests] == ["customers_2.csv"]
    assert set(json.loads(fourth.cursor)) == {"customers_1.csv", "customers_2.csv"}


def test_sensor_ignores_a_touched_file_with_the_same_content(defs_and_landing):
    import os

    defs, landing, _ = defs_and_landing
    path = landing / "customers_1.csv"
    path.write_text("customer_id\nC1\n")
    first = _tick(defs, f"{DATASET}_landing_sensor")
    os.utime(path, (1_000_000, 1_000_000))
    second = _tick(defs, f"{DATASET}_landing_sensor", first.cursor)
    assert not second.run_requests
