"""Stage `<schema>/synthetic`: the current model sampled in chunks into synthetic.<schema>__<table>.

Every foreign key resolves by construction (fresh keys, drawn from the parents' synthetic keys);
identifier columns that are not keys are refilled with fakes; memory is one chunk of people.
"""

import dagster as dg

from synth_platform.defs.chain.common import lease_guard
from synth_platform.defs.resources import PseudonymKeyResource, StorageResource, WarehouseResource
from synth_platform.defs.schema_chain.common import STAGE_VERSIONS, SchemaChain
from synth_platform.lib.relational import store


def build_synthetic_asset(chain: SchemaChain):
    spec, schema = chain.spec, chain.name

    @dg.asset(
        key=chain.key("synthetic"),
        deps=[chain.key("synthesizer")],
        code_version=STAGE_VERSIONS["synthetic"],
        kinds={"duckdb"},
        description=f"Schema '{schema}' sampled from its private synthesizer, chunk by chunk, into "
        f"synthetic.{schema}__<table> (referentially intact; identifiers refilled with fakes).",
        **chain.common,
    )
    def synthetic(
        context,
        warehouse: WarehouseResource,
        storage: StorageResource,
        pseudonym_key: PseudonymKeyResource,
    ):
        key = pseudonym_key.resolve().value
        try:
            model = store.current_model(storage.model_dir(schema), key)
            if model is None:
                raise store.ModelError(f"schema '{schema}' has no current model: materialise its synthesizer")
            synth = store.load_model(model, key)
        except store.ModelError as error:
            raise dg.Failure(
                description=f"Sampling of '{schema}' refused: {error}.", allow_retries=False
            ) from None
        with warehouse.connect() as con:
            lease_guard(schema, context)(con)
            rows = store.write_synthetic(con, spec, synth, seed=spec.synthesizer.seed)
        # synthetic row counts are DP outputs (the model's noisy totals): public
        return dg.MaterializeResult(
            metadata={"model_sha256": model.sha256, "synthetic_rows": dg.MetadataValue.json(rows)}
        )

    return synthetic
