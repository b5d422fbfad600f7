"""`make bench` (differential privacy part): dp_mst next to GaussianCopula on the demo data.

For each configuration a fresh subprocess prepares the demo table masked as the chain masks it
(for dp_mst: no rare merge, no quantile clipping), fits on the training split, samples as many
rows, and reports fit seconds, the process's peak RSS, the SDMetrics quality score on the columns
the release gate scores, and the all-pairs TVD (with the independent-columns baseline). Then
dp_mst is fitted through SQL on a 1,000,000-row table (Adult resampled) in a DuckDB file.

Targets (issue 6, 2 cores): at epsilon = 1 quality >= 0.95 and all-pairs TVD <= 0.05; fit <= 60 s
at 48k rows and <= 3 min at 1M rows; peak RSS <= 4 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synth_platform.lib.dataset_instances import load_instance
from synth_platform.settings import DATASETS_DIR, PROJECT_ROOT

SPEC_PATH = DATASETS_DIR / "adult_customers"
EPSILONS = (0.3, 1.0, 4.0)
BIG_ROWS = 1_000_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _prepared(kind: str, rows: int | None = None):
    """The demo table through discovery, masking (as the chain does for `kind`) and the split."""
    from synth_platform.lib.deidentify.masking import apply_masking, plan_masking
    from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
    from synth_platform.lib.pii import discovery
    from synth_platform.lib.synthesize.split import split_train_holdout

    spec = load_instance(SPEC_PATH)
    synthesizer = spec.synthesizer.model_copy(
        update={"kind": kind, "params": {} if kind != spec.synthesizer.kind else spec.synthesizer.params}
    )
    spec = spec.model_copy(update={"synthesizer": synthesizer})
    source = enrich_with_identifiers(load_adult(rows=rows))
    hints = {n: (c.pii.pii_class, c.pii.type) for n, c in spec.columns.items() if c.pii}
    classes = {f.column: (f.pii_class, f.detected_type) for f in discovery.discover(source, hints=hints)}
    plan = plan_masking(spec, classes)
    masked, _ = apply_masking(source, plan, spec, b"bench-key")
    train, _ = split_train_holdout(masked, spec.split.holdout_fraction, spec.split.seed, spec.key)
    columns = [t.column for t in plan if t.reaches_model]
    return spec, plan, train[columns].reset_index(drop=True), columns


def run_one(kind: str, epsilon: float | None) -> dict:
    """One configuration on the demo data (run in its own process for an honest peak RSS)."""
    from synth_platform.lib.gate import evaluation, quality
    from synth_platform.lib.gate.marginal_tvd import all_pairs_tvd, independent_baseline
    from synth_platform.lib.synthesize import synthesis
    from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer, declared_domains

    spec, plan, train, columns = _prepared(kind)
    started = time.perf_counter()
    if kind == "dp_mst":
        params = {**spec.synthesizer.params, "epsilon": epsilon}
        model = DPMSTSynthesizer(domains=declared_domains(spec, plan), **params).fit({"data": train})
        fit_seconds = time.perf_counter() - started
        synthetic = model.sample(len(train), seed=0)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            fitted = synthesis.fit_and_save(train, kind, synthesis.copula_params(spec), 0, Path(tmp))
            fit_seconds = time.perf_counter() - started
            synthetic = synthesis.load_and_sample(fitted, len(train), seed=0)
    scored = evaluation.scored_columns(train, columns)
    synthetic_model = synthetic[columns].copy()
    for column in columns:
        with contextlib.suppress(TypeError, ValueError):
            synthetic_model[column] = synthetic_model[column].astype(train[column].dtype)
    score, _ = quality.quality_score(
        train[scored], synthetic_model[scored], synthesis.sdv_metadata(train[scored]), max_rows=5000, seed=11
    )
    return {
        "synthesizer": kind if epsilon is None else f"dp_mst eps={epsilon:g}",
        "rows": len(train),
        "fit_seconds": round(fit_seconds, 1),
        "peak_rss_mb": round(_peak_rss_mb()),
        "quality": round(score, 4),
        "all_pairs_tvd": round(all_pairs_tvd(train, synthetic_model, scored), 4),
        "independent_tvd": round(all_pairs_tvd(train, independent_baseline(train, scored), scored), 4),
    }


def run_big(rows: int) -> dict:
    """dp_mst at epsilon = 1 fitted through SQL on `rows` rows of Adult resampled, in a DuckDB file."""
    import duckdb
    import numpy as np

    from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer, declared_domains

    spec, plan, train, _ = _prepared("dp_mst")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.duckdb"
        con = duckdb.connect(str(path))
        con.execute("CREATE SCHEMA masked")
        con.register("train_frame", train)
        picks = np.random.default_rng(0).integers(0, len(train), rows)
        con.register("picks", {"i": picks})
        con.execute(
            "CREATE TABLE masked.big_train AS SELECT t.* FROM picks "
            "JOIN (SELECT row_number() OVER () - 1 AS i, * FROM train_frame) t USING (i)"
        )
        con.close()
        del train
        read_only = duckdb.connect(str(path), read_only=True)
        started = time.perf_counter()
        model = DPMSTSynthesizer(domains=declared_domains(spec, plan), **spec.synthesizer.params)
        model.fit_relation(read_only, 'masked."big_train"')
        fit_seconds = time.perf_counter() - started
        read_only.close()
    return {
        "synthesizer": "dp_mst eps=1 (SQL, DuckDB file)",
        "rows": rows,
        "fit_seconds": round(fit_seconds, 1),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def _child(args: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "synth_platform.bench.dp", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"synthesizer": " ".join(args), "error": tail[0]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(big_rows: int = BIG_ROWS) -> list[dict]:
    print("benchmarking dp_mst next to gaussian_copula (one process per configuration) ...", flush=True)
    results = [_child(["--one", "gaussian_copula"])]
    for epsilon in EPSILONS:
        results.append(_child(["--one", "dp_mst", "--epsilon", str(epsilon)]))
    if big_rows:
        results.append(_child(["--big", str(big_rows)]))
    header = f"{'synthesizer':<34}{'rows':>10}{'fit s':>8}{'peak MB':>9}{'quality':>9}{'TVD':>8}{'indep.':>8}"
    print()
    print(header)
    for r in results:
        if "error" in r:
            print(f"{r['synthesizer']:<34}  failed: {r['error']}")
            continue
        print(
            f"{r['synthesizer']:<34}{r['rows']:>10,}{r['fit_seconds']:>8.1f}{r['peak_rss_mb']:>9,}"
            + "".join(
                f"{r[k]:>{w}.4f}" if k in r else f"{'':>{w}}"
                for k, w in (("quality", 9), ("all_pairs_tvd", 8), ("independent_tvd", 8))
            )
        )
    out = PROJECT_ROOT / "data" / "bench" / "dp_results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out.relative_to(PROJECT_ROOT)}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", choices=["gaussian_copula", "dp_mst"])
    parser.add_argument("--epsilon", type=float)
    parser.add_argument("--big", type=int, help="rows of the SQL fit (0: skip)")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.epsilon)))
    elif args.big is not None and args.one is None and len(sys.argv) > 2 and sys.argv[1] == "--big":
        print(json.dumps(run_big(args.big)))
    else:
        main(BIG_ROWS if args.big is None else args.big)
