"""The run summary says which synthesizer made the model and whether it is differentially private."""

import pandas as pd

from synth_platform import run_summary
from synth_platform.lib.governance import budget, ledger
from synth_platform.lib.spec import NOT_DP_LABEL
from synth_platform.lib.storage import warehouse


def _train(db, run_id: str, kind: str, params: dict, dataset: str) -> None:
    entry = ledger.LedgerEntry(run_id, dataset, "trained", "s", "", kind, params, "test")
    with warehouse.connect(db) as con:
        budget.reserve_training(con, entry, budget.spend_for(kind, params), None)


def test_a_non_private_synthesizer_is_labelled_not_differentially_private(tmp_path):
    db = tmp_path / "w.duckdb"
    _train(db, "run-copula", "gaussian_copula", {"default_distribution": "truncnorm"}, "open")
    line = run_summary.synthesizer_line(run_summary.ledger_rows(db, "run-copula"))
    assert line == f"Synthesizer: gaussian_copula: {NOT_DP_LABEL} (no formal privacy guarantee)"


def test_dp_mst_is_shown_with_its_per_training_epsilon(tmp_path):
    db = tmp_path / "w.duckdb"
    _train(db, "run-dp", "dp_mst", {"epsilon": 1.0, "delta": 1e-9}, "people")
    line = run_summary.synthesizer_line(run_summary.ledger_rows(db, "run-dp"))
    assert line == "Synthesizer: dp_mst: differentially private (epsilon 1 at delta 1e-09 per training)"
    assert NOT_DP_LABEL not in line


def test_no_line_when_the_run_trained_nothing():
    empty = pd.DataFrame({"event": pd.Series([], dtype=str)})
    assert run_summary.synthesizer_line(empty) is None
    assert run_summary.synthesizer_line(pd.DataFrame()) is None
