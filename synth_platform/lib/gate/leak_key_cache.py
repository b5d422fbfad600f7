"""The raw identifiers' match keys, keyed once per source for the identifier-leak scan.

The leak scan (`privacy.leak_candidates`) keys every distinct raw direct-identifier value (the
regex-heavy part of the scan) and semi-joins the synthetic table's keys with them. The raw
values do not change between trainings of the same source, so their keys are computed once and
kept in the warehouse (the governed side; never published: `storage.zones` copies only the
`release` schema and the ledger) — as keyed digests only: `HMAC(platform key, "leak-key-digest")`
prefixed to the value and hashed with SHA-256 in DuckDB, 128 bits kept. Neither a raw value nor
a match key is stored; without the platform key a digest cannot be tested against a guess.

Each cached source is named by an identity: an HMAC under the platform key of the raw table's
identifier columns, their types, the plan's reserved raw spaces, the row count and two
order-independent checksums of the identifier cells (a scan of hashes, no keying). A new
landing file, a changed cell, another plan or another key gives another identity, and the
cache is rebuilt; a digest collision (2^-128) could only add a candidate, which the Python rule
then judges as it judges every candidate (the scan finds a superset; the rule decides).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

#: bump when the keys or the digests change meaning (the identity includes it: old rows go unused)
CACHE_VERSION = 2  # 2: whitespace as the rule trims it (`privacy._SPACE_RE`)
SCHEMA = "governance"
DIGESTS = "gate_leak_key_digests"
SOURCES = "gate_leak_key_sources"
#: hex characters of SHA-256 kept per digest (128 bits)
DIGEST_HEX = 32


@dataclass(frozen=True)
class CachedKeys:
    """A source's cached key digests, as the leak scan reads them."""

    dataset: str
    identity: str
    #: the digest prefix (a secret derived from the platform key): a query parameter, never logged
    secret: str

    def digest_sql(self, expression: str) -> str:
        """SQL of the digest of a text `expression`; the secret is the statement's first `?`."""
        return f"left(sha256(CAST(? AS VARCHAR) || {expression}), {DIGEST_HEX})"

    def relation(self) -> str:
        """The cached (col, vd, kd) rows; parameters: dataset, identity."""
        return f"(SELECT col, vd, kd FROM {SCHEMA}.{DIGESTS} WHERE dataset = ? AND identity = ?)"


def _secret(key: bytes) -> str:
    return hmac.new(key, b"leak-key-digest", hashlib.sha256).hexdigest()


def key_fingerprint(key: bytes) -> str:
    """Which platform key the digests were made under (a keyed digest of a constant)."""
    return hmac.new(key, b"leak-key-cache-fingerprint", hashlib.sha256).hexdigest()[:16]


def source_identity(con, raw: tuple[str, str], identifier_columns: list[str], reserved_raw: dict, key: bytes):
    """The identity of the raw identifiers as they are now (see the module docstring)."""
    from synth_platform.lib.gate.privacy import _ident, table_columns

    types = table_columns(con, *raw)
    cells = ", ".join(_ident(c) for c in identifier_columns)
    source = f"{_ident(raw[0])}.{_ident(raw[1])}"
    rows, total, mixed = con.execute(
        f"SELECT count(*), CAST(sum(CAST(hash({cells}) AS HUGEINT)) AS VARCHAR), "
        f"CAST(bit_xor(hash({cells})) AS VARCHAR) FROM {source}"
    ).fetchall()[0]
    described = {
        "version": CACHE_VERSION,
        "table": list(raw),
        "columns": [[c, types.get(c)] for c in identifier_columns],
        "reserved_raw": {c: reserved_raw[c] for c in sorted(reserved_raw)},
        "rows": int(rows),
        "sum": total,
        "xor": mixed,
    }
    text = json.dumps(described, sort_keys=True).encode()
    return hmac.new(key, b"leak-key-source\x00" + text, hashlib.sha256).hexdigest()[:32]


def _ensure_tables(con) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{SOURCES} (dataset VARCHAR, identity VARCHAR, "
        "key_fingerprint VARCHAR, digests BIGINT, built_at TIMESTAMP)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{DIGESTS} (dataset VARCHAR, identity VARCHAR, col VARCHAR, "
        "vd VARCHAR, kd VARCHAR)"
    )


