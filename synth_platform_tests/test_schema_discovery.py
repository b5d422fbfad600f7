"""PII discovery per table in a schema's chain (issue 18 item 2).

A column the spec does not declare, holding e-mail addresses, in a child table: the run stops at
`<schema>/masked`, naming the table and column and never a value, before the synthesizer (no
ledger row, nothing charged). The demo schema raises no problem (its release:
test_schema_chain.py).
"""

import json

import dagster as dg
import duckdb

from synth_platform.components.governed_schema import schema_definitions
from synth_platform.defs.platform import ledger_spec
from synth_platform.defs.resources import PseudonymKeyResource, StorageResource, WarehouseResource
from synth_platform.defs.schema_chain import job_name
from synth_platform.lib.relational import discovery as rel_discovery
from synth_platform.lib.relational.demo_schema import demo_schema_dict, demo_tables
from synth_platform.lib.relational.schema_spec import parse_schema_spec

SCHEMA = "kontorx"  # a schema name unlike the demo's
PLANTED = "plantedcontact"


def _spec(with_contact: bool):
    raw = demo_schema_dict()
    raw["name"] = SCHEMA
    raw["synthesizer"] = {"epsilon": 4.0, "iters": 20}
    raw["privacy"] = {"epsilon_budget": 50, "delta": 1e-6}
    if with_contact:  # undeclared: no `pii:`, no `mask:`, an opaque name
        raw["tables"]["accounts"]["columns"]["c7"] = {"type": "string"}
    return parse_schema_spec(raw, "test schema")


def _land(root, with_contact: bool, people: int = 300):
    frames = demo_tables(people=people, seed=11)
    if with_contact:
        accounts = frames["accounts"]
        contact = [f"{PLANTED}.{i}@posteo-mail.de" for i in range(len(accounts))]
        contact[::7] = [None] * len(contact[::7])  # some NULLs
        accounts["c7"] = contact
    for table, frame in frames.items():
        folder = root / "data" / "landing" / SCHEMA / table
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / f"{table}.csv", index=False)
    return frames


def test_undeclared_email_column_stops_before_the_synthesizer(tmp_path):
    _land(tmp_path, with_contact=True)
    db = tmp_path / "warehouse.duckdb"
    defs = dg.Definitions.merge(
        schema_definitions(_spec(with_contact=True)),
        dg.Definitions(
            assets=[ledger_spec()],
            resources={
                "warehouse": WarehouseResource(path=str(db)),
                "storage": StorageResource(root=str(tmp_path)),
                "pseudonym_key": PseudonymKeyResource(warehouse_path=str(db)),
            },
        ),
    )
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(job_name(SCHEMA)).execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == f"{SCHEMA}__masked"
    message = failure.step_failure_data.user_failure_data.description
    assert "accounts.c7" in message and "email" in message
    done = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "synthesizer" not in done and "masked" not in done
    records = instance.get_records_for_run(result.run_id, limit=100_000).records
    text = "\n".join(json.dumps(r.event_log_entry.to_json()) for r in records)
    assert PLANTED not in text and "posteo-mail" not in text
    con = duckdb.connect(str(db), read_only=True)
    try:
        ledger = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'governance' "
            "AND table_name = 'ledger'"
        ).fetchone()[0]
        charged = (
            con.execute(f"SELECT count(*) FROM governance.ledger WHERE dataset = '{SCHEMA}'").fetchone()[0]
            if ledger
            else 0
        )
        masked = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ?", [f"{SCHEMA}__masked"]
        ).fetchone()[0]
    finally:
        con.close()
    assert charged == 0 and masked == 0


def _raw(frames, spec):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    for table, frame in frames.items():
        con.register("_f", frame)
        con.execute(f'CREATE TABLE raw."{spec.name}__{table}" AS SELECT * FROM _f')
        con.unregister("_f")
    return con


def test_demo_schema_passes_and_declaring_the_column_clears_it(tmp_path):
    frames = _land(tmp_path, with_contact=True, people=200)
    spec = _spec(with_contact=False)
    plain = {t: f.drop(columns=["c7"]) if t == "accounts" else f for t, f in frames.items()}
    found = rel_discovery.discover_schema(_raw(plain, spec), spec)
    assert found.problems == []
    assert set(found.class_counts()) == set(spec.tables)
    raw = demo_schema_dict()
    raw["name"] = SCHEMA
    raw["tables"]["accounts"]["columns"]["c7"] = {
        "type": "string",
        "pii": {"class": "direct_identifier", "type": "email"},
    }
    declared = parse_schema_spec(raw, "declared")
    found = rel_discovery.discover_schema(_raw(frames, declared), declared)
    assert found.problems == [] and found.class_counts()["accounts"]["direct_identifier"] >= 2
    undeclared = _spec(with_contact=True)
    found = rel_discovery.discover_schema(_raw(frames, undeclared), undeclared)
    assert [(p.table, p.column, p.detected_type) for p in found.problems] == [("accounts", "c7", "email")]
    assert all(PLANTED not in p.evidence and PLANTED not in str(p) for p in found.problems)
