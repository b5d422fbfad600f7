"""`synth-platform check DATASET PATH [--json]`: judge any synthetic table by the release gate.

A team that generates a synthetic table with any tool can hold it to the same gate as the
platform's own: PATH is a CSV or Parquet file in the dataset's *source* shape (the columns of
config/datasets/<DATASET>.yaml). The file is read and typed exactly as a landing file
(`lib.ingest`), then `lib.evaluation.evaluate` — the function the gate asset calls — judges
it against the dataset's current train/holdout split in the warehouse
(`SYNTH_WAREHOUSE_PATH`, default the project's), opened read-only.

It writes nothing: no ledger row, no assessment, no evidence pack, no release. It prints
each check's figure, 95 % interval (attacks), threshold and verdict — counts, shares and
column names only, never a cell value. These are the gate's *exact* figures, decided without
noise: a restricted operator's view of the real data, like the evidence pack, charged to no
budget. The gate asset itself decides on noisy figures charged to the dataset's budget
(`lib/private_decision.py`), so the two can differ near a threshold.
Exit codes: 0 the table would be released, 1 it would be blocked, 2 bad input (unknown
dataset, no split yet, missing or extra columns, unreadable file) with the reason on stderr.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from synth_platform.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="judge a synthetic table (CSV or Parquet) by the dataset's release gate, writing nothing",
        description="Run the dataset's release gate on PATH against its current train/holdout split "
        "(read-only). Exit 0 released, 1 blocked, 2 bad input.",
    )
    parser.add_argument("dataset", help="dataset name (config/datasets/<name>.yaml)")
    parser.add_argument("path", help="the synthetic table: a .csv or .parquet file in the source's shape")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(handler=_check)


def _spec(name: str, specs_dir: Path):
    from synth_platform.lib.spec import SpecError, load_spec

    path = specs_dir / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in specs_dir.glob("*.yaml"))
        raise UsageError(f"unknown dataset {name!r}: no {path}; known datasets: {', '.join(known) or 'none'}")
    try:
        return load_spec(path)
    except SpecError as error:
        raise UsageError(str(error)) from error


def _read_table(path: Path, spec):
    """The file typed as a landing file of the dataset; any problem is a usage error."""
    from synth_platform.lib.ingest import IngestError, read_landing_file

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise UsageError(f"{path.name}: expected a .csv or .parquet file")
    file_format = "csv" if suffix == ".csv" else "parquet"
    source = spec.source.model_copy(update={"format": file_format, "min_rows": 1})
    try:
        return read_landing_file(path, spec.model_copy(update={"source": source}))
    except IngestError as error:
        raise UsageError(str(error)) from error
    except OSError as error:
        raise UsageError(f"{path.name}: cannot be read ({type(error).__name__})") from error


def _split(spec, warehouse_path: Path):
    """(plan, train, holdout, raw identifiers) from the warehouse, read-only."""
    from synth_platform.lib import approved_plan, warehouse
    from synth_platform.lib.masking import plan_masking

    ds = spec.name
    needed = [
        ("governance", f"pii_{ds}"),
        ("masked", f"{ds}_train"),
        ("masked", f"{ds}_holdout"),
        ("raw", ds),
    ]
    if not warehouse_path.exists():
        raise UsageError(
            f"no warehouse at {warehouse_path}: run the chain for {ds!r} first, or set SYNTH_WAREHOUSE_PATH"
        )
    missing = [f"{s}.{t}" for s, t in needed if not warehouse.table_exists(warehouse_path, s, t)]
    if missing:
        raise UsageError(
            f"dataset {ds!r} has no train/holdout split yet (missing {', '.join(missing)}): "
            "materialise its chain up to the split first"
        )
    # the approved plan the chain applied (recorded by its pii_report); discovery's classes only for
    # a warehouse from before approved plans
    recorded = approved_plan.recorded_plan(warehouse_path, spec)
    if recorded is not None:
        plan = approved_plan.treatments(spec, recorded)
    else:
        findings = warehouse.read_table(warehouse_path, "governance", f"pii_{ds}")
        classes = {
            row.column: (row.pii_class, row.detected_type if isinstance(row.detected_type, str) else None)
            for row in findings.itertuples()
        }
        plan = plan_masking(spec, classes)
    train = warehouse.read_table(warehouse_path, "masked", f"{ds}_train")
    holdout = warehouse.read_table(warehouse_path, "masked", f"{ds}_holdout")
    identifier_columns = [t.column for t in plan if not t.reaches_model]
    raw = warehouse.read_table(warehouse_path, "raw", ds, identifier_columns) if identifier_columns else None
    return plan, train, holdout, [raw[c] for c in identifier_columns] if raw is not None else []


def _check(args) -> int:
    from synth_platform.lib import evaluation
    from synth_platform.settings import Settings

    settings = Settings.from_env()
    spec = _spec(args.dataset, settings.specs_dir)
    path = Path(args.path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    table = _read_table(path, spec)
    plan, train, holdout, identifiers = _split(spec, settings.warehouse_path)
    report = evaluation.evaluate(spec, plan, table, train, holdout, identifiers)
    # restricted: exact figures (the operator sees the real data's assessment; nothing leaves)
    checks = {o.name: {**o.exact_dict(), "description": o.description} for o in report.outcomes}
    if args.json:
        print(
            json.dumps(
                {
                    "dataset": spec.name,
                    "file": path.name,
                    "rows": len(table),
                    "released": report.passed,
                    "figures": "exact (restricted operator view; the gate asset decides on noisy figures)",
                    "failed_checks": report.failed_checks,
                    "checks": checks,
                },
                indent=2,
            )
        )
    else:
        _print(spec.name, path.name, len(table), report, checks)
    return 0 if report.passed else 1


def _number(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def _print(dataset: str, file_name: str, rows: int, report, checks: dict) -> None:
    print(f"release gate of {dataset!r} on {file_name} ({rows:,} rows)")
    print(f"  {'check':<22} {'verdict':<8} {'figure':>9} {'95% CI':>19} {'threshold':>10}")
    for name, c in checks.items():
        ci = f"{_number(c['ci_low'])}..{_number(c['ci_high'])}" if "ci_low" in c else ""
        verdict = "pass" if c["passed"] else "BLOCK"
        print(f"  {name:<22} {verdict:<8} {_number(c['figure']):>9} {ci:>19} {c['threshold']:>10g}")
        print(f"      {c.get('verdict') or c['description']}")
    decision = "RELEASED" if report.passed else f"BLOCKED (failed: {', '.join(report.failed_checks)})"
    print(f"decision: would be {decision} on the exact figures; nothing was written")
    print("  (restricted view: the gate asset decides on noisy figures charged to the budget)")
