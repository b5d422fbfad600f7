"""Operator alerts as Dagster sensors and checks (wording and webhook in lib.governance.alerts).

- `run_failure_alert`: any failed run of this code location. The alert is written into the
  failed run's own event log (an engine event, so it sits next to the error in the UI), logged
  by the sensor, and posted to `SYNTH_ALERT_WEBHOOK_URL` when set. It says what the run changed
  before failing, from the ledger rows the run appended (a charge, a decision, a release), not
  from an assumption that a failed run changed nothing.
- `privacy_budget_alert`: a dataset (or a schema: its rows are under its name) with an epsilon budget
  has less than 20 % left. Recorded as
  an `AssetObservation` on `governance/ledger` (visible in the ledger's event history), once
  per new spend, and as the sensor tick's message.
- Freshness: every `<ds>/release` has a `FreshnessPolicy` (defs.catalog: fails after 26 h by
  default for a nightly refresh, `SYNTH_RELEASE_MAX_AGE_HOURS`), evaluated by the daemon and shown
  in the UI. Open-source Dagster sends no alert for a failing policy (alerts on it are Dagster+),
  so `stale_release_alert` stays: it sends the alert for an overdue release (observation on the
  release asset, once per stale materialisation) with the same age; a schema's `<schema>/release`
  is watched the same way.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from synth_platform.defs.automation_status import default_status
from synth_platform.defs.chain import LEDGER_KEY
from synth_platform.defs.resources import WarehouseResource
from synth_platform.lib.governance import alerts
from synth_platform.lib.spec import DatasetSpec


def release_key(spec: DatasetSpec) -> dg.AssetKey:
    return dg.AssetKey([spec.name, "release"])


def _record(log, alert: alerts.Alert) -> str:
    """Log the alert and post it; the returned line says both."""
    delivery = alerts.post(alert)
    log.warning(f"ALERT {alert.kind}: {alert.message} [{delivery}]")
    return f"{alert.message} [{delivery}]"


def _ledger_rows_of_run(warehouse: WarehouseResource, run_id: str) -> list[alerts.CommittedRow] | None:
    """The ledger rows a run appended (what it changed before failing); None when unreadable.

    No warehouse file, or no ledger table, means the run committed nothing. Any other error
    leaves the answer unknown, and the alert then claims nothing either way.
    """
    from synth_platform.lib.governance import ledger

    try:
        with warehouse.connect(read_only=True) as con:
            rows = ledger.read_ledger(con)  # the ledger is small: one row per governed event
    except FileNotFoundError:  # the warehouse does not exist yet: nothing was ever committed
        return []
    except Exception:  # a sensor must still alert; it then says the changes are unknown
        return None
    mine = rows[rows["run_id"] == run_id]
    return [
        alerts.CommittedRow(
            int(r["entry_id"]),
            str(r["dataset"]),
            str(r["event"]),
            _number(r["epsilon_spent"]),
            _number(r["rho_spent"]),
        )
        for r in mine.to_dict("records")
    ]


def _number(value) -> float | None:
    return None if value is None or value != value else float(value)  # NaN (a NULL) -> None


def run_failure_alert_sensor() -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="run_failure_alert",
        minimum_interval_seconds=30,
        default_status=default_status(dg.DefaultSensorStatus),
        description="Records an alert in every failed run's log and posts it to SYNTH_ALERT_WEBHOOK_URL.",
    )
    def run_failure_alert(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
        run = context.dagster_run
        failed_steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
        committed = _ledger_rows_of_run(warehouse, run.run_id)
        alert = alerts.run_failure(
            run.job_name, run.run_id, failed_steps, run.tags.get("synth/dataset"), committed
        )
        line = _record(context.log, alert)
        context.instance.report_engine_event(f"ALERT: {line}", dagster_run=run)

    return run_failure_alert


def _budget_status(warehouse: WarehouseResource, spec: DatasetSpec) -> tuple[float, float, float, str]:
    """(spent, remaining, remaining share, state key) of a dataset's epsilon budget; read-only."""
    from synth_platform.lib.governance import budget as budget_lib
    from synth_platform.lib.governance import ledger

    with warehouse.connect(read_only=True) as con:
        delta = getattr(spec.privacy, "delta", None)
        found = budget_lib.status(con, spec.name, spec.privacy.epsilon_budget, *([delta] if delta else []))
        last = ledger.read_ledger(con, spec.name)
    # the state is the newest row that can change the budget: a governed-only row (a `check`, an
    # `export`) spends nothing and must not re-send an alert
    from synth_platform.lib.storage.zones import GOVERNED_ONLY_EVENTS

    spending = last[~last["event"].isin(GOVERNED_ONLY_EVENTS)] if len(last) else last
    state = str(int(spending["entry_id"].max())) if len(spending) else "0"
    return found.spent_epsilon, found.remaining_epsilon, found.remaining_share, state


def _units(specs: list[DatasetSpec], schemas) -> list[tuple]:
    """(spec, unit) for every dataset and schema; a schema's ledger rows and release are under its
    name (`<schema>/release`), so the same reads and the same wording (lib.governance.alerts) serve it."""
    return [(s, alerts.DATASET) for s in specs] + [(s, alerts.SCHEMA) for s in schemas or []]


