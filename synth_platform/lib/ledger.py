"""The privacy-budget ledger: an append-only, hash-chained table `governance.ledger`.

One row per governed event of a dataset:

- `trained`: a synthesizer is about to see the data. The row is written (the budget
  *reserved*) before any data is read, so a crash or a failed fit is still charged: it saw
  the data, or might have.
- `reused`: the current model, already charged by an earlier `trained` row, is sampled
  again (the source did not change). Sampling is post-processing: it costs nothing.
- `released` / `blocked`: the release gate's decision on a model's output (no spend).
- `refused`: a training refused before reading any data (budget exhausted, or a
  non-private synthesizer on a dataset with a budget). No spend.

Spend is accounted in zero-concentrated DP (`rho`, see `accounting`): each `trained`
row carries the training's epsilon, delta and rho; the dataset's cumulative rho is the
sum over its trainings and is shown as epsilon at the dataset's delta (`budget_delta`).
Epsilon is never silently zero: a synthesizer without a differential-privacy guarantee
spends an *unbounded* amount (NULL, with a note), and from then on the dataset's
cumulative epsilon is infinite.

Tamper evidence: each row carries the hash of the previous one, so an edit or deletion
inside the table breaks the chain. Deleting the *newest* rows leaves a shorter chain that
is still internally consistent, so the chain head (last entry id and row hash) is also
kept outside the table: in a head file beside the warehouse (`<warehouse>.ledger_head.json`,
replaced atomically after each committed append) and in the metadata of every ledger
materialisation in Dagster. Every append first checks the chain it extends against the
head and refuses to extend a broken one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from synth_platform.lib import accounting

SCHEMA = "governance"
TABLE = "ledger"
EVENTS = ("trained", "reused", "released", "blocked", "refused")
NOT_PRIVATE_NOTE = "unbounded: synthesizer is not differentially private"
NO_SPEND_NOTE = "none: decision on an already-charged model (post-processing)"
REUSED_NOTE = "none: sampling again from the model charged in entry {entry} (post-processing)"
REFUSED_NOTE = "none: training refused before any data was read"
HEAD_SUFFIX = ".ledger_head.json"

#: The columns of the first ledger version; their hash payload never changes.
_LEGACY_COLUMNS = [
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
#: Columns added later (appended by ALTER TABLE to an older ledger). A NULL here is left out
#: of the row's hash payload, so rows written before the migration still verify.
_ADDED_COLUMNS = [
    ("delta", "DOUBLE"),  # delta of this training's epsilon_spent
    ("rho_spent", "DOUBLE"),  # zCDP cost of this training
    ("delta_additive", "DOUBLE"),  # delta spent outside zCDP (e.g. thresholding); adds up across trainings
    ("cumulative_rho", "DOUBLE"),  # the dataset's total rho after this row
    ("budget_delta", "DOUBLE"),  # delta at which cumulative_epsilon and epsilon_budget are stated
    ("gate_figures", "VARCHAR"),  # JSON: every release-gate figure, threshold and interval
    ("model_sha256", "VARCHAR"),  # the model the row is about (decisions, reuse)
    ("charged_entry", "BIGINT"),  # the `trained` entry that paid for that model
]
_COLUMNS = _LEGACY_COLUMNS + _ADDED_COLUMNS
COLUMN_NAMES = [name for name, _ in _COLUMNS]
_KINDS = dict(_COLUMNS)
_ADDED = {name for name, _ in _ADDED_COLUMNS}


class BudgetExceededError(RuntimeError):
    """Training would spend more than the dataset's budget allows. `row` is the `refused` entry."""

    def __init__(self, message: str, row: dict | None = None):
        super().__init__(message)
        self.row = row


class LedgerIntegrityError(RuntimeError):
    """The ledger's hash chain is broken (edited, deleted or truncated rows): it is not extended."""


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
    epsilon_spent: float | None = None  # None on a `trained` row: not differentially private (unbounded)
    epsilon_budget: float | None = None
    quality_score: float | None = None
    exact_copy_share: float | None = None
    dcr_train_share: float | None = None
    identifier_leaks: int | None = None
    decision: str = ""
    recorded_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    delta: float | None = None  # delta of epsilon_spent (default: accounting.DEFAULT_DELTA)
    rho_spent: float | None = None  # computed from (epsilon_spent, delta) when not given
    delta_additive: float = 0.0  # part of delta spent outside zCDP (thresholding), adds up
    budget_delta: float = accounting.DEFAULT_DELTA
    figures: dict = field(default_factory=dict)
    model_sha256: str | None = None
    charged_entry: int | None = None


