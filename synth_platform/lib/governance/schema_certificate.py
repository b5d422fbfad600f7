"""The public release certificate of a schema of related tables: what its consumers may read.

The schema's counterpart of `certificate` (a single table's). It names the released tables with
their row counts *as released* and content hashes (tying it to exactly the tables published, and
to the tables the gate judged), the per-person privacy spend read from the schema's ledger rows,
the neighbouring relation that spend protects, in one line, and the gate's noisy figures and
verdicts. Everything in it must survive the question "what does one person's rows change here?":

- the released tables' row counts, column types and hashes: functions of the synthetic tables (a
  DP output: the sample's size is drawn from the model's noisy counts), or of a lookup table the
  spec declares public and copies as it is;
- epsilon, delta, rho: settings and their sums (the ledger's charges do not depend on the data);
  rows per person per table (`contribution.multiplicities`) follow from the public bounds;
- each gate figure: noisy at its per-person sensitivity, or (orphans) read from the synthetic
  tables only; the verdict is post-processing of those;
- the spec's digest and the code version: public inputs.

Nothing here reads a real row: `build` takes plain numbers and the public verdicts as the gate
recorded them (`store.public_verdict`), and keeps only their public fields. The exact figures are
in the restricted evidence pack (`schema_evidence`).
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth_platform.lib.governance import certificate
from synth_platform.lib.governance.certificate import Certificate, certificate_dir

CERTIFICATE_VERSION = "1"
KIND = "schema"
#: The unit the per-person epsilon protects (lib/relational/contribution.py, "Neighbouring relation").
NEIGHBOURING_RELATION = (
    "Two instances of the schema are neighbours when one is the other plus one person with every row "
    "attributed to them (their person row, the entities they own with those entities' link rows, and "
    "every descendant row), at most the contribution bounds' rows per table."
)
#: The public fields of a gate verdict (`store.public_verdict`); anything else is dropped.
GATE_FIELDS = ("check", "noisy_figure", "sigma", "threshold", "passed", "rho", "rule")
#: Gate figures read from the synthetic tables only (post-processing, exact and free).
SYNTHETIC_ONLY = ("orphans",)


def gate_rows(verdicts: list[dict]) -> list[dict]:
    """The recorded public verdicts (`store.public_verdict`) in the certificate's shape."""
    rows = []
    for v in verdicts:
        synthetic_only = v.get("name") in SYNTHETIC_ONLY
        rows.append(
            {
                "check": v.get("name"),
                "noisy_figure": v.get("value"),
                "sigma": v.get("sigma"),
                "threshold": v.get("threshold"),
                "passed": v.get("passed"),
                "rho": v.get("rho"),
                "rule": "exact on the synthetic tables only (free)" if synthetic_only else "noisy (charged)",
            }
        )
    return rows


def spend(trained: dict | None, gate_rho: float, gate_epsilon: float | None, released: dict) -> dict:
    """The per-person spend: this release's training and gate (ledger rows and settings) and the
    schema's cumulative spend recorded with the `released` row."""
    trained = trained or {}
    return {
        "unit": "one person (the neighbouring relation)",
        "this_release": {
            "training": {
                "epsilon": trained.get("epsilon_spent"),
                "delta": trained.get("delta"),
                "rho": trained.get("rho_spent"),
                "ledger_entry": trained.get("entry_id"),
            },
            "gate": {"rho": gate_rho, "epsilon": gate_epsilon},
        },
        "schema_cumulative": {
            "rho": released.get("cumulative_rho"),
            "epsilon": released.get("cumulative_epsilon"),
            "at_delta": released.get("budget_delta"),
            "epsilon_budget": released.get("epsilon_budget"),
            "released_ledger_entry": released.get("entry_id"),
            "scope": "every training and gate of the schema's ledger rows",
        },
    }


