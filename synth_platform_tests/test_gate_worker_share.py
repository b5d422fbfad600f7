"""What the private gate's process leaves to its evidence worker: the exact SDMetrics quality score.

It decides nothing under a private gate; with a worker it is computed there, so the gate's process
neither imports SDMetrics (and torch through it) nor calls it, and the report — every check of the
evidence pack, the public figures, the decision — is the one the serial path gives.
"""

from __future__ import annotations

from synth_platform.lib.gate import evaluation
from synth_platform.lib.gate.evaluation import decide, evidence_worker
from synth_platform.lib.gate.evaluation.evidence_worker import EvidenceWorker
from synth_platform.lib.gate.private_decision import GateNoise
from synth_platform_tests.test_gate_evidence_worker import PLAN, _pack_content, _spec, clinic  # noqa: F401


def test_with_a_worker_the_gate_process_does_not_import_sdmetrics():
    assert "sdmetrics.reports" in evidence_worker.EVIDENCE_MODULES
    for draws in (True, False):
        assert "sdmetrics.reports" not in evidence_worker.gate_modules(True, draws)
    # without a worker the gate computes the quality score itself, so it imports SDMetrics
    assert "sdmetrics.reports" in evidence_worker.gate_modules(False, False)


def _not_here(*_args, **_kwargs):
    raise AssertionError("the gate's process computed the exact quality score")


def test_the_worker_computes_the_exact_quality_score_the_serial_path_gives(clinic, monkeypatch):  # noqa: F811
    train, holdout, synthetic = clinic
    noise = GateNoise(b"share-key", "share-model", "share-synthetic", 0.01, evaluation="share-eval")
    serial = evaluation.evaluate(_spec(), PLAN, synthetic, train, holdout, [], noise=noise)
    monkeypatch.setattr(decide, "_quality_check", _not_here)  # this process only: the worker is spawned
    with EvidenceWorker() as worker:
        parallel = evaluation.evaluate(
            _spec(), PLAN, synthetic, train, holdout, [], noise=noise, worker=worker
        )
    quality = next(o for o in parallel.outcomes if o.name == "quality_score")
    assert "exact_passed" in quality.details and 0.0 < quality.details["Column Shapes"] <= 1.0
    assert _pack_content(parallel) == _pack_content(serial)