@dataclass(frozen=True)
class Head:
    """The newest entry of the chain, kept outside the table to catch truncation."""

    entry_id: int
    row_hash: str
    source: str = "head file"


# --------------------------------------------------------------------------- schema


def _exists(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [SCHEMA, TABLE],
    ).fetchone()
    return bool(found and found[0])


def _present_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [SCHEMA, TABLE],
        ).fetchall()
    ]


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger, or bring an older one up to date by adding the new columns.

    An older ledger keeps its rows and hashes: the added columns are NULL on them and a
    NULL added column is not part of the hash. A table that lacks an original column or
    has columns we do not know is not a ledger this code can extend: refuse clearly.
    """
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    if not _exists(con):
        columns = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS)
        con.execute(f"CREATE TABLE {SCHEMA}.{TABLE} ({columns})")
        return
    present = _present_columns(con)
    missing_legacy = [name for name, _ in _LEGACY_COLUMNS if name not in present]
    unknown = [name for name in present if name not in _KINDS]
    if missing_legacy or unknown:
        raise LedgerIntegrityError(
            f"{SCHEMA}.{TABLE} does not have the ledger's columns (missing: {missing_legacy or 'none'}, "
            f"unknown: {unknown or 'none'}); it was not written by this platform or was altered. "
            "Restore it from a backup; it is not extended as it is."
        )
    for name, kind in _ADDED_COLUMNS:
        if name not in present:
            con.execute(f"ALTER TABLE {SCHEMA}.{TABLE} ADD COLUMN {name} {kind}")


def _select_list(con: duckdb.DuckDBPyConnection) -> str:
    """All ledger columns, NULL for added columns an older (read-only) table does not have yet."""
    present = set(_present_columns(con))
    return ", ".join(
        name if name in present else f"CAST(NULL AS {_KINDS[name]}) AS {name}" for name in COLUMN_NAMES
    )


# --------------------------------------------------------------------------- hashing


def _normalise(row: dict) -> dict:
    """Values as DuckDB gives them back, so the hash at write time equals the hash at verify time."""
    out = {}
    for name in COLUMN_NAMES:
        value = row.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value) and _KINDS[name] != "DOUBLE"):
            out[name] = None
        elif _KINDS[name] == "BIGINT":
            out[name] = int(value)
        elif _KINDS[name] == "DOUBLE":
            out[name] = float(value)
        elif _KINDS[name] == "VARCHAR":
            out[name] = str(value)
        elif _KINDS[name] == "TIMESTAMP":
            out[name] = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
        else:  # pragma: no cover - every column has one of the kinds above
            out[name] = value
    return out


def _row_hash(prev_hash: str, row: dict) -> str:
    payload = {k: v for k, v in row.items() if k != "row_hash" and not (k in _ADDED and v is None)}
    payload = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in payload.items()}
    payload = {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in payload.items()}
    canonical = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


# --------------------------------------------------------------------------- spend


def cumulative_spend(con: duckdb.DuckDBPyConnection, dataset: str) -> tuple[float, float]:
    """(rho, additive delta) spent on a dataset so far, summed over its trainings. Works read-only.

    rho is infinite once any non-private fit happened. A `trained` row from before zCDP
    accounting that states a finite epsilon but no rho is counted as rho = epsilon^2 / 2
    (pure epsilon-DP implies that much zCDP).
    """
    if not _exists(con):
        return 0.0, 0.0
    present = _present_columns(con)
    if "rho_spent" in present:
        rho_expr = "coalesce(rho_spent, epsilon_spent * epsilon_spent / 2)"
        unbounded = "epsilon_spent IS NULL AND rho_spent IS NULL"
    else:
        rho_expr, unbounded = "epsilon_spent * epsilon_spent / 2", "epsilon_spent IS NULL"
    delta_expr = "coalesce(sum(delta_additive), 0)" if "delta_additive" in present else "0"
    rho, delta_add, unbounded_count = con.execute(
        f"SELECT coalesce(sum({rho_expr}), 0), {delta_expr}, count(*) FILTER (WHERE {unbounded}) "
        f"FROM {SCHEMA}.{TABLE} WHERE dataset = ? AND event = 'trained'",
        [dataset],
    ).fetchone()
    return (math.inf if unbounded_count else float(rho)), float(delta_add)


def cumulative_rho(con: duckdb.DuckDBPyConnection, dataset: str) -> float:
    """zCDP rho spent on a dataset so far; inf once any non-private fit happened. Works read-only."""
    return cumulative_spend(con, dataset)[0]


def cumulative_epsilon(
    con: duckdb.DuckDBPyConnection, dataset: str, delta: float = accounting.DEFAULT_DELTA
) -> float:
    """The dataset's cumulative spend as epsilon at `delta` (composed in rho). Works read-only."""
    return accounting.epsilon_from_spend(*cumulative_spend(con, dataset), delta)


