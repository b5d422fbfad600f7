"""The approved masking plan: a person's file shapes the model, discovery only checks it.

Unit tests of lib.pii.approved_plan (proposal, strict validation, digest, disagreements), the CLI
`synth-platform pii approve|show`, and the real Dagster chain: no plan stops the run after
pii_report with nothing charged; the CLI's approval lets the next run through; a landing file
whose column the plan calls 'other' now holding e-mails stops before training, naming the column.
"""

from __future__ import annotations

import dataclasses

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from synth_platform.cli import main
from synth_platform.defs.automation import chain_job_name
from synth_platform.lib.dataset_instances import load_datasets, load_instance, write_instance
from synth_platform.lib.pii import approved_plan, discovery
from synth_platform.lib.pii.approved_plan import PlanError
from synth_platform.lib.pii.discovery import ColumnFinding
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage import warehouse
from synth_platform.settings import DATASETS_DIR
from synth_platform_tests.conftest import small_spec_dict
from synth_platform_tests.pipeline_harness import (
    DATASET,
    approve_plan,
    identifiers_in,
    make_project,
    planted_identifiers,
    run_generated_dataset,
)

APPROVE = f"synth-platform pii approve {DATASET}"


def _finding(column: str, pii_class: str, kind: str | None = None) -> ColumnFinding:
    return ColumnFinding(column, pii_class, kind, False, None, 0.5, 0.0, "detected", "test")


def _findings(spec: DatasetSpec, **changed: tuple[str, str | None]) -> list[ColumnFinding]:
    base = {
        "customer_id": ("direct_identifier", "customer_id"),
        "full_name": ("direct_identifier", "full_name"),
        "email": ("direct_identifier", "email"),
        "zip_code": ("quasi_identifier", "zip_code"),
        "date_of_birth": ("quasi_identifier", "date_of_birth"),
        "age": ("quasi_identifier", "age"),
        "sex": ("quasi_identifier", "sex"),
        "income": ("other", None),
    }
    base |= changed
    return [_finding(column, *base[column]) for column in spec.columns]


@pytest.fixture
def specs_dir(tmp_path, small_spec):
    folder = tmp_path / "specs"
    folder.mkdir()
    write_instance(folder, small_spec_dict())
    return folder


@pytest.fixture
def plan(specs_dir, small_spec):
    proposal = approved_plan.propose(small_spec, _findings(small_spec))
    approved_plan.write_plan(
        approved_plan.plan_path(specs_dir, "people"), proposal, "Jane Doe", spec=small_spec
    )
    return approved_plan.load_plan(specs_dir, small_spec)


def _edit(specs_dir, change) -> None:
    path = approved_plan.plan_path(specs_dir, "people")
    raw = yaml.safe_load(path.read_text())
    change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


# ---------------------------------------------------------------------------------------------
# Proposal, file, validation
# ---------------------------------------------------------------------------------------------


def test_proposal_takes_discovery_and_lets_spec_hints_win(small_spec):
    findings = _findings(small_spec, customer_id=("other", None), income=("other", None))
    proposal = approved_plan.propose(small_spec, discovery.findings_table(findings))
    assert proposal["dataset"] == "people" and list(proposal["columns"]) == small_spec.column_names
    assert proposal["columns"]["customer_id"] == {"class": "direct_identifier", "type": "customer_id"}
    assert proposal["columns"]["income"] == {"class": "sensitive", "type": "income"}  # the spec's hint
    assert proposal["columns"]["email"] == {"class": "direct_identifier", "type": "email"}
    with pytest.raises(PlanError, match=r"no row for column\(s\) \['sex'\]"):
        approved_plan.propose(small_spec, [f for f in findings if f.column != "sex"])


def test_written_plan_is_commented_for_its_reviewer_and_loads(plan, specs_dir, small_spec):
    text = approved_plan.plan_path(specs_dir, "people").read_text()
    assert "reviewed and committed by a person" in text.lower()
    assert "email: {class: direct_identifier, type: email}  # drop" in text
    assert "customer_id: {class: direct_identifier, type: customer_id}  # pseudonymize" in text
    assert "zip_code: {class: quasi_identifier, type: zip_code}  # generalize:zip3" in text
    assert plan.dataset == "people" and plan.approved_by == "Jane Doe" and plan.approved_at
    assert list(plan.columns) == small_spec.column_names
    assert plan.columns["email"] == approved_plan.PlannedColumn("direct_identifier", "email", None)


