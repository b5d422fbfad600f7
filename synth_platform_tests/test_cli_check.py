"""`synth-platform check DATASET PATH --trained-on ...` and `export-train`, from the command line.

The warehouse is prepared as the chain leaves it after the split (PII report, masked
train/holdout, raw table), with the chain's own functions, so no Dagster run is needed. Each
test works on its own copy of it: every judged check appends a row to the dataset's ledger.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat

import numpy as np
import pandas as pd
import pytest

from synth_platform import cli
from synth_platform.lib.dataset_instances import load_instance, read_spec_dict, write_instance
from synth_platform.lib.deidentify import refill
from synth_platform.lib.deidentify.masking import apply_masking, plan_masking
from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
from synth_platform.lib.gate import leak_battery
from synth_platform.lib.governance import ledger
from synth_platform.lib.pii import discovery
from synth_platform.lib.storage import warehouse, zones
from synth_platform.lib.synthesize.split import split_train_holdout
from synth_platform.settings import DATASETS_DIR
from synth_platform_tests.pipeline_harness import planted_identifiers

DATASET = "adult_customers"
ROWS = 1500


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("check")
    specs = root / "datasets"
    spec_yaml = read_spec_dict(DATASETS_DIR / DATASET)
    spec_yaml["checks"].update({"evaluation_rows": 1500, "anonymeter_attacks": 100})
    write_instance(specs, spec_yaml)
    spec = load_instance(specs / DATASET)
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
    tables = {
        "honest": source_shape(honest),
        "replay": source_shape(train[model_columns]),
        "replay_model": train[model_columns].reset_index(drop=True),
    }
    return {
        "root": root,
        "specs": specs,
        "db": db,
        "tables": tables,
        "model_columns": model_columns,
        "planted": planted_identifiers(source),
    }


@pytest.fixture
def env(project, tmp_path, monkeypatch):
    """The prepared warehouse, copied for this test (a check writes its ledger row into it)."""
    db = tmp_path / "warehouse" / "warehouse.duckdb"
    db.parent.mkdir()
    shutil.copy(project["db"], db)
    monkeypatch.setenv("SYNTH_PROJECT_ROOT", str(project["root"]))
    monkeypatch.setenv("SYNTH_SPECS_DIR", str(project["specs"]))
    monkeypatch.setenv("SYNTH_WAREHOUSE_PATH", str(db))
    monkeypatch.delenv("SYNTH_OPERATOR", raising=False)
    return {**project, "db": db}


def run(capsys, *argv, command="check") -> tuple[int, str, str]:
    code = cli.main([command, *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(db) -> list[dict]:
    """The ledger as records (parameters parsed), [] when there is no ledger table."""
    if not warehouse.table_exists(db, "governance", "ledger"):
        return []
    with warehouse.connect(db, read_only=True) as con:
        frame = ledger.read_ledger(con)
        assert ledger.verify_chain(con) == []  # every check row keeps the chain intact
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    for record in records:
        record["parameters"] = json.loads(record["parameters"])
    return records


def _leaked(env, *texts) -> list[str]:
    return [v for v in env["planted"] if len(v) >= 8 and any(v in t for t in texts)]


def test_an_honest_table_would_be_released_and_the_check_is_recorded(env, tmp_path, capsys, monkeypatch):
    path = tmp_path / "honest.csv"
    env["tables"]["honest"].to_csv(path, index=False)
    monkeypatch.setenv("SYNTH_OPERATOR", "ada")
    code, out, err = run(capsys, DATASET, str(path), "--trained-on", "train")
    assert code == 0, out + err
    for check in ("schema_expectations", "quality_score", "exact_copies", "close_copies", "near_copies"):
        assert check in out
    assert "95% CI" in out and "would be RELEASED" in out
    assert "assumed: --trained-on train" in out and "every check decides" in out
    assert "deciding: schema_expectations, holdout_size, quality_score" in out
    (row,) = _rows(env["db"])  # exactly one row per run
    p = row["parameters"]
    assert (row["event"], row["rho_spent"], row["epsilon_spent"]) == ("check", 0.0, 0.0)
    assert p["file_sha256"] == _sha(path) and p["rows"] == len(env["tables"]["honest"])
    assert (p["trained_on"], p["verdict"], p["failed_checks"], p["input_shape"]) == (
        "train",
        "released",
        [],
        "source",
    )
    assert p["operator"] == "ada" and p["os_user"]
    assert row["decision"] == "check: would be released"
    assert f"ledger entry {row['entry_id']}" in out
    assert _leaked(env, out, json.dumps(row, default=str)) == []
    # a second run is a second row, and the chain still verifies from the command line
    assert run(capsys, DATASET, str(path), "--trained-on", "train")[0] == 0
    assert [r["event"] for r in _rows(env["db"])] == ["check", "check"]
    assert cli.main(["ledger", "verify", "--no-event-log"]) == 0
    assert "intact" in capsys.readouterr().out


def test_a_replay_of_the_training_rows_is_blocked_with_json(env, tmp_path, capsys):
    path = tmp_path / "replay.parquet"
    env["tables"]["replay"].to_parquet(path, index=False)
    code, out, _ = run(capsys, DATASET, str(path), "--json", "--trained-on", "train")
    assert code == 1
    report = json.loads(out)
    assert report["released"] is False and report["trained_on"] == "train"
    for attack in ("exact_copies", "close_copies", "near_copies", "membership_inference"):
        assert attack in report["failed_checks"]
    near = report["checks"]["near_copies"]
    assert near["ci_low"] > near["threshold"] and near["verdict"].startswith("BLOCK")
    (row,) = _rows(env["db"])
    assert row["entry_id"] == report["ledger_entry"] and row["parameters"]["file_sha256"] == _sha(path)
    assert row["parameters"]["verdict"] == "blocked"
    assert row["parameters"]["failed_checks"] == report["failed_checks"]
    assert row["decision"].startswith("check: would be blocked (failed: ")
    assert _leaked(env, out, json.dumps(row, default=str)) == []


def test_trained_on_all_shows_the_relative_checks_without_letting_them_decide(env, tmp_path, capsys):
    path = tmp_path / "replay.csv"
    env["tables"]["replay"].to_csv(path, index=False)
    code, out, _ = run(capsys, DATASET, str(path), "--json", "--trained-on", "all")
    report = json.loads(out)
    assert code == 1 and "exact_copies" in report["failed_checks"]  # copies of real people still block
    assert "membership_inference" not in report["failed_checks"]
    assert "membership_inference" not in report["deciding_checks"]
    assert report["checks"]["membership_inference"]["verdict"].startswith("n/a under --trained-on all")
    for check in ("quality_score", "exact_copies", "no_identifier_leak"):
        assert check in report["deciding_checks"]
    if "absolute_exposure" in report["checks"]:
        assert "absolute_exposure" in report["deciding_checks"]
    (row,) = _rows(env["db"])
    assert row["parameters"]["trained_on"] == "all"
    code, out, _ = run(capsys, DATASET, str(path), "--trained-on", "all")
    assert "assumed: --trained-on all" in out and "shown, not deciding" in out
    assert "membership_inference" not in out.split("deciding: ")[1].splitlines()[0]


def test_without_trained_on_it_exits_2_explaining_both_choices(env, tmp_path, capsys):
    path = tmp_path / "honest.csv"
    env["tables"]["honest"].to_csv(path, index=False)
    code, out, err = run(capsys, DATASET, str(path))
    assert (code, out) == (2, "")
    assert "--trained-on is required" in err and "'train'" in err and "'all'" in err
    assert "export-train" in err
    assert _rows(env["db"]) == []


def test_bad_input_exits_2_with_the_reason_and_writes_nothing(env, tmp_path, capsys):
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
    before = _sha(env["db"])
    for argv, reason in cases:
        code, out, err = run(capsys, *argv, "--trained-on", "train")
        assert (code, out) == (2, ""), argv
        assert reason in err, err
    assert _sha(env["db"]) == before and _rows(env["db"]) == []
    assert not ledger.head_path(env["db"]).exists()


def test_a_dataset_without_a_split_yet_exits_2(env, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty.duckdb"
    monkeypatch.setenv("SYNTH_WAREHOUSE_PATH", str(empty))
    path = tmp_path / "honest.csv"
    env["tables"]["honest"].head(300).to_csv(path, index=False)
    code, _, err = run(capsys, DATASET, str(path), "--trained-on", "train")
    assert code == 2 and "no warehouse" in err
    shutil.copy(env["db"], empty)
    with warehouse.connect(empty) as con:
        con.execute(f'DROP TABLE masked."{DATASET}_holdout"')
    code, _, err = run(capsys, DATASET, str(path), "--trained-on", "train")
    assert code == 2 and "no train/holdout split yet" in err


def test_a_broken_ledger_is_refused_before_judging(env, tmp_path, capsys):
    path = tmp_path / "honest.csv"
    env["tables"]["honest"].to_csv(path, index=False)
    assert run(capsys, DATASET, str(path), "--trained-on", "train")[0] == 0
    with warehouse.connect(env["db"]) as con:
        con.execute("UPDATE governance.ledger SET decision = 'check: would be released!'")
    code, out, err = run(capsys, DATASET, str(path), "--trained-on", "train")
    assert (code, out) == (2, "") and "cannot be recorded" in err and "altered" in err


# --- export-train, and a generator of another team fitted on it -------------------------------


def honest_generator(train: pd.DataFrame, rows: int, seed: int = 11) -> pd.DataFrame:
    """A trivial honest generator: within each income class, every column resampled on its own.

    Keeps each column's shape and its relation to the target (so TSTR is fair), copies no row."""
    rng = np.random.default_rng(seed)
    parts = []
    for _, group in train.groupby("income", dropna=False):
        n = round(rows * len(group) / len(train))
        parts.append(
            pd.DataFrame({c: group[c].to_numpy()[rng.integers(0, len(group), n)] for c in train.columns})
        )
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_export_train_writes_the_model_space_split_privately(env, tmp_path, capsys):
    path = tmp_path / "train.csv"
    code, out, err = run(capsys, DATASET, str(path), command="export-train")
    assert code == 0, err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    exported = pd.read_csv(path, dtype=str)
    train = warehouse.read_table(env["db"], "masked", f"{DATASET}_train")
    assert len(exported) == len(train) and f"{len(train):,} rows" in out
    assert list(exported.columns) == [c for c in env["model_columns"]]
    assert "customer_id" not in exported.columns and exported["zip_code"].str.len().max() == 3
    assert _leaked(env, out, path.read_text()) == []
    # no overwrite without --force; --force replaces (still 0600); parquet by --format or suffix
    code, out, err = run(capsys, DATASET, str(path), command="export-train")
    assert (code, out) == (2, "") and "exists; use --force" in err
    path.chmod(0o644)
    assert run(capsys, DATASET, str(path), "--force", command="export-train")[0] == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parquet = tmp_path / "train.parquet"
    assert run(capsys, DATASET, str(parquet), command="export-train")[0] == 0
    assert len(pd.read_parquet(parquet)) == len(train)
    # every export is recorded (governed side only): who, which file, how many people; no spend
    exports = [r for r in _rows(env["db"]) if r["event"] == "export"]
    assert len(exports) == 3 and all(r["rho_spent"] == 0 for r in exports)
    assert exports[-1]["parameters"]["rows"] == len(train)
    assert exports[-1]["parameters"]["file_sha256"] == hashlib.sha256(parquet.read_bytes()).hexdigest()


