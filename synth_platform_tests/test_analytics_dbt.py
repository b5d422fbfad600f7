"""The dbt models, built for real by Dagster on a small planted warehouse (real dbt, real DuckDB)."""

from datetime import date, datetime

import dagster as dg
import duckdb
import pandas as pd
import pytest

from synth_platform.defs.analytics import analytics_dbt_assets, dbt_resource
from synth_platform.defs.resources import WarehouseResource
from synth_platform.lib.governance import ledger
from synth_platform.lib.storage import warehouse, zones
from synth_platform.lib.synthesize import accounting

pytestmark = pytest.mark.integration

DATASET = "adult_customers"
IDENTIFIERS = {"full_name", "email", "phone", "ssn", "street_address"}
# (education, education_num, sex, customers, of which >50K); None stands for a missing category.
GROUPS = [
    ("Bachelors", 13, "Male", 4, 1),
    ("HS-grad", 9, "Female", 5, 0),
    ("Masters", 14, "Female", 3, 3),
    (None, None, "Male", 2, 1),
    ("HS-grad", 9, None, 1, 1),
]


def _release_frame() -> pd.DataFrame:
    rows, i = [], 0
    for education, years, sex, customers, high in GROUPS:
        for j in range(customers):
            rows.append(
                {
                    "customer_id": f"ID-{i:08d}",
                    "full_name": f"Planted Person {i}",
                    "email": f"planted{i}@example.org",
                    "phone": f"555-010-{i:04d}",
                    "ssn": f"900-12-{i:04d}",
                    "street_address": f"{i} Planted Street",
                    "zip_code": f"{12300 + i:05d}" if i != 7 else None,
                    "date_of_birth": date(1960 + i, 1 + i % 12, 1 + i % 28),
                    "age": 64 - i,
                    "workclass": "Private" if i % 3 else None,
                    "fnlwgt": 100_000 + i,
                    "education": education,
                    "education_num": years,
                    "marital_status": "Never-married",
                    "occupation": "Sales" if i % 4 else None,
                    "relationship": "Not-in-family",
                    "race": "White",
                    "sex": sex,
                    "capital_gain": 0,
                    "capital_loss": 0,
                    "hours_per_week": 40,
                    "native_country": "United-States",
                    "income": ">50K" if j < high else "<=50K",
                }
            )
            i += 1
    frame = pd.DataFrame(rows)
    frame["date_of_birth"] = pd.to_datetime(frame["date_of_birth"])
    for column in ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _entry(
    dataset: str, event: str, at: datetime, epsilon: float | None = None, decision: str = ""
) -> ledger.LedgerEntry:
    return ledger.LedgerEntry(
        run_id=f"run-{at:%d%H}",
        dataset=dataset,
        event=event,
        source_hash="s" * 64,
        train_data_hash="t" * 64,
        synthesizer="gaussian_copula",
        parameters={"default_distribution": "truncnorm"},
        code_version="test",
        epsilon_spent=epsilon,
        decision=decision or event,
        recorded_at=at,
    )


def _gate(dataset: str, at: datetime) -> ledger.LedgerEntry:
    """The release gate's noisy figures were measured: a small rho charged."""
    entry = _entry(dataset, "gate", at, decision="gate figures measured")
    entry.rho_spent, entry.delta = 0.001, 1e-9
    return entry


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    db_path = tmp_path_factory.mktemp("analytics") / "warehouse.duckdb"
    with warehouse.connect(db_path) as con:
        con.execute("CREATE SCHEMA release")
        con.register("planted", _release_frame())
        con.execute(
            f"CREATE TABLE release.{DATASET} AS "
            "SELECT * REPLACE (CAST(date_of_birth AS DATE) AS date_of_birth) FROM planted"
        )
        for entry in [
            _entry(DATASET, "trained", datetime(2025, 1, 1, 10)),
            _entry(DATASET, "released", datetime(2025, 1, 1, 11)),
            _entry(DATASET, "trained", datetime(2025, 1, 2, 10)),
            _entry(DATASET, "blocked", datetime(2025, 1, 2, 11), decision="blocked: failed exact_copies"),
            _gate(DATASET, datetime(2025, 1, 2, 10, 30)),
            _entry("patients", "trained", datetime(2025, 1, 3, 10), epsilon=1.0),
            _entry("patients", "trained", datetime(2025, 1, 4, 10), epsilon=0.5),
        ]:
            ledger.append(con, entry)
    result = dg.materialize(
        [analytics_dbt_assets],
        resources={"dbt": dbt_resource(), "warehouse": WarehouseResource(path=str(db_path))},
        selection=dg.AssetSelection.groups("analytics"),
        raise_on_error=False,
    )
    return zones.published_path(db_path), result


