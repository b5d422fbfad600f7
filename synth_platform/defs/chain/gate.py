"""The release gate: blocking asset checks on `<ds>/synthetic`, one per check (lib.evaluation).

A failed check stops `release` in the same run; the gate's figures are stored as the
run's assessment, and a failed gate appends a `blocked` row to the ledger.
"""

import dagster as dg
import pandas as pd

from synth_platform import __version__
from synth_platform.defs.chain.common import (
    LEDGER_KEY,
    POOL,
    STAGE_VERSIONS,
    ChainContext,
    direct_identifier_columns,
    ledger_metadata,
    masking_plan,
)
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.lib import evaluation, ingest_log, ledger, release, synthesis

GATE_CHECKS = {
    "schema_expectations": "Great Expectations suite derived from the masked data (columns, types, ranges, "
    "value sets, null shares, identifier formats) holds on the synthetic table.",
    "quality_score": "SDMetrics quality score is at least the spec's min_quality_score.",
    "exact_copies": "Share of synthetic rows identical to a training row is at most max_exact_copy_share.",
    "distance_to_closest_record": "Share of synthetic rows closer to train than to holdout is at most "
    "max_dcr_train_share.",
    "no_identifier_leak": "No raw direct-identifier value of the source appears anywhere in the "
    "synthetic table.",
}


def decision_entry(run_id, ds, spec, model, figures: dict, con, event, decision) -> ledger.LedgerEntry:
    """The ledger row of a release decision, with the gate's figures."""
    return ledger.LedgerEntry(
        run_id=run_id,
        dataset=ds,
        event=event,
        source_hash=ingest_log.latest_source_hash(con, ds),
        train_data_hash=model.train_data_hash,
        synthesizer=model.kind,
        parameters=model.params,
        code_version=f"{__version__}/release-{STAGE_VERSIONS['release']}",
        epsilon_budget=spec.privacy.epsilon_budget,
        quality_score=figures["quality_score"]["figure"],
        exact_copy_share=figures["exact_copies"]["figure"],
        dcr_train_share=figures["distance_to_closest_record"]["figure"],
        identifier_leaks=int(figures["no_identifier_leak"]["figure"]),
        decision=decision,
    )


def build_release_gate(chain: ChainContext):
    spec, ds = chain.spec, chain.ds
    synthetic_key = chain.key("synthetic")

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                name,
                asset=synthetic_key,
                description=description,
                blocking=True,
                additional_deps=[chain.key("train"), chain.key("holdout"), chain.key("raw")],
            )
            for name, description in GATE_CHECKS.items()
        ],
        name=f"{ds}__release_gate",
        description="Quality and privacy checks that must all pass, in the same run, before a release.",
        pool=POOL,
    )
    def release_gate(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, storage: StorageResource
    ):
        plan = masking_plan(spec, warehouse)
        model = synthesis.current_model(storage.model_dir(ds))
        synthetic_frame = warehouse.read_table("synthetic", ds)
        train = warehouse.read_table("masked", f"{ds}_train")
        holdout = warehouse.read_table("masked", f"{ds}_holdout")
        identifier_columns = direct_identifier_columns(plan)
        identifiers = (
            warehouse.read_table("raw", ds, identifier_columns) if identifier_columns else pd.DataFrame()
        )
        report = evaluation.evaluate(
            spec, plan, synthetic_frame, train, holdout, [identifiers[c] for c in identifier_columns]
        )
        run_id = context.run.run_id
        with warehouse.connect() as con:
            release.record_assessment(
                con, release.Assessment(run_id, ds, report.passed, report.failed_checks, report.figures())
            )
            if not report.passed:
                reason = "blocked: failed " + ", ".join(report.failed_checks)
                entry = decision_entry(run_id, ds, spec, model, report.figures(), con, "blocked", reason)
                row = ledger.append(con, entry)
        if not report.passed:
            context.op_execution_context.log_event(
                dg.AssetMaterialization(asset_key=LEDGER_KEY, metadata=ledger_metadata(row))
            )
        for outcome in report.outcomes:
            yield dg.AssetCheckResult(
                asset_key=synthetic_key,
                check_name=outcome.name,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=outcome.description,
                metadata={
                    "figure": dg.MetadataValue.float(float(outcome.figure)),
                    "threshold": dg.MetadataValue.float(float(outcome.threshold)),
                    **{
                        k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v
                        for k, v in outcome.details.items()
                    },
                },
            )

    return release_gate
