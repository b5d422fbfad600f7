"""Stage `train` / `holdout`: the keyed, deterministic split of the masked table (lib.split).

Train and holdout are written in one transaction (with the run-lease check): a crash between
them once left a new train beside an old holdout.
"""

import dagster as dg

from synth_platform.defs.chain.common import STAGE_VERSIONS, ChainContext
from synth_platform.defs.chain.ingest import lease_guard
from synth_platform.defs.resources import WarehouseResource
from synth_platform.defs.table_metadata import identity_lineage, table_metadata
from synth_platform.lib.split import split_train_holdout
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
    def split(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        frame = warehouse.read_table("masked", ds)
        train, holdout = split_train_holdout(frame, spec.split.holdout_fraction, spec.split.seed, spec.key)
        tables = {("masked", f"{ds}_train"): train, ("masked", f"{ds}_holdout"): holdout}
        with warehouse.connect() as con, replacing_tables(con, tables):
            lease_guard(ds, context.run_id, context.instance)(con)
        yield dg.MaterializeResult(
            asset_key=chain.key("train"),
            metadata=table_metadata(train, identity_lineage(train, chain.key("masked"))),
        )
        yield dg.MaterializeResult(
            asset_key=chain.key("holdout"),
            metadata=table_metadata(holdout, identity_lineage(holdout, chain.key("masked"))),
        )

    return split
