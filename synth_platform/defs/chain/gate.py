"""The release gate: blocking asset checks on `<ds>/synthetic`, one per check (lib.gate.evaluation).

A failed check stops `release` in the same run; the gate's figures are stored as the
run's assessment, and a failed gate appends a `blocked` row to the ledger.

The decision is private (`lib/gate/private_decision.py`): before the gate reads any real row it
charges `checks.gate_rho` to the dataset's budget with a `gate` ledger row (a re-run of the same
model and synthetic table reuses that charge and draws the same noise; a budget that cannot pay
blocks the gate without reading data). Real-data checks then decide on noisy bounded figures.
What leaves the governed side — check metadata in the UI, the assessment, the ledger's decision
row — holds the noisy figures only; the exact ones go to the restricted evidence pack.
"""

import dagster as dg

from synth_platform import __version__
from synth_platform.defs.chain.common import (
    LEDGER_KEY,
    POOL,
    STAGE_VERSIONS,
    ChainContext,
    direct_identifier_columns,
    lease_guard,
    ledger_metadata,
    masking_plan,
)
from synth_platform.defs.chain.current_model import authenticated_current_model
from synth_platform.defs.evidence_pack import metadata_entries, write_gate_evidence
from synth_platform.defs.ledger_view import recent_ledger
from synth_platform.defs.resources import PseudonymKeyResource, StorageResource, WarehouseResource
from synth_platform.lib.gate import evaluation, private_decision
from synth_platform.lib.gate.evaluation.evidence_worker import gate_modules, pictures_in_worker, start_worker
from synth_platform.lib.gate.evaluation.warmup import WarmImports
from synth_platform.lib.governance import ledger, release
from synth_platform.lib.governance.evidence import jsonable
from synth_platform.lib.progress import timed
from synth_platform.lib.storage import ingest_log

GATE_CHECKS = {
    "schema_expectations": "Great Expectations suite built from public inputs (warehouse types, declared "
    "domains, identifier formats) holds on the synthetic table; a public check, free.",
    evaluation.HOLDOUT_CHECK: "Noisy holdout row count is surely at least min_holdout_rows (and train "
    "surely at least min_evaluation_rows): no evidence is no pass.",
    "quality_score": "Quality (bounded TV/KS variant of SDMetrics' score) is not surely below the spec's "
    "min_quality_score.",
    "exact_copies": "Excess share of training people with an exact copy in the synthetic table is not "
    "surely above max_exact_copy_share.",
    # one blocking check per privacy attack (lib/attacks): figure, 95 % CI, threshold, one-line verdict
    **evaluation.ATTACK_CHECKS,
    "no_identifier_leak": "No raw direct-identifier value of the source (6 characters or more; shorter "
    "ones match other columns by chance) appears anywhere in the synthetic table; a value made of "
    "dictionary names only is counted as a coincidence, not a leak.",
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
        identifier_leaks=_count(figures["no_identifier_leak"]["figure"]),
        decision=decision,
        budget_delta=spec.privacy.delta,
        figures=figures,
        model_sha256=model.sha256,
        charged_entry=model.charged_by,
    )


def gate_settings(spec) -> dict:
    """Everything besides the data and the tables that shapes a released figure (public)."""
    return {
        "checks": spec.checks.model_dump(mode="json"),
        "utility": spec.utility.model_dump(mode="json"),
        "model_columns": sorted(spec.columns),
    }


def gate_entry(
    run_id, ds, spec, model, evaluation: str, synthetic_sha256: str, source_id
) -> ledger.LedgerEntry:
    """The `gate` ledger row: the gate's rho, charged before it reads real data."""
    rho = spec.checks.gate_rho
    extra = {"source_id": source_id} if "source_id" in ledger.LedgerEntry.__dataclass_fields__ else {}
    return ledger.LedgerEntry(
        run_id=run_id,
        dataset=ds,
        event="gate",
        source_hash="",
        train_data_hash=model.train_data_hash,
        synthesizer=model.kind,
        parameters={
            "gate_evaluation": evaluation,
            "synthetic_sha256": synthetic_sha256,
            "gate_rho": rho,
            "rho_weights": private_decision.RHO_WEIGHTS,
            # the decision's family-wise false-block rate (public; the z it gives is in the figures)
            "false_block_rate": spec.checks.false_block_rate,
        },
        code_version=f"{__version__}/gate-{private_decision.CODE_VERSION}",
        epsilon_spent=private_decision.gate_epsilon(rho, spec.privacy.delta),
        delta=spec.privacy.delta,
        rho_spent=rho,
        epsilon_budget=spec.privacy.epsilon_budget,
        budget_delta=spec.privacy.delta,
        decision="charged: the release gate's noisy figures",
        model_sha256=model.sha256,
        **extra,
    )


