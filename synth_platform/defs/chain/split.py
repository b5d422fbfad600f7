"""Stage `train` / `holdout`: the keyed, deterministic split of the masked table (lib.synthesize.split).

A row's side is an HMAC under the platform's pseudonym key of its key value, or of its content
without a key, so one source row more or less moves no other row. With a key, at most one row
per person (key value) is kept first; how many rows that dropped is a count in the `train`
asset's metadata (governed side: never published with the synthetic table).

Train and holdout are written in one transaction (with the run-lease check): a crash between
them once left a new train beside an old holdout.

Before writing, the sides are checked against what the release gate needs (lib.synthesize.split.rows_needed
with the approved plan's checks): a side that falls short (very unlikely after ingest's check, but a
keyed split is a draw) fails this step, nothing is written, and the `synthesizer` step, which
depends on `train`, is skipped in the run: nothing is trained and no budget is charged.
"""

import dagster as dg

from synth_platform.defs.chain.common import STAGE_VERSIONS, ChainContext, lease_guard, masking_plan
from synth_platform.defs.resources import PseudonymKeyResource, WarehouseResource
from synth_platform.defs.table_metadata import warehouse_identity_lineage, warehouse_table_metadata
from synth_platform.lib.storage.warehouse import replacing_tables
from synth_platform.lib.synthesize.split import (
    SplitTooSmallError,
    require_gate_rows,
    rows_needed,
    split_table,
)


def _stop_if_short(ds: str, train_rows: int, holdout_rows: int, needed) -> None:
    """Fail the step, before anything is written, when the gate could only block for lack of rows."""
    try:
        require_gate_rows(train_rows, holdout_rows, needed)
    except SplitTooSmallError as error:
        raise dg.Failure(
            description=f"Split of '{ds}' stopped before training: {error}. Nothing was trained or "
            "charged; the previous train, holdout and release are untouched. Deliver more rows or raise "
            "split.holdout_fraction (ingest names the fraction that would do).",
            allow_retries=False,
        ) from None


def build_split_asset(chain: ChainContext):
    spec, ds = chain.spec, chain.ds

    @dg.multi_asset(
        outs={
            "train": dg.AssetOut(
                key=chain.key("train"),
                code_version=STAGE_VERSIONS["split"],
                kinds={"duckdb"},
                description="Training split of the masked table: the only data a synthesizer sees.",
            ),
            "holdout": dg.AssetOut(
                key=chain.key("holdout"),
                code_version=STAGE_VERSIONS["split"],
                kinds={"duckdb"},
                description="Holdout split, kept from every synthesizer, for the privacy attacks.",
            ),
        },
        deps=[chain.key("masked")],
        name=f"{ds}__split",
        **chain.common,
    )
    def split(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, pseudonym_key: PseudonymKeyResource
    ):
        key = pseudonym_key.resolve()  # the key file is named in logs, never the key
        context.log.info(f"Split keyed with the pseudonym key from {key.source}")
        needed = rows_needed(spec, masking_plan(spec, warehouse))
        guard = lease_guard(ds, context)

        def before_commit(con, counts) -> None:
            guard(con)  # this run still owns the dataset, in the write's transaction
            _stop_if_short(ds, counts.train, counts.holdout, needed)

        train_table, holdout_table = f"{ds}_train", f"{ds}_holdout"
        with warehouse.connect() as con:
            # computed inside the warehouse (lib.synthesize.split_sql): the table never passes through pandas
            counts = split_table(
                con,
                ("masked", ds),
                ("masked", train_table),
                ("masked", holdout_table),
                spec.split.holdout_fraction,
                spec.split.seed,
                spec.key,
                secret=key.value,
                before_commit=before_commit,
                replacing=replacing_tables,  # this module's name: the kill tests hang in it before COMMIT
            )
            upstream = chain.key("masked")
            train_metadata, holdout_metadata = (
                warehouse_table_metadata(
                    con, "masked", table, warehouse_identity_lineage(con, "masked", table, upstream)
                )
                for table in (train_table, holdout_table)
            )
        yield dg.MaterializeResult(
            asset_key=chain.key("train"),
            metadata={
                **train_metadata,
                # contribution bounding (one row per key value): a count only, governed side
                "rows_dropped_beyond_one_per_person": counts.duplicate_rows_dropped,
            },
        )
        yield dg.MaterializeResult(asset_key=chain.key("holdout"), metadata=holdout_metadata)

    return split
