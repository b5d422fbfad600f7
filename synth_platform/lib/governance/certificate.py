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

Nothing here reads a real row: `build` takes the synthetic table (a frame, or its `TableCounts`:
each pictured column's distinct values and their counts, from DuckDB) and plain numbers, and the
pictures are inline SVG drawn from it. Before adding a field, ask what one person's row
changes in it: if the answer is not "only through a DP mechanism", it does not belong here.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from synth_platform.lib.storage.private_files import make_parents_public
from synth_platform.lib.storage.warehouse import quote_ident

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
    nulls = int(values.isna().sum())
    if "categories" in declared or not pd.api.types.is_numeric_dtype(present):
        return _categorical_picture(present.astype(str).value_counts(), nulls, declared)
    return _numeric_picture(present.astype(float).to_numpy(), nulls, declared)


def counted_picture(column: ColumnCounts, declared: dict | None) -> dict:
    """`column_picture` of the column `column` counts: the same picture, from its distinct values.

    Every step of `column_picture` is per value or a count, so it is computed once per distinct
    value and weighted by how often the value occurs: a categorical picture sums the counts of the
    values that print alike (in order of first appearance, as `value_counts` keeps them before its
    sort, so ties fall the same way), a numeric one passes the counts to `np.histogram` as weights.
    """
    declared = declared or {}
    values = column.values.reset_index(drop=True)
    missing = values.isna().to_numpy()
    weights = np.asarray(column.weights, dtype=np.int64)
    present, kept = values[~missing], weights[~missing]
    nulls = int(weights[missing].sum())
    if "categories" in declared or not pd.api.types.is_numeric_dtype(present):
        keys = present.astype(str).to_numpy(dtype=object)
        tally = pd.Series(kept, index=pd.Index(keys, dtype=object)).groupby(level=0, sort=False).sum()
        counts = pd.Series(tally.to_numpy(dtype=np.int64), index=pd.Index(tally.index, dtype=object))
        return _categorical_picture(counts.sort_values(ascending=False), nulls, declared)
    return _numeric_picture(present.astype(float).to_numpy(), nulls, declared, weights=kept)


def _categorical_picture(counts: pd.Series, nulls: int, declared: dict) -> dict:
    """Bars from a `value_counts`-shaped series (labels as text, largest count first)."""
    if "categories" in declared:
        labels = [str(c) for c in declared["categories"]]
        counts = counts.reindex(labels, fill_value=0)
        if len(labels) > MAX_BARS:
            counts = counts.sort_values(ascending=False)
    bars = [(str(k), int(v)) for k, v in counts.head(MAX_BARS).items()]
    rest = int(counts.iloc[MAX_BARS:].sum()) if len(counts) > MAX_BARS else 0
    if rest:
        bars.append((f"other ({len(counts) - MAX_BARS} values)", rest))
    return {"kind": "categorical", "bars": bars, "nulls": nulls}


def _numeric_picture(
    numbers: np.ndarray, nulls: int, declared: dict, weights: np.ndarray | None = None
) -> dict:
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
    counts, edges = np.histogram(np.clip(numbers, low, high), bins=BINS, range=(low, high), weights=weights)
    return {
        "kind": "numeric",
        "axis": axis,
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "nulls": nulls,
    }


@dataclass(frozen=True)
class ColumnCounts:
    """One column as its distinct values (missing included), in order of first appearance in the
    table, and how many rows hold each: all a picture needs, a few values instead of every row."""

    values: pd.Series
    weights: np.ndarray

    def map(self, convert: Callable[[pd.Series], pd.Series]) -> ColumnCounts:
        """The column with `convert` (a per-value conversion, e.g. a date to its year) applied."""
        return ColumnCounts(convert(self.values), self.weights)


@dataclass(frozen=True)
class TableCounts:
    """What the certificate reads of a released table: its row count, each column's type as a
    pandas read of it names it, and the pictured columns' `ColumnCounts` (computed by DuckDB)."""

    rows: int
    dtypes: dict[str, str]
    columns: dict[str, ColumnCounts]

    def replace(self, name: str, column: ColumnCounts) -> TableCounts:
        return TableCounts(self.rows, self.dtypes, {**self.columns, name: column})


def read_counts(con: duckdb.DuckDBPyConnection, schema: str, table: str, pictured: list[str]) -> TableCounts:
    """The table's `TableCounts`, by one `GROUP BY` per pictured column inside DuckDB.

    The pictures used to be drawn from the table read into pandas (a pictured text column as a
    categorical, the others as one-byte placeholders): at a million rows, reading and counting in
    pandas took seconds. Each column's distinct values come out through Arrow exactly as that
    read converted them (a text column as a categorical; an integer column holding a missing
    value as floats, since the missing group is among them), so `counted_picture` of these counts
    is `column_picture` of that read (synth_platform_tests/test_certificate_counts.py). The
    first appearance of a value is its smallest `rowid` (a table scans in `rowid` order); a float
    -0.0 is kept apart from 0.0, as pandas prints it. A column not pictured is listed by name with
    the placeholder's type, "category", as before.
    """
    name = f"{quote_ident(schema)}.{quote_ident(table)}"
    types = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    rows = int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
    dtypes: dict[str, str] = {}
    columns: dict[str, ColumnCounts] = {}
    for column, data_type in types:
        if column not in pictured:
            dtypes[column] = "category"
            continue
        value = quote_ident(column)
        # DuckDB groups -0.0 with 0.0; pandas prints them apart ("-0.0", "0.0"): keep them apart
        key = f"{value}, signbit({value})" if data_type in ("DOUBLE", "FLOAT") else value
        grouped = (
            con.sql(
                f"SELECT {value} AS v, count(*) AS n, min(rowid) AS first "
                f"FROM {name} GROUP BY {key} ORDER BY first"
            )
            .to_arrow_table()
            .to_pandas(strings_to_categorical=True)
        )
        columns[column] = ColumnCounts(grouped["v"], grouped["n"].to_numpy(dtype=np.int64))
        dtypes[column] = str(grouped["v"].dtype)
    return TableCounts(rows, dtypes, columns)


def build(
    *,
    dataset: str,
    run_id: str,
    decision: str,
    synthetic: pd.DataFrame | TableCounts,
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
    noisy verdict: never an exact figure. `synthetic`: the synthetic table, as a frame or as its
    `TableCounts` (the release stage's: the same pictures, without the rows in pandas).
    """
    counted = isinstance(synthetic, TableCounts)
    rows = synthetic.rows if counted else len(synthetic)
    dtypes = synthetic.dtypes if counted else {c: str(synthetic[c].dtype) for c in synthetic}
    drawn = pictured or list(synthetic.columns)
    pictures = {
        c: counted_picture(synthetic.columns[c], declared_domains.get(c))
        if counted
        else column_picture(synthetic[c], declared_domains.get(c))
        for c in drawn
    }
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
            "rows": rows,
            "row_count_source": "the model's noisy total (a DP output) or the spec's declared size",
            "columns": [{"name": c, "type": column_types.get(c, dtype)} for c, dtype in dtypes.items()],
        },
        "gate": [{k: v for k, v in row.items() if k in allowed_gate} for row in gate],
        # refilled identifiers are fakes drawn independently of the data: nothing to picture
        "pictures": pictures,
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
