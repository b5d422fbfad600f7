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

The package, one job per module: `records` (columns, events, the entry and the head), `keys`
(the ledger key), `table` (finding and reading the table, read-only), `hashing` (a row's hash),
`spend` (cumulative spend and a row's spend columns), `chain` (head file and verification) and
`writing` (create, migrate, append). Callers use the names below, as when this was one module.
"""

from synth_platform.lib.governance.ledger.chain import check_tail, read_head_file, verify_chain, write_head
from synth_platform.lib.governance.ledger.hashing import _canonical, _normalise, written_with
from synth_platform.lib.governance.ledger.keys import default_platform_key, resolve_key
from synth_platform.lib.governance.ledger.records import (
    _LEGACY_COLUMNS,
    CHECK_NOTE,
    COLUMN_KINDS,
    COLUMN_NAMES,
    EVENTS,
    EXPORT_NOTE,
    HEAD_SUFFIX,
    MAC_KIND,
    NO_SPEND_NOTE,
    NOT_PRIVATE_NOTE,
    REFUSED_NOTE,
    REUSED_NOTE,
    SCHEMA,
    SPENDING_EVENTS,
    TABLE,
    BudgetExceededError,
    Head,
    LedgerEntry,
    LedgerIntegrityError,
)
from synth_platform.lib.governance.ledger.spend import (
    _budget_scope,
    cumulative_epsilon,
    cumulative_rho,
    cumulative_spend,
    source_of,
)
from synth_platform.lib.governance.ledger.table import (
    entry,
    has_entries,
    head_path,
    read_ledger,
    warehouse_path,
)
from synth_platform.lib.governance.ledger.writing import _insert, append, ensure_ledger

__all__ = [
    "CHECK_NOTE",
    "COLUMN_KINDS",
    "COLUMN_NAMES",
    "EVENTS",
    "EXPORT_NOTE",
    "HEAD_SUFFIX",
    "MAC_KIND",
    "NOT_PRIVATE_NOTE",
    "NO_SPEND_NOTE",
    "REFUSED_NOTE",
    "REUSED_NOTE",
    "SCHEMA",
    "SPENDING_EVENTS",
    "TABLE",
    "_LEGACY_COLUMNS",
    "BudgetExceededError",
    "Head",
    "LedgerEntry",
    "LedgerIntegrityError",
    "_budget_scope",
    "_canonical",
    "_insert",
    "_normalise",
    "append",
    "check_tail",
    "cumulative_epsilon",
    "cumulative_rho",
    "cumulative_spend",
    "default_platform_key",
    "ensure_ledger",
    "entry",
    "has_entries",
    "head_path",
    "read_head_file",
    "read_ledger",
    "resolve_key",
    "source_of",
    "verify_chain",
    "warehouse_path",
    "write_head",
    "written_with",
]
