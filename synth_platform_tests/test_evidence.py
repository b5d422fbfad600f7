"""Evidence packs (evidence, evidence_plots, `synth-platform evidence`) on a generated table.

The table is unlike the demo: a clinic visit log with a unique visit code (high cardinality, its
values planted and searched for), a ward, a length of stay and a readmission flag.
"""

from __future__ import annotations

import base64
import json
import os
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from synth_platform.cli import main as cli_main
from synth_platform.lib.governance import evidence, evidence_plots


def visits(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ward = rng.choice(["cardio", "ortho", "neuro", "onco"], rows, p=[0.4, 0.3, 0.2, 0.1])
    stay = rng.gamma(2, 2.5, rows).round(1)
    return pd.DataFrame(
        {
            "visit_code": [f"VQ{seed}{i:05d}X" for i in range(rows)],  # unique: never drawn or written
            "ward": ward,
            "stay_days": stay,
            "age_band": rng.integers(1, 9, rows),
            "readmitted": np.where(rng.random(rows) < 0.1 + 0.02 * stay, "yes", "no"),
        }
    )


def outcome(name, passed, figure, threshold, **extra):
    return SimpleNamespace(
        name=name, passed=passed, figure=figure, threshold=threshold, description=f"{name} measured", **extra
    )


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    train, synthetic, holdout = visits(800, 1), visits(800, 2), visits(300, 3)
    columns = list(train.columns)
    pictures, notes = evidence_plots.render_all(train, synthetic, holdout, columns, first=["readmitted"])
    checks = [
        evidence.outcome_dict(outcome("quality_score", True, 0.83, 0.75)),
        evidence.outcome_dict(outcome("membership_inference", False, 0.61, 0.55, ci=(0.57, 0.65))),
        evidence.outcome_dict(
            outcome("schema_expectations", True, 0.0, 0.0, details={"failed_expectations": []})
        ),
    ]
    report = evidence.assemble(
        dataset="clinic_visits",
        run_id="run-0001",
        decision="blocked: failed membership_inference",
        failed_checks=["membership_inference"],
        spec={"name": "clinic_visits", "columns": {c: {} for c in columns}},
        code={"version": "9.9.9", "seeds": {"split": 1}},
        source={"source_hash": "ab" * 32},
        pii_findings=[{"column": "visit_code", "pii_class": "direct_identifier", "evidence": "unique 100%"}],
        treatments=[{"column": "visit_code", "action": "drop"}],
        synthesizer={"kind": "gaussian_copula", "parameters": {}, "epsilon_note": "unbounded"},
        checks=checks,
        utility=[{"target": "readmitted", "metric": "auc", "tstr": 0.61, "trtr": 0.66, "gap": 0.05}],
        run_ledger_rows=[{"entry_id": 1, "event": "blocked", "cumulative_epsilon": float("inf")}],
        budget={"epsilon_cumulative": 1.5, "epsilon_budget": 2.0, "epsilon_remaining": 1.1},  # budget.summary
        picture_notes=notes,
    )
    directory = evidence.pack_dir(root, "clinic_visits", "run-0001")
    return root, evidence.write_pack(directory, report, pictures), train, synthetic


def test_pack_holds_every_section_and_its_pictures(pack):
    _, written, _, _ = pack
    report = json.loads(written.json.read_text())
    for section in ("source", "spec", "code", "pii_findings", "masking", "synthesizer", "privacy_budget"):
        assert report[section], section
    assert report["privacy_budget"]["epsilon_remaining"] == 1.1  # as the budget summary gave it
    assert report["ledger_rows"][0]["cumulative_epsilon"] == "inf"  # JSON has no infinity
    membership = next(c for c in report["gate_checks"] if c["name"] == "membership_inference")
    assert (membership["ci_low"], membership["ci_high"], membership["verdict"]) == (0.57, 0.65, "block")
    html = written.html.read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) == 3
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    for text in ("blocked: failed membership_inference", "membership_inference", "[0.57, 0.65]", "FAIL"):
        assert text in html
    assert "computed on the real data" in html  # who may read it


def test_no_value_of_the_high_cardinality_column_is_written_or_drawn(pack):
    _, written, train, synthetic = pack
    assert "visit_code" not in evidence_plots.drawable_columns(train, list(train.columns))
    text = written.html.read_text() + written.json.read_text()
    planted = set(train["visit_code"]) | set(synthetic["visit_code"])
    assert not [v for v in planted if v in text]


def test_release_updates_the_decision_and_keeps_the_pictures(pack, tmp_path):
    _, written, _, _ = pack
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in written.directory.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    updated = evidence.record_decision(copy, "released", [{"entry_id": 2, "event": "released"}])
    report = json.loads(updated.json.read_text())
    assert report["decision"] == "released"
    assert [r["event"] for r in report["ledger_rows"]] == ["blocked", "released"]
    assert updated.html.read_text().count("data:image/png;base64,") == 3


