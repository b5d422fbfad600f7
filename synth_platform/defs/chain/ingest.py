"""Stage `raw`: the landing file ingested into `raw.<ds>`, checked against the spec (lib.ingest)."""

from pathlib import Path

import dagster as dg

from synth_platform.defs.chain.common import STAGE_VERSIONS, ChainContext
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.defs.table_metadata import table_metadata
from synth_platform.lib import ingest, ingest_log


class IngestConfig(dg.Config):
    landing_file: str = ""
    """Path of the landing file to ingest; empty means the newest file in the dataset's landing folder."""


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

    return raw
