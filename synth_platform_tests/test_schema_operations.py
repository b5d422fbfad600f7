"""A schema gets what a dataset gets: the nightly refresh, budget and stale-release alerts, and a
load-time refusal of a name it would share with a dataset (issue 18, items 2 and 3).

The schedule and sensors are evaluated with Dagster's test contexts (no run), on a clinic schema
unlike the demo bank: a person table, a child table and a public lookup. That an unchanged set
re-uses the model at no cost is the chain's own behaviour (test_schema_chain:
`test_unchanged_files_reuse_and_budget_refuses`); here the nightly request must reach that chain.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from synth_platform.components.governed_schema import schema_definitions
from synth_platform.definitions import build_definitions
from synth_platform.defs import alerts as alert_defs
from synth_platform.defs.automation import REFRESH_ALL_JOB, STABLE_AFTER_SECONDS
from synth_platform.defs.chain import LEDGER_KEY
from synth_platform.defs.platform import platform_definitions
from synth_platform.defs.resources import PseudonymKeyResource, StorageResource, WarehouseResource
from synth_platform.defs.schema_chain import automation as schema_automation
from synth_platform.lib.dataset_instances import write_instance
from synth_platform.lib.governance import alerts, ledger
from synth_platform.lib.instance_names import NameCollision, check_unique
from synth_platform.lib.relational.schema_spec import parse_schema_spec
from synth_platform.lib.storage import warehouse
from synth_platform.settings import DATASETS_DIR, PROJECT_ROOT, Settings
from synth_platform_tests.conftest import small_spec_dict

SCHEMA = "clinic"
DEMO_SCHEMA_FILE = PROJECT_ROOT / "synth_platform" / "defs" / "schemas" / "bank_demo" / "defs.yaml"
HEADERS = {
    "wards": "ward_id,ward_name",
    "patients": "patient_id,full_name,ward_id,age,triage",
    "visits": "visit_id,patient_id,cost,kind",
}


def _clinic(budget: float | None = 2.0):
    return parse_schema_spec(
        {
            "name": SCHEMA,
            "person": "patients",
            "tables": {
                "wards": {
                    "primary_key": "ward_id",
                    "lookup": True,
                    "columns": {"ward_id": {"type": "integer"}, "ward_name": {"type": "string"}},
                },
                "patients": {
                    "primary_key": "patient_id",
                    "columns": {
                        "patient_id": {"type": "integer"},
                        "full_name": {
                            "type": "string",
                            "pii": {"class": "direct_identifier", "type": "name"},
                        },
                        "ward_id": {"type": "integer"},
                        "age": {"type": "integer", "bounds": [0, 110]},
                        "triage": {"type": "category", "categories": ["low", "high"]},
                    },
                },
                "visits": {
                    "primary_key": "visit_id",
                    "columns": {
                        "visit_id": {"type": "integer"},
                        "patient_id": {"type": "integer"},
                        "cost": {"type": "float", "bounds": [0, 5000]},
                        "kind": {"type": "category", "categories": ["exam", "surgery"]},
                    },
                },
            },
            "foreign_keys": [
                {"column": "patients.ward_id", "references": "wards.ward_id"},
                {"column": "visits.patient_id", "references": "patients.patient_id", "max_children": 5},
            ],
            "privacy": {"epsilon_budget": budget},
        },
        "clinic test schema",
    )


def _defs(root: Path) -> dg.Definitions:
    """The clinic's chain and job (its component's definitions) and what spans names (platform.py)."""
    spec = _clinic()
    db = str(root / "warehouse.duckdb")
    resources = {
        "warehouse": WarehouseResource(path=db),
        "storage": StorageResource(root=str(root)),
        "pseudonym_key": PseudonymKeyResource(warehouse_path=db),
    }
    return dg.Definitions.merge(
        schema_definitions(spec), platform_definitions([], [spec]), dg.Definitions(resources=resources)
    )


def _land(root: Path, table: str, name: str, age: float | None = None) -> Path:
    folder = root / "data" / "landing" / SCHEMA / table
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{HEADERS[table]}\n")
    if age is not None:
        past = time.time() - age
        os.utime(path, (past, past))
    return path


def _nightly_tick(defs: dg.Definitions):
    schedule = defs.get_schedule_def("nightly_schema_refresh")
    resources = {"storage": defs.resources["storage"]}
    with dg.build_schedule_context(repository_def=defs.get_repository_def(), resources=resources) as context:
        return schedule.evaluate_tick(context)


def test_nightly_refresh_runs_a_schema_from_its_complete_set_once_no_file_changes(tmp_path):
    defs = _defs(tmp_path)
    settled = STABLE_AFTER_SECONDS + 5
    _land(tmp_path, "wards", "wards_1.csv", settled)
    _land(tmp_path, "patients", "patients_1.csv", settled)

    waiting = _nightly_tick(defs)  # no visits yet: the set is not complete
    assert not waiting.run_requests and "no landing file for table(s) ['visits']" in waiting.skip_message

    _land(tmp_path, "visits", "visits_1.csv", settled)
    (request,) = _nightly_tick(defs).run_requests
    assert request.tags["synth/dataset"] == SCHEMA  # config/dagster.yaml queues runs per this tag
    assert request.run_config == {}  # every job runs in process (`build_definitions`)
    selected = {k.to_user_string() for k in request.asset_selection}
    assert {f"{SCHEMA}/raw", f"{SCHEMA}/synthesizer", f"{SCHEMA}/release"} <= selected
    assert all(k.startswith(f"{SCHEMA}/") for k in selected)
    assert {c.asset_key.to_user_string() for c in request.asset_check_keys} >= {f"{SCHEMA}/synthetic"}
    # the request is launchable: the refresh job runs exactly that subset
    job = defs.resolve_job_def(schema_automation.REFRESH_ALL_JOB)
    subset = job.get_subset(
        asset_selection=set(request.asset_selection), asset_check_selection=set(request.asset_check_keys)
    )
    assert {k.to_user_string() for k in subset.asset_layer.executable_asset_keys} == selected

    _land(tmp_path, "visits", "visits_2.csv")  # arriving now: may still be being copied
    copying = _nightly_tick(defs)
    assert not copying.run_requests
    assert "the newest file of table(s) ['visits'] is still changing, not taken" in copying.skip_message


def test_schema_refresh_sits_next_to_the_datasets_and_leaves_theirs_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_SCHEDULE_TIMEZONE", "Europe/Zurich")
    settings = Settings(root=tmp_path, specs_dir=DATASETS_DIR, warehouse_path=tmp_path / "w.duckdb")
    defs = build_definitions(settings)
    datasets, schemas = (
        defs.get_schedule_def("nightly_refresh"),
        defs.get_schedule_def("nightly_schema_refresh"),
    )
    assert (schemas.cron_schedule, schemas.execution_timezone) == (datasets.cron_schedule, "Europe/Zurich")
    schema_keys = defs.resolve_job_def(schema_automation.REFRESH_ALL_JOB).asset_layer.executable_asset_keys
    dataset_keys = defs.resolve_job_def(REFRESH_ALL_JOB).asset_layer.executable_asset_keys
    assert dg.AssetKey(["bank_demo", "release"]) in schema_keys
    assert not any(k.path[0] == "bank_demo" for k in dataset_keys)
    assert defs.resolve_job_def("bank_demo_governed_schema").tags["synth/dataset"] == "bank_demo"


def _charge(db_path: Path, name: str, epsilon: float) -> None:
    with warehouse.connect(db_path) as con:
        ledger.append(
            con,
            ledger.LedgerEntry(
                run_id="r1",
                dataset=name,
                event="trained",
                source_hash="s" * 64,
                train_data_hash="t" * 64,
                synthesizer="relational_dp",
                parameters={"epsilon": epsilon},
                code_version="test",
                epsilon_spent=epsilon,
                epsilon_budget=2.0,
                decision="trained",
            ),
        )


@pytest.fixture
def posted(monkeypatch):
    """Every alert handed to the webhook poster (the one `post` datasets' alerts go through)."""
    sent: list[alerts.Alert] = []

    def post(alert, url=None, timeout=3.0):
        sent.append(alert)
        return "recorded by the test"

    monkeypatch.setattr(alerts, "post", post)
    return sent


def test_schema_nearly_out_of_budget_is_alerted_once_per_spend(tmp_path, posted):
    db = tmp_path / "warehouse.duckdb"
    _charge(db, SCHEMA, 1.9)  # its rows are under the schema's name, like a dataset's
    sensor = alert_defs.budget_alert_sensor([], [_clinic(budget=2.0)])
    resources = {"warehouse": WarehouseResource(path=str(db))}
    instance = dg.DagsterInstance.ephemeral()

    first = sensor(dg.build_sensor_context(instance=instance, resources=resources))
    (alert,) = posted
    assert alert.kind == "budget_low" and alert.dataset == SCHEMA and alert.details["unit"] == "schema"
    assert alert.details["remaining_share"] < alerts.LOW_BUDGET_SHARE
    assert f"Privacy budget of schema '{SCHEMA}' is running out" in first.skip_reason.skip_message
    assert "stop retraining this schema" in alert.message
    (observation,) = first.asset_events
    assert observation.asset_key == LEDGER_KEY and observation.metadata["dataset"].value == SCHEMA

    again = sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=first.cursor))
    assert len(posted) == 1 and not again.asset_events and "already alerted" in again.skip_reason.skip_message

    _charge(db, SCHEMA, 0.05)  # a new spend: alerted again
    third = sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=again.cursor))
    assert len(posted) == 2 and third.asset_events


