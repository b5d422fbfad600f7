"""The approved masking plan: which columns reach a model, decided by a person, not by the data.

Discovery (`lib.pii.discovery`) runs on the current rows, so one new row can move a column across a
threshold: its verdict is data-dependent and cannot shape the model on its own. The plan that
does is a file next to the spec, `<datasets>/<dataset>/masking_plan.yaml`, proposed from discovery's
report (`synth-platform pii approve DATASET`), reviewed and committed by a person:

    dataset: adult_customers
    approved_by: Jane Doe
    approved_at: '2026-12-03T22:30:00Z'
    columns:
      customer_id: {class: direct_identifier, type: customer_id}  # pseudonymize
      full_name: {class: direct_identifier, type: full_name, format: 'Family, Given'}  # drop
      age: {class: quasi_identifier, type: age}  # keep

Per column: `class` (direct_identifier / quasi_identifier / sensitive / other), `type` (the
detected type, or null) and optionally `format`, how a refilled identifier looks to a person
(free text handed to `lib.deidentify.refill`). Every spec column is listed, no other: a spec that gained or
lost a column needs a new approval. The plan's digest (`plan_digest`) is public: it hashes
classes, types and formats, never a value.

Each run still runs discovery and compares (`disagreements`): a column discovery now calls a
direct identifier that the plan lets reach the model stops the run before anything is charged,
until a person re-approves. The other way round (the plan drops a column discovery no longer
flags) is the safe side and passes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import yaml

from synth_platform.lib.deidentify.masking import DIRECT, ColumnTreatment, plan_masking
from synth_platform.lib.spec import DatasetSpec

PII_CLASSES = ("direct_identifier", "quasi_identifier", "sensitive", "other")
#: The suffix of a plan in the old flat layout (`config/datasets/<dataset>.plan.yaml`), for migrating.
PLAN_SUFFIX = ".plan.yaml"
#: The plan's file, next to the dataset's `defs.yaml` (lib.dataset_instances).
PLAN_FILE = "masking_plan.yaml"
_TOP_FIELDS = ("dataset", "approved_by", "approved_at", "columns")
_COLUMN_FIELDS = ("class", "type", "format")


class PlanError(ValueError):
    """An approved plan that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class PlannedColumn:
    pii_class: str
    type: str | None = None
    format: str | None = None

    def as_dict(self) -> dict:
        entry: dict = {"class": self.pii_class, "type": self.type}
        if self.format is not None:
            entry["format"] = self.format
        return entry


@dataclass(frozen=True)
class ApprovedPlan:
    dataset: str
    approved_by: str
    approved_at: str
    columns: dict[str, PlannedColumn]
    path: Path | None = None

    @property
    def classes(self) -> dict[str, tuple[str, str | None]]:
        return {name: (c.pii_class, c.type) for name, c in self.columns.items()}

    @property
    def digest(self) -> str:
        return plan_digest(self)

    @property
    def where(self) -> str:
        return str(self.path) if self.path else f"the approved plan of {self.dataset!r}"


def plan_path(specs_dir: Path, dataset: str) -> Path:
    """`<datasets>/<dataset>/masking_plan.yaml`: in the dataset's folder, next to its `defs.yaml`."""
    return Path(specs_dir) / dataset / PLAN_FILE


def approve_command(dataset: str) -> str:
    return f"synth-platform pii approve {dataset}"


# --------------------------------------------------------------------------------------------
# Proposal and writing
# --------------------------------------------------------------------------------------------


def _text_or_none(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value)
    return text or None


def _finding_rows(findings: pd.DataFrame | Iterable) -> list[tuple[str, str, str | None]]:
    """(column, class, type) from a findings table (governance.pii_<ds>) or ColumnFindings."""
    if isinstance(findings, pd.DataFrame):
        return [
            (str(r["column"]), str(r["pii_class"]), _text_or_none(r["detected_type"]))
            for r in findings.to_dict(orient="records")
        ]
    return [(str(f.column), str(f.pii_class), _text_or_none(f.detected_type)) for f in findings]


