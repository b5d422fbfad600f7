"""Stage `<schema>/synthesizer`: the per-person budget charged first, then the schema fitted.

As the single-table stage (defs/chain/synthesizer.py): under the warehouse lock the ledger chain
is verified, then the current model is reused at no cost (same source files, same fit settings)
or the fit's per-person zCDP rho is charged -- a `trained` row, or a `refused` row and the run
stops -- before any training row is read. The `RelationalSynthesizer` is then fitted on the
training side and stored in the governed model space (`lib.relational.store`).
"""

import dagster as dg

from synth_platform import __version__
from synth_platform.defs.chain.common import charge_training, lease_guard
from synth_platform.defs.ledger_view import dagster_heads
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.defs.schema_chain.common import STAGE_VERSIONS, SchemaChain, log_ledger_row
from synth_platform.lib.governance import budget, ledger
from synth_platform.lib.governance.source_identity import source_id as source_id_of
from synth_platform.lib.relational import ingest as rel_ingest
from synth_platform.lib.relational import store


def build_synthesizer_asset(chain: SchemaChain):
    spec, schema = chain.spec, chain.name
    code_version = f"{__version__}/schema-synthesizer-{STAGE_VERSIONS['synthesizer']}"

    @dg.asset(
        key=chain.key("synthesizer"),
        deps=[chain.key("train")],
        code_version=STAGE_VERSIONS["synthesizer"],
        kinds={"python"},
        required_resource_keys={"warehouse", "storage", "pseudonym_key"},
        description=f"The private synthesizer of schema '{schema}' (epsilon {spec.synthesizer.epsilon:g} per "
        "person), fitted after its per-person rho is charged to the ledger; reused at no cost when "
        "no landing file and no fit setting changed.",
        **chain.common,
    )
    def synthesizer(context: dg.AssetExecutionContext):
        warehouse: WarehouseResource = context.resources.warehouse
        storage: StorageResource = context.resources.storage
        key = context.resources.pseudonym_key.resolve().value
        factory = chain.synthesizer_factory()
        model_dir = storage.model_dir(schema)
        synth = factory(spec)
        spend = store.training_spend(synth)
        heads = dagster_heads(context.instance)
        source_id = source_id_of(storage.landing_dir(rel_ingest.schema_landing_dir(schema)), key)
        settings = store.fit_settings(spec, f"{factory.__module__}.{factory.__qualname__}")
        entry = ledger.LedgerEntry(
            run_id=context.run_id,
            dataset=schema,
            event="trained",
            source_hash="",
            train_data_hash="",
            synthesizer="relational_dp",
            parameters=spec.synthesizer.model_dump(mode="json"),
            code_version=code_version,
            source_id=source_id,
        )
        with warehouse.connect() as con:
            problems = ledger.verify_chain(con, heads, key=key)
            if problems:
                raise dg.Failure(
                    description=f"The privacy ledger's hash chain is broken, so schema '{schema}' is not "
                    "trained: " + "; ".join(problems) + ". Run `synth-platform ledger verify`.",
                    allow_retries=False,
                )
            entry.source_hash = store.source_hash(con, spec, context.run_id)
            provenance = {
                "source_hash": entry.source_hash,
                "fit_fingerprint": budget.fit_fingerprint(settings, code_version),
            }
            try:
                current = store.current_model(model_dir, key)
            except store.ModelError as error:
                context.log.warning(f"{error}; a new training is charged.")
                current = None
            charge, refused = charge_training(
                con, entry, spend, spec.privacy, current, provenance, heads, lease_guard(schema, context), key
            )
            status = budget.status(con, schema, spec.privacy.epsilon_budget, spec.privacy.delta, source_id)
        # the lock is released here: logging the ledger row opens its own connection
        if refused is not None:
            if refused.row is not None:
                log_ledger_row(context, warehouse, refused.row)
            entry_id = refused.row["entry_id"] if refused.row else "?"
            raise dg.Failure(description=f"{refused} (ledger entry {entry_id}).", allow_retries=False)
        log_ledger_row(context, warehouse, charge.row)
        if charge.reused:
            model = current
            fit_seconds = 0.0
        else:
            with warehouse.connect() as con:
                plain = store.training_views(con, spec)
                synth.fit(con, plain, scratch=store.stage_schema(schema, "fit"))
            report = synth.privacy_report()
            if report["rho_spent"] > charge.row["rho_spent"] * (1 + 1e-9):
                raise dg.Failure(
                    description=f"The fit spent rho {report['rho_spent']:.6g} but the ledger charged "
                    f"{charge.row['rho_spent']:.6g} (entry {charge.row['entry_id']}); the model is not made "
                    "current. This is a bug in the spend estimate: report it.",
                    allow_retries=False,
                )
            if report["noise"] != "os_entropy":
                context.log.warning(f"Fit of schema '{schema}' used {report['noise']}.")
            fit_seconds = float(synth.fit_seconds or 0.0)
            model = store.save_model(synth, model_dir, key, charge.row["entry_id"], provenance)
        return dg.MaterializeResult(
            metadata={
                "reused": charge.reused,
                "model_sha256": model.sha256,
                "charged_by_entry": model.charged_by,
                "ledger_entry": charge.row["entry_id"],
                "epsilon_per_person": spec.synthesizer.epsilon,
                "rho_per_person": charge.row["rho_spent"] if not charge.reused else 0.0,
                "cumulative_epsilon": status.spent_epsilon,
                "epsilon_remaining": status.remaining_epsilon,
                "fit_seconds": round(fit_seconds, 2),
            }
        )

    return synthesizer
