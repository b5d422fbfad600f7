"""The hash chain's arithmetic: a row's canonical payload, its hash (an HMAC under the ledger key
for keyed rows, SHA-256 for legacy ones), and what is wrong with one row's own hash.

Separate from verification (`chain`) because writing and checking must compute exactly the
same bytes: one definition, used by both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from datetime import datetime

import duckdb

from synth_platform.lib.governance.ledger.keys import _ledger_key
from synth_platform.lib.governance.ledger.records import (
    _ADDED,
    _KINDS,
    COLUMN_NAMES,
    MAC_KIND,
    SCHEMA,
    TABLE,
)
from synth_platform.lib.governance.ledger.table import (
    _exists,
    _present_columns,
    _select_list,
)
from synth_platform.lib.storage import secrets


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


def _canonical(prev_hash: str, row: dict) -> bytes:
    payload = {k: v for k, v in row.items() if k != "row_hash" and not (k in _ADDED and v is None)}
    payload = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in payload.items()}
    payload = {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in payload.items()}
    return ((prev_hash or "") + json.dumps(payload, sort_keys=True, default=str)).encode()


def _row_hash(prev_hash: str, row: dict, platform_key: bytes | None = None) -> str | None:
    """The row's hash: HMAC under the ledger key for a keyed row (None without a key), else SHA-256."""
    if row.get("mac_kind") == MAC_KIND:
        if platform_key is None:
            return None
        return hmac.new(_ledger_key(platform_key), _canonical(prev_hash, row), hashlib.sha256).hexdigest()
    return hashlib.sha256(_canonical(prev_hash, row)).hexdigest()


def _row_problems(row: dict, platform_key: bytes | None, keyed_seen: bool) -> list[str]:
    """What is wrong with one row's own hash (not its link to the previous row)."""
    entry_id = row["entry_id"]
    if row.get("mac_kind") == MAC_KIND:
        if platform_key is None:
            return [
                f"entry {entry_id} is keyed but no platform key is available to check it "
                f"({secrets.restore_hint(secrets.secrets_dir() / secrets.KEY_FILE_NAME)})"
            ]
        expected = _row_hash(row["prev_hash"], _normalise(row), platform_key)
        if not hmac.compare_digest(str(row["row_hash"] or ""), expected):
            return [f"entry {entry_id} was altered after it was written (its HMAC does not match the key)"]
        return []
    problems = []
    if row.get("mac_kind") is not None:
        problems.append(f"entry {entry_id} names an unknown hash kind (altered)")
    elif keyed_seen:
        problems.append(
            f"entry {entry_id} is not keyed although an earlier entry is: the ledger was rewritten and "
            "re-hashed without the platform key"
        )
    elif row.get("source_id") is not None:
        problems.append(
            f"entry {entry_id} has a source id but no HMAC: rows with source ids are always keyed (re-hashed)"
        )
    if _row_hash(row["prev_hash"], _normalise(row)) != row["row_hash"]:
        problems.append(f"entry {entry_id} was altered after it was written")
    return problems


def written_with(con: duckdb.DuckDBPyConnection, platform_key: bytes) -> bool | None:
    """Whether the newest keyed entry verifies under `platform_key`; None without keyed entries.

    One row read: a cheap test, before anything is keyed with it, that a key is the one the ledger
    was written with (False: another key, or that row was altered; `verify_chain` tells which).
    """
    if not _exists(con) or "mac_kind" not in _present_columns(con):
        return None
    found = con.execute(
        f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} WHERE mac_kind = ? ORDER BY entry_id DESC LIMIT 1",
        [MAC_KIND],
    ).fetchone()
    if found is None:
        return None
    row = dict(zip(COLUMN_NAMES, found, strict=True))
    expected = _row_hash(row["prev_hash"], _normalise(row), platform_key)
    return hmac.compare_digest(str(row["row_hash"] or ""), expected)
