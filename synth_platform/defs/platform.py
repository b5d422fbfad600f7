"""What spans datasets: the ledger, the nightly refresh, the lease, budget and alert sensors, resources.

Functions only, no module-level definitions: `definitions.py` calls them once, with the specs of
the loaded `GovernedDataset` instances, so the autoloaded `defs/` folder registers nothing twice.
The refresh job selects the governed chains by their tag (`synth/chain: governed_dataset`, set by
the component) and the dbt models downstream of the releases; the nightly schedule and the budget
and stale-release sensors need each dataset's landing folder, budget or release key, so they take
the datasets' specs.
"""

from __future__ import annotations

import os

import dagster as dg

from synth_platform.components.governed_dataset import CHAIN_TAG, CHAIN_TAG_VALUE
from synth_platform.defs import alerts, automation, catalog
from synth_platform.defs.chain import LEDGER_KEY
from synth_platform.defs.resources import (
    PseudonymKeyResource,
    StorageResource,
    SynthesizerFactory,
    WarehouseResource,
)
from synth_platform.defs.schema_chain import automation as schema_automation
from synth_platform.lib.spec import DatasetSpec


def ledger_spec() -> dg.AssetSpec:
    """`governance/ledger`: written by every chain, materialised by none (an external asset)."""
    return dg.AssetSpec(
        LEDGER_KEY,
        description="governance.ledger: append-only, hash-chained privacy-budget ledger. One row per "
        "synthesizer fit (epsilon spent) and per release decision (released / blocked).",
        group_name="governance",
        kinds={"duckdb"},
        **catalog.ledger_attributes(),
    )


def governed_chains() -> dg.AssetSelection:
    """Every governed dataset's chain (by tag) and everything downstream of it (the dbt models)."""
    chains = dg.AssetSelection.tag(CHAIN_TAG, CHAIN_TAG_VALUE)
    return chains | chains.downstream() | dg.AssetSelection.groups("analytics")


def refresh_all_job():
    return dg.define_asset_job(
        automation.REFRESH_ALL_JOB, selection=governed_chains(), description="Refresh every dataset."
    )


def platform_definitions(specs: list[DatasetSpec], schemas: list | None = None) -> dg.Definitions:
    """The ledger, the refresh job and its nightly schedule, and the sensors spanning datasets.

    `schemas` (the loaded `GovernedSchema` specs): their own refresh job and nightly schedule next
    to the datasets' (defs.schema_chain.automation), and the same budget and stale-release alerts.
    """
    refresh = refresh_all_job()
    _, alert_sensors = alerts.build_alerts(specs, schemas or [])
    jobs, schedules = [refresh], [automation.nightly_schedule(refresh, specs)]
    if schemas:  # an asset job must select something: no schema, no schema refresh
        refresh_schemas = schema_automation.refresh_all_schemas_job()
        jobs.append(refresh_schemas)
        schedules.append(schema_automation.nightly_schema_schedule(refresh_schemas, schemas))
    return dg.Definitions(
        assets=[ledger_spec()],
        jobs=jobs,
        schedules=schedules,
        sensors=[automation.lease_release_sensor(), *alert_sensors],
    )


def pseudonym_key_resource(warehouse_path: str = "") -> PseudonymKeyResource:
    """SYNTH_PSEUDONYM_KEY if set; else the key file outside the checkout (storage.secrets), generated only
    while the warehouse has no ledger (lib.storage.platform_key)."""
    if os.environ.get("SYNTH_PSEUDONYM_KEY"):
        return PseudonymKeyResource(key=dg.EnvVar("SYNTH_PSEUDONYM_KEY"), warehouse_path=warehouse_path)
    return PseudonymKeyResource(warehouse_path=warehouse_path)


def platform_resources(settings, synthesizers: SynthesizerFactory | None = None) -> dict:
    """The resources every chain uses, placed by `settings` (synth_platform.settings.Settings)."""
    from synth_platform.defs.analytics import dbt_resource

    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "storage": StorageResource(root=str(settings.root), specs_dir=str(settings.specs_dir)),
        "pseudonym_key": pseudonym_key_resource(str(settings.warehouse_path)),
        "synthesizers": synthesizers or SynthesizerFactory(),
        "dbt": dbt_resource(),
    }
