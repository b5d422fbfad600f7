"""Datasets as `GovernedDataset` component instances, as a user meets them through `dg`.

`dg` starts in seconds, so its four calls run at once in one module fixture: `dg list defs` and
`dg check defs` / `dg check yaml` on the repository, and `dg scaffold defs` then `dg check yaml` in
a temporary project holding a scaffolded dataset and a broken one. The rest is in-process (the
scaffolded dataset's chain is loaded by `build_definitions` over the temporary datasets folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synth_platform.lib.dataset_instances import (
    UnknownDataset,
    find_dataset,
    instance_path,
    load_datasets,
    write_instance,
)
from synth_platform.lib.spec import SpecError
from synth_platform.settings import DATASETS_DIR, Settings
from synth_platform_tests.conftest import PROJECT_ROOT

DG = str(Path(sys.executable).with_name("dg"))
TYPE = "synth_platform.components.GovernedDataset"
STAGES = ("raw", "pii_report", "masked", "train", "holdout", "synthesizer", "synthetic", "release")


def _broken_instance() -> str:
    """A spec unlike the demo's (unicode column, parquet) with two mistakes a user makes."""
    return f"""\
# clinic visits
type: {TYPE}
attributes:
  name: clinic_visits
  source: {{landing_dir: data/landing/clinic_visits, format: parquet}}
  columns:
    Straße: {{type: category}}
    visits: {{type: number}}
    ward: {{type: category}}
  privacy:
    epsilon_budget: plenty
"""


