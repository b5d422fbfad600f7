"""The evidence pack of one release decision: what a privacy officer reads before signing off.

One folder per decision, `data/evidence/<dataset>/<run_id>/`, holding `report.json` (every
figure, machine-readable) and `report.html` (the same, readable in a browser in a minute, with
its pictures embedded as base64 PNG), plus the PNGs themselves so the page can be re-rendered
when the decision changes from "passed the gate" to "released".

What goes in: the source file's hash, the spec as applied, code version and seeds, the PII
findings and masking treatments, the synthesizer and its parameters, the privacy budget spent,
cumulative and remaining, every gate check with figure, interval, threshold and verdict, the
Great Expectations results, the utility scores, and pictures of real against synthetic.

What never goes in: a cell value. Everything here is a count, a share, a score, a hash, a
column name, or a picture of aggregates over model-space columns (see `evidence_plots`). The
figures *are* computed on real data, though: the pack is for the people entitled to see the
gate's assessment of the real table, not for the consumers of the synthetic release.
So every file of a pack is created owner-only (0600) and its folders 0700 — the pack folder,
the dataset's folder and `data/evidence` — whatever the process umask (explicit modes and
chmod, files replaced atomically).
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth_platform.lib.gate import private_decision
from synth_platform.lib.storage.private_files import DIR_MODE, write_private

PICTURES = {
    "distributions": "Real vs synthetic, per column",
    "correlation_difference": "Pair association difference",
    "dcr_histograms": "Distance to closest record",
}
UTILITY_COLUMNS = (
    "target",
    "task",
    "metric",
    "tstr",
    "trtr",
    "gap",
    "gap_ci_low",
    "gap_ci_high",
    "test_rows",
)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.:+-]{1,128}$")


class EvidenceNotFoundError(LookupError):
    """No evidence pack for the dataset (or run) asked for."""


@dataclass(frozen=True)
class EvidencePack:
    directory: Path

    @property
    def html(self) -> Path:
        return self.directory / "report.html"

    @property
    def json(self) -> Path:
        return self.directory / "report.json"


def evidence_root(project_root: Path) -> Path:
    return Path(project_root) / "data" / "evidence"


def pack_dir(project_root: Path, dataset: str, run_id: str) -> Path:
    for part in (dataset, run_id):
        if not _SAFE_NAME.match(part):  # both become folder names
            raise ValueError(f"not usable as a folder name: {part!r}")
    return evidence_root(project_root) / dataset / run_id


def jsonable(value: Any) -> Any:
    """Plain JSON: infinities and NaN as strings/None, numpy and pandas scalars as Python."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def outcome_dict(outcome: Any) -> dict:
    """One gate check as a dict: name, verdict, figure, interval, threshold, description, details.

    Reads the attributes a check outcome has (`ci`, or `ci_low`/`ci_high`, or those keys in its
    details), so the pack keeps working as the gate grows new checks.
    """
    details = dict(getattr(outcome, "details", {}) or {})
    ci = getattr(outcome, "ci", None)
    low = getattr(outcome, "ci_low", None)
    high = getattr(outcome, "ci_high", None)
    if ci is not None and low is None:
        low, high = ci
    low = details.pop("ci_low", low)
    high = details.pop("ci_high", high)
    return jsonable(
        {
            "name": outcome.name,
            "passed": bool(outcome.passed),
            "verdict": "pass" if outcome.passed else "block",
            "verdict_text": getattr(outcome, "verdict", "") or "",
            "figure": outcome.figure,
            "ci_low": low,
            "ci_high": high,
            "threshold": outcome.threshold,
            "description": getattr(outcome, "description", ""),
            "details": details,
        }
    )


