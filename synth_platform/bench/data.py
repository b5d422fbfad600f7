"""Landing files of the demo's shape at any size, streamed in chunks: `make bench-data ROWS=10000000`.

UCI Adult (48,842 rows) resampled with replacement to `rows` rows, each row given fresh seeded
identifiers of the same kinds and formats `lib.demo_data.enrich_with_identifiers` makes (id, full
name matching the row's sex, e-mail from the name, phone, SSN, street address, ZIP, date of birth
consistent with age). The file is written a chunk at a time, so ten million rows (~2.3 GB of CSV)
never sit in memory: what is drawn for the whole file up front is small integer arrays (which Adult
row, which name, which SSN), since two identifiers must be unique over the whole file, not a chunk:

* `customer_id`: a seeded permutation of 1..rows;
* `ssn`: distinct numbers drawn from the valid SSN space, so no two rows share one;
* `email`: first.last@domain, with a counter suffix on every local part that occurs more than once
  in the file (as `enrich_with_identifiers` does within its frame).

Files are cached under data/bench/landing/ (gitignored), named by rows, seed and `GENERATOR`: same
arguments, same bytes, so a bench reuses a file instead of spending minutes rebuilding it. A change
to how identifiers are drawn must bump `GENERATOR`, or a bench keeps measuring files of the old
kind: a 10M-row bench once blocked on files cached before the demo's phones left the fictional
555-01xx range the refill draws from.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker

from synth_platform.lib.demo_data import (
    _MAIL_DOMAINS,
    AS_OF,
    _dates_of_birth,
    _phones,
    _street_addresses,
    load_adult,
)
from synth_platform.lib.storage.private_files import make_parents_private
from synth_platform.settings import PROJECT_ROOT

BENCH_LANDING = PROJECT_ROOT / "data" / "bench" / "landing"
CHUNK_ROWS = 250_000
#: bump when the generated identifiers change (2: phones outside NANP 555-0100..0199)
GENERATOR = 2
NAME_POOL = 3000  # as enrich_with_identifiers at >= 3000 rows: few unused name pairs at 10M rows

# Valid SSNs: area 001-899 without 666, group 01-99, serial 0001-9999 (as lib.demo_data._unique_ssns).
_AREAS = np.array([a for a in range(1, 900) if a != 666])
_SSN_SPACE = len(_AREAS) * 99 * 9999


def landing_path(rows: int, seed: int, dest_dir: Path = BENCH_LANDING) -> Path:
    """The cached landing file of these arguments and of this `GENERATOR`."""
    return dest_dir / f"customers_{rows}_seed{seed}_g{GENERATOR}.csv"


def unique_ssn_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` distinct indexes into the valid SSN space, in random order.

    Vectorised rejection: draw a little more than needed, keep first occurrences in draw order,
    repeat for the shortfall. Ten million of ~889 million collide on ~5% of draws, one extra round.
    """
    if n > _SSN_SPACE:
        raise ValueError(f"only {_SSN_SPACE:,} distinct SSNs exist; {n:,} were asked for")
    taken = np.empty(0, dtype=np.int64)
    while len(taken) < n:
        need = n - len(taken)
        drawn = rng.integers(0, _SSN_SPACE, int(need * 1.1) + 16, dtype=np.int64)
        pool = np.concatenate([taken, drawn])
        _, first = np.unique(pool, return_index=True)
        taken = pool[np.sort(first)]  # keeps what was already taken, then new values in draw order
        taken = taken[:n]
    return taken


