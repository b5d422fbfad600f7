"""dbt over a released related-table schema: real dbt, real DuckDB, a real private sample.

The released tables `release.bank_demo__<table>` are a RelationalSynthesizer sample of the demo
schema (small, a generous epsilon and few iterations, so it stays cheap), written into a temporary
warehouse the way the schema's release publishes them. dbt builds the schema's staging models,
its mart and their tests on the published zone: every `relationships:` test passes. An orphan
planted in the release makes its relationships test fail. And the schema's models sit outside
the single-table chain: they run downstream of `bank_demo/release` only, and a run that selects
them before the schema was released builds nothing instead of failing.
"""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from synth_platform.defs import analytics, analytics_schemas
from synth_platform.defs.resources import WarehouseResource
from synth_platform.lib.relational.demo_schema import demo_schema_spec, demo_tables, load_tables
from synth_platform.lib.relational.pseudonyms import pseudonymise
from synth_platform.lib.relational.synthesizer import RelationalSynthesizer
from synth_platform.lib.storage import warehouse, zones

pytestmark = pytest.mark.integration

SCHEMA = "bank_demo"
RELEASE = dg.AssetKey([SCHEMA, "release"])
SECRET = b"schema-dbt-test-key"


def _assets() -> dg.AssetsDefinition:
    (assets,) = [
        a for a in analytics_schemas.schema_dbt_asset_defs if a.node_def.name == f"{SCHEMA}_dbt_assets"
    ]
    return assets


def _sample() -> dict[str, pd.DataFrame]:
    """A private synthetic sample of the demo schema (fitted on pseudonymised generated tables)."""
    spec = demo_schema_spec()
    con = duckdb.connect()
    try:
        raw = load_tables(con, demo_tables(people=200, seed=7), "raw")
        masked = pseudonymise(con, spec, raw, SECRET, "masked")
        synthesizer = RelationalSynthesizer(spec, epsilon=40.0, iters=10).fit(con, masked, scratch="fit")
        return synthesizer.sample(seed=5)
    finally:
        con.close()


def _build(db_path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [_assets()],
        resources={"dbt": analytics.dbt_resource(), "warehouse": WarehouseResource(path=str(db_path))},
        raise_on_error=False,
    )


def _checks(result) -> dict[str, bool]:
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}


def _relationships(checks: dict[str, bool]) -> dict[str, bool]:
    return {name: passed for name, passed in checks.items() if name.startswith("relationships_")}


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A warehouse holding the released schema (as `release.bank_demo__<table>`) and its sample."""
    db_path = tmp_path_factory.mktemp("schema_dbt") / "warehouse.duckdb"
    sample = _sample()
    with warehouse.connect(db_path) as con:
        load_tables(con, {f"{SCHEMA}__{t}": frame for t, frame in sample.items()}, "release")
    return db_path, sample


@pytest.fixture(scope="module")
def built(released):
    db_path, sample = released
    return db_path, sample, _build(db_path)


def test_the_schema_models_hang_off_the_schema_release_only():
    assets = _assets()
    keys = {k.to_user_string() for k in assets.keys}
    staging = {f"analytics/stg_{SCHEMA}__{t}" for t in demo_schema_spec().tables}
    assert keys == staging | {f"analytics/{SCHEMA}_activity_by_region_segment"}
    deps = {k.to_user_string(): {d.to_user_string() for d in v} for k, v in assets.asset_deps.items()}
    assert all(deps[k] == {f"{SCHEMA}/release"} for k in staging), deps
    assert deps[f"analytics/{SCHEMA}_activity_by_region_segment"] == staging
    # not in the single-table models' multi-asset; the ledger summary follows the schema's release too
    assert not keys & {k.to_user_string() for k in analytics.analytics_dbt_assets.keys}
    ledger_summary = dg.AssetKey(["analytics", "privacy_ledger_summary"])
    assert RELEASE in analytics.analytics_dbt_assets.asset_deps[ledger_summary]
    resources = {"dbt": analytics.dbt_resource(), "warehouse": WarehouseResource(path="unused.duckdb")}
    graph = dg.Definitions(
        assets=[analytics.analytics_dbt_assets, assets], resources=resources
    ).resolve_asset_graph()
    dataset_downstream = dg.AssetSelection.assets(["adult_customers", "release"]).downstream().resolve(graph)
    schema_downstream = dg.AssetSelection.assets(RELEASE).downstream().resolve(graph)
    assert not {k.to_user_string() for k in dataset_downstream} & keys
    assert {k.to_user_string() for k in schema_downstream} == keys | {
        f"{SCHEMA}/release",
        "analytics/privacy_ledger_summary",
    }


def test_every_relationships_test_passes_on_the_released_schema(built):
    _, _, result = built
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    checks = _checks(result)
    relationships = _relationships(checks)
    # one per foreign key of the spec
    assert len(relationships) == len(demo_schema_spec().foreign_keys), sorted(relationships)
    assert all(relationships.values()) and all(checks.values()), [n for n, ok in checks.items() if not ok]
    assert {n for n in checks if n.startswith("unique_stg_")} >= {
        f"unique_stg_{SCHEMA}__people_person_id",
        f"unique_stg_{SCHEMA}__accounts_account_id",
        f"unique_stg_{SCHEMA}__transactions_txn_id",
    }


def test_the_mart_joins_across_the_tables(built):
    db_path, sample, _ = built
    published = zones.published_path(db_path)
    con = duckdb.connect(str(published), read_only=True)
    try:
        mart = con.execute(f"SELECT * FROM analytics.{SCHEMA}_activity_by_region_segment").df()
        people_columns = set(
            con.execute(f"SELECT * FROM analytics.stg_{SCHEMA}__people LIMIT 0").df().columns
        )
    finally:
        con.close()
    people, link, txns = sample["people"], sample["people_accounts"], sample["transactions"]
    assert mart["people"].sum() == len(people)  # every person once
    assert mart["holdings"].sum() == len(link)  # every link row once
    # every transaction once per holder of its account, through the link table
    assert mart["holder_transactions"].sum() == len(txns.merge(link, on="account_id"))
    assert set(mart["segment"]) <= {"retail", "premium", "business"}
    assert "full_name" not in people_columns  # the refilled direct identifier is not carried


def test_an_orphan_fails_its_relationships_test(built):
    db_path, _, _ = built
    with warehouse.connect(db_path) as con:
        con.execute(
            f"INSERT INTO release.{SCHEMA}__transactions (txn_id, account_id, amount, category, channel) "
            "SELECT max(txn_id) + 1, 'no-such-account-ü', 12.5, 'other', 'card' "
            f"FROM release.{SCHEMA}__transactions"
        )
    result = _build(db_path)
    assert not result.success
    relationships = _relationships(_checks(result))
    failing = {name for name, passed in relationships.items() if not passed}
    assert failing == {
        f"relationships_stg_{SCHEMA}__transactions_account_id__account_id__ref_stg_{SCHEMA}__accounts_"
    }


def test_before_the_schema_is_released_nothing_is_built_and_nothing_fails(tmp_path):
    db_path = tmp_path / "warehouse.duckdb"
    with warehouse.connect(db_path) as con:  # another dataset is released, the schema is not
        con.execute("CREATE SCHEMA release")
        con.execute("CREATE TABLE release.adult_customers AS SELECT 1 AS customer_id")
    result = _build(db_path)
    assert result.success
    assert not result.get_asset_materialization_events()
    assert not result.get_asset_check_evaluations()
