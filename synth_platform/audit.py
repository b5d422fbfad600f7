"""`make audit`: a privacy audit anyone can run on the demo's kind of data.

Part (a), neighbouring sources (`audit_neighbours.py`): the demo's landing file, the same file
with one row removed and with one row changed, each through the whole chain; every public output
is listed with the mechanism that covers it, and the deterministic ones must be identical.

Part (a'), neighbouring schemas (`audit_schema_neighbours.py`): the demo schema of related tables
(people, accounts, their link, transactions, a lookup), the same set minus one person with every
row that is theirs, and plus one person who co-holds an account, each through the schema chain;
the published tables, ledger rows and schema certificate are compared the same way.

Part (b), the empirical lower bound on epsilon (lib/governance/dp_audit.py): a canary row in or out of a
small table, `fits` dp_mst fits per world with fresh noise, the strongest white-box test we have
(the model's own count of the canary's cells), and a lower bound on epsilon with its confidence,
printed next to the claimed epsilon. The bound must stay below the claim; if it does not, the
mechanism or its accounting is broken.

It runs at the default epsilon (1) and at a large one (60), where the same test has enough
power to show a clearly positive bound: an audit that can never find anything proves nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from synth_platform.lib.governance.dp_audit import run_lower_bound_audit
from synth_platform.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m synth_platform.audit", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--fits", type=int, default=200, help="dp_mst fits per world (canary in / out)")
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 60.0])
    parser.add_argument("--rows", type=int, default=400, help="rows of the small audit table")
    parser.add_argument("--out", type=Path, default=None, help="where to write the audit's reports")
    parser.add_argument(
        "--skip-neighbours", action="store_true", help="without neighbouring sources (part a)"
    )
    parser.add_argument("--skip-lower-bound", action="store_true", help="without the lower bound (part b)")
    parser.add_argument("--schema-people", type=int, default=2000, help="people of the demo schema (part a')")
    parser.add_argument("--skip-schema", action="store_true", help="without neighbouring schemas (part a')")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    out = args.out or settings.root / "data" / "audit"
    out.mkdir(parents=True, exist_ok=True)
    ok = True
    if not args.skip_neighbours:
        ok &= neighbour_audit(settings.root, out)
    if not args.skip_schema:
        ok &= schema_neighbour_audit(settings.root, out, args.schema_people)
    if not args.skip_lower_bound:
        ok &= lower_bound_audit(args, out)
    return 0 if ok else 1


def neighbour_audit(root: Path, out: Path) -> bool:
    import tempfile

    import pandas as pd

    from synth_platform.audit_neighbours import audit
    from synth_platform.lib.demo_data import write_demo_landing_file

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="synth_audit_"))
    source = write_demo_landing_file(work / "demo")
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    print(
        f"(a) Neighbouring sources: {len(frame):,} rows, one row removed, one row changed: three runs ...",
        flush=True,
    )
    report = audit(root, frame, work / "runs")
    summary = report["summary"]
    path = out / "audit_neighbours.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    for output in report["outputs"]:
        if output["kind"] != "volatile":
            mark = "identical" if output["identical"] else "differs"
            print(f"  {output['path']}: {output['kind']} ({output['mechanism']}); {mark}")
    print(
        f"  runs succeeded: {report['runs']}; {summary['outputs']} public outputs {summary['by_kind']}; "
        f"{summary['public_identical']} deterministic outputs identical; "
        f"problems: {len(summary['problems'])} "
        f"[{time.perf_counter() - started:.0f} s]"
    )
    for problem in summary["problems"]:
        print(f"  PROBLEM: {problem['path']} ({problem['kind']}): differs across neighbouring sources")
    print(f"  Report: {path}")
    return not summary["problems"] and all(report["runs"].values())


def schema_neighbour_audit(root: Path, out: Path, people: int) -> bool:
    import tempfile

    from synth_platform.audit_schema_neighbours import audit, demo_spec
    from synth_platform.lib.relational.demo_schema import demo_tables

    started = time.perf_counter()
    spec = demo_spec(root)
    print(
        f"(a') Neighbouring schemas ({spec.name}): {people:,} people, one person removed with all their "
        "rows, one person added who co-holds an account: three runs ...",
        flush=True,
    )
    report = audit(spec, demo_tables(people=people), Path(tempfile.mkdtemp(prefix="synth_schema_audit_")))
    report.pop("collected")  # the runs' outputs themselves: the listing below says what they were
    summary = report["summary"]
    path = out / "audit_schema_neighbours.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    # a schema has hundreds of paths (every column of every table): printed by rule, listed in the report
    by_rule: dict[tuple[str, str, str], list[bool]] = {}
    for output in report["outputs"]:
        if output["kind"] != "volatile":
            rule = (output["path"].split(".")[0], output["kind"], output["mechanism"])
            by_rule.setdefault(rule, []).append(output["identical"])
    for (where, kind, mechanism), identical in by_rule.items():
        print(f"  {where}: {len(identical)} {kind} ({mechanism}); {sum(identical)} identical")
    print(
        f"  runs released: {report['runs']}; {summary['outputs']} public outputs {summary['by_kind']}; "
        f"{summary['public_identical']} deterministic outputs identical; "
        f"problems: {len(summary['problems'])} "
        f"[{time.perf_counter() - started:.0f} s]"
    )
    if not report["complete"]:
        print("  INCOMPLETE: a run did not release (the noisy gate blocked it, or it failed); rerun")
    for problem in summary["problems"]:
        print(f"  PROBLEM: {problem['path']} ({problem['kind']}): differs across neighbouring schemas")
    print(f"  Report: {path}")
    return not summary["problems"] and report["complete"]


def lower_bound_audit(args, out: Path) -> bool:
    results, ok = [], True
    for epsilon in args.epsilons:
        started = time.perf_counter()
        print(
            f"Auditing dp_mst at claimed epsilon {epsilon:g}: {args.fits} fits with the canary, "
            f"{args.fits} without ...",
            flush=True,
        )

        def progress(done: int, total: int) -> None:
            if done % max(total // 10, 1) == 0:
                print(f"  {done}/{total} fit pairs", flush=True)

        bound = run_lower_bound_audit(args.fits, epsilon, rows=args.rows, progress=progress)
        print(f"  {bound.line()}  [{time.perf_counter() - started:.0f} s]", flush=True)
        ok &= bound.below_claim
        results.append({**bound.__dict__, "below_claim": bound.below_claim})
    path = out / "audit_lower_bound.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"  Report: {path}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
