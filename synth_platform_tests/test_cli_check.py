"""`synth-platform check DATASET PATH`: the release gate on any table, from the command line.

The warehouse is prepared as the chain leaves it after the split (PII report, masked
train/holdout, raw table), with the chain's own functions, so no Dagster run is needed.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pytest
import yaml

from synth_platform import cli
from synth_platform.lib import discovery, leak_battery, refill, warehouse
from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
from synth_platform.lib.masking import apply_masking, plan_masking
from synth_platform.lib.spec import load_spec
from synth_platform.lib.split import split_train_holdout
from synth_platform_tests.conftest import PROJECT_ROOT
from synth_platform_tests.pipeline_harness import planted_identifiers

DATASET = "adult_customers"
ROWS = 1500


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("check")
    specs = root / "config" / "datasets"
    specs.mkdir(parents=True)
    spec_yaml = yaml.safe_load((PROJECT_ROOT / "config" / "datasets" / f"{DATASET}.yaml").read_text())
    spec_yaml["checks"].update({"evaluation_rows": 1500, "anonymeter_attacks": 100})
    (specs / f"{DATASET}.yaml").write_text(yaml.safe_dump(spec_yaml))
    spec = load_spec(specs / f"{DATASET}.yaml")
    source = enrich_with_identifiers(load_adult(rows=ROWS), seed=5)
    hints = {n: (c.pii.pii_class, c.pii.type) for n, c in spec.columns.items() if c.pii}
    findings = discovery.discover(source, hints=hints)
    plan = plan_masking(spec, {f.column: (f.pii_class, f.detected_type) for f in findings})
    masked, _ = apply_masking(source, plan, spec, b"test-key")
    train, holdout = split_train_holdout(masked, spec.split.holdout_fraction, spec.split.seed, spec.key)
    db = root / "warehouse.duckdb"
    warehouse.write_table(db, "raw", DATASET, source)
    warehouse.write_table(db, "governance", f"pii_{DATASET}", discovery.findings_table(findings))
    warehouse.write_table(db, "masked", f"{DATASET}_train", train)
    warehouse.write_table(db, "masked", f"{DATASET}_holdout", holdout)

    model_columns = [t.column for t in plan if t.reaches_model]

    def source_shape(model_rows: pd.DataFrame) -> pd.DataFrame:
        return refill.restore_source_shape(model_rows.reset_index(drop=True), spec, plan, seed=3)

    honest = leak_battery.honest_table(
        train[model_columns].reset_index(drop=True),
        "gaussian_copula",
        {"default_distribution": "truncnorm"},
        len(train),
    )
    tables = {"honest": source_shape(honest), "replay": source_shape(train[model_columns])}
    return {"root": root, "specs": specs, "db": db, "tables": tables, "planted": planted_identifiers(source)}


@pytest.fixture
def env(project, monkeypatch):
    monkeypatch.setenv("SYNTH_PROJECT_ROOT", str(project["root"]))
    monkeypatch.setenv("SYNTH_SPECS_DIR", str(project["specs"]))
    monkeypatch.setenv("SYNTH_WAREHOUSE_PATH", str(project["db"]))
    return project


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(["check", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_honest_table_would_be_released_and_nothing_is_written(env, tmp_path, capsys):
    path = tmp_path / "honest.csv"
    env["tables"]["honest"].to_csv(path, index=False)
    before = _sha(env["db"])
    code, out, err = run(capsys, DATASET, str(path))
    assert code == 0, out + err
    for check in ("schema_expectations", "quality_score", "exact_copies", "close_copies", "near_copies"):
        assert check in out
    assert "95% CI" in out and "would be RELEASED" in out
    assert _sha(env["db"]) == before  # no ledger row, no assessment, no release
    assert not warehouse.table_exists(env["db"], "governance", "ledger")
    assert [v for v in env["planted"] if len(v) >= 8 and v in out] == []


def test_a_replay_of_the_training_rows_is_blocked_with_json(env, tmp_path, capsys):
    path = tmp_path / "replay.parquet"
    env["tables"]["replay"].to_parquet(path, index=False)
    code, out, _ = run(capsys, DATASET, str(path), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["released"] is False
    for attack in ("exact_copies", "close_copies", "near_copies", "membership_inference"):
        assert attack in report["failed_checks"]
    near = report["checks"]["near_copies"]
    assert near["ci_low"] > near["threshold"] and near["verdict"].startswith("BLOCK")
    assert [v for v in env["planted"] if len(v) >= 8 and v in out] == []


def test_bad_input_exits_2_with_the_reason(env, tmp_path, capsys):
    honest = env["tables"]["honest"]
    missing = tmp_path / "missing.csv"
    honest.drop(columns=["income"]).to_csv(missing, index=False)
    extra = tmp_path / "extra.csv"
    honest.assign(notes="x").to_csv(extra, index=False)
    garbage = tmp_path / "broken.parquet"
    garbage.write_bytes(b"not a parquet file at all")
    cases = [
        ((DATASET, str(missing)), "missing ['income']"),
        ((DATASET, str(extra)), "unexpected ['notes']"),
        ((DATASET, str(garbage)), "not a readable Parquet file"),
        ((DATASET, str(tmp_path / "absent.csv")), "no such file"),
        (("no_such_dataset", str(missing)), "unknown dataset 'no_such_dataset'"),
    ]
    for argv, reason in cases:
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, ""), argv
        assert reason in err, err


def test_a_dataset_without_a_split_yet_exits_2(env, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty.duckdb"
    monkeypatch.setenv("SYNTH_WAREHOUSE_PATH", str(empty))
    path = tmp_path / "honest.csv"
    env["tables"]["honest"].head(300).to_csv(path, index=False)
    code, _, err = run(capsys, DATASET, str(path))
    assert code == 2 and "no warehouse" in err
    shutil.copy(env["db"], empty)
    with warehouse.connect(empty) as con:
        con.execute(f'DROP TABLE masked."{DATASET}_holdout"')
    code, _, err = run(capsys, DATASET, str(path))
    assert code == 2 and "no train/holdout split yet" in err
