"""Dagster component types of the platform (registered for `dg` in pyproject.toml `[tool.dg.project]`).

- `GovernedDataset`: one dataset under governance, one `defs/datasets/<name>/defs.yaml` each.
- `GovernedSchema`: related tables under governance, one `defs/schemas/<schema>/defs.yaml` each.
"""

from synth_platform.components.governed_dataset import GovernedDataset
from synth_platform.components.governed_schema import GovernedSchema

__all__ = ["GovernedDataset", "GovernedSchema"]
