"""`synth-platform evidence DATASET [RUN_ID]`: print the path of a release decision's evidence pack.

The newest pack of the dataset by default, or the pack of one run. Exit codes: 0 the path is
printed, 2 no such pack (or no such dataset folder), with the reason on stderr.
"""

from __future__ import annotations

from synth_platform.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evidence",
        help="print the path of an evidence pack (report.html)",
        description="Print the path of the evidence pack (report.html) of a dataset's newest release "
        "decision, or of RUN_ID's. Packs live under data/evidence/<dataset>/<run_id>/ in the project "
        "(SYNTH_PROJECT_ROOT).",
    )
    parser.add_argument(
        "dataset", help="the dataset's name, as in synth_platform/defs/datasets/<name>/defs.yaml"
    )
    parser.add_argument("run_id", nargs="?", help="a run id (default: the newest pack)")
    parser.add_argument("--json", action="store_true", help="print the path of report.json instead")
    parser.set_defaults(handler=_evidence)


def _evidence(args) -> int:
    from synth_platform.lib.governance import evidence
    from synth_platform.settings import Settings

    root = Settings.from_env().root
    try:
        pack = evidence.find_pack(root, args.dataset, args.run_id)
    except (evidence.EvidenceNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    print(pack.json if args.json else pack.html)
    return 0