def budget_alert_sensor(specs: list[DatasetSpec], schemas=None) -> dg.SensorDefinition:
    """`schemas`: `SchemaSpec`s alerted like datasets (their budget is per person)."""
    budgeted = [(s, unit) for s, unit in _units(specs, schemas) if s.privacy.epsilon_budget is not None]

    @dg.sensor(
        name="privacy_budget_alert",
        minimum_interval_seconds=300,
        default_status=default_status(dg.DefaultSensorStatus),
        description=f"Alerts when a dataset has less than {alerts.LOW_BUDGET_SHARE:.0%} of its epsilon "
        "budget left (ledger observation + SYNTH_ALERT_WEBHOOK_URL).",
    )
    def privacy_budget_alert(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        alerted: dict = json.loads(context.cursor) if context.cursor else {}
        events, lines, states = [], [], {}
        for spec, unit in budgeted:
            spent, remaining, share, state = _budget_status(warehouse, spec)
            alert = alerts.budget_low(
                spec.name, spent, remaining, share, spec.privacy.epsilon_budget, unit=unit
            )
            if alert is None:
                continue
            states[spec.name] = state
            if alerted.get(spec.name) == state:  # already alerted for this spend
                lines.append(f"'{spec.name}': {share:.0%} left (already alerted)")
                continue
            lines.append(_record(context.log, alert))
            events.append(
                dg.AssetObservation(
                    asset_key=LEDGER_KEY,
                    description=alert.message,
                    metadata={
                        "alert": "budget_low",
                        "dataset": spec.name,
                        "remaining_share": dg.MetadataValue.float(float(share)),
                        "epsilon_remaining": dg.MetadataValue.float(float(remaining)),
                        **({} if unit == alerts.DATASET else {"unit": unit}),
                    },
                )
            )
        everyone = "dataset and schema" if schemas else "dataset"
        message = (
            " | ".join(lines) if lines else f"Every budgeted {everyone} has at least 20 % of its budget left."
        )
        return dg.SensorResult(skip_reason=message, asset_events=events, cursor=json.dumps(states))

    return privacy_budget_alert


def stale_release_alert_sensor(specs: list[DatasetSpec], max_age=None, schemas=None) -> dg.SensorDefinition:
    """`schemas`: `SchemaSpec`s whose `<schema>/release` is watched like a dataset's release."""
    watched = _units(specs, schemas)

    @dg.sensor(
        name="stale_release_alert",
        minimum_interval_seconds=600,
        default_status=default_status(dg.DefaultSensorStatus),
        description="Alerts when a release is older than its freshness window (SYNTH_RELEASE_MAX_AGE_HOURS, "
        "default 26 h).",
    )
    def stale_release_alert(context: dg.SensorEvaluationContext):
        window = max_age if max_age is not None else alerts.release_max_age()
        alerted: dict = json.loads(context.cursor) if context.cursor else {}
        now = datetime.now(UTC)
        events, lines = [], []
        for spec, unit in watched:
            key = release_key(spec)
            event = context.instance.get_latest_materialization_event(key)
            last = datetime.fromtimestamp(event.timestamp, UTC) if event else None
            alert = alerts.stale_release(spec.name, key.to_user_string(), last, now, window, unit=unit)
            if alert is None:
                continue
            if alerted.get(spec.name) == event.timestamp:
                lines.append(f"'{key.to_user_string()}' still stale (already alerted)")
                continue
            alerted[spec.name] = event.timestamp
            lines.append(_record(context.log, alert))
            events.append(
                dg.AssetObservation(
                    asset_key=key, description=alert.message, metadata={"alert": "stale_release"}
                )
            )
        message = " | ".join(lines) if lines else "Every release is within its freshness window."
        return dg.SensorResult(skip_reason=message, asset_events=events, cursor=json.dumps(alerted))

    return stale_release_alert


def build_alerts(specs: list[DatasetSpec], schemas=None) -> tuple[list, list]:
    """(asset checks, sensors) of the operator alerts. No check: a release's freshness is its policy.
    `schemas` (`SchemaSpec`s) get the budget and stale-release alerts of the same two sensors."""
    sensors = [
        run_failure_alert_sensor(),
        budget_alert_sensor(specs, schemas),
        stale_release_alert_sensor(specs, schemas=schemas),
    ]
    return [], sensors


def quarantine_if_schema_differs(path, spec: DatasetSpec, storage, log) -> str | None:
    """For a landing sensor: a file whose header differs from the spec is quarantined, not run.

    Returns the sentence for the sensor's evaluation (and sends the alert), or None when the
    header matches and the file should run.
    """
    from synth_platform.lib.storage import ingest

    reason = alerts.schema_mismatch(path, spec)
    if reason is None:
        return None
    landing_dir = storage.landing_dir(spec.source.landing_dir)
    moved = ingest.quarantine(path, storage.quarantine_dir(spec.name), reason, landing_dir)
    alert = alerts.landing_quarantined(spec.name, path.name, reason, str(moved))
    return _record(log, alert)
