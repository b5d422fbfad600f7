"""`make bench` (part 2): does the release gate's privacy side block leaks and release honest tables?

On the full demo data (train ~39k, holdout ~9.8k rows, model space as the chain prepares it)
it fits the honest generators — GaussianCopula, CTGAN and TVAE with a short training, and
the differentially private `dp_mst` — and builds the planted-leak battery from the Gaussian
copula's output (`lib/gate/leak_battery.py`), the first battery (training people) and the harder one
(people of the whole source, issue 14; `bench_leaks` judges it in the source's shape with the
whole gate). Every table goes through the gate's privacy checks
(exact copies and the calibrated attacks, `evaluation.privacy_attacks`); the
confusion table leaky/honest x blocked/released is printed, then each attack's figure and
the lower bound of its 95 % interval per table, and the suite's seconds per table (the
budget is 20 s on 2 cores). Results go to data/bench/attacks.json.
"""

from __future__ import annotations

import argparse
import json
import time

from synth_platform.lib.dataset_instances import load_instance
from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
from synth_platform.lib.gate import evaluation, leak_battery, privacy
from synth_platform.lib.gate.attacks import ATTACKS
from synth_platform.settings import DATASETS_DIR, PROJECT_ROOT

SHORT = {
    "gaussian_copula": {"default_distribution": "truncnorm"},
    "ctgan": {"epochs": 5},
    "tvae": {"epochs": 5},
    "dp_mst": {"epsilon": 1.0},
}
LABELS = {
    "close_copies": "close",
    "near_copies": "near",
    "membership_inference": "MIA",
    "singling_out": "single",
    "linkability": "link",
    "attribute_inference": "infer",
    "unique_people": "unique",
    "absolute_exposure": "absolute",
}


def judge(spec, plan, table, train, holdout) -> dict:
    """The gate's privacy checks on one model-space table: exact copies + every attack."""
    columns = list(train.columns)
    copies = privacy.exact_copies(table, train, holdout, columns)
    started = time.perf_counter()
    outcomes = evaluation.privacy_attacks(spec.checks, plan, table, train, holdout)
    seconds = time.perf_counter() - started
    checks = {"exact_copies": (copies.share, None, copies.share <= spec.checks.max_exact_copy_share)}
    checks.update({o.name: (o.figure, o.ci[0] if o.ci else None, o.passed) for o in outcomes})
    return {"checks": checks, "blocked": not all(p for _, _, p in checks.values()), "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=None, help="demo rows to use (default: all 48,842)")
    parser.add_argument("--generators", nargs="*", default=list(SHORT), choices=list(SHORT))
    parser.add_argument("--skip-battery", action="store_true", help="judge the honest generators only")
    parser.add_argument("--skip-harder", action="store_true", help="without the harder battery")
    args = parser.parse_args(argv)
    spec = load_instance(DATASETS_DIR / "adult_customers")
    print("\nrelease gate vs planted leaks (privacy checks on the demo data) ...", flush=True)
    plan, train, holdout = leak_battery.model_space_split(
        enrich_with_identifiers(load_adult(rows=args.rows)), spec
    )
    roles = leak_battery.roles(plan)
    honest = {}
    for kind in args.generators:
        params = SHORT[kind]
        started = time.perf_counter()
        try:
            honest[kind] = leak_battery.honest_table(train, kind, params, len(train), seed=0)
        except Exception as error:
            print(f"  {kind}: not benchmarked ({type(error).__name__})")
            continue
        print(f"  fitted and sampled {kind} {params} in {time.perf_counter() - started:.0f} s", flush=True)
    battery = {}
    if honest and not args.skip_battery:
        base = honest["gaussian_copula"] if "gaussian_copula" in honest else next(iter(honest.values()))
        battery = leak_battery.build_battery(
            train, holdout, base, roles["generalised"], roles["quasi_identifiers"], seed=spec.checks.seed
        )
        if not args.skip_harder:  # people of the whole source, model space (bench_leaks: source shape)
            battery |= leak_battery.harder_battery(base, train, holdout, roles, seed=spec.checks.seed)
    results = {}
    for side, tables in (("honest", honest), ("leaky", battery)):
        for name, table in tables.items():
            results[name] = {"side": side, **judge(spec, plan, table, train, holdout)}
    _print(results, len(train), len(holdout))
    out = PROJECT_ROOT / "data" / "bench" / "attacks.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=float))
    print(f"\nwritten to {out.relative_to(PROJECT_ROOT)}")


def _print(results: dict, train_rows: int, holdout_rows: int) -> None:
    print(f"\nconfusion table ({train_rows:,} training rows, {holdout_rows:,} holdout rows)")
    print(f"{'':>10}{'blocked':>10}{'released':>10}")
    for side in ("leaky", "honest"):
        rows = [r for r in results.values() if r["side"] == side]
        blocked = sum(r["blocked"] for r in rows)
        print(f"{side:>10}{blocked:>10}{len(rows) - blocked:>10}")
    names = ["exact_copies", *ATTACKS]
    header = "".join(f"{LABELS.get(n, 'exact'):>15}" for n in names)
    print("\nfigure [lower bound of the 95% CI], * = blocking")
    print(f"{'table':<22}{'side':<8}{'verdict':<9}{header}{'secs':>7}")
    for name, r in results.items():
        cells = ""
        for check in names:
            figure, low, passed = r["checks"][check]
            text = "n/a" if figure != figure else f"{figure:.3f}" + ("" if low is None else f"[{low:.3f}]")
            cells += f"{text + ('' if passed else '*'):>15}"
        verdict = "BLOCKED" if r["blocked"] else "released"
        print(f"{name:<22}{r['side']:<8}{verdict:<9}{cells}{r['seconds']:>7.1f}")


if __name__ == "__main__":
    main()
