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
from synth_platform.defs.chain.ingest import lease_guard
from synth_platform.defs.evidence_pack import metadata_entries, write_gate_evidence
from synth_platform.defs.ledger_view import recent_ledger
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.lib import evaluation, ingest_log, ledger, release, synthesis
from synth_platform.lib.evidence import jsonable
from synth_platform.lib.progress import timed

GATE_CHECKS = {
    "schema_expectations": "Great Expectations suite derived from the masked data (columns, types, ranges, "
    "value sets, null shares, identifier formats) holds on the synthetic table.",
    "quality_score": "SDMetrics quality score is at least the spec's min_quality_score.",
    "exact_copies": "Share of synthetic rows identical to a training row is at most max_exact_copy_share.",
    # one blocking check per privacy attack (lib/attacks): figure, 95 % CI, threshold, one-line verdict
    **evaluation.ATTACK_CHECKS,
    "no_identifier_leak": "No raw direct-identifier value of the source appears anywhere in the "
    "synthetic table.",
}

UTILITY_DESCRIPTION = (
    "Train-synthetic-test-real: a model trained on the synthetic table, tested on the real holdout, "
    "scores at most utility.max_gap below the same model trained on real data (per declared target)."
)


def gate_checks(spec) -> dict[str, str]:
    """The gate's checks for a dataset: the fixed ones, plus TSTR when the spec declares targets."""
    extra = {evaluation.UTILITY_CHECK: UTILITY_DESCRIPTION} if spec.utility.targets else {}
    return {**GATE_CHECKS, **extra}


def decision_entry(run_id, ds, spec, model, figures: dict, con, event, decision) -> ledger.LedgerEntry:
    """The ledger row of a release decision, with the gate's figures."""
    return ledger.LedgerEntry(
        run_id=run_id,
        dataset=ds,
        event=event,
        source_hash=ingest_log.source_hash_for_run(con, ds, run_id),
        train_data_hash=model.train_data_hash,
        synthesizer=model.kind,
        parameters=model.params,
        code_version=f"{__version__}/release-{STAGE_VERSIONS['release']}",
        epsilon_budget=spec.privacy.epsilon_budget,
        quality_score=figures["quality_score"]["figure"],
        exact_copy_share=figures["exact_copies"]["figure"],
        dcr_train_share=None,  # the old DCR share is gone; every attack's figure and CI is in `figures`
        identifier_leaks=int(figures["no_identifier_leak"]["figure"]),
        decision=decision,
        budget_delta=spec.privacy.delta,
        figures=figures,
        model_sha256=model.sha256,
        charged_entry=model.charged_by,
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
            for name, description in gate_checks(spec).items()
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
        with timed(context.log, f"release gate of '{ds}'", len(synthetic_frame)):
            report = evaluation.evaluate(
                spec, plan, synthetic_frame, train, holdout, [identifiers[c] for c in identifier_columns]
            )
        run_id = context.run.run_id
        # The verdict names the exact table and model judged (release re-hashes and compares), and
        # is stored with its `blocked` row in one transaction, only while this run owns the dataset.
        assessment = release.Assessment(
            run_id,
            ds,
            report.passed,
            report.failed_checks,
            report.figures(),
            synthetic_sha256=release.frame_sha256(synthetic_frame),
            model_sha256=model.sha256,
        )
        with warehouse.connect() as con:
            blocked = None
            if not report.passed:
                reason = "blocked: failed " + ", ".join(report.failed_checks)
                blocked = decision_entry(run_id, ds, spec, model, report.figures(), con, "blocked", reason)
            guard = lease_guard(ds, run_id, context.instance)
            row = release.record_verdict(con, assessment, blocked, guard=guard)
        frames = (synthetic_frame, train, holdout)
        pack = write_gate_evidence(context.log, run_id, spec, plan, model, report, frames, warehouse, storage)
        if not report.passed:
            context.op_execution_context.log_event(
                dg.AssetMaterialization(
                    asset_key=LEDGER_KEY,
                    metadata={**ledger_metadata(row, recent_ledger(warehouse)), **metadata_entries(pack)},
                )
            )
        for outcome in report.outcomes:
            yield dg.AssetCheckResult(
                asset_key=synthetic_key,
                check_name=outcome.name,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=outcome.description,
                metadata={
                    **_figure_metadata(outcome),
                    **{
                        k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v
                        for k, v in jsonable(outcome.details).items()  # plain Python: serialisable
                    },
                    **metadata_entries(pack),
                },
            )

    return release_gate


def _figure_metadata(outcome: evaluation.CheckOutcome) -> dict:
    """Figure, threshold and, for the attacks, the 95 % CI and the one-line verdict. A figure that
    could not be computed (no evidence: the check blocks) is left out and said so, never NaN."""
    figures = outcome.as_dict()
    out = {"threshold": dg.MetadataValue.float(float(outcome.threshold))}
    if figures["figure"] is not None:
        out["figure"] = dg.MetadataValue.float(figures["figure"])
    else:
        out["figure_not_computed"] = dg.MetadataValue.text("no evidence: the check blocks (see verdict)")
    if outcome.ci is not None and figures["ci_low"] is not None:
        out["ci_95"] = dg.MetadataValue.text(f"{figures['ci_low']:.4f} .. {figures['ci_high']:.4f}")
    if outcome.verdict:
        out["verdict"] = dg.MetadataValue.text(outcome.verdict)
    return out
