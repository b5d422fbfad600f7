"""`synth-platform evidence NAME [RUN_ID]`: print the path of a release decision's evidence pack.

NAME is a dataset's or a schema's (related tables): both write their packs under
`data/evidence/<name>/<run_id>/`. The newest pack by default, or the pack of one run. Exit codes:
0 the path is printed, 2 no such pack (or no such folder), with the reason on stderr; a name that
is neither a dataset nor a schema of the project is answered with the names of both kinds.
"""

from __future__ import annotations

from pathlib import Path

from synth_platform.cli import UsageError

#: The schemas of related tables: one GovernedSchema component instance per folder (`<name>/defs.yaml`).
SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "defs" / "schemas"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evidence",
        help="print the path of an evidence pack (report.html)",
        description="Print the path of the evidence pack (report.html) of a dataset's or a schema's newest "
        "release decision, or of RUN_ID's. Packs live under data/evidence/<name>/<run_id>/ in the project "
        "(SYNTH_PROJECT_ROOT).",
    )
    parser.add_argument(
        "dataset",
        metavar="name",
        help="a dataset's name (synth_platform/defs/datasets/<name>/defs.yaml) or a schema's "
        "(synth_platform/defs/schemas/<name>/defs.yaml)",
    )
    parser.add_argument("run_id", nargs="?", help="a run id (default: the newest pack)")
    parser.add_argument("--json", action="store_true", help="print the path of report.json instead")
    parser.set_defaults(handler=_evidence)


def _names(folder: Path) -> list[str]:
    """The instances of a definitions folder: its subfolders holding a `defs.yaml`."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "defs.yaml").is_file())


def _evidence(args) -> int:
    from synth_platform.lib.governance import evidence, schema_evidence
    from synth_platform.settings import Settings

    settings = Settings.from_env()
    name = args.dataset
    datasets, schemas = _names(settings.specs_dir), _names(SCHEMAS_DIR)
    find = schema_evidence.find_pack if name in schemas and name not in datasets else evidence.find_pack
    try:
        pack = find(settings.root, name, args.run_id)
    except (evidence.EvidenceNotFoundError, ValueError) as error:
        message = str(error)
        if name not in datasets and name not in schemas:
            message += (
                f"; '{name}' is neither a dataset nor a schema of this project "
                f"(datasets: {', '.join(datasets) or 'none'}; schemas: {', '.join(schemas) or 'none'})"
            )
        raise UsageError(message) from None
    print(pack.json if args.json else pack.html)
    return 0
