"""Tamper evidence beyond the table: the chain head kept in a keyed head file beside the warehouse,
and the checks of the whole chain (`verify_chain`) or its tail (`check_tail`) against the heads.

Deleting the newest rows leaves a shorter chain that is still consistent; only a head kept
outside the table (and in Dagster's event log) tells it was truncated.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from synth_platform.lib.governance.ledger.hashing import _row_problems
from synth_platform.lib.governance.ledger.keys import _head_mac, resolve_key
from synth_platform.lib.governance.ledger.records import (
    COLUMN_NAMES,
    MAC_KIND,
    SCHEMA,
    TABLE,
    Head,
    LedgerIntegrityError,
)
from synth_platform.lib.governance.ledger.table import (
    _count_where,
    _exists,
    _last_row,
    _present_columns,
    _select_list,
    head_path,
    warehouse_path,
)
from synth_platform.lib.storage.private_files import write_private


def read_head_file(db_path: Path) -> Head | None:
    """The head file's head as written (its HMAC, if any, is checked by `verify_chain`)."""
    path = head_path(db_path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        mac = data.get("mac")
        return Head(
            int(data["entry_id"]),
            str(data["row_hash"]),
            f"head file {path.name}",
            None if mac is None else str(mac),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise LedgerIntegrityError(
            f"the ledger head file {path} is unreadable ({error.__class__.__name__}); "
            "restore it or run `synth-platform ledger verify`"
        ) from None


def write_head(con: duckdb.DuckDBPyConnection, key=None) -> Head | None:
    """Record the newest committed entry as the chain head, with its HMAC (atomic file replace).

    Call after the transaction holding an append has committed (`append` does this itself
    when it owns the transaction). A head that lags behind the table is harmless: the table
    may extend the head, never fall short of it.
    """
    db_path = warehouse_path(con)
    last = _last_row(con)
    if db_path is None or last is None:
        return None
    platform_key = resolve_key(key, create=True, con=con)
    mac = _head_mac(platform_key, int(last["entry_id"]), last["row_hash"])
    head = Head(int(last["entry_id"]), last["row_hash"], mac=mac)
    path = head_path(db_path)
    payload = {
        "entry_id": head.entry_id,
        "row_hash": head.row_hash,
        "mac_kind": MAC_KIND,
        "mac": mac,
        "written_at": datetime.now(UTC).isoformat(),
    }
    write_private(path, json.dumps(payload))  # owner-only (0600), atomic, like the warehouse beside it
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


def _default_heads(
    con: duckdb.DuckDBPyConnection, platform_key: bytes | None = None, migrating: bool = False
) -> tuple[list[Head], list[str]]:
    """The head file's head (its HMAC checked), or a problem if it is missing, forged or unkeyed
    although it should be keyed."""
    db_path = warehouse_path(con)
    if db_path is None:
        return [], []
    head = read_head_file(db_path)
    name = head_path(db_path).name
    keyed_rows = _count_where(con, "mac_kind", "mac_kind IS NOT NULL")
    migrated = _exists(con) and "mac_kind" in _present_columns(con) and not migrating
    if head is not None:
        if head.mac is None:
            if keyed_rows or migrated:
                return [], [
                    f"the chain head file {name} carries no HMAC although the ledger is keyed "
                    "(replaced by hand?)"
                ]
            return [head], []  # a head file from before keyed ledgers, beside a legacy ledger
        if platform_key is None:
            return [], [f"the chain head file {name} is keyed but no platform key is available to check it"]
        if not hmac.compare_digest(head.mac, _head_mac(platform_key, head.entry_id, head.row_hash)):
            return [], [f"the chain head file {name} was forged or written under another key (HMAC fails)"]
        return [head], []
    has_rows = _count_where(con, "entry_id", "true")
    has_new_rows = _count_where(con, "budget_delta", "budget_delta IS NOT NULL")
    if has_new_rows or keyed_rows or (migrated and has_rows):
        return [], [f"the chain head file {name} is missing (deleted?)"]
    return [], []  # a ledger written before head files existed: nothing to compare with yet


def check_tail(con: duckdb.DuckDBPyConnection, heads: Iterable[Head] = (), key=None) -> list[str]:
    """A cheap preflight: ids contiguous, last two rows chained, heads agree.

    Catches an edited newest row, a deleted row anywhere (the count no longer matches the
    last id), and a truncated tail (the head is beyond the last row). An edit deeper in
    the table needs `verify_chain`, which reads every row -- and which `append` runs.
    """
    platform_key = resolve_key(key, create=True, con=con)
    file_heads, problems = _default_heads(con, platform_key)
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
        keyed_before = len(rows) > 1 and rows[1].get("mac_kind") == MAC_KIND
        problems.extend(_row_problems(last, platform_key, keyed_before))
        expected_prev = rows[1]["row_hash"] if len(rows) > 1 else ""
        if last["prev_hash"] != expected_prev:
            problems.append(f"entry {last['entry_id']} does not follow the previous entry's hash")
    return problems + _head_problems(con, heads, last_id)


def verify_chain(con: duckdb.DuckDBPyConnection, heads: Iterable[Head] = (), key=None) -> list[str]:
    """Problems found in the whole hash chain and against the chain heads; empty means intact.

    The head file beside the warehouse is always compared (and its HMAC checked); `heads`
    adds more (e.g. the one in Dagster's latest ledger materialisation). Keyed rows are
    checked under `key` (default: the platform key, never generated here). An empty or
    missing table while any head names an entry is truncation. O(rows); works read-only.
    """
    return _verify(con, heads, resolve_key(key, create=False))


def _verify(
    con: duckdb.DuckDBPyConnection, heads: Iterable[Head], platform_key: bytes | None, migrating: bool = False
) -> list[str]:
    file_heads, problems = _default_heads(con, platform_key, migrating)
    heads = [*file_heads, *heads]
    if not _exists(con):
        return problems + [
            f"the ledger table is missing but the {h.source} names entry {h.entry_id} (truncated)"
            for h in heads
        ]
    rows = con.execute(f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} ORDER BY entry_id").fetchall()
    prev_hash, expected_id, keyed_seen = "", 1, False
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
        problems.extend(_row_problems(row, platform_key, keyed_seen))
        keyed_seen = keyed_seen or row.get("mac_kind") == MAC_KIND
        prev_hash, expected_id = row["row_hash"], row["entry_id"] + 1
    return problems + _head_problems(con, heads, expected_id - 1)