def decision_rule(checks: list[dict]) -> dict | None:
    """How sure a noisy check had to be to block, read from the checks' released figures (public):
    the spec's family-wise false-block rate alpha, how many figures share it, and the z each one
    was decided at. None when no noisy figure decided (exact figures, or a refused gate)."""
    for check in checks:
        released = (check.get("details") or {}).get("released") or {}
        if isinstance(released, dict) and released.get("false_block_rate") is not None:
            return {
                "false_block_rate": released["false_block_rate"],
                "figures": released.get("family_figures"),
                "z_per_figure": released.get("z"),
                "meaning": "an honest release (every true figure at or inside its threshold) is blocked "
                "by the gate's noise with probability at most false_block_rate: each of the figures is "
                "decided at z = Phi^-1(1 - false_block_rate / figures) (Bonferroni); the holdout "
                f"minimum passes only when surely met, at z {private_decision.Z:.3f}",
            }
    return None


def _decision_rule_text(rule: dict | None) -> str:
    if not rule:
        return "exact figures (no noisy decision)"
    return (
        f"family-wise false-block rate {_num(rule.get('false_block_rate'))} over {rule.get('figures')} "
        f"noisy figures: each blocks only beyond z {_num(rule.get('z_per_figure'))} x its uncertainty"
    )


def assemble(
    *,
    dataset: str,
    run_id: str,
    decision: str,
    failed_checks: list[str],
    spec: dict,
    code: dict,
    source: dict,
    pii_findings: list[dict],
    treatments: list[dict],
    synthesizer: dict,
    checks: list[dict],
    utility: list[dict],
    run_ledger_rows: list[dict],
    budget: dict,
    picture_notes: dict | None = None,
) -> dict:
    """The report as one JSON-safe dict (the HTML is rendered from exactly this)."""
    gx = next((c for c in checks if c["name"] == "schema_expectations"), None)
    return jsonable(
        {
            "dataset": dataset,
            "run_id": run_id,
            "decision": decision,
            "failed_checks": failed_checks,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "audience": "Restricted: the figures and pictures are computed on the real data. For the "
            "data owner, the privacy officer and the platform team; not for consumers of the release.",
            "source": source,
            "code": code,
            "spec": spec,
            "pii_findings": pii_findings,
            "masking": treatments,
            "synthesizer": synthesizer,
            "privacy_budget": budget,
            "gate_checks": checks,
            "release_decision_rule": decision_rule(checks),
            "great_expectations": {
                "success": None if gx is None else gx["passed"],
                "failed_expectations": None if gx is None else gx["figure"],
                "summary": None if gx is None else gx["description"],
                "failed": [] if gx is None else gx["details"].get("failed_expectations", []),
            },
            "utility": utility,
            "ledger_rows": run_ledger_rows,
            "pictures": picture_notes or {},
        }
    )


def private_dir(directory: Path) -> Path:
    """Create `directory` owner-only (0700), and its missing parents; an `evidence` root and the
    dataset folder below it are made 0700 too. Explicit chmod: the umask does not matter."""
    directory = Path(directory)
    missing = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)
    os.chmod(directory, DIR_MODE)
    # data/evidence/<dataset>/<run>: the dataset folder and the evidence root are restricted as well.
    if directory.parent.parent.name == "evidence":
        os.chmod(directory.parent, DIR_MODE)
        os.chmod(directory.parent.parent, DIR_MODE)
    return directory


def write_pack(directory: Path, report: dict, pictures: dict[str, bytes]) -> EvidencePack:
    """Write report.json, the PNGs and report.html into `directory` (created if needed), owner-only."""
    pack = EvidencePack(private_dir(Path(directory)))
    for name, data in pictures.items():
        write_private(pack.directory / f"{name}.png", data)
    _write(pack, report)
    return pack


