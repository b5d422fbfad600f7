"""The release gate of a schema: blocking, on `<schema>/synthetic`, one check listing every verdict.

The gate's rho is charged first (a `gate` ledger row; the same model and synthetic tables judged
again reuse it and draw the same keyed noise), then `lib.relational.gate.evaluate_schema` decides
on noisy figures only: orphans, children per parent, pair trends, each table's marginal quality
and identifier leaks, copies of joined profiles, people enough in the holdout. One release of the
whole schema or none (`schema_verdict`); a block appends a `blocked` ledger row and, being a
blocking check, stops the release in the same run. The same figures are then computed again
without noise for the restricted evidence pack (`schema_chain.evidence`), whose path alone goes
in the check's metadata.
"""

from dataclasses import asdict

import dagster as dg

from synth_platform import __version__
from synth_platform.defs.chain.common import POOL, lease_guard
from synth_platform.defs.resources import PseudonymKeyResource, StorageResource, WarehouseResource
from synth_platform.defs.schema_chain.common import SchemaChain, log_ledger_row
from synth_platform.defs.schema_chain.evidence import metadata_entries, write_gate_pack
from synth_platform.lib.gate import private_decision
from synth_platform.lib.governance import ledger, schema_evidence
from synth_platform.lib.governance.source_identity import source_id as source_id_of
from synth_platform.lib.progress import timed
from synth_platform.lib.relational import gate as rel_gate
from synth_platform.lib.relational import ingest as rel_ingest
from synth_platform.lib.relational import store

CHECK = "schema_release_gate"


def _entry(
    chain: SchemaChain, run_id, event, model, decision, rho=None, params=None, source_id=None, figures=None
):
    spec = chain.spec
    return ledger.LedgerEntry(
        run_id=run_id,
        dataset=chain.name,
        event=event,
        source_hash="",
        train_data_hash="",
        synthesizer="relational_dp",
        parameters=params or spec.synthesizer.model_dump(mode="json"),
        code_version=f"{__version__}/schema-{event}-{store.CODE_VERSION}",
        epsilon_spent=private_decision.gate_epsilon(rho, spec.privacy.delta) if rho else None,
        delta=spec.privacy.delta if rho else None,
        rho_spent=rho,
        epsilon_budget=spec.privacy.epsilon_budget,
        budget_delta=spec.privacy.delta,
        decision=decision,
        figures=figures or {},
        model_sha256=model.sha256,
        charged_entry=model.charged_by,
        source_id=source_id,
    )


def _describe(verdicts: list[dict]) -> str:
    """Every verdict in one line: its noisy value (± its noise's standard deviation), threshold and
    outcome. A noisy figure above its threshold still passes unless it is surely above it."""
    return "; ".join(
        f"{v['name']}: {v['value']:.4g}"
        + (f" ±{v['sigma']:.2g}" if v["sigma"] else "")
        + f" vs {v['threshold']:g} {'pass' if v['passed'] else 'BLOCK'}"
        for v in verdicts
    )


