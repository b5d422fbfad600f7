import math

import duckdb
import pandas as pd
import pytest

from synth_platform.lib import ledger, release


def _entry(event="trained", epsilon=None, dataset="people", decision="trained"):
    return ledger.LedgerEntry(
        run_id="run-1",
        dataset=dataset,
        event=event,
        source_hash="s" * 64,
        train_data_hash="t" * 64,
        synthesizer="gaussian_copula",
        parameters={"default_distribution": "norm"},
        code_version="0.1.0",
        epsilon_spent=epsilon,
        decision=decision,
    )


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield connection
    connection.close()


def test_non_private_training_is_unbounded_never_zero(con):
    row = ledger.append(con, _entry())
    assert row["epsilon_spent"] is None
    assert "unbounded" in row["epsilon_note"]
    assert math.isinf(row["cumulative_epsilon"])
    assert math.isinf(ledger.cumulative_epsilon(con, "people"))


def test_private_spend_accumulates_and_budget_is_enforced(con):
    ledger.append(con, _entry(epsilon=1.0))
    ledger.append(con, _entry(epsilon=0.5))
    assert ledger.cumulative_epsilon(con, "people") == 1.5
    assert ledger.cumulative_epsilon(con, "other") == 0.0
    ledger.check_budget(1.5, 0.5, 2.0)
    with pytest.raises(ledger.BudgetExceededError, match="exceeding the budget of 2"):
        ledger.check_budget(1.5, 1.0, 2.0)
    with pytest.raises(ledger.BudgetExceededError, match="not differentially private"):
        ledger.check_budget(0.0, None, 2.0)


def test_chain_detects_edits_and_deletions(con):
    for _ in range(3):
        ledger.append(con, _entry())
    ledger.append(con, _entry(event="released", decision="released"))
    assert ledger.verify_chain(con) == []
    con.execute("UPDATE governance.ledger SET decision = 'released' WHERE entry_id = 2")
    assert any("entry 2 was altered" in p for p in ledger.verify_chain(con))
    con.execute("DELETE FROM governance.ledger WHERE entry_id = 3")
    assert any("entry 3 is missing" in p for p in ledger.verify_chain(con))


def test_publish_is_atomic_with_its_ledger_row(con):
    first = pd.DataFrame({"a": [1, 2]})
    release.publish(con, "people", first, _entry(event="released", decision="released"))
    with pytest.raises(ValueError):
        release.publish(con, "people", pd.DataFrame({"a": [9]}), _entry(event="bogus"))
    assert con.execute("SELECT a FROM release.people ORDER BY a").fetchall() == [(1,), (2,)]
    assert len(ledger.read_ledger(con)) == 1


def test_assessment_is_per_run(con):
    release.record_assessment(con, release.Assessment("run-1", "people", True, [], {"x": 1}))
    assert release.assessment_for_run(con, "people", "run-1").passed
    assert release.assessment_for_run(con, "people", "run-2") is None
