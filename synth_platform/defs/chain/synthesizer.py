"""Stage `synthesizer`: a model fitted on the train split, charged to the privacy ledger first.

Order matters (budget, ledger, synthesis in lib/): under the warehouse lock the ledger
chain is verified (keyed, against the head file and the head in Dagster's event log), then
either the current model is reused at no cost (same source, same fit settings) or the
training is charged — its `trained` row appended, or a `refused` row and the run stops
here — all before any training row is read. Only then is the data read and the model
fitted, stored with its HMAC, and made current with the entry that paid for it.

The budget charged is the *source's* (`lib.governance.source_identity`): the keyed id of the landing
folder, so a renamed dataset or a second spec on the same folder continues the same budget.
"""

import dagster as dg

from synth_platform import __version__
from synth_platform.defs.chain.common import (
    LEDGER_KEY,
    STAGE_VERSIONS,
    ChainContext,
    charge_training,
    lease_guard,
    ledger_metadata,
    masking_plan,
)
from synth_platform.defs.ledger_view import dagster_heads, recent_ledger
from synth_platform.defs.resources import (
    PseudonymKeyResource,
    StorageResource,
    SynthesizerFactory,
    WarehouseResource,
)
from synth_platform.lib.governance import budget, ledger
from synth_platform.lib.governance.source_identity import source_id as source_id_of
from synth_platform.lib.progress import timed
from synth_platform.lib.storage import ingest_log
from synth_platform.lib.storage.warehouse import has_table, quote_ident
from synth_platform.lib.synthesize import synthesis

__all__ = ["build_synthesizer_asset", "dagster_heads"]  # dagster_heads: re-exported for callers


def _plan_digest(con, ds: str) -> str | None:
    """The public digest of the approved masking plan this run's pii_report checked, if recorded.

    Read on the step's own locked connection (not two more connections of its own, ~25 ms each).
    """
    try:
        from synth_platform.defs.chain.common import approved_plan_table

        table = approved_plan_table(ds)
        if not has_table(con, "governance", table):
            return None
        digests = con.execute(
            f"SELECT digest FROM {quote_ident('governance')}.{quote_ident(table)}"
        ).fetchall()
    except (ImportError, AttributeError, KeyError):
        return None
    return str(digests[0][0]) if digests else None


