"""Demo landing data: UCI Adult enriched with seeded fake customer identifiers.

Adult has no direct identifiers, so on its own it would not exercise discovery or
masking. Each row gets what a real customer table has: id, full name (matching the
row's sex), e-mail derived from the name, phone, SSN, street address, ZIP code and a
date of birth consistent with `age` at AS_OF. Everything is seeded: the same seed
gives the same bytes. Numpy draws what it can; Faker only the names and streets.

`python -m synth_platform.lib.demo_data` writes the demo landing file for the demo dataset
(`make dev` runs it); the one demo-data module, Dagster-free like the rest of `lib/`.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker

from synth_platform.lib.storage.private_files import make_parents_private, write_private

DEMO_SOURCE = Path(__file__).resolve().parents[2] / "data" / "demo" / "adult.csv.gz"
#: Where `main` writes by default: the demo dataset's landing folder in this checkout.
DEMO_LANDING = Path(__file__).resolve().parents[2] / "data" / "landing" / "adult_customers"
AS_OF = date(2026, 1, 1)
IDENTIFIER_COLUMNS = [
    "customer_id",
    "full_name",
    "email",
    "phone",
    "ssn",
    "street_address",
    "zip_code",
    "date_of_birth",
]
_MAIL_DOMAINS = np.array(["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com", "icloud.com"])


def load_adult(path: Path = DEMO_SOURCE, rows: int | None = None) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], nrows=rows)
    return frame.reset_index(drop=True)


def _unique_ssns(rng: np.random.Generator, n: int) -> np.ndarray:
    """Valid-looking SSNs: area 001-899 but not 666, group 01-99, serial 0001-9999, no repeats."""
    numbers: set[int] = set()
    out: list[int] = []
    while len(out) < n:
        need = n - len(out)
        area = rng.integers(1, 900, need * 2)
        area = area[area != 666]
        group = rng.integers(1, 100, len(area))
        serial = rng.integers(1, 10_000, len(area))
        for a, g, s in zip(area, group, serial, strict=True):
            value = int(a) * 1_000_000 + int(g) * 10_000 + int(s)
            if value not in numbers:
                numbers.add(value)
                out.append(value)
                if len(out) == n:
                    break
    values = np.array(out)
    return np.array([f"{v // 1_000_000:03d}-{v // 10_000 % 100:02d}-{v % 10_000:04d}" for v in values])


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    area = rng.integers(201, 990, n)
    exchange = rng.integers(200, 1000, n)
    line = rng.integers(0, 10_000, n)
    # Real subscribers never hold the fictional 555-0100..0199 numbers the refill draws from.
    line[(exchange == 555) & (line >= 100) & (line <= 199)] += 100
    style = rng.integers(0, 4, n)
    formats = [
        "({a}) {e}-{l}",
        "{a}-{e}-{l}",
        "{a}.{e}.{l}",
        "+1-{a}-{e}-{l}",
    ]
    return np.array(
        [
            formats[s].format(a=a, e=e, l=f"{ln:04d}")
            for a, e, ln, s in zip(area, exchange, line, style, strict=True)
        ]
    )


def _dates_of_birth(rng: np.random.Generator, ages: pd.Series, as_of: date) -> pd.Series:
    """A date of birth such that the full years between it and as_of equal the age."""
    years = pd.to_numeric(ages, errors="coerce")
    parts = {"month": np.full(len(ages), as_of.month), "day": np.full(len(ages), as_of.day)}
    latest = pd.to_datetime({"year": as_of.year - years, **parts}, errors="coerce")  # birthday today
    earliest = pd.to_datetime({"year": as_of.year - years - 1, **parts}, errors="coerce") + pd.Timedelta(
        days=1
    )
    span_days = (latest - earliest).dt.days
    offset = np.floor(rng.random(len(ages)) * (span_days + 1)).fillna(0)
    born = earliest + pd.to_timedelta(offset, unit="D")
    return born.dt.strftime("%Y-%m-%d").where(born.notna(), None)


def _street_addresses(fake: Faker, rng: np.random.Generator, n: int, pool: int) -> list[str]:
    streets = np.array([fake.street_name() for _ in range(pool)])
    numbers = rng.integers(1, 99_999, n)
    street = streets[rng.integers(0, len(streets), n)]
    unit_kind = rng.choice(np.array(["", "", "", "Apt. ", "Suite "]), n)
    unit = rng.integers(1, 999, n)
    return [
        f"{num} {st}" + (f" {kind}{u}" if kind else "")
        for num, st, kind, u in zip(numbers, street, unit_kind, unit, strict=True)
    ]


def enrich_with_identifiers(adult: pd.DataFrame, seed: int = 2026, as_of: date = AS_OF) -> pd.DataFrame:
    n = len(adult)
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    # Faker is ~0.1 ms a call: draw pools once, then pick from them with numpy.
    pool = max(200, min(n, 3000))
    female = np.array([fake.first_name_female() for _ in range(pool)])
    male = np.array([fake.first_name_male() for _ in range(pool)])
    surnames = np.array([fake.last_name() for _ in range(pool)])
    is_female = adult["sex"].astype("string").str.lower().str.startswith("f").fillna(False).to_numpy()
    first = np.where(is_female, female[rng.integers(0, pool, n)], male[rng.integers(0, pool, n)])
    last = surnames[rng.integers(0, pool, n)]
    full_name = [f"{f} {la}" for f, la in zip(first, last, strict=True)]
    local = pd.Series([f"{f}.{la}".lower().replace("'", "") for f, la in zip(first, last, strict=True)])
    suffix = local.groupby(local).cumcount().astype(str).where(local.duplicated(keep=False), "")
    email = local + suffix + "@" + pd.Series(_MAIL_DOMAINS[rng.integers(0, len(_MAIL_DOMAINS), n)])
    identifiers = pd.DataFrame(
        {
            "customer_id": [f"CUST-{i:07d}" for i in rng.permutation(n) + 1],
            "full_name": full_name,
            "email": email,
            "phone": _phones(rng, n),
            "ssn": _unique_ssns(rng, n),
            "street_address": _street_addresses(fake, rng, n, pool),
            "zip_code": [f"{z:05d}" for z in rng.integers(501, 99_951, n)],
            "date_of_birth": _dates_of_birth(rng, adult["age"], as_of),
        }
    )
    return pd.concat([identifiers, adult.reset_index(drop=True)], axis=1)


def write_demo_landing_file(dest_dir: Path, rows: int | None = None, seed: int = 2026) -> Path:
    """Write (or reuse, when already there) the demo landing file; same arguments, same bytes."""
    make_parents_private(dest_dir)
    path = dest_dir / f"customers_{seed}_{rows or 'all'}.csv"
    if path.exists():
        return path
    frame = enrich_with_identifiers(load_adult(rows=rows), seed=seed)
    # It plays the part of real customer data: owner-only (0600), like the warehouse it lands in.
    write_private(path, frame.to_csv(index=False))
    return path


def main() -> None:
    """The command line: write the demo landing file (all of Adult unless --rows) and print its path."""
    parser = argparse.ArgumentParser(
        description="Write the demo landing file (UCI Adult with seeded fake identifiers)."
    )
    parser.add_argument("--rows", type=int, default=None, help="first N rows of Adult (default: all 48,842)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=DEMO_LANDING)
    args = parser.parse_args()
    path = write_demo_landing_file(args.out, rows=args.rows, seed=args.seed)
    print(path)


if __name__ == "__main__":
    main()