def test_cli_prints_the_newest_pack_or_a_named_run(pack, monkeypatch, capsys):
    root, written, _, _ = pack
    monkeypatch.setenv("SYNTH_PROJECT_ROOT", str(root))
    older = evidence.pack_dir(root, "clinic_visits", "run-0000")
    older.mkdir(parents=True, exist_ok=True)
    (older / "report.html").write_text("<html></html>")
    (older / "report.json").write_text("{}")
    newest = written.json.stat().st_mtime + 10
    os.utime(written.json, (newest, newest))
    assert cli_main(["evidence", "clinic_visits"]) == 0
    assert capsys.readouterr().out.strip() == str(written.html)
    assert cli_main(["evidence", "clinic_visits", "run-0000", "--json"]) == 0
    assert capsys.readouterr().out.strip() == str(older / "report.json")


def test_cli_exits_2_with_a_reason_when_there_is_no_pack(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SYNTH_PROJECT_ROOT", str(tmp_path))
    assert cli_main(["evidence", "clinic_visits"]) == 2
    assert "no evidence pack for dataset 'clinic_visits'" in capsys.readouterr().err
    assert cli_main(["evidence", "clinic_visits", "../../etc"]) == 2
    assert "not usable as a folder name" in capsys.readouterr().err


def test_association_matrix_sees_a_relationship_and_its_loss():
    frame = visits(1000, 5)
    frame["stay_days"] = np.where(frame["ward"] == "onco", frame["stay_days"] + 10, frame["stay_days"])
    columns = ["ward", "stay_days", "age_band"]
    kept = evidence_plots.association_matrix(frame, columns)
    lost = evidence_plots.association_matrix(
        frame.assign(ward=frame["ward"].sample(frac=1).to_numpy()), columns
    )
    assert kept[0, 1] > 0.5 and lost[0, 1] < 0.2  # ward -> stay, then shuffled away
    _, largest = evidence_plots.correlation_difference(frame, frame, columns)
    assert largest == 0.0


def test_ledger_view_shows_recent_rows_newest_first_and_plots_finite_figures():
    from synth_platform.defs.ledger_view import dataset_figures, ledger_table

    rows = pd.DataFrame(
        {
            "entry_id": [1, 2, 3],
            "dataset": ["clinic_visits"] * 3,
            "event": ["trained", "blocked", "trained"],
            "cumulative_epsilon": [float("inf"), float("inf"), float("inf")],
            "quality_score": [None, 0.7, None],
            "row_hash": ["a" * 64, "b" * 64, "c" * 64],
            "gate_figures": [None, '{"membership_inference": {"figure": 0.52}}', None],
        }
    )
    table = ledger_table(rows)
    assert [r.data["entry_id"] for r in table.records] == [3, 2, 1]
    assert table.records[0].data["cumulative_epsilon"] == "unbounded (inf)"
    assert table.records[0].data["row_hash"] == "c" * 12
    figures = dataset_figures(rows.iloc[1].to_dict())
    assert {k: v.value for k, v in figures.items()} == {
        "clinic_visits.quality_score": 0.7,
        "clinic_visits.membership_inference": 0.52,
    }  # an unbounded epsilon is not plotted as a number


def test_pack_files_are_owner_only_whatever_the_umask(tmp_path):
    import stat

    previous = os.umask(0o022)
    try:
        directory = evidence.pack_dir(tmp_path, "clinic_visits", "run-0001")
        pack = evidence.write_pack(directory, {"decision": "passed the gate", "ledger_rows": []}, {})
        (directory / "distributions.png").unlink(missing_ok=True)
        pack = evidence.write_pack(directory, {"decision": "passed the gate"}, {"distributions": b"\x89PNG"})
        evidence.record_decision(directory, "released", [{"entry_id": 3}])
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}
    assert set(modes) == {"report.json", "report.html", "distributions.png"}, modes
    assert set(modes.values()) == {0o600}, modes
    root = evidence.evidence_root(tmp_path)
    for folder in (directory, directory.parent, root):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert json.loads(pack.json.read_text())["decision"] == "released"


def test_the_ui_ledger_table_shows_ids_and_spend_never_a_real_data_figure():
    from synth_platform.defs.ledger_view import TABLE_COLUMNS, ledger_table

    real_data = {"quality_score", "exact_copy_share", "identifier_leaks", "dcr_train_share", "gate_figures"}
    hashes = {"source_hash", "train_data_hash", "model_sha256", "prev_hash"}
    assert not (real_data | hashes) & set(TABLE_COLUMNS)
    rows = pd.DataFrame(
        {
            "entry_id": [1],
            "event": ["released"],
            "quality_score": [0.8765],
            "exact_copy_share": [0.0123],
            "train_data_hash": ["t" * 64],
            "rho_spent": [0.0],
            "row_hash": ["c" * 64],
        }
    )
    shown = ledger_table(rows).records[0].data
    assert set(shown) == {"entry_id", "event", "rho_spent", "row_hash"}