def _spend_columns(entry: LedgerEntry, before: tuple[float, float]) -> dict:
    """epsilon/delta/rho of this row, the note, and the dataset's totals after it."""
    budget_delta = entry.budget_delta
    rho_before, delta_add_before = before
    delta_add = 0.0
    if entry.event != "trained":
        note = {
            "reused": REUSED_NOTE.format(entry=entry.charged_entry),
            "refused": REFUSED_NOTE,
        }.get(entry.event, NO_SPEND_NOTE)
        epsilon, delta, rho, total = 0.0, None, 0.0, rho_before
    elif entry.epsilon_spent is None:
        epsilon, delta, rho, total, note = None, None, None, math.inf, NOT_PRIVATE_NOTE
    else:
        delta = accounting.DEFAULT_DELTA if entry.delta is None else float(entry.delta)
        epsilon = float(entry.epsilon_spent)
        delta_add = float(entry.delta_additive or 0.0)
        rho = entry.rho_spent
        if rho is None:
            rho = accounting.rho_from_epsilon_delta(epsilon, delta - delta_add)
        total = accounting.compose_rho([rho_before, rho])
        note = f"{epsilon:g} at delta {delta:g} = rho {rho:.6g} (differential privacy, zCDP)"
        if delta_add:
            note += f" + additive delta {delta_add:g}"
    return {
        "epsilon_spent": epsilon,
        "delta": delta,
        "rho_spent": rho,
        "delta_additive": delta_add,
        "epsilon_note": note,
        "cumulative_rho": total,
        "cumulative_epsilon": accounting.epsilon_from_spend(
            total, delta_add_before + delta_add, budget_delta
        ),
        "budget_delta": budget_delta,
    }


# --------------------------------------------------------------------------- chain head


def warehouse_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    found = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return Path(found[0]) if found and found[0] else None


def head_path(db_path: Path) -> Path:
    """Where the chain head of the ledger in `db_path` is kept (beside the warehouse file)."""
    return Path(f"{db_path}{HEAD_SUFFIX}")


def read_head_file(db_path: Path) -> Head | None:
    path = head_path(db_path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return Head(int(data["entry_id"]), str(data["row_hash"]), f"head file {path.name}")
    except (ValueError, KeyError, TypeError) as error:
        raise LedgerIntegrityError(
            f"the ledger head file {path} is unreadable ({error.__class__.__name__}); "
            "restore it or run `synth-platform ledger verify`"
        ) from None


def _last_row(con: duckdb.DuckDBPyConnection) -> dict | None:
    if not _exists(con):
        return None
    found = con.execute(
        f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} ORDER BY entry_id DESC LIMIT 1"
    ).fetchone()
    return dict(zip(COLUMN_NAMES, found, strict=True)) if found else None


def write_head(con: duckdb.DuckDBPyConnection) -> Head | None:
    """Record the newest committed entry as the chain head (atomic file replace).

    Call after the transaction holding an append has committed (`append` does this itself
    when it owns the transaction). A head that lags behind the table is harmless: the table
    may extend the head, never fall short of it.
    """
    db_path = warehouse_path(con)
    last = _last_row(con)
    if db_path is None or last is None:
        return None
    head = Head(int(last["entry_id"]), last["row_hash"])
    path = head_path(db_path)
    tmp = path.with_name(path.name + ".tmp")
    payload = {
        "entry_id": head.entry_id,
        "row_hash": head.row_hash,
        "written_at": datetime.now(UTC).isoformat(),
    }
    with open(tmp, "w") as handle:
        handle.write(json.dumps(payload))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return head


def _head_problems(con: duckdb.DuckDBPyConnection, heads: Iterable[Head], last_id: int) -> list[str]:
    problems = []
    for head in heads:
        if head.entry_id > last_id:
            problems.append(
                f"entries {last_id + 1}..{head.entry_id} are missing: the ledger ends at entry {last_id} "
                f"but the chain head in the {head.source} is entry {head.entry_id} (truncated)"
            )
            continue
        found = con.execute(
            f"SELECT row_hash FROM {SCHEMA}.{TABLE} WHERE entry_id = ?", [head.entry_id]
        ).fetchone()
        if found is None or found[0] != head.row_hash:
            problems.append(
                f"entry {head.entry_id} does not match the chain head in the {head.source} (rewritten)"
            )
    return problems


