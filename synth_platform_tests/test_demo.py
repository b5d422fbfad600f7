"""`make demo`'s own path: `python -m synth_platform.demo`, as the Makefile calls it, in a fresh project.

The other end-to-end tests build the chain through a harness on samples; this one runs the demo entry
point itself on the full demo file (about a minute on 2 cores), in a subprocess whose project root,
DAGSTER_HOME and secrets are temporary folders, and checks what a user reads at the end of `make demo`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from synth_platform.lib.governance import ledger
from synth_platform.lib.storage import warehouse
from synth_platform_tests.conftest import PROJECT_ROOT


def test_make_demo_releases_dp_mst_at_epsilon_1_and_prints_what_it_promises(tmp_path):
    root, home = tmp_path / "project", tmp_path / "dagster_home"
    root.mkdir()  # the datasets are the code location's own (synth_platform/defs/datasets)
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")  # as `make` does
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SYNTH_PROJECT_ROOT": str(root),  # the landing file, warehouse, models, evidence, certificates
        "SYNTH_AUTOMATION_STATUS": "STOPPED",
    }
    for name in ("SYNTH_SPECS_DIR", "SYNTH_WAREHOUSE_PATH", "SYNTH_PUBLISHED_PATH"):
        env.pop(name, None)  # derived from the root, as in a fresh clone
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "synth_platform.demo"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    out = done.stdout
    assert done.returncode == 0, f"demo failed after {seconds:.0f} s:\n{out[-4000:]}\n{done.stderr[-4000:]}"

    assert "Release decision: released" in out
    assert "Synthesizer: dp_mst: differentially private (epsilon 1 at delta 1e-09 per training)" in out
    budget = re.search(r"Privacy budget: epsilon 10 at delta 1e-09; cumulative epsilon ([\d.]+),", out)
    assert budget and 1.0 < float(budget.group(1)) < 10.0, "the training (epsilon 1) plus the gate's charge"
    # every release-gate check is printed; the real-data ones with their noisy figure ± its DP noise sd
    gate = re.findall(r"^  (PASS|FAIL)  (\w+) +(.*)$", out, flags=re.MULTILINE)
    assert len(gate) == 14 and {verdict for verdict, _, _ in gate} == {"PASS"}, out
    noisy = {check: rest for _, check, rest in gate if "±" in rest}
    assert {"quality_score", "near_copies", "membership_inference", "holdout_size"} <= set(noisy), out
    assert all(re.match(r"-?[\d.]+ ± [\d.]+ +\(threshold ", rest) for rest in noisy.values()), noisy

    certificate = re.search(r"^Release certificate \(public[^)]*\): (.+)$", out, flags=re.MULTILINE)
    assert certificate, out
    path = Path(certificate.group(1).strip())
    assert path.is_file() and path.resolve().is_relative_to(root.resolve())
    assert path.suffix in (".html", ".json")
    assert (path.with_suffix(".json")).is_file()
    assert json.loads(path.with_suffix(".json").read_text())  # a readable certificate
    evidence = re.search(r"^Evidence pack \([^)]*\): (.+)$", out, flags=re.MULTILINE)
    assert evidence and Path(evidence.group(1).strip()).is_file()

    # the ledger (not the printout) says dp_mst was trained at epsilon 1 and the table released
    with warehouse.connect(root / "data" / "warehouse.duckdb", read_only=True) as con:
        rows = ledger.read_ledger(con, "adult_customers")
    trained = rows[rows["event"] == "trained"]
    assert list(trained["synthesizer"]) == ["dp_mst"]
    params = json.loads(trained["parameters"].iloc[0])
    assert params["epsilon"] == 1.0 and params["delta"] == 1e-9
    assert list(rows["event"])[-1] == "released"

    # this run's DP noise was the suite's seed (conftest), and the synthesizer step says so
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["adult_customers", "synthesizer"]))
        noise = event.asset_materialization.metadata["dp_noise"].value
    assert "seeded test noise" in noise and "not private" in noise
    print(f"make demo's path took {seconds:.0f} s")
