"""Stage `<schema>/release`: the whole schema released, or none of it, then the published zone.

Only what this run's gate passed is released: the recorded verdict names the model and the
exact synthetic tables judged, re-hashed here under the same lock. Every table is replaced in one
transaction with the `released` ledger row; a refusal leaves the last good release intact. The
published zone (what dbt reads) is then refreshed from the warehouse's `release` schema.
Metadata holds DP outputs and public inputs only: synthetic row counts, the per-person epsilon,
the gate's noisy verdicts, and the paths of the public release certificate and of the restricted
evidence pack (marked released here; `schema_chain.evidence`).
"""

import json

import dagster as dg

from synth_platform.defs.chain.common import lease_guard
from synth_platform.defs.resources import PseudonymKeyResource, StorageResource, WarehouseResource
from synth_platform.defs.schema_chain.common import STAGE_VERSIONS, SchemaChain, log_ledger_row
from synth_platform.defs.schema_chain.evidence import metadata_entries, record_release, write_certificate
from synth_platform.defs.schema_chain.gate import _entry
from synth_platform.lib.governance import ledger
from synth_platform.lib.relational import store
from synth_platform.lib.storage import published_refresh, run_lease, zones


def build_release_asset(chain: SchemaChain):
    spec, schema = chain.spec, chain.name

    @dg.asset(
        key=chain.key("release"),
        deps=[chain.key("synthetic")],
        code_version=STAGE_VERSIONS["release"],
        kinds={"duckdb"},
        description=f"release.{schema}__<table>: every table of schema '{schema}', released together only "
        "when its gate passed in this same run (else none, the previous release intact).",
        **chain.common,
    )
    def release(
        context,
        warehouse: WarehouseResource,
        storage: StorageResource,
        pseudonym_key: PseudonymKeyResource,
    ):
        key = pseudonym_key.resolve().value
        model = store.current_model(storage.model_dir(schema), key)
        with warehouse.connect() as con:
            verdict = store.run_verdict(con, schema, context.run_id)
            problem = None
            if verdict is None:
                problem = "its gate did not judge it in this run"
            elif not verdict["release"]:
                problem = f"its gate blocked it ({verdict['blocked_by']})"
            elif model is None or verdict["model_sha256"] != model.sha256:
                problem = "the current model is not the one the gate judged"
            elif store.synthetic_sha256(con, spec) != verdict["synthetic_sha256"]:
                problem = "the synthetic tables changed after the gate judged them"
            if problem:
                raise dg.Failure(
                    description=f"Release of schema '{schema}' refused: {problem}. The previous release is "
                    "untouched. Materialise synthetic and release together so the gate runs first.",
                    allow_retries=False,
                )
            entry = _entry(chain, context.run_id, "released", model, "released: every table of the schema")

            guard = lease_guard(schema, context)

            def released(con):
                guard(con)  # this run must still own the schema
                return ledger.append(con, entry, key=key)

            rows, row = store.publish(con, spec, inside=released)
            ledger.write_head(con, key)
            run_lease.release(con, context.run_id, schema)  # the chain's last write: the lease goes back
        log_ledger_row(context, warehouse, row)
        with warehouse.lock():
            tables, _ = published_refresh.refresh_changed(warehouse.db_path.resolve())
        public_verdicts = json.loads(verdict["verdicts"])
        cert = write_certificate(chain, context.run_id, row, public_verdicts, model, warehouse, storage)
        context.log.info(f"Public release certificate: {cert.html}")
        pack = record_release(chain, context.run_id, row, warehouse, storage)
        return dg.MaterializeResult(
            metadata={
                "tables": dg.MetadataValue.json(
                    sorted(f"release.{store.warehouse_name(schema, t)}" for t in spec.tables)
                ),
                "synthetic_rows": dg.MetadataValue.json(rows),  # DP outputs
                "epsilon_per_person": spec.synthesizer.epsilon,
                "ledger_entry": row["entry_id"],
                "gate_verdicts": dg.MetadataValue.json(public_verdicts),
                "published_zone": str(zones.published_path(warehouse.db_path.resolve())),
                "published_tables": len(tables),
                "certificate": dg.MetadataValue.path(str(cert.html)),
                "certificate_json": dg.MetadataValue.path(str(cert.json)),
                **(metadata_entries(pack) if pack else {}),
            }
        )

    return release
