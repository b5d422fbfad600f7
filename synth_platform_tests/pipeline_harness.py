"""Run the real governed chain in a temporary project: real DuckDB, SDV, GX and dbt."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from synth_platform.definitions import build_definitions
from synth_platform.defs.automation import chain_job_name
from synth_platform.lib.dataset_instances import load_instance, read_spec_dict, write_instance
from synth_platform.lib.demo_data import write_demo_landing_file
from synth_platform.lib.pii import approved_plan, discovery
from synth_platform.lib.storage import zones
from synth_platform.lib.storage.ingest import read_landing_file
from synth_platform.settings import DATASETS_DIR, Settings

DATASET = "adult_customers"
IDENTIFIER_COLUMNS = ["customer_id", "full_name", "email", "phone", "ssn", "street_address"]
_TOKEN = re.compile(r"[\w@.+'-]+")


def planted_identifiers(raw_source: pd.DataFrame) -> set[str]:
    """Every raw direct-identifier value of a landing file."""
    values = set()
    for column in IDENTIFIER_COLUMNS:
        values.update(raw_source[column].dropna().astype(str))
    return values


def identifiers_in(text: str, planted: set[str], min_length: int = 8) -> list[str]:
    """The planted identifiers (of at least `min_length` characters) that occur anywhere in `text`.

    A value can only occur if each of its tokens does, so the token set of the text filters
    out almost every value before the substring search: linear in text and values, not their product.
    """
    tokens = set(_TOKEN.findall(text))
    return [
        value
        for value in planted
        if len(value) >= min_length and all(t in tokens for t in _TOKEN.findall(value)) and value in text
    ]


@dataclass
class Project:
    root: Path
    settings: Settings
    instance: dg.DagsterInstance

    @property
    def landing(self) -> Path:
        return self.root / "data" / "landing" / DATASET

    @property
    def quarantine(self) -> Path:
        return self.root / "data" / "quarantine" / DATASET

    def definitions(self, synthesizers=None) -> dg.Definitions:
        return build_definitions(self.settings, synthesizers=synthesizers)

    def run(self, landing_file: Path | None = None, synthesizers=None, job_name: str | None = None):
        job = self.definitions(synthesizers).resolve_job_def(job_name or chain_job_name(DATASET))
        config = {"ops": {f"{DATASET}__raw": {"config": {"landing_file": str(landing_file or "")}}}}
        return job.execute_in_process(run_config=config, instance=self.instance, raise_on_error=False)

    def query(self, sql: str) -> pd.DataFrame:
        con = duckdb.connect(str(self.settings.warehouse_path), read_only=True)
        try:
            return con.execute(sql).df()
        finally:
            con.close()

    def query_published(self, sql: str) -> pd.DataFrame:
        """A query on the published zone (released tables, the ledger, dbt's models)."""
        con = duckdb.connect(str(zones.published_path(self.settings.warehouse_path)), read_only=True)
        try:
            return con.execute(sql).df()
        finally:
            con.close()

    def table_or_none(self, sql: str) -> pd.DataFrame | None:
        try:
            return self.query(sql)
        except duckdb.CatalogException:
            return None

    def run_text(self, run_id: str) -> str:
        """Every event of a run (messages, metadata, check results) as one searchable string."""
        records = self.instance.get_records_for_run(run_id, limit=100_000).records
        return "\n".join(json.dumps(r.event_log_entry.to_json()) for r in records)


#: Who approves the masking plans the harness places (as `synth-platform pii approve --by` would record).
REVIEWER = "test reviewer"


def approve_plan(specs_dir: Path, name: str, landing_file: Path) -> Path | None:
    """What a person would approve: discovery on the landing file (typed as ingest reads it), proposed
    and written next to the spec (`lib.pii.approved_plan`). None when the file cannot be read as the spec
    says: such a run stops at ingest, before the plan matters."""
    spec = load_instance(specs_dir / name)
    try:
        frame = read_landing_file(landing_file, spec)
    except Exception:  # a deliberately bad file: ingest refuses it first
        return None
    hints = {n: (c.pii.pii_class, c.pii.type) for n, c in spec.columns.items() if c.pii is not None}
    proposal = approved_plan.propose(spec, discovery.discover(frame, hints=hints))
    return approved_plan.write_plan(approved_plan.plan_path(specs_dir, name), proposal, REVIEWER, spec=spec)


def make_project(tmp: Path, rows: int, spec_overrides: dict | None = None, approve: bool = True) -> Project:
    """A project with the demo spec, a landing file of `rows` rows and, with `approve`, the approved
    masking plan a reviewer would commit for it (without one the chain stops after pii_report)."""
    root = tmp / "project"
    spec = read_spec_dict(DATASETS_DIR / DATASET)
    spec["checks"]["evaluation_rows"] = 1500
    # The chain is under test here, not the synthesizer: on a 1,500-row sample the demo's dp_mst at
    # epsilon 1 is mostly noise (and blocks, rightly, on quality and utility) and takes ~30 s to fit.
    # The Gaussian copula (not private, so no budget) fits in a second. dp_mst and the budget have
    # their own tests (test_dp_mst, test_budget*, test_leak_battery) and `make demo` runs it on 48k rows.
    spec["synthesizer"] = {"kind": "gaussian_copula", "params": {"default_distribution": "truncnorm"}}
    spec["privacy"] = {"epsilon_budget": None, "delta": spec.get("privacy", {}).get("delta", 1e-9)}
    for section, values in (spec_overrides or {}).items():
        spec.setdefault(section, {}).update(values)
    write_instance(root / "datasets", spec)
    settings = Settings(root=root, specs_dir=root / "datasets", warehouse_path=root / "warehouse.duckdb")
    project = Project(root, settings, dg.DagsterInstance.ephemeral())
    landing_file = write_demo_landing_file(project.landing, rows=rows, seed=99)
    if approve:
        approve_plan(settings.specs_dir, DATASET, landing_file)
    return project


def run_generated_dataset(tmp: Path, spec: dict, frame: pd.DataFrame, approve: bool = True):
    """Place one spec and one landing CSV for any dataset, as a new user would, approve its masking
    plan (with `approve`: discovery's proposal, as the reviewer would), and run its chain.

    Returns (project, result). For tables the project generates in shapes unlike the demo.
    """
    name = spec["name"]
    root = tmp / "project"
    spec = {**spec, "source": {**spec["source"], "landing_dir": f"data/landing/{name}"}}
    write_instance(root / "datasets", spec)
    landing = root / "data" / "landing" / name
    landing.mkdir(parents=True, exist_ok=True)
    path = landing / f"{name}.csv"
    frame.to_csv(path, index=False)
    settings = Settings(root=root, specs_dir=root / "datasets", warehouse_path=root / "warehouse.duckdb")
    if approve:
        approve_plan(settings.specs_dir, name, path)
    project = Project(root, settings, dg.DagsterInstance.ephemeral())
    job = project.definitions().resolve_job_def(chain_job_name(name))
    config = {"ops": {f"{name}__raw": {"config": {"landing_file": str(path)}}}}
    return project, job.execute_in_process(run_config=config, instance=project.instance, raise_on_error=False)
