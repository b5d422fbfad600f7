"""Audit (a'): neighbouring *schemas* -- one person and all their rows -- through the schema chain.

A schema of related tables is private per person (`lib/relational/contribution.py`, "Neighbouring
relation"): D' is D plus one person with every row that is theirs. So the single-table audit
(`audit_neighbours.py`: one row removed or changed) does not test it. This one runs the demo
schema's landing set (`lib/relational/demo_schema.py`), the same set minus one person with all
their rows in every table (their person row, their link rows, the accounts only they hold and
those accounts' transactions; an account they co-hold stays with its other holders), and the set
plus one new person who co-holds an existing account (and owns one of their own, with
transactions). Each goes through the real schema job (Dagster, in process) in its own scratch
project with the same spec, key and seeds.

What leaves the governed side is collected -- the published zone's tables (columns and row
counts; lookup tables also by content hash), its ledger view, and the schema's public release
certificate -- and compared path by path with `lib/governance/public_outputs.py`, as the
single-table audit does. Tables are grouped by what the *spec* declares: a lookup table is a public
input copied as it is (every figure of it must be identical), every other table is a synthetic
sample whose size and content are DP outputs.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml

from synth_platform.audit_neighbours import _published
from synth_platform.lib.governance import public_outputs
from synth_platform.lib.governance.release import table_sha256
from synth_platform.lib.relational import store
from synth_platform.lib.relational.schema_spec import SchemaSpec, parse_schema_spec
from synth_platform.lib.storage import zones

DEMO_DEFS = Path("synth_platform") / "defs" / "schemas" / "bank_demo" / "defs.yaml"


def demo_spec(project_root: Path) -> SchemaSpec:
    """The demo schema as deployed (its component's defs.yaml)."""
    path = project_root / DEMO_DEFS
    return parse_schema_spec(yaml.safe_load(path.read_text())["attributes"], str(path))


def schema_neighbours(frames: dict[str, pd.DataFrame], seed: int = 5) -> dict[str, dict[str, pd.DataFrame]]:
    """The demo landing set, minus one person with all their rows, plus one person who co-holds.

    Removed: a person who co-holds an account with someone else if there is one (the harder
    case: the account stays, one holder fewer), with every account only they hold and those
    accounts' transactions. Added: a new person (a person id not in use) holding an existing
    account with a single holder as `joint`, and a new account of their own with transactions.
    """
    rng = np.random.default_rng(seed)
    people, links = frames["people"], frames["people_accounts"]
    accounts, transactions = frames["accounts"], frames["transactions"]
    holders = links.groupby("account_id")["person_id"].nunique()

    shared = set(holders[holders > 1].index)
    candidates = sorted(set(links.loc[links["account_id"].isin(shared), "person_id"])) or sorted(
        people["person_id"]
    )
    victim = int(candidates[int(rng.integers(len(candidates)))])
    theirs = set(links.loc[links["person_id"] == victim, "account_id"])
    only_theirs = {a for a in theirs if holders.get(a, 0) == 1}
    removed = {
        **frames,
        "people": people[people["person_id"] != victim].reset_index(drop=True),
        "people_accounts": links[links["person_id"] != victim].reset_index(drop=True),
        "accounts": accounts[~accounts["account_id"].isin(only_theirs)].reset_index(drop=True),
        "transactions": transactions[~transactions["account_id"].isin(only_theirs)].reset_index(drop=True),
    }

    newcomer = int(max(people["person_id"]) + 1)
    single = sorted(holders[holders == 1].index)
    co_held = single[int(rng.integers(len(single)))]
    donor = people.iloc[int(rng.integers(len(people)))]
    own = f"AC{len(accounts) + 900000:07d}"
    new_txns = transactions.iloc[: int(rng.integers(1, 6))].copy()
    new_txns["account_id"] = own
    new_txns["txn_id"] = np.arange(1, len(new_txns) + 1) + int(transactions["txn_id"].max())
    person_row = {**donor.to_dict(), "person_id": newcomer, "full_name": "New Holder 0"}
    added = {
        **frames,
        "people": pd.concat([people, pd.DataFrame([person_row])], ignore_index=True),
        "people_accounts": pd.concat(
            [
                links,
                pd.DataFrame([(newcomer, co_held, "joint"), (newcomer, own, "owner")], columns=links.columns),
            ],
            ignore_index=True,
        ),
        "accounts": pd.concat(
            [accounts, pd.DataFrame([(own, "savings", 2020)], columns=accounts.columns)], ignore_index=True
        ),
        "transactions": pd.concat([transactions, new_txns], ignore_index=True),
    }
    return {"source": frames, "one_person_removed": removed, "one_person_added": added}


def _grouped(tables: dict, spec: SchemaSpec) -> dict:
    """`release.<schema>__<table>` -> value, regrouped by what the spec declares the table to be."""
    lookups = {f"release.{store.warehouse_name(spec.name, t)}" for t in spec.lookups}
    out: dict[str, dict] = {"lookup_tables": {}, "synthetic_tables": {}, "other_tables": {}}
    for name, value in tables.items():
        group = "lookup_tables" if name in lookups else "synthetic_tables"
        out[group if name.startswith("release.") else "other_tables"][name] = value
    return out


def _schema_published(warehouse: Path, spec: SchemaSpec) -> dict:
    zone = _published(warehouse)
    tables = {
        name: {"columns": zone["schema"][name], "rows": zone["row_counts"][name]} for name in zone["schema"]
    }
    con = duckdb.connect(str(zones.published_path(warehouse)), read_only=True)
    try:
        for t in spec.lookups:
            name = store.warehouse_name(spec.name, t)
            if f"release.{name}" in tables:
                tables[f"release.{name}"]["content_sha256"] = table_sha256(con, "release", name)
    finally:
        con.close()
    return {**_grouped(tables, spec), "ledger": [r for r in zone["ledger"] if r.get("dataset") == spec.name]}


def _schema_certificate(root: Path, spec: SchemaSpec) -> dict:
    found = sorted((root / "data" / "certificates" / spec.name).rglob("certificate.json"))
    if not found:
        return {}
    content = json.loads(found[-1].read_text())
    release = dict(content.get("release") or {})
    by_table = {t.get("released_as"): t for t in release.pop("tables", [])}
    # the gate's rows by check name, so a rule can name a check (positions carry nothing)
    gate = {str(row.get("check")): row for row in content.get("gate") or []}
    return {**content, "release": {**release, **_grouped(by_table, spec)}, "gate": gate}


def run_one(name: str, frames: dict[str, pd.DataFrame], spec: SchemaSpec, work: Path, checks=None) -> dict:
    """One landing set through the schema job in a scratch project; its public outputs."""
    import dagster as dg

    from synth_platform.components.governed_schema import schema_definitions
    from synth_platform.defs.platform import ledger_spec
    from synth_platform.defs.resources import PseudonymKeyResource, StorageResource, WarehouseResource
    from synth_platform.defs.schema_chain import job_name

    root = work / name
    for table, frame in frames.items():
        folder = root / "data" / "landing" / spec.name / table
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / f"{table}.csv", index=False)
    warehouse = root / "data" / "warehouse.duckdb"
    resources = {
        "warehouse": WarehouseResource(path=str(warehouse)),
        "storage": StorageResource(root=str(root)),
        "pseudonym_key": PseudonymKeyResource(warehouse_path=str(warehouse)),
    }
    defs = dg.Definitions.merge(
        schema_definitions(spec, checks=checks), dg.Definitions(assets=[ledger_spec()], resources=resources)
    )
    job = defs.resolve_job_def(job_name(spec.name))
    config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(run_config=config, instance=instance, raise_on_error=False)
    published = _schema_published(warehouse, spec) if zones.published_path(warehouse).exists() else {}
    return {
        "run_succeeded": result.success,
        "public": {"schema_published": published, "schema_certificate": _schema_certificate(root, spec)},
    }