def build_schema_gate(chain: SchemaChain):
    spec, schema = chain.spec, chain.name
    synthetic_key = chain.key("synthetic")

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                CHECK,
                asset=synthetic_key,
                blocking=True,
                additional_deps=[chain.key("train"), chain.key("holdout")],
                description="Every cross-table verdict (orphans, children per parent, pair trends, joined-"
                "profile copies, holdout people) on noisy figures; fails listing every verdict.",
                # the settings it judges with (the spec's `checks:` or the Python override), shown
                # before any run: public choices, no figure
                metadata={
                    "gate_rho": chain.gate_rho,
                    "gate_checks": dg.MetadataValue.json(asdict(chain.checks)),
                },
            )
        ],
        name=f"{schema}__release_gate",
        pool=POOL,
    )
    def schema_gate(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        storage: StorageResource,
        pseudonym_key: PseudonymKeyResource,
    ):
        key = pseudonym_key.resolve().value
        run_id = context.run.run_id
        model = store.current_model(storage.model_dir(schema), key)
        if model is None:
            raise dg.Failure(
                description=f"Schema '{schema}' has no current model to judge.", allow_retries=False
            )
        rho = chain.gate_rho  # effective: the spec's `checks.gate_rho` unless Python set one
        settings = {
            "checks": asdict(chain.checks),
            "rho": rho,
            "weights": rel_gate.RHO_WEIGHTS,
            "code": store.CODE_VERSION,
        }
        source_id = source_id_of(storage.landing_dir(rel_ingest.schema_landing_dir(schema)), key)
        with warehouse.connect() as con:
            synthetic_sha = store.synthetic_sha256(con, spec)
            evaluation = store.evaluation_id(model.sha256, synthetic_sha, settings)
            params = {"gate_evaluation": evaluation, "gate_rho": rho, "rho_weights": rel_gate.RHO_WEIGHTS}
            entry = _entry(
                chain,
                run_id,
                "gate",
                model,
                "charged: the schema gate's noisy figures",
                rho,
                params,
                source_id,
            )
            try:
                charge = private_decision.charge_gate(
                    con,
                    entry,
                    spec.privacy.epsilon_budget,
                    spec.privacy.delta,
                    guard=lease_guard(schema, context),
                    key=key,
                )
            except ledger.LedgerIntegrityError as error:
                raise dg.Failure(description=str(error), allow_retries=False) from None
        if charge.status == "charged":
            log_ledger_row(context, warehouse, charge.row)
        exact = None  # the same figures without noise: the restricted evidence pack only
        if charge.status == "refused":
            context.log.warning(f"Release gate of schema '{schema}' blocked: {charge.reason}")
            judged = [rel_gate.Verdict("gate_budget", 0.0, rho, False, description=charge.reason)]
            decision = rel_gate.SchemaDecision(False, (), ("gate_budget",))
        else:
            noise = private_decision.GateNoise(key, model.sha256, synthetic_sha, rho, evaluation=evaluation)
            with warehouse.connect() as con:

                def evaluate(noise):
                    return rel_gate.evaluate_schema(
                        con,
                        spec,
                        store.side_relations(spec, "train"),
                        store.side_relations(spec, "holdout"),
                        store.relations(spec, "synthetic"),
                        store.recorded_bounds(con, spec),
                        noise,
                        chain.checks,
                        scratch=store.stage_schema(schema, "gate"),
                        raw=store.relations(spec, "raw"),  # the identifier-leak figure per table
                    )

                result = evaluate(noise)
                with timed(context.log, f"exact figures of schema '{schema}' for its evidence pack"):
                    exact = evaluate(schema_evidence.exact_noise(noise)).verdicts
            decision = result.decision(spec.tables)
            judged = result.verdicts
        verdicts = [store.public_verdict(v) for v in judged]
        with warehouse.connect() as con:
            store.record_verdict(con, schema, run_id, decision, synthetic_sha, model.sha256, verdicts)
            if not decision.release:
                reason = "blocked: failed " + ", ".join(decision.blocked_by)
                figures = {v["name"]: {"figure": v["value"], "passed": v["passed"]} for v in verdicts}
                row = ledger.append(
                    con,
                    _entry(chain, run_id, "blocked", model, reason, source_id=source_id, figures=figures),
                    key=key,
                )
        if not decision.release:
            log_ledger_row(context, warehouse, row)
        entry_id = charge.row["entry_id"] if charge.row else "refused"
        gate = {**settings, "ledger_entry": entry_id, "charge": charge.status, "evaluation": evaluation}
        pack = write_gate_pack(context.log, chain, run_id, decision, judged, exact, gate, warehouse, storage)
        yield dg.AssetCheckResult(
            asset_key=synthetic_key,
            check_name=CHECK,
            passed=decision.release,
            severity=dg.AssetCheckSeverity.ERROR,
            description=("released: " if decision.release else "blocked: ") + _describe(verdicts),
            metadata={
                "verdicts": dg.MetadataValue.json(verdicts),
                "blocked_by": ", ".join(decision.blocked_by) or "none",
                "gate_rho": rho,
                "gate_ledger_entry": entry_id,
                **metadata_entries(pack),  # the restricted pack's path, never its figures
            },
        )

    return schema_gate
