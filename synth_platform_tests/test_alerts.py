"""Operator alerts fire, are recorded in the Dagster instance, and reach a webhook (a local HTTP server)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from synth_platform.defs import alerts as alert_defs
from synth_platform.defs.chain import LEDGER_KEY
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.lib.dataset_instances import read_spec_dict
from synth_platform.lib.governance import alerts, ledger
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage import warehouse
from synth_platform.settings import DATASETS_DIR
from synth_platform_tests.conftest import small_spec_dict


@pytest.fixture
def webhook(monkeypatch):
    """A webhook on 127.0.0.1 that records every JSON body posted to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(alerts.WEBHOOK_ENV, f"http://127.0.0.1:{server.server_port}/hook")
    yield received
    server.shutdown()


def spec(name: str = "people", **sections) -> DatasetSpec:
    raw = small_spec_dict(name=name)
    raw.update(sections)
    return DatasetSpec.model_validate(raw)


def _alert_failed_run(job, db_path) -> tuple[dg.DagsterInstance, str]:
    """Run `job` (it fails) and pass its failure through the real run-failure sensor."""
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources={"warehouse": WarehouseResource(path=str(db_path))},
    ).for_run_failure()
    alert_defs.run_failure_alert_sensor()(context)
    return instance, result.run_id


def test_failed_run_is_alerted_in_its_log_and_on_the_webhook(webhook, tmp_path):
    @dg.op
    def load_people():
        raise RuntimeError("the source system is down")

    @dg.job(tags={"synth/dataset": "people"})
    def people_chain():
        load_people()

    instance, run_id = _alert_failed_run(people_chain, tmp_path / "warehouse.duckdb")

    assert [(h["kind"], h["dataset"]) for h in webhook] == [("run_failure", "people")]
    assert webhook[0]["details"]["failed_steps"] == ["load_people"]
    assert run_id in webhook[0]["message"]
    assert "Nothing was committed" in webhook[0]["message"]  # no warehouse yet: no ledger row of this run
    assert "the source system is down" not in json.dumps(webhook)  # error texts may quote values
    logged = [r.event_log_entry.message for r in instance.get_records_for_run(run_id).records]
    assert any(m.startswith("ALERT: Run ") and "load_people" in m for m in logged)


def test_a_failure_after_the_training_charge_is_alerted_as_a_charge(webhook, tmp_path):
    """The old alert said "the ledger is unchanged" even when the run had charged the budget."""
    db_path = tmp_path / "warehouse.duckdb"
    _charge(db_path, "people", 0.5, run_id="an-earlier-run")  # another run's row: not this run's change

    @dg.op
    def synthesizer(context):
        _charge(db_path, "people", 0.25, run_id=context.run_id)  # the `trained` row is committed...
        raise RuntimeError("the fit crashed")  # ...and the fit dies after it

    @dg.job(tags={"synth/dataset": "people"})
    def people_chain():
        synthesizer()

    _alert_failed_run(people_chain, db_path)
    (hook,) = webhook
    assert "charged the privacy budget" in hook["message"] and "entry 2 of 'people'" in hook["message"]
    assert "epsilon 0.25" in hook["message"] and "not refunded" in hook["message"]
    assert "ledger are unchanged" not in hook["message"] and "Nothing was committed" not in hook["message"]
    assert "The last good release is unchanged." in hook["message"]
    assert hook["details"]["committed_ledger_entries"] == [
        {"entry_id": 2, "dataset": "people", "event": "trained"}
    ]


def _row(entry_id, event, **figures):
    return alerts.CommittedRow(entry_id, "people", event, **figures)


def test_failure_wording_says_what_the_run_committed():
    nothing = alerts.what_changed([])
    assert "Nothing was committed" in nothing and "last good release is unchanged" in nothing

    charged = alerts.what_changed([_row(7, "trained", epsilon_spent=1.0, rho_spent=0.015)])
    assert "charged the privacy budget" in charged and "`trained` entry 7" in charged
    assert "epsilon 1" in charged and "not refunded" in charged
    assert "Nothing was committed" not in charged and "release is unchanged" in charged
    unbounded = alerts.what_changed([_row(7, "trained")])  # a non-private fit: NULL epsilon
    assert "unbounded epsilon" in unbounded

    blocked = alerts.what_changed([_row(8, "gate", rho_spent=0.01), _row(9, "blocked")])
    assert "`gate` entry 8" in blocked and "rho 0.01" in blocked
    assert "`blocked` decision was recorded (entry 9" in blocked and "release is unchanged" in blocked

    released = alerts.what_changed(
        [_row(10, "reused"), _row(11, "gate", rho_spent=0.01), _row(12, "released")]
    )
    assert (
        "published and recorded: 'people' (entry 12)" in released and "only a later step failed" in released
    )
    assert "re-used at no cost (entry 10" in released and "release is unchanged" not in released

    unknown = alerts.what_changed(None)  # the warehouse could not be read: nothing claimed
    assert "unknown" in unknown and "unchanged" not in unknown and "Nothing was committed" not in unknown


def _charge(db_path, dataset: str, epsilon: float, run_id: str = "r1") -> None:
    with warehouse.connect(db_path) as con:
        ledger.append(
            con,
            ledger.LedgerEntry(
                run_id=run_id,
                dataset=dataset,
                event="trained",
                source_hash="s" * 64,
                train_data_hash="t" * 64,
                synthesizer="dp_mst",
                parameters={"epsilon": epsilon},
                code_version="test",
                epsilon_spent=epsilon,
                epsilon_budget=1.0,
                decision="trained",
            ),
        )


