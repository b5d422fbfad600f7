"""The governed chain of one dataset, as Dagster assets and a blocking release gate.

raw -> pii_report -> masked -> train / holdout -> synthesizer -> synthetic -> release

Data moves through the DuckDB warehouse (schemas raw, masked, synthetic, release,
governance); every step opens it briefly under one lock and the `duckdb_warehouse`
pool. The domain work lives in `synth_platform.lib`; this module only wires it.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from synth_platform import __version__
from synth_platform.defs.resources import (
    PseudonymKeyResource,
    StorageResource,
    SynthesizerFactory,
    WarehouseResource,
)
from synth_platform.defs.table_metadata import (
    column_lineage,
    identity_lineage,
    records_table,
    table_metadata,
)
from synth_platform.lib import discovery, evaluation, ingest, ingest_log, ledger, refill, release, synthesis
from synth_platform.lib.masking import ColumnTreatment, apply_masking, plan_masking
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.split import split_train_holdout

POOL = "duckdb_warehouse"
LEDGER_KEY = dg.AssetKey(["governance", "ledger"])
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

#: Bump a stage's version when its logic changes, so Dagster flags its outputs as stale.
STAGE_VERSIONS = {
    "raw": "1",
    "pii_report": "1",
    "masked": "1",
    "split": "1",
    "synthesizer": "1",
    "synthetic": "1",
    "release": "1",
}


class IngestConfig(dg.Config):
    landing_file: str = ""
    """Path of the landing file to ingest; empty means the newest file in the dataset's landing folder."""


def _pii_classes(findings: pd.DataFrame) -> dict[str, tuple[str, str | None]]:
    return {
        row.column: (row.pii_class, row.detected_type if isinstance(row.detected_type, str) else None)
        for row in findings.itertuples()
    }


def _hints(spec: DatasetSpec) -> dict[str, tuple[str, str | None]]:
    return {name: (c.pii.pii_class, c.pii.type) for name, c in spec.columns.items() if c.pii is not None}


def _plan(spec: DatasetSpec, warehouse: WarehouseResource) -> list[ColumnTreatment]:
    return plan_masking(spec, _pii_classes(warehouse.read_table("governance", f"pii_{spec.name}")))


def _direct_identifier_columns(plan: list[ColumnTreatment]) -> list[str]:
    return [t.column for t in plan if not t.reaches_model]