def _default_heads(con: duckdb.DuckDBPyConnection) -> tuple[list[Head], list[str]]:
    """The head file's head, or a problem if the file is missing although it should exist."""
    db_path = warehouse_path(con)
    if db_path is None:
        return [], []
    head = read_head_file(db_path)
    if head is not None:
        return [head], []
    has_new_rows = (
        _exists(con)
        and "budget_delta" in _present_columns(con)
        and con.execute(f"SELECT count(*) FROM {SCHEMA}.{TABLE} WHERE budget_delta IS NOT NULL").fetchone()[0]
    )
    if has_new_rows:
        return [], [f"the chain head file {head_path(db_path).name} is missing (deleted?)"]
    return [], []  # a ledger written before head files existed: nothing to compare with yet


def check_tail(con: duckdb.DuckDBPyConnection, heads: Iterable[Head] = ()) -> list[str]:
    """The cheap check before an append: ids contiguous, last two rows chained, heads agree.

    Catches an edited newest row, a deleted row anywhere (the count no longer matches the
    last id), and a truncated tail (the head is beyond the last row). An edit deeper in
    the table needs `verify_chain`, which reads every row.
    """
    file_heads, problems = _default_heads(con)
    heads = [*file_heads, *heads]
    if not _exists(con):
        return problems + [
            f"the ledger table is gone but the {h.source} names entry {h.entry_id}" for h in heads
        ]
    count, last_id = con.execute(
        f"SELECT count(*), coalesce(max(entry_id), 0) FROM {SCHEMA}.{TABLE}"
    ).fetchone()
    if count != last_id:
        problems.append(
            f"{last_id - count} entr(y/ies) below entry {last_id} are missing (ids are not contiguous)"
        )
    rows = con.execute(
        f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} ORDER BY entry_id DESC LIMIT 2"
    ).fetchall()
    rows = [dict(zip(COLUMN_NAMES, r, strict=True)) for r in rows]
    if rows:
        last = rows[0]
        if _row_hash(last["prev_hash"], _normalise(last)) != last["row_hash"]:
            problems.append(f"entry {last['entry_id']} was altered after it was written")
        expected_prev = rows[1]["row_hash"] if len(rows) > 1 else ""
        if last["prev_hash"] != expected_prev:
            problems.append(f"entry {last['entry_id']} does not follow the previous entry's hash")
    return problems + _head_problems(con, heads, last_id)


def verify_chain(con: duckdb.DuckDBPyConnection, heads: Iterable[Head] = ()) -> list[str]:
    """Problems found in the whole hash chain and against the chain heads; empty means intact.

    The head file beside the warehouse is always compared; `heads` adds more (e.g. the
    one in Dagster's latest ledger materialisation). O(rows); works read-only.
    """
    file_heads, problems = _default_heads(con)
    heads = [*file_heads, *heads]
    if not _exists(con):
        return problems + [
            f"the ledger table is missing but the {h.source} names entry {h.entry_id} (truncated)"
            for h in heads
        ]
    rows = con.execute(f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} ORDER BY entry_id").fetchall()
    prev_hash, expected_id = "", 1
    for values in rows:
        row = dict(zip(COLUMN_NAMES, values, strict=True))
        if row["entry_id"] != expected_id:
            missing = (
                f"entry {expected_id} is missing"
                if row["entry_id"] == expected_id + 1
                else f"entries {expected_id}..{row['entry_id'] - 1} are missing"
            )
            problems.append(f"{missing} (next is {row['entry_id']})")
        if row["prev_hash"] != prev_hash:
            problems.append(f"entry {row['entry_id']} does not follow the previous entry's hash")
        if _row_hash(row["prev_hash"], _normalise(row)) != row["row_hash"]:
            problems.append(f"entry {row['entry_id']} was altered after it was written")
        prev_hash, expected_id = row["row_hash"], row["entry_id"] + 1
    return problems + _head_problems(con, heads, expected_id - 1)


# --------------------------------------------------------------------------- writing


