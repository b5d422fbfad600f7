"""What the asset catalog shows a user: owners, `pii` and `zone` tags, table names, freshness.

Two datasets unlike the demo: one with a declared (non-ASCII) team owner and a non-private
synthesizer, one with no owner and the default differentially private one.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from synth_platform.defs import catalog
from synth_platform.lib.dataset_instances import write_instance
from synth_platform.lib.governance import alerts
from synth_platform.lib.spec import SpecError, load_spec, spec_sha256
from synth_platform.settings import Settings
from synth_platform_tests.conftest import small_spec_dict

STAGES = ("raw", "pii_report", "masked", "train", "holdout", "synthesizer", "synthetic", "release")
TEAM = "team:données-clients"


def _write_specs(folder: Path) -> None:
    folder.mkdir()
    owned = {**small_spec_dict("ledger_rows", "landing/ledger_rows"), "owner": TEAM}
    plain = {
        "name": "visits",
        "source": {"landing_dir": "landing/visits", "format": "parquet"},
        "columns": {"Ward Name": {"type": "category"}, "triage": {"type": "category"}},
    }
    for spec in (owned, plain):
        write_instance(folder, spec)


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from synth_platform.definitions import build_definitions

    root = tmp_path_factory.mktemp("idioms")
    _write_specs(root / "specs")
    settings = Settings(root=root, specs_dir=root / "specs", warehouse_path=root / "warehouse.duckdb")
    return build_definitions(settings).resolve_asset_graph()


def node(graph, *path: str):
    return graph.get(dg.AssetKey(list(path)))


def defined(graph) -> list[dg.AssetKey]:
    """Every asset this code location defines (not the stand-in for a dbt source of a dataset
    whose spec is not in this folder, here the demo's `adult_customers/release`)."""
    ledger = dg.AssetKey(["governance", "ledger"])
    return [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable or k == ledger]


def test_every_asset_has_an_owner_the_spec_or_the_platform(graph):
    for key in defined(graph):
        assert graph.get(key).owners, f"{key.to_user_string()} has no owner"
    for stage in STAGES:
        assert node(graph, "ledger_rows", stage).owners == [TEAM]
        assert node(graph, "visits", stage).owners == [catalog.PLATFORM_OWNER]
    assert node(graph, "governance", "ledger").owners == [catalog.PLATFORM_OWNER]
    dbt_models = [k for k in graph.get_all_asset_keys() if k.path[0] == "analytics"]
    assert dbt_models and all(graph.get(k).owners == [catalog.PLATFORM_OWNER] for k in dbt_models)


def test_assets_holding_real_data_carry_pii_and_the_others_do_not(graph):
    def pii(ds, stage):
        return "pii" in node(graph, ds, stage).tags

    for ds in ("ledger_rows", "visits"):
        assert all(pii(ds, s) for s in ("raw", "masked", "train", "holdout")), ds
        assert not pii(ds, "pii_report") and not pii(ds, "release"), ds
    # a non-private model may memorise rows: it and its samples count as real data
    assert pii("ledger_rows", "synthesizer") and pii("ledger_rows", "synthetic")
    assert not pii("visits", "synthesizer") and not pii("visits", "synthetic")  # dp_mst: DP outputs
    assert "pii" not in node(graph, "governance", "ledger").tags


def test_releases_and_dbt_models_are_published_the_rest_governed(graph):
    for key in defined(graph):
        zone = graph.get(key).tags.get("zone")
        published = key.path[-1] == "release" or key.path[0] == "analytics"
        assert zone == ("published" if published else "governed"), key.to_user_string()


def test_every_table_asset_names_its_warehouse_table(graph):
    expected = {
        "raw": "raw.visits",
        "pii_report": "governance.pii_visits",
        "masked": "masked.visits",
        "train": "masked.visits_train",
        "holdout": "masked.visits_holdout",
        "synthetic": "synthetic.visits",
        "release": "release.visits",
    }
    for stage, table in expected.items():
        assert node(graph, "visits", stage).metadata["dagster/table_name"] == table
    assert "dagster/table_name" not in node(graph, "visits", "synthesizer").metadata  # a model file
    assert node(graph, "governance", "ledger").metadata["dagster/table_name"] == "governance.ledger"
    for key in graph.get_all_asset_keys():
        if key.path[0] == "analytics":
            assert graph.get(key).metadata["dagster/table_name"].endswith(f"analytics.{key.path[-1]}")


def test_releases_have_a_freshness_policy_and_no_freshness_check(graph):
    window = timedelta(hours=alerts.DEFAULT_MAX_AGE_HOURS)
    for ds in ("ledger_rows", "visits"):
        policy = node(graph, ds, "release").freshness_policy
        assert isinstance(policy, dg.FreshnessPolicy) and policy.fail_window.to_timedelta() == window
        assert all(node(graph, ds, s).freshness_policy is None for s in STAGES if s != "release")
    assert not [k for k in graph.asset_check_keys if "freshness" in k.name]


def test_every_chain_asset_links_to_its_code(graph):
    for ds in ("ledger_rows", "visits"):
        for stage in STAGES:
            refs = node(graph, ds, stage).metadata["dagster/code_references"].code_references
            assert any("synth_platform/defs/chain/" in ref.file_path for ref in refs), stage


def test_a_bad_owner_is_refused_naming_the_field(tmp_path):
    path = tmp_path / "people.yaml"
    path.write_text(yaml.safe_dump({**small_spec_dict(), "owner": "Data Platform"}))
    with pytest.raises(SpecError) as error:
        load_spec(path)
    assert str(path) in str(error.value) and "field 'owner'" in str(error.value)
    assert "team:" in str(error.value)  # says what a valid owner looks like


def test_the_owner_is_not_part_of_the_spec_digest(tmp_path):
    """A new owner changes who is asked, not what runs: no re-run, the same certificate digest."""
    path = tmp_path / "people.yaml"
    path.write_text(yaml.safe_dump(small_spec_dict()))
    before = spec_sha256(load_spec(path))
    path.write_text(yaml.safe_dump({**small_spec_dict(), "owner": "privacy.officer@example.org"}))
    owned = load_spec(path)
    assert owned.owner == "privacy.officer@example.org" and spec_sha256(owned) == before


def test_a_tiny_max_age_still_loads_as_a_one_minute_window(monkeypatch):
    monkeypatch.setenv(alerts.MAX_AGE_ENV, "0.001")  # 3.6 s: under Dagster's one-minute minimum
    assert catalog.release_freshness_policy().fail_window.to_timedelta() == timedelta(minutes=1)


FRESHNESS_DEFS = """
import dagster as dg
from synth_platform.defs.catalog import release_freshness_policy
release = dg.AssetSpec(["people", "release"], freshness_policy=release_freshness_policy())
defs = dg.Definitions(assets=[release])
"""


def test_the_daemon_marks_a_release_fresh_then_failing(tmp_path, monkeypatch):
    """What the UI shows: the freshness daemon's state of a release, fresh now, failed after 27 h.

    Runs the daemon's own evaluation (Dagster internals: no public API evaluates a policy) on an
    instance with `freshness: enabled`, as config/dagster.yaml sets it.
    """
    from dagster._core.definitions import freshness_evaluator
    from dagster._core.definitions.freshness import FreshnessState
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import PythonFileTarget
    from dagster._daemon.freshness import FreshnessDaemon

    (tmp_path / "freshness_defs.py").write_text(FRESHNESS_DEFS)
    key = dg.AssetKey(["people", "release"])
    target = PythonFileTarget(
        str(tmp_path / "freshness_defs.py"), "defs", str(Path.cwd()), location_name="freshness"
    )

    def state(instance) -> FreshnessState:
        with WorkspaceProcessContext(instance, target) as workspace:
            asyncio.run(FreshnessDaemon()._evaluate_assets(workspace_process_context=workspace))
        return instance.get_freshness_state_records([key])[key].freshness_state

    with dg.instance_for_test(overrides={"freshness": {"enabled": True}}) as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
        assert state(instance) == FreshnessState.PASS
        later = freshness_evaluator.get_current_timestamp() + timedelta(hours=27).total_seconds()
        monkeypatch.setattr(freshness_evaluator, "get_current_timestamp", lambda: later)
        assert state(instance) == FreshnessState.FAIL


PARSE = """
import json, sys
from dagster_dbt import DbtProject
from synth_platform.defs.analytics import ensure_manifest
project = DbtProject(project_dir=sys.argv[1], profiles_dir=sys.argv[1])
if sys.argv[2] == "dagster-dbt":
    project.preparer.prepare(project)  # what `dagster dev` and `prepare-and-package` run
else:
    ensure_manifest(project)
json.loads(project.manifest_path.read_text())
print(project.manifest_path.stat().st_mtime_ns)
"""


def test_a_fresh_clone_started_by_several_processes_parses_dbt_once(tmp_path):
    """No manifest yet (a fresh clone), three processes start at once, one of them through
    dagster-dbt's own preparer: each gets a whole manifest, and dbt parsed it once (one mtime)."""
    import os
    import shutil
    import subprocess
    import sys

    from synth_platform.defs.analytics import DBT_PROJECT_DIR

    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    ways = ["ensure_manifest", "dagster-dbt", "ensure_manifest"]
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", PARSE, str(project), way], env=env, stdout=subprocess.PIPE, text=True
        )
        for way in ways
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert len({out.strip() for out in outputs}) == 1, outputs
