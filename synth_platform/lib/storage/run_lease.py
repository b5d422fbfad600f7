"""One writer per dataset: the run that ingested a dataset owns its tables until it ends.

Two runs of one dataset at once used to share the raw, masked, split and synthetic tables:
one run's gate judged the table the other wrote, and published it. Dagster's run queue
(`tag_concurrency_limits` on `synth/dataset` in config/dagster.yaml) keeps queued runs apart,
but runs started in-process or from the CLI bypass the queue. So the chain guards itself:
`raw` claims the dataset's lease in the warehouse before it reads the file, and refuses while
another run that is still alive holds it; later stages confirm they still hold it in the same
transaction as their write. A lease of a run that has ended (or died: see `liveness`) is
taken over, so a crash never blocks the next run.

Whether the holder is alive: the caller's `is_alive(run_id)` answers True / False for runs its
Dagster instance knows, and None for a run it does not know (another instance sharing the
warehouse, or a run deleted from this one). Such a run is *not* presumed dead: it is alive
unless the process recorded with its lease (pid, host, start time: `liveness.RunProcess`) is
seen gone on this host, or the lease is older than `MAX_UNKNOWN_RUN_AGE`. A run gives its lease
back when it ends (`release`): the chain's last write does, and so does a run-failure sensor;
whatever neither sees (a `kill -9`) is left to the liveness rule.

Why a lease and not run-scoped tables: the tables keep their names (dbt, the UI and the
evidence read `release.<ds>` and friends), and a second run fails at once with a clear reason
instead of training a model that could never be released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from synth_platform.lib.storage import liveness

_TABLE = "governance.run_leases"

#: How long a lease of a run this instance cannot check is respected: far longer than any run.
MAX_UNKNOWN_RUN_AGE = timedelta(hours=24)

IsAlive = Callable[[str], bool | None]
"""`is_alive(run_id)`: True while the run runs, False once it ended, None when the caller's
Dagster instance does not know the run (then the lease row decides: `holder_alive`)."""


class LeaseHeldError(RuntimeError):
    """Another run of the dataset is in progress; this one must not write."""


@dataclass(frozen=True)
class Lease:
    dataset: str
    run_id: str
    claimed_at: datetime
    process: liveness.RunProcess | None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create the table, or add the process columns to one an older version created."""
    con.execute("CREATE SCHEMA IF NOT EXISTS governance")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {_TABLE} (dataset VARCHAR PRIMARY KEY, run_id VARCHAR, "
        "claimed_at TIMESTAMP)"
    )
    present = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'governance' AND table_name = 'run_leases'"
        ).fetchall()
    }
    for column, kind in (("pid", "BIGINT"), ("host", "VARCHAR"), ("process_started_at", "DOUBLE")):
        if column not in present:
            con.execute(f"ALTER TABLE {_TABLE} ADD COLUMN IF NOT EXISTS {column} {kind}")


def lease(con: duckdb.DuckDBPyConnection, dataset: str) -> Lease | None:
    _ensure(con)
    row = con.execute(
        f"SELECT run_id, claimed_at, pid, host, process_started_at FROM {_TABLE} WHERE dataset = ?",
        [dataset],
    ).fetchone()
    if row is None:
        return None
    run_id, claimed_at, pid, host, started = row
    process = (
        liveness.RunProcess(int(pid), host, float(started)) if None not in (pid, host, started) else None
    )
    return Lease(dataset, run_id, claimed_at, process)


def holder(con: duckdb.DuckDBPyConnection, dataset: str) -> str | None:
    current = lease(con, dataset)
    return current.run_id if current else None


def holder_alive(current: Lease, is_alive: IsAlive, now: datetime | None = None) -> bool:
    """Whether the lease's run may still be writing: see the module docstring for the rule."""
    known = is_alive(current.run_id)
    if known is not None:
        return known
    if current.process is not None:
        state = liveness.process_state(current.process)
        if state is not None:
            return state
    return (now or _now()) - current.claimed_at < MAX_UNKNOWN_RUN_AGE


def _take(
    con: duckdb.DuckDBPyConnection, dataset: str, run_id: str, process: liveness.RunProcess | None
) -> None:
    con.execute(f"DELETE FROM {_TABLE} WHERE dataset = ?", [dataset])
    con.execute(
        f"INSERT INTO {_TABLE} (dataset, run_id, claimed_at, pid, host, process_started_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            dataset,
            run_id,
            _now(),
            process.pid if process else None,
            process.host if process else None,
            process.started_at if process else None,
        ],
    )


def claim(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    run_id: str,
    is_alive: IsAlive,
    process: liveness.RunProcess | None = None,
) -> str | None:
    """Take the dataset's lease for `run_id`; return the ended run it was taken from, if any.

    Call under the warehouse lock (any `warehouse.connect`), which makes check-and-take atomic.
    Raises LeaseHeldError while a different run that is alive (`holder_alive`) holds it.
    `process` is where this run executes, recorded so that other instances can check it.
    """
    current = lease(con, dataset)
    if current is not None and current.run_id == run_id:
        return None
    if current is not None and holder_alive(current, is_alive):
        raise LeaseHeldError(
            f"another run ({current.run_id}) of '{dataset}' is still in progress and owns its tables; this "
            "run stops without writing. Launch it again when that run has ended (runs launched by the "
            "daemon queue per dataset and never meet this)."
        )
    con.execute("BEGIN TRANSACTION")
    try:
        _take(con, dataset, run_id, process)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return current.run_id if current else None


def confirm(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    run_id: str,
    is_alive: IsAlive,
    process: liveness.RunProcess | None = None,
) -> None:
    """Raise LeaseHeldError unless `run_id` holds the dataset's lease, taking it if it is free.

    Call inside the transaction of the write it guards, so nothing commits for a run that lost
    it. A run that did not start at `raw` (the UI re-materialising `synthesizer`, `synthetic`
    and `release`) takes a free lease or the lease of a run that has ended; it never takes one
    from a live run. `is_alive` is required: without it an ended run's lease would stop every
    later run that did not start at `raw`. The take-over joins the caller's transaction.
    """
    current = lease(con, dataset)
    if current is not None and current.run_id == run_id:
        return
    if current is None or not holder_alive(current, is_alive):
        _take(con, dataset, run_id, process)
        return
    raise LeaseHeldError(
        f"run {run_id} does not own the tables of '{dataset}' (run {current.run_id} does, and is still "
        "in progress); it stops without writing, so two runs' tables are never mixed"
    )


def release(con: duckdb.DuckDBPyConnection, run_id: str, dataset: str | None = None) -> list[str]:
    """Give back the leases `run_id` holds (of `dataset`, or all); return the datasets freed.

    Only the run's own leases: a lease another run has taken over since is left alone.
    """
    _ensure(con)
    where, params = (
        ("run_id = ?", [run_id]) if dataset is None else ("run_id = ? AND dataset = ?", [run_id, dataset])
    )
    freed = [r[0] for r in con.execute(f"SELECT dataset FROM {_TABLE} WHERE {where}", params).fetchall()]
    if freed:
        con.execute(f"DELETE FROM {_TABLE} WHERE {where}", params)
    return freed
