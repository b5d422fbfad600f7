"""The whole governed chain, run for real on a 3,000-row sample of the demo data.

One good run is shared by the tests of this module (it takes about a minute); the
bad-input tests then run on top of it and prove the release and ledger survive.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from synth_platform.lib.dataset_instances import instance_path, load_instance, write_instance
from synth_platform.lib.gate import evaluation
from synth_platform.lib.governance import evidence, ledger
from synth_platform.lib.pii import approved_plan
from synth_platform.lib.storage import private_files, run_lease, warehouse
from synth_platform_tests.pipeline_harness import DATASET, identifiers_in, make_project, planted_identifiers

pytestmark = pytest.mark.integration
ROWS = 3000
DP_EPSILON = 20.0
DP_BUDGET = 100.0
PLANTED_EXTREME = "987654"
PLANTED_RARE = "Atlantis-Rarest"


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    # The demo's default path, end to end: dp_mst charged against a budget. At epsilon 1 the noise
    # drowns a 3,000-row sample (the demo's 48,842 rows are fine), so this sample trains at epsilon 20.
    overrides = {
        "synthesizer": {"kind": "dp_mst", "params": {"epsilon": DP_EPSILON, "delta": 1e-9}},
        "privacy": {"epsilon_budget": DP_BUDGET, "delta": 1e-9},
    }
    # Under the default umask 022, not the platform's 077: the file modes must not depend on it
    # (test_no_file_of_the_run_is_readable_by_group_or_others).
    previous_umask = os.umask(0o022)
    try:
        return _good_run(tmp_path_factory, overrides)
    finally:
        os.umask(previous_umask)


def _good_run(tmp_path_factory, overrides):
    project = make_project(tmp_path_factory.mktemp("chain"), rows=ROWS, spec_overrides=overrides)
    landing_file = next(project.landing.glob("*.csv"))
    # Planted: one person with an extreme loss and a category nobody else has. The public
    # certificate must show neither (test_certificate_holds_nothing_computed_on_real_rows).
    planted = pd.read_csv(landing_file, dtype=str, keep_default_na=False)
    planted.loc[0, "capital_loss"] = PLANTED_EXTREME
    planted.loc[0, "native_country"] = PLANTED_RARE
    planted.to_csv(landing_file, index=False)
    raw_source = pd.read_csv(landing_file, dtype=str)
    result = project.run()
    return project, result, raw_source


def test_a_successful_run_gives_its_dataset_lease_back(good_run):
    """Was: the lease named the ended run for ever; the release's write now frees it."""
    project, result, _ = good_run
    assert result.success
    with warehouse.connect(project.settings.warehouse_path) as con:
        assert run_lease.holder(con, DATASET) is None


def test_chain_succeeds_and_releases(good_run):
    project, result, _ = good_run
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    synthetic = project.query(f"SELECT * FROM synthetic.{DATASET}")
    released = project.query(f"SELECT * FROM release.{DATASET}")
    holdout = project.query(f"SELECT count(*) AS n FROM masked.{DATASET}_holdout")["n"][0]
    # as many rows as the model's noisy total (a DP output), never the exact training count by
    # construction; at epsilon 20 the noise on the total is about two rows
    assert abs(len(synthetic) - (ROWS - holdout)) <= 20
    assert len(released) == len(synthetic)
    raw_columns = list(project.query(f"SELECT * FROM raw.{DATASET} LIMIT 1").columns)
    assert list(released.columns) == raw_columns  # the source's shape


def test_every_gate_check_ran_blocking_and_passed(good_run):
    _, result, _ = good_run
    synthetic_key = dg.AssetKey([DATASET, "synthetic"])
    evaluations = {
        e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key == synthetic_key
    }
    assert set(evaluations) == {
        "schema_expectations",
        "holdout_size",
        "quality_score",
        "exact_copies",
        *evaluation.ATTACK_CHECKS,
        "no_identifier_leak",
        evaluation.UTILITY_CHECK,  # the demo spec declares `income` as a utility target
    }
    assert all(e.passed for e in evaluations.values())
    quality = evaluations["quality_score"].metadata["figure"].value
    assert 0.75 <= quality <= 1.0


