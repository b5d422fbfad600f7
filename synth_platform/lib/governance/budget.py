"""A source's privacy budget: what one training costs, and reserving it before any data is read.

The budget belongs to the source (`lib.governance.source_identity.source_id`, the keyed id of the
landing folder), not to the dataset's name: with a `source_id`, spend is summed over the
source (and the dataset, and every dataset that shared the source; `ledger._budget_scope`),
so a second spec on the same landing folder, or a renamed dataset, continues the same budget.
Spend counts `trained` rows and the release gate's `gate` rows (its noisy figures).

The budget is declared in the spec as a total epsilon at the dataset's delta, and enforced
in zCDP: a training's cost rho is reserved — its `trained` ledger row appended — in one
transaction under the warehouse lock, *before* the training reads the data. Concurrent
runs on one dataset are serialised by that lock, so together they never spend more than
the budget; a training that would exceed it gets a `refused` row instead and reads nothing.
A failed fit is not refunded: it saw the data, or might have.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import duckdb

from synth_platform.lib.governance import ledger
from synth_platform.lib.synthesize import accounting

#: Kinds with a differential-privacy guarantee, and where their (epsilon, delta) come from.
DP_KINDS = {"dp_mst": {"epsilon": 1.0, "delta": accounting.DEFAULT_DELTA}}
#: Share of the budget below which an alert is raised.
LOW_BUDGET_SHARE = 0.2


@dataclass(frozen=True)
class Spend:
    """The privacy cost of one training. `epsilon is None` means unbounded (not private).

    `rho` is the zCDP part; `delta_additive` the part of delta spent outside zCDP (e.g. the
    thresholding that picks undeclared category lists), which adds up across trainings.
    """

    epsilon: float | None
    delta: float | None
    rho: float
    delta_additive: float = 0.0

    @property
    def unbounded(self) -> bool:
        return self.epsilon is None

    def describe(self) -> str:
        if self.unbounded:
            return ledger.NOT_PRIVATE_NOTE
        return f"epsilon {self.epsilon:g} at delta {self.delta:g} (rho {self.rho:.6g})"


def spend_for(kind: str, params: dict, thresholded: bool = False) -> Spend:
    """What one fit of `kind` with `params` spends: from its params for DP kinds, unbounded otherwise.

    `thresholded`: the fit picks some category list under DP by thresholding noisy counts;
    `dp_mst` then gives half of delta to that thresholding and converts rho at the other half.
    """
    defaults = DP_KINDS.get(kind)
    if defaults is None:
        return Spend(None, None, math.inf)
    epsilon = float(params.get("epsilon", defaults["epsilon"]))
    delta = float(params.get("delta", defaults["delta"]))
    delta_additive = delta / 2 if thresholded else 0.0
    rho = accounting.rho_from_epsilon_delta(epsilon, delta - delta_additive)
    return Spend(epsilon, delta, rho, delta_additive)


@dataclass(frozen=True)
class BudgetStatus:
    spent_epsilon: float
    remaining_epsilon: float
    remaining_share: float
    spent_rho: float
    budget_rho: float


def _budget_rho(budget: float, delta: float, delta_additive: float) -> float:
    """The rho a budget of epsilon `budget` at `delta` allows once `delta_additive` is used up."""
    if delta_additive >= delta:
        return 0.0
    return accounting.rho_from_epsilon_delta(budget, delta - delta_additive)


def status(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    budget: float | None,
    delta: float = accounting.DEFAULT_DELTA,
    source_id: str | None = None,
) -> BudgetStatus:
    """Spent and remaining budget of a dataset's source, as epsilon at `delta`. Works read-only.

    Remaining epsilon is the epsilon of the rho still available (zCDP: what one more
    training could spend), not budget minus spent epsilon — epsilons do not subtract.
    Without a budget, remaining is infinite and the share is 1.
    """
    spent_rho, delta_add = ledger.cumulative_spend(con, dataset, source_id)
    spent_eps = accounting.epsilon_from_spend(spent_rho, delta_add, delta)
    if budget is None:
        return BudgetStatus(spent_eps, math.inf, 1.0, spent_rho, math.inf)
    budget_rho = _budget_rho(budget, delta, delta_add)
    left = accounting.remaining_rho(budget_rho, spent_rho)
    share = left / budget_rho if budget_rho > 0 else 0.0
    left_eps = accounting.epsilon_from_spend(left, delta_add, delta) if left > 0 else 0.0
    return BudgetStatus(spent_eps, left_eps, share, spent_rho, budget_rho)


def summary(
    con: duckdb.DuckDBPyConnection, dataset: str, budget: float | None, delta: float | None = None
) -> dict:
    """The evidence pack's privacy-budget section: `status` as plain numbers (zCDP, as the budget
    check counts; remaining epsilon is what one more training could spend, not a subtraction).
    Without a budget the remaining figures are None. Read-only."""
    found = status(con, dataset, budget, *([delta] if delta else []))
    bounded = budget is not None
    return {
        "epsilon_cumulative": found.spent_epsilon,
        "epsilon_budget": budget,
        "epsilon_remaining": found.remaining_epsilon if bounded else None,
        "remaining_share": found.remaining_share if bounded else None,
        "delta": delta,
        "rho_spent": found.spent_rho,
        "rho_budget": found.budget_rho if bounded else None,
    }


def budget_status(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    budget: float | None,
    delta: float = accounting.DEFAULT_DELTA,
    source_id: str | None = None,
) -> tuple[float, float, float]:
    """(spent_eps, remaining_eps, remaining_share) for a budget alert (share < LOW_BUDGET_SHARE)."""
    found = status(con, dataset, budget, delta, source_id)
    return found.spent_epsilon, found.remaining_epsilon, found.remaining_share


def refusal_reason(
    spend: Spend, budget: float | None, delta: float, spent: tuple[float, float], what: str = "training"
) -> str | None:
    """Why a training (or `what`) must be refused given what was `spent` (rho, additive delta), or None."""
    if budget is None:
        return None
    if spend.unbounded:
        return (
            f"the dataset has a privacy budget (epsilon {budget:g} at delta {delta:g}) but this synthesizer "
            "is not differentially private (its spend is unbounded); choose a private synthesizer such as "
            "dp_mst, or state in the spec that this dataset has no privacy guarantee with "
            "`privacy: {epsilon_budget: null}` (its output is then labelled 'not differentially private')"
        )
    spent_rho, spent_delta = spent
    after_delta = spent_delta + spend.delta_additive
    if after_delta < delta and accounting.fits_budget(
        spent_rho, spend.rho, _budget_rho(budget, delta, after_delta)
    ):
        return None
    spent_eps = accounting.epsilon_from_spend(spent_rho, spent_delta, delta)
    if after_delta >= delta:
        return (
            f"{what} would spend {spend.describe()} including delta {spend.delta_additive:g} outside zCDP "
            f"(to choose undeclared category lists), which together with the {spent_delta:g} already spent "
            f"that way uses up the dataset's delta of {delta:g}. Declare the category lists in the spec, "
            "or state the budget at a larger delta. The last release stays published"
        )
    return (
        f"{what} would spend {spend.describe()} on top of epsilon {spent_eps:.4g} already spent, which "
        f"exceeds the dataset's budget of epsilon {budget:g} at delta {delta:g}. The budget is exhausted for "
        f"this {what.removeprefix('the ')}; raise it deliberately in the spec, lower the per-training "
        "epsilon, or stop training this dataset. The last release stays published"
    )


def reserve_training(
    con: duckdb.DuckDBPyConnection,
    entry: ledger.LedgerEntry,
    spend: Spend,
    budget: float | None,
    delta: float = accounting.DEFAULT_DELTA,
    heads: tuple[ledger.Head, ...] = (),
    guard=None,
    key=None,
) -> dict:
    """Charge a training before it reads data: append its `trained` row, or a `refused` row and raise.

    One transaction on a connection that holds the warehouse lock (`warehouse.connect`), so
    the check and the charge cannot interleave with another run's. Returns the `trained` row;
    raises `ledger.BudgetExceededError` (with the committed `refused` row) when it would not fit,
    and `ledger.LedgerIntegrityError` (writing nothing) when the chain is broken. `guard(con)`
    runs first inside the transaction. The spend is checked against the budget of
    `entry.source_id` (the source's, see the module doc) when set. `key`: the platform key
    (default as `ledger.append`).
    """
    return _reserve(con, entry, spend, budget, delta, heads, guard, key, "trained")


def reserve_gate(
    con: duckdb.DuckDBPyConnection,
    entry: ledger.LedgerEntry,
    rho: float,
    budget: float | None,
    delta: float = accounting.DEFAULT_DELTA,
    heads: tuple[ledger.Head, ...] = (),
    guard=None,
    key=None,
    decision: str = "gate: noisy figures measured",
) -> dict:
    """Charge the release gate's noisy figures (zCDP `rho`) before the gate reads real data.

    Like `reserve_training`, on the same source budget: appends a `gate` row spending `rho`
    (shown as epsilon at `delta`), or a `refused` row and raises `ledger.BudgetExceededError`.
    """
    spend = Spend(accounting.epsilon_from_rho(rho, delta), delta, float(rho))
    return _reserve(con, entry, spend, budget, delta, heads, guard, key, "gate", decision)


def _reserve(con, entry, spend, budget, delta, heads, guard, key, event: str, decision: str | None = None):
    what = "the release-gate measurement" if event == "gate" else "training"
    key = ledger.resolve_key(key, create=True)
    ledger.ensure_ledger(con, key)
    con.execute("BEGIN TRANSACTION")
    try:
        if guard is not None:  # e.g. "this run still owns the dataset"; raising writes nothing
            guard(con)
        spent = ledger.cumulative_spend(con, entry.dataset, entry.source_id)
        reason = refusal_reason(spend, budget, delta, spent, what)
        charged = ledger.LedgerEntry(
            **{
                **entry.__dict__,
                "event": "refused" if reason else event,
                "decision": f"refused: {reason}" if reason else (decision or event),
                "epsilon_spent": None if reason else spend.epsilon,
                "delta": None if reason else spend.delta,
                "rho_spent": None if reason else spend.rho,
                "delta_additive": 0.0 if reason else spend.delta_additive,
                "epsilon_budget": budget,
                "budget_delta": delta,
            }
        )
        row = ledger._insert(con, charged, heads, key)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    ledger.write_head(con, key)
    if reason:
        subject = "The release gate" if event == "gate" else "Training"
        raise ledger.BudgetExceededError(f"{subject} of '{entry.dataset}' refused: {reason}.", row)
    return row


def fit_fingerprint(spec_fields: dict[str, Any], code_version: str) -> str:
    """A hash of everything besides the source that decides what a fit produces.

    Same source hash + same fingerprint + a current model => reuse that model at no cost.
    Callers pass the spec sections that shape the training data and the fit (columns,
    masking, split, synthesizer) and their code version; budget, checks and sampling
    settings are left out on purpose: changing them needs no new fit.
    """
    canonical = json.dumps({"spec": spec_fields, "code": code_version}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def training_spend(kind: str, params: dict, column_types: dict[str, str], declared: dict[str, dict]) -> Spend:
    """The spend of one fit, decided from public facts only (kind, params, schema, declared domains).

    For `dp_mst`, an undeclared category list is chosen by thresholding noisy counts, which
    takes half of delta outside zCDP; whether that happens follows from the model columns'
    warehouse types and the spec's declared domains — no data is read.
    """
    if kind not in DP_KINDS:
        return spend_for(kind, params)
    from synth_platform.lib.synthesize import dp_domain

    infos = [dp_domain.column_info_from_type(c, t, declared.get(c)) for c, t in column_types.items()]
    thresholded = any(i.kind == "categorical" and i.categories is None for i in infos)
    return spend_for(kind, params, thresholded)


def _same_source(charged: dict, entry: ledger.LedgerEntry) -> bool:
    return bool(entry.source_id) and charged.get("source_id") == entry.source_id


@dataclass(frozen=True)
class Charge:
    """The outcome of `charge_or_reuse`: a fresh `trained` row, or a `reused` row (no spend)."""

    reused: bool
    row: dict


def charge_or_reuse(
    con: duckdb.DuckDBPyConnection,
    entry: ledger.LedgerEntry,
    spend: Spend,
    budget: float | None,
    delta: float,
    current,
    provenance: dict,
    heads: tuple[ledger.Head, ...] = (),
    guard=None,
    key=None,
) -> Charge:
    """Reuse the current model at no cost when it was fitted on the same source with the same
    fit settings (`provenance`) and its `trained` row is in the ledger; otherwise reserve a training.

    A model trained without a differential-privacy guarantee is not reused once the dataset
    has a budget: the training is then charged (and refused). `current` is the current
    `synthesis.FittedModel` or None. Raises like `reserve_training`.
    """
    key = ledger.resolve_key(key, create=True)
    charged = ledger.entry(con, current.charged_by) if current and current.charged_by else None
    if (
        current is not None
        and "unknown" not in provenance.values()
        and current.provenance == provenance
        and charged is not None
        and charged["event"] == "trained"
        and (charged["dataset"] == entry.dataset or _same_source(charged, entry))
        and (budget is None or charged["rho_spent"] is not None)  # no non-private model under a budget
    ):
        reused = ledger.LedgerEntry(
            **{
                **entry.__dict__,
                "event": "reused",
                "decision": "reused: source and fit settings unchanged",
                "epsilon_spent": 0.0,
                "epsilon_budget": budget,
                "budget_delta": delta,
                "model_sha256": current.sha256,
                "charged_entry": current.charged_by,
                "train_data_hash": current.train_data_hash,
            }
        )
        con.execute("BEGIN TRANSACTION")
        try:
            if guard is not None:
                guard(con)
            row = ledger.append(con, reused, heads, key)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        ledger.write_head(con, key)
        return Charge(True, row)
    return Charge(False, reserve_training(con, entry, spend, budget, delta, heads, guard, key))
