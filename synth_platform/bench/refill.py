"""Seconds to refill the demo's identifier columns from reserved spaces, for a few row counts.

The refill reads no raw value, so no source table is needed: a synthetic frame with a `sex`
column (names follow it) and the demo spec's identifier columns (customer_id, full_name, email,
phone, ssn, street_address) with their detected types are enough.

Two timings per row count: the whole frame at once (`restore_source_shape`, one process), and
the synthetic stage's way -- 250,000-row chunks through `SourceShape.chunks` -- with each worker
count asked for (1 = in this process; the table is the same for every count).

`python -m synth_platform.bench.refill [--rows 39073 1000000] [--workers 1 2]`; one line per row count.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from synth_platform.lib.dataset_instances import load_instance
from synth_platform.lib.deidentify.masking import ColumnTreatment, plan_masking
from synth_platform.lib.deidentify.refill import SourceShape, restore_source_shape
from synth_platform.settings import DATASETS_DIR

IDENTIFIERS = {
    "customer_id": "customer_id",
    "full_name": "full_name",
    "email": "email",
    "phone": "phone",
    "ssn": "ssn",
    "street_address": "street_address",
}
CHUNK_ROWS = 250_000


def _spec_and_plan():
    spec = load_instance(DATASETS_DIR / "adult_customers")
    spec = spec.model_copy(update={"columns": {c: spec.columns[c] for c in [*IDENTIFIERS, "sex"]}})
    plan = plan_masking(spec, {c: ("direct_identifier", t) for c, t in IDENTIFIERS.items()})
    plan = [t for t in plan if t.column != "sex"] + [
        ColumnTreatment("sex", "quasi_identifier", "sex", "keep")
    ]
    return spec, plan


def _sampled(rows: int, seed: int) -> pd.DataFrame:
    sexes = np.where(np.random.default_rng(seed).random(rows) < 0.5, "Female", "Male")
    return pd.DataFrame({"sex": pd.Series(sexes, dtype="category")})


def bench(rows: int, seed: int = 0) -> float:
    """Seconds to refill one whole frame of `rows` rows in this process."""
    spec, plan = _spec_and_plan()
    sampled = _sampled(rows, seed)
    started = time.perf_counter()
    restore_source_shape(sampled, spec, plan, seed=seed)
    return time.perf_counter() - started


def bench_chunked(rows: int, workers: int, seed: int = 0, chunk_rows: int = CHUNK_ROWS) -> float:
    """Seconds to refill `rows` rows in chunks with `workers` processes (worker start-up included)."""
    spec, plan = _spec_and_plan()
    sizes = [min(chunk_rows, rows - at) for at in range(0, rows, chunk_rows)]
    started = time.perf_counter()
    shape = SourceShape(spec, plan, seed, rows)
    for _frame in shape.chunks((_sampled(n, seed + i) for i, n in enumerate(sizes)), workers=workers):
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[39_073, 1_000_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    for rows in args.rows:
        chunked = ", ".join(f"{w} worker(s) {bench_chunked(rows, w):.2f} s" for w in args.workers)
        print(
            f"{rows:>9,} rows x {len(IDENTIFIERS)} identifier columns: whole frame {bench(rows):.2f} s; "
            f"in {CHUNK_ROWS:,}-row chunks: {chunked}"
        )


if __name__ == "__main__":
    main()