def test_ledger_records_training_and_release(good_run):
    project, result, _ = good_run
    rows = project.query("SELECT * FROM governance.ledger ORDER BY entry_id")
    rows = rows[rows["run_id"] == result.run_id]
    assert rows["event"].tolist() == ["trained", "gate", "released"]
    trained, gate, released = rows.iloc[0], rows.iloc[1], rows.iloc[2]
    assert gate["rho_spent"] > 0 and gate["cumulative_rho"] > trained["cumulative_rho"]  # the gate is charged
    # dp_mst at (20, 1e-9), charged in zCDP against the dataset's budget, before the data was read.
    assert (trained["epsilon_spent"], trained["delta"]) == (DP_EPSILON, 1e-9) and trained["rho_spent"] > 0
    assert trained["epsilon_budget"] == DP_BUDGET and 0 < trained["cumulative_epsilon"] <= DP_EPSILON
    assert released["decision"] == "released" and 0.75 <= released["quality_score"] <= 1
    assert released["charged_entry"] == trained["entry_id"] and len(released["model_sha256"]) == 64
    assert len(released["source_hash"]) == 64 and released["source_hash"] == trained["source_hash"]
    with warehouse.connect(project.settings.warehouse_path, read_only=True) as con:
        assert ledger.verify_chain(con) == []


def test_dbt_models_built_on_the_release(good_run):
    project, _result, _ = good_run
    marts = project.query_published("SELECT * FROM analytics.income_by_education")
    assert marts["customers"].sum() == len(project.query(f"SELECT 1 FROM release.{DATASET}"))
    summary = project.query_published("SELECT * FROM analytics.privacy_ledger_summary")
    # Analysts' zone: released tables, the ledger and dbt's models; never raw, masked or synthetic.
    tables = project.query_published("SELECT table_schema, table_name FROM information_schema.tables")
    assert set(tables["table_schema"]) == {"release", "governance", "analytics"}
    assert set(tables.loc[tables["table_schema"] == "governance", "table_name"]) == {"ledger"}
    assert summary.loc[summary["dataset"] == DATASET, "releases"].iloc[0] == 1


def test_planted_identifiers_reach_no_table_metadata_or_log(good_run):
    project, result, raw_source = good_run
    planted = planted_identifiers(raw_source)
    assert len(planted) > 5 * ROWS  # names, e-mails, phones, SSNs, addresses, ids
    for schema, table in [
        ("synthetic", DATASET),
        ("release", DATASET),
        ("masked", DATASET),
        ("masked", f"{DATASET}_train"),
        ("masked", f"{DATASET}_holdout"),
        ("governance", f"pii_{DATASET}"),
        ("governance", f"approved_plan_{DATASET}"),
        ("governance", "ledger"),
        ("governance", "assessments"),
        ("analytics", "stg_adult_customers"),
        ("analytics", "income_by_education"),
    ]:
        published = schema == "analytics"  # dbt's models live in the published zone only
        query = project.query_published if published else project.query
        frame = query(f"SELECT * FROM {schema}.{table}")
        cells = set(frame.astype(str).to_numpy().ravel())
        leaked = len(cells & planted)  # a count: a failing test must not print the identifiers
        assert leaked == 0, f"{leaked} raw identifiers found in {schema}.{table}"
    event_text = project.run_text(result.run_id)
    assert len(event_text) > 10_000
    # Identifiers are long and distinctive: any substring hit is a leak.
    leaked = len(identifiers_in(event_text, planted))
    assert leaked == 0, f"{leaked} raw identifiers found in the run's events and metadata"


