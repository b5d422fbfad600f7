"""`make bench`: the cost of each stage, and how it grows with rows.

Runs the domain functions (no orchestrator) on the demo data at several sizes and
prints seconds per stage, so a change that makes a stage quadratic shows up here
rather than in a timed test. Results are also written to data/bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from synth_platform.lib import discovery, evaluation, privacy, quality, refill, synthesis
from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
from synth_platform.lib.masking import apply_masking, plan_masking
from synth_platform.lib.spec import load_spec
from synth_platform.lib.split import split_train_holdout
from synth_platform.settings import PROJECT_ROOT


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
                train[model_columns], "gaussian_copula", spec.synthesizer.params, 0, Path(tmp)
            )
        with timed(results, "sample"):
            sampled = synthesis.load_and_sample(model, len(train), seed=0)
    identifier_columns = [t.column for t in plan if not t.reaches_model]
    with timed(results, "refill_identifiers"):
        forbidden = refill.forbidden_values(source[c] for c in identifier_columns)
        templates = {c: refill.learn_template(source[c]) for c in identifier_columns}
        shaped = refill.restore_source_shape(sampled, spec, plan, forbidden, templates, seed=0)
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
    with timed(results, "dcr(5k sample)"):
        dcr = privacy.distance_to_closest_record(
            synthetic_model, train[model_columns], holdout[model_columns], model_columns
        )
        results["dcr_share"] = round(dcr.share_closer_to_train, 4)
    with timed(results, "identifier_leaks"):
        privacy.identifier_leaks(shaped, [source[c] for c in identifier_columns])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="*", default=[5_000, 20_000, 48_842])
    args = parser.parse_args()
    spec = load_spec(PROJECT_ROOT / "config" / "datasets" / "adult_customers.yaml")
    all_results = []
    for rows in args.rows:
        print(f"benchmarking {rows:,} rows ...", flush=True)
        all_results.append(bench_size(rows, spec))
    stages = [k for k in all_results[0] if k not in ("rows", "quality_score", "dcr_share")]
    print()
    print(f"{'stage (seconds)':<30}" + "".join(f"{r['rows']:>12,}" for r in all_results))
    for stage in stages:
        print(f"{stage:<30}" + "".join(f"{r[stage]:>12.2f}" for r in all_results))
    for figure in ("quality_score", "dcr_share"):
        print(f"{figure:<30}" + "".join(f"{r[figure]:>12.4f}" for r in all_results))
    out = PROJECT_ROOT / "data" / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(all_results, indent=2))
    print(f"\nwritten to {out.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
