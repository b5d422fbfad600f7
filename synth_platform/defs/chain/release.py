"""Stage `release`: publish the synthetic table only if the gate passed in this run (lib.release)."""

import dagster as dg

from synth_platform.defs.chain.common import (
    LEDGER_KEY,
    STAGE_VERSIONS,
    ChainContext,
    ledger_metadata,
)
from synth_platform.defs.chain.gate import decision_entry
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.defs.table_metadata import identity_lineage, table_metadata
from synth_platform.lib import release, synthesis


def build_release_asset(chain: ChainContext):
    spec, ds = chain.spec, chain.ds

    @dg.asset(
        key=chain.key("release"),
        deps=[chain.key("synthetic")],
        code_version=STAGE_VERSIONS["release"],
        kinds={"duckdb"},
        description=f"release.{ds}: the synthetic table, published only when every blocking check of the "
        "release gate passed in this same run; the decision is appended to the privacy ledger.",
        **chain.common,
    )
    def release_asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, storage: StorageResource
    ) -> dg.MaterializeResult:
        model = synthesis.current_model(storage.model_dir(ds))
        with warehouse.connect(read_only=True) as con:
            assessment = release.assessment_for_run(con, ds, context.run_id)
        if assessment is None or not assessment.passed:
            raise dg.Failure(
                description=f"Release of '{ds}' refused: the release gate did not pass in this run "
                f"({'not run' if assessment is None else 'failed: ' + ', '.join(assessment.failed_checks)}). "
                "Materialise the synthetic table and the release together so the checks run first.",
                allow_retries=False,
            )
        frame = warehouse.read_table("synthetic", ds)
        figures = assessment.figures
        with warehouse.connect() as con:
            entry = decision_entry(context.run_id, ds, spec, model, figures, con, "released", "released")
            row = release.publish(con, ds, frame, entry)
        context.log_event(dg.AssetMaterialization(asset_key=LEDGER_KEY, metadata=ledger_metadata(row)))
        return dg.MaterializeResult(
            metadata={
                **table_metadata(frame, identity_lineage(frame, chain.key("synthetic"))),
                "ledger_entry": row["entry_id"],
                "decision": "released",
                "quality_score": figures["quality_score"]["figure"],
            }
        )

    return release_asset
