"""`synth-platform ledger verify|show`: check and read the privacy ledger without Dagster.

Both open the warehouse at `SYNTH_WAREHOUSE_PATH` (default: the project's) read-only. `verify`
checks every row's HMAC under the platform key (`SYNTH_PSEUDONYM_KEY`, or the key file
`lib.storage.secrets` generated; never generated here) and compares the table with both copies of the
chain head: the keyed head file beside the warehouse (`<warehouse>.ledger_head.json`) and the
head in Dagster's event log (the newest `governance/ledger` materialisation of the instance at
`DAGSTER_HOME`, when there is one; `--no-event-log` skips it). So an edited, deleted, truncated,
wiped or re-hashed ledger is caught, even with the head file deleted. `show` lists every row,
`check` rows (an operator's `synth-platform check`, governed side only) with who ran it, the
file's sha256, its rows, `--trained-on` and the verdict.
Exit codes: 0 intact / shown, 1 the chain is broken, 2 no warehouse or bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
from contextlib import contextmanager
from pathlib import Path

from synth_platform.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ledger",
        help="verify or show the privacy ledger",
        description="Verify the hash chain of the privacy ledger, or print it. Reads the warehouse at "
        "SYNTH_WAREHOUSE_PATH (default: the project's), read-only.",
    )
    actions = parser.add_subparsers(dest="ledger_command", metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="exit 0 when the chain is intact, 1 naming the entries that break it"
    )
    verify.add_argument(
        "--no-event-log",
        action="store_true",
        help="do not compare with the head in Dagster's event log (DAGSTER_HOME)",
    )
    verify.set_defaults(handler=_verify)
    show = actions.add_parser("show", help="print the ledger (all datasets or one)")
    show.add_argument("dataset", nargs="?", help="only this dataset's rows")
    show.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    show.set_defaults(handler=_show)
    parser.set_defaults(handler=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    raise UsageError("choose an action: verify or show (see `synth-platform ledger --help`)")


def _warehouse_path() -> Path:
    from synth_platform.settings import Settings

    return Settings.from_env().warehouse_path


@contextmanager
def _read_only():
    """A read-only connection under the warehouse lock; a missing warehouse is a usage error."""
    from synth_platform.lib.storage import warehouse

    path = _warehouse_path()
    if not path.exists():
        raise UsageError(f"no warehouse at {path}: run the chain first or set SYNTH_WAREHOUSE_PATH")
    with warehouse.connect(path, read_only=True) as con:
        yield con


def event_log_heads() -> tuple[list, list[str]]:
    """The chain head in the newest ledger materialisation of the Dagster instance at DAGSTER_HOME.

    ([], []) when DAGSTER_HOME is unset or not a folder (no instance to ask); a problem when
    the instance exists but cannot be read, so that an unreadable event log is never "no head".
    """
    import os

    home = os.environ.get("DAGSTER_HOME")
    if not home or not Path(home).is_dir():
        return [], []
    try:
        import dagster as dg

        from synth_platform.defs.ledger_view import dagster_heads

        with dg.DagsterInstance.get() as instance:
            return list(dagster_heads(instance)), []
    except Exception as error:  # any failure to read is reported, never ignored
        return [], [f"the Dagster event log at DAGSTER_HOME could not be read ({error.__class__.__name__})"]


def _verify(args) -> int:
    from synth_platform.lib.governance import ledger
    from synth_platform.lib.storage import secrets

    heads, problems = ([], []) if getattr(args, "no_event_log", False) else event_log_heads()
    try:
        with _read_only() as con:
            problems += ledger.verify_chain(con, heads)
            rows = len(ledger.read_ledger(con))
    except (ledger.LedgerIntegrityError, secrets.SecretError) as error:  # messages never hold the key
        problems, rows = [*problems, str(error)], 0
    path = _warehouse_path()
    if problems:
        print(f"ledger BROKEN in {path}: {len(problems)} problem(s)")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    head = ledger.read_head_file(path)
    where = (
        f"head entry {head.entry_id} matches {ledger.head_path(path).name}" if head else "no head file yet"
    )
    if heads:
        where += f"; head entry {heads[0].entry_id} in Dagster's event log matches"
    print(f"ledger intact in {path}: {rows} entr{'y' if rows == 1 else 'ies'}, {where}")
    return 0


def _jsonable(value):
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return "inf" if math.isinf(value) else value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


_SHOWN = [
    "entry_id",
    "recorded_at",
    "dataset",
    "event",
    "synthesizer",
    "epsilon_note",
    "cumulative_epsilon",
    "epsilon_budget",
    "quality_score",
    "decision",
]


def _show(args) -> int:
    from synth_platform.lib.governance import ledger

    with _read_only() as con:
        frame = ledger.read_ledger(con, args.dataset)
        known = sorted(set(ledger.read_ledger(con)["dataset"])) if args.dataset and frame.empty else []
    if args.dataset and frame.empty:
        listed = ", ".join(known) or "none"
        raise UsageError(f"no ledger entries for dataset {args.dataset!r}; datasets in the ledger: {listed}")
    records = [
        {k: _jsonable(v) for k, v in record.items()}
        for record in frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    ]
    for record in records:
        if isinstance(record.get("gate_figures"), str):
            record["gate_figures"] = json.loads(record["gate_figures"])
        if isinstance(record.get("parameters"), str):
            record["parameters"] = json.loads(record["parameters"])
    if args.json:
        print(json.dumps({"warehouse": str(_warehouse_path()), "dataset": args.dataset, "entries": records}))
        return 0
    if not records:
        print("the ledger is empty")
        return 0
    widths = {c: max(len(c), *(len(_text(r.get(c))) for r in records)) for c in _SHOWN}
    widths["decision"] = min(widths["decision"], 60)
    print("  ".join(c.ljust(widths[c]) for c in _SHOWN))
    for record in records:
        print("  ".join(_text(record.get(c))[: widths[c]].ljust(widths[c]) for c in _SHOWN))
    for line in _check_lines(records):
        print(line)
    return 0


def _check_lines(records: list[dict]) -> list[str]:
    """One line per `check` row: what the table's columns cannot hold (who, which file, assumed)."""
    lines = []
    for record in records:
        if record.get("event") != "check" or not isinstance(record.get("parameters"), dict):
            continue
        p = record["parameters"]
        who = p.get("os_user") or "unknown"
        if p.get("operator"):
            who += f" (operator {p['operator']})"
        failed = ", ".join(p.get("failed_checks") or []) or "none"
        lines.append(
            f"check entry {record['entry_id']}: by {who}; file sha256 {p.get('file_sha256')}, "
            f"{p.get('rows')} rows ({p.get('input_shape')} shape), trained_on {p.get('trained_on')}; "
            f"would be {p.get('verdict')}; failed: {failed}"
        )
    if lines:
        lines.insert(0, "check rows (governed side only, exact figures, no budget spent):")
    return lines


def _text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