def record_decision(directory: Path, decision: str, ledger_rows: list[dict], budget: dict | None = None):
    """Update a pack written at the gate with the final decision and the decision's ledger rows."""
    pack = EvidencePack(Path(directory))
    report = json.loads(pack.json.read_text())
    report["decision"] = decision
    report["decided_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["ledger_rows"] = jsonable([*report.get("ledger_rows", []), *ledger_rows])
    if budget is not None:
        report["privacy_budget"] = jsonable(budget)
    _write(pack, report)
    return pack


def _write(pack: EvidencePack, report: dict) -> None:
    pictures = {
        name: (pack.directory / f"{name}.png").read_bytes()
        for name in PICTURES
        if (pack.directory / f"{name}.png").exists()
    }
    private_dir(pack.directory)
    write_private(pack.json, json.dumps(report, indent=2, sort_keys=False))
    write_private(pack.html, render_html(report, pictures))


def find_pack(project_root: Path, dataset: str, run_id: str | None = None) -> EvidencePack:
    """The pack of a run, or the newest pack of the dataset; EvidenceNotFoundError if there is none."""
    base = evidence_root(project_root) / dataset
    if run_id:
        pack = EvidencePack(pack_dir(project_root, dataset, run_id))
        if not pack.html.exists():
            raise EvidenceNotFoundError(
                f"no evidence pack for dataset '{dataset}' and run '{run_id}' in {base}"
            )
        return pack
    pack_dir(project_root, dataset, "newest")  # checks the dataset name
    packs = [EvidencePack(p) for p in base.iterdir() if (p / "report.html").exists()] if base.is_dir() else []
    if not packs:
        raise EvidenceNotFoundError(
            f"no evidence pack for dataset '{dataset}' in {base}: a pack is written at each release decision "
            "(run the dataset's chain, e.g. `make demo`)"
        )
    return max(packs, key=lambda p: p.json.stat().st_mtime if p.json.exists() else p.html.stat().st_mtime)


# --- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:16px 24px;color:#222}
h1{font-size:22px;margin:8px 0} h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:6px 0;font-size:13px} td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top} th{background:#f4f4f4}
.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:3px 10px;border-radius:4px;color:#fff;font-weight:600}
.released{background:#1a7f37} .blocked{background:#c62828} .pending{background:#9a6700}
.pass{color:#1a7f37;font-weight:600} .fail{color:#c62828;font-weight:600} .muted{color:#666}
.note{background:#fff8e1;border:1px solid #f0d27a;padding:8px 12px;border-radius:4px}
img{max-width:100%;border:1px solid #eee} pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:.{digits}g}" if isinstance(value, float) else f"{value:,}"
    return _e(value)


def _table(rows: list[dict], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p class='muted'>none</p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            text = (
                _num(value) if numeric else _e(json.dumps(value) if isinstance(value, dict | list) else value)
            )
            cells.append(f"<td class='num'>{text}</td>" if numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _or(value: Any, default: str) -> Any:
    return default if value is None else value


def _decision_class(decision: str) -> str:
    if decision.startswith("released"):
        return "released"
    if decision.startswith("blocked"):
        return "blocked"
    return "pending"


def _checks_table(checks: list[dict]) -> str:
    rows = []
    for c in checks:
        verdict = "PASS" if c["passed"] else "FAIL"
        ci = "—" if c.get("ci_low") is None else f"[{_num(c['ci_low'])}, {_num(c.get('ci_high'))}]"
        rows.append(
            f"<tr><td><b>{_e(c['name'])}</b></td>"
            f"<td class='{'pass' if c['passed'] else 'fail'}'>{verdict}</td>"
            f"<td class='num'>{_num(c['figure'])}</td><td class='num'>{ci}</td>"
            f"<td class='num'>{_num(c['threshold'])}</td><td>{_e(c.get('description'))}"
            f"{'<br><span class=muted>' + _e(c['verdict_text']) + '</span>' if c.get('verdict_text') else ''}"
            "</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("check", "verdict", "figure", "95% CI", "threshold", "what it measures")
    )
    head = f"<tr>{head}</tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def page_head(name, report: dict, decision: str, kind: str = "") -> list[str]:
    """The opening of a restricted evidence page: title, style, heading, decision badge, audience;
    `kind` before the dataset's or schema's `name` ('schema ')."""
    return [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>RESTRICTED evidence: {kind}{_e(name)} run {_e(report.get('run_id'))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Evidence pack (restricted, owner only) — {kind}{_e(name)}</h1>",
        f"<p><span class='badge {_decision_class(decision)}'>{_e(decision)}</span> "
        f"&nbsp;run <code>{_e(report.get('run_id'))}</code> · {_e(report.get('generated_at'))}</p>",
        f"<p class='note'>{_e(report.get('audience'))}</p>",
    ]


def render_html(report: dict, pictures: dict[str, bytes]) -> str:
    """A self-contained page: decision and checks first, pictures next, provenance last."""
    decision = str(report.get("decision", ""))
    budget = report.get("privacy_budget", {})
    synth = report.get("synthesizer", {})
    source = report.get("source", {})
    code = report.get("code", {})
    parts = [
        *page_head(report.get("dataset"), report, decision),
        "<h2>Summary</h2>",
        _table(
            [
                {"item": "decision", "value": decision},
                {"item": "failed checks", "value": ", ".join(report.get("failed_checks") or []) or "none"},
                {
                    "item": "how sure a block is",
                    "value": _decision_rule_text(report.get("release_decision_rule")),
                },
                {"item": "source file SHA-256", "value": source.get("source_hash")},
                {
                    "item": "synthesizer",
                    "value": f"{synth.get('kind')} {json.dumps(synth.get('parameters'))}",
                },
                {"item": "epsilon spent by this run", "value": synth.get("epsilon_note")},
                {
                    "item": "epsilon cumulative / budget",
                    "value": f"{_epsilon_text(budget.get('epsilon_cumulative'))} / "
                    + str(_or(budget.get("epsilon_budget"), "no budget")),
                },
                {"item": "epsilon remaining", "value": budget.get("epsilon_remaining")},
                {"item": "code version", "value": code.get("version")},
            ]
        ),
        "<h2>Release gate</h2>",
        _checks_table(report.get("gate_checks", [])),
    ]
    utility = report.get("utility") or []
    parts.append("<h2>Utility: train on synthetic, test on real (TSTR) vs train on real (TRTR)</h2>")
    if utility:
        parts.append(
            "<p>The same seeded model, trained once on the synthetic table and once on the real training "
            "split, scored on the real holdout. The gap is what a model built on the synthetic data "
            "loses.</p>"
        )
        parts.append(_table(utility, [*UTILITY_COLUMNS]))
    else:
        parts.append("<p class='muted'>No target column declared (spec: <code>utility.targets</code>).</p>")
    parts.append("<h2>Pictures</h2>")
    notes = report.get("pictures", {})
    for name, title in PICTURES.items():
        if name not in pictures and not notes.get(name):
            continue
        parts.append(f"<h3>{_e(title)}</h3>")
        if notes.get(name):
            parts.append(f"<p class='muted'>{_e(notes[name])}</p>")
        if name in pictures:
            encoded = base64.b64encode(pictures[name]).decode()
            parts.append(f"<img alt='{_e(title)}' src='data:image/png;base64,{encoded}'>")
    gx = report.get("great_expectations", {})
    parts.append("<h2>Great Expectations</h2>")
    parts.append(f"<p>{_e(gx.get('summary'))}</p>")
    if gx.get("failed"):
        parts.append("<ul>" + "".join(f"<li>{_e(f)}</li>" for f in gx["failed"]) + "</ul>")
    parts.append("<h2>Privacy budget</h2>")
    parts.append(_table([{"item": k, "value": v} for k, v in budget.items()]))
    parts.append("<h2>Ledger rows of this run</h2>")
    ledger_columns = ["entry_id", "event", "decision", "epsilon_note", "cumulative_epsilon", "row_hash"]
    parts.append(_table(report.get("ledger_rows", []), ledger_columns))
    parts.append("<h2>PII findings</h2>")
    parts.append(_table(report.get("pii_findings", [])))
    parts.append("<h2>Masking treatments</h2>")
    parts.append(_table(report.get("masking", [])))
    parts.append("<h2>Synthesizer</h2>")
    parts.append(_table([{"item": k, "value": v} for k, v in synth.items()]))
    parts.append("<h2>Provenance</h2>")
    parts.append(_table([{"item": k, "value": v} for k, v in {**source, **code}.items()]))
    parts.append("<h2>Spec as applied</h2>")
    parts.append(f"<pre>{_e(json.dumps(report.get('spec'), indent=2))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _epsilon_text(value) -> str:
    """An epsilon as a person reads it: 4 significant digits, 'unbounded' for infinity."""
    if isinstance(value, int | float):
        return "unbounded" if value == float("inf") else f"{value:.4g}"
    return str(value)
