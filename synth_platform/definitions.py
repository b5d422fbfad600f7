"""The Dagster code location: the autoloaded `defs/` folder plus what spans datasets.

Each dataset is a `GovernedDataset` component instance (`defs/datasets/<name>/defs.yaml`), found by
Dagster's autoloading of the `defs/` folder (`dg list defs`, `dg check defs`), next to the Python
wiring modules there (`defs/analytics.py` registers the dbt models). The definitions that span
datasets (`defs.platform`: ledger, nightly refresh, lease, budget and alert sensors) and the
resources are added here, once, from the specs of the loaded instances. Schemas
(`GovernedSchema`, `defs/schemas/<schema>/defs.yaml`) get the same: a nightly refresh, budget and
stale-release alerts; and no schema may share a name or a release table with a dataset
(`check_names`: they share the ledger, the run lease and the warehouse by name).

`build_definitions(settings)` is also the programmatic entry point: over another datasets folder
(`SYNTH_SPECS_DIR`, or a test's temporary folder) it loads that folder's instances instead of
`defs/datasets/`, and the rest of `defs/` as usual.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg

from synth_platform.components import GovernedDataset, GovernedSchema
from synth_platform.components.governed_dataset import dataset_definitions
from synth_platform.defs.platform import platform_definitions, platform_resources
from synth_platform.defs.resources import SynthesizerFactory
from synth_platform.lib.dataset_instances import instance_path, load_datasets
from synth_platform.lib.instance_names import check_unique
from synth_platform.lib.relational.schema_spec import SchemaSpec
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage.private_files import restrict_process_umask
from synth_platform.settings import DATASETS_DIR, PROJECT_ROOT, Settings


def _defs_folder(datasets_dir: Path) -> tuple[dg.Definitions, list[DatasetSpec], list[SchemaSpec]]:
    """The `defs/` folder as Dagster autoloads it (`dg.load_from_defs_folder`), its datasets and schemas.

    With another datasets folder, `defs/datasets/` is left out and that folder's instances are
    loaded in its place (the same component, the same checks, without `dg`'s project lookup).
    """
    with warnings.catch_warnings():  # autoloading's own beta/preview notices, on every load
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        warnings.filterwarnings("ignore", category=dg.PreviewWarning)
        return _load(dg.ComponentTree.for_project(path_within_project=PROJECT_ROOT), Path(datasets_dir))


def _load(
    tree: dg.ComponentTree, datasets_dir: Path
) -> tuple[dg.Definitions, list[DatasetSpec], list[SchemaSpec]]:
    """The whole tree for the project's own datasets; else the tree minus `datasets/`, plus the
    instances of `datasets_dir` (each validated with its file, field and line: lib.dataset_instances).
    Datasets and schemas are loaded (not built) first, so a shared name fails here with both files
    named, before Dagster meets the same asset key twice."""
    own = datasets_dir.resolve() == DATASETS_DIR
    if own:
        specs = sorted(
            (c.spec for c in tree.get_all_components(of_type=GovernedDataset)), key=lambda s: s.name
        )
    else:
        specs = load_datasets(datasets_dir)
    schemas = tree.get_all_components(of_type=GovernedSchema)
    check_names(datasets_dir, specs, schemas)
    schema_specs = sorted((s.spec for s in schemas), key=lambda s: s.name)
    if own:
        return tree.build_defs(), specs, schema_specs
    folder = tree.find_decl_at_path(tree.defs_module_path)
    others = [
        tree.build_defs(decl.loc)
        for decl in folder.iterate_child_component_decls()
        if Path(decl.loc.file_path) != DATASETS_DIR
    ]
    return dg.Definitions.merge(*others, *[dataset_definitions(s) for s in specs]), specs, schema_specs


def check_names(datasets_dir: Path, specs: list[DatasetSpec], schemas: list[GovernedSchema]) -> None:
    """Refuse to load a schema that shares a name or a release table with a dataset (lib.instance_names):
    both would write one ledger's rows, one lease and one warehouse table."""
    check_unique(
        {s.name: instance_path(datasets_dir, s.name) for s in specs},
        {s.spec.name: (s.path, list(s.spec.tables)) for s in schemas},
    )


def build_definitions(
    settings: Settings | None = None, synthesizers: SynthesizerFactory | None = None
) -> dg.Definitions:
    """Every dataset's and schema's chain (component instances), dbt, what spans them, and the resources.
    A schema sharing a name or a release table with a dataset fails here (`check_names`)."""
    settings = settings or Settings.from_env()
    folder, specs, schemas = _defs_folder(settings.specs_dir)
    return dg.Definitions.merge(
        folder,
        platform_definitions(specs, schemas),
        # every job's steps in the run's own process, the chain jobs' and a UI "Materialize" run's alike
        # (defs/automation.chain_job says why: the chain is a line holding one warehouse slot)
        dg.Definitions(resources=platform_resources(settings, synthesizers), executor=dg.in_process_executor),
    )


# Where the platform runs (code server, run workers): whatever any step, DuckDB, dbt or Dagster
# creates is owner-only, a second layer under the explicit modes of lib/storage/private_files.py.
restrict_process_umask()
defs = build_definitions()
