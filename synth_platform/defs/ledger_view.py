"""The ledger as the UI shows it: the recent rows as a table, and per-dataset numbers Dagster plots.

Every materialisation of `governance/ledger` carries the newest rows of the ledger as a
`MetadataValue.table` — ids, events, spend and decisions only: no hash of real data and no
figure computed on real rows (quality, copies, leaks stay in the gate's own check results) —
and, for the dataset the row is about, numeric entries named `<dataset>.<figure>` —
cumulative and remaining epsilon, quality, attack and utility figures — which the asset's
Plots tab draws over time.

The materialisation's `entry_id` / `row_hash` are the second copy of the chain head;
`dagster_heads` reads the newest one back (the synthesizer step and `synth-platform ledger
verify` compare it with the table).
"""

import json
import math

import dagster as dg
import pandas as pd

from synth_platform.lib.governance import ledger

RECENT_ROWS = 20
LEDGER_KEY = dg.AssetKey(["governance", "ledger"])  # = defs.chain.common.LEDGER_KEY (no import cycle)
#: What the UI's ledger table shows: ids, spend and decisions. Never a figure computed on real rows
#: (quality_score, exact_copy_share, identifier_leaks, gate_figures) nor a hash of real data.
TABLE_COLUMNS = [
    "entry_id",
    "recorded_at",
    "dataset",
    "event",
    "decision",
    "synthesizer",
    "epsilon_note",
    "rho_spent",
    "cumulative_epsilon",
    "epsilon_budget",
    "charged_entry",
    "row_hash",
]


def dagster_heads(instance: dg.DagsterInstance) -> tuple[ledger.Head, ...]:
    """The chain head recorded in the latest ledger materialisation, if any (second copy of the head)."""
    event = instance.get_latest_materialization_event(LEDGER_KEY)
    materialization = event.asset_materialization if event else None
    metadata = materialization.metadata if materialization else {}
    if "entry_id" not in metadata or "row_hash" not in metadata:
        return ()
    entry_id, row_hash = metadata["entry_id"].value, metadata["row_hash"].value
    return (ledger.Head(int(entry_id), str(row_hash), "latest ledger materialisation in Dagster"),)


def recent_ledger(warehouse, limit: int = RECENT_ROWS) -> pd.DataFrame:
    """The newest `limit` ledger rows (all datasets), oldest first; read-only. Governed-only rows
    (`check`, `export`: exact statements about real people, who ran them) never reach the UI."""
    from synth_platform.lib.storage.zones import GOVERNED_ONLY_EVENTS

    with warehouse.connect(read_only=True) as con:
        rows = ledger.read_ledger(con, newest=limit)
    return rows[~rows["event"].isin(GOVERNED_ONLY_EVENTS)] if len(rows) else rows


def _finite(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _cell(column: str, value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if column == "row_hash":
        return str(value)[:12]
    if isinstance(value, float) and math.isinf(value):
        return "unbounded (inf)"
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ", timespec="seconds")
    if hasattr(value, "item"):
        return value.item()
    return value


def ledger_table(rows: pd.DataFrame) -> dg.TableMetadataValue:
    """The rows as a UI table, newest first, with the columns a reviewer reads."""
    columns = [c for c in TABLE_COLUMNS if c in rows.columns]
    records = [{c: _cell(c, row[c]) for c in columns} for row in rows.iloc[::-1].to_dict(orient="records")]
    kinds = {}
    for column in columns:
        values = [r[column] for r in records if r[column] is not None]
        numeric = values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        kinds[column] = (
            ("int" if all(isinstance(v, int) for v in values) else "float") if numeric else "string"
        )
        if not numeric:
            for record in records:
                record[column] = None if record[column] is None else str(record[column])
    schema = dg.TableSchema(columns=[dg.TableColumn(name=c, type=kinds[c]) for c in columns])
    return dg.MetadataValue.table(records=[dg.TableRecord(r) for r in records], schema=schema)


def _remaining(row: dict, budget: float, cumulative: float) -> dict:
    """Remaining epsilon and share of the budget, composed in zCDP as the budget check does
    (epsilons do not subtract); plain subtraction for a row without rho."""
    rho, delta = _finite(row.get("cumulative_rho")), _finite(row.get("budget_delta"))
    if rho is not None and delta:
        from synth_platform.lib.synthesize import accounting

        budget_rho = accounting.rho_from_epsilon_delta(budget, delta)
        left = accounting.remaining_rho(budget_rho, rho)
        return {
            "epsilon_remaining": accounting.epsilon_from_rho(left, delta) if left > 0 else 0.0,
            "epsilon_remaining_share": left / budget_rho if budget_rho > 0 else 0.0,
        }
    left = max(budget - cumulative, 0.0)
    return {"epsilon_remaining": left, "epsilon_remaining_share": left / budget}


def dataset_figures(row: dict) -> dict:
    """Numeric entries `<dataset>.<figure>` for the Plots tab (finite numbers only)."""
    ds = row.get("dataset", "dataset")
    figures: dict = {}
    cumulative = row.get("cumulative_epsilon")
    budget = _finite(row.get("epsilon_budget"))
    if _finite(cumulative) is not None:
        figures["epsilon_cumulative"] = _finite(cumulative)
        if budget:
            figures.update(_remaining(row, budget, _finite(cumulative)))
    for column in ("quality_score", "exact_copy_share", "identifier_leaks"):
        if _finite(row.get(column)) is not None:
            figures[column] = _finite(row.get(column))
    raw = row.get("gate_figures")
    try:
        gate = json.loads(raw) if isinstance(raw, str) and raw else (raw or {})
    except ValueError:
        gate = {}
    for check, values in gate.items() if isinstance(gate, dict) else []:
        value = values.get("figure") if isinstance(values, dict) else values
        if _finite(value) is not None:
            figures[str(check)] = _finite(value)
    return {f"{ds}.{name}": dg.MetadataValue.float(value) for name, value in figures.items()}


def view_metadata(row: dict, recent: pd.DataFrame | None = None) -> dict:
    metadata = dataset_figures(row)
    if recent is not None:
        metadata["recent_ledger"] = ledger_table(recent)
    return metadata