def propose(spec: DatasetSpec, findings_table: pd.DataFrame | Iterable) -> dict:
    """The plan a reviewer starts from: discovery's class and type per spec column, spec hints winning.

    A spec column discovery has no row for is an error (discovery did not see it: run it again);
    a column discovery reports that the spec does not declare is left out (the spec decides the columns).
    """
    found = {column: (pii_class, kind) for column, pii_class, kind in _finding_rows(findings_table)}
    missing = [c for c in spec.columns if c not in found]
    if missing:
        raise PlanError(
            f"discovery's report of {spec.name!r} has no row for column(s) {missing}: "
            "run discovery (the chain up to pii_report) on the current table again"
        )
    columns = {}
    for name, column_spec in spec.columns.items():
        pii_class, kind = found[name]
        if column_spec.pii is not None:
            pii_class, kind = column_spec.pii.pii_class, column_spec.pii.type or kind
        columns[name] = {"class": pii_class, "type": kind}
    return {"dataset": spec.name, "columns": columns}


def _header(dataset: str) -> str:
    return (
        f"# Approved masking plan of dataset '{dataset}': which columns reach the synthesizer.\n"
        "# Proposed by `synth-platform pii approve` from discovery's report (classes and types, never\n"
        "# a value), then REVIEWED AND COMMITTED BY A PERSON: the chain masks by this file, not by the\n"
        "# data, and stops when discovery later finds a direct identifier this plan lets through.\n"
        "# Per column: class (direct_identifier | quasi_identifier | sensitive | other), type (detected\n"
        "# type or null) and optionally format, how a refilled identifier looks, e.g. 'Family, Given',\n"
        "# '#########', '#### #### #### ####', 'UPPER'. The comment after each column is the action.\n"
    )


def _action_comment(spec: DatasetSpec | None, name: str, pii_class: str, kind: str | None) -> str:
    if spec is None:
        return ""
    (treatment,) = [t for t in plan_masking(spec, {name: (pii_class, kind)}) if t.column == name]
    action = treatment.action
    if action == "generalize":
        action = f"generalize:{treatment.generalize}"
    elif action == "drop":
        action = "drop, refilled with fake values after sampling"
    return f"  # {action}"


def render_plan(
    proposal: Mapping, approved_by: str, approved_at: str, spec: DatasetSpec | None = None
) -> str:
    dataset = str(proposal["dataset"])
    head = {"dataset": dataset, "approved_by": approved_by, "approved_at": approved_at}
    lines = [
        _header(dataset) + yaml.safe_dump(head, sort_keys=False, allow_unicode=True).rstrip(),
        "columns:",
    ]
    for name, entry in proposal["columns"].items():
        ordered = {k: entry.get(k) for k in _COLUMN_FIELDS if k in entry or k == "type"}
        if ordered.get("format") is None:
            ordered.pop("format", None)
        line = yaml.safe_dump(
            {name: ordered}, default_flow_style=None, sort_keys=False, allow_unicode=True, width=10_000
        ).strip()
        if "\n" in line:  # a name YAML writes as a complex key (over 128 characters): quote it instead
            value = yaml.safe_dump(ordered, default_flow_style=True, sort_keys=False, width=10_000).strip()
            line = f"{json.dumps(name, ensure_ascii=False)}: {value}"
        lines.append(f"  {line}{_action_comment(spec, name, entry['class'], entry.get('type'))}")
    return "\n".join(lines) + "\n"


def write_plan(
    path: Path,
    proposal: Mapping,
    approved_by: str,
    approved_at: str | None = None,
    spec: DatasetSpec | None = None,
) -> Path:
    """Write the plan file (the reviewer commits it); `spec` adds each column's action as a comment."""
    if not str(approved_by).strip():
        raise PlanError(f"{path}: approved_by must name the person approving the plan")
    approved_at = approved_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render_plan(proposal, str(approved_by).strip(), approved_at, spec)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------


