"""Stage `train` / `holdout`: the keyed, deterministic split of the masked table (lib.split).

A row's side is an HMAC under the platform's pseudonym key of its key value, or of its content
without a key, so one source row more or less moves no other row. With a key, at most one row
per person (key value) is kept first; how many rows that dropped is a count in the `train`
asset's metadata (governed side: never published with the synthetic table).

Train and holdout are written in one transaction (with the run-lease check): a crash between
them once left a new train beside an old holdout.
"""

import dagster as dg

from synth_platform.defs.chain.common import STAGE_VERSIONS, ChainContext
from synth_platform.defs.chain.ingest import lease_guard
from synth_platform.defs.resources import PseudonymKeyResource, WarehouseResource
from synth_platform.defs.table_metadata import identity_lineage, table_metadata
from synth_platform.lib.split import split_dataset
from synth_platform.lib.warehouse import replacing_tables


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
        frame = warehouse.read_table("masked", ds)
        result = split_dataset(
            frame, spec.split.holdout_fraction, spec.split.seed, spec.key, secret=key.value
        )
        train, holdout = result.train, result.holdout
        tables = {("masked", f"{ds}_train"): train, ("masked", f"{ds}_holdout"): holdout}
        with warehouse.connect() as con, replacing_tables(con, tables):
            lease_guard(ds, context.run_id, context.instance)(con)
        yield dg.MaterializeResult(
            asset_key=chain.key("train"),
            metadata={
                **table_metadata(train, identity_lineage(train, chain.key("masked"))),
                # contribution bounding (one row per key value): a count only, governed side
                "rows_dropped_beyond_one_per_person": result.duplicate_rows_dropped,
            },
        )
        yield dg.MaterializeResult(
            asset_key=chain.key("holdout"),
            metadata=table_metadata(holdout, identity_lineage(holdout, chain.key("masked"))),
        )

    return split
