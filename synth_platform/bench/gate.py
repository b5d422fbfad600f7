"""False-block benchmark: how often each release-gate check blocks an *honest* generator.

An honest generator (GaussianCopula, fitted on the training split only) produces what the
training data allows; a check that blocks it is a false block. This runs the domain chain
(discovery, masking, split, fit, sample, refill, the gate) without the orchestrator on
tables the project generates in shapes unlike the demo, and prints each check's false-block
rate over them:

* `numeric_credit`: all-numeric, billing and payment amounts (tens of thousands of rows);
* `adult_4k`, `adult_6k`: random samples of the demo's own table with fake identifiers;
* `opaque_identifiers`: mostly identifier columns under names that say nothing, key 1..N;
* `odd_names`: column names with spaces, dashes, dots, digits, reserved words, non-ASCII;
* `notes`: a free-text column with embedded e-mails and phone numbers.

The same generators feed the tests (`synth_platform_tests/test_odd_tables*.py`).
`python -m synth_platform.bench.gate [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker

from synth_platform.lib.deidentify import refill
from synth_platform.lib.deidentify.masking import apply_masking, plan_masking
from synth_platform.lib.gate import evaluation
from synth_platform.lib.pii import discovery
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage.ingest import coerce_types
from synth_platform.lib.synthesize import synthesis
from synth_platform.lib.synthesize.split import split_train_holdout


def _spec(name: str, columns: dict[str, str], key: str | None = None, **extra) -> dict:
    spec = {
        "name": name,
        "source": {"landing_dir": f"data/landing/{name}", "format": "csv", "min_rows": 50},
        "columns": {c: {"type": t} for c, t in columns.items()},
        "checks": {"evaluation_rows": 1500},
        # these honest tables test discovery, odd shapes and the gate's false blocks with a fast,
        # non-private generator, chosen explicitly (the default is dp_mst under a budget)
        "synthesizer": {"kind": "gaussian_copula"},
        "privacy": {"epsilon_budget": None},
    }
    if key:
        spec["key"] = key
    spec.update(extra)
    return spec


def numeric_credit(rows: int = 30_000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """A credit-default-like table: all numeric, amounts with heavy tails and a few negatives."""
    rng = np.random.default_rng(seed)
    limit = rng.choice([10_000, 20_000, 50_000, 80_000, 100_000, 200_000, 500_000], rows)
    data: dict[str, np.ndarray] = {
        "id": rng.permutation(rows) + 1,
        "limit_bal": limit,
        "age": rng.integers(21, 75, rows),
    }
    for i in range(1, 7):
        data[f"pay_{i}"] = rng.integers(-2, 9, rows)
    for i in range(1, 7):
        owed = rng.gamma(0.7, limit / 3) - rng.exponential(300, rows) * (rng.random(rows) < 0.05)
        data[f"bill_amt{i}"] = np.round(owed, 2)
    for i in range(1, 7):
        data[f"pay_amt{i}"] = np.round(rng.exponential(limit / 40), 0)
    data["default_next_month"] = rng.integers(0, 2, rows)
    frame = pd.DataFrame(data)
    types = {c: "float" if c.startswith("bill_amt") else "integer" for c in frame.columns}
    return frame, _spec("numeric_credit", types, key="id")


def opaque_identifiers(rows: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """A legacy customer table: mostly identifiers, names that say nothing, an integer key 1..N."""
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    ips = [fake.ipv4() for _ in range(rows)]
    for i in np.flatnonzero(rng.random(rows) < 0.03):
        ips[i] = ips[i].replace(".", "", 1)  # a few lost a dot
    cards = [fake.credit_card_number() for _ in range(rows)]
    for i in np.flatnonzero(rng.random(rows) < 0.1):
        cards[i] = cards[i][:-1] + "0"  # a spreadsheet round trip
    frame = pd.DataFrame(
        {
            "k": np.arange(1, rows + 1),
            "f1": [fake.first_name() for _ in range(rows)],
            "f2": [fake.last_name() for _ in range(rows)],
            "f3": [fake.email() for _ in range(rows)],
            "f4": [fake.ssn() for _ in range(rows)],
            "f5": ips,
            "f6": cards,
            "f7": ["0x" + rng.bytes(20).hex() for _ in range(rows)],
            "f8": [fake.street_address() for _ in range(rows)],
            "f9": [fake.phone_number() for _ in range(rows)],
            "seg": rng.choice(["retail", "sme", "corporate"], rows, p=[0.7, 0.2, 0.1]),
            "bal": np.round(rng.lognormal(7, 1.2, rows), 2),
            "n_tx": rng.poisson(12, rows),
        }
    )
    types = {c: "string" for c in frame.columns} | {"k": "integer", "bal": "float", "n_tx": "integer"}
    types["seg"] = "category"
    # 1,000 rows: a 45% holdout keeps the 200 rows the privacy attacks need plus the private gate's
    # noise margin, whatever the key (lib.synthesize.split.rows_needed; ingest refuses less).
    return frame, _spec("opaque_identifiers", types, key="k", split={"holdout_fraction": 0.45})


ODD_NAMES = ["0-5km", "5-10km", "split time", "Runner.Club", "order", "select", "default", "month", "Età"]


def odd_names(rows: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Race results whose column names no SQL identifier rule allows unquoted."""
    rng = np.random.default_rng(seed)
    base = rng.normal(1500, 200, rows)
    frame = pd.DataFrame(
        {
            "0-5km": np.round(base, 1),
            "5-10km": np.round(base * rng.normal(1.03, 0.04, rows), 1),
            "split time": np.round(base * 2.05 + rng.normal(0, 30, rows), 1),
            "Runner.Club": rng.choice(["Harriers", "Striders", "Road Runners", "None"], rows),
            "order": rng.integers(1, 5000, rows),
            "select": rng.choice(["M35", "M40", "F35", "F40", "M50", "F50"], rows),
            "default": rng.choice(["yes", "no"], rows),
            "month": rng.integers(1, 13, rows),
            "Età": rng.integers(18, 80, rows),
        }
    )
    types = {c: "float" for c in ODD_NAMES[:3]} | {
        c: "category" for c in ("Runner.Club", "select", "default")
    }
    types |= {"order": "integer", "month": "integer", "Età": "integer"}
    return frame, _spec("odd_names", {c: types[c] for c in ODD_NAMES})


