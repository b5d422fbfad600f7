"""The GovernedSchema chain end to end in Dagster: landing files of related tables -> release.

Small and cheap: 2,000 generated people, few synthesizer iterations. One real run releases the
schema (every foreign key resolves, the ledger holds trained / gate / released rows and verifies,
a planted identifier reaches no released table, published table or asset metadata); an impossible
gate threshold blocks the next run and leaves that release intact; a missing table file keeps the
sensor waiting and stops ingest with a clear message.
"""

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from synth_platform.components.governed_schema import schema_definitions
from synth_platform.defs.platform import ledger_spec
from synth_platform.defs.resources import PseudonymKeyResource, StorageResource, WarehouseResource
from synth_platform.defs.schema_chain import job_name
from synth_platform.lib.governance import ledger
from synth_platform.lib.relational.demo_schema import demo_schema_dict, demo_tables
from synth_platform.lib.relational.fidelity import orphans
from synth_platform.lib.relational.gate import RelationalChecks
from synth_platform.lib.relational.schema_spec import parse_schema_spec
from synth_platform.lib.storage import zones

SCHEMA = "shop_rel"
PLANTED = "Zyxqwv Plantedname Ølberg"


def _spec(budget: float = 50):
    raw = demo_schema_dict()
    raw["name"] = SCHEMA
    raw["synthesizer"] = {"epsilon": 4.0, "iters": 20}
    # the budget's delta above the training's: an undeclared category list (channel) spends delta/2
    # outside zCDP per training, so at the same delta a second training would be refused
    raw["privacy"] = {"epsilon_budget": budget, "delta": 1e-6}
    return parse_schema_spec(raw, "test schema")


def _land(root: Path, people: int = 2000, seed: int = 5, skip: str | None = None, stamp: str = "a") -> None:
    frames = demo_tables(people=people, seed=seed)
    frames["people"].loc[0, "full_name"] = PLANTED
    for table, frame in frames.items():
        if table == skip:
            continue
        folder = root / "data" / "landing" / SCHEMA / table
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / f"{table}_{stamp}.csv", index=False)


def _defs(root: Path, checks: RelationalChecks | None = None, budget: float = 50) -> dg.Definitions:
    resources = {
        "warehouse": WarehouseResource(path=str(root / "warehouse.duckdb")),
        "storage": StorageResource(root=str(root)),
        "pseudonym_key": PseudonymKeyResource(warehouse_path=str(root / "warehouse.duckdb")),
    }
    return dg.Definitions.merge(
        schema_definitions(_spec(budget), checks=checks),
        dg.Definitions(assets=[ledger_spec()], resources=resources),
    )


def _run(root: Path, instance, checks=None, budget: float = 50):
    job = _defs(root, checks, budget).resolve_job_def(job_name(SCHEMA))
    return job.execute_in_process(instance=instance, raise_on_error=False)


def _query(path: Path, sql: str):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _run_text(instance, run_id: str) -> str:
    records = instance.get_records_for_run(run_id, limit=100_000).records
    return "\n".join(json.dumps(r.event_log_entry.to_json()) for r in records)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema_chain")
    _land(root)
    instance = dg.DagsterInstance.ephemeral()
    result = _run(root, instance)
    return root, instance, result


def test_landing_files_to_release(released):
    root, instance, result = released
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    db = root / "warehouse.duckdb"
    spec = _spec()
    con = duckdb.connect(str(db), read_only=True)
    try:
        release = {t: f'release."{SCHEMA}__{t}"' for t in spec.tables}
        assert orphans(con, spec, release) and all(v == 0 for v in orphans(con, spec, release).values())
        for table in spec.tables:
            assert con.execute(f"SELECT count(*) FROM {release[table]}").fetchone()[0] > 0
        rows = ledger.read_ledger(con, SCHEMA)
        assert ledger.verify_chain(con) == []
    finally:
        con.close()
    events = list(rows["event"])
    assert {"trained", "gate", "released"} <= set(events)
    trained = rows[rows["event"] == "trained"].iloc[0]
    assert trained["rho_spent"] > 0 and trained["epsilon_spent"] == pytest.approx(4.0)
    # published zone: every released table, and no planted identifier anywhere that leaves
    published = zones.published_path(db)
    for table in spec.tables:
        frame = _query(published, f'SELECT * FROM release."{SCHEMA}__{table}"')
        assert len(frame) > 0
        assert not frame.astype(str).apply(lambda c: c.str.contains("Plantedname")).any().any()
    text = _run_text(instance, result.run_id)
    assert "Plantedname" not in text
    people = _query(published, f'SELECT * FROM release."{SCHEMA}__people"')
    assert "full_name" in people.columns  # refilled with fakes, keys keep their source names
    assert {"person_id", "region_id"} <= set(people.columns)


