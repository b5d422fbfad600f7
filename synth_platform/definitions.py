"""The Dagster code location: one governed chain per dataset spec, plus dbt and automation."""

from __future__ import annotations

import os

import dagster as dg

from synth_platform.defs import alerts, automation
from synth_platform.defs.analytics import analytics_dbt_assets, dbt_resource
from synth_platform.defs.chain import LEDGER_KEY, build_dataset_assets
from synth_platform.defs.resources import (
    PseudonymKeyResource,
    StorageResource,
    SynthesizerFactory,
    WarehouseResource,
)
from synth_platform.lib.spec import load_specs
from synth_platform.settings import Settings

LEDGER_SPEC = dg.AssetSpec(
    LEDGER_KEY,
    description="governance.ledger: append-only, hash-chained privacy-budget ledger. One row per "
    "synthesizer fit (epsilon spent) and per release decision (released / blocked).",
    group_name="governance",
    kinds={"duckdb"},
)


def pseudonym_key_resource() -> PseudonymKeyResource:
    """SYNTH_PSEUDONYM_KEY if set; else a key generated once under $DAGSTER_HOME/secrets (lib.secrets)."""
    if os.environ.get("SYNTH_PSEUDONYM_KEY"):
        return PseudonymKeyResource(key=dg.EnvVar("SYNTH_PSEUDONYM_KEY"))
    return PseudonymKeyResource()


def build_definitions(settings: Settings | None = None, synthesizers: SynthesizerFactory | None = None):
    settings = settings or Settings.from_env()
    specs = load_specs(settings.specs_dir)
    assets: list = [LEDGER_SPEC, analytics_dbt_assets]
    jobs, sensors = [], []
    for spec in specs:
        assets.extend(build_dataset_assets(spec))
        job = automation.chain_job(spec)
        jobs.append(job)
        sensors.append(automation.landing_sensor(spec, job))
    refresh = automation.refresh_all_job(specs)
    alert_checks, alert_sensors = alerts.build_alerts(specs)
    return dg.Definitions(
        assets=[a for a in assets if not isinstance(a, dg.AssetChecksDefinition)],
        asset_checks=[a for a in assets if isinstance(a, dg.AssetChecksDefinition)] + alert_checks,
        jobs=[*jobs, refresh],
        schedules=[automation.nightly_schedule(refresh)],
        sensors=sensors + alert_sensors,
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
            "storage": StorageResource(root=str(settings.root), specs_dir=str(settings.specs_dir)),
            "pseudonym_key": pseudonym_key_resource(),
            "synthesizers": synthesizers or SynthesizerFactory(),
            "dbt": dbt_resource(),
        },
    )


defs = build_definitions()
