"""`synth-platform pii approve|show DATASET`: the approved masking plan (lib.pii.approved_plan).

`approve` writes `<datasets>/<DATASET>/masking_plan.yaml` (next to the dataset's defs.yaml) from
discovery's current verdict: the stored report `governance.pii_<DATASET>` of the warehouse
(`SYNTH_WAREHOUSE_PATH`, opened read-only), or,
when there is none yet, discovery run here on the raw table `raw.<DATASET>`. It is not interactive:
it writes the proposal and prints one line per column (column, class, type, action; never a
value). A person then reviews the file (classes, optional `format` of refilled identifiers) and
commits it; the chain masks by that file, not by the data. A `format` set in an earlier plan is
kept for columns whose class and type did not change.

`show` prints the approved plan and its digest (the one `pii_report` puts in its metadata).
Exit codes: 0 done, 2 bad input (unknown dataset, no discovery report and no raw table, invalid plan).
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from synth_platform.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pii",
        help="propose and show the approved masking plan (which columns reach the model)",
        description="Write the masking plan a person reviews and commits (approve), or print it (show).",
    )
    actions = parser.add_subparsers(dest="pii_command", metavar="ACTION")
    approve = actions.add_parser(
        "approve",
        help="write <datasets>/<DATASET>/masking_plan.yaml from discovery's current report, for review "
        "and commit",
    )
    approve.add_argument("dataset", help="dataset name (synth_platform/defs/datasets/<name>/defs.yaml)")
    approve.add_argument("--by", default=None, help="who approves (default: $SYNTH_APPROVER or the OS user)")
    approve.set_defaults(handler=_approve)
    show = actions.add_parser("show", help="print the approved plan and its digest")
    show.add_argument("dataset", help="dataset name (synth_platform/defs/datasets/<name>/defs.yaml)")
    show.set_defaults(handler=_show)
    parser.set_defaults(handler=lambda args: _usage())


def _usage() -> int:
    raise UsageError("choose an action: approve or show (see `synth-platform pii --help`)")


def _spec(name: str, specs_dir: Path):
    """The dataset's spec from its component instance; an unknown name lists the known ones."""
    from synth_platform.cli.check import dataset_spec

    return dataset_spec(name, specs_dir)


def _findings(spec, warehouse_path: Path):
    """(findings table, where it came from): the stored report, else discovery on the raw table."""
    from synth_platform.lib.pii import discovery
    from synth_platform.lib.storage import warehouse

    ds = spec.name
    first = (
        f"run the chain of {ds!r} up to pii_report first (it stores discovery's report, then stops "
        "for want of an approved plan), or set SYNTH_WAREHOUSE_PATH"
    )
    if not warehouse_path.exists():
        raise UsageError(f"no warehouse at {warehouse_path}: {first}")
    if warehouse.table_exists(warehouse_path, "governance", f"pii_{ds}"):
        return warehouse.read_table(warehouse_path, "governance", f"pii_{ds}"), f"governance.pii_{ds}"
    if warehouse.table_exists(warehouse_path, "raw", ds):
        hints = {n: (c.pii.pii_class, c.pii.type) for n, c in spec.columns.items() if c.pii is not None}
        with warehouse.connect(warehouse_path, read_only=True) as con:  # a seeded SQL sample, as the chain
            found, _ = discovery.discover_table(con, "raw", ds, hints=hints)
        findings = discovery.findings_table(found)
        return findings, f"discovery run now on raw.{ds}"
    raise UsageError(
        f"dataset {ds!r} has no discovery report (governance.pii_{ds}) and no raw table: {first}"
    )


def _earlier_formats(specs_dir: Path, spec, proposal: dict) -> dict[str, str]:
    """Formats a person set in the previous plan, for columns whose class and type are unchanged."""
    from synth_platform.lib.pii import approved_plan

    try:
        previous = approved_plan.load_plan(specs_dir, spec)
    except approved_plan.PlanError:
        return {}
    if previous is None:
        return {}
    kept = {}
    for name, entry in proposal["columns"].items():
        before = previous.columns.get(name)
        if before and before.format and (before.pii_class, before.type) == (entry["class"], entry["type"]):
            kept[name] = before.format
    return kept


def _print_columns(spec, plan) -> None:
    from synth_platform.lib.pii import approved_plan

    rows = approved_plan.treatments(spec, plan)
    width = max(len(str(t.column)) for t in rows)
    print(f"  {'column':<{width}}  {'class':<17}  {'type':<18}  action")
    for t in rows:
        action = f"generalize:{t.generalize}" if t.action == "generalize" else t.action
        if t.format:
            action += f" (format {t.format!r})"
        print(f"  {t.column:<{width}}  {t.pii_class:<17}  {t.detected_type or '-':<18}  {action}")


def _approve(args) -> int:
    from synth_platform.lib.pii import approved_plan
    from synth_platform.settings import Settings

    settings = Settings.from_env()
    spec = _spec(args.dataset, settings.specs_dir)
    findings, source = _findings(spec, settings.warehouse_path)
    try:
        proposal = approved_plan.propose(spec, findings)
    except approved_plan.PlanError as error:
        raise UsageError(str(error)) from error
    formats = _earlier_formats(settings.specs_dir, spec, proposal)
    for name, text in formats.items():
        proposal["columns"][name]["format"] = text
    approver = (args.by or os.environ.get("SYNTH_APPROVER") or _os_user()).strip()
    if not approver:
        raise UsageError("name who approves the plan: --by NAME")
    path = approved_plan.plan_path(settings.specs_dir, spec.name)
    approved_plan.write_plan(path, proposal, approver, spec=spec)
    plan = approved_plan.load_plan(settings.specs_dir, spec)
    print(f"wrote {path}")
    print(f"  proposed from {source}; approved by {plan.approved_by} at {plan.approved_at}")
    if formats:
        print(f"  kept the earlier plan's format of {', '.join(sorted(formats))}")
    _print_columns(spec, plan)
    print(f"digest {plan.digest}")
    print("review and commit this file: the chain masks by it, and stops when discovery later disagrees")
    return 0


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _show(args) -> int:
    from synth_platform.lib.pii import approved_plan
    from synth_platform.settings import Settings

    settings = Settings.from_env()
    spec = _spec(args.dataset, settings.specs_dir)
    path = approved_plan.plan_path(settings.specs_dir, spec.name)
    try:
        plan = approved_plan.load_plan(settings.specs_dir, spec)
    except approved_plan.PlanError as error:
        raise UsageError(str(error)) from error
    if plan is None:
        raise UsageError(
            f"dataset {spec.name!r} has no approved masking plan ({path}): "
            f"run `{approved_plan.approve_command(spec.name)}`, review and commit the file"
        )
    print(f"approved masking plan of {spec.name!r}: {path}")
    print(f"  approved by {plan.approved_by} at {plan.approved_at}")
    _print_columns(spec, plan)
    print(f"digest {plan.digest}")
    return 0