def test_no_plan_file_is_none_and_plan_files_are_not_specs(specs_dir, small_spec, plan):
    assert approved_plan.load_plan(specs_dir / "elsewhere", small_spec) is None
    assert [s.name for s in load_datasets(specs_dir)] == ["people"]  # the plan file is no spec


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: p["columns"].pop("age"), r"field 'columns\.age': missing column"),
        (
            lambda p: p["columns"].update(nickname={"class": "other"}),
            r"field 'columns\.nickname': unknown column",
        ),
        (
            lambda p: p["columns"]["sex"].update({"class": "secret"}),
            r"field 'columns\.sex\.class' must be one of",
        ),
        (lambda p: p["columns"]["sex"].pop("class"), r"field 'columns\.sex\.class' is missing"),
        (lambda p: p["columns"]["sex"].update(mask="drop"), r"field 'columns\.sex\.mask' is not allowed"),
        (lambda p: p.update(dataset="others"), r"field 'dataset' is 'others' but the spec is 'people'"),
        (lambda p: p.pop("approved_by"), r"field 'approved_by' is missing"),
        (lambda p: p.update(reviewer="x"), r"field 'reviewer' is not allowed"),
        (
            lambda p: p["columns"]["email"].update(format=""),
            r"field 'columns\.email\.format' must be a non-empty",
        ),
    ],
)
def test_invalid_plan_is_refused_naming_file_and_field(specs_dir, small_spec, plan, change, expected):
    _edit(specs_dir, change)
    with pytest.raises(PlanError, match=expected) as error:
        approved_plan.load_plan(specs_dir, small_spec)
    assert str(approved_plan.plan_path(specs_dir, "people")) in str(error.value)


def test_a_spec_column_added_or_removed_needs_a_new_approval(specs_dir, small_spec, plan):
    added = small_spec_dict()
    added["columns"]["phone"] = {"type": "string"}
    with pytest.raises(PlanError, match=r"'columns\.phone': missing column.*pii approve people"):
        approved_plan.load_plan(specs_dir, DatasetSpec.model_validate(added))
    removed = small_spec_dict()
    del removed["columns"]["sex"]
    with pytest.raises(PlanError, match=r"'columns\.sex': unknown column"):
        approved_plan.load_plan(specs_dir, DatasetSpec.model_validate(removed))


def test_bad_yaml_and_non_text_column_names_are_refused(specs_dir, small_spec, plan):
    path = approved_plan.plan_path(specs_dir, "people")
    path.write_text("columns: [unclosed\n")
    with pytest.raises(PlanError, match="not valid YAML"):
        approved_plan.load_plan(specs_dir, small_spec)
    path.write_text(
        "dataset: people\napproved_by: J\napproved_at: 2026-01-01\ncolumns: {1: {class: other}}\n"
    )
    with pytest.raises(PlanError, match="read by YAML as a int"):
        approved_plan.load_plan(specs_dir, small_spec)


# ---------------------------------------------------------------------------------------------
# Digest, treatments, the warehouse record
# ---------------------------------------------------------------------------------------------


def test_digest_covers_classes_types_and_formats_only(plan):
    digest = approved_plan.plan_digest(plan)
    assert len(digest) == 64 and int(digest, 16) >= 0 and plan.digest == digest
    other_person = dataclasses.replace(plan, approved_by="Someone Else", approved_at="2030-01-01")
    assert approved_plan.plan_digest(other_person) == digest
    reordered = dataclasses.replace(plan, columns=dict(reversed(list(plan.columns.items()))))
    assert approved_plan.plan_digest(reordered) == digest
    formatted = {
        **plan.columns,
        "full_name": dataclasses.replace(plan.columns["full_name"], format="Family, Given"),
    }
    reclassed = {**plan.columns, "sex": dataclasses.replace(plan.columns["sex"], pii_class="other")}
    assert approved_plan.plan_digest(dataclasses.replace(plan, columns=formatted)) != digest
    assert approved_plan.plan_digest(dataclasses.replace(plan, columns=reclassed)) != digest


def test_treatments_follow_the_plan_with_its_formats(specs_dir, small_spec, plan):
    _edit(specs_dir, lambda p: p["columns"]["full_name"].update(format="Family, Given"))
    _edit(specs_dir, lambda p: p["columns"]["age"].update({"class": "direct_identifier"}))
    loaded = approved_plan.load_plan(specs_dir, small_spec)
    by_column = {t.column: t for t in approved_plan.treatments(small_spec, loaded)}
    assert by_column["customer_id"].action == "pseudonymize"
    assert by_column["full_name"].action == "drop" and by_column["full_name"].format == "Family, Given"
    assert by_column["email"].format is None
    assert by_column["age"].action == "drop"  # the plan, not discovery (which said quasi-identifier)
    assert by_column["zip_code"].action == "generalize" and by_column["zip_code"].generalize == "zip3"
    assert by_column["income"].action == "keep" and by_column["income"].pii_class == "sensitive"


