"""The ledger's key: the platform key as Dagster's resource resolves it, and the ledger key
derived from it (never the pseudonym key itself) for row and head-file HMACs.

Apart from hashing because resolving the key touches the environment and the key file, and
must never generate a new key once the warehouse has a ledger (`has_entries`).
"""

from __future__ import annotations

import hashlib
import hmac
import os

import duckdb

from synth_platform.lib.governance.ledger.records import (
    _LEDGER_KEY_LABEL,
)
from synth_platform.lib.governance.ledger.table import (
    has_entries,
)
from synth_platform.lib.storage import secrets


def default_platform_key(create: bool = True, con: duckdb.DuckDBPyConnection | None = None) -> bytes | None:
    """The platform key as Dagster's default `PseudonymKeyResource` resolves it (lib.storage.secrets).

    `create=False` (verification) never generates a key: None when there is none yet. With
    `create` and the warehouse `con`, a key is generated only while that warehouse has no ledger:
    once it has one, a missing key file raises `secrets.MissingKeyError` (how to restore it).
    """
    configured = os.environ.get(secrets.ENV_VAR)
    if configured:
        return secrets.pseudonym_key(configured).value
    path = secrets.default_key_file()
    if not create and not path.exists():
        return None
    if con is not None and has_entries(con):
        create = False
    return secrets.pseudonym_key(key_file=path, create=create).value


def resolve_key(key, create: bool, con: duckdb.DuckDBPyConnection | None = None) -> bytes | None:
    if key is None:
        return default_platform_key(create, con)
    return key.value if isinstance(key, secrets.Key) else bytes(key)


def _ledger_key(platform_key: bytes) -> bytes:
    """A key for the ledger alone, derived from the platform key (never the pseudonym key itself)."""
    return hmac.new(platform_key, _LEDGER_KEY_LABEL, hashlib.sha256).digest()


def _head_mac(platform_key: bytes, entry_id: int, row_hash: str) -> str:
    message = f"head\x00{int(entry_id)}\x00{row_hash}".encode()
    return hmac.new(_ledger_key(platform_key), message, hashlib.sha256).hexdigest()