def build_synthesizer_asset(chain: ChainContext):
    spec, ds = chain.spec, chain.ds
    code_version = f"{__version__}/synthesizer-{STAGE_VERSIONS['synthesizer']}"

    @dg.asset(
        key=chain.key("synthesizer"),
        deps=[chain.key("train"), chain.key("pii_report")],
        code_version=STAGE_VERSIONS["synthesizer"],
        kinds={"sdv", "pytorch"} if spec.synthesizer.kind in ("ctgan", "tvae") else {"sdv"},
        description=f"{spec.synthesizer.kind} fitted on the training split, after its privacy cost is "
        "charged to the ledger (or refused when over budget); reused at no cost when the source did not "
        "change. The model file is named by the first 16 hex digits of its SHA-256, with an HMAC.",
        **chain.common,
    )
    def synthesizer(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        storage: StorageResource,
        synthesizers: SynthesizerFactory,
        pseudonym_key: PseudonymKeyResource,
    ) -> dg.MaterializeResult:
        kind, params = spec.synthesizer.kind, spec.synthesizer.params
        key = pseudonym_key.resolve().value
        model_dir = storage.model_dir(ds)
        plan = masking_plan(spec, warehouse)
        model_columns = [t.column for t in plan if t.reaches_model]
        train_table = f"{quote_ident('masked')}.{quote_ident(f'{ds}_train')}"
        declared = _declared_domains(spec, plan)
        heads = dagster_heads(context.instance)
        # The budget is the source's: the keyed id of the resolved landing folder.
        source_id = source_id_of(storage.landing_dir(spec.source.landing_dir), key)
        entry = ledger.LedgerEntry(
            run_id=context.run_id,
            dataset=ds,
            event="trained",
            source_hash="",
            train_data_hash="",
            synthesizer=kind,
            parameters=params,
            code_version=code_version,
            source_id=source_id,
            plan_digest=None,  # read below, under the lock
        )
        fingerprint = budget.fit_fingerprint(
            {
                "columns": {n: c.model_dump(mode="json") for n, c in spec.columns.items()},
                "key": spec.key,
                "masking": spec.masking.model_dump(mode="json"),
                "split": spec.split.model_dump(mode="json"),
                "synthesizer": spec.synthesizer.model_dump(mode="json"),
                "stages": STAGE_VERSIONS,
                # A deployment (or test) that swaps the synthesizer implementation gets a new fit.
                "factory": f"{type(synthesizers).__module__}.{type(synthesizers).__qualname__}",
            },
            code_version,
        )
        # Everything up to the charge happens in one locked session and reads no training row.
        with warehouse.connect() as con:
            entry.plan_digest = _plan_digest(con, ds)
            problems = ledger.verify_chain(con, heads, key=key)
            if problems:
                raise dg.Failure(
                    description=f"The privacy ledger's hash chain is broken, so '{ds}' is not trained: "
                    + "; ".join(problems)
                    + ". Run `synth-platform ledger verify` and restore the ledger from a backup.",
                    allow_retries=False,
                )
            source_hash = ingest_log.source_hash_for_run(con, ds, context.run_id)
            types = dict(
                con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {train_table})").fetchall()
            )
            spend = synthesizers.spend(kind, params, {c: types[c] for c in model_columns}, declared)
            entry.source_hash = source_hash
            provenance = {"source_hash": source_hash, "fit_fingerprint": fingerprint}
            # a pointer an earlier version signed is re-signed when the ledger vouches for it
            current = synthesis.current_model_or_none(
                model_dir, key, lambda entry_id: ledger.entry(con, entry_id)
            )
            if current is None and (model_dir / synthesis.POINTER).exists():
                context.log.warning(
                    f"The current model of '{ds}' failed verification (missing file, hash or HMAC mismatch); "
                    "it is not reused and a new training is charged."
                )
            charge, refused = charge_training(
                con, entry, spend, spec.privacy, current, provenance, heads, lease_guard(ds, context), key
            )
            status = budget.status(con, ds, spec.privacy.epsilon_budget, spec.privacy.delta, source_id)
        # The lock is released here: `recent_ledger` opens its own connection.
        if refused is not None:
            if refused.row is not None:
                metadata = ledger_metadata(refused.row, recent_ledger(warehouse))
                context.log_event(dg.AssetMaterialization(asset_key=LEDGER_KEY, metadata=metadata))
            entry_id = refused.row["entry_id"] if refused.row else "?"
            raise dg.Failure(description=f"{refused} (ledger entry {entry_id}).", allow_retries=False)
        row = charge.row
        metadata = ledger_metadata(row, recent_ledger(warehouse))
        context.log_event(dg.AssetMaterialization(asset_key=LEDGER_KEY, metadata=metadata))
        if spec.privacy.epsilon_budget is not None and status.remaining_share < budget.LOW_BUDGET_SHARE:
            context.log.warning(
                f"Privacy budget of '{ds}' is running low: {status.remaining_share:.0%} left "
                f"(epsilon {status.spent_epsilon:.3g} of {spec.privacy.epsilon_budget:g} spent at delta "
                f"{spec.privacy.delta:g}); trainings will be refused once it is used up."
            )
        budget_metadata = {
            "ledger_entry": row["entry_id"],
            "epsilon_spent": row["epsilon_note"],
            "cumulative_epsilon": status.spent_epsilon,
            "epsilon_remaining": status.remaining_epsilon,
            "budget_remaining_share": status.remaining_share,
        }
        if charge.reused:
            model = current
        else:
            with timed(context.log, f"fit of {kind} on '{ds}' ({len(model_columns)} columns)"):
                fitted = _fit(spec, plan, synthesizers, warehouse, model_columns)
            _check_spent_as_charged(fitted, row)
            noise = getattr(fitted.synth, "noise_source", None)
            if noise and noise != "os_entropy":  # only ever under pytest (lib.synthesize.dp_mst._noise_rng)
                context.log.warning(f"dp_mst fit of '{ds}' used {noise}.")
                budget_metadata["dp_noise"] = noise
            model = synthesis.save_and_promote(
                fitted, model_dir, key, charged_by=row["entry_id"], provenance=provenance
            )
        return dg.MaterializeResult(
            metadata={
                "reused": charge.reused,
                "model_file": str(model.path),
                "model_sha256": model.sha256,
                "charged_by_entry": model.charged_by,
                "train_data_hash": model.train_data_hash,
                "fit_seconds": round(model.fit_seconds, 2),
                "train_rows": model.train_rows,
                "model_columns": len(model.columns),
                "synthesizer": kind,
                "parameters": dg.MetadataValue.json(params),
                **budget_metadata,
            }
        )

    return synthesizer


def _declared_domains(spec, plan) -> dict:
    if spec.synthesizer.kind != "dp_mst":
        return {}
    from synth_platform.lib.synthesize.dp_mst import declared_domains

    return declared_domains(spec, plan)


def _check_spent_as_charged(fitted, row: dict) -> None:
    """A DP fit that reports its own spend must not have spent more than the ledger charged."""
    reported = getattr(fitted.synth, "spend", None)
    if reported is None or row["rho_spent"] is None:
        return
    rho, delta = float(reported.rho), float(getattr(reported, "delta_threshold", 0.0))
    if rho > row["rho_spent"] * (1 + 1e-9) or delta > (row["delta_additive"] or 0.0) * (1 + 1e-9):
        raise dg.Failure(
            description=f"The fit spent rho {rho:.6g} (+ delta {delta:g}) but the ledger charged rho "
            f"{row['rho_spent']:.6g} (+ delta {row['delta_additive'] or 0:g}) in entry {row['entry_id']}; "
            "the model is not made current. This is a bug in the spend estimate: report it.",
            allow_retries=False,
        )


def _fit(spec, plan, synthesizers, warehouse, model_columns):
    """Read the (already charged) training data and fit; returns an unsaved `synthesis.Fitted`."""
    kind, params, seed = spec.synthesizer.kind, spec.synthesizer.params, spec.synthesizer.seed
    if kind == "dp_mst":  # counts are computed by the warehouse engine; rows never leave it
        with warehouse.connect(read_only=True) as con:
            return synthesis.fit_dp_from_warehouse(con, spec, plan)
    train = warehouse.read_table("masked", f"{spec.name}_train", model_columns)
    if spec.synthesizer.max_train_rows and len(train) > spec.synthesizer.max_train_rows:
        train = train.sample(spec.synthesizer.max_train_rows, random_state=seed).reset_index(drop=True)
    built = synthesizers.build(kind, synthesis.sdv_metadata(train), params)
    return synthesis.fit_frame(train, kind, params, seed, synthesizer=built)