def _tables_exist(con) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name IN (?, ?)",
        [SCHEMA, SOURCES, DIGESTS],
    ).fetchall()[0][0]
    return found == 2


#: `digests` of a source seen once and not keyed yet (see `ensure`)
SEEN = -1


def _state(con, dataset: str, identity: str, key: bytes) -> int | None:
    """The digests recorded for this identity and key (SEEN: seen, not built), None if unknown."""
    row = con.execute(
        f"SELECT max(digests) FROM {SCHEMA}.{SOURCES} "
        "WHERE dataset = ? AND identity = ? AND key_fingerprint = ?",
        [dataset, identity, key_fingerprint(key)],
    ).fetchall()[0][0]
    return None if row is None else int(row)


def lookup(con, dataset: str, raw, identifier_columns, reserved_raw: dict, key: bytes) -> CachedKeys | None:
    """The cached keys of the raw identifiers as they are now, or None (none built, or built for
    another content, plan or key: then the scan keys the raw values itself). Read-only."""
    if not identifier_columns or not _tables_exist(con):
        return None
    identity = source_identity(con, raw, identifier_columns, reserved_raw, key)
    state = _state(con, dataset, identity, key)
    return CachedKeys(dataset, identity, _secret(key)) if state is not None and state >= 0 else None


def ensure(
    con, dataset: str, raw, identifier_columns, plan, key: bytes, eager: bool = False
) -> CachedKeys | None:
    """The dataset's cached keys, built unless current (a writable connection); the dataset's
    older digests are dropped. None when there is no identifier column, or (unless `eager`) the
    first time this source is seen: building costs more than keying the raw values once (two
    SHA-256 digests a key: ~17 CPU-s against ~5 for keying a million-row source's identifiers),
    so a source judged once — a single training — never pays for it; the second gate of the same
    source builds the cache and every later one reads it."""
    from synth_platform.lib.gate import privacy

    if not identifier_columns:
        return None
    raw_types = privacy.table_columns(con, *raw)
    reserved = privacy.reserved_spaces(plan, raw_types).raw if plan is not None else {}
    _ensure_tables(con)
    identity = source_identity(con, raw, identifier_columns, reserved, key)
    state = _state(con, dataset, identity, key)
    if state is not None and state >= 0:
        return CachedKeys(dataset, identity, _secret(key))
    if state is None and not eager:
        con.execute(f"DELETE FROM {SCHEMA}.{DIGESTS} WHERE dataset = ?", [dataset])
        con.execute(f"DELETE FROM {SCHEMA}.{SOURCES} WHERE dataset = ?", [dataset])
        con.execute(
            f"INSERT INTO {SCHEMA}.{SOURCES} VALUES (?, ?, ?, ?, current_timestamp)",
            [dataset, identity, key_fingerprint(key), SEEN],
        )
        return None
    cached = CachedKeys(dataset, identity, _secret(key))
    keys = privacy.raw_keys_sql(con, raw, identifier_columns, plan)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {SCHEMA}.{DIGESTS} WHERE dataset = ?", [dataset])
        con.execute(f"DELETE FROM {SCHEMA}.{SOURCES} WHERE dataset = ?", [dataset])
        con.execute(
            f"INSERT INTO {SCHEMA}.{DIGESTS} SELECT DISTINCT ?, ?, col, {cached.digest_sql('v')}, "
            f"{cached.digest_sql('k')} FROM ({keys}) WHERE k IS NOT NULL AND k <> ''",
            [dataset, identity, cached.secret, cached.secret],
        )
        count = con.execute(
            f"SELECT count(*) FROM {SCHEMA}.{DIGESTS} WHERE dataset = ? AND identity = ?", [dataset, identity]
        ).fetchall()[0][0]
        con.execute(
            f"INSERT INTO {SCHEMA}.{SOURCES} VALUES (?, ?, ?, ?, current_timestamp)",
            [dataset, identity, key_fingerprint(key), int(count)],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return cached
