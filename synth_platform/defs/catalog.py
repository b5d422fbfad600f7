"""What the asset catalog shows of every asset: owners, tags, table names, freshness, code.

One place decides, per stage of a dataset's chain, what a user filters and reads in the UI:

- **owners**: the dataset's data owner (the spec's `owner`), else the platform team
  (`PLATFORM_OWNER`); the assets that span datasets (the ledger, the dbt models) are the
  platform team's.
- **tags**: `pii` on every asset that holds real people's data, or something that may reproduce
  it without a formal guarantee (`holds_real_data`); `zone` is `governed` (the warehouse, which
  holds raw identifiers) or `published` (what leaves the governed side: the releases and the dbt
  models over the published zone, lib.storage.zones). A tag names a class, never a value.
- **`dagster/table_name`**: `<schema>.<table>` in the DuckDB warehouse for every table asset
  (the model file of `synthesizer` is not a table). dbt's models get theirs from dagster-dbt.
- **freshness**: a `FreshnessPolicy` on every release: it fails once the release is older than
  `SYNTH_RELEASE_MAX_AGE_HOURS` (default 26 h: the nightly refresh plus slack). The daemon
  evaluates it (`freshness: enabled` in config/dagster.yaml); the UI shows the state.
- **code references**: each asset links to the stage function that computes it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from synth_platform.lib.governance import alerts
from synth_platform.lib.spec import DatasetSpec

#: Owner of the platform-wide assets, and of a dataset whose spec names no `owner`.
PLATFORM_OWNER = "team:data-platform"
PII_TAG = "pii"
ZONE_TAG = "zone"
GOVERNED, PUBLISHED = "governed", "published"
TABLE_NAME = "dagster/table_name"
#: The governed ledger (governance.ledger in the warehouse; the published zone has a reduced copy).
LEDGER_TABLE = "governance.ledger"
#: The shortest fail window Dagster accepts for a freshness policy.
MIN_FAIL_WINDOW = timedelta(minutes=1)

#: Per stage: (warehouse schema, table name pattern) of the table it writes; None for no table.
STAGE_TABLES: dict[str, tuple[str, str] | None] = {
    "raw": ("raw", "{ds}"),
    "pii_report": ("governance", "pii_{ds}"),
    "masked": ("masked", "{ds}"),
    "train": ("masked", "{ds}_train"),
    "holdout": ("masked", "{ds}_holdout"),
    "synthesizer": None,
    "synthetic": ("synthetic", "{ds}"),
    "release": ("release", "{ds}"),
}


def dataset_owners(spec: DatasetSpec) -> list[str]:
    """The owners shown on every asset of the dataset: its data owner, else the platform team."""
    return [spec.owner or PLATFORM_OWNER]


def holds_real_data(spec: DatasetSpec, stage: str) -> bool:
    """Whether a stage's output holds real people's data, and so carries the `pii` tag.

    raw, masked, train and holdout are real rows (masked ones pseudonymised, which is still personal
    data). pii_report holds column classes and counts, no cell value. A differentially private
    model and its samples are DP outputs; a non-private model (ctgan, tvae, gaussian_copula) may
    memorise training rows, so it and its samples count as real data until the gate has judged them.
    A release passed the gate and is published: never tagged.
    """
    if stage in ("raw", "masked", "train", "holdout"):
        return True
    if stage in ("synthesizer", "synthetic"):
        return not spec.synthesizer.differentially_private
    return False


def stage_zone(stage: str) -> str:
    return PUBLISHED if stage == "release" else GOVERNED


def table_name(spec: DatasetSpec, stage: str) -> str | None:
    """`<schema>.<table>` of the warehouse table a stage writes, or None (the model file)."""
    found = STAGE_TABLES.get(stage)
    return None if found is None else f"{found[0]}.{found[1].format(ds=spec.name)}"


def release_freshness_policy() -> dg.FreshnessPolicy:
    """Fail once a release is older than the allowed age (SYNTH_RELEASE_MAX_AGE_HOURS, default 26 h).

    The same age the `stale_release_alert` sensor alerts on, so the UI's freshness state and the
    webhook alert agree. Dagster refuses a window under a minute (the code location would not load),
    so a smaller setting counts as one minute here.
    """
    return dg.FreshnessPolicy.time_window(fail_window=max(alerts.release_max_age(), MIN_FAIL_WINDOW))


def _stage_spec(spec: DatasetSpec, asset_spec: dg.AssetSpec) -> dg.AssetSpec:
    """One chain asset with the dataset's owners, its tags, its table name and (release) freshness."""
    stage = asset_spec.key.path[-1]
    tags = {**asset_spec.tags, ZONE_TAG: stage_zone(stage)}
    if holds_real_data(spec, stage):
        tags[PII_TAG] = ""
    metadata = dict(asset_spec.metadata)
    name = table_name(spec, stage)
    if name is not None:
        metadata[TABLE_NAME] = name
    freshness = release_freshness_policy() if stage == "release" else asset_spec.freshness_policy
    return asset_spec.replace_attributes(
        owners=dataset_owners(spec), tags=tags, metadata=metadata, freshness_policy=freshness
    )


def with_code_references(assets: Sequence) -> list:
    """`dg.with_source_code_references` (beta in Dagster 1.13; its warning is silenced here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        return list(dg.with_source_code_references(assets))


def catalogued_dataset_assets(spec: DatasetSpec, definitions: Sequence) -> list:
    """A dataset's chain with its catalog attributes and code references; checks pass through."""
    assets = [d for d in definitions if not isinstance(d, dg.AssetChecksDefinition)]
    mapped = with_code_references(dg.map_asset_specs(lambda s: _stage_spec(spec, s), assets))
    by_id = {id(a): m for a, m in zip(assets, mapped, strict=True)}
    return [by_id.get(id(d), d) for d in definitions]


def ledger_attributes() -> dict:
    """Owners, tags and table name of `governance/ledger` (an AssetSpec, written by the chains)."""
    return {
        "owners": [PLATFORM_OWNER],
        "tags": {ZONE_TAG: GOVERNED},
        "metadata": {TABLE_NAME: LEDGER_TABLE},
    }


#: A schema's stages that hold real people's rows (pseudonymised ones included): tagged `pii`.
SCHEMA_REAL_DATA_STAGES = ("raw", "masked", "train", "holdout")


def _schema_stage_spec(asset_spec: dg.AssetSpec) -> dg.AssetSpec:
    """One asset of a schema's chain with the platform owner and its `zone` / `pii` tags.

    The relational synthesizer is differentially private, so its model and samples are DP outputs
    (no `pii`); the release is published. A stage writes one table per schema table, so there is no
    single `dagster/table_name`.
    """
    stage = asset_spec.key.path[-1]
    tags = {**asset_spec.tags, ZONE_TAG: stage_zone(stage)}
    if stage in SCHEMA_REAL_DATA_STAGES:
        tags[PII_TAG] = ""
    freshness = release_freshness_policy() if stage == "release" else asset_spec.freshness_policy
    return asset_spec.replace_attributes(owners=[PLATFORM_OWNER], tags=tags, freshness_policy=freshness)


def catalogued_schema_assets(definitions: Sequence) -> list:
    """A schema's chain with its catalog attributes and code references; checks pass through."""
    assets = [d for d in definitions if not isinstance(d, dg.AssetChecksDefinition)]
    mapped = with_code_references(dg.map_asset_specs(_schema_stage_spec, assets))
    by_id = {id(a): m for a, m in zip(assets, mapped, strict=True)}
    return [by_id.get(id(d), d) for d in definitions]
