"""The private gate's exact (evidence-only) checks computed in a worker process change nothing.

* The same report either way: every check's figure, interval, verdict and details — what the
  restricted evidence pack holds (`evidence.outcome_dict`) — and the public figures that leave
  (`GateReport.figures()`), with the exact checks computed in the gate's process or in the worker;
  and the same pictures, byte for byte, with the same notes.
* A worker that fails fails the evaluation (so the gate step) with a message naming the checks
  (or the pictures), the error's type and how to see it in full, and never the error's own text
  (it may quote data).
* When the worker is used: `SYNTH_GATE_EVIDENCE_WORKER`, else the training table's size; whether
  it draws the pictures: `SYNTH_GATE_EVIDENCE_PICTURES`.
* Through Dagster, a gate whose worker draws the pictures writes them into the pack.
* The worker never imports torch (SDMetrics treats it as optional and no exact check needs it).

A small clinic table unlike the demo: accented column names, missing values, a numeric target.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.gate import evaluation
from synth_platform.lib.gate.evaluation import evidence_worker
from synth_platform.lib.gate.evaluation.evidence_worker import EvidenceWorker, EvidenceWorkerError
from synth_platform.lib.gate.private_decision import GateNoise
from synth_platform.lib.governance import evidence
from synth_platform.lib.spec import DatasetSpec
from synth_platform_tests.small_gate_spec import small_gate_spec

COLUMNS = {
    "n° patient": {"type": "string", "pii": {"class": "direct_identifier", "type": "customer_id"}},
    "région": {"type": "category"},
    "âge": {"type": "integer"},
    "tension": {"type": "float", "pii": {"class": "sensitive", "type": "health"}},
    "séjour (jours)": {"type": "integer"},
    "service": {"type": "category"},
}
PLAN = [
    ColumnTreatment("n° patient", "direct_identifier", "customer_id", "drop"),
    ColumnTreatment("région", "quasi_identifier", None, "keep"),
    ColumnTreatment("âge", "quasi_identifier", None, "keep"),
    ColumnTreatment("tension", "sensitive", None, "keep"),
    ColumnTreatment("séjour (jours)", "other", None, "keep"),
    ColumnTreatment("service", "other", None, "keep"),
]
PLANTED = "Zoë Planted-Secret 0612345678"


def _spec() -> DatasetSpec:
    return small_gate_spec("clinique", "n° patient", COLUMNS, ["service", "séjour (jours)"])


def _patients(rng: np.random.Generator, n: int) -> pd.DataFrame:
    pressure = np.round(rng.normal(128.0, 15.0, n), 1)
    pressure[rng.random(n) < 0.08] = np.nan
    return pd.DataFrame(
        {
            "région": rng.choice(["Île-de-France", "Bretagne", "Occitanie", "Grand Est"], n),
            "âge": rng.integers(18, 95, n).astype("int64"),
            "tension": pressure,
            "séjour (jours)": rng.integers(0, 12, n).astype("int64"),
            "service": rng.choice(["cardiologie", "urgences", "pédiatrie"], n, p=[0.5, 0.3, 0.2]),
        }
    )


@pytest.fixture(scope="module")
def clinic():
    rng = np.random.default_rng(11)
    train, holdout = _patients(rng, 340), _patients(rng, 150)
    # a synthetic table that copies some training rows (so the attacks have something to find)
    synthetic = pd.concat([train.sample(60, random_state=3), _patients(rng, 280)], ignore_index=True)
    return train, holdout, synthetic


NOISE = GateNoise(b"clinic-key", "clinic-model", "clinic-synthetic", 0.01, evaluation="clinic-eval")


def _pack_content(report: evaluation.GateReport) -> str:
    """What the evidence pack and the assessment hold of a report: every check as the pack writes
    it, the public figures, the decision."""
    content = {
        "checks": [evidence.outcome_dict(o) for o in report.outcomes],
        "figures": report.figures(),
        "passed": report.passed,
        "failed": report.failed_checks,
    }
    return json.dumps(evidence.jsonable(content), sort_keys=True, default=str)


def test_the_worker_gives_the_evidence_pack_the_serial_path_gives(clinic):
    train, holdout, synthetic = clinic
    frames = (synthetic, train, holdout)
    serial = evaluation.evaluate(_spec(), PLAN, synthetic, train, holdout, [], noise=NOISE)
    serial_pictures, serial_notes = evidence_worker.evidence_pictures(_spec(), PLAN, frames)
    with EvidenceWorker() as worker:
        worker.submit_pictures(_spec(), PLAN, frames)  # as the gate does: before evaluate
        parallel = evaluation.evaluate(
            _spec(), PLAN, synthetic, train, holdout, [], noise=NOISE, worker=worker
        )
        pictures, notes = worker.pictures()
        # the worker computed all that without importing torch (SDMetrics' optional dependency,
        # ~1.4 s of the worker's imports), which the gate's process may still import
        assert worker._submit(_torch_imported).result() is False
    # the same pack files: every picture drawn, byte for byte, with the same notes
    assert (
        set(pictures) == set(serial_pictures) == {"distributions", "correlation_difference", "dcr_histograms"}
    )
    for name, png in serial_pictures.items():
        assert png.startswith(b"\x89PNG") and pictures[name] == png, name
    assert notes == serial_notes and "could not be drawn" not in json.dumps(notes)
    assert [o.name for o in parallel.outcomes] == [o.name for o in serial.outcomes]
    assert _pack_content(parallel) == _pack_content(serial)
    # the worker's checks are really there, exact figures beside the noisy ones
    singling = next(o for o in parallel.outcomes if o.name == "singling_out")
    assert singling.noisy is not None and "exact_passed" in singling.details
    assert singling.details["rows_evaluated"] > 0
    assert any(o.name == "utility_tstr" and o.details.get("targets") for o in parallel.outcomes)


def _torch_imported() -> bool:
    """In the worker (module level: pickled by name): whether torch was imported there."""
    import sys

    return "torch" in sys.modules


def _fails(*_frames):
    """A planted failure, run in the worker process (module level: pickled by name)."""
    raise ValueError(f"cannot score the row of {PLANTED}")


def test_a_failing_worker_fails_the_gate_with_a_clear_message_and_no_data(clinic):
    train, holdout, synthetic = clinic
    with EvidenceWorker(job=_fails, pictures_job=_fails) as worker:
        worker.submit_pictures(_spec(), PLAN, (synthetic, train, holdout))
        with pytest.raises(EvidenceWorkerError) as raised:
            evaluation.evaluate(_spec(), PLAN, synthetic, train, holdout, [], noise=NOISE, worker=worker)
        with pytest.raises(EvidenceWorkerError) as pictures_raised:
            worker.pictures()
    message = str(raised.value)
    assert "evidence worker failed" in message and "ValueError" in message
    assert "privacy attacks and TSTR" in message
    assert "evidence pack's pictures" in str(pictures_raised.value)
    for error in (raised.value, pictures_raised.value):
        message = str(error)
        assert f"{evidence_worker.WORKER_ENV}=0" in message  # how to see the full error
        assert PLANTED not in message and "Planted" not in message
        assert error.__cause__ is None and error.__suppress_context__


def test_the_exact_gate_never_uses_the_worker(clinic):
    """Without noise the exact checks decide: `evaluate` computes them itself, worker or not."""
    train, holdout, synthetic = clinic
    with EvidenceWorker(job=_fails) as worker:
        report = evaluation.evaluate(_spec(), PLAN, synthetic, train, holdout, [], worker=worker)
    assert not report.private and any(o.name == "quality_score" for o in report.outcomes)


def test_a_worker_that_cannot_start_leaves_the_checks_to_the_gate(monkeypatch):
    def refuse():
        raise AssertionError("daemonic processes are not allowed to have children")

    monkeypatch.setenv(evidence_worker.WORKER_ENV, "1")
    monkeypatch.setattr(evidence_worker, "EvidenceWorker", refuse)
    worker, why = evidence_worker.start_worker(10**6)
    assert worker is None and "could not start (AssertionError)" in why


def test_when_the_gate_uses_the_worker(monkeypatch):
    monkeypatch.delenv(evidence_worker.WORKER_ENV, raising=False)
    assert not evidence_worker.use_worker(evidence_worker.MIN_ROWS - 1)
    assert evidence_worker.use_worker(evidence_worker.MIN_ROWS)
    assert not evidence_worker.use_worker(None)
    monkeypatch.setenv(evidence_worker.WORKER_ENV, "0")
    assert not evidence_worker.use_worker(10**9)
    monkeypatch.setenv(evidence_worker.WORKER_ENV, "1")
    assert evidence_worker.use_worker(10)
    monkeypatch.setenv(evidence_worker.WORKER_ENV, "yes")
    with pytest.raises(ValueError, match=evidence_worker.WORKER_ENV):
        evidence_worker.use_worker(10)


def test_who_draws_the_pictures_and_what_the_gate_imports(monkeypatch):
    monkeypatch.delenv(evidence_worker.PICTURES_ENV, raising=False)
    assert evidence_worker.pictures_in_worker()
    monkeypatch.setenv(evidence_worker.PICTURES_ENV, "0")
    assert not evidence_worker.pictures_in_worker()
    monkeypatch.setenv(evidence_worker.PICTURES_ENV, "no")
    with pytest.raises(ValueError, match=evidence_worker.PICTURES_ENV):
        evidence_worker.pictures_in_worker()
    # the gate's process imports matplotlib exactly when it draws the pictures itself
    assert "matplotlib.pyplot" in evidence_worker.gate_modules(False, False)
    assert "matplotlib.pyplot" in evidence_worker.gate_modules(True, False)
    assert "matplotlib.pyplot" not in evidence_worker.gate_modules(True, True)
    assert "matplotlib.pyplot" in evidence_worker.EVIDENCE_MODULES


def _fails_in_the_chain(*_frames):
    """A planted failure of the gate's evidence worker (module level: pickled by name)."""
    raise RuntimeError(f"planted failure near {PLANTED}")


