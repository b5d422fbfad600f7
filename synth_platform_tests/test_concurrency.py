"""One writer per dataset, and only the table the gate judged is released.

Observed before: two runs of one dataset at once shared every table; run A's gate judged
the synthetic table run B wrote and A published it, and A's ledger rows carried B's source
hash. These unit tests pin the two mechanisms (the run lease, the content-hash binding of
the verdict). The integration test that launches two real runs of one dataset at once is
`test_bad_files.py::test_two_runs_of_one_dataset_at_once_release_only_a_checked_table`: the
release it makes is the one every bad file there must leave untouched (one costly run, two uses).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from synth_platform.lib.governance import ledger, release
from synth_platform.lib.storage import liveness, run_lease


def _entry(run_id: str, event: str = "released") -> ledger.LedgerEntry:
    return ledger.LedgerEntry(
        run_id=run_id,
        dataset="ds",
        event=event,
        source_hash="src",
        train_data_hash="train",
        synthesizer="gaussian_copula",
        parameters={},
        code_version="test",
        decision=event,
    )


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_lease_refuses_a_second_live_run_and_passes_on_when_the_holder_ended(con):
    alive = {"run-a"}
    assert run_lease.claim(con, "ds", "run-a", lambda r: r in alive) is None
    with pytest.raises(run_lease.LeaseHeldError, match=r"another run \(run-a\) of 'ds' is still in progress"):
        run_lease.claim(con, "ds", "run-b", lambda r: r in alive)
    run_lease.confirm(con, "ds", "run-a", lambda r: r in alive)
    alive.clear()  # run-a ended (or died)
    assert run_lease.claim(con, "ds", "run-b", lambda r: r in alive) == "run-a"
    with pytest.raises(run_lease.LeaseHeldError, match=r"run run-a does not own the tables of 'ds'"):
        run_lease.confirm(con, "ds", "run-a", lambda r: r == "run-b")
    assert run_lease.claim(con, "other", "run-a", lambda r: True) is None  # leases are per dataset


def test_a_run_that_did_not_start_at_raw_takes_only_an_ended_runs_lease(con):
    run_lease.confirm(con, "ds", "ui-run", is_alive=lambda r: True)  # nobody held it: taken
    assert run_lease.holder(con, "ds") == "ui-run"
    with pytest.raises(run_lease.LeaseHeldError, match="still in progress"):
        run_lease.confirm(con, "ds", "other-run", is_alive=lambda r: True)
    run_lease.confirm(con, "ds", "other-run", is_alive=lambda r: False)
    assert run_lease.holder(con, "ds") == "other-run"


def _unknown(run_id: str) -> None:
    """This Dagster instance has never heard of the run (another instance, or a deleted run)."""
    return None


def _ended_process() -> liveness.RunProcess:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        process = liveness.run_process(child.pid)
    finally:
        child.kill()
        child.wait()
    assert process is not None
    return process


def _held_by_foreign_run(con, process: liveness.RunProcess | None) -> None:
    current = run_lease.holder(con, "ds")
    if current:
        run_lease.release(con, current)
    run_lease.claim(con, "ds", "foreign", lambda r: False, process)


def test_a_run_unknown_to_this_instance_is_alive_unless_its_process_is_gone_or_its_lease_is_old(con):
    """Was: an unknown run id counted as dead, so a live run of another instance lost its tables."""
    here = liveness.run_process(os.getpid())
    _held_by_foreign_run(con, here)
    with pytest.raises(run_lease.LeaseHeldError, match=r"another run \(foreign\)"):
        run_lease.claim(con, "ds", "mine", _unknown)
    with pytest.raises(run_lease.LeaseHeldError, match="still in progress"):
        run_lease.confirm(con, "ds", "mine", _unknown)

    _held_by_foreign_run(con, liveness.RunProcess(here.pid, here.host, here.started_at - 3600))  # pid reused
    assert run_lease.claim(con, "ds", "mine", _unknown) == "foreign"

    _held_by_foreign_run(con, _ended_process())
    assert run_lease.claim(con, "ds", "mine", _unknown) == "foreign"

    elsewhere = liveness.RunProcess(1, "another-host", 0.0)  # cannot be checked from here
    for process in (elsewhere, None):  # None: a lease row from before the process was recorded
        _held_by_foreign_run(con, process)
        with pytest.raises(run_lease.LeaseHeldError):
            run_lease.claim(con, "ds", "mine", _unknown)
        old = datetime.now(UTC).replace(tzinfo=None) - run_lease.MAX_UNKNOWN_RUN_AGE - timedelta(minutes=1)
        con.execute("UPDATE governance.run_leases SET claimed_at = ?", [old])
        assert run_lease.claim(con, "ds", "mine", _unknown) == "foreign"
    assert run_lease.lease(con, "ds").process is None  # "mine" recorded no process

    assert run_lease.claim(con, "ds", "after", lambda r: False) == "mine"  # the instance knows: ended


def test_a_lease_table_of_an_older_version_gains_the_process_columns(con):
    con.execute("CREATE SCHEMA governance")
    con.execute(
        "CREATE TABLE governance.run_leases "
        "(dataset VARCHAR PRIMARY KEY, run_id VARCHAR, claimed_at TIMESTAMP)"
    )
    con.execute("INSERT INTO governance.run_leases VALUES ('ds', 'old-run', now()::TIMESTAMP)")
    assert run_lease.lease(con, "ds").process is None
    here = liveness.run_process(os.getpid())
    run_lease.claim(con, "ds", "new-run", lambda r: r != "old-run", here)
    assert run_lease.lease(con, "ds").process == here


def test_release_gives_back_only_the_runs_own_leases(con):
    run_lease.claim(con, "ds", "run-a", lambda r: False)
    run_lease.claim(con, "other", "run-b", lambda r: False)
    assert run_lease.release(con, "run-a", "other") == []
    assert run_lease.release(con, "run-a") == ["ds"]
    assert run_lease.holder(con, "ds") is None and run_lease.holder(con, "other") == "run-b"


def _assess(con, run_id: str, frame: pd.DataFrame, model_sha: str = "m1") -> None:
    figures = {"quality_score": {"figure": 0.9}}
    digest = release.frame_sha256(frame)
    release.record_verdict(con, release.Assessment(run_id, "ds", True, [], figures, digest, model_sha))


def _publish(con, run_id: str, model_sha: str = "m1"):
    return release.publish_assessed(con, "ds", run_id, model_sha, lambda a: _entry(run_id))


def test_release_publishes_only_the_table_its_gate_judged(con):
    judged = pd.DataFrame({"age": [30, 40, 50], "city": ["a", "b", None]})
    other = pd.DataFrame({"age": [31, 40, 50], "city": ["a", "b", None]})
    con.register("judged", judged)
    con.register("other", other)
    con.execute("CREATE SCHEMA synthetic")
    con.execute("CREATE TABLE synthetic.ds AS SELECT * FROM judged")
    _assess(con, "run-a", con.execute("SELECT * FROM synthetic.ds").df())
    con.execute("CREATE OR REPLACE TABLE synthetic.ds AS SELECT * FROM other")  # another writer
    with pytest.raises(release.ChangedSinceAssessedError, match="not the table the gate judged"):
        _publish(con, "run-a")
    with pytest.raises(release.ChangedSinceAssessedError, match="model is not the one"):
        con.execute("CREATE OR REPLACE TABLE synthetic.ds AS SELECT * FROM judged")
        _publish(con, "run-a", model_sha="m2")
    with pytest.raises(release.NotAssessedError, match="not run"):
        _publish(con, "run-b")
    assert ledger.read_ledger(con).empty
    assert (
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'release'"
        ).fetchone()[0]
        == 0
    )

    row, frame, _ = _publish(con, "run-a")
    assert row["run_id"] == "run-a"
    pd.testing.assert_frame_equal(con.execute("SELECT * FROM release.ds").df(), frame)
    assert release.frame_sha256(frame) == release.frame_sha256(con.execute("SELECT * FROM synthetic.ds").df())


def test_a_blocked_verdict_and_its_ledger_row_commit_together_or_not_at_all(con):
    frame = pd.DataFrame({"x": [1, 2]})
    verdict = release.Assessment(
        "run-a", "ds", False, ["quality_score"], {}, release.frame_sha256(frame), "m"
    )

    def lost_lease(_con):
        raise run_lease.LeaseHeldError("taken over")

    with pytest.raises(run_lease.LeaseHeldError):
        release.record_verdict(con, verdict, _entry("run-a", "blocked"), guard=lost_lease)
    assert release.assessment_for_run(con, "ds", "run-a") is None
    assert ledger.read_ledger(con).empty

    row = release.record_verdict(con, verdict, _entry("run-a", "blocked"))
    assert row["event"] == "blocked" and release.assessment_for_run(con, "ds", "run-a").passed is False