def test_schema_with_budget_left_is_not_alerted(tmp_path, posted):
    db = tmp_path / "warehouse.duckdb"
    _charge(db, SCHEMA, 0.2)
    sensor = alert_defs.budget_alert_sensor([], [_clinic(budget=2.0)])
    result = sensor(dg.build_sensor_context(resources={"warehouse": WarehouseResource(path=str(db))}))
    assert not posted and "Every budgeted dataset and schema" in result.skip_reason.skip_message


def test_stale_schema_release_is_alerted_and_a_fresh_one_is_not(posted):
    schema = _clinic()
    instance = dg.DagsterInstance.ephemeral()
    release = dg.AssetKey([SCHEMA, "release"])
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=release))

    fresh = alert_defs.stale_release_alert_sensor([], schemas=[schema])(
        dg.build_sensor_context(instance=instance)
    )
    assert not posted and "within its freshness window" in fresh.skip_reason.skip_message

    stale_sensor = alert_defs.stale_release_alert_sensor([], max_age=timedelta(0), schemas=[schema])
    stale = stale_sensor(dg.build_sensor_context(instance=instance))
    (alert,) = posted
    assert (alert.kind, alert.details["asset"], alert.details["unit"]) == (
        "stale_release",
        f"{SCHEMA}/release",
        "schema",
    )
    assert "the release gate of this schema" in alert.message
    assert stale.asset_events[0].asset_key == release
    again = stale_sensor(dg.build_sensor_context(instance=instance, cursor=stale.cursor))
    assert len(posted) == 1 and "already alerted" in again.skip_reason.skip_message


