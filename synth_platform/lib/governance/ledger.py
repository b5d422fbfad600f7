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
- `gate`: the release gate's noisy figures were computed: `rho_spent` charged.
- `check`: an operator ran `synth-platform check` on a table made outside the chain: who ran
  it, the file's sha256 and row count, what its generator was trained on, the verdict and the
  failed checks (in `parameters`). No spend: the verdict rests on exact figures shown only to
  that operator on the governed side, never released (the published ledger leaves these rows out,
  `lib.storage.zones`).

The budget belongs to the *source* (`source_id`, `lib.governance.source_identity`), not the dataset's
name: cumulative spend sums the `trained` and `gate` rows of the source, of the dataset, and
of every dataset that ever shared the source, so a second spec on the same landing folder or
a renamed dataset continues the same budget (counting more, never less).

Spend is accounted in zero-concentrated DP (`rho`, see `accounting`): each `trained`
row carries the training's epsilon, delta and rho; the dataset's cumulative rho is the
sum over its trainings and is shown as epsilon at the dataset's delta (`budget_delta`).
Epsilon is never silently zero: a synthesizer without a differential-privacy guarantee
spends an *unbounded* amount (NULL, with a note), and from then on the dataset's
cumulative epsilon is infinite.

Tamper evidence: each row carries the hash of the previous one, so an edit or deletion
inside the table breaks the chain. Since the ledger is keyed (`mac_kind = 'hmac-sha256'`), a
row's hash is an HMAC under a key derived from the platform key (`lib.storage.secrets`), so whoever
edits a row cannot recompute the chain without the key; rows written before (plain SHA-256,
`mac_kind` NULL) still verify as legacy rows, but only *before* the first keyed row: an
unkeyed row after a keyed one is a rewrite. The head file carries an HMAC too.

Deleting the *newest* rows leaves a shorter chain that is still internally consistent, so
the chain head (last entry id and row hash) is also kept outside the table: in a head file
beside the warehouse (`<warehouse>.ledger_head.json`, replaced atomically after each
committed append) and in the metadata of every ledger materialisation in Dagster. Every
append first checks the chain it extends against the head and refuses to extend a broken
one. An empty or missing table while a head names an entry is truncation.

Residual: a legacy ledger can be told from a downgraded one (every row re-hashed unkeyed,
the new columns dropped, an old-style head file written) only by the head in Dagster's
event log, which `synth-platform ledger verify` and the synthesizer step compare too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from synth_platform.lib.storage import secrets
from synth_platform.lib.storage.private_files import write_private
from synth_platform.lib.synthesize import accounting

SCHEMA = "governance"
TABLE = "ledger"
EVENTS = ("trained", "reused", "released", "blocked", "refused", "gate", "check", "export")
#: Events that spend budget (rho); the others spend nothing.
SPENDING_EVENTS = ("trained", "gate")
NOT_PRIVATE_NOTE = "unbounded: synthesizer is not differentially private"
NO_SPEND_NOTE = "none: decision on an already-charged model (post-processing)"
REUSED_NOTE = "none: sampling again from the model charged in entry {entry} (post-processing)"
REFUSED_NOTE = "none: refused before any data was read"
CHECK_NOTE = "none: an operator's check on exact figures, kept on the governed side (not released)"
EXPORT_NOTE = "none: the training split handed out by export-train, kept on the governed side"
HEAD_SUFFIX = ".ledger_head.json"
#: `mac_kind` of a keyed row: its row_hash is an HMAC-SHA256 under the ledger key.
MAC_KIND = "hmac-sha256"
_LEDGER_KEY_LABEL = b"synth-platform ledger chain v1"

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
    ("source_id", "VARCHAR"),  # keyed id of the source (landing folder) whose budget the row is charged to
    ("plan_digest", "VARCHAR"),  # public digest of the approved masking plan
    ("mac_kind", "VARCHAR"),  # 'hmac-sha256': row_hash is keyed; NULL: a legacy plain SHA-256 row
]
_COLUMNS = _LEGACY_COLUMNS + _ADDED_COLUMNS
COLUMN_NAMES = [name for name, _ in _COLUMNS]
_KINDS = dict(_COLUMNS)
COLUMN_KINDS = dict(_COLUMNS)  # column name -> DuckDB type
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
    source_id: str | None = None  # lib.governance.source_identity.source_id: the budget is the source's
    plan_digest: str | None = None  # the approved masking plan's public digest


@dataclass(frozen=True)
class Head:
    """The newest entry of the chain, kept outside the table to catch truncation."""

    entry_id: int
    row_hash: str
    source: str = "head file"
    mac: str | None = None  # the head file's HMAC (None: a head file from before keyed ledgers)


# --------------------------------------------------------------------------- key


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


# --------------------------------------------------------------------------- schema


def _exists(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [SCHEMA, TABLE],
    ).fetchone()
    return bool(found and found[0])


