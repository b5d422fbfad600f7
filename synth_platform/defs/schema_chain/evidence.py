"""A schema's evidence pack (restricted) and release certificate (public), written by its chain.

The gate writes the pack with the decision it knows (blocked, or passed awaiting release): every
verdict with its exact figure beside the noisy one (`lib.governance.schema_evidence`), the real
row counts per stage and the contribution bounds, the run's ledger rows and the budget. The
release step marks it released and writes the public certificate
(`lib.governance.schema_certificate`) from the released tables, the schema's ledger rows and the
gate's recorded public verdicts only. Each opens the warehouse briefly and read-only: call them
outside any connection of the caller (the warehouse lock is not re-entrant across connections).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import dagster as dg

from synth_platform import __version__
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.defs.schema_chain.common import STAGE_VERSIONS, SchemaChain
from synth_platform.lib.gate import private_decision
from synth_platform.lib.governance import budget, evidence, ledger, schema_certificate, schema_evidence
from synth_platform.lib.governance.release import table_sha256
from synth_platform.lib.relational import contribution, store
from synth_platform.lib.relational import gate as rel_gate

PENDING = "passed the gate (awaiting release)"


def metadata_entries(pack: evidence.EvidencePack) -> dict:
    """The pack's path (a schema name and a run id, nothing else) for an asset's metadata."""
    return {
        "evidence_report": dg.MetadataValue.path(str(pack.html)),
        "evidence_url": dg.MetadataValue.url(pack.html.resolve().as_uri()),
    }


def _count(con, relation: str) -> int | None:
    try:
        return int(con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0])
    except Exception:  # a stage not written (a refused run) has no table
        return None


def _real_rows(con, spec) -> dict[str, dict]:
    stages = {
        "raw": store.relations(spec, "raw"),
        "train": store.side_relations(spec, "train"),
        "holdout": store.side_relations(spec, "holdout"),
    }
    return {t: {stage: _count(con, rel[t]) for stage, rel in stages.items()} for t in spec.tables}


def _bounds(con, schema: str) -> list[dict]:
    try:
        return con.execute(f"SELECT * FROM {store.bounds_table(schema)} ORDER BY tbl").df().to_dict("records")
    except Exception:
        return []


def spec_sha256(spec) -> str:
    """The schema spec as validated (every field): a public digest."""
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()


def write_gate_pack(
    log,
    chain: SchemaChain,
    run_id: str,
    decision: rel_gate.SchemaDecision,
    noisy: list,
    exact: list | None,
    gate: dict,
    warehouse: WarehouseResource,
    storage: StorageResource,
) -> evidence.EvidencePack:
    """The gate's pack: `noisy` the verdicts that decided, `exact` the same without noise."""
    spec, schema = chain.spec, chain.name
    with warehouse.connect(read_only=True) as con:
        real_rows = _real_rows(con, spec)
        synthetic = {t: _count(con, r) for t, r in store.relations(spec, "synthetic").items()}
        bounds = _bounds(con, schema)
        rows = ledger.read_ledger(con, schema).to_dict(orient="records")
        spent = budget.summary(con, schema, spec.privacy.epsilon_budget, spec.privacy.delta)
    label = PENDING if decision.release else "blocked: failed " + ", ".join(decision.blocked_by)
    report = schema_evidence.assemble(
        schema=schema,
        run_id=run_id,
        decision=label,
        blocked_by=list(decision.blocked_by),
        spec=spec.model_dump(mode="json"),
        code={"version": __version__, "stage_versions": STAGE_VERSIONS, "gate_code": store.CODE_VERSION},
        gate=gate,
        verdicts=schema_evidence.verdict_rows(noisy, exact),
        real_rows=real_rows,
        bounds=bounds,
        synthetic_rows=synthetic,
        run_ledger_rows=[r for r in rows if r.get("run_id") == run_id],
        budget=spent,
    )
    pack = schema_evidence.write_pack(evidence.pack_dir(storage.root_path, schema, run_id), report)
    log.info(f"Evidence pack of schema '{schema}' ({label}): {pack.html}")
    return pack


def record_release(
    chain: SchemaChain, run_id: str, row: dict, warehouse: WarehouseResource, storage: StorageResource
) -> evidence.EvidencePack | None:
    """Mark the gate's pack released, with its ledger row; None if the gate wrote no pack."""
    directory = evidence.pack_dir(storage.root_path, chain.name, run_id)
    if not (directory / "report.json").exists():
        return None
    spec = chain.spec
    with warehouse.connect(read_only=True) as con:
        spent = budget.summary(con, chain.name, spec.privacy.epsilon_budget, spec.privacy.delta)
    return schema_evidence.record_decision(directory, "released", [row], spent)


def _released_tables(con, spec) -> list[dict]:
    out = []
    for table, relation in store.relations(spec, "release").items():
        name = store.warehouse_name(spec.name, table)
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'release' AND table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        out.append(
            {
                "table": table,
                "released_as": f"release.{name}",
                "rows": int(con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]),
                "lookup": table in spec.lookups,
                "columns": [{"name": c, "type": t} for c, t in columns],
                "table_sha256": table_sha256(con, "release", name),
            }
        )
    return out


def _rows_per_person(spec, bounds: dict[str, int]) -> dict[str, int]:
    """Most rows one person has per modelled table: from the public bounds (declared or the cap)."""
    try:
        return contribution.multiplicities(spec, bounds)
    except KeyError:  # a bound not recorded: say nothing rather than guess
        return {}


def write_certificate(
    chain: SchemaChain,
    run_id: str,
    row: dict,
    verdicts: list[dict],
    model,
    warehouse: WarehouseResource,
    storage: StorageResource,
):
    """The public certificate of this release: the released tables (counts, types, hashes), the
    per-person spend from the schema's ledger rows, the gate's recorded public verdicts."""
    spec, schema = chain.spec, chain.name
    gate_rho = chain.gate_rho  # the effective rho the gate charged (SchemaChain)
    with warehouse.connect(read_only=True) as con:
        tables = _released_tables(con, spec)
        released_sha = store.synthetic_sha256(con, spec, "release")
        trained = ledger.entry(con, model.charged_by) if model.charged_by is not None else None
        bounds = store.recorded_bounds(con, spec)
    content = schema_certificate.build(
        schema=schema,
        run_id=run_id,
        tables=tables,
        synthetic_sha256=released_sha,
        privacy=schema_certificate.spend(
            trained, gate_rho, private_decision.gate_epsilon(gate_rho, spec.privacy.delta), row
        ),
        rows_per_person=_rows_per_person(spec, bounds),
        gate=schema_certificate.gate_rows(verdicts),
        synthesizer={"kind": "relational_dp", "parameters": spec.synthesizer.model_dump(mode="json")},
        digests={
            "spec_sha256": spec_sha256(spec),
            "code_version": f"{__version__}/schema-{store.CODE_VERSION}",
            "gate_settings_sha256": hashlib.sha256(
                json.dumps({"checks": asdict(chain.checks), "rho": gate_rho}, sort_keys=True).encode()
            ).hexdigest(),
        },
    )
    return schema_certificate.write(
        schema_certificate.certificate_dir(storage.root_path, schema, run_id), content
    )
