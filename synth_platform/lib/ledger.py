"""The privacy-budget ledger: an append-only, hash-chained table `governance.ledger`.

One row per governed event of a dataset: `trained` (a synthesizer saw the data, which is
when privacy budget is spent), `released` or `blocked` (the decision on its output).
Epsilon is never silently zero: a synthesizer without a differential-privacy guarantee
spends an *unbounded* amount (NULL, with a note), and from then on the dataset's
cumulative epsilon is infinite. Each row carries the hash of the previous one, so an
edit or deletion anywhere breaks the chain and `verify_chain` says where.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import duckdb

SCHEMA = "governance"
TABLE = "ledger"
EVENTS = ("trained", "released", "blocked")
NOT_PRIVATE_NOTE = "unbounded: synthesizer is not differentially private"
NO_SPEND_NOTE = "none: decision on an already-charged model (post-processing)"

_COLUMNS = [
    ("entry_id", "BIGINT"),
    ("recorded_at", "TIMESTAMP"),
    ("run_id", "VARCHAR"),
    ("dataset", "VARCHAR"),
    ("event", "VARCHAR"),
    ("source_hash", "VARCHAR"),
    ("train_data_hash", "VARCHAR"),
    ("synthesizer", "VARCHAR"),
    ("parameters", "VARCHAR"),
    ("code_version", "VARCHAR"),
    ("epsilon_spent", "DOUBLE"),
    ("epsilon_note", "VARCHAR"),
    ("cumulative_epsilon", "DOUBLE"),
    ("epsilon_budget", "DOUBLE"),
    ("quality_score", "DOUBLE"),
    ("exact_copy_share", "DOUBLE"),
    ("dcr_train_share", "DOUBLE"),
    ("identifier_leaks", "BIGINT"),
    ("decision", "VARCHAR"),
    ("prev_hash", "VARCHAR"),
    ("row_hash", "VARCHAR"),
]
COLUMN_NAMES = [name for name, _ in _COLUMNS]


class BudgetExceededError(RuntimeError):
    """Training would spend more epsilon than the dataset's budget allows."""


@dataclass
class LedgerEntry:
    run_id: str
    dataset: str
    event: str
    source_hash: str
    train_data_hash: str
    synthesizer: str
    parameters: dict
    code_version: str
    epsilon_spent: float | None = None  # None: not differentially private (unbounded)
    epsilon_budget: float | None = None
    quality_score: float | None = None
    exact_copy_share: float | None = None
    dcr_train_share: float | None = None
    identifier_leaks: int | None = None
    decision: str = ""
    recorded_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    columns = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{TABLE} ({columns})")


def _row_hash(prev_hash: str, row: dict) -> str:
    payload = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    payload = {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in payload.items()}
    canonical = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def cumulative_epsilon(con: duckdb.DuckDBPyConnection, dataset: str) -> float:
    """Epsilon spent on a dataset so far: infinite once any non-private fit happened. Works read-only."""
    if not _exists(con):
        return 0.0
    spent, unbounded = con.execute(
        f"SELECT coalesce(sum(epsilon_spent), 0), count(*) FILTER (WHERE epsilon_spent IS NULL) "
        f"FROM {SCHEMA}.{TABLE} WHERE dataset = ? AND event = 'trained'",
        [dataset],
    ).fetchone()
    return math.inf if unbounded else float(spent)


def check_budget(spent: float, epsilon: float | None, budget: float | None) -> None:
    """Refuse a training that would take the dataset past its epsilon budget."""
    if budget is None:
        return
    if epsilon is None:
        raise BudgetExceededError(
            f"the dataset has an epsilon budget of {budget:g} but the synthesizer is not differentially "
            "private (its spend is unbounded); choose a private synthesizer or remove the budget"
        )
    if spent + epsilon > budget + 1e-12:
        raise BudgetExceededError(
            f"training would spend epsilon {epsilon:g} on top of {spent:g} already spent, "
            f"exceeding the budget of {budget:g}; raise the budget deliberately or stop training this dataset"
        )


