"""The gate's distances do not depend on how many BLAS threads the host gives numpy.

Close copies, membership inference and attribute inference all rank synthetic rows by a float32
matrix product. OpenBLAS sums such a product in another order for each thread count, so a host
with more cores got other last bits, and a near tie another nearest row: the same synthetic table
and the same keyed noise would give another figure on another machine. A user re-running the gate
elsewhere (CI, production) expects the figures of the first run.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from synth_platform.lib.gate.attacks import space

pytestmark = pytest.mark.skipif(
    not any(pool["user_api"] == "blas" for pool in threadpool_info()), reason="numpy has no BLAS pool"
)


def _frames(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Query and reference rows as the gate encodes them: scaled numbers and one-hot codes in float32,
    with exact duplicates so that ties occur."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(3000, 12)).astype(np.float32)
    codes = np.eye(9, dtype=np.float32)[rng.integers(0, 9, 3000)] / np.sqrt(2)
    rows = np.hstack([numbers, codes])
    rows[2500:] = rows[:500]  # duplicated people
    return rows[:700], rows[700:]


@pytest.mark.parametrize("seed", [1, 2])
def test_nearest_rows_are_the_same_on_one_two_and_four_blas_threads(seed):
    queries, reference = _frames(seed)
    results = []
    for threads in (1, 2, 4):
        with threadpool_limits(limits=threads, user_api="blas"):
            results.append(
                (space.nearest(queries, reference, k=5), *space.nearest_with_index(queries, reference, k=1))
            )
    first = results[0]
    for other in results[1:]:
        for a, b in zip(first, other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_caller_keeps_its_own_thread_count():
    """The gate narrows BLAS to one thread for its products only: numpy elsewhere in the process
    (a user's notebook, the synthesizer) keeps the threads it had."""
    queries, reference = _frames(3)
    with threadpool_limits(limits=2, user_api="blas"):
        space.nearest(queries, reference, k=2)
        assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {2}