def has_entries(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this warehouse has a ledger already: a row in the table, or a chain head file beside it
    (a table emptied or dropped while its head file names an entry is a truncated ledger, not none).

    The platform key must not be generated anew once this is true (`lib.storage.platform_key`). Read-only.
    """
    db_path = warehouse_path(con)
    if db_path is not None and head_path(db_path).exists():
        return True
    return _exists(con) and con.execute(f"SELECT count(*) FROM {SCHEMA}.{TABLE}").fetchone()[0] > 0


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


def _present_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [SCHEMA, TABLE],
        ).fetchall()
    ]


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


# --------------------------------------------------------------------------- spend


def _budget_scope(present: list[str], dataset: str, source_id: str | None) -> tuple[str, list]:
    """The rows whose spend counts against the budget of `dataset` on source `source_id`.

    The source's rows, the dataset's rows (including legacy ones without a source id), and the
    rows of every dataset that ever shared the source: a rename or a second spec on the same
    landing folder continues the budget, and a dataset moved to another folder keeps its spend.
    """
    if not source_id or "source_id" not in present:
        return "dataset = ?", [dataset]
    return (
        f"(dataset = ? OR source_id = ? "
        f"OR dataset IN (SELECT dataset FROM {SCHEMA}.{TABLE} WHERE source_id = ?))",
        [dataset, source_id, source_id],
    )


def cumulative_spend(
    con: duckdb.DuckDBPyConnection, dataset: str, source_id: str | None = None
) -> tuple[float, float]:
    """(rho, additive delta) spent on a dataset's source so far, over its trainings and gate
    measurements. Works read-only.

    The budget is the source's (see `_budget_scope`): `source_id`, or else the source the
    dataset's newest row names; the dataset's rows alone only before source ids existed.
    rho is infinite once any non-private fit happened. A `trained` row from before zCDP
    accounting that states a finite epsilon but no rho is counted as rho = epsilon^2 / 2
    (pure epsilon-DP implies that much zCDP).
    """
    if not _exists(con):
        return 0.0, 0.0
    present = _present_columns(con)
    if source_id is None:
        source_id = source_of(con, dataset)
    scope, params = _budget_scope(present, dataset, source_id)
    if "rho_spent" in present:
        rho_expr = "coalesce(rho_spent, epsilon_spent * epsilon_spent / 2)"
        unbounded = "epsilon_spent IS NULL AND rho_spent IS NULL"
    else:
        rho_expr, unbounded = "epsilon_spent * epsilon_spent / 2", "epsilon_spent IS NULL"
    delta_expr = "coalesce(sum(delta_additive), 0)" if "delta_additive" in present else "0"
    rho, delta_add, unbounded_count = con.execute(
        f"SELECT coalesce(sum({rho_expr}), 0), {delta_expr}, count(*) FILTER (WHERE {unbounded}) "
        f"FROM {SCHEMA}.{TABLE} WHERE {scope} AND event IN {SPENDING_EVENTS!r}",
        params,
    ).fetchone()
    return (math.inf if unbounded_count else float(rho)), float(delta_add)


def source_of(con: duckdb.DuckDBPyConnection, dataset: str, column: str = "source_id") -> str | None:
    """The source id (or `plan_digest`) the dataset's newest row names (None before there was
    one); works read-only."""
    if column not in ("source_id", "plan_digest") or not _exists(con) or column not in _present_columns(con):
        return None
    found = con.execute(
        f"SELECT {column} FROM {SCHEMA}.{TABLE} WHERE dataset = ? AND {column} IS NOT NULL "
        "ORDER BY entry_id DESC LIMIT 1",
        [dataset],
    ).fetchone()
    return found[0] if found else None


def cumulative_rho(con: duckdb.DuckDBPyConnection, dataset: str, source_id: str | None = None) -> float:
    """zCDP rho spent on a dataset('s source) so far; inf once any non-private fit happened. Read-only."""
    return cumulative_spend(con, dataset, source_id)[0]


def cumulative_epsilon(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    delta: float = accounting.DEFAULT_DELTA,
    source_id: str | None = None,
) -> float:
    """The dataset('s source)'s cumulative spend as epsilon at `delta` (composed in rho). Read-only."""
    return accounting.epsilon_from_spend(*cumulative_spend(con, dataset, source_id), delta)


def _spend_columns(entry: LedgerEntry, before: tuple[float, float]) -> dict:
    """epsilon/delta/rho of this row, the note, and the dataset's totals after it."""
    budget_delta = entry.budget_delta
    rho_before, delta_add_before = before
    delta_add = 0.0
    if entry.event not in SPENDING_EVENTS:
        note = {
            "reused": REUSED_NOTE.format(entry=entry.charged_entry),
            "refused": REFUSED_NOTE,
            "check": CHECK_NOTE,
            "export": EXPORT_NOTE,
        }.get(entry.event, NO_SPEND_NOTE)
        epsilon, delta, rho, total = 0.0, None, 0.0, rho_before
    elif entry.epsilon_spent is None and (entry.event == "trained" or entry.rho_spent is None):
        epsilon, delta, rho, total, note = None, None, None, math.inf, NOT_PRIVATE_NOTE
    else:
        delta = accounting.DEFAULT_DELTA if entry.delta is None else float(entry.delta)
        delta_add = float(entry.delta_additive or 0.0)
        rho = entry.rho_spent
        if entry.epsilon_spent is None:  # a `gate` row stating its rho only
            epsilon = accounting.epsilon_from_spend(float(rho), delta_add, delta)
        else:
            epsilon = float(entry.epsilon_spent)
        if rho is None:
            rho = accounting.rho_from_epsilon_delta(epsilon, delta - delta_add)
        total = accounting.compose_rho([rho_before, rho])
        what = "the release gate's noisy figures" if entry.event == "gate" else "differential privacy"
        note = f"{epsilon:g} at delta {delta:g} = rho {rho:.6g} ({what}, zCDP)"
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


def _last_row(con: duckdb.DuckDBPyConnection) -> dict | None:
    if not _exists(con):
        return None
    found = con.execute(
        f"SELECT {_select_list(con)} FROM {SCHEMA}.{TABLE} ORDER BY entry_id DESC LIMIT 1"
    ).fetchone()
    return dict(zip(COLUMN_NAMES, found, strict=True)) if found else None


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


def _count_where(con: duckdb.DuckDBPyConnection, column: str, condition: str) -> int:
    if not _exists(con) or column not in _present_columns(con):
        return 0
    return int(con.execute(f"SELECT count(*) FROM {SCHEMA}.{TABLE} WHERE {condition}").fetchone()[0])


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
