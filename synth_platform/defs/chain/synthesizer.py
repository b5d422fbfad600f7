"""Stage `synthesizer`: a model fitted on the train split, charged to the privacy ledger (lib.synthesis)."""

import dagster as dg

from synth_platform import __version__
from synth_platform.defs.chain.common import (
    LEDGER_KEY,
    STAGE_VERSIONS,
    ChainContext,
    ledger_metadata,
    masking_plan,
)
from synth_platform.defs.resources import StorageResource, SynthesizerFactory, WarehouseResource
from synth_platform.lib import ingest_log, ledger, synthesis


def build_synthesizer_asset(chain: ChainContext):
    spec, ds = chain.spec, chain.ds

    @dg.asset(
        key=chain.key("synthesizer"),
        deps=[chain.key("train"), chain.key("pii_report")],
        code_version=STAGE_VERSIONS["synthesizer"],
        kinds={"sdv", "pytorch"} if spec.synthesizer.kind in ("ctgan", "tvae") else {"sdv"},
        description=f"{spec.synthesizer.kind} fitted on the training split; the model file is stored "
        "under its content hash and the fit is recorded in the privacy ledger.",
        **chain.common,
    )
    def synthesizer(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        storage: StorageResource,
        synthesizers: SynthesizerFactory,
    ) -> dg.MaterializeResult:
        plan = masking_plan(spec, warehouse)
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
        context.log_event(dg.AssetMaterialization(asset_key=LEDGER_KEY, metadata=ledger_metadata(row)))
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

    return synthesizer
