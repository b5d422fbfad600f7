"""`synth-platform`: the one console script, with one module per subcommand.

Each subcommand module exposes `register(subparsers)`, which adds its parser and sets
`handler` (a function taking the parsed arguments and returning the exit code).
Exit codes are part of the interface: 0 success, 1 a negative verdict (blocked, broken
chain), 2 bad input (unknown dataset, unreadable file) with a message on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from synth_platform.lib.storage.private_files import restrict_process_umask

#: Subcommand modules under synth_platform.cli, in the order `--help` lists them (a module's
#: command may be spelt differently: `export_train` registers `export-train`).
SUBCOMMANDS: list[str] = ["check", "export_train", "ledger", "evidence", "pii"]


class UsageError(Exception):
    """Bad input from the command line: printed as one line on stderr, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synth-platform",
        description="Governed synthetic twins: judge tables, export the training split, read the ledger, "
        "find evidence packs.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"synth_platform.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    restrict_process_umask()  # whatever a command writes (ledger rows, exports) is owner-only
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args))
    except UsageError as error:
        print(f"synth-platform {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
