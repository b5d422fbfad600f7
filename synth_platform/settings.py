"""Where things are, from environment variables with defaults for a fresh clone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    root: Path
    specs_dir: Path
    warehouse_path: Path

    @classmethod
    def from_env(cls) -> Settings:
        root = Path(os.environ.get("SYNTH_PROJECT_ROOT", PROJECT_ROOT)).resolve()
        specs_dir = Path(os.environ.get("SYNTH_SPECS_DIR", root / "config" / "datasets"))
        warehouse = Path(os.environ.get("SYNTH_WAREHOUSE_PATH", root / "data" / "warehouse.duckdb"))
        return cls(root=root, specs_dir=specs_dir.resolve(), warehouse_path=warehouse.resolve())
