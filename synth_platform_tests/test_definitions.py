"""The code location loads as `dagster dev` loads it, with the graph a user expects."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg

from synth_platform_tests.conftest import PROJECT_ROOT

STAGES = ["raw", "pii_report", "masked", "train", "holdout", "synthesizer", "synthetic", "release"]


def test_graph_checks_and_code_versions():
    from synth_platform.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {f"adult_customers/{s}" for s in STAGES} <= keys
    assert "governance/ledger" in keys
    assert any(k.startswith("analytics/") for k in keys)
    for stage in STAGES:
        node = graph.get(dg.AssetKey(["adult_customers", stage]))
        assert node.code_version, stage
    checks = [graph.get_check_spec(k) for k in graph.asset_check_keys]
    gate = [c for c in checks if c.asset_key == dg.AssetKey(["adult_customers", "synthetic"])]
    from synth_platform.defs.chain.gate import gate_checks
    from synth_platform.lib.dataset_instances import load_instance
    from synth_platform.settings import DATASETS_DIR

    spec = load_instance(DATASETS_DIR / "adult_customers")
    assert {c.name for c in gate} == set(gate_checks(spec)) and all(c.blocking for c in gate)
    assert "utility_tstr" in gate_checks(spec)  # the demo declares a utility target
    release = graph.get(dg.AssetKey(["adult_customers", "release"]))
    assert dg.AssetKey(["adult_customers", "synthetic"]) in release.parent_keys
    assert defs.get_schedule_def("nightly_refresh")
    assert defs.get_sensor_def("adult_customers_landing_sensor")
    alerts = ("run_failure_alert", "privacy_budget_alert", "stale_release_alert")
    assert all(defs.get_sensor_def(name) for name in alerts)
    # a release's freshness is its policy (evaluated by the daemon, shown in the UI), not a check
    assert isinstance(release.freshness_policy, dg.FreshnessPolicy)
    assert not [k for k in graph.asset_check_keys if "freshness" in k.name]


def test_dagster_cli_validates_the_workspace(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
