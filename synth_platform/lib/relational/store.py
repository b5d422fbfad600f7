"""Where a schema's chain keeps its tables and model, and the steps between them (no Dagster).

Why one module: the Dagster stages (`defs/schema_chain/`) stay thin; each calls one function here
that reads and writes warehouse tables in DuckDB SQL, chunk by chunk where rows are many.

Tables (the warehouse's zones, one name per table of the schema):

- `raw."<schema>__<table>"`: the ingested landing files (governed);
- DuckDB schemas `<schema>__masked` (keys pseudonymised, direct identifiers dropped),
  `<schema>__bounded` (contributions bounded, `__person` attributed), `<schema>__train` and
  `<schema>__holdout` (the person split), `<schema>__fit` / `<schema>__gate` (scratch): governed;
- `governance."<schema>__bounds"`: the bounds used and what bounding dropped (exact: governed);
- `governance.relational_verdicts`: the gate's decision per run, naming the model and the exact
  synthetic tables judged (noisy figures only);
- `synthetic."<schema>__<table>"`: the sample (a DP output);
- `release."<schema>__<table>"`: the released schema (all tables or none), copied to the
  published zone (`lib.storage.zones`: every table of the `release` schema).

The model is the pickled `RelationalSynthesizer` (only noisy measurements), stored in the
governed model space `data/models/<schema>/` under its SHA-256 with an HMAC under the platform
key; `current.json` names the current one, the ledger entry that paid for it and what it was
fitted on (source hashes and fit settings), so an unchanged source reuses it at no cost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from synth_platform.lib.governance import budget
from synth_platform.lib.governance.release import table_sha256
from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.ingest import warehouse_name
from synth_platform.lib.relational.person_split import split_by_person
from synth_platform.lib.relational.pseudonyms import pseudonymise
from synth_platform.lib.relational.schema_spec import DEFAULT_GATE_RHO, SchemaSpec
from synth_platform.lib.storage.private_files import make_parents_private, write_private
from synth_platform.lib.storage.warehouse import quote_ident

#: A bound left out of the spec: bounding for the gate's evidence uses this public cap; the
#: synthesizer then chooses its own (smaller or equal) bound under DP on the training side.
UNDECLARED_BOUND = 100
#: The gate's zCDP rho per evaluation (charged in a `gate` ledger row before it reads real data)
#: when the schema's spec sets no `checks.gate_rho`.
GATE_RHO = DEFAULT_GATE_RHO
#: People per sampled chunk written to the warehouse (memory: one chunk).
CHUNK_PEOPLE = 20_000
POINTER = "current.json"
VERDICTS = "relational_verdicts"
#: Bump when a stage's output changes for the same inputs: a new fit, a new gate evaluation.
CODE_VERSION = "1"


def q(name: str) -> str:
    return quote_ident(name)


def stage_schema(schema: str, stage: str) -> str:
    """The DuckDB schema of one governed stage of `schema` (masked, bounded, train, holdout, ...)."""
    return f"{schema}__{stage}"


def relations(spec: SchemaSpec, stage: str) -> dict[str, str]:
    """table -> qualified relation of a stage: raw/synthetic/release are shared schemas with
    `<schema>__<table>` names, the governed stages have a DuckDB schema of their own."""
    if stage in ("raw", "synthetic", "release"):
        return {t: f"{q(stage)}.{q(warehouse_name(spec.name, t))}" for t in spec.tables}
    return {t: f"{q(stage_schema(spec.name, stage))}.{q(t)}" for t in spec.tables}


def bounds_table(schema: str) -> str:
    return f"{q('governance')}.{q(f'{schema}__bounds')}"


# ---------------------------------------------------------------------- masking and the split


def masking_bounds(spec: SchemaSpec) -> dict[str, int]:
    """The bounds masking applies: declared, else the public `UNDECLARED_BOUND`."""
    return {t: (k if k is not None else UNDECLARED_BOUND) for t, k in contrib.required_bounds(spec).items()}


def mask(con, spec: SchemaSpec, secret: bytes) -> contrib.BoundReport:
    """Keys pseudonymised consistently across tables, direct identifiers dropped, contributions
    bounded. The bounds and the exact drop counts go to the governed `<schema>__bounds` table."""
    masked = pseudonymise(con, spec, relations(spec, "raw"), secret, stage_schema(spec.name, "masked"))
    _, report = contrib.bound_contributions(
        con, spec, masked, stage_schema(spec.name, "bounded"), masking_bounds(spec)
    )
    rows = [
        (
            t,
            report.bounds.get(t),
            report.multiplicity.get(t),
            report.kept.get(t),
            report.dropped_over_bound.get(t),
            report.dropped_cascade.get(t),
        )
        for t in report.kept
    ]
    con.execute("CREATE SCHEMA IF NOT EXISTS governance")
    con.execute(
        f"CREATE OR REPLACE TABLE {bounds_table(spec.name)} (tbl VARCHAR, bound INTEGER, multiplicity "
        "INTEGER, kept BIGINT, dropped_over_bound BIGINT, dropped_cascade BIGINT)"
    )
    con.executemany(f"INSERT INTO {bounds_table(spec.name)} VALUES (?, ?, ?, ?, ?, ?)", rows)
    return report


def recorded_bounds(con, spec: SchemaSpec) -> dict[str, int]:
    """The bounds masking used (public: declared or the public cap)."""
    rows = con.execute(f"SELECT tbl, bound FROM {bounds_table(spec.name)} WHERE bound IS NOT NULL").fetchall()
    return {str(t): int(b) for t, b in rows}


def split(con, spec: SchemaSpec, secret: bytes):
    """The person split of the bounded tables (`person_split.split_by_person`)."""
    bounded = {t: r for t, r in relations(spec, "bounded").items() if t not in spec.lookups}
    bounded.update({t: relations(spec, "masked")[t] for t in spec.lookups})
    return split_by_person(
        con, spec, bounded, secret, stage_schema(spec.name, "train"), stage_schema(spec.name, "holdout")
    )


def side_relations(spec: SchemaSpec, side: str) -> dict[str, str]:
    """train/holdout relations (lookups: the masked copy, public, on both sides)."""
    out = relations(spec, side)
    out.update({t: relations(spec, "masked")[t] for t in spec.lookups})
    return out


def training_views(con, spec: SchemaSpec) -> dict[str, str]:
    """The training tables without the bounding's helper columns and with their original keys (an
    entity held through the link table once, not once per holding: `contribution.uncopied_sql`),
    as views (what `fit` reads)."""
    plain = stage_schema(spec.name, "train_plain")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(plain)}")
    out = {}
    train = side_relations(spec, "train")
    for name, relation in train.items():
        columns = [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()]
        sql = contrib.uncopied_sql(spec, name, train, columns) if name in spec.modelled else None
        if sql is None:
            keep = ", ".join(q(c) for c in columns if c not in contrib.HELPER_COLUMNS)
            sql = f"SELECT {keep} FROM {relation}"
        con.execute(f"CREATE OR REPLACE VIEW {q(plain)}.{q(name)} AS {sql}")
        out[name] = f"{q(plain)}.{q(name)}"
    return out


# ---------------------------------------------------------------------- the budget


def training_spend(synthesizer) -> budget.Spend:
    """What one fit costs per person, from public facts only (the spec and its declared domains),
    before any row is read: the synthesizer's own allocation (`_allocate`: rho of its (epsilon,
    delta), half of delta to thresholds when a category list is chosen under DP)."""
    synthesizer._allocate()
    thresholded = synthesizer.delta_threshold > 0
    spend = budget.spend_for(
        "dp_mst", {"epsilon": synthesizer.epsilon, "delta": synthesizer.delta}, thresholded=thresholded
    )
    if abs(spend.rho - synthesizer.rho_total) > 1e-12 * max(1.0, spend.rho):
        return budget.Spend(spend.epsilon, spend.delta, synthesizer.rho_total, synthesizer.delta_threshold)
    return spend


def fit_settings(spec: SchemaSpec, factory: str) -> dict:
    """Everything besides the source that shapes a fit (a changed one means a new, charged fit)."""
    return {
        "tables": {n: t.model_dump(mode="json") for n, t in spec.tables.items()},
        "foreign_keys": [fk.model_dump(mode="json") for fk in spec.foreign_keys],
        "person": spec.person,
        "synthesizer": spec.synthesizer.model_dump(mode="json"),
        "split": spec.split.model_dump(mode="json"),
        "code": CODE_VERSION,
        "factory": factory,
    }


def source_hash(con, spec: SchemaSpec, run_id: str) -> str:
    """One hash of the set of files this run ingested (every table's content hash, in order)."""
    from synth_platform.lib.storage import ingest_log

    parts = {
        t: ingest_log.source_hash_for_run(con, warehouse_name(spec.name, t), run_id) for t in spec.tables
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------- the model space


@dataclass(frozen=True)
class StoredModel:
    """The current model and what paid for it (duck-types `synthesis.FittedModel` for
    `budget.charge_or_reuse`: sha256, charged_by, provenance, train_data_hash)."""

    path: Path
    sha256: str
    charged_by: int | None
    provenance: dict
    train_data_hash: str = ""


def _mac(key: bytes, payload: bytes) -> str:
    return hmac.new(key, b"relational model v1\0" + payload, hashlib.sha256).hexdigest()


def save_model(synthesizer, model_dir: Path, key: bytes, charged_by: int, provenance: dict) -> StoredModel:
    """Pickle the fitted synthesizer under its SHA-256, with an HMAC, and make it current."""
    blob = pickle.dumps(synthesizer, protocol=pickle.HIGHEST_PROTOCOL)
    sha = hashlib.sha256(blob).hexdigest()
    path = Path(model_dir) / f"{sha[:16]}.pkl"
    make_parents_private(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(blob)
    path.chmod(0o600)
    pointer = {
        "file": path.name,
        "sha256": sha,
        "charged_by": int(charged_by),
        "provenance": provenance,
        "saved_at": datetime.now(UTC).isoformat(),
    }
    pointer["mac"] = _mac(key, json.dumps({k: v for k, v in pointer.items()}, sort_keys=True).encode())
    pointer["file_mac"] = _mac(key, blob)
    write_private(Path(model_dir) / POINTER, json.dumps(pointer, sort_keys=True))
    return StoredModel(path, sha, int(charged_by), provenance)


class ModelError(RuntimeError):
    """No current model, or one that fails its HMAC: never loaded."""


def current_model(model_dir: Path, key: bytes) -> StoredModel | None:
    """The current model if its pointer and file verify under `key`; None when there is none."""
    pointer_path = Path(model_dir) / POINTER
    if not pointer_path.exists():
        return None
    pointer = json.loads(pointer_path.read_text())
    signed = {k: v for k, v in pointer.items() if k not in ("mac", "file_mac")}
    if not hmac.compare_digest(
        pointer.get("mac", ""), _mac(key, json.dumps(signed, sort_keys=True).encode())
    ):
        raise ModelError(f"the model pointer {pointer_path} fails its HMAC; it is not used")
    path = Path(model_dir) / pointer["file"]
    return StoredModel(path, pointer["sha256"], pointer["charged_by"], pointer["provenance"])


def load_model(model: StoredModel, key: bytes):
    """Unpickle the model only after its file's hash and HMAC verify (a pickle runs code)."""
    blob = model.path.read_bytes()
    pointer = json.loads((model.path.parent / POINTER).read_text())
    if hashlib.sha256(blob).hexdigest() != model.sha256 or not hmac.compare_digest(
        pointer.get("file_mac", ""), _mac(key, blob)
    ):
        raise ModelError(f"the model file {model.path.name} fails its hash or HMAC; it is not loaded")
    return pickle.loads(blob)


# ---------------------------------------------------------------------- sampling


def write_synthetic(con, spec: SchemaSpec, synthesizer, seed: int, chunk_people: int = CHUNK_PEOPLE) -> dict:
    """Sample the schema chunk by chunk into `synthetic."<schema>__<table>"` (one transaction);
    returns rows per table (synthetic: a DP output)."""
    targets = relations(spec, "synthetic")
    rows = dict.fromkeys(spec.tables, 0)
    created: set[str] = set()
    con.execute("CREATE SCHEMA IF NOT EXISTS synthetic")
    con.execute("BEGIN TRANSACTION")
    try:
        for chunk in synthesizer.sample_chunks(seed=seed, chunk_people=chunk_people):
            for table, frame in chunk.items():
                con.register("_chunk", frame)
                if table in created:
                    con.execute(f"INSERT INTO {targets[table]} SELECT * FROM _chunk")
                else:
                    con.execute(f"CREATE OR REPLACE TABLE {targets[table]} AS SELECT * FROM _chunk")
                    created.add(table)
                con.unregister("_chunk")
                rows[table] += len(frame)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return rows


def synthetic_sha256(con, spec: SchemaSpec, stage: str = "synthetic") -> str:
    """One content hash over every table of a stage (`release.table_sha256` of each)."""
    parts = {t: table_sha256(con, stage, warehouse_name(spec.name, t)) for t in sorted(spec.tables)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------- the gate's record


def evaluation_id(model_sha256: str, synthetic: str, settings: dict) -> str:
    """Same model, same synthetic tables, same settings: the same evaluation, charged once."""
    text = json.dumps({"model": model_sha256, "synthetic": synthetic, "settings": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _ensure_verdicts(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS governance")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS governance.{VERDICTS} (schema_name VARCHAR, run_id VARCHAR, "
        "recorded_at TIMESTAMP, release BOOLEAN, blocked_by VARCHAR, synthetic_sha256 VARCHAR, "
        "model_sha256 VARCHAR, verdicts VARCHAR)"
    )


def record_verdict(con, schema: str, run_id: str, decision, synthetic: str, model_sha: str, public) -> None:
    """The gate's decision for this run, naming exactly what it judged; `public`: the verdicts as
    `public_verdict` gives them (noisy figures only)."""
    _ensure_verdicts(con)
    con.execute(
        f"INSERT INTO governance.{VERDICTS} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            schema,
            run_id,
            datetime.now(UTC).replace(tzinfo=None),
            bool(decision.release),
            ", ".join(decision.blocked_by),
            synthetic,
            model_sha,
            json.dumps(public),
        ],
    )


def run_verdict(con, schema: str, run_id: str) -> dict | None:
    """This run's latest recorded gate decision for `schema`, or None."""
    _ensure_verdicts(con)
    row = con.execute(
        f"SELECT release, blocked_by, synthetic_sha256, model_sha256, verdicts FROM governance.{VERDICTS} "
        "WHERE schema_name = ? AND run_id = ? ORDER BY recorded_at DESC LIMIT 1",
        [schema, run_id],
    ).fetchone()
    if row is None:
        return None
    return dict(
        zip(("release", "blocked_by", "synthetic_sha256", "model_sha256", "verdicts"), row, strict=True)
    )


def public_verdict(verdict) -> dict:
    """A verdict as it may leave the governed side: its noisy value (exact only where it reads no
    real data: orphans), threshold, outcome, rho and noise scale."""
    return {
        "name": verdict.name,
        "value": round(float(verdict.value), 6),
        "threshold": float(verdict.threshold),
        "passed": bool(verdict.passed),
        "rho": float(verdict.rho),
        "sigma": round(float(verdict.sigma), 6),
        "description": verdict.description,
    }


# ---------------------------------------------------------------------- release


def publish(con, spec: SchemaSpec, inside=None) -> tuple[dict[str, int], object]:
    """Every synthetic table copied to `release."<schema>__<table>"` in one transaction with
    `inside(con)` (the `released` ledger row): the whole schema or (on any error) nothing, the
    previous release intact. Returns (rows per table, what `inside` returned)."""
    source, target = relations(spec, "synthetic"), relations(spec, "release")
    con.execute("CREATE SCHEMA IF NOT EXISTS release")
    con.execute("BEGIN TRANSACTION")
    try:
        for table in spec.tables:
            con.execute(f"CREATE OR REPLACE TABLE {target[table]} AS SELECT * FROM {source[table]}")
        result = inside(con) if inside is not None else None
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    rows = {t: int(con.execute(f"SELECT count(*) FROM {target[t]}").fetchone()[0]) for t in spec.tables}
    return rows, result