def test_blocked_gate_keeps_previous_release(released):
    root, instance, _ = released
    db = root / "warehouse.duckdb"
    before = _query(db, f'SELECT * FROM release."{SCHEMA}__transactions" ORDER BY ALL')
    _land(root, seed=6, stamp="b")
    result = _run(root, instance, checks=RelationalChecks(min_holdout_people=10**7))
    assert not result.success or not any(
        e.asset_key == dg.AssetKey([SCHEMA, "release"]) for e in result.get_asset_materialization_events()
    )
    checks = [e for e in result.get_asset_check_evaluations() if e.check_name == "schema_release_gate"]
    assert checks and not checks[0].passed and "holdout_people" in checks[0].description
    after = _query(db, f'SELECT * FROM release."{SCHEMA}__transactions" ORDER BY ALL')
    assert before.equals(after)
    events = list(_query(db, f"SELECT event FROM governance.ledger WHERE dataset = '{SCHEMA}'")["event"])
    assert events[-1] == "blocked"


def test_missing_table_waits_and_refuses(tmp_path):
    _land(tmp_path, people=300, skip="transactions")
    defs = _defs(tmp_path)
    sensor = defs.resolve_sensor_def(f"{SCHEMA}_landing_set_sensor")
    context = dg.build_sensor_context(resources={"storage": StorageResource(root=str(tmp_path))})
    outcome = sensor(context)
    assert isinstance(outcome, dg.SkipReason) and "transactions" in outcome.skip_message
    result = _run(tmp_path, dg.DagsterInstance.ephemeral())
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert "no landing file for table(s) ['transactions']" in message
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing read or written
    # with the set complete the sensor fires once, and not again for the same files
    _land(tmp_path, people=300, stamp="c")
    fired = sensor(context)
    assert isinstance(fired, dg.RunRequest)
    again = sensor(
        dg.build_sensor_context(
            cursor=context.cursor, resources={"storage": StorageResource(root=str(tmp_path))}
        )
    )
    assert isinstance(again, dg.SkipReason)


def _events(db: Path) -> list[str]:
    return list(
        _query(db, f"SELECT event FROM governance.ledger WHERE dataset = '{SCHEMA}' ORDER BY entry_id")[
            "event"
        ]
    )


def test_unchanged_files_reuse_and_budget_refuses(released):
    """The same files again: the model is reused and the gate's evaluation too (nothing charged
    twice); new files under a budget that cannot pay: a `refused` row, the run stops before reading
    data, the release stays."""
    root, instance, _ = released
    db = root / "warehouse.duckdb"
    assert _run(root, instance).success  # the current files, judged with the default thresholds
    before = _events(db)
    result = _run(root, instance)
    assert result.success
    new = _events(db)[len(before) :]
    assert "trained" not in new and "gate" not in new and new[0] == "reused" and new[-1] == "released"
    release_before = _query(db, f'SELECT * FROM release."{SCHEMA}__people" ORDER BY ALL')
    _land(root, seed=7, stamp="z")
    result = _run(root, instance, budget=0.5)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == f"{SCHEMA}__synthesizer"
    assert "budget" in failure.step_failure_data.user_failure_data.description
    assert _events(db)[-1] == "refused"
    assert release_before.equals(_query(db, f'SELECT * FROM release."{SCHEMA}__people" ORDER BY ALL'))


def test_malformed_table_file_is_quarantined(tmp_path):
    """One bad file refuses the whole set: the table is named, the file quarantined with its reason,
    no table written, and the bad cell (a planted identifier) is quoted nowhere."""
    _land(tmp_path, people=300)
    folder = tmp_path / "data" / "landing" / SCHEMA / "transactions"
    bad = next(folder.glob("*.csv"))
    lines = bad.read_text().splitlines()
    fields = lines[1].split(",")
    fields[2] = "Øyvind-Plantedcell-77"  # amount: not a number
    bad.write_text("\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n")
    instance = dg.DagsterInstance.ephemeral()
    result = _run(tmp_path, instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert "table 'transactions'" in message and "quarantine" in message
    assert not bad.exists() and list((tmp_path / "data" / "quarantine" / SCHEMA).glob("*.reason.txt"))
    assert "Plantedcell" not in _run_text(instance, result.run_id)
    db = tmp_path / "warehouse.duckdb"
    if db.exists():
        tables = _query(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'")
        assert not any(t.startswith(SCHEMA) for t in tables["table_name"])