def test_budget_under_20_percent_alerts_once_per_spend(webhook, tmp_path):
    db_path = tmp_path / "warehouse.duckdb"
    _charge(db_path, "clinic", 0.95)  # about 10 % of the zCDP budget left
    _charge(db_path, "shop", 0.3)  # most of it left
    specs = [spec("clinic", privacy={"epsilon_budget": 1.0}), spec("shop", privacy={"epsilon_budget": 1.0})]
    sensor = alert_defs.budget_alert_sensor(specs)
    resources = {"warehouse": WarehouseResource(path=str(db_path))}
    instance = dg.DagsterInstance.ephemeral()

    first = sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert [h["dataset"] for h in webhook] == ["clinic"]
    assert webhook[0]["details"]["remaining_share"] < 0.2
    assert "Privacy budget of 'clinic' is running out" in first.skip_reason.skip_message
    (observation,) = first.asset_events
    assert observation.asset_key == LEDGER_KEY and observation.metadata["dataset"].value == "clinic"

    again = sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=first.cursor))
    assert len(webhook) == 1 and not again.asset_events  # same spend: not alerted twice
    assert "already alerted" in again.skip_reason.skip_message


def test_stale_release_is_alerted_and_a_fresh_one_is_not(webhook):
    specs = [spec("people")]
    instance = dg.DagsterInstance.ephemeral()
    release = alert_defs.release_key(specs[0])
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=release))

    fresh = alert_defs.stale_release_alert_sensor(specs)(dg.build_sensor_context(instance=instance))
    assert not webhook and "within its freshness window" in fresh.skip_reason.skip_message

    stale_sensor = alert_defs.stale_release_alert_sensor(specs, max_age=timedelta(0))
    stale = stale_sensor(dg.build_sensor_context(instance=instance))
    assert [(h["kind"], h["details"]["asset"]) for h in webhook] == [("stale_release", "people/release")]
    assert stale.asset_events[0].asset_key == release
    assert "Release 'people/release' is stale" in stale.skip_reason.skip_message


def test_release_freshness_policy_window_is_the_alert_age(monkeypatch):
    """The release's freshness policy fails at the age the stale-release alert fires at (one setting)."""
    from synth_platform.defs.catalog import release_freshness_policy

    monkeypatch.setenv(alerts.MAX_AGE_ENV, "30")
    assert release_freshness_policy().fail_window.to_timedelta() == alerts.release_max_age()
    assert alerts.release_max_age() == timedelta(hours=30)


def test_webhook_failure_is_reported_not_raised(monkeypatch):
    monkeypatch.setenv(alerts.WEBHOOK_ENV, "http://127.0.0.1:9/nothing-listens-here")
    assert "unreachable" in alerts.post(alerts.Alert("stale_release", "test"), timeout=0.5)
    monkeypatch.setenv(alerts.WEBHOOK_ENV, "file:///etc/passwd")
    assert "must be an http(s) URL" in alerts.post(alerts.Alert("stale_release", "test"))
    monkeypatch.delenv(alerts.WEBHOOK_ENV)
    assert "not set" in alerts.post(alerts.Alert("stale_release", "test"))


def test_landing_file_with_another_schema_is_quarantined_with_the_reason(webhook, tmp_path):
    people = spec("people", source={"landing_dir": "landing/people", "format": "csv"})
    landing = tmp_path / "landing" / "people"
    landing.mkdir(parents=True)
    good = landing / "good.csv"
    good.write_text(",".join(people.column_names) + "\n")
    renamed = landing / "renamed.csv"
    renamed.write_text(",".join(c if c != "email" else "e_mail" for c in people.column_names) + "\n")
    storage = StorageResource(root=str(tmp_path))
    log = dg.get_dagster_logger()

    assert alert_defs.quarantine_if_schema_differs(good, people, storage, log) is None and good.exists()
    why = alert_defs.quarantine_if_schema_differs(renamed, people, storage, log)
    assert "missing ['email']" in why and "unexpected ['e_mail']" in why
    assert not renamed.exists()
    (moved,) = (tmp_path / "data" / "quarantine" / "people").glob("*renamed.csv")
    assert "missing ['email']" in moved.with_name(moved.name + ".reason.txt").read_text()
    assert [h["kind"] for h in webhook] == ["landing_quarantined"]


def test_landing_sensor_keeps_a_file_with_another_schema_quarantined_and_says_why(webhook, tmp_path):
    from synth_platform.definitions import build_definitions
    from synth_platform.settings import Settings

    specs_dir = DATASETS_DIR
    settings = Settings(root=tmp_path, specs_dir=specs_dir, warehouse_path=tmp_path / "w.duckdb")
    defs = build_definitions(settings)
    landing = tmp_path / "data" / "landing" / "adult_customers"
    landing.mkdir(parents=True)
    columns = list(read_spec_dict(specs_dir / "adult_customers")["columns"])
    header = ",".join("e_mail" if c == "email" else c for c in columns)
    (landing / "customers_renamed.csv").write_text(header + "\n")
    sensor = defs.get_sensor_def("adult_customers_landing_sensor")
    resources = {"storage": defs.resources["storage"]}
    cursor = None
    for _ in range(2):  # a new file is taken once it looked the same on two ticks
        with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
            result = sensor.evaluate_tick(context)
        cursor = result.cursor
    assert not result.run_requests
    assert "customers_renamed.csv" in result.skip_message and "missing ['email']" in result.skip_message
    assert not (landing / "customers_renamed.csv").exists()
    assert list((tmp_path / "data" / "quarantine" / "adult_customers").glob("*customers_renamed.csv"))
    assert [h["kind"] for h in webhook] == ["landing_quarantined"]
