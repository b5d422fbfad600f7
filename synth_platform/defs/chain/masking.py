"""Stage `masked`: direct identifiers dropped or pseudonymised, QIs generalised (lib.deidentify.masking)."""

import dagster as dg

from synth_platform.defs.chain.common import STAGE_VERSIONS, ChainContext, lease_guard, masking_plan
from synth_platform.defs.resources import PseudonymKeyResource, WarehouseResource
from synth_platform.defs.table_metadata import column_lineage, records_table, warehouse_table_metadata
from synth_platform.lib.deidentify.masking import mask_table


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
        with warehouse.connect() as con:
            # computed inside the warehouse (deidentify.masking_sql): the table never passes through pandas
            guard = lease_guard(ds, context)  # this run still owns the dataset, in the write's transaction
            report = mask_table(con, plan, spec, key.value, ("raw", ds), ("masked", ds), guard)
            kept = [t.column for t in plan if t.action != "drop"]
            lineage = column_lineage({c: [(chain.key("raw"), c)] for c in kept})
            metadata = warehouse_table_metadata(con, "masked", ds, lineage)
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "treatments": records_table(report.as_rows()),
                "columns_dropped": sum(t.action == "drop" for t in plan),
                "pseudonym_key": key.source,
            }
        )

    return masked
