"""Seconds to refill the demo's identifier columns from reserved spaces, for a few row counts.

The refill reads no raw value, so no source table is needed: a synthetic frame with a `sex`
column (names follow it) and the demo spec's identifier columns (customer_id, full_name, email,
phone, ssn, street_address) with their detected types are enough.

`python -m synth_platform.bench.refill [--rows 39073 1000000]`; prints one line per row count.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from synth_platform.lib.deidentify.masking import ColumnTreatment, plan_masking
from synth_platform.lib.deidentify.refill import restore_source_shape
from synth_platform.lib.spec import load_spec
from synth_platform.settings import PROJECT_ROOT

IDENTIFIERS = {
    "customer_id": "customer_id",
    "full_name": "full_name",
    "email": "email",
    "phone": "phone",
    "ssn": "ssn",
    "street_address": "street_address",
}


def bench(rows: int, seed: int = 0) -> float:
    spec = load_spec(PROJECT_ROOT / "config" / "datasets" / "adult_customers.yaml")
    spec = spec.model_copy(update={"columns": {c: spec.columns[c] for c in [*IDENTIFIERS, "sex"]}})
    plan = plan_masking(spec, {c: ("direct_identifier", t) for c, t in IDENTIFIERS.items()})
    plan = [t for t in plan if t.column != "sex"] + [
        ColumnTreatment("sex", "quasi_identifier", "sex", "keep")
    ]
    sexes = np.where(np.random.default_rng(seed).random(rows) < 0.5, "Female", "Male")
    sampled = pd.DataFrame({"sex": pd.Series(sexes, dtype="category")})
    started = time.perf_counter()
    restore_source_shape(sampled, spec, plan, seed=seed)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[39_073, 1_000_000])
    for rows in parser.parse_args().rows:
        print(f"{rows:>9,} rows x {len(IDENTIFIERS)} identifier columns: {bench(rows):.2f} s")


if __name__ == "__main__":
    main()