def _dg(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    return subprocess.Popen(
        [DG, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture(scope="module")
def dg_runs(tmp_path_factory):
    """Every `dg` call of this module, started together; {name: (exit code, output)}."""
    project = tmp_path_factory.mktemp("dg_project")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project / "pyproject.toml")
    (project / "synth_platform" / "defs" / "datasets").mkdir(parents=True)
    broken = project / "synth_platform" / "defs" / "datasets" / "clinic_visits"
    broken.mkdir()
    (broken / "defs.yaml").write_text(_broken_instance())
    scaffold = _dg(["scaffold", "defs", TYPE, "datasets/shop_orders"], project)
    started = {
        "list": _dg(["list", "defs", "--json"], PROJECT_ROOT),
        "check_defs": _dg(["check", "defs"], PROJECT_ROOT),
        "check_yaml": _dg(["check", "yaml"], PROJECT_ROOT),
    }
    done = {"scaffold": (scaffold.wait(timeout=300), scaffold.stdout.read())}
    # One folder: dg 1.13's `check yaml` keeps one document per component type, so a second
    # GovernedDataset (the scaffolded one) would hide this one from an unrestricted check.
    started["check_broken"] = _dg(["check", "yaml", str(broken)], project)
    for name, process in started.items():
        out, _ = process.communicate(timeout=300)
        done[name] = (process.returncode, out)
    return project, done


def test_dg_list_defs_lists_each_dataset_chain_once_from_its_defs_yaml(dg_runs):
    _, done = dg_runs
    code, out = done["list"]
    assert code == 0, out
    listed = json.loads(out[out.index("{") :])
    keys = [a["asset_key"] for a in listed["assets"]]
    assert len(keys) == len(set(keys))  # autoloading registers nothing twice
    assert {f"adult_customers/{stage}" for stage in STAGES} <= set(keys)
    assert {"governance/ledger", "analytics/income_by_education"} <= set(keys)
    jobs = {j["name"]: j for j in listed["jobs"]}
    assert "defs/datasets/adult_customers/defs.yaml" in jobs["adult_customers_governed_chain"]["source"]
    assert "refresh_all_datasets" in jobs
    sensors = {s["name"] for s in listed["sensors"]}
    assert {"adult_customers_landing_sensor", "privacy_budget_alert", "stale_release_alert"} <= sensors
    # the schemas' nightly refresh sits next to the datasets' (defs.schema_chain.automation)
    assert [s["name"] for s in listed["schedules"]] == ["nightly_refresh", "nightly_schema_refresh"]


def test_dg_check_defs_and_check_yaml_pass_on_the_repository(dg_runs):
    _, done = dg_runs
    for name in ("check_defs", "check_yaml"):
        code, out = done[name]
        assert code == 0, f"{name}: {out}"


def test_dg_check_yaml_names_the_broken_field_and_its_line(dg_runs):
    project, done = dg_runs
    code, out = done["check_broken"]
    assert code == 1, out
    path = project / "synth_platform" / "defs" / "datasets" / "clinic_visits" / "defs.yaml"
    assert f"{path}:8 - {TYPE} attributes.columns.visits.type 'number' is not one of" in out
    assert f"{path}:11 - {TYPE} attributes.privacy.epsilon_budget 'plenty'" in out


def test_dg_scaffold_defs_writes_a_commented_dataset_that_loads_without_python(dg_runs, tmp_path):
    from synth_platform.definitions import build_definitions

    project, done = dg_runs
    assert done["scaffold"][0] == 0, done["scaffold"][1]
    datasets = project / "synth_platform" / "defs" / "datasets"
    text = instance_path(datasets, "shop_orders").read_text()
    assert text.startswith("#") and f"type: {TYPE}" in text and "name: shop_orders" in text
    assert "synth-platform pii approve shop_orders" in text  # says what comes next
    (datasets / "clinic_visits" / "defs.yaml").unlink()  # the broken one of the check above
    (datasets / "clinic_visits").rmdir()
    settings = Settings(root=tmp_path, specs_dir=datasets, warehouse_path=tmp_path / "w.duckdb")
    defs = build_definitions(settings)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {f"shop_orders/{stage}" for stage in STAGES} <= keys
    assert "adult_customers/raw" not in keys  # that folder's datasets only
    assert defs.resolve_job_def("shop_orders_governed_chain")
    assert defs.get_sensor_def("shop_orders_landing_sensor")


def test_a_broken_spec_is_refused_naming_file_field_and_line(tmp_path):
    """The loader the CLI and the programmatic entry point use: same model, same field, with its line."""
    folder = tmp_path / "datasets" / "clinic_visits"
    folder.mkdir(parents=True)
    text = _broken_instance().replace("epsilon_budget: plenty", "epsilon_budget: 5")
    text += "  synthesizer:\n    kind: dp_mst\n    params: {epsilon: lots}\n"
    (folder / "defs.yaml").write_text(text)
    with pytest.raises(SpecError) as error:
        load_datasets(tmp_path / "datasets")
    message = str(error.value)
    assert str(folder / "defs.yaml") in message
    assert "field 'columns.visits.type' (line 8): Input should be 'integer'" in message
    assert "field 'synthesizer' (line 13): Value error, dp_mst parameter 'epsilon' must be" in message


def test_the_dataset_is_named_by_its_folder_and_unknown_names_list_the_known_ones(tmp_path):
    datasets = tmp_path / "datasets"
    spec = {
        "name": "visits",
        "source": {"landing_dir": "data/landing/visits"},
        "columns": {"Straße": {"type": "category"}, "n": {"type": "integer"}},
    }
    path = write_instance(datasets, spec)
    assert find_dataset(datasets, "visits").column_names == ["Straße", "n"]
    with pytest.raises(UnknownDataset, match=r"unknown dataset 'visitz'.*known datasets: visits"):
        find_dataset(datasets, "visitz")
    path.parent.rename(datasets / "wards")
    with pytest.raises(SpecError, match=r"field 'name' is 'visits' but the dataset's folder is named 'wards"):
        load_datasets(datasets)


def test_the_programmatic_entry_point_over_a_copy_equals_the_autoloaded_code_location(tmp_path):
    """`build_definitions` over another folder (tests, SYNTH_SPECS_DIR) builds what `dg` loads."""
    from synth_platform.definitions import build_definitions

    copy = tmp_path / "datasets"
    shutil.copytree(DATASETS_DIR, copy)
    settings = Settings(root=tmp_path, specs_dir=DATASETS_DIR, warehouse_path=tmp_path / "w.duckdb")
    autoloaded = build_definitions(settings).get_repository_def()
    copied = build_definitions(Settings(**{**settings.__dict__, "specs_dir": copy})).get_repository_def()
    assert set(copied.asset_graph.get_all_asset_keys()) == set(autoloaded.asset_graph.get_all_asset_keys())
    assert set(copied.asset_graph.asset_check_keys) == set(autoloaded.asset_graph.asset_check_keys)
    assert {j.name for j in copied.get_all_jobs()} == {j.name for j in autoloaded.get_all_jobs()}
    assert {s.name for s in copied.sensor_defs} == {s.name for s in autoloaded.sensor_defs}
    refresh = autoloaded.get_job("refresh_all_datasets")
    chain = {k for k in refresh.asset_layer.executable_asset_keys if k.path[0] == "adult_customers"}
    assert len(chain) == len(STAGES)  # the refresh job selects the chains by their tag


def test_the_demo_instance_is_yaml_with_its_plan_next_to_it():
    raw = yaml.safe_load(instance_path(DATASETS_DIR, "adult_customers").read_text())
    assert raw["type"] == TYPE and raw["attributes"]["name"] == "adult_customers"
    assert (DATASETS_DIR / "adult_customers" / "masking_plan.yaml").is_file()
