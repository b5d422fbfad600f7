"""The chain run the way the daemon and the UI run it, then searched for planted identifiers.

`execute_in_process` (the other integration tests) keeps no compute logs. Here the job runs
through the `dagster` CLI against a real `DAGSTER_HOME`: the job's own executor (in process since
the chain job declares `in_process_executor`, defs/automation.py), the `duckdb_warehouse` pool,
the warehouse file lock, and the run's captured stdout/stderr. Everything
that run leaves on disk outside the warehouse (the instance's event database, the compute
logs, the model files, the evidence pack) and everything it printed must hold no raw identifier of the source.
Then the operator commands run on that warehouse: `export-train` (the file it writes and what it
prints), and `check` on the landing file itself — every planted identifier in clear, the worst
table an outside team could hand in — whose output and `check` ledger row must hold none either.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from synth_platform_tests.conftest import PROJECT_ROOT
from synth_platform_tests.pipeline_harness import DATASET, identifiers_in, make_project, planted_identifiers

pytestmark = pytest.mark.integration
ROWS = 1500


def test_cli_run_leaves_no_identifier_in_logs_events_or_models(tmp_path):
    # 1,500 rows need a 30 % holdout for the gate's size check (lib.synthesize.split.rows_needed)
    project = make_project(tmp_path, rows=ROWS, spec_overrides={"split": {"holdout_fraction": 0.3}})
    landing_file = next(project.landing.glob("*.csv"))
    planted = planted_identifiers(pd.read_csv(landing_file, dtype=str))

    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(PROJECT_ROOT / "config" / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "SYNTH_PROJECT_ROOT": str(project.root),
        "SYNTH_SPECS_DIR": str(project.settings.specs_dir),
        "SYNTH_WAREHOUSE_PATH": str(project.settings.warehouse_path),
    }
    command = [sys.executable, "-m", "dagster", "job", "execute", "-m", "synth_platform.definitions"]
    command += ["-a", "defs", "-j", f"{DATASET}_governed_chain"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed[-4000:]
    assert "Executing steps in process" in printed  # the executor the chain job declares

    released = project.query(f"SELECT count(*) AS n FROM release.{DATASET}")["n"][0]
    assert released > 0.7 * ROWS

    model_dir = project.root / "data" / "models" / DATASET
    evidence_dir = project.root / "data" / "evidence" / DATASET
    files = [p for root in (dagster_home, model_dir, evidence_dir) for p in root.rglob("*") if p.is_file()]
    compute_logs = [p for p in files if p.suffix in (".out", ".err") and p.stat().st_size]
    assert compute_logs, "no step's output was captured: nothing was searched"
    assert any(p.suffix == ".pkl" for p in files)
    assert {p.name for p in files if p.parent.parent == evidence_dir} >= {"report.html", "report.json"}
    stored = "\n".join(p.read_bytes().decode("utf-8", "ignore") for p in files)
    assert "dbt build" in stored  # what the steps logged is in the searched text (event DB and .err logs)

    operator = _operator_commands(env, landing_file, tmp_path)

    # Counts only: a failing leak test must not print the identifiers it found.
    found = {
        where: len(identifiers_in(text, planted))
        for where, text in (("cli_output", printed), ("stored", stored), *operator.items())
    }
    assert found == dict.fromkeys(found, 0), "raw identifiers found (counts per place)"


def _operator_commands(env: dict, landing_file, tmp_path) -> dict[str, str]:
    """What `export-train` and `check` (on the raw landing file) print and write, by place."""
    script = os.path.join(os.path.dirname(sys.executable), "synth-platform")

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([script, *argv], env=env, capture_output=True, text=True, timeout=600)

    exported = tmp_path / "train_export.csv"
    export = run("export-train", DATASET, str(exported))
    assert export.returncode == 0, export.stderr[-2000:]
    checked = run("check", DATASET, str(landing_file), "--trained-on", "all")
    assert checked.returncode == 1, checked.stderr[-2000:]  # real identifiers in clear: blocked
    assert "no_identifier_leak" in checked.stdout.split("failed: ")[-1]
    as_json = run("check", DATASET, str(landing_file), "--trained-on", "all", "--json")
    assert as_json.returncode == 1, as_json.stderr[-2000:]
    shown = run("ledger", "show", DATASET, "--json")
    assert shown.returncode == 0, shown.stderr[-2000:]
    rows = [e for e in json.loads(shown.stdout)["entries"] if e["event"] == "check"]
    assert len(rows) == 2 and all(r["parameters"]["verdict"] == "blocked" for r in rows)
    assert run("ledger", "verify", "--no-event-log").returncode == 0
    return {
        "export_output": export.stdout + export.stderr,
        "export_file": exported.read_text(),
        "check_output": checked.stdout + checked.stderr + as_json.stdout + as_json.stderr,
        "check_ledger_rows": json.dumps(rows),
        "ledger_show": shown.stdout + run("ledger", "show", DATASET).stdout,
    }