def refused_report(spec, reason: str) -> evaluation.GateReport:
    """Every check blocked, nothing read: the budget cannot pay for the gate's noisy figures."""
    return evaluation.GateReport(
        [
            evaluation.CheckOutcome(
                name,
                False,
                float("nan"),
                0.0,
                description,
                {"not_evaluated": reason},
                verdict=f"BLOCK: {reason}",
            )
            for name, description in gate_checks(spec).items()
        ]
    )


def _count(figure) -> int | None:
    """A (noisy) count as the ledger's integer column: rounded, never negative; None if not computed."""
    return None if figure is None else max(0, round(float(figure)))


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
        description="Quality and privacy checks that must all pass, in the same run, before a release. "
        "Real-data checks decide on noisy bounded figures (a charged zCDP rho, `checks.gate_rho`).",
        pool=POOL,
    )
    def release_gate(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        storage: StorageResource,
        pseudonym_key: PseudonymKeyResource,
    ):
        key = pseudonym_key.resolve().value
        plan = masking_plan(spec, warehouse)
        model = authenticated_current_model(
            context.instance, chain.key("synthesizer"), storage.model_dir(ds), key
        )
        # On a large table a worker process computes the exact (evidence-only) checks beside the
        # noisy decision and then draws the pack's pictures, importing anonymeter, SDMetrics and
        # matplotlib while DuckDB works below; GX and sklearn (and, without the worker, the others)
        # import on a thread here meanwhile.
        draw_in_worker = pictures_in_worker()  # read first: a bad setting raises before a worker starts
        worker, not_started = start_worker(model.train_rows)
        if not_started:
            context.log.warning(f"Release gate of '{ds}': {not_started}.")
        worker_draws = worker is not None and draw_in_worker
        warm = WarmImports(gate_modules(worker is not None, worker_draws))
        try:
            with warehouse.connect(read_only=True) as con:  # the hash release re-computes (in DuckDB)
                synthetic_sha = release.table_sha256(con, "synthetic", ds)
            run_id = context.run.run_id
            evaluation_id = private_decision.evaluation_id(
                model.sha256, synthetic_sha, model.train_data_hash, gate_settings(spec)
            )
            source_id = _source_id(storage, spec, key)
            # The charge comes first, before any real row is read; a re-run of the same evaluation reuses it.
            with warehouse.connect() as con:
                entry = gate_entry(run_id, ds, spec, model, evaluation_id, synthetic_sha, source_id)
                entry.source_hash = ingest_log.source_hash_for_run(con, ds, run_id) or ""
                try:
                    charge = private_decision.charge_gate(
                        con,
                        entry,
                        spec.privacy.epsilon_budget,
                        spec.privacy.delta,
                        guard=lease_guard(ds, context),
                        key=key,
                    )
                except ledger.LedgerIntegrityError as error:  # a broken chain is never extended
                    raise dg.Failure(description=str(error), allow_retries=False) from None
            if charge.status == "charged":
                context.log.info(
                    f"Release gate of '{ds}' charged rho {spec.checks.gate_rho:g} (ledger entry "
                    f"{charge.row['entry_id']}) before reading the real data."
                )
            elif charge.status == "reused":
                context.log.info(
                    f"Release gate of '{ds}': this model and synthetic table were judged before "
                    f"(ledger entry {charge.row['entry_id']}); the same noisy figures, no new charge."
                )
            if charge.status == "refused":
                context.log.warning(f"Release gate of '{ds}' blocked: {charge.reason}")
                report = refused_report(spec, charge.reason)
                frames = None
            else:
                identifier_columns = direct_identifier_columns(plan)
                reading = f"release gate inputs of '{ds}' (SQL samples and scans)"
                with timed(context.log, reading, None), warehouse.connect(read_only=True) as con:
                    synthetic_frame, train, holdout, whole = evaluation.read_gate_inputs(
                        con,
                        plan,
                        gate_tables(ds),
                        identifier_columns,
                        private_decision.sample_key(key, "gate-sql-sample"),
                    )
                if worker_draws:  # drawn after the exact checks, joined when the pack is written
                    worker.submit_pictures(spec, plan, (synthetic_frame, train, holdout))
                warm.wait()  # no figure is computed while an import is under way
                noise = private_decision.GateNoise(
                    key,
                    model.sha256,
                    synthetic_sha,
                    spec.checks.gate_rho,
                    evaluation=evaluation_id,
                    noisy_total=getattr(model, "noisy_total", None),
                )
                with timed(context.log, f"release gate of '{ds}'", whole.rows["synthetic"]):
                    report = evaluation.evaluate(
                        spec,
                        plan,
                        synthetic_frame,
                        train,
                        holdout,
                        [],
                        noise=noise,
                        whole=whole,
                        worker=worker,
                    )
                report = evaluation.with_sample_sizes(report, whole, spec)
                frames = (synthetic_frame, train, holdout)
                _log_decision_rule(context.log, ds, report)
            # The verdict names the exact table and model judged (release re-hashes and compares), and
            # is stored with its `blocked` row in one transaction, only while this run owns the dataset.
            # Only public figures leave: the noisy ones of the real-data checks (report.figures()).
            assessment = release.Assessment(
                run_id,
                ds,
                report.passed,
                report.failed_checks,
                report.figures(),
                synthetic_sha256=synthetic_sha,
                model_sha256=model.sha256,
            )
            with warehouse.connect() as con:
                blocked = None
                if not report.passed:
                    reason = "blocked: failed " + ", ".join(report.failed_checks)
                    blocked = decision_entry(
                        run_id, ds, spec, model, report.figures(), con, "blocked", reason
                    )
                guard = lease_guard(ds, context)
                row = release.record_verdict(con, assessment, blocked, guard=guard)
            pack = None
            if frames is not None:  # the restricted pack holds the exact figures too
                pack = write_gate_evidence(
                    context.log,
                    run_id,
                    spec,
                    plan,
                    model,
                    report,
                    frames,
                    warehouse,
                    storage,
                    pictures=worker.pictures if worker_draws else None,
                )
        finally:
            if worker is not None:
                worker.close()  # not waited for: joined by evaluate and the pack, or not needed
        pack_metadata = metadata_entries(pack) if pack is not None else {}
        if not report.passed:
            context.op_execution_context.log_event(
                dg.AssetMaterialization(
                    asset_key=LEDGER_KEY,
                    metadata={**ledger_metadata(row, recent_ledger(warehouse)), **pack_metadata},
                )
            )
        for outcome in report.outcomes:
            yield dg.AssetCheckResult(
                asset_key=synthetic_key,
                check_name=outcome.name,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=outcome.description,
                metadata={**public_metadata(outcome), **pack_metadata},
            )

    return release_gate


