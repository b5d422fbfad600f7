"""`GovernedSchema`: several related tables under governance, as one Dagster component.

An instance is a folder `synth_platform/defs/schemas/<schema>/` holding `defs.yaml`:

    type: synth_platform.components.GovernedSchema
    attributes:          # the schema's spec (lib/relational/schema_spec.py `SchemaSpec`)
      name: <schema>
      person: people
      tables: {...}
      foreign_keys: [...]

Landing files arrive in `data/landing/<schema>/<table>/` (one csv file per table; the set is
complete when every table has a new file). `build_defs` returns the schema's chain (assets
`<schema>/raw`, `masked`, `train`, `holdout`, `synthesizer`, `synthetic`, `release`, group
`<schema>`, tagged `synth/chain: governed_schema`), its blocking release gate, the job
`<schema>_governed_schema` and the landing-set sensor (defs.schema_chain). What spans datasets
and schemas is added once by `synth_platform.definitions`: the nightly refresh
(`nightly_schema_refresh`), the budget and stale-release alerts, and the load-time refusal of a
name or release table a schema would share with a dataset (lib.instance_names).

`dg scaffold defs synth_platform.components.GovernedSchema schemas/<schema>` writes a commented
`defs.yaml` to fill in.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from synth_platform.defs import catalog
from synth_platform.defs.schema_chain import SchemaChain, build_schema_assets, landing_set_sensor, schema_job
from synth_platform.lib.relational.gate import RelationalChecks
from synth_platform.lib.relational.schema_spec import SchemaSpec
from synth_platform.lib.spec import SpecError

TEMPLATE = """\
# Related tables under governance: one file per table lands in data/landing/{name}/<table>/; once
# every table has a new file the set is ingested, keys are pseudonymised consistently across tables,
# each person's contribution is bounded, a private synthesizer is trained (budget per person), the
# gate judges the schema and every table is released together or none (job `{name}_governed_schema`).
# Every field: synth_platform/lib/relational/schema_spec.py. Then `dg check yaml`.
type: {type_name}
attributes:
  name: {name}
  description: "What the schema holds."
  # The table with one row per person: the privacy unit.
  person: people
  tables:
    people:
      primary_key: person_id
      columns:
        person_id: {{type: integer}}
        full_name: {{type: string, pii: {{class: direct_identifier, type: name}}}}
        segment: {{type: category, categories: [a, b]}}
    orders:
      primary_key: order_id
      columns:
        order_id: {{type: integer}}
        person_id: {{type: integer}}
        amount: {{type: float, bounds: [0, 1000]}}
  foreign_keys:
    # max_children: at most k children per parent (the rest dropped and counted)
    - {{column: orders.person_id, references: people.person_id, max_children: 10}}
  synthesizer: {{epsilon: 1.0, delta: 1.0e-9, iters: 300}}
  privacy: {{epsilon_budget: 10, delta: 1.0e-9}}
  # The release gate (optional; defaults shown). A small schema (a few thousand people) may need a
  # larger gate_rho for its cross-table figures to be narrow enough to block; each evaluation
  # charges it to the budget above. Thresholds: lib/relational/gate.py `RelationalChecks`.
  # checks:
  #   gate_rho: 0.01
  #   false_block_rate: 0.01
  #   max_children_tvd: 0.25
  #   max_pair_trend_tvd: 0.3
  #   max_profile_exact_copy_excess: 0.02
  #   max_profile_close_copy_excess: 0.02
  #   min_holdout_people: 200
  #   min_table_quality: 0.7
"""


class GovernedSchemaScaffolder(dg.Scaffolder):
    """Writes a commented `defs.yaml` named after the target folder, ready to fill in."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        folder = Path(request.target_path)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "defs.yaml").write_text(TEMPLATE.format(type_name=request.type_name, name=folder.name))


def schema_definitions(
    spec: SchemaSpec,
    checks: RelationalChecks | None = None,
    gate_rho: float | None = None,
    factory=None,
) -> dg.Definitions:
    """Everything one schema adds: its chain and gate, its job and its landing-set sensor.
    `checks`, `gate_rho`, `factory`: the gate's thresholds, its rho and the synthesizer. Left out,
    the gate's settings come from the spec's `checks:` block (`SchemaCheckSpec`: thresholds not
    set there keep their `RelationalChecks` defaults, rho `store.GATE_RHO`); given here, these
    Python arguments win over the spec. The synthesizer defaults to `RelationalSynthesizer`."""
    chain = SchemaChain(spec, checks, gate_rho, factory)
    built = catalog.catalogued_schema_assets(build_schema_assets(chain))
    job = schema_job(chain)
    return dg.Definitions(
        assets=[a for a in built if not isinstance(a, dg.AssetChecksDefinition)],
        asset_checks=[a for a in built if isinstance(a, dg.AssetChecksDefinition)],
        jobs=[job],
        sensors=[landing_set_sensor(chain, job)],
    )


@dg.scaffold_with(GovernedSchemaScaffolder)
class GovernedSchema(dg.Component):
    """Related tables under governance: ingest as a set, consistent pseudonyms, bounded
    contributions, a person-level split, private synthesis, a cross-table gate, one release.

    Attributes: the schema's spec (`SchemaSpec`, synth_platform/lib/relational/schema_spec.py).
    """

    def __init__(self, spec: SchemaSpec, path: Path | None = None):
        self.spec = spec
        #: its `defs.yaml` (a load-time name collision names it: lib.instance_names)
        self.path = path

    @classmethod
    def get_model_cls(cls) -> type[SchemaSpec]:
        return SchemaSpec

    @classmethod
    def load(cls, attributes: SchemaSpec | None, context: dg.ComponentLoadContext) -> GovernedSchema:
        if attributes is None:
            raise SpecError(f"{context.path / 'defs.yaml'}: a schema needs its spec under `attributes:`")
        if attributes.name != context.path.name:
            raise SpecError(
                f"{context.path / 'defs.yaml'}: the schema's name {attributes.name!r} must be its folder's "
                f"name {context.path.name!r}"
            )
        return cls(attributes, context.path / "defs.yaml")

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return schema_definitions(self.spec)
