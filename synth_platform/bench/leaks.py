"""`make bench` (part 3): the harder planted-leak battery against the whole release gate.

Issue 14: a user built leaks the first battery (`bench_attacks`) never tried — the whole real
table with ZIP and birth date redrawn, 20 % real people of the whole source, 5 % exact copies of
*holdout* people, 10 % real people with two numbers nudged and a category changed — and the gate
released them. This bench builds those leaks (`lib/leak_battery.LEAK_CLASSES`) in the *source*
shape, exactly what `synth-platform check` reads: real people's attributes, identifier columns
holding the honest table's refilled (fake) values, so the identifier-leak check cannot catch
them trivially. Then `evaluation.evaluate` judges every table on the exact figures (noise=None:
the operator's view), with `trained_on="train"` and `"all"` when `evaluate` takes it.

Tables: the bundled demo data (`lib/demo_data`, never ../shared; its first 12,000 rows by
default, `--rows 48842` for all of it, where CTGAN's fit and the gate take minutes each), a
numeric credit table and the odd-names race table (`bench_gate`'s generated honest shapes).
Per table: the honest generators GaussianCopula, CTGAN, TVAE (few epochs) and dp_mst
(expected released) and every leak class planted into the Gaussian copula's output (expected
blocked). Printed: the confusion table — expected, actual, the deciding checks with figure /
threshold — counts and figures only, never a cell value. Results go to data/bench/leaks.json.
`python -m synth_platform.bench.leaks [--quick] [--generators ...] [--tables ...]`.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time

from synth_platform.bench.gate import as_ingested, numeric_credit, odd_names
from synth_platform.lib.deidentify import refill
from synth_platform.lib.gate import evaluation, leak_battery
from synth_platform.lib.spec import DatasetSpec

#: short trainings, as the attack bench (`bench_attacks.SHORT`)
GENERATORS = {
    "gaussian_copula": {"default_distribution": "truncnorm"},
    "ctgan": {"epochs": 5},
    "tvae": {"epochs": 5},
    "dp_mst": {"epsilon": 1.0},
}
#: the generator whose output the leaks are planted into
BASE = "gaussian_copula"
#: rows of each table: (full, --quick)
ROWS = {"demo": (12_000, 4_000), "numeric_credit": (8_000, 4_000), "odd_names": (3_000, 3_000)}


def demo_table(rows: int) -> tuple:
    """The bundled demo data (first `rows` rows, fake identifiers added) under the demo's spec."""
    from synth_platform.lib.dataset_instances import read_spec_dict
    from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
    from synth_platform.settings import DATASETS_DIR

    spec = read_spec_dict(DATASETS_DIR / "adult_customers")
    return enrich_with_identifiers(load_adult(rows=rows)), spec


TABLES = {
    "demo": demo_table,
    "numeric_credit": lambda rows: numeric_credit(rows),
    "odd_names": lambda rows: odd_names(rows),
}


def trained_on_values() -> list[str | None]:
    """The `trained_on` values `evaluate` accepts (None: it has no such argument yet)."""
    if "trained_on" not in inspect.signature(evaluation.evaluate).parameters:
        return [None]
    return list(getattr(evaluation, "TRAINED_ON", ("train", "all")))


def prepared(name: str, rows: int) -> dict:
    """The table through discovery, masking and the split, keeping the raw people of each side."""
    frame, spec_dict = TABLES[name](rows)
    spec = DatasetSpec.model_validate(spec_dict)
    source = as_ingested(frame, spec)
    split = leak_battery.source_shape_split(source, spec, key=b"bench-key")
    model_columns = [t.column for t in split["plan"] if t.reaches_model]
    return {"spec": spec, "rows": len(source), "model_columns": model_columns, **split}


def honest_tables(data: dict, generators: list[str], seed: int = 0) -> dict:
    """generator -> (source-shaped honest table, fit + sample seconds); a generator that fails is
    reported and skipped."""
    out = {}
    train = data["train"][data["model_columns"]].reset_index(drop=True)
    train = evaluation.withhold_rare_generalized(train, data["plan"])
    for kind in generators:
        started = time.perf_counter()
        try:
            model_rows = leak_battery.honest_table(train, kind, GENERATORS[kind], len(train), seed=seed)
        except Exception as error:  # a generator's failure is a finding, not the end of the bench
            print(f"    {kind}: not benchmarked ({type(error).__name__})", flush=True)
            continue
        shaped = refill.restore_source_shape(model_rows, data["spec"], data["plan"], seed=seed)
        out[kind] = (shaped, time.perf_counter() - started)
    return out


def judge(data: dict, table, trained_on: str | None) -> dict:
    """The gate's exact verdict on one source-shaped table: blocked?, the deciding checks'
    figures against thresholds, and absolute exposure's figure whatever the verdict."""
    started = time.perf_counter()
    extra = {} if trained_on is None else {"trained_on": trained_on}
    report = evaluation.evaluate(
        data["spec"], data["plan"], table, data["train"], data["holdout"], data["raw_identifiers"], **extra
    )
    figures = {
        o.name: {
            "figure": float(o.figure),
            "ci_low": None if o.ci is None else float(o.ci[0]),
            "threshold": float(o.threshold),
            "passed": bool(o.passed),
        }
        for o in report.outcomes
    }
    return {
        "blocked": not report.passed,
        "failed": report.failed_checks,
        "figures": figures,
        "seconds": round(time.perf_counter() - started, 1),
    }