def test_export_train_refuses_unknown_datasets_and_published_places(env, tmp_path, capsys):
    code, _, err = run(capsys, "no_such_dataset", str(tmp_path / "t.csv"), command="export-train")
    assert code == 2 and "unknown dataset 'no_such_dataset'" in err and DATASET in err
    refused = [
        (zones.published_path(env["db"]), "published zone"),
        (env["root"] / "data" / "certificates" / "t.csv", "published zone"),
        (tmp_path / "no_folder" / "t.csv", "does not exist"),
        (tmp_path / "t.json", "give a .csv or .parquet name"),
    ]
    (env["root"] / "data" / "certificates").mkdir(parents=True, exist_ok=True)
    for target, reason in refused:
        code, out, err = run(capsys, DATASET, str(target), command="export-train")
        assert (code, out) == (2, ""), target
        assert reason in err, err
        assert not target.exists() or target == zones.published_path(env["db"])
    code, _, err = run(
        capsys, DATASET, str(env["db"]), "--force", "--format", "parquet", command="export-train"
    )
    assert code == 2 and "warehouse's own file" in err


def test_a_generator_fitted_on_the_export_is_checked_in_model_space(env, tmp_path, capsys):
    exported = tmp_path / "train.parquet"
    assert run(capsys, DATASET, str(exported), command="export-train")[0] == 0
    train = pd.read_parquet(exported)
    synthetic = tmp_path / "theirs.csv"
    honest_generator(train, len(train)).to_csv(synthetic, index=False)
    code, out, err = run(capsys, DATASET, str(synthetic), "--json", "--trained-on", "train")
    report = json.loads(out)
    assert code == (0 if report["released"] else 1), err
    assert report["input_shape"] == "model" and report["rows"] == len(train)
    for check in ("exact_copies", "no_identifier_leak", "membership_inference", "schema_expectations"):
        assert report["checks"][check]["passed"], check
    assert report["released"], report["failed_checks"]
    (row,) = [r for r in _rows(env["db"]) if r["event"] == "check"]
    assert row["parameters"]["input_shape"] == "model" and row["parameters"]["file_sha256"] == _sha(synthetic)
    # a replay of the export itself is blocked in model space too
    code, out, _ = run(capsys, DATASET, str(exported), "--json", "--trained-on", "train")
    assert code == 1 and "exact_copies" in json.loads(out)["failed_checks"]
    assert _leaked(env, out) == []


def test_model_space_input_is_typed_like_the_train_table_and_named_when_wrong(env, tmp_path, capsys):
    model = env["tables"]["replay_model"]
    bad_type = tmp_path / "bad_type.csv"
    model.assign(age=["forty"] * len(model)).to_csv(bad_type, index=False)
    neither = tmp_path / "neither.csv"
    model.drop(columns=["age"]).assign(notes="x").to_csv(neither, index=False)
    code, out, err = run(capsys, DATASET, str(bad_type), "--trained-on", "train")
    assert (code, out) == (2, "") and "column 'age'" in err and "forty" not in err
    code, out, err = run(capsys, DATASET, str(neither), "--trained-on", "train")
    assert (code, out) == (2, "") and "neither the dataset's source shape nor its model shape" in err
    assert "missing ['age']" in err and "unexpected ['notes']" in err
    assert _rows(env["db"]) == []
