"""`make bench`: the cost of each stage, and how it grows with rows.

Runs the domain functions (no orchestrator) on the demo data at several sizes and
prints seconds per stage, so a change that makes a stage quadratic shows up here
rather than in a timed test. Results are also written to data/bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from synth_platform.lib.dataset_instances import load_instance
from synth_platform.lib.deidentify import refill
from synth_platform.lib.deidentify.masking import apply_masking, plan_masking
from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
from synth_platform.lib.gate import evaluation, privacy, quality
from synth_platform.lib.pii import discovery
from synth_platform.lib.synthesize import synthesis
from synth_platform.lib.synthesize.split import split_train_holdout
from synth_platform.settings import DATASETS_DIR, PROJECT_ROOT


@contextmanager
def timed(results: dict, name: str):
    started = time.perf_counter()
    yield
    results[name] = round(time.perf_counter() - started, 3)


def bench_size(rows: int, spec) -> dict:
    results: dict = {"rows": rows}
    with timed(results, "generate_demo_rows"):
        source = enrich_with_identifiers(load_adult(rows=rows))
    hints = {n: (c.pii.pii_class, c.pii.type) for n, c in spec.columns.items() if c.pii}
    with timed(results, "discovery"):
        findings = discovery.discover(source, hints=hints)
    classes = {f.column: (f.pii_class, f.detected_type) for f in findings}
    plan = plan_masking(spec, classes)
    with timed(results, "masking"):
        masked, _ = apply_masking(source, plan, spec, b"bench-key")
    train, holdout = split_train_holdout(masked, spec.split.holdout_fraction, spec.split.seed, spec.key)
    model_columns = [t.column for t in plan if t.reaches_model]
    with tempfile.TemporaryDirectory() as tmp:
        with timed(results, "fit_gaussian_copula"):
            model = synthesis.fit_and_save(
                train[model_columns], "gaussian_copula", synthesis.copula_params(spec), 0, Path(tmp)
            )
        with timed(results, "sample"):
            sampled = synthesis.load_and_sample(model, len(train), seed=0)
    identifier_columns = [t.column for t in plan if not t.reaches_model]
    with timed(results, "refill_identifiers"):
        shaped = refill.restore_source_shape(sampled, spec, plan, seed=0)
    synthetic_model = evaluation.to_model_space(shaped, plan, train[model_columns])
    with timed(results, "gx_suite"):
        suite = quality.build_suite(train[model_columns], formats=evaluation.format_patterns(plan))
        frame = synthetic_model.copy()
        for column in evaluation.format_patterns(plan):
            frame[column] = shaped[column].astype("string")
        quality.run_suite(suite, frame)
    scored = evaluation.scored_columns(train, model_columns)  # the columns the release gate scores
    with timed(results, "sdmetrics_quality(5k sample)"):
        results["quality_score"] = round(
            quality.quality_score(
                train[scored], synthetic_model[scored], synthesis.sdv_metadata(train[scored])
            )[0],
            4,
        )
    with timed(results, "exact_copies"):
        privacy.exact_copies(synthetic_model, train[model_columns], holdout[model_columns], model_columns)
    with timed(results, "privacy_attacks(all 7)"):
        masked_train = evaluation.withhold_rare_generalized(train[model_columns], plan)
        masked_holdout = evaluation.withhold_rare_generalized(holdout[model_columns], plan)
        attacks = evaluation.privacy_attacks(spec.checks, plan, synthetic_model, masked_train, masked_holdout)
        results["attacks_blocking"] = sum(not a.passed for a in attacks)
    with timed(results, "identifier_leaks"):
        privacy.identifier_leaks(shaped, [source[c] for c in identifier_columns])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="*", default=[5_000, 20_000, 48_842])
    parser.add_argument("--dp-big-rows", type=int, default=1_000_000, help="rows of the dp_mst SQL fit")
    parser.add_argument("--no-dp", action="store_true", help="skip the dp_mst benchmark (bench_dp)")
    parser.add_argument(
        "--scale-rows",
        default=os.environ.get("SCALE_ROWS", "50000,1000000,10000000"),
        help="comma-separated sizes of bench_scale, real Dagster runs (0: skip); also $SCALE_ROWS",
    )
    args = parser.parse_args()
    spec = load_instance(DATASETS_DIR / "adult_customers")
    all_results = []
    for rows in args.rows:
        print(f"benchmarking {rows:,} rows ...", flush=True)
        all_results.append(bench_size(rows, spec))
    stages = [k for k in all_results[0] if k not in ("rows", "quality_score", "attacks_blocking")]
    print()
    print(f"{'stage (seconds)':<30}" + "".join(f"{r['rows']:>12,}" for r in all_results))
    for stage in stages:
        print(f"{stage:<30}" + "".join(f"{r[stage]:>12.2f}" for r in all_results))
    for figure in ("quality_score", "attacks_blocking"):
        print(f"{figure:<30}" + "".join(f"{r[figure]:>12.4f}" for r in all_results))
    out = PROJECT_ROOT / "data" / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(all_results, indent=2))
    print(f"\nwritten to {out.relative_to(PROJECT_ROOT)}")
    # the leaky/honest confusion table of the release gate
    from synth_platform.bench import attacks as bench_attacks

    bench_attacks.main([])
    # the harder battery (whole-source people) vs the whole gate
    from synth_platform.bench import leaks as bench_leaks

    print("\nthe harder planted-leak battery, source shape, by evaluation.evaluate:", flush=True)
    bench_leaks.main([])
    # discovery by values; false blocks
    from synth_platform.bench import discovery as bench_discovery
    from synth_platform.bench import gate as bench_gate

    print("\ndiscovery by values (opaque column names, several locales, malformed values):", flush=True)
    bench_discovery.main([])
    print("\nfalse blocks of an honest generator on tables unlike the demo:", flush=True)
    bench_gate.main([])
    if not args.no_dp:
        # dp_mst at three epsilons next to GaussianCopula; 1M rows
        from synth_platform.bench import dp as bench_dp

        bench_dp.main(args.dp_big_rows)
    if args.scale_rows not in ("", "0"):
        # the governed chain through Dagster, 50k to 10M rows
        from synth_platform.bench import scale as bench_scale

        print(f"\nthe governed chain through Dagster at {args.scale_rows} rows:", flush=True)
        bench_scale.main(["--rows", args.scale_rows])


if __name__ == "__main__":
    main()
