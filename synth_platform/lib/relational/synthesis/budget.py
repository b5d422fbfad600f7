"""The budget per person: public weights of every measurement, rho per measurement, the
noise source of this package's own measurements, and the privacy report."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from synth_platform.lib.synthesize.accounting import epsilon_from_spend, rho_from_epsilon_delta
from synth_platform.lib.test_noise import noise_test_seed

#: Rows per person an attribute model trains on (keyed choice): its group-privacy factor.
DEFAULT_ROWS_PER_PERSON = 2
#: Public weights dividing the budget between measurements (each table's model, each histogram).
WEIGHTS = {"model": 1.0, "counts": 0.8, "holders": 0.2, "link_model": 0.4, "bound": 0.15, "domain": 0.08}
_INNER_DELTA = 1e-9  # only a carrier for dp_mst's epsilon <-> rho conversion (no thresholding inside)


@dataclass
class Part:
    """One measurement: what it is, its per-person sensitivity (rows / entries one person moves)
    and the rho it costs per person."""

    name: str
    mechanism: str
    sensitivity: float
    rho: float


def measurement_rng() -> np.random.Generator:
    """Noise of this module's own measurements: OS entropy, or pytest's seeded test noise."""
    seed = noise_test_seed()
    if seed is None:
        return np.random.default_rng(int.from_bytes(os.urandom(16), "little"))
    return np.random.default_rng(seed + 1)


class BudgetMixin:
    """Weights, allocation and the privacy report (`RelationalSynthesizer`)."""

    def _multiplicity(self, table: str) -> int:
        """Rows one person has in `table`'s attribute training rows (after the per-person cap)."""
        if table == self.spec.person:
            return 1
        return max(1, min(self.rows_per_person, self.bound_report.multiplicity[table]))

    def _plan(self) -> dict[str, float]:
        """Public weights of every measurement, known before any data is read."""
        weights: dict[str, float] = {}
        link = self.own.link
        for table in self.own.order:
            if link is not None and table == link.table:
                weights[f"{table}:holders"] = WEIGHTS["holders"]
                if self.model_columns(table):
                    weights[f"{table}:model"] = WEIGHTS["link_model"]
                for column in self._undeclared(table):
                    weights[f"{table}.{column}:domain"] = WEIGHTS["domain"]
                continue
            if table != self.spec.person:
                weights[f"{table}:counts"] = WEIGHTS["counts"]
                if self.own.owner_fk[table].max_children is None:
                    weights[f"{table}:bound"] = WEIGHTS["bound"]
            if self.model_columns(table):
                weights[f"{table}:model"] = WEIGHTS["model"]
            for column in self._undeclared(table):
                weights[f"{table}.{column}:domain"] = WEIGHTS["domain"]
        return weights

    def _allocate(self) -> dict[str, float]:
        weights = self._plan()
        thresholds = [k for k in weights if k.endswith(":domain")]
        self.delta_threshold = self.delta / 2 if thresholds else 0.0
        self.rho_total = rho_from_epsilon_delta(self.epsilon, self.delta - self.delta_threshold)
        total = sum(weights.values()) * (1 + 1e-12)  # so float sums never pass rho_total
        return {k: self.rho_total * w / total for k, w in weights.items()}

    def privacy_report(self) -> dict:
        """Every measurement with its per-person sensitivity and rho; total rho and epsilon."""
        spent = sum(p.rho for p in self.parts)
        return {
            "neighbouring": "add/remove one person with every row attributed to them "
            "(lib.relational.contribution)",
            "epsilon_requested": self.epsilon,
            "delta": self.delta,
            "rho_budget": self.rho_total,
            "rho_spent": spent,
            "delta_threshold": self.delta_threshold,
            "epsilon_spent": epsilon_from_spend(spent, self.delta_threshold, self.delta),
            "bounds": dict(self.bound_report.bounds) if self.bound_report else {},
            "multiplicity": dict(self.bound_report.multiplicity) if self.bound_report else {},
            "rows_per_person": self.rows_per_person,
            "parts": [p.__dict__.copy() for p in self.parts],
            "noise": "seeded test noise, not private" if noise_test_seed() is not None else "os_entropy",
        }