def audit(
    spec: SchemaSpec,
    frames: dict[str, pd.DataFrame],
    work: Path | None = None,
    seed: int = 5,
    checks=None,
) -> dict:
    """Run the three neighbouring landing sets and compare their public outputs. `checks`: the
    gate's thresholds (`RelationalChecks`; default as deployed).

    Only runs that released are compared: a run the noisy gate blocked publishes no certificate
    and no tables (whether it released is itself a DP output), and comparing its absent outputs
    with present ones would report every public field. Such a run leaves the audit incomplete
    (`complete` false), which fails it: the caller reruns or uses more people."""
    work = Path(work or tempfile.mkdtemp(prefix="synth_schema_audit_"))
    # One key for the three runs, as one installation would have: pseudonyms and split keyed alike.
    os.environ.setdefault("SYNTH_SECRETS_DIR", str(work / "secrets"))
    variants = schema_neighbours(frames, seed)
    runs = {name: run_one(name, tables, spec, work, checks) for name, tables in variants.items()}
    released = [r["public"] for r in runs.values() if r["run_succeeded"]]
    findings = public_outputs.compare(released) if released else []
    return {
        "runs": {name: r["run_succeeded"] for name, r in runs.items()},
        "complete": len(released) == len(runs),
        "people": {name: len(tables["people"]) for name, tables in variants.items()},
        "summary": public_outputs.summary(findings),
        "outputs": [f.__dict__ for f in findings],
        # what each run published, for a caller that inspects it (public outputs only)
        "collected": {name: r["public"] for name, r in runs.items()},
    }
