"""The whole chain on a 1,000,000-row landing file of the demo's shape: seconds per stage, peak memory.

Adult resampled to `--rows` rows with fresh seeded identifiers (a million real-looking full
names leave few unused name combinations: the refill must not fail on them) is written as a
CSV landing file, then every stage runs as the Dagster assets run it (the same lib functions,
without the orchestrator): ingest, discovery, masking, split, the spec's synthesizer (dp_mst:
counts in DuckDB), sampling,
identifier refill, the release gate. Target: <= 10 min and peak RSS <= 8 GB on 2 cores.

`python -m synth_platform.bench_scale [--rows N]`; results in data/bench/scale.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

from synth_platform.lib import discovery, evaluation, ingest, refill, synthesis
from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
from synth_platform.lib.masking import apply_masking, plan_masking
from synth_platform.lib.spec import load_spec
from synth_platform.lib.split import split_train_holdout
from synth_platform.settings import PROJECT_ROOT


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB on Linux


@contextmanager
def stage(results: dict, name: str):
    started = time.perf_counter()
    yield
    results[name] = {"seconds": round(time.perf_counter() - started, 1), "peak_rss_gb": round(_peak_gb(), 2)}
    print(
        f"{name:<24}{results[name]['seconds']:>9.1f} s   peak RSS {results[name]['peak_rss_gb']:.2f} GB",
        flush=True,
    )


BENCH_KEY = b"bench-only-pseudonym-key"


def _fit(spec, plan, train, model_columns) -> synthesis.Fitted:
    """Fit the spec's synthesizer as the chain does: dp_mst counts inside DuckDB, SDV kinds on a frame."""
    if spec.synthesizer.kind == "dp_mst":
        con = duckdb.connect()  # the training split in a DuckDB table, as in the warehouse
        try:
            con.register("train_frame", train[model_columns])
            con.execute("CREATE SCHEMA masked")
            con.execute(f'CREATE TABLE masked."{spec.name}_train" AS SELECT * FROM train_frame')
            con.unregister("train_frame")
            return synthesis.fit_dp_from_warehouse(con, spec, plan)
        finally:
            con.close()
    params = synthesis.copula_params(spec) if spec.synthesizer.kind == "gaussian_copula" else {}
    return synthesis.fit_frame(train[model_columns], spec.synthesizer.kind, params, 0)


def run(rows: int) -> dict:
    spec = load_spec(PROJECT_ROOT / "config" / "datasets" / "adult_customers.yaml")
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing.csv"
        with stage(results, "generate_landing_file"):
            adult = load_adult().sample(rows, replace=True, random_state=1).reset_index(drop=True)
            enrich_with_identifiers(adult, seed=5).to_csv(landing, index=False)
            del adult
        started = time.perf_counter()
        with stage(results, "ingest"):
            source = ingest.read_landing_file(landing, spec)
        hints = {n: (c.pii.pii_class, c.pii.type) for n, c in spec.columns.items() if c.pii}
        with stage(results, "discovery"):
            findings = discovery.discover(source, hints=hints)
            discovery.quasi_identifier_risk(source, findings)
        plan = plan_masking(spec, {f.column: (f.pii_class, f.detected_type) for f in findings})
        with stage(results, "masking"):
            masked, _ = apply_masking(source, plan, spec, BENCH_KEY)
        with stage(results, "split"):
            train, holdout = split_train_holdout(
                masked, spec.split.holdout_fraction, spec.split.seed, spec.key
            )
            del masked
        model_columns = [t.column for t in plan if t.reaches_model]
        kind = spec.synthesizer.kind
        with stage(results, f"fit_{kind}"):
            fitted = _fit(spec, plan, train, model_columns)
            model = synthesis.save_and_promote(
                fitted, Path(tmp) / "models", BENCH_KEY, charged_by=0, provenance={}
            )
        with stage(results, "sample"):
            sampled = synthesis.load_and_sample(model, len(train), seed=0, key=BENCH_KEY)
        identifier_columns = [t.column for t in plan if not t.reaches_model]
        raw_identifiers = [source[c] for c in identifier_columns]
        with stage(results, "refill_identifiers"):
            shaped = refill.restore_source_shape(sampled, spec, plan, seed=0)
        with stage(results, "release_gate"):
            report = evaluation.evaluate(spec, plan, shaped, train, holdout, raw_identifiers)
        results["gate_failed_checks"] = report.failed_checks
        results["total_seconds_after_landing"] = round(time.perf_counter() - started, 1)
        results["rows"] = rows
        results["peak_rss_gb"] = round(_peak_gb(), 2)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    result = run(args.rows)
    print(
        f"\n{result['rows']:,} rows: {result['total_seconds_after_landing']:.0f} s from landing file "
        "to gate, "
        f"peak RSS {result['peak_rss_gb']:.2f} GB; gate failed: {result['gate_failed_checks'] or 'nothing'}; "
        f"chance name coincidences: {result['chance_name_coincidences']}"
    )
    out = PROJECT_ROOT / "data" / "bench" / "scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
