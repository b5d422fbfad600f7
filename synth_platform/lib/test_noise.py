"""Seeded noise inside a test run only: the one switch every noisy mechanism honours.

Why. DP noise is fresh (a fit's OS entropy, a gate's draw keyed on the model it judges), so an
end-to-end test whose figure sits near a threshold would pass or block by chance on each run. A
test suite sets `SYNTH_TEST_NOISE_SEED` (synth_platform_tests/conftest.py); it takes effect only
while pytest runs a test (`PYTEST_CURRENT_TEST`, which subprocesses a test starts inherit), and
whatever used it labels its output "seeded test noise, not private".
"""

from __future__ import annotations

import os

#: A test suite sets this (synth_platform_tests/conftest.py) so a test near a threshold cannot flake.
TEST_NOISE_SEED_ENV = "SYNTH_TEST_NOISE_SEED"
#: The second guard: pytest itself writes this variable while a test runs (subprocesses a test starts
#: inherit it) and removes it afterwards. It is no setting an operator configures, so an environment
#: copied from a test setup into a deployment still draws fresh noise.
TEST_GUARD_ENV = "PYTEST_CURRENT_TEST"


def noise_test_seed() -> int | None:
    """The seed for test noise, or None (always, outside a test run).

    The guard is checked first: without it the seed variable is not even read, so a production
    process with a stray `SYNTH_TEST_NOISE_SEED` (even an unparseable one) behaves as if it were
    unset. Under the guard a malformed seed raises rather than silently falling back.
    """
    if not os.environ.get(TEST_GUARD_ENV):
        return None
    seed = os.environ.get(TEST_NOISE_SEED_ENV)
    return None if not seed else int(seed)
