"""The dbt project (`dbt_project/`) as Dagster assets: analytics over released tables and the ledger.

dbt reads the released synthetic tables (`release.<dataset>`, the `<dataset>/release` assets)
and the privacy ledger (`governance.ledger`), and writes views and tables in the `analytics`
schema of the same DuckDB file. DuckDB admits one process per file, so dbt runs with
`threads: 1`, in the `duckdb_warehouse` pool, and while this process holds the warehouse lock.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from synth_platform.defs import catalog
from synth_platform.defs.chain.common import LEDGER_KEY, POOL
from synth_platform.defs.resources import WarehouseResource
from synth_platform.lib.storage import published_refresh, zones
from synth_platform.lib.storage.private_files import private_umask

GROUP = "analytics"
RELEASE_SOURCE = "release"
#: dbt models of released related-table schemas (models/schemas/<schema>/): built by their own
#: multi-asset per schema (defs/analytics_schemas.py), downstream of `<schema>/release` only.
SCHEMA_MODELS = "path:models/schemas"
DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

#: Files whose change makes a parsed manifest stale.
_PROJECT_FILE_PATTERNS = ("dbt_project.yml", "profiles.yml", "models/**/*.sql", "models/**/*.yml")


def _dbt_executable() -> str:
    """The `dbt` of this interpreter's environment, so an unactivated venv still finds it."""
    local = Path(sys.executable).with_name("dbt")
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def _manifest_is_stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(
        path.stat().st_mtime > built
        for pattern in _PROJECT_FILE_PATTERNS
        for path in DBT_PROJECT_DIR.glob(pattern)
    )


