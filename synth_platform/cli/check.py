"""`synth-platform check DATASET PATH --trained-on {train,all} [--json]`: judge any table by the gate.

A team that generates a synthetic table with any tool can hold it to the same gate as the
platform's own. PATH is a CSV or Parquet file in one of two shapes:

- the dataset's *source* shape (the columns of its spec, defs/datasets/<DATASET>/defs.yaml), read and typed
  exactly as a landing file (`lib.storage.ingest`);
- its *model* shape: exactly the model columns of the approved plan (direct identifiers
  dropped, ZIP3 instead of ZIP, birth year instead of date), which is what a generator fitted on
  `synth-platform export-train` produces. Its columns are typed like the warehouse's masked
  train table, then it is brought to the source's shape the way the chain brings its own samples
  (`refill.restore_source_shape`: identifiers refilled from reserved value spaces that cannot
  hold a real value, ZIP3 and year drawn back), so every check judges it like the platform's own
  output; its identifier-leak check then searches the model columns.

Columns that match neither shape are bad input, named (never a value). Then
`lib.gate.evaluation.evaluate` — the function the gate asset calls — judges the table against the
dataset's current train/holdout split in the warehouse (`SYNTH_WAREHOUSE_PATH`, default the
project's), read with read-only connections.

`--trained-on` is required, because the gate's answer depends on it: `train` — the generator
was trained only on the platform's training split (`export-train`), so the holdout holds people
it never saw and every check decides; `all` — it was trained on the whole source (or nobody
knows), so the checks that compare training people with holdout people say nothing and only
show their figures, while absolute exposure (real people of the whole source found beyond
chance), quality, exact copies and identifier leaks decide. The header says what was assumed
and which checks decided.

Every judged run is recorded: one `check` row in the dataset's privacy ledger (`lib.governance.ledger`,
the keyed hash chain), appended on a short write connection under the warehouse lock, holding
who ran it (the OS user, and `SYNTH_OPERATOR` when set), the file's sha256 and row count,
`--trained-on`, the verdict and the failed checks' names. It spends no budget (`rho_spent` 0):
the figures are the gate's *exact* figures, decided without noise, a restricted operator's view
of the real data like the evidence pack, printed to that operator and never released; the
published ledger leaves `check` rows out (`lib.storage.zones`). The gate asset itself decides on noisy
figures charged to the dataset's budget (`lib/gate/private_decision.py`), so the two can differ near
a threshold. No assessment, evidence pack or release is written. Output holds counts, shares
and column names only, never a cell value.

Exit codes: 0 the table would be released, 1 it would be blocked, 2 bad input (no
--trained-on, unknown dataset, no split yet, columns of neither shape, unreadable file) or a
check that cannot be recorded (no platform key, broken ledger), with the reason on stderr. A
run that exits 2 writes nothing.
"""

from __future__ import annotations

import csv
import getpass
import json
import math
import os
import re
import uuid
from pathlib import Path

from synth_platform.cli import UsageError

