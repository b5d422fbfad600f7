"""What every stage of a schema's chain shares: its spec, asset keys, the warehouse pool, the ledger.

A schema's chain (`<schema>/raw` -> `masked` -> `train` / `holdout` -> `synthesizer` -> `synthetic`
-> gate -> `release`) wires `lib.relational` (ingest, store, synthesizer, gate) into assets; the
ledger's dataset name for a schema is the schema's name.
"""

from dataclasses import dataclass

import dagster as dg

from synth_platform.defs.chain.common import LEDGER_KEY, POOL, ledger_metadata
from synth_platform.defs.ledger_view import recent_ledger
from synth_platform.lib.relational.gate import RelationalChecks
from synth_platform.lib.relational.schema_spec import SchemaSpec

#: Every asset of a schema's chain carries this tag (what spans datasets can select schemas by it).
CHAIN_TAG = "synth/chain"
CHAIN_TAG_VALUE = "governed_schema"
STAGE_VERSIONS = {
    "raw": "1",
    "masked": "2",
    "split": "1",
    "synthesizer": "1",
    "synthetic": "1",
    "release": "1",
}


@dataclass(frozen=True)
class SchemaChain:
    """One schema's spec, its gate thresholds and the asset keys of its chain.

    `checks` and `gate_rho` left out (None) are taken from the spec's `checks:` block, so after
    construction both hold the effective settings every reader (gate, ledger row, evidence,
    certificate) uses; given, they win over the spec (a test's or a deployment's Python choice).
    """

    spec: SchemaSpec
    checks: RelationalChecks | None = None
    gate_rho: float | None = None
    #: builds the schema's synthesizer from its spec (default `RelationalSynthesizer`); a test may
    #: swap it (a deployment's choice is part of the fit's fingerprint)
    factory: object = None

    def __post_init__(self) -> None:
        if self.checks is None:
            object.__setattr__(self, "checks", self.spec.checks.relational_checks())
        if self.gate_rho is None:
            object.__setattr__(self, "gate_rho", self.spec.checks.gate_rho)

    def synthesizer_factory(self):
        if self.factory is not None:
            return self.factory
        from synth_platform.lib.relational.synthesizer import RelationalSynthesizer

        return RelationalSynthesizer

    @property
    def name(self) -> str:
        return self.spec.name

    def key(self, stage: str) -> dg.AssetKey:
        return dg.AssetKey([self.spec.name, stage])

    @property
    def common(self) -> dict:
        """Arguments every warehouse-touching asset of the chain takes."""
        return {"group_name": self.spec.name, "pool": POOL, "tags": {CHAIN_TAG: CHAIN_TAG_VALUE}}


def log_ledger_row(context, warehouse, row: dict) -> None:
    """A ledger materialisation for the row just appended (its ids and spend, never a value): the
    chain head the next charge verifies against (`ledger_view.dagster_heads`)."""
    event = dg.AssetMaterialization(
        asset_key=LEDGER_KEY, metadata=ledger_metadata(row, recent_ledger(warehouse))
    )
    log = getattr(context, "op_execution_context", context)
    log.log_event(event)