def build(
    *,
    schema: str,
    run_id: str,
    tables: list[dict],
    synthetic_sha256: str,
    privacy: dict,
    rows_per_person: dict[str, int],
    gate: list[dict],
    synthesizer: dict,
    digests: dict,
    issued_at: datetime | None = None,
) -> dict:
    """The certificate's content. Every argument is a DP output or a public input (module doc).

    `tables`: one dict per released table: `table`, `released_as`, `rows`, `lookup`, `columns`
    (name, type) and `table_sha256`. `gate`: rows as `gate_rows` gives them."""
    allowed_table = ("table", "released_as", "rows", "lookup", "columns", "table_sha256")
    return {
        "certificate_version": CERTIFICATE_VERSION,
        "kind": KIND,
        "schema": schema,
        "run_id": run_id,
        "issued_at": (issued_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "decision": "released",
        "neighbouring_relation": NEIGHBOURING_RELATION,
        "synthesizer": {
            **synthesizer,
            "differentially_private": True,
            "label": "differentially private (per person)",
        },
        "privacy": {**privacy, "rows_per_person": dict(rows_per_person)},
        "release": {
            "tables": [
                {
                    **{k: t.get(k) for k in allowed_table},
                    "row_count_source": "a public lookup table, copied as declared"
                    if t.get("lookup")
                    else "the synthetic sample (its size a DP output)",
                }
                for t in tables
            ],
            "synthetic_sha256": synthetic_sha256,
            "all_or_none": "every table above was released together, in one transaction",
        },
        "gate": [{k: row.get(k) for k in GATE_FIELDS} for row in gate],
        "digests": digests,
    }


def _columns(table: dict) -> str:
    return ", ".join(f"{c['name']} ({c['type']})" for c in table.get("columns") or [])


def render_html(content: dict) -> str:
    e = html.escape

    def num(value: Any) -> str:
        return "—" if not isinstance(value, int | float) or isinstance(value, bool) else f"{value:.4g}"

    gate = "".join(
        f"<tr><td>{e(str(g['check']))}</td><td>{num(g['noisy_figure'])}</td><td>{num(g['sigma'])}</td>"
        f"<td>{num(g['threshold'])}</td><td>{'pass' if g['passed'] else 'block'}</td>"
        f"<td>{e(str(g['rule']))}</td></tr>"
        for g in content["gate"]
    )
    tables = "".join(
        f"<tr><td>{e(t['table'])}</td><td><code>{e(str(t['released_as']))}</code></td>"
        f"<td>{t['rows']}</td><td>{e(t['row_count_source'])}</td>"
        f"<td>{e(_columns(t))}</td>"
        f"<td><code>{e(str(t['table_sha256']))}</code></td></tr>"
        for t in content["release"]["tables"]
    )
    privacy, synth = content["privacy"], content["synthesizer"]
    digests = "".join(f"<li>{e(k)}: <code>{e(str(v))}</code></li>" for k, v in content["digests"].items())
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Release certificate: schema {e(content["schema"])}</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}td,th{{padding:.2em .6em;
border-bottom:1px solid #ddd;vertical-align:top}}code{{font-size:.8em}}</style>
</head><body>
<h1>Release certificate: schema {e(content["schema"])}</h1>
<p>Public: everything on this page is a differentially private output or a declared public input.
No figure here was computed on real rows without noise. Issued {e(content["issued_at"])},
run {e(content["run_id"])}.</p>
<h2>Decision: {e(content["decision"])}</h2>
<h2>Privacy, per person</h2>
<p><b>Neighbouring relation.</b> {e(content["neighbouring_relation"])}</p>
<p>Synthesizer <b>{e(str(synth.get("kind")))}</b> — <b>{e(synth["label"])}</b>;
parameters <code>{e(json.dumps(synth.get("parameters"), sort_keys=True, default=str))}</code></p>
<p>This release (training and gate): <code>{e(json.dumps(privacy["this_release"], default=str))}</code></p>
<p>The schema's cumulative spend and budget:
<code>{e(json.dumps(privacy["schema_cumulative"], default=str))}</code></p>
<p>Most rows one person has per table after the contribution bounds:
<code>{e(json.dumps(privacy["rows_per_person"], sort_keys=True))}</code></p>
<h2>Noisy release gate</h2>
<table><tr><th>check</th><th>noisy figure</th><th>noise sd</th><th>threshold</th><th>verdict</th>
<th>rule</th></tr>
{gate}</table>
<h2>Released tables ({e(content["release"]["all_or_none"])})</h2>
<table><tr><th>table</th><th>released as</th><th>rows</th><th>row count</th><th>columns</th>
<th>content hash</th></tr>
{tables}</table>
<p>All tables: <code>{e(content["release"]["synthetic_sha256"])}</code> (the hash the gate judged).</p>
<h2>Digests of public inputs</h2><ul>{digests}</ul>
</body></html>"""


def write(directory: Path, content: dict) -> Certificate:
    """certificate.json and certificate.html, world-readable (0644 files, new folders 0755): the
    public document, written by the same code as a dataset's (`certificate.write`)."""
    return certificate.write(directory, content, render=render_html)


__all__ = ["NEIGHBOURING_RELATION", "build", "certificate_dir", "gate_rows", "render_html", "spend", "write"]
