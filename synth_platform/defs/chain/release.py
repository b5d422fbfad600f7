"""Stage `release`: publish the synthetic table only if the gate passed it in this run (governance.release).

Only the exact table the gate judged is published: its content hash, and the model's, must
match the ones the gate recorded, checked under the same lock as the publish.
The publish is the chain's last write, so the run gives the dataset's lease back right after
it, under the same lock (lib.storage.run_lease).
"""

import dagster as dg

from synth_platform.defs.chain.common import (
    LEDGER_KEY,
    STAGE_VERSIONS,
    ChainContext,
    lease_guard,
    ledger_metadata,
    masking_plan,
)
from synth_platform.defs.chain.current_model import authenticated_current_model
from synth_platform.defs.chain.gate import decision_entry
from synth_platform.defs.evidence_pack import metadata_entries, record_release
from synth_platform.defs.ledger_view import recent_ledger
from synth_platform.defs.release_certificate import write_certificate
from synth_platform.defs.resources import PseudonymKeyResource, StorageResource, WarehouseResource
from synth_platform.defs.table_metadata import warehouse_identity_lineage, warehouse_table_metadata
from synth_platform.lib.governance import certificate, release
from synth_platform.lib.storage import run_lease


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
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        storage: StorageResource,
        pseudonym_key: PseudonymKeyResource,
    ) -> dg.MaterializeResult:
        key = pseudonym_key.resolve().value  # authenticates the model pointer and file
        model = authenticated_current_model(
            context.instance, chain.key("synthesizer"), storage.model_dir(ds), key
        )
        run_id = context.run_id

        def released_entry(assessment: release.Assessment):
            return decision_entry(run_id, ds, spec, model, assessment.figures, con, "released", "released")

        # One connection, so one warehouse lock: the table published is the table re-hashed here
        # and compared with what this run's gate judged; this run must still own the dataset.
        guard = lease_guard(ds, context)
        plan = masking_plan(spec, warehouse)  # before the connection: it opens its own
        with warehouse.connect() as con:
            try:
                row, assessment = release.publish_assessed_table(
                    con, ds, run_id, model.sha256, released_entry, guard=guard
                )
            except (release.NotAssessedError, run_lease.LeaseHeldError) as error:
                raise dg.Failure(
                    description=f"Release of '{ds}' refused: {error}. The previous release is untouched. "
                    "Materialise the synthetic table and the release together so the checks run first.",
                    allow_retries=False,
                ) from None
            try:
                # Under the same lock, the table just published (a DP output): what the certificate
                # pictures, counted by DuckDB (a GROUP BY per pictured column: no row reaches
                # pandas), and the row count and schema from DuckDB's catalogue.
                counts = certificate.read_counts(
                    con, release.RELEASE_SCHEMA, ds, [t.column for t in plan if t.reaches_model]
                )
                lineage = warehouse_identity_lineage(con, release.RELEASE_SCHEMA, ds, chain.key("synthetic"))
                table_metadata = warehouse_table_metadata(con, release.RELEASE_SCHEMA, ds, lineage)
            finally:
                # The chain's last write: give the dataset back under the same lock, so the next run
                # (daemon or not) finds it free. dbt after this reads only the published zone.
                run_lease.release(con, run_id, ds)
        figures = assessment.figures
        # after the publish, outside its lock: each read below opens (and locks) the warehouse briefly
        cert = write_certificate(
            root=storage.root_path,
            warehouse=warehouse,
            spec=spec,
            plan=plan,
            model=model,
            run_id=run_id,
            released_row=row,
            released=counts,
            figures=figures,
        )
        context.log.info(f"Public release certificate: {cert.html}")
        pack = record_release(context.run_id, spec, row, warehouse, storage)
        evidence_metadata = metadata_entries(pack) if pack else {}
        ledger_event_metadata = {**ledger_metadata(row, recent_ledger(warehouse)), **evidence_metadata}
        context.log_event(dg.AssetMaterialization(asset_key=LEDGER_KEY, metadata=ledger_event_metadata))
        return dg.MaterializeResult(
            metadata={
                **table_metadata,
                "ledger_entry": row["entry_id"],
                "decision": "released",
                "privacy_guarantee": spec.synthesizer.label,
                # the noisy (released) quality figure: the exact one is in the restricted evidence pack
                "quality_score": figures["quality_score"]["figure"],
                "certificate": dg.MetadataValue.path(str(cert.html)),
                "certificate_json": dg.MetadataValue.path(str(cert.json)),
                **evidence_metadata,
            }
        )

    return release_asset
