"""Stages `<schema>/masked` and `<schema>/train` + `<schema>/holdout` (lib.relational.store).

`masked`: discovery first (`lib.relational.discovery`: every raw table's columns classified on a
seeded sample); a column the spec lets reach a model that discovery calls a direct identifier
stops the run here, naming the table and column (never a value), before anything is masked,
trained or charged. Then keys pseudonymised consistently across tables (the same real key, the same pseudonym
everywhere), direct identifiers dropped, each person's contribution bounded; what bounding dropped
is counted in the governed `governance.<schema>__bounds` table only (exact counts of real rows).
`train` / `holdout`: the split by person: a person and every row attributed to them on one side.
"""

import dagster as dg

from synth_platform.defs.chain.common import lease_guard
from synth_platform.defs.resources import PseudonymKeyResource, WarehouseResource
from synth_platform.defs.schema_chain.common import STAGE_VERSIONS, SchemaChain
from synth_platform.lib.relational import discovery as rel_discovery
from synth_platform.lib.relational import store


def _discovered(con, spec, schema: str) -> dict:
    """Discovery on every raw table; stops the run on a direct identifier that would reach a
    model. Returns the public summary: column classes and counts per table (no value)."""
    found = rel_discovery.discover_schema(con, spec)
    counts = found.class_counts()
    if found.problems:
        raise dg.Failure(
            description=f"discovery found direct identifiers in schema '{schema}' that its spec lets reach "
            "the model: " + "; ".join(str(p) for p in found.problems) + ". The run stops before anything "
            "is masked, trained or charged: declare each such column `pii: {class: direct_identifier, "
            "type: ...}` (or `mask: drop`) in the schema's spec, or remove it from the landing file.",
            metadata={
                "columns": dg.MetadataValue.json(
                    [{"table": p.table, "column": p.column, "type": p.detected_type} for p in found.problems]
                ),
                "pii_classes": dg.MetadataValue.json(counts),
            },
            allow_retries=False,
        )
    return counts


def build_masked_asset(chain: SchemaChain):
    spec, schema = chain.spec, chain.name

    @dg.asset(
        key=chain.key("masked"),
        deps=[chain.key("raw")],
        code_version=STAGE_VERSIONS["masked"],
        kinds={"duckdb"},
        description=f"Schema '{schema}' checked by PII discovery per table, then with keys pseudonymised "
        "consistently across tables, direct "
        "identifiers dropped and each person's contribution bounded (drop counts stay governed).",
        **chain.common,
    )
    def masked(context, warehouse: WarehouseResource, pseudonym_key: PseudonymKeyResource):
        key = pseudonym_key.resolve().value
        with warehouse.connect() as con:
            lease_guard(schema, context)(con)
            classes = _discovered(con, spec, schema)
            report = store.mask(con, spec, key)
        return dg.MaterializeResult(
            metadata={
                # public: column classes per table found by discovery (counts, never a value)
                "pii_classes": dg.MetadataValue.json(classes),
                # public: declared bounds (or the public cap) and what they imply per person
                "bounds": dg.MetadataValue.json(dict(report.bounds)),
                "rows_per_person": dg.MetadataValue.json(dict(report.multiplicity)),
                "drop_counts": f"governance.{schema}__bounds (governed)",
            }
        )

    return masked


def build_split_asset(chain: SchemaChain):
    spec, schema = chain.spec, chain.name

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                chain.key(side),
                deps=[chain.key("masked")],
                group_name=schema,
                kinds={"duckdb"},
                code_version=STAGE_VERSIONS["split"],
                tags=chain.common["tags"],
                description=f"The {side} side of schema '{schema}', split by person (keyed, "
                f"holdout fraction {spec.split.holdout_fraction:g}).",
            )
            for side in ("train", "holdout")
        ],
        name=f"{schema}__split",
        pool=chain.common["pool"],
    )
    def split(context, warehouse: WarehouseResource, pseudonym_key: PseudonymKeyResource):
        key = pseudonym_key.resolve().value
        with warehouse.connect() as con:
            lease_guard(schema, context)(con)
            store.split(con, spec, key)
        for side in ("train", "holdout"):
            yield dg.MaterializeResult(
                asset_key=chain.key(side),
                metadata={"schema": f"{schema}__{side} (governed)"},
            )

    return split
