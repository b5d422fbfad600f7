"""The governed chain of one dataset, as Dagster assets and a blocking release gate.

raw -> pii_report -> masked -> train / holdout -> synthesizer -> synthetic -> release

Data moves through the DuckDB warehouse (schemas raw, masked, synthetic, release,
governance); every step opens it briefly under one lock and the `duckdb_warehouse`
pool. Each stage is a small module here, next to the `lib/` module it wires.
"""

from synth_platform.defs.catalog import catalogued_dataset_assets
from synth_platform.defs.chain.common import LEDGER_KEY, POOL, STAGE_VERSIONS, ChainContext
from synth_platform.defs.chain.discovery import build_pii_report_asset
from synth_platform.defs.chain.gate import GATE_CHECKS, build_release_gate
from synth_platform.defs.chain.ingest import IngestConfig, build_raw_asset
from synth_platform.defs.chain.masking import build_masked_asset
from synth_platform.defs.chain.release import build_release_asset
from synth_platform.defs.chain.split import build_split_asset
from synth_platform.defs.chain.synthesizer import build_synthesizer_asset
from synth_platform.defs.chain.synthetic import build_synthetic_asset

__all__ = ["GATE_CHECKS", "LEDGER_KEY", "POOL", "STAGE_VERSIONS", "IngestConfig", "build_dataset_assets"]


def build_dataset_assets(spec) -> list:
    """Every asset and check of one dataset's chain, in chain order, with what the catalog shows of
    each (owners, tags, table name, the release's freshness policy, code references: defs.catalog)."""
    chain = ChainContext(spec)
    return catalogued_dataset_assets(
        spec,
        [
            build_raw_asset(chain),
            build_pii_report_asset(chain),
            build_masked_asset(chain),
            build_split_asset(chain),
            build_synthesizer_asset(chain),
            build_synthetic_asset(chain),
            build_release_gate(chain),
            build_release_asset(chain),
        ],
    )