@pytest.mark.integration
def test_a_failing_worker_fails_the_gate_step_and_nothing_is_released(tmp_path, monkeypatch):
    """Through Dagster: the gate step fails with the worker's clear message, the release step does
    not run, and the planted text of the worker's error appears nowhere in the run's events."""
    from synth_platform_tests.pipeline_harness import DATASET, make_project

    monkeypatch.setenv(evidence_worker.WORKER_ENV, "1")  # a small table: the worker on anyway
    monkeypatch.setattr(evidence_worker, "EvidenceWorker", lambda: EvidenceWorker(job=_fails_in_the_chain))
    project = make_project(tmp_path, rows=3000)
    result = project.run(next(project.landing.glob("*.csv")))
    assert not result.success
    failures = {e.step_key: e.step_failure_data.error for e in result.get_step_failure_events()}
    assert set(failures) == {f"{DATASET}__release_gate"}
    error = failures[f"{DATASET}__release_gate"]
    message = error.cause.message if error.cause is not None else error.message  # Dagster wraps it
    assert "evidence worker failed" in message and "RuntimeError" in message
    assert f"{DATASET}__release" not in {e.step_key for e in result.get_step_success_events()}
    assert PLANTED not in project.run_text(result.run_id)


@pytest.mark.integration
def test_a_gate_whose_worker_draws_the_pictures_writes_them_into_the_pack(tmp_path, monkeypatch):
    """Through Dagster with the worker on: the pack holds every picture the gate's process would
    have drawn (the same function, compared above), embedded in its report, and no planted raw
    identifier appears in the pack."""
    from synth_platform_tests.pipeline_harness import (
        DATASET,
        identifiers_in,
        make_project,
        planted_identifiers,
    )

    monkeypatch.setenv(evidence_worker.WORKER_ENV, "1")  # a small table: the worker on anyway
    monkeypatch.delenv(evidence_worker.PICTURES_ENV, raising=False)
    project = make_project(tmp_path, rows=3000)
    landing = next(project.landing.glob("*.csv"))
    result = project.run(landing)
    assert f"{DATASET}__release_gate" in {e.step_key for e in result.get_step_success_events()}
    pack = evidence.pack_dir(project.settings.root, DATASET, result.run_id)
    report = json.loads((pack / "report.json").read_text())
    assert set(report["pictures"]) == {"distributions", "correlation_difference", "dcr_histograms"}
    assert "could not be drawn" not in json.dumps(report["pictures"])
    html = (pack / "report.html").read_text()
    for name in report["pictures"]:
        assert (pack / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    assert html.count("data:image/png;base64,") == 3
    planted = planted_identifiers(pd.read_csv(landing))
    assert not identifiers_in(html + json.dumps(report), planted)
