"""Writing the evidence pack of a release decision from the gate and the release step (governance.evidence).

The gate has every frame in hand, so it writes the whole pack (pictures included) with the
decision it knows: `blocked`, or `passed the gate` awaiting release. The release step then
records the final decision and its ledger row in the same pack. Both attach the pack's path to
the decision's asset metadata so the UI links to it.
"""

from collections.abc import Callable

import dagster as dg
import pandas as pd

from synth_platform import __version__
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.lib.gate.evaluation.evidence_worker import evidence_pictures
from synth_platform.lib.governance import evidence, ledger
from synth_platform.lib.progress import timed

PENDING = "passed the gate (awaiting release)"


def _ledger_rows(warehouse: WarehouseResource, dataset: str) -> list[dict]:
    with warehouse.connect(read_only=True) as con:
        rows = ledger.read_ledger(con, dataset)
    return [{k: v for k, v in row.items()} for row in rows.to_dict(orient="records")]


def _source(warehouse: WarehouseResource, dataset: str) -> dict:
    with warehouse.connect(read_only=True) as con:
        try:
            row = con.execute(
                "SELECT file_name, source_hash, rows, ingested_at FROM governance.ingests WHERE dataset = ? "
                "ORDER BY ingested_at DESC LIMIT 1",
                [dataset],
            ).fetchone()
        except Exception:  # no ingest recorded (a test building the chain from tables)
            row = None
    if row is None:
        return {"source_hash": "unknown"}
    return {"source_file": row[0], "source_hash": row[1], "source_rows": row[2], "ingested_at": str(row[3])}


def _budget(warehouse: WarehouseResource, spec) -> dict:
    """Spent, remaining and the share left, as the budget check computes them (`budget.summary`)."""
    from synth_platform.lib.governance import budget as budget_lib

    with warehouse.connect(read_only=True) as con:
        return budget_lib.summary(
            con, spec.name, spec.privacy.epsilon_budget, getattr(spec.privacy, "delta", None)
        )


def metadata_entries(pack: evidence.EvidencePack) -> dict:
    """Path and file URL of the pack's HTML report, for an asset's metadata."""
    return {
        "evidence_report": dg.MetadataValue.path(str(pack.html)),
        "evidence_url": dg.MetadataValue.url(pack.html.resolve().as_uri()),
    }


def write_gate_evidence(
    log,
    run_id: str,
    spec,
    plan,
    model,
    report,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    warehouse: WarehouseResource,
    storage: StorageResource,
    pictures: Callable[[], tuple[dict[str, bytes], dict[str, str]]] | None = None,
) -> evidence.EvidencePack:
    """The full pack, written by the gate (frames: synthetic in source shape, train, holdout).

    `pictures`: what gives the pictures and their notes when they were drawn elsewhere (the gate's
    evidence worker: joined here, as late as possible); None draws them here from `frames`
    (`evidence_pictures`, the function the worker runs: the same bytes either way)."""
    from synth_platform.defs.chain.common import STAGE_VERSIONS  # here: the chain imports this module

    ds = spec.name
    with warehouse.connect(read_only=True) as con:
        findings = con.execute(f"SELECT * FROM governance.pii_{ds}").df()
    rows = _ledger_rows(warehouse, ds)
    run_rows = [r for r in rows if r.get("run_id") == run_id]
    trained = next((r for r in reversed(run_rows) if r.get("event") == "trained"), None)
    checks = [evidence.outcome_dict(o) for o in report.outcomes]
    utility = next((c["details"].get("targets", []) for c in checks if c["name"] == "utility_tstr"), [])
    decision = PENDING if report.passed else "blocked: failed " + ", ".join(report.failed_checks)
    if pictures is None:
        with timed(log, f"evidence pictures for '{ds}'", len(frames[1])):
            drawn, notes = evidence_pictures(spec, plan, frames)
    else:
        with timed(log, f"evidence pictures for '{ds}' (drawn by the evidence worker)"):
            drawn, notes = pictures()
    content = evidence.assemble(
        dataset=ds,
        run_id=run_id,
        decision=decision,
        failed_checks=report.failed_checks,
        spec=spec.model_dump(mode="json", by_alias=True),
        code={
            "version": __version__,
            "stage_versions": STAGE_VERSIONS,
            "seeds": {
                "split": spec.split.seed,
                "synthesizer": spec.synthesizer.seed,
                "checks": spec.checks.seed,
                "utility": spec.utility.seed,
            },
        },
        source=_source(warehouse, ds),
        pii_findings=findings.to_dict(orient="records"),
        treatments=[
            {
                "column": t.column,
                "pii_class": t.pii_class,
                "detected_type": t.detected_type or "",
                "action": t.action if t.action != "generalize" else f"generalize:{t.generalize}",
                "reaches_model": t.reaches_model,
            }
            for t in plan
        ],
        synthesizer={
            "kind": model.kind,
            "parameters": model.params,
            "model_sha256": model.sha256,
            "train_data_hash": model.train_data_hash,
            "train_rows": model.train_rows,
            "fit_seconds": round(model.fit_seconds, 2),
            "epsilon_note": (trained or {}).get("epsilon_note", "not trained in this run"),
        },
        checks=checks,
        utility=utility,
        run_ledger_rows=run_rows,
        budget=_budget(warehouse, spec),
        picture_notes=notes,
    )
    pack = evidence.write_pack(evidence.pack_dir(storage.root_path, ds, run_id), content, drawn)
    log.info(f"Evidence pack of '{ds}' ({decision}): {pack.html}")
    return pack


def record_release(
    run_id: str, spec, ledger_row: dict, warehouse: WarehouseResource, storage: StorageResource
) -> evidence.EvidencePack | None:
    """Mark the gate's pack released, with its ledger row; None if the gate wrote no pack."""
    directory = evidence.pack_dir(storage.root_path, spec.name, run_id)
    if not (directory / "report.json").exists():
        return None
    budget = _budget(warehouse, spec)
    return evidence.record_decision(directory, "released", [ledger_row], budget)
