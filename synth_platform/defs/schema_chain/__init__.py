"""The governed chain of one schema of related tables, as Dagster assets and a blocking gate.

<schema>/raw -> masked -> train / holdout -> synthesizer -> synthetic -> (gate) -> release

Thin wiring of `lib.relational` (ingest, store, synthesizer, gate): one module per stage.
"""

from synth_platform.defs.schema_chain.automation import job_name, landing_set_sensor, schema_job
from synth_platform.defs.schema_chain.common import CHAIN_TAG, CHAIN_TAG_VALUE, SchemaChain
from synth_platform.defs.schema_chain.gate import CHECK, build_schema_gate
from synth_platform.defs.schema_chain.ingest import build_raw_asset
from synth_platform.defs.schema_chain.masking import build_masked_asset, build_split_asset
from synth_platform.defs.schema_chain.release import build_release_asset
from synth_platform.defs.schema_chain.synthesizer import build_synthesizer_asset
from synth_platform.defs.schema_chain.synthetic import build_synthetic_asset

__all__ = [
    "CHAIN_TAG",
    "CHAIN_TAG_VALUE",
    "CHECK",
    "SchemaChain",
    "build_schema_assets",
    "job_name",
    "landing_set_sensor",
    "schema_job",
]


def build_schema_assets(chain: SchemaChain) -> list:
    """Every asset and the gate of one schema's chain, in chain order."""
    return [
        build_raw_asset(chain),
        build_masked_asset(chain),
        build_split_asset(chain),
        build_synthesizer_asset(chain),
        build_synthetic_asset(chain),
        build_schema_gate(chain),
        build_release_asset(chain),
    ]