def test_evidence_pack_of_the_release_is_linked_complete_and_holds_no_identifier(good_run):
    project, result, raw_source = good_run
    pack = evidence.find_pack(project.root, DATASET, result.run_id)
    release = result.asset_materializations_for_node(f"{DATASET}__release")[0]
    assert release.metadata["evidence_report"].value == str(pack.html)
    report = json.loads(pack.json.read_text())
    assert report["decision"] == "released"
    assert len(report["source"]["source_hash"]) == 64
    checks = {c["name"]: c for c in report["gate_checks"]}
    assert set(checks) == {
        e.check_name for e in result.get_asset_check_evaluations() if e.asset_key.path[-1] == "synthetic"
    }
    assert all(c["passed"] and c["threshold"] is not None for c in checks.values())
    (income,) = report["utility"]
    assert income["target"] == "income" and income["metric"] == "auc" and 0.5 < income["trtr"] <= 1
    assert [r["event"] for r in report["ledger_rows"]] == ["trained", "gate", "released"]
    html = pack.html.read_text()
    assert html.count("data:image/png;base64,") == 3
    text = html + pack.json.read_text()
    leaked = len(identifiers_in(text, planted_identifiers(raw_source)))  # a count, never the values
    assert leaked == 0, f"{leaked} raw identifiers found in the evidence pack"


def test_pii_report_classifies_the_demo_columns(good_run):
    project, _, _ = good_run
    report = project.query(f"SELECT * FROM governance.pii_{DATASET}").set_index("column")
    for column in ("full_name", "email", "phone", "ssn", "street_address", "customer_id"):
        assert report.loc[column, "pii_class"] == "direct_identifier", column
    for column in ("zip_code", "date_of_birth", "age", "sex"):
        assert report.loc[column, "pii_class"] == "quasi_identifier", column
    assert report.loc["income", "pii_class"] == "sensitive"
    # The masking followed the approved plan the harness placed (what a reviewer commits), checked here.
    specs = project.settings.specs_dir
    plan = approved_plan.load_plan(specs, load_instance(specs / DATASET))
    recorded = project.query(f"SELECT * FROM governance.approved_plan_{DATASET}")
    assert set(recorded["digest"]) == {plan.digest}
    records = project.instance.fetch_materializations(dg.AssetKey([DATASET, "pii_report"]), limit=1).records
    assert records[0].asset_materialization.metadata["plan_digest"].value == plan.digest


def _release_state(project):
    released = project.query(f"SELECT * FROM release.{DATASET}")
    ledger_rows = project.query("SELECT * FROM governance.ledger ORDER BY entry_id")
    return pd.util.hash_pandas_object(released, index=False).sum(), ledger_rows


def _bad_file_content(kind: str, raw_source: pd.DataFrame) -> str:
    if kind == "empty":
        return ""
    if kind == "malformed":
        lines = raw_source.head(20).to_csv(index=False).splitlines()
        lines[7] += ",one,field,too,many"
        return "\n".join(lines) + "\n"
    return raw_source.head(20).drop(columns=["ssn"]).to_csv(index=False)  # schema change


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("empty", "the file is empty"),
        ("malformed", "malformed CSV: data row 7 has 27 fields, more than the 23 of the header"),
        ("schema_change", "columns differ from the spec 'adult_customers': missing ['ssn']"),
    ],
)
def test_bad_input_stops_at_ingest_and_keeps_release_and_ledger(good_run, kind, expected):
    project, first, raw_source = good_run
    assert first.success
    before_release, before_ledger = _release_state(project)
    bad = project.landing / f"bad_{kind}.csv"
    bad.write_text(_bad_file_content(kind, raw_source))
    result = project.run(landing_file=bad)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert failure.step_key == f"{DATASET}__raw"
    message = failure.event_specific_data.error.message
    assert bad.name in message and expected in message
    assert "moved to" in message
    assert not bad.exists()
    assert any(p.name.endswith(bad.name) for p in project.quarantine.iterdir())
    after_release, after_ledger = _release_state(project)
    assert after_release == before_release
    pd.testing.assert_frame_equal(after_ledger, before_ledger)