def test_the_warehouse_record_round_trips_and_detects_tampering(plan, small_spec, tmp_path):
    table = approved_plan.plan_table(plan)
    assert set(table.columns) == set(approved_plan.TABLE_COLUMNS)
    again = approved_plan.from_table(table, small_spec, "governance.approved_plan_people")
    assert again.columns == plan.columns and again.digest == plan.digest
    db = tmp_path / "w.duckdb"
    assert approved_plan.recorded_plan(db, small_spec) is None
    warehouse.write_table(db, "governance", approved_plan.plan_table_name("people"), table)
    assert approved_plan.recorded_plan(db, small_spec).digest == plan.digest
    tampered = table.copy()
    tampered.loc[tampered["column"] == "email", "pii_class"] = "other"
    with pytest.raises(PlanError, match="does not match its digest"):
        approved_plan.from_table(tampered, small_spec, "governance.approved_plan_people")


# ---------------------------------------------------------------------------------------------
# Disagreements
# ---------------------------------------------------------------------------------------------


def test_no_disagreement_when_discovery_agrees_or_is_less_strict(plan, small_spec):
    assert approved_plan.disagreements(plan, _findings(small_spec), small_spec) == []
    # The plan drops a column discovery no longer flags: the safe side, not a disagreement.
    relaxed = _findings(small_spec, email=("other", None), full_name=("quasi_identifier", None))
    assert approved_plan.disagreements(plan, relaxed, small_spec) == []


def test_a_new_direct_identifier_the_plan_lets_through_is_a_disagreement(plan, small_spec):
    findings = _findings(small_spec, sex=("direct_identifier", "email"))
    (message,) = approved_plan.disagreements(plan, discovery.findings_table(findings), small_spec)
    assert message.startswith("column 'sex': discovery now finds a direct identifier (email)")
    assert "'quasi_identifier'" in message and "reach the model" in message
    assert "re-approve" in message and "synth-platform pii approve people" in message
    assert approved_plan.disagreeing_columns(plan, findings, small_spec) == ["sex"]


def test_a_column_the_plan_does_not_list_is_a_disagreement(plan, small_spec):
    findings = [*_findings(small_spec), _finding("notes", "other", "prose")]
    (message,) = approved_plan.disagreements(plan, findings, small_spec)
    assert "column 'notes'" in message and "does not list it" in message


def test_a_column_the_spec_masks_does_not_reach_the_model_so_is_no_disagreement(tmp_path, small_spec):
    spec_dict = small_spec_dict()
    spec_dict["columns"]["sex"]["mask"] = "drop"
    spec = DatasetSpec.model_validate(spec_dict)
    proposal = approved_plan.propose(spec, _findings(spec))
    approved_plan.write_plan(approved_plan.plan_path(tmp_path, "people"), proposal, "Jane Doe")
    plan = approved_plan.load_plan(tmp_path, spec)
    findings = _findings(spec, sex=("direct_identifier", "email"))
    assert approved_plan.disagreements(plan, findings, spec) == []
    assert approved_plan.disagreeing_columns(plan, findings) == ["sex"]  # without the spec: by class


def test_the_demo_ships_an_approved_plan_that_drops_every_planted_identifier():
    specs = DATASETS_DIR
    spec = load_instance(specs / DATASET)
    plan = approved_plan.load_plan(specs, spec)
    assert plan is not None and plan.approved_by
    treatments = {t.column: t for t in approved_plan.treatments(spec, plan)}
    for column in ("full_name", "email", "phone", "ssn", "street_address"):
        assert treatments[column].action == "drop", column
    assert treatments["customer_id"].action == "pseudonymize"
    assert [s.name for s in load_datasets(specs)] == [DATASET]


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def cli_project(tmp_path, monkeypatch, small_spec):
    specs = tmp_path / "specs"
    specs.mkdir()
    write_instance(specs, small_spec_dict())
    db = tmp_path / "w.duckdb"
    monkeypatch.setenv("SYNTH_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("SYNTH_SPECS_DIR", str(specs))
    monkeypatch.setenv("SYNTH_WAREHOUSE_PATH", str(db))
    return specs, db


def _people(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(rows)],
            "full_name": [f"Person{i} Example" for i in range(rows)],
            "email": [f"person{i}.contact@example.org" for i in range(rows)],
            "zip_code": rng.choice(["10115", "20095", "80331"], rows),
            "date_of_birth": pd.to_datetime("1970-01-01") + pd.to_timedelta(rng.integers(0, 9000, rows), "D"),
            "age": rng.integers(18, 90, rows),
            "sex": rng.choice(["F", "M"], rows),
            "income": rng.choice(["<=50K", ">50K"], rows),
        }
    )