def _log_decision_rule(log, ds: str, report: evaluation.GateReport) -> None:
    """Say how sure a block had to be (public: the spec's alpha and the figures it is shared over)."""
    rule = report.decision_rule()
    if rule:
        log.info(
            f"Release gate of '{ds}': family-wise false-block rate {rule['false_block_rate']:g} over "
            f"{rule['figures']} noisy figures, each decided at z {rule['z']:.3f} (the holdout minimum: "
            f"{rule['z_minimum']:.3f})."
        )


def gate_tables(ds: str) -> dict[str, tuple[str, str]]:
    """The warehouse tables the gate reads (schema, table): samples of the first three, SQL scans
    of all four (`evaluation.read_gate_inputs`)."""
    return {
        "synthetic": ("synthetic", ds),
        "train": ("masked", f"{ds}_train"),
        "holdout": ("masked", f"{ds}_holdout"),
        "raw": ("raw", ds),
    }


def _source_id(storage: StorageResource, spec, key: bytes):
    """The budget's source id (`governance.source_identity`), as the synthesizer step charges it; None if the
    landing folder cannot be resolved (the ledger then scopes the budget by dataset)."""
    try:
        from synth_platform.lib.governance.source_identity import source_id

        return source_id(storage.landing_dir(spec.source.landing_dir), key)
    except Exception:
        return None


def public_metadata(outcome: evaluation.CheckOutcome) -> dict:
    """What the UI shows of a check: public figures only. A real-data check under the private gate
    shows its noisy figure, sigma, sensitivity, rho and noisy verdict; its exact figure, interval
    and details go to the restricted evidence pack only. A public check (GX) shows its details."""
    if outcome.noisy is not None or not outcome.public:
        shown = outcome.as_dict() if outcome.noisy is not None else {"threshold": outcome.threshold}
        out = {"threshold": dg.MetadataValue.float(float(outcome.threshold))}
        for name, value in shown.items():
            if name in ("threshold", "passed", "private") or value is None:
                continue
            if isinstance(value, bool | str):
                out[name] = dg.MetadataValue.text(str(value))
            elif isinstance(value, int | float):
                out[name] = dg.MetadataValue.float(float(value))
        if outcome.noisy is None:  # not evaluated (budget refused) or not applicable
            out["verdict"] = dg.MetadataValue.text(outcome.verdict or "not evaluated")
        return out
    return {
        **_figure_metadata(outcome),
        **{
            k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v
            for k, v in jsonable(outcome.details).items()  # plain Python: serialisable
        },
    }


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
