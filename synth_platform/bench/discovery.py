"""Discovery benchmark: precision and recall per type on labelled tables the project generates.

Each table has opaque column names (`c00`, `c01`, ...) so that only the values can tell: identifier
columns drawn from several Faker locales and formats, with a share of malformed values (a card
number whose last digit a spreadsheet zeroed, an IP address that lost a dot, an SSN typed with
spaces, an e-mail without its `@`), and look-alike negatives (product codes, ZIP-like numbers,
amounts, counts, free-text categories, dates of events). The UCI Adult table is scored too: none
of its columns may be called a direct identifier.

`python -m synth_platform.bench.discovery` (and `make bench`) prints precision and recall per type
and per class, and checks the targets: recall >= 0.98 on direct identifiers without help from
names, no e-mail, SSN, card, IP, IBAN or phone column missed, no Adult column a direct identifier.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker import Faker

from synth_platform.lib.pii.detectors import DIRECT_TYPES
from synth_platform.lib.pii.discovery import discover

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL", "sv_SE")
#: Labels that must never be missed (class direct_identifier) in any table.
MUST_FIND = ("email", "ssn", "national_id", "credit_card", "ip_address", "iban", "phone")
NEGATIVE = "negative"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Column:
    label: str  # the true type, or "negative"
    pii_class: str  # the true class
    values: pd.Series


def _base58check(payload: bytes) -> str:
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number = int.from_bytes(payload + checksum, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(payload) - len(payload.lstrip(b"\0"))) + out


def _btc(rng: np.random.Generator) -> str:
    version = bytes([0 if rng.random() < 0.7 else 5])
    return _base58check(version + rng.bytes(20))


def _malform(values: list[str], rng: np.random.Generator, share: float, how: Callable[[str], str]) -> list:
    out = list(values)
    for i in np.flatnonzero(rng.random(len(out)) < share):
        out[i] = how(out[i])
    for i in np.flatnonzero(rng.random(len(out)) < 0.03):  # a few blanks, as in any real column
        out[i] = None
    return out


def _drop_char(rng: np.random.Generator) -> Callable[[str], str]:
    def how(value: str) -> str:
        if len(value) < 2:
            return value
        i = int(rng.integers(0, len(value)))
        return value[:i] + value[i + 1 :]

    return how


def labelled_table(seed: int, rows: int = 1000, locales: tuple[str, ...] = LOCALES) -> dict[str, Column]:
    """One table of labelled columns under opaque names, values from two of `locales`."""
    rng = np.random.default_rng(seed)
    picked = [locales[(seed * 2 + k) % len(locales)] for k in range(2)]
    fakes = [Faker(loc) for loc in picked]
    for k, fake in enumerate(fakes):
        fake.seed_instance(seed * 10 + k)
    us = Faker("en_US")
    us.seed_instance(seed)

    def draw(make: Callable[[Faker], str], fake: Faker | None = None) -> list[str]:
        return [make(fake or fakes[i % len(fakes)]) for i in range(rows)]

    drop = _drop_char(rng)
    columns: list[tuple[str, str, list]] = []

    def add(label: str, cls: str, values: list, share: float = 0.05, how: Callable[[str], str] = drop):
        columns.append((label, cls, _malform(values, rng, share, how)))

    direct, quasi = "direct_identifier", "quasi_identifier"
    add("email", direct, draw(lambda f: f.email()), 0.05, lambda v: v.replace("@", " at "))
    add("email", direct, draw(lambda f: f.free_email()), 0.02)
    for fake in fakes:
        add("phone", direct, draw(lambda f: f.phone_number(), fake))
    add("phone", direct, draw(lambda f: f.phone_number(), us), 0.05)
    add("ssn", direct, draw(lambda f: f.ssn(), us), 0.1, lambda v: v.replace("-", " "))
    add("ssn", direct, draw(lambda f: f.ssn().replace("-", ""), us), 0.03)
    national = [fake for fake, loc in zip(fakes, picked, strict=True) if loc in _NATIONAL_ID_LOCALES]
    for fake in national:
        add("national_id", direct, draw(lambda f: f.ssn(), fake), 0.05)

    def spreadsheet(value: str) -> str:  # Excel keeps 15 significant digits: the last one becomes 0
        digits = value.replace(" ", "")
        return digits[:-1] + "0"

    add("credit_card", direct, draw(lambda f: f.credit_card_number(), us), 0.15, spreadsheet)
    add(
        "credit_card",
        direct,
        [" ".join(v[i : i + 4] for i in range(0, len(v), 4)) for v in draw(lambda f: f.credit_card_number())],
        0.05,
    )
    add("ip_address", direct, draw(lambda f: f.ipv4()), 0.05, lambda v: v.replace(".", "", 1))
    add("ip_address", direct, draw(lambda f: f.ipv6()), 0.03)
    add("iban", direct, draw(lambda f: f.iban()), 0.05)
    add("mac_address", direct, draw(lambda f: f.mac_address()), 0.03)
    add("url", direct, [f"{us.url()}user/{us.user_name()}{i}" for i in range(rows)], 0.03)
    add("crypto_wallet", direct, [_btc(rng) for _ in range(rows)], 0.03)
    add("crypto_wallet", direct, ["0x" + rng.bytes(20).hex() for _ in range(rows)], 0.03)
    for fake in fakes:
        add("first_name", direct, draw(lambda f: f.first_name(), fake), 0.03, str.lower)
        add("last_name", direct, draw(lambda f: f.last_name(), fake), 0.03, str.upper)
        add("full_name", direct, draw(lambda f: f.name(), fake), 0.03)
        add("street_address", direct, draw(lambda f: f.street_address().replace("\n", ", "), fake), 0.03)
    add(
        "full_name",
        direct,
        [
            f"{last}, {first}"
            for first, last in zip(draw(lambda f: f.first_name()), draw(lambda f: f.last_name()), strict=True)
        ],
        0.03,
    )
    add(
        "free_text",
        direct,
        [
            f"{us.sentence(nb_words=6)} Contact {us.email() if rng.random() < 0.5 else us.phone_number()}."
            if rng.random() < 0.3
            else us.sentence(nb_words=10)
            for _ in range(rows)
        ],
        0.0,
    )
    add("record_id", direct, [str(i) for i in rng.permutation(rows) + 1], 0.0)
    add("date_of_birth", quasi, draw(lambda f: f.date_of_birth(minimum_age=18).isoformat()), 0.02)
    add("zip_code", quasi, [f"{z:05d}" for z in rng.integers(501, 99_950, rows)], 0.0)

    # Look-alike negatives.
    other = "other"
    codes = np.array([us.bothify("PRD-####-??").upper() for _ in range(max(rows // 8, 10))])
    add(NEGATIVE, other, list(codes[rng.integers(0, len(codes), rows)]), 0.0)
    skus = np.array([us.ean13() for _ in range(max(rows // 10, 10))])
    add(NEGATIVE, other, list(skus[rng.integers(0, len(skus), rows)]), 0.0)
    add(NEGATIVE, other, [f"{x:.2f}" for x in rng.lognormal(4, 1.5, rows)], 0.0)
    add(NEGATIVE, other, [f"{x:,.2f}" for x in rng.lognormal(8, 1.0, rows)], 0.0)
    add(NEGATIVE, other, [str(x) for x in rng.integers(0, 40, rows)], 0.0)
    add(NEGATIVE, other, [f"{x:07d}" for x in rng.integers(0, 10_000, rows)], 0.0)
    categories = ["late payer", "vip", "ok", "new customer", "churn risk", "do not call", "moved abroad"]
    add(NEGATIVE, other, list(rng.choice(categories, rows)), 0.0)
    add(NEGATIVE, other, list(rng.choice(["Gold", "Silver", "Bronze", "Platinum"], rows)), 0.0)
    add(NEGATIVE, other, draw(lambda f: f.date_between("-2y").isoformat()), 0.0)
    add(NEGATIVE, other, list(rng.choice([us.country() for _ in range(40)], rows)), 0.0)
    add(NEGATIVE, other, list(rng.choice([us.job() for _ in range(60)], rows)), 0.0)
    add(NEGATIVE, other, list(rng.choice(["Y", "N"], rows)), 0.0)

    order = rng.permutation(len(columns))
    return {
        f"c{n:02d}": Column(columns[i][0], columns[i][1], pd.Series(columns[i][2], dtype=object))
        for n, i in enumerate(order)
    }


_NATIONAL_ID_LOCALES = {"fr_FR", "it_IT", "pt_BR", "pl_PL", "sv_SE", "en_GB"}


def score(tables: list[dict[str, Column]]) -> dict:
    """Precision / recall per type and for the direct-identifier class, and the misses by label."""
    true_pos: dict[str, int] = defaultdict(int)
    predicted: dict[str, int] = defaultdict(int)
    actual: dict[str, int] = defaultdict(int)
    direct = {"tp": 0, "fp": 0, "fn": 0}
    missed: dict[str, int] = defaultdict(int)
    false_direct: dict[str, int] = defaultdict(int)
    for table in tables:
        frame = pd.DataFrame({name: column.values for name, column in table.items()})
        for finding in discover(frame):
            column = table[finding.column]
            kind = finding.detected_type if finding.pii_class != "other" else None
            if column.label != NEGATIVE:
                actual[column.label] += 1
            if kind is not None:
                predicted[kind] += 1
                true_pos[kind] += kind == column.label
            is_direct = finding.pii_class == "direct_identifier"
            truly_direct = column.pii_class == "direct_identifier"
            direct["tp"] += is_direct and truly_direct
            direct["fp"] += is_direct and not truly_direct
            direct["fn"] += truly_direct and not is_direct
            if truly_direct and not is_direct:
                missed[column.label] += 1
            if is_direct and not truly_direct:
                false_direct[column.label] += 1
    per_type = {
        kind: {
            "columns": actual.get(kind, 0),
            "precision": round(true_pos[kind] / predicted[kind], 4) if predicted.get(kind) else None,
            "recall": round(true_pos[kind] / actual[kind], 4) if actual.get(kind) else None,
        }
        for kind in sorted(set(actual) | set(predicted))
    }
    found = direct["tp"] + direct["fn"]
    return {
        "per_type": per_type,
        "direct_identifier": {
            "columns": found,
            "recall": round(direct["tp"] / found, 4) if found else None,
            "precision": round(direct["tp"] / (direct["tp"] + direct["fp"]), 4)
            if direct["tp"] + direct["fp"]
            else None,
        },
        "missed_direct_by_label": dict(missed),
        "false_direct_by_label": dict(false_direct),
    }


def adult_false_direct() -> list[str]:
    """Adult columns called a direct identifier (as pandas reads them, and as all-text)."""
    from synth_platform.lib.demo_data import load_adult

    adult = load_adult()
    wrong = [f.column for f in discover(adult) if f.pii_class == "direct_identifier"]
    wrong += [
        f"{f.column} (as text)" for f in discover(adult.astype(str)) if f.pii_class == "direct_identifier"
    ]
    return wrong


def run(tables: int = 8, rows: int = 1000) -> dict:
    started = time.perf_counter()
    generated = [labelled_table(seed, rows) for seed in range(tables)]
    generated_s = time.perf_counter() - started
    started = time.perf_counter()
    result = score(generated)
    result["discovery_seconds_per_table"] = round((time.perf_counter() - started) / tables, 3)
    result["generation_seconds"] = round(generated_s, 2)
    result["adult_false_direct"] = adult_false_direct()
    direct_recall = result["direct_identifier"]["recall"] or 0.0
    must_missed = {k: v for k, v in result["missed_direct_by_label"].items() if k in MUST_FIND}
    result["targets"] = {
        "direct_recall_at_least_0.98": direct_recall >= 0.98,
        "no_must_find_column_missed": not must_missed,
        "no_adult_column_direct": not result["adult_false_direct"],
    }
    return result


def print_report(result: dict) -> None:
    print(f"{'type':<18}{'columns':>8}{'precision':>11}{'recall':>9}")
    for kind, figures in result["per_type"].items():
        precision = "-" if figures["precision"] is None else f"{figures['precision']:.3f}"
        recall = "-" if figures["recall"] is None else f"{figures['recall']:.3f}"
        print(f"{kind:<18}{figures['columns']:>8}{precision:>11}{recall:>9}")
    d = result["direct_identifier"]
    print(
        f"\ndirect identifiers (class): {d['columns']} columns, "
        f"recall {d['recall']}, precision {d['precision']}"
    )
    print(f"missed direct identifiers by label: {result['missed_direct_by_label'] or 'none'}")
    print(f"negatives / quasi called direct: {result['false_direct_by_label'] or 'none'}")
    print(f"Adult columns called direct: {result['adult_false_direct'] or 'none'}")
    print(f"discovery: {result['discovery_seconds_per_table']} s per table")
    for target, met in result["targets"].items():
        print(f"target {target}: {'met' if met else 'NOT MET'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=8)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args(argv)
    result = run(args.tables, args.rows)
    print_report(result)
    from synth_platform.settings import PROJECT_ROOT

    out = PROJECT_ROOT / "data" / "bench" / "discovery.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()


__all__ = ["DIRECT_TYPES", "labelled_table", "run", "score"]