def test_the_code_location_watches_the_demo_schema_release(tmp_path, monkeypatch, posted):
    """The loaded definitions' one stale-release sensor covers the schema (no second sensor)."""
    settings = Settings(root=tmp_path, specs_dir=DATASETS_DIR, warehouse_path=tmp_path / "w.duckdb")
    sensor = build_definitions(settings).get_sensor_def("stale_release_alert")
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=dg.AssetKey(["bank_demo", "release"]))
    )
    monkeypatch.setenv(alerts.MAX_AGE_ENV, "1e-9")  # a window of ~4 microseconds: the release is now stale
    result = sensor(dg.build_sensor_context(instance=instance))
    assert [a.details["asset"] for a in posted] == ["bank_demo/release"]
    assert "Release 'bank_demo/release' is stale" in result.skip_reason.skip_message


# ------------------------------------------------------------------------------ name collisions


def _datasets_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "datasets"
    write_instance(folder, small_spec_dict(name=name, landing_dir=f"data/landing/{name}"))
    return folder


@pytest.mark.parametrize(
    ("dataset", "shared"),
    [("bank_demo", "the name 'bank_demo'"), ("bank_demo__people", "release.bank_demo__people")],
)
def test_a_dataset_named_like_a_schema_or_its_table_fails_to_load_naming_both_files(
    tmp_path, dataset, shared
):
    folder = _datasets_folder(tmp_path, dataset)
    settings = Settings(root=tmp_path, specs_dir=folder, warehouse_path=tmp_path / "w.duckdb")
    with pytest.raises(NameCollision) as raised:
        build_definitions(settings)
    message = str(raised.value)
    assert shared in message
    assert str(folder / dataset / "defs.yaml") in message and str(DEMO_SCHEMA_FILE) in message
    assert "Rename one of them" in message


def test_two_schemas_whose_tables_meet_in_the_warehouse_are_refused():
    a, b = Path("/defs/schemas/ward/defs.yaml"), Path("/defs/schemas/ward__a/defs.yaml")
    with pytest.raises(NameCollision) as raised:
        check_unique({}, {"ward": (a, ["a__b"]), "ward__a": (b, ["b"])})
    assert "'ward__a__b'" in str(raised.value) and str(a) in str(raised.value) and str(b) in str(raised.value)
    check_unique({"ward_stats": Path("/d/ward_stats/defs.yaml")}, {"ward": (a, ["stats"])})  # no shared name
