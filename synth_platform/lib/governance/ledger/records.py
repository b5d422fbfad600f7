"""What a ledger row is: the table's name and columns, its events and spend notes, the entry a
caller appends, the chain head, and the two errors the ledger raises.

Kept apart so every other part of the ledger (and its readers) share one definition of the
columns: the legacy columns' hash payload never changes, and added columns are NULL on old rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

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