def notes(rows: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Support tickets: a free-text column embedding e-mails and phone numbers, plus categories."""
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    texts = []
    for _ in range(rows):
        draw = rng.random()
        if draw < 0.25:
            texts.append(f"Customer asked to be called back on {fake.phone_number()} after {fake.time()}.")
        elif draw < 0.5:
            texts.append(f"Sent the invoice again to {fake.email()}, {fake.sentence(nb_words=5)}")
        else:
            texts.append(fake.sentence(nb_words=int(rng.integers(6, 14))))
    frame = pd.DataFrame(
        {
            "ticket": [f"T-{i:06d}" for i in rng.permutation(rows) + 1],
            "channel": rng.choice(["phone", "email", "chat"], rows),
            "minutes": np.round(rng.gamma(2, 6, rows), 1),
            "resolved": rng.choice(["true", "false"], rows, p=[0.8, 0.2]),
            "note": texts,
        }
    )
    types = {"ticket": "string", "channel": "category", "minutes": "float", "resolved": "boolean"}
    types["note"] = "string"
    return frame, _spec("notes", types, key="ticket")


def adult_sample(rows: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """A random sample of the demo's table, with its fake identifiers, under the demo's spec."""

    from synth_platform.lib.dataset_instances import read_spec_dict
    from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
    from synth_platform.settings import DATASETS_DIR

    adult = load_adult()
    frame = enrich_with_identifiers(adult.sample(rows, random_state=seed).reset_index(drop=True), seed=seed)
    spec = read_spec_dict(DATASETS_DIR / "adult_customers")
    spec["name"] = f"adult_{rows}"
    spec.setdefault("checks", {})["evaluation_rows"] = 1500
    return frame, spec


TABLES = {
    "numeric_credit": lambda quick: numeric_credit(8_000 if quick else 30_000),
    "adult_4k": lambda quick: adult_sample(4_000, 1),
    "adult_6k": lambda quick: adult_sample(6_000, 2),
    "opaque_identifiers": lambda quick: opaque_identifiers(1000),
    "odd_names": lambda quick: odd_names(2000),
    "notes": lambda quick: notes(1500),
}


def as_ingested(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The frame as ingest would type it from a CSV file (text in, spec types out)."""
    text = frame.astype(object).where(frame.notna(), None).map(lambda v: None if v is None else str(v))
    return coerce_types(text, spec, "generated")


def honest_chain(frame: pd.DataFrame, spec_dict: dict, seed: int = 0) -> dict:
    """Discovery -> masking -> split -> GaussianCopula -> refill -> the release gate, in memory.

    Returns the findings, the plan, the synthetic table and the gate report.
    """
    spec = DatasetSpec.model_validate(spec_dict)
    source = as_ingested(frame, spec)
    hints = {n: (c.pii.pii_class, c.pii.type) for n, c in spec.columns.items() if c.pii}
    findings = discovery.discover(source, hints=hints)
    plan = plan_masking(spec, {f.column: (f.pii_class, f.detected_type) for f in findings})
    masked, _ = apply_masking(source, plan, spec, b"bench-key")
    train, holdout = split_train_holdout(masked, spec.split.holdout_fraction, spec.split.seed, spec.key)
    model_columns = [t.column for t in plan if t.reaches_model]
    with tempfile.TemporaryDirectory() as tmp:
        model = synthesis.fit_and_save(
            train[model_columns], "gaussian_copula", synthesis.copula_params(spec), seed, Path(tmp)
        )
        sampled = synthesis.load_and_sample(model, len(train), seed=seed)
    identifier_columns = [t.column for t in plan if not t.reaches_model]
    raw_identifiers = [source[c] for c in identifier_columns]
    shaped = refill.restore_source_shape(sampled, spec, plan, seed=seed)
    report = evaluation.evaluate(spec, plan, shaped, train, holdout, raw_identifiers)
    return {"source": source, "findings": findings, "plan": plan, "synthetic": shaped, "report": report}


def run(quick: bool = False) -> dict:
    results: dict[str, dict] = {}
    for name, make in TABLES.items():
        started = time.perf_counter()
        frame, spec = make(quick)
        outcome = honest_chain(frame, spec)
        report = outcome["report"]
        results[name] = {
            "rows": len(frame),
            "seconds": round(time.perf_counter() - started, 1),
            "blocked_by": report.failed_checks,
            "figures": {o.name: round(float(o.figure), 4) for o in report.outcomes},
        }
        print(
            f"{name:<20} {len(frame):>7,} rows  {results[name]['seconds']:>6.1f}s  blocked by: "
            f"{', '.join(report.failed_checks) or 'nothing'}",
            flush=True,
        )
    checks = sorted({c for r in results.values() for c in r["figures"]})
    rates = {c: sum(c in r["blocked_by"] for r in results.values()) / len(results) for c in checks}
    return {"tables": results, "false_block_rate": rates}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller numeric table")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print(f"\n{'check':<32}{'false-block rate':>18}")
    for check, rate in result["false_block_rate"].items():
        print(f"{check:<32}{rate:>18.2f}")
    from synth_platform.settings import PROJECT_ROOT

    out = PROJECT_ROOT / "data" / "bench" / "false_blocks.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