def append(con: duckdb.DuckDBPyConnection, entry: LedgerEntry) -> dict:
    """Append one row (inside the caller's transaction if there is one) and return it."""
    if entry.event not in EVENTS:
        raise ValueError(f"unknown ledger event {entry.event!r}")
    ensure_ledger(con)
    last = con.execute(
        f"SELECT entry_id, row_hash FROM {SCHEMA}.{TABLE} ORDER BY entry_id DESC LIMIT 1"
    ).fetchone()
    entry_id, prev_hash = (last[0] + 1, last[1]) if last else (1, "")
    spent_before = cumulative_epsilon(con, entry.dataset)
    if entry.event == "trained":
        cumulative = math.inf if entry.epsilon_spent is None else spent_before + entry.epsilon_spent
        note = (
            NOT_PRIVATE_NOTE
            if entry.epsilon_spent is None
            else f"{entry.epsilon_spent:g} (differential privacy)"
        )
        spent = entry.epsilon_spent
    else:
        cumulative, note, spent = spent_before, NO_SPEND_NOTE, 0.0
    values = asdict(entry)
    row = {
        "entry_id": entry_id,
        "recorded_at": entry.recorded_at,
        "run_id": entry.run_id,
        "dataset": entry.dataset,
        "event": entry.event,
        "source_hash": entry.source_hash,
        "train_data_hash": entry.train_data_hash,
        "synthesizer": entry.synthesizer,
        "parameters": json.dumps(values["parameters"], sort_keys=True, default=str),
        "code_version": entry.code_version,
        "epsilon_spent": spent,
        "epsilon_note": note,
        "cumulative_epsilon": cumulative,
        "epsilon_budget": entry.epsilon_budget,
        "quality_score": entry.quality_score,
        "exact_copy_share": entry.exact_copy_share,
        "dcr_train_share": entry.dcr_train_share,
        "identifier_leaks": entry.identifier_leaks,
        "decision": entry.decision,
        "prev_hash": prev_hash,
    }
    row["row_hash"] = _row_hash(prev_hash, row)
    placeholders = ", ".join("?" for _ in COLUMN_NAMES)
    con.execute(
        f"INSERT INTO {SCHEMA}.{TABLE} ({', '.join(COLUMN_NAMES)}) VALUES ({placeholders})",
        [row[c] for c in COLUMN_NAMES],
    )
    return row


def _exists(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [SCHEMA, TABLE],
    ).fetchone()
    return bool(found and found[0])


def read_ledger(con: duckdb.DuckDBPyConnection, dataset: str | None = None):
    """The ledger as a frame (empty, with its columns, before the first entry); works read-only."""
    if not _exists(con):
        import pandas as pd

        return pd.DataFrame(columns=COLUMN_NAMES)
    where, params = ("WHERE dataset = ?", [dataset]) if dataset else ("", [])
    return con.execute(f"SELECT * FROM {SCHEMA}.{TABLE} {where} ORDER BY entry_id", params).df()


def verify_chain(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Problems found in the hash chain; an empty list means the ledger is intact. Works read-only."""
    if not _exists(con):
        return []
    rows = con.execute(f"SELECT {', '.join(COLUMN_NAMES)} FROM {SCHEMA}.{TABLE} ORDER BY entry_id").fetchall()
    problems, prev_hash, expected_id = [], "", 1
    for values in rows:
        row = dict(zip(COLUMN_NAMES, values, strict=True))
        if row["entry_id"] != expected_id:
            problems.append(f"entry {expected_id} is missing (next is {row['entry_id']})")
        if row["prev_hash"] != prev_hash:
            problems.append(f"entry {row['entry_id']} does not follow the previous entry's hash")
        stored = row.pop("row_hash")
        if _row_hash(row["prev_hash"], row) != stored:
            problems.append(f"entry {row['entry_id']} was altered after it was written")
        prev_hash, expected_id = stored, row["entry_id"] + 1
    return problems
