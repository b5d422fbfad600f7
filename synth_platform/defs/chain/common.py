"""What every stage of a dataset's chain shares: asset keys, the warehouse pool, versions, helpers.

Each stage module (`ingest`, `discovery`, `masking`, `split`, `synthesizer`, `synthetic`,
`gate`, `release`) builds the Dagster definitions of one step from a `ChainContext`, and
sits next to the `lib/` module whose domain logic it wires.

The dataset run lease (lib.storage.run_lease) is wired here once for every stage: each write of a
stage confirms it in its own transaction with the same liveness (`lease_guard`).
"""

from dataclasses import dataclass

import dagster as dg
import pandas as pd

from synth_platform.defs.resources import WarehouseResource
from synth_platform.defs.run_health import executor_pid, run_is_alive
from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.governance import budget, ledger
from synth_platform.lib.pii import approved_plan
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage import liveness, run_lease

POOL = "duckdb_warehouse"
LEDGER_KEY = dg.AssetKey(["governance", "ledger"])
STAGES = ("raw", "pii_report", "masked", "train", "holdout", "synthesizer", "synthetic", "release")

#: Bump a stage's version when its logic changes, so Dagster flags its outputs as stale.
STAGE_VERSIONS = {
    "raw": "2",
    "pii_report": "3",
    "masked": "2",
    "split": "3",
    "synthesizer": "2",
    "synthetic": "2",
    "release": "2",
}


@dataclass(frozen=True)
class ChainContext:
    """One dataset's spec and the asset keys of its chain."""

    spec: DatasetSpec

    @property
    def ds(self) -> str:
        return self.spec.name

    def key(self, stage: str) -> dg.AssetKey:
        return dg.AssetKey([self.spec.name, stage])

    @property
    def common(self) -> dict:
        """Arguments every warehouse-touching asset of the chain takes."""
        return {"group_name": self.spec.name, "pool": POOL}


def run_liveness(instance: dg.DagsterInstance) -> run_lease.IsAlive:
    """`is_alive` for the lease: this instance's view of a run, and None for a run it does not know.

    A run id unknown here (another instance sharing the warehouse, or a run deleted from this
    one) is not taken for dead: `run_lease.holder_alive` then checks the process its lease recorded.
    """

    def is_alive(run_id: str) -> bool | None:
        if instance.get_run_record_by_id(run_id) is None:
            return None
        return run_is_alive(instance, run_id)

    return is_alive


def run_process(instance: dg.DagsterInstance, run_id: str) -> liveness.RunProcess | None:
    """The process executing the run (its executor's, not this step's: with the multiprocess
    executor a step's process ends long before the run), recorded with the lease it takes."""
    pid = executor_pid(instance, run_id)
    return liveness.run_process(pid) if pid is not None else None


def lease_guard(ds: str, context):
    """The check that this run owns the dataset, to run inside a write's transaction.

    Always with liveness: a run that did not start at `raw` takes over the lease of an ended
    run, and is refused while a live one holds it (a step failure that is not retried: the
    other run still owns the tables when a retry would come).
    """
    instance, run_id = context.instance, context.run.run_id  # an asset's or a check's context
    is_alive, process = run_liveness(instance), run_process(instance, run_id)

    def guard(con) -> None:
        try:
            run_lease.confirm(con, ds, run_id, is_alive, process)
        except run_lease.LeaseHeldError as error:
            raise dg.Failure(description=f"Write refused: {error}.", allow_retries=False) from None

    return guard


def pii_classes(findings: pd.DataFrame) -> dict[str, tuple[str, str | None]]:
    return {
        row.column: (row.pii_class, row.detected_type if isinstance(row.detected_type, str) else None)
        for row in findings.itertuples()
    }


def spec_hints(spec: DatasetSpec) -> dict[str, tuple[str, str | None]]:
    return {name: (c.pii.pii_class, c.pii.type) for name, c in spec.columns.items() if c.pii is not None}


def approved_plan_table(ds: str) -> str:
    """governance.<this>: the approved plan `pii_report` checked against discovery (lib.pii.approved_plan)."""
    return approved_plan.plan_table_name(ds)


def masking_plan(spec: DatasetSpec, warehouse: WarehouseResource) -> list[ColumnTreatment]:
    """The masking plan every stage applies: the APPROVED plan's treatments, never discovery's own verdict.

    `pii_report` loads the plan a person approved (`<specs_dir>/<ds>/masking_plan.yaml`), stops the run when
    discovery disagrees on the unsafe side, and records the plan it checked in the warehouse; the
    later stages read that record, so each run applies the plan its own discovery was checked against.
    """
    try:
        plan = approved_plan.recorded_plan(warehouse.db_path, spec)
    except approved_plan.PlanError as error:
        raise dg.Failure(description=f"{error}; materialise pii_report again") from error
    if plan is None:
        raise dg.Failure(
            description=f"dataset {spec.name!r} has no approved masking plan checked by its pii_report: "
            f"approve one (`{approved_plan.approve_command(spec.name)}`, then commit the plan file) "
            "and materialise pii_report before this step"
        )
    return approved_plan.treatments(spec, plan)


def direct_identifier_columns(plan: list[ColumnTreatment]) -> list[str]:
    return [t.column for t in plan if not t.reaches_model]


def ledger_metadata(row: dict, recent: pd.DataFrame | None = None) -> dict:
    """The metadata of a ledger materialisation: the row's ids and spend, never a value.

    Plus per-dataset numbers the UI plots over time and, given `recent` rows
    (`ledger_view.recent_ledger`), the recent ledger as a table.
    """
    from synth_platform.defs.ledger_view import view_metadata

    keep = ("entry_id", "dataset", "event", "decision", "synthesizer", "epsilon_note", "run_id")
    metadata = {k: str(row[k]) for k in keep}
    metadata["cumulative_epsilon"] = str(row["cumulative_epsilon"])
    # The chain head (entry_id + row_hash), kept outside the table so that deleting the newest
    # rows is caught: the synthesizer step compares it with the table before every charge.
    metadata["row_hash"] = str(row["row_hash"])
    for name in ("cumulative_rho", "rho_spent", "budget_delta"):
        metadata[name] = str(row.get(name))
    return {**metadata, **view_metadata(row, recent)}


def charge_training(con, entry, spend, privacy, current, provenance, heads, guard, key):
    """`budget.charge_or_reuse` as a chain step needs it: (charge, None), or (None, the refusal) when
    the budget is spent (the caller logs its `refused` row once the warehouse lock is released); a
    broken ledger stops the run without retries. Shared by the dataset and the schema chains."""
    try:
        charge = budget.charge_or_reuse(
            con,
            entry,
            spend,
            privacy.epsilon_budget,
            privacy.delta,
            current,
            provenance,
            heads,
            guard=guard,
            key=key,
        )
    except ledger.BudgetExceededError as error:
        return None, error
    except ledger.LedgerIntegrityError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    return charge, None