def format_ssns(numbers: np.ndarray) -> list[str]:
    """SSN indexes (from `unique_ssn_numbers`) as ###-##-####; a bijection, so distinct stays distinct."""
    area = _AREAS[numbers // (99 * 9999)]
    group = numbers // 9999 % 99 + 1
    serial = numbers % 9999 + 1
    return [f"{a:03d}-{g:02d}-{s:04d}" for a, g, s in zip(area, group, serial, strict=True)]


class _Names:
    """Faker name pools drawn once (as enrich_with_identifiers does), with e-mail local parts by index."""

    def __init__(self, fake: Faker, pool: int) -> None:
        self.female = np.array([fake.first_name_female() for _ in range(pool)])
        self.male = np.array([fake.first_name_male() for _ in range(pool)])
        self.surnames = np.array([fake.last_name() for _ in range(pool)])
        firsts = np.concatenate([self.female, self.male])
        # e-mail local parts are lower-cased without apostrophes: equal ones share a code
        self.first_local, self.first_code = np.unique(
            np.char.replace(np.char.lower(firsts.astype(str)), "'", ""), return_inverse=True
        )
        self.last_local, self.last_code = np.unique(
            np.char.replace(np.char.lower(self.surnames.astype(str)), "'", ""), return_inverse=True
        )

    def local_codes(self, first_index: np.ndarray, last_index: np.ndarray) -> np.ndarray:
        """One integer per distinct e-mail local part (first.last), for counting repeats file-wide."""
        return (
            self.first_code[first_index].astype(np.int64) * len(self.last_local) + self.last_code[last_index]
        )


def email_suffixes(codes: np.ndarray) -> np.ndarray:
    """Per row: -1 for a local part that occurs once in the file, else its 0-based occurrence number."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(codes)), 0))
    occurrence = np.arange(len(codes)) - group_start
    counts = np.bincount(np.cumsum(starts) - 1)[np.cumsum(starts) - 1]
    suffix = np.empty(len(codes), dtype=np.int64)
    suffix[order] = np.where(counts > 1, occurrence, -1)
    return suffix


def generate_chunks(rows: int, seed: int = 2026, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The landing table in chunks of `chunk_rows`: identifiers first, then Adult's columns."""
    adult = load_adult()
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    names = _Names(fake, NAME_POOL)
    pool = NAME_POOL
    # Whole-file draws, all small integer arrays (~50 bytes a row).
    source_rows = rng.integers(0, len(adult), rows)
    is_female = adult["sex"].astype("string").str.lower().str.startswith("f").fillna(False).to_numpy()
    female_row = is_female[source_rows]
    first_index = np.where(female_row, rng.integers(0, pool, rows), pool + rng.integers(0, pool, rows))
    last_index = rng.integers(0, pool, rows)
    suffixes = email_suffixes(names.local_codes(first_index, last_index))
    customer_ids = rng.permutation(rows) + 1
    ssns = unique_ssn_numbers(rng, rows)
    firsts = np.concatenate([names.female, names.male])
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        n = stop - start
        chunk_rng = np.random.default_rng([seed, start])  # per chunk: phones, streets, ZIPs, birthdays
        part = adult.iloc[source_rows[start:stop]].reset_index(drop=True)
        first = firsts[first_index[start:stop]]
        last = names.surnames[last_index[start:stop]]
        local = np.char.add(
            np.char.add(names.first_local[names.first_code[first_index[start:stop]]], "."),
            names.last_local[names.last_code[last_index[start:stop]]],
        )
        suffix = suffixes[start:stop]
        domain = _MAIL_DOMAINS[chunk_rng.integers(0, len(_MAIL_DOMAINS), n)]
        identifiers = pd.DataFrame(
            {
                "customer_id": [f"CUST-{i:07d}" for i in customer_ids[start:stop]],
                "full_name": [f"{f} {la}" for f, la in zip(first, last, strict=True)],
                "email": [
                    f"{lo}{s if s >= 0 else ''}@{d}" for lo, s, d in zip(local, suffix, domain, strict=True)
                ],
                "phone": _phones(chunk_rng, n),
                "ssn": format_ssns(ssns[start:stop]),
                "street_address": _street_addresses(fake, chunk_rng, n, 200),
                "zip_code": [f"{z:05d}" for z in chunk_rng.integers(501, 99_951, n)],
                "date_of_birth": _dates_of_birth(chunk_rng, part["age"], AS_OF),
            }
        )
        yield pd.concat([identifiers, part], axis=1)


def write_landing_file(
    rows: int, seed: int = 2026, dest_dir: Path = BENCH_LANDING, force: bool = False
) -> Path:
    """Write (or reuse) the landing file of `rows` rows; written to a temporary name, then renamed,
    so an interrupted build never leaves a truncated file that a later bench would take as done."""
    path = landing_path(rows, seed, dest_dir)
    if path.exists() and not force:
        return path
    make_parents_private(dest_dir)
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # plays real customer data
    with os.fdopen(fd, "w", newline="") as out:
        for index, chunk in enumerate(generate_chunks(rows, seed)):
            chunk.to_csv(out, index=False, header=index == 0)
    partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--force", action="store_true", help="rebuild even when the file exists")
    args = parser.parse_args(argv)
    for rows in args.rows:
        started = time.perf_counter()
        path = write_landing_file(rows, args.seed, force=args.force)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        print(
            f"{rows:,} rows: {path} ({path.stat().st_size / 1e9:.2f} GB) in "
            f"{time.perf_counter() - started:.1f} s, peak RSS so far {peak:.2f} GB",
            flush=True,
        )


if __name__ == "__main__":
    main()