def test_budget_refuses_non_private_training_and_keeps_release_and_ledger(good_run):
    project, _, _ = good_run
    spec_path = instance_path(project.settings.specs_dir, DATASET)
    original = spec_path.read_text()
    spec = yaml.safe_load(original)["attributes"]
    spec["privacy"] = {"epsilon_budget": 1.0}
    spec["synthesizer"] = {"kind": "gaussian_copula", "params": {}}  # no DP guarantee: refused under a budget
    write_instance(project.settings.specs_dir, spec)
    try:
        before_release, before_ledger = _release_state(project)
        result = project.run()
    finally:
        spec_path.write_text(original)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert failure.step_key == f"{DATASET}__synthesizer"
    message = failure.event_specific_data.error.message
    assert "privacy budget (epsilon 1 at delta" in message and "not differentially private" in message
    after_release, after_ledger = _release_state(project)
    assert after_release == before_release
    # The refusal is on the ledger (spending nothing); every earlier row is unchanged and the chain holds.
    pd.testing.assert_frame_equal(after_ledger.iloc[: len(before_ledger)], before_ledger)
    refused = after_ledger.iloc[len(before_ledger) :]
    assert refused["event"].tolist() == ["refused"] and refused["epsilon_spent"].tolist() == [0.0]
    with warehouse.connect(project.settings.warehouse_path, read_only=True) as con:
        assert ledger.verify_chain(con) == []


def test_certificate_holds_nothing_computed_on_real_rows(good_run):
    """The public certificate is linked from the release, and is built from DP outputs and public
    inputs only: a planted extreme value and a one-person category never reach it, nor does any
    identifier or any exact gate figure."""
    _, result, raw_source = good_run
    (release,) = [
        m
        for m in result.asset_materializations_for_node(f"{DATASET}__release")
        if m.asset_key == dg.AssetKey([DATASET, "release"])
    ]
    html_path = Path(release.metadata["certificate"].value)
    json_path = Path(release.metadata["certificate_json"].value)
    content = json.loads(json_path.read_text())
    text = html_path.read_text() + json.dumps(content)
    assert content["decision"] == "released" and content["synthesizer"]["differentially_private"]
    assert content["digests"]["approved_plan_sha256"] and content["privacy"]["this_release"]["gate_rho"] > 0
    assert PLANTED_EXTREME not in text and "987,654" not in text and "9.877e+05" not in text
    assert PLANTED_RARE not in text and "Atlantis" not in text
    assert len(identifiers_in(text, planted_identifiers(raw_source))) == 0
    # every gate row shows a noisy or public figure, never an exact one
    for row in content["gate"]:
        assert set(row) <= {
            "check",
            "noisy_figure",
            "sigma",
            "threshold",
            "passed",
            "rho",
            "sensitivity",
            "rule",
        }
    capital_loss = content["pictures"]["capital_loss"]
    assert capital_loss["kind"] == "numeric" and capital_loss["edges"][-1] < 900_000


def test_no_file_of_the_run_is_readable_by_group_or_others(good_run):
    """Was: under umask 022 the warehouse, its published zone, the ledger head, the landing file,
    models and their pointer were world-readable. The whole run (under umask 022, see `good_run`)
    leaves nothing group- or world-readable, except the public certificate and the public inputs
    the test harness wrote itself (spec, approved plan)."""
    project, result, _ = good_run
    assert result.success
    root, db = project.root, project.settings.warehouse_path
    data = root / "data"
    assert (data / "models").exists() and (data / "evidence").exists() and (data / "landing").exists()
    assert db.exists() and ledger.head_path(db).exists()
    public = (root / "datasets", data / "certificates")
    loose = [line for line in private_files.loose_paths(root, skip=public) if not line.endswith(f" {root}")]
    assert loose == [], loose