def bench_table(name: str, rows: int, generators: list[str], seed: int) -> list[dict]:
    """Every honest generator and every leak class on one table, judged per `trained_on`."""
    started = time.perf_counter()
    data = prepared(name, rows)
    print(
        f"\n{name}: {data['rows']:,} rows ({len(data['train']):,} train, {len(data['holdout']):,} holdout), "
        f"prepared in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    honest = honest_tables(data, generators, seed)
    for kind, (_, seconds) in honest.items():
        print(f"    fitted and sampled {kind} {GENERATORS[kind]} in {seconds:.1f} s", flush=True)
    cases = [(kind, "released", table) for kind, (table, _) in honest.items()]
    if BASE in honest:
        roles = leak_battery.roles(data["plan"], space="source")
        started = time.perf_counter()
        battery = leak_battery.harder_battery(
            honest[BASE][0], data["train_people"], data["holdout_people"], roles, seed=seed
        )
        print(f"    built {len(battery)} leaky tables in {time.perf_counter() - started:.1f} s", flush=True)
        cases += [(leak, "blocked", table) for leak, table in battery.items()]
    results = []
    for case, expected, table in cases:
        for trained_on in trained_on_values():
            verdict = judge(data, table, trained_on)
            results.append(
                {"table": name, "case": case, "expected": expected, "trained_on": trained_on, **verdict}
            )
            _print_row(results[-1])
    return results


def _figure(check: str, figures: dict) -> str:
    f = figures[check]
    low = "" if f["ci_low"] is None else f" (low {f['ci_low']:.4f})"
    return f"{check} {f['figure']:.4f}{low} / {f['threshold']:g}"


def deciding(result: dict) -> str:
    """The checks that blocked, with figure / threshold; for a release, absolute exposure's (or
    exact copies') figure: how far from blocking it was."""
    figures = result["figures"]
    if result["failed"]:
        return "; ".join(_figure(c, figures) for c in result["failed"])
    nearest = "absolute_exposure" if "absolute_exposure" in figures else "exact_copies"
    return "(none) " + _figure(nearest, figures)


HEADER = (
    f"    {'case':<22}{'trained_on':<11}{'expected':<10}{'actual':<10}{'ok':<4}{'secs':>6}  deciding checks"
)


def _print_row(r: dict) -> None:
    actual = "blocked" if r["blocked"] else "released"
    ok = "yes" if actual == r["expected"] else "NO"
    print(
        f"    {r['case']:<22}{r['trained_on'] or '-':<11}{r['expected']:<10}{actual:<10}{ok:<4}"
        f"{r['seconds']:>6.1f}  {deciding(r)}",
        flush=True,
    )


def summary(results: list[dict]) -> None:
    """The confusion counts, per `trained_on`."""
    print("\nconfusion (rows: expected; columns: actual)")
    for trained_on in sorted({r["trained_on"] or "-" for r in results}):
        rows = [r for r in results if (r["trained_on"] or "-") == trained_on]
        print(f"  trained_on={trained_on}: {'':>10}{'blocked':>10}{'released':>10}")
        for expected in ("blocked", "released"):
            chosen = [r for r in rows if r["expected"] == expected]
            blocked = sum(r["blocked"] for r in chosen)
            print(f"  {'':>13}{expected:>12}{blocked:>10}{len(chosen) - blocked:>10}")
    wrong = [r for r in results if r["blocked"] != (r["expected"] == "blocked")]
    print(f"\n{len(wrong)} of {len(results)} verdicts not as expected:")
    for r in wrong:
        print(f"  {r['table']}/{r['case']} trained_on={r['trained_on'] or '-'}: {deciding(r)}")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller tables")
    parser.add_argument("--tables", nargs="*", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--generators", nargs="*", default=list(GENERATORS), choices=list(GENERATORS))
    parser.add_argument("--rows", type=int, default=None, help="rows of every table (default: ROWS)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("harder planted-leak battery vs the release gate (exact figures, source shape):")
    for line in leak_battery.leak_descriptions():
        print(f"  {line}")
    print(f"  trained_on: {', '.join(str(v) for v in trained_on_values())}")
    print(HEADER)
    results = []
    for name in args.tables:
        rows = args.rows or ROWS[name][1 if args.quick else 0]
        results += bench_table(name, rows, args.generators, args.seed)
    summary(results)
    from synth_platform.settings import PROJECT_ROOT

    out = PROJECT_ROOT / "data" / "bench" / "leaks.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=float))
    print(f"\nwritten to {out.relative_to(PROJECT_ROOT)}")
    return results


if __name__ == "__main__":
    main()
