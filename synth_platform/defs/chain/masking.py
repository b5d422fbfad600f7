"""Stage `masked`: direct identifiers dropped or pseudonymised, QIs generalised (lib.masking)."""

import dagster as dg

from synth_platform.defs.chain.common import STAGE_VERSIONS, ChainContext, lease_guard, masking_plan
from synth_platform.defs.resources import PseudonymKeyResource, WarehouseResource
from synth_platform.defs.table_metadata import column_lineage, records_table, table_metadata
from synth_platform.lib.masking import apply_masking
from synth_platform.lib.warehouse import replacing_tables


def build_masked_asset(chain: ChainContext):
    spec, ds = chain.spec, chain.ds

    @dg.asset(
        key=chain.key("masked"),
        deps=[chain.key("raw"), chain.key("pii_report")],
        code_version=STAGE_VERSIONS["masked"],
        kinds={"duckdb"},
        description="Direct identifiers dropped or pseudonymised (keyed HMAC), quasi-identifiers "
        "generalised, rare categories and outliers suppressed.",
        **chain.common,
    )
    def masked(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, pseudonym_key: PseudonymKeyResource
    ) -> dg.MaterializeResult:
        key = pseudonym_key.resolve()  # the key file is named in logs and metadata, never the key
        context.log.info(f"Pseudonym key from {key.source}")
        plan = masking_plan(spec, warehouse)
        frame = warehouse.read_table("raw", ds)
        masked_frame, report = apply_masking(frame, plan, spec, key.value)
        with warehouse.connect() as con, replacing_tables(con, {("masked", ds): masked_frame}):
            lease_guard(ds, context)(con)  # this run still owns the dataset, in the write's transaction
        lineage = column_lineage({c: [(chain.key("raw"), c)] for c in masked_frame.columns})
        return dg.MaterializeResult(
            metadata={
                **table_metadata(masked_frame, lineage),
                "treatments": records_table(report.as_rows()),
                "columns_dropped": sum(t.action == "drop" for t in plan),
                "pseudonym_key": key.source,
            }
        )

    return masked
