"""Stage `synthetic`: rows sampled from the current model, identifiers refilled with fakes (refill).

The refill reads no raw value: fakes come from reserved spaces (documentation IPs, fictional
phone ranges, example.* e-mails, never-issued SSNs and card prefixes, ...) in the approved plan's
formats, names from pools drawn independently of the data. So this stage does not depend on the
raw table at all.
"""

import dagster as dg

from synth_platform.defs.chain.common import (
    STAGE_VERSIONS,
    ChainContext,
    direct_identifier_columns,
    lease_guard,
    masking_plan,
)
from synth_platform.defs.chain.current_model import authenticated_current_model
from synth_platform.defs.resources import PseudonymKeyResource, StorageResource, WarehouseResource
from synth_platform.defs.table_metadata import column_lineage, warehouse_table_metadata
from synth_platform.lib.deidentify import refill
from synth_platform.lib.progress import timed
from synth_platform.lib.synthesize import synthesis, synthetic_table
from synth_platform.lib.synthesize.synthesis import SAMPLE_CHUNK_ROWS


def build_synthetic_asset(chain: ChainContext):
    spec, ds = chain.spec, chain.ds

    @dg.asset(
        key=chain.key("synthetic"),
        deps=[chain.key("synthesizer")],
        code_version=STAGE_VERSIONS["synthetic"],
        kinds={"duckdb", "faker"},
        description="Rows sampled from the synthesizer in the source's shape: direct identifiers refilled "
        "with fake values of the same kind, generalised columns drawn back into their format.",
        **chain.common,
    )
    def synthetic(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        storage: StorageResource,
        pseudonym_key: PseudonymKeyResource,
    ) -> dg.MaterializeResult:
        plan = masking_plan(spec, warehouse)
        key = pseudonym_key.resolve().value  # authenticates the model file before it is unpickled
        model = authenticated_current_model(
            context.instance, chain.key("synthesizer"), storage.model_dir(ds), key
        )
        rows = synthesis.release_rows(model, spec.sample.rows, key)  # DP: the noisy total, never n
        seed = spec.synthesizer.seed
        shape = refill.SourceShape(spec, plan, seed, rows)  # checks the plan's formats before drawing
        # Chunks are refilled by worker processes (SYNTH_REFILL_WORKERS, default: the cores) and come
        # back in order, as Arrow tables the writer hands to DuckDB as they are; the same table
        # whatever their number (refill.parallel).
        sampled = synthesis.sample_chunks(model, rows, seed, key, chunk_rows=SAMPLE_CHUNK_ROWS)
        chunks = shape.chunks(sampled, arrow=True)
        # Memory holds a few chunks: sampled, refilled, staged by this process alone; then one
        # transaction checks that this run still owns the dataset and swaps the new table in (or
        # leaves the previous one).
        with timed(context.log, f"sampling, refilling and writing '{ds}' from its {model.kind} model", rows):
            synthetic_table.write_chunks(
                warehouse.db_path, "synthetic", ds, chunks, guard=lease_guard(ds, context)
            )
        identifier_columns = direct_identifier_columns(plan)
        lineage = column_lineage(
            {t.column: [(chain.key("synthesizer"), t.column)] if t.reaches_model else [] for t in plan}
        )
        refilled = shape.report
        descriptions = {
            c: f"fake value drawn without reading the source: {refilled[c]['space']}"
            if c in refilled
            else "fake value"
            for c in identifier_columns
        }
        with warehouse.connect(read_only=True) as con:
            table_metadata = warehouse_table_metadata(con, "synthetic", ds, lineage, descriptions)
        return dg.MaterializeResult(
            metadata={
                **table_metadata,
                "model_sha256": model.sha256,
                "refilled_columns": len(identifier_columns),
                # per refilled column: kind, display format, reserved space (no value)
                "refill": dg.MetadataValue.json(refilled),
            }
        )

    return synthetic
