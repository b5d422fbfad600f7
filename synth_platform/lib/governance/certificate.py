"""The public release certificate: what a consumer of a release may read about it.

The restricted evidence pack holds the gate's exact figures, computed on the real rows, for the
data owner and the privacy officer. This certificate is its public counterpart and holds only
what may leave the governed side:

- differential-privacy quantities: epsilon, delta and rho spent by this release's training and
  gate, the source's cumulative spend and its budget (all data-independent given the settings);
- public inputs: the spec's, the approved plan's and the code's digests, the synthesizer and its
  parameters, the release's column names and types, its (noisy) row count;
- the noisy gate decision and the noisy figures it was made from (each a DP output);
- pictures of the *synthetic* table (a DP output) on axes from the declared (public) domains or,
  where none is declared, from the synthetic values themselves.

Nothing here reads a real row: `build` takes the synthetic frame and plain numbers, and the
pictures are inline SVG drawn from it. Before adding a field, ask what one person's row
changes in it: if the answer is not "only through a DP mechanism", it does not belong here.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synth_platform.lib.storage.private_files import make_parents_public

CERTIFICATE_VERSION = "1"
#: The most categories a picture names; the rest are drawn as one bar, "other (n values)".
MAX_BARS = 12
BINS = 20


@dataclass(frozen=True)
class Certificate:
    directory: Path

    @property
    def html(self) -> Path:
        return self.directory / "certificate.html"

    @property
    def json(self) -> Path:
        return self.directory / "certificate.json"


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def column_picture(values: pd.Series, declared: dict | None) -> dict:
    """A histogram of one synthetic column: bars on a declared domain, else on the synthetic values."""
    declared = declared or {}
    present = values.dropna()
    if "categories" in declared or not pd.api.types.is_numeric_dtype(present):
        counts = present.astype(str).value_counts()
        if "categories" in declared:
            labels = [str(c) for c in declared["categories"]]
            counts = counts.reindex(labels, fill_value=0)
            if len(labels) > MAX_BARS:
                counts = counts.sort_values(ascending=False)
        bars = [(str(k), int(v)) for k, v in counts.head(MAX_BARS).items()]
        rest = int(counts.iloc[MAX_BARS:].sum()) if len(counts) > MAX_BARS else 0
        if rest:
            bars.append((f"other ({len(counts) - MAX_BARS} values)", rest))
        return {"kind": "categorical", "bars": bars, "nulls": int(values.isna().sum())}
    numbers = present.astype(float).to_numpy()
    if "bounds" in declared:
        low, high = (float(b) for b in declared["bounds"])
        axis = "declared bounds"
    elif len(numbers):
        low, high = float(numbers.min()), float(numbers.max())
        axis = "synthetic values"
    else:
        low, high, axis = 0.0, 1.0, "no values"
    if high <= low:
        high = low + 1.0
    counts, edges = np.histogram(np.clip(numbers, low, high), bins=BINS, range=(low, high))
    return {
        "kind": "numeric",
        "axis": axis,
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "nulls": int(values.isna().sum()),
    }


def build(
    *,
    dataset: str,
    run_id: str,
    decision: str,
    synthetic: pd.DataFrame,
    synthesizer: str,
    parameters: dict,
    differentially_private: bool,
    spend: dict,
    cumulative: dict,
    digests: dict,
    gate: list[dict],
    declared_domains: dict[str, dict],
    column_types: dict[str, str],
    pictured: list[str] | None = None,
    issued_at: datetime | None = None,
) -> dict:
    """The certificate's content. Every argument is a DP output or a public input (see module doc).

    `gate` rows hold the check name, the noisy figure, its noise scale and threshold, and the
    noisy verdict: never an exact figure.
    """
    allowed_gate = {"check", "noisy_figure", "sigma", "threshold", "passed", "rho", "sensitivity", "rule"}
    return {
        "certificate_version": CERTIFICATE_VERSION,
        "dataset": dataset,
        "run_id": run_id,
        "issued_at": (issued_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "decision": decision,
        "synthesizer": {
            "kind": synthesizer,
            "parameters": parameters,
            "differentially_private": differentially_private,
            "label": "differentially private" if differentially_private else "NOT differentially private",
        },
        "privacy": {"this_release": spend, "source_cumulative": cumulative},
        "digests": digests,
        "release": {
            "rows": len(synthetic),
            "row_count_source": "the model's noisy total (a DP output) or the spec's declared size",
            "columns": [{"name": c, "type": column_types.get(c, str(synthetic[c].dtype))} for c in synthetic],
        },
        "gate": [{k: v for k, v in row.items() if k in allowed_gate} for row in gate],
        # refilled identifiers are fakes drawn independently of the data: nothing to picture
        "pictures": {
            c: column_picture(synthetic[c], declared_domains.get(c))
            for c in (pictured or list(synthetic.columns))
        },
    }


def _svg(picture: dict) -> str:
    width, height, pad = 360, 120, 4
    if picture["kind"] == "categorical":
        bars = picture["bars"]
        values = [v for _, v in bars]
        labels = [label for label, _ in bars]
    else:
        values = picture["counts"]
        edges = picture["edges"]
        labels = [f"{edges[i]:.4g}..{edges[i + 1]:.4g}" for i in range(len(values))]
    top = max(values) if values and max(values) > 0 else 1
    step = (width - 2 * pad) / max(len(values), 1)
    rects = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        h = (height - 2 * pad) * value / top
        x, y = pad + i * step, height - pad - h
        rects.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" fill="#4c78a8">'
            f"<title>{html.escape(label)}: {value}</title></rect>"
        )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(rects)}</svg>'


def render_html(content: dict) -> str:
    e = html.escape
    synth = content["synthesizer"]
    privacy = content["privacy"]

    def num(value: Any) -> str:
        number = _float(value)
        return "—" if number is None else f"{number:.4g}"

    rows = "".join(
        f"<tr><td>{e(str(g.get('check')))}</td><td>{num(g.get('noisy_figure'))}</td>"
        f"<td>{num(g.get('sigma'))}</td><td>{num(g.get('threshold'))}</td>"
        f"<td>{'pass' if g.get('passed') else 'block'}</td></tr>"
        for g in content["gate"]
    )
    pictures = "".join(
        f"<figure><figcaption>{e(name)} ({e(p['kind'])}"
        f"{', axis: ' + e(p['axis']) if p.get('axis') else ''}; nulls {p['nulls']})</figcaption>"
        f"{_svg(p)}</figure>"
        for name, p in content["pictures"].items()
    )
    columns = ", ".join(f"{e(c['name'])} ({e(c['type'])})" for c in content["release"]["columns"])
    digests = "".join(f"<li>{e(k)}: <code>{e(str(v))}</code></li>" for k, v in content["digests"].items())
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Release certificate: {e(content["dataset"])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:.2em .6em;
border-bottom:1px solid #ddd}}figure{{display:inline-block;margin:.5em}}code{{font-size:.8em}}</style>
</head><body>
<h1>Release certificate: {e(content["dataset"])}</h1>
<p>Public: everything on this page is a differentially private output or a declared public input.
No figure here was computed on real rows. Issued {e(content["issued_at"])}, run {e(content["run_id"])}.</p>
<h2>Decision: {e(content["decision"])}</h2>
<h2>Privacy</h2>
<p>Synthesizer <b>{e(synth["kind"])}</b> — <b>{e(synth["label"])}</b>; parameters
<code>{e(json.dumps(synth["parameters"], sort_keys=True, default=str))}</code></p>
<p>This release (training and gate): <code>{e(json.dumps(privacy["this_release"], default=str))}</code></p>
<p>The source's cumulative spend and budget:
<code>{e(json.dumps(privacy["source_cumulative"], default=str))}</code></p>
<h2>Noisy release gate</h2>
<table><tr><th>check</th><th>noisy figure</th><th>noise sd</th><th>threshold</th><th>verdict</th></tr>
{rows}</table>
<h2>Release</h2><p>{content["release"]["rows"]} rows ({e(content["release"]["row_count_source"])}).
Columns: {columns}</p>
<h2>Digests of public inputs</h2><ul>{digests}</ul>
<h2>The synthetic table, column by column</h2>
<p>Drawn from the released synthetic table only; numeric axes span the declared bounds or the
synthetic values.</p>
{pictures}
</body></html>"""


def write(directory: Path, content: dict, render=None) -> Certificate:
    """Write certificate.json and certificate.html (world-readable: this is the public document;
    new folders 0755, so the platform's owner-only umask does not hide it). `render` turns the
    content into the HTML page (default: a dataset's; a schema's certificate passes its own)."""
    make_parents_public(directory)
    cert = Certificate(directory)
    for path, text in (
        (cert.json, json.dumps(content, indent=2, default=str)),
        (cert.html, (render or render_html)(content)),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return cert


def certificate_dir(project_root: Path, dataset: str, run_id: str) -> Path:
    return project_root / "data" / "certificates" / dataset / run_id
