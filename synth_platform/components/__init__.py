"""Dagster component types of the platform (registered for `dg` in pyproject.toml `[tool.dg.project]`).

- `GovernedDataset`: one dataset under governance, one `defs/datasets/<name>/defs.yaml` each.
"""

from synth_platform.components.governed_dataset import GovernedDataset

__all__ = ["GovernedDataset"]
