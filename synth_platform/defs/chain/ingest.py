"""Stage `raw`: the landing file ingested into `raw.<ds>`, checked against the spec (lib.storage.ingest).

The run first claims the dataset's lease (lib.storage.run_lease): while another live run of the
dataset holds it, this one stops before reading anything. A file that is malformed, or holds fewer
people than the release gate needs after the split (lib.synthesize.split.rows_needed), is quarantined with
the reason, before anything is trained or charged. The file is checked by streamed DuckDB passes
(lib.storage.ingest.check_landing_file) and then typed straight into the warehouse by DuckDB's reader: the
table never passes through pandas. The raw table, its ingest-log row and the lease check commit in
one transaction.
"""

import dagster as dg
import duckdb

from synth_platform.defs.chain.common import (
    STAGE_VERSIONS,
    ChainContext,
    lease_guard,
    run_liveness,
    run_process,
)
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.defs.table_metadata import warehouse_table_metadata
from synth_platform.lib.storage import ingest, ingest_log, run_lease
from synth_platform.lib.storage.warehouse import SqlQuery, replacing_tables


class IngestConfig(dg.Config):
    landing_file: str = ""
    """A file in the dataset's landing folder (name or path); empty means the newest file there."""


def claim_dataset(context, warehouse: WarehouseResource, ds: str) -> None:
    """Take the dataset's run lease for this run, or fail the run without writing anything."""
    instance = context.instance
    is_alive, process = run_liveness(instance), run_process(instance, context.run_id)
    with warehouse.connect() as con:
        try:
            previous = run_lease.claim(con, ds, context.run_id, is_alive, process)
        except run_lease.LeaseHeldError as error:
            raise dg.Failure(description=f"Run of '{ds}' refused: {error}", allow_retries=False) from None
    if previous:
        context.log.info(f"Took over the tables of '{ds}' from run {previous}, which has ended.")


def _quarantine_links(context, landing_dir, pattern: str, quarantine_dir) -> None:
    """Move symlinks out of the landing folder (the links, never their targets), logging each.

    Links are never followed, so they would otherwise sit there, and be refused, on every run.
    """
    for note in ingest.quarantine_symlinks(landing_dir, pattern, quarantine_dir):
        context.log.warning(note)


def _write_raw(context, con, ds: str, checked: ingest.TypedLanding, described) -> None:
    """Type the checked file into raw.<ds> with DuckDB's reader, its ingest-log row and the lease
    check in one transaction; a file replaced since it was checked rolls the write back."""
    checked.register_lookups(con)
    try:
        with replacing_tables(con, {("raw", ds): SqlQuery(checked.select_sql)}):
            lease_guard(ds, context)(con)
            if not checked.unchanged():
                raise dg.Failure(
                    description=f"Ingest of '{ds}' stopped: {checked.path.name} changed while it was "
                    "being ingested; nothing was written. Deliver the file again and re-run.",
                    allow_retries=False,
                )
            ingest_log.record_ingest(
                con, ds, context.run_id, checked.path.name, described.content_hash, checked.rows
            )
    except duckdb.Error as error:  # DuckDB's reader quotes the offending line: never repeated
        raise dg.Failure(
            description=f"Ingest of '{ds}' stopped: {checked.path.name} could not be written to "
            f"raw.{ds} ({error.__class__.__name__}); nothing was written. The file may have changed "
            "after it was checked: deliver it again and re-run.",
            allow_retries=False,
        ) from None


def build_raw_asset(chain: ChainContext):
    spec, ds = chain.spec, chain.ds

    @dg.asset(
        key=chain.key("raw"),
        code_version=STAGE_VERSIONS["raw"],
        kinds={"duckdb", "csv" if spec.source.format == "csv" else "parquet"},
        description=f"The landing file of '{ds}' ingested into raw.{ds}, checked against the spec.",
        **chain.common,
    )
    def raw(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        warehouse: WarehouseResource,
        storage: StorageResource,
    ) -> dg.MaterializeResult:
        landing_dir = storage.landing_dir(spec.source.landing_dir)
        try:
            if config.landing_file:
                path = ingest.resolve_landing_file(config.landing_file, landing_dir, spec.source.pattern)
            else:
                path = ingest.latest_landing_file(landing_dir, spec.source.pattern)
        except ingest.LandingSymlinkError as error:
            _quarantine_links(context, landing_dir, spec.source.pattern, storage.quarantine_dir(ds))
            raise dg.Failure(
                description=f"Ingest of '{ds}' refused: {error} The link was moved to quarantine; its "
                "target was not read.",
                allow_retries=False,
            ) from None
        except ingest.LandingPathError as error:
            raise dg.Failure(
                description=f"Ingest of '{ds}' refused: {error}. Nothing was read or moved.",
                allow_retries=False,
            ) from None
        _quarantine_links(context, landing_dir, spec.source.pattern, storage.quarantine_dir(ds))
        if path is None:
            raise dg.Failure(
                description=f"No landing file for '{ds}': put a {spec.source.format} file in {landing_dir}.",
                allow_retries=False,
            )
        claim_dataset(context, warehouse, ds)
        try:
            checked = ingest.check_landing_file(path, spec)  # streamed: nothing held in pandas
            ingest.check_enough_rows(checked, spec, path.name)  # refuses too few people for the gate
            described = ingest.describe_landing_file(path)
        except Exception as error:  # any reader error quarantines; a message may quote a cell, so
            # only IngestError's own (value-free) messages are repeated.
            reason = (
                str(error)
                if isinstance(error, ingest.IngestError)
                else f"{path.name}: could not be read ({error.__class__.__name__}); check the file's format"
            )
            where = (
                ingest.quarantine(path, storage.quarantine_dir(ds), reason, landing_dir)
                if path.exists() or path.is_symlink()
                else None
            )
            moved = f" The file was moved to {where}." if where else ""
            raise dg.Failure(
                description=f"Ingest of '{ds}' stopped: {reason}.{moved} "
                "The previous release and the ledger are untouched.",
                metadata={"file": path.name, "quarantined_to": str(where or ""), "reason": reason},
                allow_retries=False,
            ) from None
        with warehouse.connect() as con:
            _write_raw(context, con, ds, checked, described)
            metadata = warehouse_table_metadata(con, "raw", ds)
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "source_file": path.name,
                "source_hash": described.content_hash,
                "source_bytes": described.size_bytes,
            }
        )

    return raw