TRAINED_ON_HELP = (
    "--trained-on is required: what was the generator trained on? "
    "'train': only the platform's training split (as written by `synth-platform export-train`); "
    "every check applies. 'all': the whole source table, or you do not know; the checks that "
    "compare training people with holdout people cannot tell anything then and do not decide, "
    "while absolute exposure (real people found beyond chance), quality, exact copies and "
    "identifier leaks do."
)
#: A header name safe to repeat in a message (as lib.storage.ingest): never an e-mail, a number, a phrase.
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="judge a synthetic table (CSV or Parquet) by the dataset's release gate; recorded in the ledger",
        description="Run the dataset's release gate on PATH against its current train/holdout split "
        "(read-only) and append one `check` row to the dataset's ledger (no budget spent). "
        "PATH is in the source's shape or the model's (what a generator fitted on `export-train` "
        "writes). Exit 0 released, 1 blocked, 2 bad input (nothing written).",
        epilog=TRAINED_ON_HELP,
    )
    parser.add_argument("dataset", help="dataset name (synth_platform/defs/datasets/<name>/defs.yaml)")
    parser.add_argument("path", help="the synthetic table: a .csv or .parquet file, source or model shape")
    parser.add_argument(
        "--trained-on",
        choices=("train", "all"),
        default=None,
        help="required: what the generator was trained on: 'train' (only the training split from "
        "export-train; every check decides) or 'all' (the whole source, or unknown; train-vs-holdout "
        "checks are shown but do not decide)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(handler=_check)


def dataset_spec(name: str, specs_dir: Path):
    """The dataset's spec, from its component instance (`<specs_dir>/<name>/defs.yaml`, the file the
    code location loads); an unknown name lists the known ones (a usage error, exit 2)."""
    from synth_platform.lib.dataset_instances import find_dataset
    from synth_platform.lib.spec import SpecError

    try:
        return find_dataset(specs_dir, name)
    except SpecError as error:
        raise UsageError(str(error)) from error


# --------------------------------------------------------------------------- the split


def require_tables(spec, warehouse_path: Path, needed: list[tuple[str, str]]) -> None:
    """Refuse, naming what is missing, unless the chain has written these tables: there is nothing
    to judge against (or export) before the dataset's split exists."""
    from synth_platform.lib.storage import warehouse

    ds = spec.name
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


def applied_plan(spec, warehouse_path: Path):
    """The approved plan the chain applied (recorded by its pii_report); discovery's classes only
    for a warehouse from before approved plans. Read-only."""
    from synth_platform.lib.deidentify.masking import plan_masking
    from synth_platform.lib.pii import approved_plan
    from synth_platform.lib.storage import warehouse

    recorded = approved_plan.recorded_plan(warehouse_path, spec)
    if recorded is not None:
        return approved_plan.treatments(spec, recorded)
    findings = warehouse.read_table(warehouse_path, "governance", f"pii_{spec.name}")
    classes = {
        row.column: (row.pii_class, row.detected_type if isinstance(row.detected_type, str) else None)
        for row in findings.itertuples()
    }
    return plan_masking(spec, classes)


def _split(spec, warehouse_path: Path):
    """(plan, train, holdout, raw identifiers) from the warehouse, each read on a read-only connection."""
    from synth_platform.lib.storage import warehouse

    ds = spec.name
    require_tables(
        spec,
        warehouse_path,
        [("governance", f"pii_{ds}"), ("masked", f"{ds}_train"), ("masked", f"{ds}_holdout"), ("raw", ds)],
    )
    plan = applied_plan(spec, warehouse_path)
    train = warehouse.read_table(warehouse_path, "masked", f"{ds}_train")
    holdout = warehouse.read_table(warehouse_path, "masked", f"{ds}_holdout")
    identifier_columns = [t.column for t in plan if not t.reaches_model]
    raw = warehouse.read_table(warehouse_path, "raw", ds, identifier_columns) if identifier_columns else None
    return plan, train, holdout, [raw[c] for c in identifier_columns] if raw is not None else []


# --------------------------------------------------------------------------- the file


def _file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise UsageError(f"{path.name}: expected a .csv or .parquet file")
    return "csv" if suffix == ".csv" else "parquet"


def _header(path: Path, file_format: str) -> list[str] | None:
    """The file's column names, or None when they cannot be read cheaply (the landing-file
    reader then says what is wrong with the file, in its careful words)."""
    try:
        if file_format == "parquet":
            import pyarrow.parquet as pq

            return [str(name) for name in pq.read_schema(path).names]
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return [name.strip() for name in next(csv.reader(handle, strict=True))]
    except Exception:  # any unreadable header is the landing reader's to explain
        return None


def _shown(names: list[str]) -> str:
    """Names safe to print: plain identifiers only (a data row's cell is never one of them)."""
    plain = [n for n in names if _PLAIN_NAME.match(n)]
    hidden = len(names) - len(plain)
    return str(plain) + (f" and {hidden} more whose names are not plain identifiers" if hidden else "")


def _difference(found: list[str], expected: list[str]) -> str:
    missing = [c for c in expected if c not in found]
    unexpected = [c for c in found if c not in expected]
    duplicated = sorted({c for c in found if found.count(c) > 1})
    parts = [f"missing {missing}"] if missing else []
    parts += [f"unexpected {_shown(unexpected)}"] if unexpected else []
    parts += [f"duplicated {_shown(duplicated)}"] if duplicated else []
    return ", ".join(parts)


def input_shape(
    found: list[str] | None, source_columns: list[str], model_columns: list[str], name: str
) -> str:
    """'source' or 'model': which of the dataset's two shapes the file's columns are.

    An unreadable header, or a first row that looks like data (fewer than half of its names are
    columns of either shape), goes to the landing reader as 'source', which explains it without
    quoting a cell. Otherwise columns of neither shape are a usage error naming the missing and
    unexpected column names against both shapes.
    """
    if found is None or sorted(found) == sorted(source_columns):
        return "source"
    if sorted(found) == sorted(model_columns):
        return "model"
    known = [c for c in found if c in source_columns]
    if not known or len(known) * 2 < len(found):
        return "source"
    raise UsageError(
        f"{name}: its columns are neither the dataset's source shape nor its model shape. "
        f"As the source shape (the dataset's defs.yaml): {_difference(found, source_columns)}. "
        f"As the model shape (the approved plan's model columns, as `export-train` writes them): "
        f"{_difference(found, model_columns)}."
    )


def _kind(dtype) -> str:
    """The spec type that reads a column like the masked train table holds it."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    return "string"


def _read_model_shape(path: Path, spec, plan, train, file_format: str):
    """A model-shaped file typed like the masked train table, then in the source's shape.

    The landing reader does the reading (its checks and value-free messages) under a spec of the
    model columns, each declared with the type the train table holds it in (ZIP3 text, a birth
    year as an integer), so no source typing (full ZIP, ISO date) is applied to model values.
    """
    from synth_platform.lib.deidentify import refill
    from synth_platform.lib.storage.ingest import read_landing_file

    model_columns = [t.column for t in plan if t.reaches_model]
    columns = {c: spec.columns[c].model_copy(update={"type": _kind(train[c].dtype)}) for c in model_columns}
    source = spec.source.model_copy(update={"format": file_format, "min_rows": 1})
    model_spec = spec.model_copy(update={"columns": columns, "source": source})
    typed = read_landing_file(path, model_spec)
    return refill.restore_source_shape(typed, spec, plan, seed=spec.checks.seed)


def _read_table(path: Path, spec, plan, train):
    """(the file as a source-shaped frame, 'source' or 'model'); any problem is a usage error."""
    from synth_platform.lib.storage.ingest import IngestError, read_landing_file

    file_format = _file_format(path)
    model_columns = [t.column for t in plan if t.reaches_model]
    shape = input_shape(_header(path, file_format), spec.column_names, model_columns, path.name)
    try:
        if shape == "model":
            return _read_model_shape(path, spec, plan, train, file_format), shape
        source = spec.source.model_copy(update={"format": file_format, "min_rows": 1})
        return read_landing_file(path, spec.model_copy(update={"source": source})), shape
    except IngestError as error:
        raise UsageError(str(error)) from error
    except OSError as error:
        raise UsageError(f"{path.name}: cannot be read ({type(error).__name__})") from error


# --------------------------------------------------------------------------- the ledger row


def _recording_key(warehouse_path: Path) -> bytes:
    """The platform key the check row will be chained under, and a ledger it can extend.

    Checked before anything is judged, so a check that cannot be recorded is refused (exit 2)
    and shows nothing: never generated here, a key that does not verify the chain is refused too.
    """
    from synth_platform.lib.governance import ledger
    from synth_platform.lib.storage import platform_key, secrets, warehouse

    try:
        if ledger.default_platform_key(create=False) is None:
            path = secrets.secrets_dir() / secrets.KEY_FILE_NAME
            raise UsageError(
                f"the check cannot be recorded: no platform key; {secrets.restore_hint(path)} "
                "(every check is recorded in the dataset's ledger)"
            )
        # a key the ledger was not written with is refused too, naming what to restore
        key = platform_key.platform_key(warehouse_path, os.environ.get(secrets.ENV_VAR)).value
    except secrets.SecretError as error:
        raise UsageError(f"the check cannot be recorded: {error}") from error
    with warehouse.connect(warehouse_path, read_only=True) as con:
        problems = ledger.check_tail(con, key=key)
    if problems:
        raise UsageError(
            "the check cannot be recorded: the ledger's hash chain is broken ("
            + "; ".join(problems)
            + "); run `synth-platform ledger verify`"
        )
    return key


def who_ran() -> dict:
    """The OS user running the check and, when set, the operator named in SYNTH_OPERATOR."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no user name in this environment
        user = "unknown"
    return {"os_user": user, "operator": os.environ.get("SYNTH_OPERATOR") or None}


def check_entry(spec, file_sha256: str, rows: int, shape: str, trained_on: str, report):
    """The `check` ledger row: who, which file, what was assumed, the verdict; no spend.

    The verdict rests on exact figures (a restricted operator view, never released), so the row
    stays on the governed side: the published ledger leaves `check` rows out (`lib.storage.zones`).
    """
    from synth_platform import __version__
    from synth_platform.lib.governance import ledger

    verdict = "released" if report.passed else "blocked"
    failed = list(report.failed_checks)
    decision = f"check: would be {verdict}" + (f" (failed: {', '.join(failed)})" if failed else "")
    return ledger.LedgerEntry(
        run_id=f"check-{uuid.uuid4()}",
        dataset=spec.name,
        event="check",
        source_hash="",
        train_data_hash="",
        synthesizer="external",
        parameters={
            **who_ran(),
            "file_sha256": file_sha256,
            "rows": int(rows),
            "input_shape": shape,
            "trained_on": trained_on,
            "verdict": verdict,
            "failed_checks": failed,
            "figures": "exact (restricted operator view, not released)",
        },
        code_version=f"{__version__}/check",
        epsilon_spent=0.0,
        rho_spent=0.0,
        epsilon_budget=spec.privacy.epsilon_budget,
        budget_delta=spec.privacy.delta,
        decision=decision,
    )


def _record(warehouse_path: Path, entry, key: bytes) -> dict:
    """Append the row on a short write connection under the warehouse lock; a chain that broke
    since the pre-check is a usage error (nothing is shown unrecorded)."""
    from synth_platform.lib.governance import ledger
    from synth_platform.lib.storage import warehouse

    try:
        with warehouse.connect(warehouse_path) as con:
            return ledger.append(con, entry, key=key)
    except ledger.LedgerIntegrityError as error:
        raise UsageError(f"the check was not recorded, so it is not shown: {error}") from error


# --------------------------------------------------------------------------- the command


def _trained_on(args) -> str:
    if args.trained_on is None:
        raise UsageError(TRAINED_ON_HELP)
    return args.trained_on


def deciding(report) -> list[str]:
    """The checks whose verdict decided (the others are shown only, under --trained-on all)."""
    return [o.name for o in report.outcomes if o.details.get("deciding", True) is not False]


def assumption(trained_on: str) -> str:
    if trained_on == "train":
        return (
            "--trained-on train: the generator saw only the platform's training split "
            "(export-train), so the holdout is unseen people and every check decides"
        )
    return (
        "--trained-on all: the generator saw the whole source (or it is unknown), so the checks "
        "comparing training with holdout people are shown, not deciding"
    )


def _check(args) -> int:
    from synth_platform.lib.gate import evaluation
    from synth_platform.lib.storage.ingest import file_sha256
    from synth_platform.settings import Settings

    trained_on = _trained_on(args)
    settings = Settings.from_env()
    spec = dataset_spec(args.dataset, settings.specs_dir)
    path = Path(args.path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    _file_format(path)
    plan, train, holdout, identifiers = _split(spec, settings.warehouse_path)
    table, shape = _read_table(path, spec, plan, train)
    key = _recording_key(settings.warehouse_path)
    digest = file_sha256(path)
    report = evaluation.evaluate(spec, plan, table, train, holdout, identifiers, trained_on=trained_on)
    row = _record(
        settings.warehouse_path, check_entry(spec, digest, len(table), shape, trained_on, report), key
    )
    # restricted: exact figures (the operator sees the real data's assessment; nothing is released)
    checks = {o.name: {**o.exact_dict(), "description": o.description} for o in report.outcomes}
    summary = {
        "dataset": spec.name,
        "file": path.name,
        "file_sha256": digest,
        "rows": len(table),
        "input_shape": shape,
        "trained_on": trained_on,
        "assumed": assumption(trained_on),
        "deciding_checks": deciding(report),
        "released": report.passed,
        "figures": "exact (restricted operator view; the gate asset decides on noisy figures)",
        "failed_checks": report.failed_checks,
        "ledger_entry": int(row["entry_id"]),
        "checks": checks,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print(summary, report)
    return 0 if report.passed else 1


def _number(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def _print(summary: dict, report) -> None:
    print(
        f"release gate of {summary['dataset']!r} on {summary['file']} ({summary['rows']:,} rows, "
        f"{summary['input_shape']} shape)"
    )
    print(f"assumed: {summary['assumed']}")
    print(f"deciding: {', '.join(summary['deciding_checks'])}")
    print(f"  {'check':<22} {'verdict':<8} {'figure':>9} {'95% CI':>19} {'threshold':>10}")
    decided = set(summary["deciding_checks"])
    for name, c in summary["checks"].items():
        ci = f"{_number(c['ci_low'])}..{_number(c['ci_high'])}" if "ci_low" in c else ""
        verdict = ("pass" if c["passed"] else "BLOCK") if name in decided else "shown"
        print(f"  {name:<22} {verdict:<8} {_number(c['figure']):>9} {ci:>19} {c['threshold']:>10g}")
        print(f"      {c.get('verdict') or c['description']}")
    decision = "RELEASED" if report.passed else f"BLOCKED (failed: {', '.join(report.failed_checks)})"
    print(f"decision: would be {decision} on the exact figures")
    print(
        f"  recorded as ledger entry {summary['ledger_entry']} (event 'check', no budget spent, "
        "governed side only); restricted view: the gate asset decides on noisy figures charged to the budget"
    )