def _column(where: str, name: object, entry: object) -> PlannedColumn:
    field = f"columns.{name}"
    if not isinstance(entry, Mapping):
        raise PlanError(f"{where}: field '{field}' must be a mapping with at least 'class'")
    unknown = [k for k in entry if k not in _COLUMN_FIELDS]
    if unknown:
        raise PlanError(
            f"{where}: field '{field}.{unknown[0]}' is not allowed (allowed: {', '.join(_COLUMN_FIELDS)})"
        )
    if "class" not in entry:
        raise PlanError(f"{where}: field '{field}.class' is missing (one of {', '.join(PII_CLASSES)})")
    pii_class = entry["class"]
    if pii_class not in PII_CLASSES:
        raise PlanError(
            f"{where}: field '{field}.class' must be one of {', '.join(PII_CLASSES)}, not {pii_class!r}"
        )
    for key in ("type", "format"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise PlanError(f"{where}: field '{field}.{key}' must be a non-empty text or null")
    return PlannedColumn(pii_class, entry.get("type"), entry.get("format"))


def _timestamp(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def parse_plan(raw: object, spec: DatasetSpec, where: str, path: Path | None = None) -> ApprovedPlan:
    """Validate a plan's content against the spec; PlanError names `where` and the field."""
    again = f"review the table and re-approve: `{approve_command(spec.name)}`"
    if not isinstance(raw, Mapping):
        raise PlanError(f"{where}: expected a mapping of fields at the top level")
    unknown = [k for k in raw if k not in _TOP_FIELDS]
    if unknown:
        raise PlanError(f"{where}: field {unknown[0]!r} is not allowed (allowed: {', '.join(_TOP_FIELDS)})")
    for field in _TOP_FIELDS:
        if raw.get(field) in (None, ""):
            raise PlanError(f"{where}: field '{field}' is missing")
    if raw["dataset"] != spec.name:
        raise PlanError(f"{where}: field 'dataset' is {raw['dataset']!r} but the spec is {spec.name!r}")
    approved_by = raw["approved_by"]
    if not isinstance(approved_by, str) or not approved_by.strip():
        raise PlanError(f"{where}: field 'approved_by' must name the person who approved the plan")
    columns_raw = raw["columns"]
    if not isinstance(columns_raw, Mapping):
        raise PlanError(f"{where}: field 'columns' must map every spec column to its class")
    for name in columns_raw:
        if not isinstance(name, str):
            raise PlanError(
                f"{where}: column name {name!r} was read by YAML as a {type(name).__name__}, not as text: "
                f"put it in quotes (e.g. '{name}': ...)"
            )
    extra = [n for n in columns_raw if n not in spec.columns]
    if extra:
        raise PlanError(
            f"{where}: field 'columns.{extra[0]}': unknown column, not in the spec of {spec.name!r}; {again}"
        )
    missing = [n for n in spec.columns if n not in columns_raw]
    if missing:
        raise PlanError(
            f"{where}: field 'columns.{missing[0]}': missing column, the spec declares it; {again}"
        )
    columns = {name: _column(where, name, columns_raw[name]) for name in spec.columns}
    return ApprovedPlan(spec.name, approved_by.strip(), _timestamp(raw["approved_at"]), columns, path)


def load_plan(specs_dir: Path, spec: DatasetSpec) -> ApprovedPlan | None:
    """The approved plan next to the spec, validated; None when there is no plan file."""
    path = plan_path(specs_dir, spec.name)
    if not path.is_file():
        return None
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot be read ({exc.__class__.__name__})") from exc
    return parse_plan(raw, spec, str(path), path)


def _canonical_columns(plan: ApprovedPlan) -> dict:
    return {
        name: {"class": c.pii_class, "type": c.type, "format": c.format} for name, c in plan.columns.items()
    }


def plan_digest(plan: ApprovedPlan) -> str:
    """SHA-256 of the canonical JSON of the columns part (classes, types, formats): public, no data."""
    canonical = json.dumps(
        _canonical_columns(plan), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# A plan as a warehouse table (the copy the chain's stages read) and back
# --------------------------------------------------------------------------------------------

TABLE_COLUMNS = ("column", "pii_class", "detected_type", "format", "approved_by", "approved_at", "digest")


def plan_table_name(dataset: str) -> str:
    """governance.<this>: the approved plan the chain's `pii_report` checked against discovery."""
    return f"approved_plan_{dataset}"


def recorded_plan(db_path: Path, spec: DatasetSpec) -> ApprovedPlan | None:
    """The plan the latest `pii_report` of `spec` checked and recorded in the warehouse, or None.

    What every later stage applies (and what a read-only tool judging the dataset should apply);
    PlanError when the record no longer fits the spec or its digest.
    """
    from synth_platform.lib.storage import warehouse

    table = plan_table_name(spec.name)
    if not Path(db_path).exists():
        return None
    with warehouse.connect(db_path, read_only=True) as con:  # one connection: a run asks this often
        if not warehouse.has_table(con, "governance", table):
            return None
        frame = con.execute(f"SELECT * FROM governance.{warehouse.quote_ident(table)}").df()
    return from_table(frame, spec, f"governance.{table}")


def plan_table(plan: ApprovedPlan) -> pd.DataFrame:
    """One row per column; classes, types, formats and the approval: no data value."""
    digest = plan_digest(plan)
    rows = [
        (name, c.pii_class, c.type, c.format, plan.approved_by, plan.approved_at, digest)
        for name, c in plan.columns.items()
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS)).astype("string")


def from_table(table: pd.DataFrame, spec: DatasetSpec, where: str) -> ApprovedPlan:
    """The plan back from `plan_table`'s rows, validated against the spec like the file."""
    records = table.to_dict(orient="records")
    if not records:
        raise PlanError(f"{where}: the recorded plan is empty")
    columns = {
        str(r["column"]): {
            "class": r["pii_class"],
            "type": _text_or_none(r["detected_type"]),
            "format": _text_or_none(r["format"]),
        }
        for r in records
    }
    first = records[0]
    raw = {
        "dataset": spec.name,
        "approved_by": first["approved_by"],
        "approved_at": first["approved_at"],
        "columns": columns,
    }
    plan = parse_plan(raw, spec, where)
    if plan_digest(plan) != first["digest"]:
        raise PlanError(f"{where}: the recorded plan does not match its digest")
    return plan


# --------------------------------------------------------------------------------------------
# Using the plan
# --------------------------------------------------------------------------------------------


def treatments(spec: DatasetSpec, plan: ApprovedPlan) -> list[ColumnTreatment]:
    """The masking plan every stage applies: `plan_masking` on the approved classes, plus formats."""
    return [
        dataclasses.replace(t, format=plan.columns[t.column].format) for t in plan_masking(spec, plan.classes)
    ]


def disagreements(
    plan: ApprovedPlan, findings: pd.DataFrame | Iterable, spec: DatasetSpec | None = None
) -> list[str]:
    """Where today's discovery is less safe than the approved plan: one message per column.

    A column discovery calls a direct identifier that the plan lets reach the model (with `spec`,
    by the actual treatment: a spec `mask: drop` or the pseudonymised key do not reach it), and
    a column discovery reports that the plan does not list. A column the plan treats as a direct
    identifier that discovery no longer flags is the safe side: not a disagreement.
    """
    return [message for _, message in _disagreements(plan, findings, spec)]


def disagreeing_columns(
    plan: ApprovedPlan, findings: pd.DataFrame | Iterable, spec: DatasetSpec | None = None
) -> list[str]:
    """The columns `disagreements` names, in the same order."""
    return [column for column, _ in _disagreements(plan, findings, spec)]


def _disagreements(
    plan: ApprovedPlan, findings: pd.DataFrame | Iterable, spec: DatasetSpec | None
) -> list[tuple[str, str]]:
    reaching = (
        {t.column for t in treatments(spec, plan) if t.reaches_model}
        if spec is not None
        else {n for n, c in plan.columns.items() if c.pii_class != DIRECT}
    )
    again = f"review the column and re-approve: `{approve_command(plan.dataset)}`, then commit the plan"
    problems = []
    for column, pii_class, kind in _finding_rows(findings):
        found = pii_class + (f", {kind}" if kind else "")
        if column not in plan.columns:
            problems.append(
                (
                    column,
                    f"column {column!r}: discovery reports it ({found}) but {plan.where} does not list it;"
                    f" {again}",
                )
            )
        elif pii_class == DIRECT and column in reaching:
            planned = plan.columns[column].pii_class
            problems.append(
                (
                    column,
                    f"column {column!r}: discovery now finds a direct identifier"
                    + (f" ({kind})" if kind else "")
                    + f" but {plan.where} classes it {planned!r}, which lets it reach the model; {again}",
                )
            )
    return problems
