"""The evidence pack of a schema's release decision: the gate's verdicts with their exact figures.

A schema of related tables (`lib/relational`) is judged by one gate whose verdicts are all noisy
(`lib/relational/gate.py`): what decides and what leaves the governed side. The data owner and
the privacy officer signing off need more: the figure each verdict would have had without the
noise, per table (`table_quality:<t>`, `identifier_leaks:<t>`) and across tables (orphans,
children per parent, pair trends, joined-profile copies, holdout people), beside the noisy one,
its noise scale and threshold; and the real row counts of each stage (raw, kept after the
contribution bounds, train, holdout). That is this pack.

The exact figures are the gate's own computation run again on the same tables with the noise
switched off (`ExactNoise`): the same SQL, the same public buckets and bins; the joined-profile
samples are then sized from the exact people counts instead of the noisy ones. They are computed
on real rows, so like a dataset's pack (`evidence`) the folder `data/evidence/<schema>/<run_id>/`
is owner-only (0700, files 0600) and nothing here is ever published or put in asset metadata:
the public counterpart is the schema's certificate (`schema_certificate`). No cell value goes in:
counts, shares, scores, hashes, names of tables and columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from synth_platform.lib.gate.private_decision import GateNoise
from synth_platform.lib.governance import evidence
from synth_platform.lib.governance.evidence import _e, _num, _table
from synth_platform.lib.storage.private_files import write_private

#: verdict kinds that belong to one table (their name is `<kind>:<table>`); the rest span tables
PER_TABLE = ("table_quality", "identifier_leaks")
#: verdict kinds whose threshold is a minimum (the figure must reach it); the rest are maxima
MINIMUM = ("table_quality", "holdout_people")
#: the kind of pack, so a reader (and the CLI) can tell a schema's pack from a dataset's
KIND = "schema"


@dataclass(frozen=True)
class ExactNoise(GateNoise):
    """A `GateNoise` that draws zeros: the gate's figures as they are, for the restricted pack only.

    Never decide or publish with it: it spends nothing and protects nothing."""

    def gaussian(self, check: str, sigma, size: int | None = None):
        return np.zeros(() if size is None else size) * sigma


def exact_noise(noise: GateNoise) -> ExactNoise:
    """The same evaluation's identity (so keyed samples draw the same people), without noise."""
    return ExactNoise(
        noise.key, noise.model_sha256, noise.synthetic_sha256, noise.rho, noise.evaluation, noise.noisy_total
    )


def _kind(name: str) -> tuple[str, str | None]:
    kind, _, subject = name.partition(":")
    return kind, subject or None


def verdict_rows(noisy: list, exact: list | None) -> list[dict]:
    """One row per verdict (`lib.relational.gate.Verdict`s): the noisy figure that decided, its noise
    and threshold, the verdict, and the exact figure of the same name with whether it alone meets
    the threshold. `exact`: the verdicts of the noise-free evaluation (None: not computed)."""
    exact_by_name = {v.name: v for v in exact or []}
    rows = []
    for v in noisy:
        kind, subject = _kind(v.name)
        found = exact_by_name.get(v.name)
        figure = None if found is None else float(found.value)
        if figure is None:
            within = None
        elif kind in MINIMUM:
            within = figure >= v.threshold
        else:
            within = figure <= v.threshold
        rows.append(
            evidence.jsonable(
                {
                    "name": v.name,
                    "kind": kind,
                    "table": subject if kind in PER_TABLE else None,
                    "scope": "table" if kind in PER_TABLE else "across tables",
                    "exact_figure": figure,
                    "noisy_figure": float(v.value),
                    "sigma": float(v.sigma),
                    "sensitivity": float(v.sensitivity),
                    "rho": float(v.rho),
                    "threshold": float(v.threshold),
                    "threshold_is": "minimum" if kind in MINIMUM else "maximum",
                    "passed": bool(v.passed),
                    "verdict": "pass" if v.passed else "block",
                    "exact_within_threshold": within,
                    "description": v.description,
                    "released": v.noisy.as_dict() if getattr(v, "noisy", None) is not None else {},
                }
            )
        )
    return rows


def assemble(
    *,
    schema: str,
    run_id: str,
    decision: str,
    blocked_by: list[str],
    spec: dict,
    code: dict,
    gate: dict,
    verdicts: list[dict],
    real_rows: dict[str, dict],
    bounds: list[dict],
    synthetic_rows: dict[str, int],
    run_ledger_rows: list[dict],
    budget: dict,
) -> dict:
    """The report as one JSON-safe dict (the HTML is rendered from exactly this)."""
    per_table: dict[str, list[dict]] = {}
    for row in verdicts:
        if row["scope"] == "table":
            per_table.setdefault(str(row["table"]), []).append(row)
    return evidence.jsonable(
        {
            "kind": KIND,
            "schema": schema,
            # `dataset` too: readers of dataset packs (and `find_pack`) key on it
            "dataset": schema,
            "run_id": run_id,
            "decision": decision,
            "failed_checks": blocked_by,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "audience": "Restricted: the exact figures and row counts are computed on the real tables. "
            "For the data owner, the privacy officer and the platform team; not for consumers of the "
            "release (they read the release certificate).",
            "code": code,
            "gate": gate,
            "per_table_verdicts": per_table,
            "cross_table_verdicts": [r for r in verdicts if r["scope"] != "table"],
            "real_rows": real_rows,
            "contribution_bounds": bounds,
            "synthetic_rows": synthetic_rows,
            "privacy_budget": budget,
            "ledger_rows": run_ledger_rows,
            "spec": spec,
        }
    )


