"""Stage `<schema>/raw`: every table's newest landing file ingested, all of them or none.

Each table's file is checked by the single-table ingest through a one-table view of the spec
(`lib.relational.ingest`): the same value-free errors, a refused file is quarantined with its
reason, nothing is written. Every file is checked before any is written; the raw tables and their
ingest-log rows commit in one transaction.
"""

import dagster as dg
import duckdb

from synth_platform.defs.chain.common import lease_guard
from synth_platform.defs.chain.ingest import claim_dataset
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.defs.schema_chain.common import STAGE_VERSIONS, SchemaChain
from synth_platform.lib.relational import ingest as rel_ingest
from synth_platform.lib.storage import ingest, ingest_log
from synth_platform.lib.storage.warehouse import SqlQuery, replacing_tables


def _refused(storage: StorageResource, schema: str, refusal: rel_ingest.TableRefusal, root) -> dg.Failure:
    """Quarantine the refused file (never a cell in the message) and say which table it was."""
    where = None
    if refusal.path.exists():
        landing = root / rel_ingest.table_landing_dir(schema, refusal.table)
        where = ingest.quarantine(refusal.path, storage.quarantine_dir(schema), refusal.reason, landing)
    moved = f" The file was moved to {where}." if where else ""
    return dg.Failure(
        description=f"Ingest of schema '{schema}' stopped at table '{refusal.table}': "
        f"{refusal.reason}.{moved} No table of the schema was written; the previous release and "
        "the ledger are untouched.",
        metadata={"table": refusal.table, "file": refusal.path.name, "reason": refusal.reason},
        allow_retries=False,
    )


def build_raw_asset(chain: SchemaChain):
    spec, schema = chain.spec, chain.name

    @dg.asset(
        key=chain.key("raw"),
        code_version=STAGE_VERSIONS["raw"],
        kinds={"duckdb", "csv"},
        description=f"Every table of schema '{schema}' from its newest file in "
        f"data/landing/{schema}/<table>/, checked against the spec, into raw.{schema}__<table> "
        "(all tables or none).",
        **chain.common,
    )
    def raw(context: dg.AssetExecutionContext, warehouse: WarehouseResource, storage: StorageResource):
        root = storage.root_path
        files = rel_ingest.newest_files(root, spec)
        missing = rel_ingest.missing_tables(files)
        if missing:
            raise dg.Failure(
                description=f"Schema '{schema}' is incomplete: no landing file for table(s) {missing}; "
                f"put one csv file per table in {root / rel_ingest.schema_landing_dir(schema)}/<table>/. "
                "Nothing was read or written.",
                allow_retries=False,
            )
        claim_dataset(context, warehouse, schema)  # the schema's run lease: one live run at a time
        checked = {}
        for table, path in files.items():
            try:
                checked[table] = rel_ingest.check_table(spec, table, path)
            except rel_ingest.TableRefusal as refusal:
                raise _refused(storage, schema, refusal, root) from None
        described = {t: ingest.describe_landing_file(p) for t, p in files.items()}
        writes = {
            ("raw", rel_ingest.warehouse_name(schema, t)): SqlQuery(c.select_sql) for t, c in checked.items()
        }
        with warehouse.connect() as con:
            for typed in checked.values():
                typed.register_lookups(con)
            try:
                with replacing_tables(con, writes):
                    lease_guard(schema, context)(con)
                    changed = [t for t, c in checked.items() if not c.unchanged()]
                    if changed:
                        raise dg.Failure(
                            description=f"Ingest of schema '{schema}' stopped: the file(s) of {changed} "
                            "changed while being ingested; nothing was written. Deliver them again and "
                            "re-run.",
                            allow_retries=False,
                        )
                    for table, typed in checked.items():
                        ingest_log.record_ingest(
                            con,
                            rel_ingest.warehouse_name(schema, table),
                            context.run_id,
                            typed.path.name,
                            described[table].content_hash,
                            typed.rows,
                        )
            except duckdb.Error as error:
                raise dg.Failure(
                    description=f"Ingest of schema '{schema}' stopped: a file could not be written to the "
                    f"warehouse ({error.__class__.__name__}); nothing was written.",
                    allow_retries=False,
                ) from None
        return dg.MaterializeResult(
            metadata={
                "tables": len(files),
                "source_files": dg.MetadataValue.json({t: p.name for t, p in files.items()}),
            }
        )

    return raw
