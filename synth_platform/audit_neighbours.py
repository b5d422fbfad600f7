"""Audit (a): neighbouring sources through the whole chain, public outputs compared.

The demo's landing file, the same file with one row removed, and with one row changed, each run
through the real Dagster chain (ingest to dbt) in its own scratch project with the same spec,
approved plan, key and seeds. What leaves the governed side -- the published zone's schema, row
counts and ledger view, and the release certificate -- is collected and compared path by path
(`lib/governance/public_outputs.py`): every output must be covered by a DP mechanism or be a function of
public inputs, and the public ones must be identical across the three sources.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from synth_platform.lib.governance import public_outputs
from synth_platform.lib.storage import zones

DATASET = "adult_customers"


def neighbours(frame: pd.DataFrame, seed: int = 5) -> dict[str, pd.DataFrame]:
    """The source, one row removed, and one row changed (some attributes taken from another row)."""
    rng = np.random.default_rng(seed)
    victim = int(rng.integers(len(frame)))
    removed = frame.drop(index=frame.index[victim]).reset_index(drop=True)
    changed = frame.copy()
    donor = int(rng.integers(len(frame)))
    for column in ("age", "workclass", "education", "occupation", "hours_per_week", "income"):
        if column in changed.columns:
            changed.loc[changed.index[victim], column] = frame.loc[frame.index[donor], column]
    return {"source": frame, "one_row_removed": removed, "one_row_changed": changed}


def _published(warehouse: Path) -> dict:
    path = zones.published_path(warehouse)
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall()
        schema, counts = {}, {}
        for s, t in tables:
            columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [s, t],
            ).fetchall()
            schema[f"{s}.{t}"] = [list(c) for c in columns]
            counts[f"{s}.{t}"] = con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0]
        ledger_tables = [f"{s}.{t}" for s, t in tables if t == "ledger" or t.startswith("ledger")]
        ledger = []
        if ledger_tables:
            s, t = ledger_tables[0].split(".", 1)
            ledger = json.loads(
                con.execute(f'SELECT * FROM "{s}"."{t}" ORDER BY 1').df().to_json(orient="records")
            )
    finally:
        con.close()
    return {"schema": schema, "row_counts": counts, "ledger": ledger}


def _certificate(root: Path) -> dict:
    found = sorted((root / "data" / "certificates").rglob("certificate.json"))
    return json.loads(found[-1].read_text()) if found else {}


def run_one(name: str, frame: pd.DataFrame, work: Path, project_root: Path) -> dict:
    import dagster as dg

    from synth_platform.definitions import build_definitions
    from synth_platform.defs.automation import chain_job_name
    from synth_platform.settings import Settings

    root = work / name
    specs = root / "datasets"  # the dataset's defs.yaml and approved masking_plan.yaml
    shutil.copytree(project_root / "synth_platform" / "defs" / "datasets" / DATASET, specs / DATASET)
    landing = root / "data" / "landing" / DATASET
    landing.mkdir(parents=True)
    path = landing / f"{DATASET}.csv"
    frame.to_csv(path, index=False)
    settings = Settings(root=root, specs_dir=specs, warehouse_path=root / "data" / "warehouse.duckdb")
    job = build_definitions(settings).resolve_job_def(chain_job_name(DATASET))
    config = {
        "ops": {f"{DATASET}__raw": {"config": {"landing_file": str(path)}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},  # the audit prints its own report
    }
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(run_config=config, instance=instance, raise_on_error=False)
    return {
        "run_succeeded": result.success,
        "public": {"published": _published(settings.warehouse_path), "certificate": _certificate(root)},
    }


def audit(project_root: Path, frame: pd.DataFrame, work: Path | None = None) -> dict:
    """Run the three neighbouring sources and compare their public outputs."""
    work = Path(work or tempfile.mkdtemp(prefix="synth_audit_"))
    # One key for the three runs, as one installation would have: pseudonyms and split keyed alike.
    os.environ.setdefault("SYNTH_SECRETS_DIR", str(work / "secrets"))
    runs = {name: run_one(name, variant, work, project_root) for name, variant in neighbours(frame).items()}
    findings = public_outputs.compare([r["public"] for r in runs.values()])
    return {
        "runs": {name: r["run_succeeded"] for name, r in runs.items()},
        "summary": public_outputs.summary(findings),
        "outputs": [f.__dict__ for f in findings],
    }