def _query(db_path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_dagster_keys_and_lineage():
    keys = {k.to_user_string() for k in analytics_dbt_assets.keys}
    assert keys == {
        f"analytics/{m}" for m in ("stg_adult_customers", "income_by_education", "privacy_ledger_summary")
    }
    deps = {
        k.to_user_string(): {d.to_user_string() for d in v}
        for k, v in analytics_dbt_assets.asset_deps.items()
    }
    assert deps["analytics/stg_adult_customers"] == {f"{DATASET}/release"}
    assert deps["analytics/income_by_education"] == {"analytics/stg_adult_customers"}
    assert {"governance/ledger", f"{DATASET}/release"} <= deps["analytics/privacy_ledger_summary"]
    assert set(analytics_dbt_assets.group_names_by_key.values()) == {"analytics"}


def test_dbt_works_on_the_published_zone_that_holds_only_releases_and_the_ledger(built):
    published, result = built
    assert result.success
    tables = _query(published, "SELECT table_schema, table_name FROM information_schema.tables")
    schemas = set(tables["table_schema"])
    assert schemas == {"release", "governance", "analytics"}, schemas
    assert set(tables.loc[tables["table_schema"] == "governance", "table_name"]) == {"ledger"}
    columns = _query(published, "DESCRIBE governance.ledger")["column_name"].tolist()
    assert columns == list(zones.PUBLISHED_LEDGER_COLUMNS)  # the reduced view: no hash, no gate figure
    warehouse_file = published.with_name("warehouse.duckdb")
    assert (
        _query(
            warehouse_file,
            "SELECT count(*) AS n FROM information_schema.schemata WHERE schema_name = 'analytics'",
        )["n"][0]
        == 0
    )  # dbt never wrote to the warehouse


def test_dbt_build_succeeds_with_every_test_passing(built):
    _, result = built
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {k.to_user_string() for k in analytics_dbt_assets.keys}
    checks = result.get_asset_check_evaluations()
    assert len(checks) >= 15 and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]


def test_income_by_education_counts_and_shares(built):
    db_path, _ = built
    marts = _query(db_path, "SELECT * FROM analytics.income_by_education")
    got = {
        (row.education, row.sex): (row.customers, row.high_income_customers, row.high_income_share)
        for row in marts.itertuples()
    }
    expected = {
        (education or "(unknown)", sex or "(unknown)"): (n, high, high / n)
        for education, _, sex, n, high in GROUPS
    }
    assert got.keys() == expected.keys()
    for group, (n, high, share) in expected.items():
        assert got[group][:2] == (n, high), group
        assert got[group][2] == pytest.approx(share), group
    assert marts["customers"].sum() == sum(g[3] for g in GROUPS)


def test_staging_view_carries_no_direct_identifiers(built):
    db_path, _ = built
    kinds = _query(
        db_path,
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = 'analytics' AND table_name = 'stg_adult_customers'",
    )
    assert kinds["table_type"].tolist() == ["VIEW"]
    staged = _query(db_path, "SELECT * FROM analytics.stg_adult_customers ORDER BY customer_id")
    assert not IDENTIFIERS & set(staged.columns)
    assert {"customer_id", "zip3", "birth_year", "income"} <= set(staged.columns)
    assert staged["zip3"].iloc[0] == "123" and pd.isna(staged["zip3"].iloc[7])
    assert staged["birth_year"].iloc[0] == 1960
    planted = set(_release_frame()[sorted(IDENTIFIERS)].astype(str).to_numpy().ravel())
    assert not planted & set(staged.astype(str).to_numpy().ravel())


def test_privacy_ledger_summary(built):
    db_path, _ = built
    summary = _query(db_path, "SELECT * FROM analytics.privacy_ledger_summary").set_index("dataset")
    adult, patients = summary.loc[DATASET], summary.loc["patients"]
    assert (adult["trainings"], adult["releases"], adult["blocks"]) == (2, 1, 1)
    assert adult["last_decision_event"] == "blocked"
    assert adult["last_decision"] == "blocked: failed exact_copies"
    assert adult["last_released_at"] == pd.Timestamp("2025-01-01 11:00")
    assert adult["cumulative_epsilon"] == "unbounded"
    assert (patients["trainings"], patients["releases"], patients["blocks"]) == (2, 0, 0)
    assert pd.isna(patients["last_decision"]) and pd.isna(patients["last_released_at"])
    # Composed in zCDP and shown at the dataset's delta: less than 1 + 0.5.
    rho = sum(accounting.rho_from_epsilon_delta(e, 1e-9) for e in (1.0, 0.5))
    expected = accounting.epsilon_from_rho(rho, 1e-9)
    assert float(patients["cumulative_epsilon"]) == pytest.approx(expected, abs=1e-6)
    assert patients["cumulative_rho"] == pytest.approx(rho)
    assert (adult["refusals"], adult["reuses"], adult["gate_measurements"]) == (0, 0, 1)
    assert patients["gate_measurements"] == 0
