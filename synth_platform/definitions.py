"""The Dagster code location: one governed chain per dataset spec, plus dbt and automation."""

from __future__ import annotations

import os

import dagster as dg

from synth_platform.defs import alerts, automation, catalog
from synth_platform.defs.analytics import analytics_dbt_assets, dbt_resource
from synth_platform.defs.chain import LEDGER_KEY, build_dataset_assets
from synth_platform.defs.resources import (
    PseudonymKeyResource,
    StorageResource,
    SynthesizerFactory,
    WarehouseResource,
)
from synth_platform.lib.spec import load_specs
from synth_platform.lib.storage.private_files import restrict_process_umask
from synth_platform.settings import Settings

LEDGER_SPEC = dg.AssetSpec(
    LEDGER_KEY,
    description="governance.ledger: append-only, hash-chained privacy-budget ledger. One row per "
    "synthesizer fit (epsilon spent) and per release decision (released / blocked).",
    group_name="governance",
    kinds={"duckdb"},
    **catalog.ledger_attributes(),
)


def pseudonym_key_resource(warehouse_path: str = "") -> PseudonymKeyResource:
    """SYNTH_PSEUDONYM_KEY if set; else the key file outside the checkout (storage.secrets), generated only
    while the warehouse has no ledger (lib.storage.platform_key)."""
    if os.environ.get("SYNTH_PSEUDONYM_KEY"):
        return PseudonymKeyResource(key=dg.EnvVar("SYNTH_PSEUDONYM_KEY"), warehouse_path=warehouse_path)
    return PseudonymKeyResource(warehouse_path=warehouse_path)


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
        schedules=[automation.nightly_schedule(refresh, specs)],
        sensors=[*sensors, automation.lease_release_sensor(), *alert_sensors],
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
            "storage": StorageResource(root=str(settings.root), specs_dir=str(settings.specs_dir)),
            "pseudonym_key": pseudonym_key_resource(str(settings.warehouse_path)),
            "synthesizers": synthesizers or SynthesizerFactory(),
            "dbt": dbt_resource(),
        },
    )


# Where the platform runs (code server, run workers): whatever any step, DuckDB, dbt or Dagster
# creates is owner-only, a second layer under the explicit modes of lib/storage/private_files.py.
restrict_process_umask()
defs = build_definitions()