def _begin(con: duckdb.DuckDBPyConnection) -> bool:
    """Start a transaction unless the caller already has one; True when we own it.

    (A failed BEGIN would abort the caller's transaction, so ask instead: within a transaction
    `txid_current()` returns the same id twice, in autocommit mode a new one each time.)
    """
    first = con.execute("SELECT txid_current()").fetchone()[0]
    second = con.execute("SELECT txid_current()").fetchone()[0]
    if first == second:
        return False
    con.execute("BEGIN TRANSACTION")
    return True


def _insert(con: duckdb.DuckDBPyConnection, entry: LedgerEntry, heads: Iterable[Head]) -> dict:
    if entry.event not in EVENTS:
        raise ValueError(f"unknown ledger event {entry.event!r}; one of {list(EVENTS)}")
    problems = check_tail(con, heads)
    if problems:
        raise LedgerIntegrityError(
            "the privacy ledger's hash chain is broken, so it is not extended: "
            + "; ".join(problems)
            + ". Nothing was trained or released. Run `synth-platform ledger verify` and restore the "
            "ledger (warehouse and head file) from a backup."
        )
    last = con.execute(
        f"SELECT entry_id, row_hash FROM {SCHEMA}.{TABLE} ORDER BY entry_id DESC LIMIT 1"
    ).fetchone()
    entry_id, prev_hash = (last[0] + 1, last[1]) if last else (1, "")
    row = {
        "entry_id": entry_id,
        "recorded_at": entry.recorded_at,
        "run_id": entry.run_id,
        "dataset": entry.dataset,
        "event": entry.event,
        "source_hash": entry.source_hash,
        "train_data_hash": entry.train_data_hash,
        "synthesizer": entry.synthesizer,
        "parameters": json.dumps(entry.parameters, sort_keys=True, default=str),
        "code_version": entry.code_version,
        "epsilon_budget": entry.epsilon_budget,
        "quality_score": entry.quality_score,
        "exact_copy_share": entry.exact_copy_share,
        "dcr_train_share": entry.dcr_train_share,
        "identifier_leaks": entry.identifier_leaks,
        "decision": entry.decision,
        "prev_hash": prev_hash,
        "gate_figures": json.dumps(entry.figures, sort_keys=True, default=str) if entry.figures else None,
        "model_sha256": entry.model_sha256 or None,
        "charged_entry": entry.charged_entry,
        **_spend_columns(entry, cumulative_spend(con, entry.dataset)),
    }
    row = _normalise(row)
    row["row_hash"] = _row_hash(prev_hash, row)
    placeholders = ", ".join("?" for _ in COLUMN_NAMES)
    con.execute(
        f"INSERT INTO {SCHEMA}.{TABLE} ({', '.join(COLUMN_NAMES)}) VALUES ({placeholders})",
        [row[c] for c in COLUMN_NAMES],
    )
    return row


def append(con: duckdb.DuckDBPyConnection, entry: LedgerEntry, heads: Iterable[Head] = ()) -> dict:
    """Check the chain's tail, append one row, and return it.

    Inside the caller's transaction if there is one: the caller then calls `write_head`
    after its COMMIT. Otherwise the append is its own transaction and the head file is
    updated once it has committed. A broken chain raises `LedgerIntegrityError` and
    nothing is written.
    """
    ensure_ledger(con)
    own = _begin(con)
    try:
        row = _insert(con, entry, heads)
        if own:
            con.execute("COMMIT")
    except BaseException:
        if own:
            con.execute("ROLLBACK")
        raise
    if own:
        write_head(con)
    return row


# --------------------------------------------------------------------------- reading


def read_ledger(con: duckdb.DuckDBPyConnection, dataset: str | None = None, newest: int | None = None):
    """The ledger as a frame, oldest first (empty, with its columns, before the first entry); read-only.

    `newest` keeps only the last rows, selected by the database rather than after reading them all.
    """
    if not _exists(con):
        import pandas as pd

        return pd.DataFrame(columns=COLUMN_NAMES)
    where, params = ("WHERE dataset = ?", [dataset]) if dataset else ("", [])
    query = f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} {where}"
    if newest is not None:
        query = f"SELECT * FROM ({query} ORDER BY entry_id DESC LIMIT ?)"
        params = [*params, int(newest)]
    return con.execute(f"{query} ORDER BY entry_id", params).df()


def entry(con: duckdb.DuckDBPyConnection, entry_id: int) -> dict | None:
    """One row by id (None if absent); works read-only."""
    if not _exists(con):
        return None
    found = con.execute(
        f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} WHERE entry_id = ?", [entry_id]
    ).fetchone()
    return dict(zip(COLUMN_NAMES, found, strict=True)) if found else None
