"""Where a `dp_mst` fit's privacy noise comes from, and the record of what a fit spent.

Kept apart from the synthesizer because the rule is a guarantee of its own: noise is fresh OS
entropy, never the spec's (public) seed, except inside a pytest run (`noise_test_seed`), where it
is labelled "not private" wherever the spend is shown. `PrivacySpend` is what the ledger records.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np

from synth_platform.lib.test_noise import TEST_NOISE_SEED_ENV, noise_test_seed

#: What a model's noise came from when it is private: fresh OS entropy.
ENTROPY_NOISE = "os_entropy"


@dataclass(frozen=True)
class PrivacySpend:
    epsilon: float
    delta: float
    rho: float
    rho_parts: dict[str, float]
    delta_conversion: float
    delta_threshold: float
    #: `ENTROPY_NOISE`, or the label of seeded test noise: a spend on seeded noise bought no privacy.
    noise: str | None = ENTROPY_NOISE

    def as_dict(self) -> dict:
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "rho": self.rho,
            "rho_parts": dict(self.rho_parts),
            "delta_conversion": self.delta_conversion,
            "delta_threshold": self.delta_threshold,
            "noise": self.noise,
        }


def _noise_rng(fresh: bool = False) -> tuple[np.random.Generator, str]:
    """The generator of a fit's privacy noise, and a label of where it came from.

    Fresh OS entropy, never a (public) seed -- except under test (`noise_test_seed`), where every
    fit draws the same noise, labelled "seeded test noise, not private" on the model, in its
    `privacy_spend()` and in a warning. `fresh=True` ignores a test seed (the epsilon audit needs
    independent noise per fit).
    """
    seed = None if fresh else noise_test_seed()
    if seed is None:
        return np.random.default_rng(int.from_bytes(os.urandom(16), "little")), ENTROPY_NOISE
    label = f"seeded test noise ({TEST_NOISE_SEED_ENV}={seed}), not private"
    logging.getLogger(__package__).warning("dp_mst: %s", label)
    return np.random.default_rng(seed), label


def _sigma(rho: float) -> float:
    return math.sqrt(1.0 / (2.0 * rho))