def ensure_manifest(project: DbtProject = DBT_PROJECT) -> Path:
    """The project's `manifest.json`, (re)generated with `dbt parse` when missing or older than the models.

    Parsing needs neither the DuckDB file nor the network (the project has no dbt packages).
    A file lock keeps concurrently starting processes from parsing over each other: the lock file
    of dagster-dbt's own guard (`<manifest>.concurrent-update-lock`, an flock like this one), so
    `dagster-dbt project prepare-and-package` and this never parse at the same time either.

    Not `DBT_PROJECT.prepare_if_dev()`: it parses only under `dagster dev` / `dg dev`, so a fresh
    clone loaded any other way (pytest, `dagster definitions validate`, a code server, the daemon)
    has no manifest and the code location fails to load; and it runs `dbt` from the PATH, which
    `make dev` (`.venv/bin/dagster dev`, venv not activated) does not have.
    """
    manifest = Path(project.manifest_path)
    if not _manifest_is_stale(manifest):
        return manifest
    target = manifest.parent
    target.mkdir(parents=True, exist_ok=True)
    with open(manifest.with_suffix(".concurrent-update-lock"), "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            if _manifest_is_stale(manifest):
                _dbt_parse(project, target)
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return manifest


def zone_target_path(published: Path) -> Path:
    """dbt's target folder for one published zone (relative to the project), kept between runs.

    dbt re-parses the whole project unless the previous parse's state (`partial_parse.msgpack`)
    sits in its target folder AND was made with the same profile -- and the profile names the
    zone's file. dagster-dbt's default is a fresh folder per invocation, seeded with the state of
    `dbt parse` at load time (made without a zone, so never the same profile): every build paid a
    full parse. One folder per zone keeps the state of the zone's previous build, so from the
    second build on dbt parses only what changed. Builds of one zone never overlap (they run under
    the warehouse lock), and the folder no longer grows by one per run."""
    digest = hashlib.sha256(str(Path(published).resolve()).encode()).hexdigest()[:12]
    return Path(project_target_dir()) / f"zone-{digest}"


def project_target_dir() -> str:
    """The project's target folder as dbt_project.yml names it (relative to the project)."""
    return Path(DBT_PROJECT.manifest_path).parent.relative_to(DBT_PROJECT_DIR).as_posix()


def _dbt_parse(project: DbtProject, target: Path) -> None:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    command = [
        _dbt_executable(),
        "parse",
        "--quiet",
        "--project-dir",
        str(project.project_dir),
        "--profiles-dir",
        str(project.profiles_dir),
        "--target-path",
        str(target),
    ]
    try:
        result = subprocess.run(
            command, cwd=project.project_dir, env=env, capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        result = None
        detail = str(error)
    else:
        detail = (result.stdout + result.stderr)[-4000:]
    if result is None or result.returncode != 0:
        if Path(project.manifest_path).exists():
            # Keep the previous manifest (e.g. a read-only deployment); dbt build will show the error.
            warnings.warn(f"`dbt parse` failed, using the existing manifest:\n{detail}", stacklevel=2)
            return
        raise RuntimeError(f"`dbt parse` failed in {project.project_dir}:\n{detail}")


def declared_source_key(dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey | None:
    """A source's `meta.dagster.asset_key` (dagster-dbt's convention), else None.

    A released schema publishes one table per schema table from ONE asset (`<schema>/release`),
    so its sources declare that key instead of following `release.<table>` -> `<table>/release`."""
    if dbt_resource_props.get("resource_type") != "source":
        return None
    meta = (dbt_resource_props.get("config") or {}).get("meta") or dbt_resource_props.get("meta") or {}
    key = (meta.get("dagster") or {}).get("asset_key")
    return dg.AssetKey(list(key)) if key else None


def schema_release_keys(manifest: Mapping[str, Any]) -> list[dg.AssetKey]:
    """The release assets of the released schemas the project's sources name (`<schema>/release`),
    once each: the ledger summary depends on them too, since a schema's release writes the ledger."""
    keys: list[dg.AssetKey] = []
    for props in manifest.get("sources", {}).values():
        key = declared_source_key(props)
        if key is not None and key.path[-1] == RELEASE_SOURCE and key not in keys:
            keys.append(key)
    return keys


class AnalyticsDbtTranslator(DagsterDbtTranslator):
    """Keys dbt nodes to the platform's assets.

    - source `release.<table>`      -> `<table>/release` (the dataset's release asset)
    - source `<schema>.<table>`     -> `<schema>/<table>`, e.g. `governance/ledger`
    - a source with `meta: {dagster: {asset_key: [...]}}` -> that key: every table of a released
      schema `<schema>` maps to `<schema>/release` (dbt_project/models/schemas/<schema>/sources.yml)
    - model `<name>`                -> `analytics/<name>`, in the group `analytics`

    The ledger is appended to by every dataset's release asset in the same transaction that
    publishes the table, so a model reading the ledger also depends on every release source:
    releasing a dataset then refreshes the ledger summary too (e.g. in the dataset's job).
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        declared = declared_source_key(dbt_resource_props)
        if declared is not None:
            return declared
        if dbt_resource_props["resource_type"] == "source":
            source, table = dbt_resource_props["source_name"], dbt_resource_props["name"]
            return dg.AssetKey([table, RELEASE_SOURCE] if source == RELEASE_SOURCE else [source, table])
        return dg.AssetKey([GROUP, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return None if dbt_resource_props["resource_type"] == "source" else GROUP

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        """The models span datasets: the platform team owns them (defs.catalog)."""
        return [catalog.PLATFORM_OWNER]

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        """dbt's own tags, plus `zone: published`: dbt reads and writes only the published zone."""
        return {**super().get_tags(dbt_resource_props), catalog.ZONE_TAG: catalog.PUBLISHED}

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("source.") or LEDGER_KEY not in {dep.asset_key for dep in spec.deps}:
            return spec
        have = {dep.asset_key for dep in spec.deps}
        releases = [
            self.get_asset_key(props)
            for props in manifest.get("sources", {}).values()
            if props.get("source_name") == RELEASE_SOURCE
        ]
        releases += [key for key in schema_release_keys(manifest) if key not in releases]
        extra = [key for key in releases if key not in have]
        return spec.merge_attributes(deps=extra) if extra else spec


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables for the body (dbt's subprocess inherits os.environ), then restore them."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dbt_assets(
    manifest=ensure_manifest(),
    project=DBT_PROJECT,
    exclude=SCHEMA_MODELS,
    # code references: each model links to its .sql file in the UI
    dagster_dbt_translator=AnalyticsDbtTranslator(DagsterDbtTranslatorSettings(enable_code_references=True)),
    pool=POOL,
)
def analytics_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """`dbt build` (models and their tests) on the published zone, refreshed under the warehouse lock.

    dbt never opens the warehouse (which holds raw identifiers): it reads and writes the
    published zone, a separate DuckDB file holding only released tables and the ledger.
    """
    db_path = warehouse.db_path.resolve()
    published = zones.published_path(db_path)
    with warehouse.lock():
        # only the released tables that changed are copied (lib.storage.published_refresh)
        tables, copied = published_refresh.refresh_changed(db_path, published)
        context.log.info(
            f"dbt build on the published zone {published} ({len(tables)} tables published, "
            f"{len(copied)} copied: {', '.join(copied) or 'none changed'})"
        )
        # dbt writes the zone's file (and its .wal) itself: its process inherits an owner-only umask.
        with _environ(SYNTH_PUBLISHED_PATH=str(published)), private_umask():
            yield from dbt.cli(["build"], context=context, target_path=zone_target_path(published)).stream()


def dbt_resource() -> DbtCliResource:
    """dagster-dbt's CLI resource, minus its `dbt --version` and unused adapter (defs/dbt_cli.py)."""
    from synth_platform.defs.dbt_cli import PlatformDbtCliResource

    return PlatformDbtCliResource(project_dir=DBT_PROJECT, dbt_executable=_dbt_executable())
