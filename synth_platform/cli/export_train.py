"""`synth-platform export-train DATASET PATH [--format csv|parquet] [--force]`: the training split.

Another team that wants its own generator judged with `synth-platform check --trained-on train`
must train it on exactly the platform's training people, never on the holdout: the holdout is
what the gate's relative checks (membership inference, close copies...) compare against as
people the generator never saw. This writes the dataset's current training split — the masked
train table `masked.<DATASET>_train` in the warehouse, read on a read-only connection — in
*model space*: only the approved plan's model columns (direct identifiers dropped, the key's
pseudonym left out, generalised columns generalised: ZIP3, birth year). A generator fitted on it
produces tables in that shape, which `check` accepts as they are.

The file is governed data (real people, masked): it is written with mode 0600 (atomically: a
private temporary file beside it, then renamed), never over an existing file unless `--force`,
and never into the published zone (`lib.storage.zones.is_published`: the zone's DuckDB file, the public
certificates folder) nor over the warehouse's own files. The output names the file and counts
rows and columns; it never shows a value. The format is `--format`, else the suffix of PATH
(.csv, .parquet / .pq).
Exit codes: 0 written, 2 bad input (unknown dataset, no split yet, existing file, published or
warehouse path, a folder that does not exist) with the reason on stderr.
"""

from __future__ import annotations

import os
from pathlib import Path

from synth_platform.cli import UsageError

_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-train",
        help="write the dataset's training split (model space, mode 0600) for another team's generator",
        description="Write the dataset's current training split (masked.<DATASET>_train, model columns "
        "only: no direct identifier, generalised columns generalised) to PATH, so a generator can be "
        "trained on exactly the training people and judged with `check --trained-on train`. "
        "Governed data: mode 0600, no overwrite without --force, never into the published zone.",
    )
    parser.add_argument("dataset", help="dataset name (synth_platform/defs/datasets/<name>/defs.yaml)")
    parser.add_argument("path", help="the file to write (.csv or .parquet)")
    parser.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default=None,
        help="file format (default: from PATH's suffix)",
    )
    parser.add_argument("--force", action="store_true", help="replace PATH if it exists")
    parser.set_defaults(handler=_export)


def _format(path: Path, requested: str | None) -> str:
    """The format asked for, else PATH's; a suffix that says otherwise is refused (check reads by suffix)."""
    implied = _SUFFIXES.get(path.suffix.lower())
    if requested is None and implied is None:
        raise UsageError(f"{path.name}: give a .csv or .parquet name, or --format csv|parquet")
    if requested is not None and implied is not None and requested != implied:
        raise UsageError(f"{path.name}: the name says {implied} but --format says {requested}")
    return requested or implied


def _refuse_place(path: Path, settings) -> None:
    """Governed data goes nowhere it would be published or could damage the warehouse."""
    from synth_platform.lib.storage import zones

    if zones.is_published(path, settings.warehouse_path, settings.root):
        places = ", ".join(str(p) for p in zones.published_locations(settings.warehouse_path, settings.root))
        raise UsageError(
            f"{path}: inside the published zone ({places}); the training split is governed data: "
            "write it elsewhere"
        )
    target, db = path.resolve(), settings.warehouse_path.resolve()
    if target.parent == db.parent and target.name.startswith(db.name):
        raise UsageError(f"{path}: that is the warehouse's own file; write the training split elsewhere")
    if not target.parent.is_dir():
        raise UsageError(f"{path}: the folder {target.parent} does not exist")
    if target.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name")


def training_split(spec, warehouse_path: Path):
    """The current masked train table in model space (the plan's model columns, in plan order)."""
    from synth_platform.cli.check import applied_plan, require_tables
    from synth_platform.lib.storage import warehouse

    ds = spec.name
    require_tables(spec, warehouse_path, [("governance", f"pii_{ds}"), ("masked", f"{ds}_train")])
    model_columns = [t.column for t in applied_plan(spec, warehouse_path) if t.reaches_model]
    return warehouse.read_table(warehouse_path, "masked", f"{ds}_train", model_columns)


def write_private(frame, path: Path, file_format: str, force: bool) -> None:
    """Write to a 0600 temporary file beside PATH, then move it into place: a reader never sees a
    half-written file, and the mode is 0600 whatever the umask. Without `force` the final link
    fails on a file that appeared meanwhile, instead of replacing it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        if file_format == "csv":
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
                frame.to_csv(handle, index=False)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            with os.fdopen(fd, "wb") as handle:
                frame.to_parquet(handle, index=False)
                handle.flush()
                os.fsync(handle.fileno())
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise UsageError(f"{path}: exists; use --force to replace it") from None
    finally:
        tmp.unlink(missing_ok=True)


def export_entry(spec, path: Path, file_format: str, rows: int):
    """The `export` ledger row: real (masked) people left the warehouse — who took them, how many,
    the file's sha256; no spend. Governed side only (`lib.storage.zones.GOVERNED_ONLY_EVENTS`)."""
    import hashlib
    import uuid

    from synth_platform import __version__
    from synth_platform.cli.check import who_ran
    from synth_platform.lib.governance import ledger

    return ledger.LedgerEntry(
        run_id=f"export-{uuid.uuid4()}",
        dataset=spec.name,
        event="export",
        source_hash="",
        train_data_hash="",
        synthesizer="none",
        parameters={
            **who_ran(),
            "what": "training split (model space)",
            "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "file_name": path.name,
            "format": file_format,
            "rows": int(rows),
        },
        code_version=f"{__version__}/export-train",
        epsilon_spent=0.0,
        rho_spent=0.0,
        epsilon_budget=spec.privacy.epsilon_budget,
        budget_delta=spec.privacy.delta,
        decision="export: training split handed out",
    )


def _export(args) -> int:
    from synth_platform.cli.check import _record, _recording_key, dataset_spec
    from synth_platform.settings import Settings

    settings = Settings.from_env()
    spec = dataset_spec(args.dataset, settings.specs_dir)
    path = Path(args.path)
    _refuse_place(path, settings)
    file_format = _format(path, args.format)
    if path.exists() and not args.force:
        raise UsageError(f"{path}: exists; use --force to replace it")
    key = _recording_key(settings.warehouse_path)  # refused before anything leaves if it cannot be recorded
    frame = training_split(spec, settings.warehouse_path)
    write_private(frame, path, file_format, args.force)
    _record(settings.warehouse_path, export_entry(spec, path, file_format, len(frame)), key)
    print(
        f"wrote the training split of {spec.name!r} to {path} ({file_format}, mode 0600): "
        f"{len(frame):,} rows, {len(frame.columns)} columns (model space: no direct identifier, "
        "generalised columns generalised)"
    )
    print(
        "  governed data: keep it with the platform team; judge what a generator fitted on it makes "
        f"with `synth-platform check {spec.name} FILE --trained-on train`"
    )
    return 0