def build_dataset_assets(spec: DatasetSpec) -> list:
    ds = spec.name
    key = {stage: dg.AssetKey([ds, stage]) for stage in ("raw", "pii_report", "masked", "train", "holdout")}
    key |= {stage: dg.AssetKey([ds, stage]) for stage in ("synthesizer", "synthetic", "release")}
    common = {"group_name": ds, "pool": POOL}

    @dg.asset(
        key=key["raw"],
        code_version=STAGE_VERSIONS["raw"],
        kinds={"duckdb", "csv" if spec.source.format == "csv" else "parquet"},
        description=f"The landing file of '{ds}' ingested into raw.{ds}, checked against the spec.",
        **common,
    )
    def raw(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        warehouse: WarehouseResource,
        storage: StorageResource,
    ) -> dg.MaterializeResult:
        landing_dir = storage.landing_dir(spec.source.landing_dir)
        path = Path(config.landing_file) if config.landing_file else None
        path = path or ingest.latest_landing_file(landing_dir, spec.source.pattern)
        if path is None:
            raise dg.Failure(
                description=f"No landing file for '{ds}': put a {spec.source.format} file in {landing_dir}.",
                allow_retries=False,
            )
        try:
            described = ingest.describe_landing_file(path) if path.exists() else None
            frame = ingest.read_landing_file(path, spec)
        except ingest.IngestError as error:
            where = ingest.quarantine(path, storage.quarantine_dir(ds), str(error)) if path.exists() else None
            moved = f" The file was moved to {where}." if where else ""
            raise dg.Failure(
                description=f"Ingest of '{ds}' stopped: {error}.{moved} "
                "The previous release and the ledger are untouched.",
                metadata={"file": path.name, "quarantined_to": str(where or "")},
                allow_retries=False,
            ) from None
        assert described is not None
        warehouse.write_table("raw", ds, frame)
        with warehouse.connect() as con:
            ingest_log.record_ingest(con, ds, context.run_id, path.name, described.content_hash, len(frame))
        return dg.MaterializeResult(
            metadata={
                **table_metadata(frame),
                "source_file": path.name,
                "source_hash": described.content_hash,
                "source_bytes": described.size_bytes,
            }
        )

    @dg.asset(
        key=key["pii_report"],
        deps=[key["raw"]],
        code_version=STAGE_VERSIONS["pii_report"],
        kinds={"duckdb"},
        description="Every column classified (direct identifier / quasi-identifier / sensitive / other) "
        "with its detected type and evidence; holds no raw values.",
        **common,
    )
    def pii_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
        frame = warehouse.read_table("raw", ds)
        findings = discovery.discover(frame, hints=_hints(spec))
        report = discovery.findings_table(findings)
        warehouse.write_table("governance", f"pii_{ds}", report)
        counts = report["pii_class"].value_counts().to_dict()
        return dg.MaterializeResult(
            metadata={
                "findings": records_table(report.to_dict(orient="records")),
                **{f"{cls}_columns": int(counts.get(cls, 0)) for cls in discovery.PII_CLASSES},
            }
        )

    @dg.asset(
        key=key["masked"],
        deps=[key["raw"], key["pii_report"]],
        code_version=STAGE_VERSIONS["masked"],
        kinds={"duckdb"},
        description="Direct identifiers dropped or pseudonymised (keyed HMAC), quasi-identifiers "
        "generalised, rare categories and outliers suppressed.",
        **common,
    )
    def masked(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, pseudonym_key: PseudonymKeyResource
    ) -> dg.MaterializeResult:
        if pseudonym_key.is_demo_default:
            context.log.warning(
                "SYNTH_PSEUDONYM_KEY is not set: pseudonyms use the public DEMO key. Set the variable "
                "to a secret before masking real data."
            )
        plan = _plan(spec, warehouse)
        frame = warehouse.read_table("raw", ds)
        masked_frame, report = apply_masking(frame, plan, spec, pseudonym_key.key.encode())
        warehouse.write_table("masked", ds, masked_frame)
        lineage = column_lineage({c: [(key["raw"], c)] for c in masked_frame.columns})
        return dg.MaterializeResult(
            metadata={
                **table_metadata(masked_frame, lineage),
                "treatments": records_table(report.as_rows()),
                "columns_dropped": sum(t.action == "drop" for t in plan),
                "pseudonym_key": "DEMO default (SYNTH_PSEUDONYM_KEY unset)"
                if pseudonym_key.is_demo_default
                else "from SYNTH_PSEUDONYM_KEY",
            }
        )

    @dg.multi_asset(
        outs={
            "train": dg.AssetOut(
                key=key["train"],
                code_version=STAGE_VERSIONS["split"],
                kinds={"duckdb"},
                description="Training split of the masked table: the only data a synthesizer sees.",
            ),
            "holdout": dg.AssetOut(
                key=key["holdout"],
                code_version=STAGE_VERSIONS["split"],
                kinds={"duckdb"},
                description="Holdout split, kept from every synthesizer, for the privacy attacks.",
            ),
        },
        deps=[key["masked"]],
        name=f"{ds}__split",
        **common,
    )
    def split(warehouse: WarehouseResource):
        frame = warehouse.read_table("masked", ds)
        train, holdout = split_train_holdout(frame, spec.split.holdout_fraction, spec.split.seed, spec.key)
        warehouse.write_table("masked", f"{ds}_train", train)
        warehouse.write_table("masked", f"{ds}_holdout", holdout)
        yield dg.MaterializeResult(
            asset_key=key["train"], metadata=table_metadata(train, identity_lineage(train, key["masked"]))
        )
        yield dg.MaterializeResult(
            asset_key=key["holdout"],
            metadata=table_metadata(holdout, identity_lineage(holdout, key["masked"])),
        )

    @dg.asset(
        key=key["synthesizer"],
        deps=[key["train"], key["pii_report"]],
        code_version=STAGE_VERSIONS["synthesizer"],
        kinds={"sdv", "pytorch"} if spec.synthesizer.kind != "gaussian_copula" else {"sdv"},
        description=f"SDV {spec.synthesizer.kind} fitted on the training split; the model file is stored "
        "under its content hash and the fit is recorded in the privacy ledger.",
        **common,
    )
    def synthesizer(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        storage: StorageResource,
        synthesizers: SynthesizerFactory,
    ) -> dg.MaterializeResult:
        plan = _plan(spec, warehouse)
        model_columns = [t.column for t in plan if t.reaches_model]
        train = warehouse.read_table("masked", f"{ds}_train", model_columns)
        if spec.synthesizer.max_train_rows and len(train) > spec.synthesizer.max_train_rows:
            train = train.sample(spec.synthesizer.max_train_rows, random_state=spec.synthesizer.seed)
            train = train.reset_index(drop=True)
        epsilon = synthesizers.epsilon(spec.synthesizer.kind, spec.synthesizer.params)
        with warehouse.connect() as con:
            spent = ledger.cumulative_epsilon(con, ds)
        try:
            ledger.check_budget(spent, epsilon, spec.privacy.epsilon_budget)
        except ledger.BudgetExceededError as error:
            raise dg.Failure(
                description=f"Training of '{ds}' refused: {error}.", allow_retries=False
            ) from None
        built = synthesizers.build(
            spec.synthesizer.kind, synthesis.sdv_metadata(train), spec.synthesizer.params
        )
        model = synthesis.fit_and_save(
            train,
            spec.synthesizer.kind,
            spec.synthesizer.params,
            spec.synthesizer.seed,
            storage.model_dir(ds),
            synthesizer=built,
        )
        with warehouse.connect() as con:
            row = ledger.append(
                con,
                ledger.LedgerEntry(
                    run_id=context.run_id,
                    dataset=ds,
                    event="trained",
                    source_hash=ingest_log.latest_source_hash(con, ds),
                    train_data_hash=model.train_data_hash,
                    synthesizer=spec.synthesizer.kind,
                    parameters=spec.synthesizer.params,
                    code_version=f"{__version__}/synthesizer-{STAGE_VERSIONS['synthesizer']}",
                    epsilon_spent=epsilon,
                    epsilon_budget=spec.privacy.epsilon_budget,
                    decision="trained",
                ),
            )
        context.log_event(dg.AssetMaterialization(asset_key=LEDGER_KEY, metadata=_ledger_metadata(row)))
        return dg.MaterializeResult(
            metadata={
                "model_file": str(model.path),
                "model_sha256": model.sha256,
                "train_data_hash": model.train_data_hash,
                "fit_seconds": round(model.fit_seconds, 2),
                "train_rows": model.train_rows,
                "model_columns": len(model.columns),
                "synthesizer": spec.synthesizer.kind,
                "parameters": dg.MetadataValue.json(spec.synthesizer.params),
                "epsilon_spent": row["epsilon_note"],
            }
        )

    @dg.asset(
        key=key["synthetic"],
        deps=[key["synthesizer"], key["raw"]],
        code_version=STAGE_VERSIONS["synthetic"],
        kinds={"duckdb", "faker"},
        description="Rows sampled from the synthesizer in the source's shape: direct identifiers refilled "
        "with fake values of the same kind, generalised columns drawn back into their format.",
        **common,
    )
    def synthetic(warehouse: WarehouseResource, storage: StorageResource) -> dg.MaterializeResult:
        plan = _plan(spec, warehouse)
        model = synthesis.current_model(storage.model_dir(ds))
        rows = spec.sample.rows or model.train_rows
        sampled = synthesis.load_and_sample(model, rows, seed=spec.synthesizer.seed)
        identifiers = warehouse.read_table("raw", ds, _direct_identifier_columns(plan) or None)
        identifier_columns = _direct_identifier_columns(plan)
        forbidden = refill.forbidden_values(identifiers[c] for c in identifier_columns)
        templates = {c: refill.learn_template(identifiers[c]) for c in identifier_columns}
        shaped = refill.restore_source_shape(
            sampled, spec, plan, forbidden, templates, seed=spec.synthesizer.seed
        )
        warehouse.write_table("synthetic", ds, shaped)
        lineage = column_lineage(
            {t.column: [(key["synthesizer"], t.column)] if t.reaches_model else [] for t in plan}
        )
        descriptions = {c: "fake value (Faker), never a source value" for c in identifier_columns}
        return dg.MaterializeResult(
            metadata={
                **table_metadata(shaped, lineage, descriptions),
                "model_sha256": model.sha256,
                "refilled_columns": len(identifier_columns),
            }
        )

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                name,
                asset=key["synthetic"],
                description=description,
                blocking=True,
                additional_deps=[key["train"], key["holdout"], key["raw"]],
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
        plan = _plan(spec, warehouse)
        model = synthesis.current_model(storage.model_dir(ds))
        synthetic_frame = warehouse.read_table("synthetic", ds)
        train = warehouse.read_table("masked", f"{ds}_train")
        holdout = warehouse.read_table("masked", f"{ds}_holdout")
        identifier_columns = _direct_identifier_columns(plan)
        identifiers = (
            warehouse.read_table("raw", ds, identifier_columns) if identifier_columns else pd.DataFrame()
        )
        report = evaluation.evaluate(
            spec, plan, synthetic_frame, train, holdout, [identifiers[c] for c in identifier_columns]
        )
        with warehouse.connect() as con:
            release.record_assessment(
                con,
                release.Assessment(
                    context.run.run_id, ds, report.passed, report.failed_checks, report.figures()
                ),
            )
            if not report.passed:
                row = ledger.append(
                    con,
                    _decision_entry(
                        context.run.run_id,
                        ds,
                        spec,
                        model,
                        report.figures(),
                        con,
                        "blocked",
                        "blocked: failed " + ", ".join(report.failed_checks),
                    ),
                )
        if not report.passed:
            context.op_execution_context.log_event(
                dg.AssetMaterialization(asset_key=LEDGER_KEY, metadata=_ledger_metadata(row))
            )
        for outcome in report.outcomes:
            yield dg.AssetCheckResult(
                asset_key=key["synthetic"],
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

    @dg.asset(
        key=key["release"],
        deps=[key["synthetic"]],
        code_version=STAGE_VERSIONS["release"],
        kinds={"duckdb"},
        description=f"release.{ds}: the synthetic table, published only when every blocking check of the "
        "release gate passed in this same run; the decision is appended to the privacy ledger.",
        **common,
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
            entry = _decision_entry(context.run_id, ds, spec, model, figures, con, "released", "released")
            row = release.publish(con, ds, frame, entry)
        context.log_event(dg.AssetMaterialization(asset_key=LEDGER_KEY, metadata=_ledger_metadata(row)))
        return dg.MaterializeResult(
            metadata={
                **table_metadata(frame, identity_lineage(frame, key["synthetic"])),
                "ledger_entry": row["entry_id"],
                "decision": "released",
                "quality_score": figures["quality_score"]["figure"],
            }
        )

    return [raw, pii_report, masked, split, synthesizer, synthetic, release_gate, release_asset]


def _decision_entry(run_id, ds, spec, model, figures: dict, con, event, decision) -> ledger.LedgerEntry:
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


def _ledger_metadata(row: dict) -> dict:
    keep = ("entry_id", "dataset", "event", "decision", "synthesizer", "epsilon_note", "run_id")
    metadata = {k: str(row[k]) for k in keep}
    metadata["cumulative_epsilon"] = str(row["cumulative_epsilon"])
    return metadata
