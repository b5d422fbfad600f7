"""One writer per dataset: the run that ingested a dataset owns its tables until it ends.

Two runs of one dataset at once used to share the raw, masked, split and synthetic tables:
one run's gate judged the table the other wrote, and published it. Dagster's run queue
(`tag_concurrency_limits` on `synth/dataset` in config/dagster.yaml) keeps queued runs apart,
but runs started in-process or from the CLI bypass the queue. So the chain guards itself:
`raw` claims the dataset's lease in the warehouse before it reads the file, and refuses while
another run that is still alive holds it; later stages confirm they still hold it in the same
transaction as their write. A lease of a run that has ended (or died: see `liveness`) is
taken over, so a crash never blocks the next run.

Why a lease and not run-scoped tables: the tables keep their names (dbt, the UI and the
evidence read `release.<ds>` and friends), and a second run fails at once with a clear reason
instead of training a model that could never be released.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

_TABLE = "governance.run_leases"


class LeaseHeldError(RuntimeError):
    """Another run of the dataset is in progress; this one must not write."""


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS governance")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {_TABLE} (dataset VARCHAR PRIMARY KEY, run_id VARCHAR, "
        "claimed_at TIMESTAMP)"
    )


def holder(con: duckdb.DuckDBPyConnection, dataset: str) -> str | None:
    _ensure(con)
    row = con.execute(f"SELECT run_id FROM {_TABLE} WHERE dataset = ?", [dataset]).fetchone()
    return row[0] if row else None


def claim(
    con: duckdb.DuckDBPyConnection, dataset: str, run_id: str, is_alive: Callable[[str], bool]
) -> str | None:
    """Take the dataset's lease for `run_id`; return the ended run it was taken from, if any.

    Call under the warehouse lock (any `warehouse.connect`), which makes check-and-take atomic.
    Raises LeaseHeldError while a different run that `is_alive` says is alive holds it.
    """
    current = holder(con, dataset)
    if current == run_id:
        return None
    if current is not None and is_alive(current):
        raise LeaseHeldError(
            f"another run ({current}) of '{dataset}' is still in progress and owns its tables; this run "
            "stops without writing. Launch it again when that run has ended (runs launched by the daemon "
            "queue per dataset and never meet this)."
        )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {_TABLE} WHERE dataset = ?", [dataset])
        con.execute(
            f"INSERT INTO {_TABLE} VALUES (?, ?, ?)",
            [dataset, run_id, datetime.now(UTC).replace(tzinfo=None)],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return current


def confirm(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    run_id: str,
    is_alive: Callable[[str], bool] | None = None,
) -> None:
    """Raise LeaseHeldError unless `run_id` holds the dataset's lease, taking it if it is free.

    Call inside the transaction of the write it guards, so nothing commits for a run that lost
    it. A run that did not start at `raw` (the UI re-materialising `synthetic` and `release`)
    takes a free lease, or, given `is_alive`, the lease of a run that has ended; it never takes
    one from a live run. The take-over joins the caller's transaction.
    """
    current = holder(con, dataset)
    if current == run_id:
        return
    if current is None or (is_alive is not None and not is_alive(current)):
        now = datetime.now(UTC).replace(tzinfo=None)
        con.execute(f"DELETE FROM {_TABLE} WHERE dataset = ?", [dataset])
        con.execute(f"INSERT INTO {_TABLE} VALUES (?, ?, ?)", [dataset, run_id, now])
        return
    raise LeaseHeldError(
        f"run {run_id} does not own the tables of '{dataset}' (run {current} does"
        f"{'' if is_alive is None else ', and is still in progress'}); it stops without writing, so "
        "two runs' tables are never mixed"
    )
