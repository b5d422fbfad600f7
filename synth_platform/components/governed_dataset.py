"""`GovernedDataset`: one table under governance, as a Dagster component.

An instance is a folder `synth_platform/defs/datasets/<name>/` holding `defs.yaml`:

    type: synth_platform.components.GovernedDataset
    attributes:          # the dataset's spec (lib/spec.py `DatasetSpec`)
      name: <name>
      source: {landing_dir: data/landing/<name>, format: csv}
      columns: {...}

and, once a person approved it, the masking plan next to it (`masking_plan.yaml`). The attributes
are validated by `DatasetSpec` itself (the component's model), so `dg check yaml` checks them
against its schema and `dg check defs` (and loading the code location) reports every broken field
with its line. `build_defs` returns what is per dataset: the chain's assets and its blocking release
gate (the release's freshness policy included: defs.chain / defs.catalog), the chain job and the
landing-folder sensor. What spans datasets (the ledger, the nightly refresh, the budget and alert
sensors, dbt) is in `defs.platform` and `defs.analytics`.

`dg scaffold defs synth_platform.components.GovernedDataset datasets/<name>` writes a commented
`defs.yaml` to fill in (`GovernedDatasetScaffolder`).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from synth_platform.defs import automation
from synth_platform.defs.chain import build_dataset_assets
from synth_platform.lib.dataset_instances import check_folder_name
from synth_platform.lib.spec import DatasetSpec, SpecError

#: Every asset of a governed chain carries this tag: what spans datasets selects by it (defs.platform).
CHAIN_TAG = "synth/chain"
CHAIN_TAG_VALUE = "governed_dataset"

TEMPLATE = """\
# A dataset under governance. Files dropped in its landing folder are ingested, searched for personal
# data, masked, used to train a differentially private synthesizer, sampled, judged by the release
# gate and released as a synthetic twin (asset group `{name}`, job `{name}_governed_chain`).
# Fill in the fields below (every field: synth_platform/lib/spec.py), then `dg check yaml`.
# The first run stops at discovery until `synth-platform pii approve {name}` writes the masking plan
# next to this file (masking_plan.yaml) for a person to review and commit.
type: {type_name}
attributes:
  # The dataset's name: this folder's name.
  name: {name}
  description: "What the table holds (shown in the UI)."
  # Who owns the data: an email address or team:<name>.
  owner: team:data-platform
  source:
    # Where files land (relative to the project root) and their format: csv or parquet.
    landing_dir: data/landing/{name}
    format: csv
  # The column that names a person (one row per person reaches the model), or remove the line.
  key: id
  # Every column of the file: type is integer, float, string, category, date or boolean. Declared
  # domains (categories, bounds) are public and cost no privacy budget; left out, the synthesizer
  # chooses them under differential privacy. Discovery classifies every column; a `pii:` hint
  # overrides it (class: direct_identifier, quasi_identifier, sensitive or other).
  columns:
    id: {{type: string, pii: {{class: direct_identifier, type: customer_id}}}}
    age: {{type: integer, bounds: [0, 120]}}
    segment: {{type: category}}
  synthesizer:
    # dp_mst is differentially private (the default); epsilon and delta are per training.
    kind: dp_mst
    params: {{epsilon: 1.0, delta: 1.0e-9}}
  privacy:
    # The total budget over all trainings of this dataset (composed in zCDP).
    epsilon_budget: 10
    delta: 1.0e-9
  # Release-gate thresholds (CheckSpec) and train-synthetic-test-real targets (UtilitySpec):
  # checks: {{min_quality_score: 0.75}}
  # utility: {{targets: [segment], max_gap: 0.3}}
"""


class GovernedDatasetScaffolder(dg.Scaffolder):
    """Writes a commented `defs.yaml` named after the target folder, ready to fill in."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        folder = Path(request.target_path)
        folder.mkdir(parents=True, exist_ok=True)
        text = TEMPLATE.format(type_name=request.type_name, name=folder.name)
        (folder / "defs.yaml").write_text(text)


def tagged_chain(spec: DatasetSpec) -> list:
    """The chain of `build_dataset_assets`, every asset tagged as part of a governed chain."""
    definitions = build_dataset_assets(spec)
    assets = [d for d in definitions if not isinstance(d, dg.AssetChecksDefinition)]
    tag = {CHAIN_TAG: CHAIN_TAG_VALUE}
    mapped = dg.map_asset_specs(lambda s: s.merge_attributes(tags=tag), assets)
    by_id = {id(a): m for a, m in zip(assets, mapped, strict=True)}
    return [by_id.get(id(d), d) for d in definitions]


def dataset_definitions(spec: DatasetSpec) -> dg.Definitions:
    """Everything one dataset adds: its chain and gate, its job and its landing sensor."""
    chain = tagged_chain(spec)
    job = automation.chain_job(spec)
    return dg.Definitions(
        assets=[a for a in chain if not isinstance(a, dg.AssetChecksDefinition)],
        asset_checks=[a for a in chain if isinstance(a, dg.AssetChecksDefinition)],
        jobs=[job],
        sensors=[automation.landing_sensor(spec, job)],
    )


@dg.scaffold_with(GovernedDatasetScaffolder)
class GovernedDataset(dg.Component):
    """A table under governance: ingest, discovery, masking, DP synthesis, release gate, release.

    Attributes: the dataset's spec (`DatasetSpec`, synth_platform/lib/spec.py), validated as is.
    """

    def __init__(self, spec: DatasetSpec):
        self.spec = spec

    @classmethod
    def get_model_cls(cls) -> type[DatasetSpec]:
        """The spec model itself: one set of fields and rules for YAML, `dg check` and the CLI."""
        return DatasetSpec

    @classmethod
    def load(cls, attributes: DatasetSpec | None, context: dg.ComponentLoadContext) -> GovernedDataset:
        if attributes is None:
            raise SpecError(f"{context.path / 'defs.yaml'}: a dataset needs its spec under `attributes:`")
        check_folder_name(attributes, context.path)
        return cls(attributes)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return dataset_definitions(self.spec)