def test_cli_approve_without_report_or_raw_table_says_to_run_discovery(cli_project, capsys):
    assert main(["pii", "approve", "people"]) == 2
    assert "up to pii_report first" in capsys.readouterr().err
    assert main(["pii", "approve", "nobody"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'nobody'" in err and "known datasets: people" in err
    assert main(["pii", "show", "people"]) == 2
    assert "pii approve people" in capsys.readouterr().err


def test_cli_approve_writes_the_plan_from_the_raw_table_and_shows_it(cli_project, capsys):
    specs, db = cli_project
    frame = _people()
    warehouse.write_table(db, "raw", "people", frame)
    assert main(["pii", "approve", "people", "--by", "Jane Doe"]) == 0
    out = capsys.readouterr().out
    path = approved_plan.plan_path(specs, "people")
    assert f"wrote {path}" in out and "review and commit this file" in out
    assert "discovery run now on raw.people" in out
    assert any(
        line.split()[:4] == ["email", "direct_identifier", "email", "drop"] for line in out.splitlines()
    )
    plan = approved_plan.load_plan(specs, load_instance(specs / "people"))
    assert plan.approved_by == "Jane Doe" and f"digest {plan.digest}" in out
    values = {str(v) for c in ("customer_id", "full_name", "email") for v in frame[c]}
    assert not identifiers_in(out + path.read_text(), values)

    # A reviewer's format survives a re-approval; the stored report is preferred to the raw table.
    _edit(specs, lambda p: p["columns"]["full_name"].update(format="Family, Given"))
    findings = discovery.discover(frame, hints={"customer_id": ("direct_identifier", "customer_id")})
    warehouse.write_table(db, "governance", "pii_people", discovery.findings_table(findings))
    assert main(["pii", "approve", "people", "--by", "Jane Doe"]) == 0
    out = capsys.readouterr().out
    assert (
        "proposed from governance.pii_people" in out and "kept the earlier plan's format of full_name" in out
    )
    assert main(["pii", "show", "people"]) == 0
    shown = capsys.readouterr().out
    assert "format 'Family, Given'" in shown and "approved by Jane Doe" in shown


# ---------------------------------------------------------------------------------------------
# The real chain
# ---------------------------------------------------------------------------------------------


def _failure(result, step: str) -> str:
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert [e.step_key for e in failures] == [step], [e.step_key for e in failures]
    return failures[0].event_specific_data.error.message


def _trained_rows(project) -> int:
    ledger = project.table_or_none("SELECT event FROM governance.ledger")
    return 0 if ledger is None else int((ledger["event"] == "trained").sum())


@pytest.mark.integration
def test_no_plan_stops_after_discovery_and_the_cli_approval_lets_the_next_run_through(
    tmp_path, monkeypatch, capsys
):
    # 1,500 rows with a 30 % holdout: what the gate's size check needs (lib.synthesize.split.rows_needed)
    holdout = {"split": {"holdout_fraction": 0.3}}
    project = make_project(tmp_path, rows=1500, spec_overrides=holdout, approve=False)
    plan_file = approved_plan.plan_path(project.settings.specs_dir, DATASET)
    result = project.run()
    assert not result.success
    message = _failure(result, f"{DATASET}__pii_report")
    assert APPROVE in message and str(plan_file) in message and "before anything is masked" in message
    assert _trained_rows(project) == 0
    assert project.table_or_none(f"SELECT * FROM masked.{DATASET}") is None
    assert project.table_or_none(f"SELECT * FROM governance.pii_{DATASET}") is not None  # for the review
    planted = planted_identifiers(pd.read_csv(next(project.landing.glob("*.csv")), dtype=str))
    assert not identifiers_in(project.run_text(result.run_id), planted)

    monkeypatch.setenv("SYNTH_PROJECT_ROOT", str(project.root))
    monkeypatch.setenv("SYNTH_SPECS_DIR", str(project.settings.specs_dir))
    monkeypatch.setenv("SYNTH_WAREHOUSE_PATH", str(project.settings.warehouse_path))
    assert main(["pii", "approve", DATASET, "--by", "Jane Doe"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {plan_file}" in out and not identifiers_in(out, planted)
    plan = approved_plan.load_plan(
        project.settings.specs_dir, load_instance(project.settings.specs_dir / DATASET)
    )

    job = project.definitions().resolve_job_def(chain_job_name(DATASET))
    stages = ("raw", "pii_report", "masked", "train", "holdout")
    second = job.execute_in_process(
        run_config={"ops": {f"{DATASET}__raw": {"config": {"landing_file": ""}}}},
        instance=project.instance,
        asset_selection=[dg.AssetKey([DATASET, s]) for s in stages],
        raise_on_error=False,
    )
    assert second.success, [e.message for e in second.all_events if e.is_failure]
    report = next(
        e.materialization
        for e in second.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey([DATASET, "pii_report"])
    )
    assert report.metadata["plan_digest"].value == plan.digest
    masked = project.query(f"SELECT * FROM masked.{DATASET}")
    assert not {"full_name", "email", "phone", "ssn", "street_address"} & set(masked.columns)
    recorded = project.query(f"SELECT * FROM governance.approved_plan_{DATASET}")
    assert set(recorded["digest"]) == {plan.digest}


def _contacts(rows: int, emails: bool) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    contact = (
        [f"client{i}.{rng.integers(10**6)}@example.net" for i in range(rows)]
        if emails
        else list(rng.choice(["phone", "letter", "visit", "none"], rows))
    )
    return pd.DataFrame(
        {
            "contact": contact,
            "age": rng.integers(18, 90, rows),
            "segment": rng.choice(["a", "b", "c"], rows),
            "spend": np.round(rng.gamma(2.0, 50.0, rows), 2),
        }
    )


@pytest.mark.integration
def test_a_column_the_plan_calls_other_now_holding_emails_stops_before_training(tmp_path):
    spec = {
        "name": "contacts",
        "source": {"landing_dir": "data/landing/contacts", "format": "csv"},
        "columns": {
            "contact": {"type": "string"},
            "age": {"type": "integer"},
            "segment": {"type": "category"},
            "spend": {"type": "float"},
        },
        "synthesizer": {"kind": "gaussian_copula", "params": {}},
        "privacy": {"epsilon_budget": None},
        "split": {
            "holdout_fraction": 0.3
        },  # with 1,500 rows: what the gate needs (lib.synthesize.split.rows_needed)
    }
    # The reviewer approved the plan on last month's file, where `contact` held a channel name.
    specs = tmp_path / "project" / "datasets"
    specs.mkdir(parents=True)
    write_instance(specs, spec)
    earlier = tmp_path / "earlier.csv"
    _contacts(400, emails=False).to_csv(earlier, index=False)
    approve_plan(specs, "contacts", earlier)
    plan = approved_plan.load_plan(specs, load_instance(specs / "contacts"))
    assert plan.columns["contact"].pii_class == "other"

    frame = _contacts(1500, emails=True)
    project, result = run_generated_dataset(tmp_path, spec, frame, approve=False)
    assert not result.success
    message = _failure(result, "contacts__pii_report")
    assert "'contact'" in message and "direct identifier (email)" in message
    assert "re-approve" in message and "synth-platform pii approve contacts" in message
    assert _trained_rows(project) == 0
    assert project.table_or_none("SELECT * FROM masked.contacts") is None
    assert project.table_or_none("SELECT * FROM governance.approved_plan_contacts") is None
    assert not identifiers_in(project.run_text(result.run_id), set(frame["contact"]))


def test_odd_column_names_and_formats_survive_the_file(tmp_path):
    names = [
        "x" * 200,
        "0-5km",
        "order",
        "Età",
        "a: b # c",
        "1",
        "true",
        "null",
        "- dash",
        "'q'",
        "  padded ",
    ]
    spec = DatasetSpec.model_validate(
        {
            "name": "odd",
            "source": {"landing_dir": "landing/odd"},
            "columns": {n: {"type": "string"} for n in names},
            "synthesizer": {"kind": "gaussian_copula"},
            "privacy": {"epsilon_budget": None},
        }
    )
    formats = ["#########", "#### #### #### ####", "Family, Given", "UPPER", "{x}: y"]
    columns = {
        n: {"class": "direct_identifier", "type": None, "format": formats[i % len(formats)]}
        for i, n in enumerate(names)
    }
    approved_plan.write_plan(
        approved_plan.plan_path(tmp_path, "odd"), {"dataset": "odd", "columns": columns}, "Jane", spec=spec
    )
    plan = approved_plan.load_plan(tmp_path, spec)
    assert list(plan.columns) == names
    assert [c.format for c in plan.columns.values()] == [c["format"] for c in columns.values()]
