"""dbt over released related-table schemas: one multi-asset per schema, downstream of its release only.

A schema's models live in `dbt_project/models/schemas/<schema>/`: sources for its released tables
(`release.<schema>__<table>`, all mapped to the one asset `<schema>/release`), a staging model per
table with `relationships:` tests on every foreign key, and marts joining across tables. They are
NOT part of `analytics_dbt_assets` (which excludes `models/schemas`): each schema gets its own
`@dbt_assets`, so a dataset's chain (`<dataset>/release` and downstream) never selects them and
never fails on a schema that has not been released yet; the schema's job selects them as what is
downstream of `<schema>/release`. Same translator (keys `analytics/<model>`, group `analytics`,
platform owner, published zone), same pool, same warehouse lock and published-zone refresh.

When the zone does not hold every released table of the schema (a run selecting every dbt model
before the schema was ever released), the step logs which are missing and materialises nothing:
there is nothing to analyse yet, and an error there would fail runs that are about other data.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from synth_platform.defs import analytics
from synth_platform.defs.chain.common import POOL
from synth_platform.defs.resources import WarehouseResource
from synth_platform.lib.storage import published_refresh, zones
from synth_platform.lib.storage.private_files import private_umask

#: Where each released schema's dbt models live, one folder per schema.
SCHEMAS_DIR = analytics.DBT_PROJECT_DIR / "models" / "schemas"


def schema_names(folder: Path = SCHEMAS_DIR) -> list[str]:
    """The schemas that have dbt models: the folders of `models/schemas/` (sorted)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def schema_selection(schema: str) -> str:
    """dbt's selector of one schema's models (and, through them, their tests)."""
    return f"{analytics.SCHEMA_MODELS}/{schema}"


def released_tables(manifest: Mapping[str, Any], schema: str) -> list[str]:
    """`release.<table>` of every source the manifest maps to `<schema>/release` (sorted)."""
    key = dg.AssetKey([schema, analytics.RELEASE_SOURCE])
    return sorted(
        f"{props['schema']}.{props.get('identifier') or props['name']}"
        for props in manifest.get("sources", {}).values()
        if analytics.declared_source_key(props) == key
    )


def schema_dbt_assets(schema: str) -> dg.AssetsDefinition:
    """`dbt build` of one schema's models and tests on the published zone (see the module doc)."""
    manifest_path = analytics.ensure_manifest()
    tables = released_tables(json.loads(Path(manifest_path).read_text()), schema)
    translator = analytics.AnalyticsDbtTranslator(
        # every table of the schema is one source mapped to the one release asset
        DagsterDbtTranslatorSettings(enable_code_references=True, enable_duplicate_source_asset_keys=True)
    )

    @dbt_assets(
        manifest=manifest_path,
        project=analytics.DBT_PROJECT,
        select=schema_selection(schema),
        name=f"{schema}_dbt_assets",
        dagster_dbt_translator=translator,
        pool=POOL,
    )
    def _schema_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        db_path = warehouse.db_path.resolve()
        published = zones.published_path(db_path)
        with warehouse.lock():
            present, copied = published_refresh.refresh_changed(db_path, published)
            missing = [table for table in tables if table not in set(present)]
            if missing:
                context.log.warning(
                    f"Schema '{schema}' is not released in the published zone (missing: "
                    f"{', '.join(missing)}): its dbt models are not built."
                )
                return
            context.log.info(
                f"dbt build of schema '{schema}' on the published zone {published} "
                f"({len(copied)} tables copied: {', '.join(copied) or 'none changed'})"
            )
            with analytics._environ(SYNTH_PUBLISHED_PATH=str(published)), private_umask():
                target = analytics.zone_target_path(published)
                yield from dbt.cli(["build"], context=context, target_path=target).stream()

    return _schema_models


#: Autoloaded: one multi-asset per schema folder under dbt_project/models/schemas/.
schema_dbt_asset_defs = [schema_dbt_assets(schema) for schema in schema_names()]
