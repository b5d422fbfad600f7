"""Writing the ledger: creating or migrating the table, and appending one keyed row after the
whole chain verified, inside the caller's transaction or its own.

A broken chain is never extended: `append` refuses with `LedgerIntegrityError` and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import duckdb

from synth_platform.lib.governance.ledger.chain import _verify, write_head
from synth_platform.lib.governance.ledger.hashing import _normalise, _row_hash
from synth_platform.lib.governance.ledger.keys import resolve_key
from synth_platform.lib.governance.ledger.records import (
    _ADDED_COLUMNS,
    _COLUMNS,
    _KINDS,
    _LEGACY_COLUMNS,
    COLUMN_NAMES,
    EVENTS,
    MAC_KIND,
    SCHEMA,
    TABLE,
    Head,
    LedgerEntry,
    LedgerIntegrityError,
)
from synth_platform.lib.governance.ledger.spend import _spend_columns, cumulative_spend, source_of
from synth_platform.lib.governance.ledger.table import (
    _exists,
    _last_row,
    _present_columns,
    warehouse_path,
)


def ensure_ledger(con: duckdb.DuckDBPyConnection, key=None) -> None:
    """Create the ledger, or bring an older one up to date by adding the new columns.

    An older ledger keeps its rows and hashes: the added columns are NULL on them and a
    NULL added column is not part of the hash. When the keyed `mac_kind` column is added,
    the legacy chain, if intact, is sealed by a keyed head file. A table that lacks an original column or
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
    if "mac_kind" not in present:
        _seal_legacy(con, key)


def _seal_legacy(con: duckdb.DuckDBPyConnection, key=None) -> None:
    """On the migration to keyed rows, record the legacy chain's head in a keyed head file.

    Only when the legacy chain verifies and agrees with any head file: a broken chain is left
    as it is, for `verify_chain` to report.
    """
    db_path = warehouse_path(con)
    platform_key = resolve_key(key, create=True, con=con)
    if db_path is None or platform_key is None or _last_row(con) is None:
        return
    if not _verify(con, (), platform_key, migrating=True):
        write_head(con, platform_key)


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


def _insert(con: duckdb.DuckDBPyConnection, entry: LedgerEntry, heads: Iterable[Head], key=None) -> dict:
    if entry.event not in EVENTS:
        raise ValueError(f"unknown ledger event {entry.event!r}; one of {list(EVENTS)}")
    if entry.event == "gate" and entry.rho_spent is None and entry.epsilon_spent is None:
        raise ValueError("a `gate` ledger row must state what the gate's noisy figures spent (rho_spent)")
    platform_key = resolve_key(key, create=True, con=con)
    # The whole chain, not only its tail: an edit deep in the table is otherwise extended by this
    # row and sealed by the next head file. It is cheap (10,000 rows in well under a second).
    problems = _verify(con, heads, platform_key)
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
        # Every new row names its source: the entry's, else the one the dataset's rows name.
        "source_id": entry.source_id or source_of(con, entry.dataset),
        # ... and the approved masking plan: the entry's, else the one the dataset's newest row names.
        "plan_digest": entry.plan_digest or source_of(con, entry.dataset, "plan_digest"),
        "mac_kind": MAC_KIND,
        **_spend_columns(entry, cumulative_spend(con, entry.dataset, entry.source_id)),
    }
    row = _normalise(row)
    row["row_hash"] = _row_hash(prev_hash, row, platform_key)
    placeholders = ", ".join("?" for _ in COLUMN_NAMES)
    con.execute(
        f"INSERT INTO {SCHEMA}.{TABLE} ({', '.join(COLUMN_NAMES)}) VALUES ({placeholders})",
        [row[c] for c in COLUMN_NAMES],
    )
    return row


def append(con: duckdb.DuckDBPyConnection, entry: LedgerEntry, heads: Iterable[Head] = (), key=None) -> dict:
    """Verify the whole chain, append one keyed row, and return it.

    `key`: the platform key (bytes or `secrets.Key`; default: as `PseudonymKeyResource` resolves it).

    Inside the caller's transaction if there is one: the caller then calls `write_head`
    after its COMMIT. Otherwise the append is its own transaction and the head file is
    updated once it has committed. A broken chain raises `LedgerIntegrityError` and
    nothing is written.
    """
    platform_key = resolve_key(key, create=True, con=con)
    ensure_ledger(con, platform_key)
    own = _begin(con)
    try:
        row = _insert(con, entry, heads, platform_key)
        if own:
            con.execute("COMMIT")
    except BaseException:
        if own:
            con.execute("ROLLBACK")
        raise
    if own:
        write_head(con, platform_key)
    return row