def write_pack(directory: Path, report: dict) -> evidence.EvidencePack:
    """report.json and report.html, owner-only, in `directory` (`evidence.pack_dir`)."""
    pack = evidence.EvidencePack(evidence.private_dir(Path(directory)))
    write_private(pack.json, json.dumps(report, indent=2))
    write_private(pack.html, render_html(report))
    return pack


def record_decision(directory: Path, decision: str, ledger_rows: list[dict], budget: dict | None = None):
    """The gate's pack marked with the final decision and its ledger rows (the release step)."""
    pack = evidence.EvidencePack(Path(directory))
    report = json.loads(pack.json.read_text())
    report["decision"] = decision
    report["decided_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["ledger_rows"] = evidence.jsonable([*report.get("ledger_rows", []), *ledger_rows])
    if budget is not None:
        report["privacy_budget"] = evidence.jsonable(budget)
    return write_pack(pack.directory, report)


# --- HTML ---------------------------------------------------------------------------------------

LEDGER_COLUMNS = (
    "entry_id",
    "event",
    "decision",
    "epsilon_spent",
    "rho_spent",
    "cumulative_epsilon",
    "row_hash",
)
_VERDICT_COLUMNS = (
    "name",
    "verdict",
    "exact_figure",
    "noisy_figure",
    "sigma",
    "threshold",
    "threshold_is",
    "exact_within_threshold",
    "rho",
    "description",
)


def _verdict_table(rows: list[dict]) -> str:
    return _table(rows, list(_VERDICT_COLUMNS))


def render_html(report: dict) -> str:
    """A self-contained page: decision, verdicts per table and across tables, counts, provenance."""
    decision = str(report.get("decision", ""))
    gate = report.get("gate", {})
    parts = [
        *evidence.page_head(report.get("schema"), report, decision, kind="schema "),
        "<h2>Summary</h2>",
        _table(
            [
                {"item": "decision", "value": decision},
                {"item": "blocked by", "value": ", ".join(report.get("failed_checks") or []) or "none"},
                {"item": "gate rho", "value": _num(gate.get("rho"))},
                {"item": "gate ledger entry", "value": gate.get("ledger_entry")},
                {"item": "code version", "value": (report.get("code") or {}).get("version")},
            ]
        ),
        "<p>Each verdict was decided on its <b>noisy</b> figure (what the public certificate shows). "
        "The <b>exact</b> figure is the same computation without the noise; <i>exact within "
        "threshold</i> says whether it alone meets the threshold.</p>",
        "<h2>Verdicts per table</h2>",
    ]
    per_table = report.get("per_table_verdicts") or {}
    if not per_table:
        parts.append("<p class='muted'>none</p>")
    for table, rows in per_table.items():
        parts.append(f"<h3>{_e(table)}</h3>")
        parts.append(_verdict_table(rows))
    parts.append("<h2>Verdicts across tables</h2>")
    parts.append(_verdict_table(report.get("cross_table_verdicts") or []))
    real = report.get("real_rows") or {}
    synthetic = report.get("synthetic_rows") or {}
    parts.append("<h2>Rows per table (real: exact; synthetic: as sampled)</h2>")
    parts.append(
        _table([{"table": t, **counts, "synthetic": synthetic.get(t)} for t, counts in real.items()])
    )
    parts.append("<h2>Contribution bounds (exact rows kept and dropped)</h2>")
    parts.append(_table(report.get("contribution_bounds") or []))
    parts.append("<h2>Privacy budget</h2>")
    parts.append(_table([{"item": k, "value": v} for k, v in (report.get("privacy_budget") or {}).items()]))
    parts.append("<h2>Ledger rows of this run</h2>")
    parts.append(_table(report.get("ledger_rows") or [], list(LEDGER_COLUMNS)))
    parts.append("<h2>Gate settings</h2>")
    parts.append(f"<pre>{_e(json.dumps(gate, indent=2))}</pre>")
    parts.append("<h2>Provenance</h2>")
    parts.append(_table([{"item": k, "value": v} for k, v in (report.get("code") or {}).items()]))
    parts.append("<h2>Spec as applied</h2>")
    parts.append(f"<pre>{_e(json.dumps(report.get('spec'), indent=2))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def find_pack(project_root: Path, schema: str, run_id: str | None = None) -> evidence.EvidencePack:
    """The pack of a run, or the schema's newest (`evidence.find_pack`: one folder per name, a
    schema's beside the datasets'), with the schema named in the reason when there is none."""
    try:
        return evidence.find_pack(project_root, schema, run_id)
    except evidence.EvidenceNotFoundError:
        base = evidence.evidence_root(project_root) / schema
        run = f" and run '{run_id}'" if run_id else ""
        raise evidence.EvidenceNotFoundError(
            f"no evidence pack for schema '{schema}'{run} in {base}: a pack is written at each release "
            f"decision of the schema (run its job `{schema}_governed_schema`, e.g. `make demo-relational`)"
        ) from None
