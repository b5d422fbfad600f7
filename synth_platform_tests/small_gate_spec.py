"""The spec of a small table the gate judges in unit tests (a few hundred rows, 200 attack targets).

Shared by the tests of the gate's cost cuts and of its evidence worker, each on a table of its own
shape: only the sizes that let a few hundred rows reach every check live here.
"""

from __future__ import annotations

from synth_platform.lib.spec import DatasetSpec


def small_gate_spec(name: str, key: str, columns: dict, targets: list[str]) -> DatasetSpec:
    """A Gaussian-copula dataset `name` without a budget, keyed by `key`, with TSTR on `targets`."""
    return DatasetSpec.model_validate(
        {
            "name": name,
            "source": {"landing_dir": f"landing/{name}", "format": "parquet"},
            "key": key,
            "columns": columns,
            "synthesizer": {"kind": "gaussian_copula"},
            "privacy": {"epsilon_budget": None},
            "checks": {
                "min_holdout_rows": 50,
                "min_evaluation_rows": 50,
                "anonymeter_attacks": 200,
                "evaluation_rows": 400,
            },
            "utility": {"targets": targets, "max_gap": 0.5},
        }
    )
