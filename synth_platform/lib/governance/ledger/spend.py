"""What the ledger says was spent: the budget's scope (the source, not the dataset's name), the
cumulative rho and additive delta, and the spend columns and note of a new row.

The accounting is zCDP (`lib.synthesize.accounting`); epsilon is never silently zero: a
non-private fit spends an unbounded amount, and from then on the cumulative epsilon is infinite.
"""

from __future__ import annotations

import math

import duckdb

from synth_platform.lib.governance.ledger.records import (
    CHECK_NOTE,
    EXPORT_NOTE,
    NO_SPEND_NOTE,
    NOT_PRIVATE_NOTE,
    REFUSED_NOTE,
    REUSED_NOTE,
    SCHEMA,
    SPENDING_EVENTS,
    TABLE,
    LedgerEntry,
)
from synth_platform.lib.governance.ledger.table import (
    _exists,
    _present_columns,
)
from synth_platform.lib.synthesize import accounting


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
