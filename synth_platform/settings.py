"""Where things are, from environment variables with defaults for a fresh clone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: The datasets: one GovernedDataset component instance per folder, `<name>/defs.yaml` (and its
#: approved `masking_plan.yaml`), inside the code location's autoloaded `defs/` folder.
DATASETS_DIR = Path(__file__).resolve().parent / "defs" / "datasets"


@dataclass(frozen=True)
class Settings:
    root: Path
    #: The datasets' folder (SYNTH_SPECS_DIR; default DATASETS_DIR): `<name>/defs.yaml` per dataset.
    specs_dir: Path
    warehouse_path: Path

    @classmethod
    def from_env(cls) -> Settings:
        root = Path(os.environ.get("SYNTH_PROJECT_ROOT", PROJECT_ROOT)).resolve()
        specs_dir = Path(os.environ.get("SYNTH_SPECS_DIR", DATASETS_DIR))
        warehouse = Path(os.environ.get("SYNTH_WAREHOUSE_PATH", root / "data" / "warehouse.duckdb"))
        return cls(root=root, specs_dir=specs_dir.resolve(), warehouse_path=warehouse.resolve())
