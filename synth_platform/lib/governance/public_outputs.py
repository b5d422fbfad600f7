"""Every public output of a release, named, and the mechanism that covers it.

The audit of neighbouring sources (`synth_platform/audit_neighbours.py`) runs the chain on a
source, the same source with one row removed and with one row changed, collects what leaves the
governed side (the published zone's tables and ledger view, the release certificate), and
flattens it into `path -> value` pairs. Each path must be covered by a rule here:

- `public`: a function of public inputs only (spec, approved plan, code, settings). It must be
  *identical* on neighbouring sources; a difference is a leak around the mechanisms.
- `dp`: a (post-processed) output of a differentially private mechanism, charged in the ledger.
  It may differ between runs (fresh noise), and that is fine.
- `volatile`: run bookkeeping that differs between any two runs and carries no data (run ids,
  timestamps).

A path no rule covers is reported as unclassified, and fails the audit: an output nobody can say
is covered is exactly the kind of output this audit exists to find. This module is plain Python
(no Dagster) and is unit-tested on small dictionaries.

A schema of related tables has its own audit (`synth_platform/audit_schema_neighbours.py`): its
neighbours differ by one person with every row that is theirs, and its outputs are collected under
`schema_certificate.` and `schema_published.`, with tables grouped by what the spec declares
(`lookup_tables`: public inputs copied as they are; `synthetic_tables`: DP samples).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any

#: (pattern over flattened paths, class, the mechanism or reason). First match wins.
RULES: list[tuple[str, str, str]] = [
    # --- the release certificate (lib/governance/certificate.py)
    ("certificate.run_id", "volatile", "run bookkeeping"),
    ("certificate.issued_at", "volatile", "run bookkeeping"),
    ("certificate.decision", "dp", "noisy release gate (lib/gate/private_decision.py)"),
    ("certificate.gate.*.noisy_figure", "dp", "noisy release gate: Gaussian noise on a bounded figure"),
    ("certificate.gate.*.passed", "dp", "noisy release gate"),
    # a check's sample size m is the noisy row count less two deviations, so its sensitivity (1/m)
    # and noise scale are post-processing of that DP count, not settings
    ("certificate.gate.*.sensitivity", "dp", "1/m, m from the noisy row counts (post-processing)"),
    ("certificate.gate.*.sigma", "dp", "sensitivity / sqrt(2 rho), m from the noisy row counts"),
    ("certificate.gate.*", "public", "check names, thresholds, weights (rho) and rules are settings"),
    ("certificate.release.rows", "dp", "dp_mst's noisy total (or the spec's declared sample size)"),
    ("certificate.release.row_count_source", "public", "fixed text"),
    ("certificate.release.columns.*", "public", "spec + approved plan"),
    ("certificate.pictures.*", "dp", "drawn from the synthetic table (dp_mst output, post-processing)"),
    ("certificate.privacy.*", "public", "epsilon, delta and rho are settings; cumulative sums of them"),
    ("certificate.digests.*", "public", "digests of the spec, the approved plan and the code"),
    ("certificate.synthesizer.*", "public", "the spec's synthesizer and parameters"),
    ("certificate.*", "public", "certificate fields"),
    # --- the published zone (lib/storage/zones.py): released tables and the reduced ledger view
    ("published.schema.*", "public", "release schema: spec + approved plan"),
    ("published.row_counts.*", "dp", "dp_mst's noisy total (post-processing)"),
    ("published.ledger.*.recorded_at", "volatile", "run bookkeeping"),
    ("published.ledger.*.run_id", "volatile", "run bookkeeping"),
    ("published.ledger.*.decision", "dp", "noisy release gate"),
    ("published.ledger.*.event", "dp", "released/blocked follows the noisy gate; trained/gate are settings"),
    ("published.ledger.*", "public", "spend, versions and digests are settings"),
    # --- a schema of related tables (audit_schema_neighbours.py): neighbours differ by one *person*
    # with every row that is theirs (lib/relational/contribution.py). The audit groups tables by what
    # the spec declares: `lookup_tables` (public inputs, copied as they are) and `synthetic_tables`.
    # The schema release certificate (lib/governance/schema_certificate.py)
    ("schema_certificate.run_id", "volatile", "run bookkeeping"),
    ("schema_certificate.issued_at", "volatile", "run bookkeeping"),
    ("schema_certificate.decision", "dp", "written only when the noisy schema gate passed"),
    (
        "schema_certificate.gate.*.noisy_figure",
        "dp",
        "noisy schema gate at per-person sensitivity; "
        "orphans: read from the synthetic tables only (post-processing)",
    ),
    ("schema_certificate.gate.*.passed", "dp", "noisy schema gate (post-processing of its figure)"),
    # a profile share is over a keyed sample of m people, m from the noisy people counts: its
    # sensitivity (1/m, sqrt(C)/m) and so its noise scale are post-processing of that DP count
    (
        "schema_certificate.gate.profile_*.sigma",
        "dp",
        "sensitivity / sqrt(2 rho), sensitivity 1/m with m from the noisy people counts",
    ),
    (
        "schema_certificate.gate.*",
        "public",
        "check names, thresholds, rho, noise scale and rule: settings and the public contribution bounds",
    ),
    (
        "schema_certificate.release.lookup_tables.*",
        "public",
        "a lookup table the spec declares public, copied as it is: rows, columns and hash are public inputs",
    ),
    (
        "schema_certificate.release.synthetic_tables.*.rows",
        "dp",
        "the synthetic sample's size, drawn "
        "from the model's noisy counts (relational dp_mst, post-processing)",
    ),
    (
        "schema_certificate.release.synthetic_tables.*.table_sha256",
        "dp",
        "hash of a synthetic table (post-processing of the DP model)",
    ),
    (
        "schema_certificate.release.synthetic_tables.*",
        "public",
        "table name, release name, column names and types, lookup flag, row-count source: the spec",
    ),
    ("schema_certificate.release.synthetic_sha256", "dp", "hash of the synthetic tables (post-processing)"),
    ("schema_certificate.release.*", "public", "fixed text"),
    (
        "schema_certificate.privacy.rows_per_person.*",
        "public",
        "multiplicities of the declared contribution bounds (contribution.multiplicities)",
    ),
    (
        "schema_certificate.privacy.*",
        "public",
        "per-person epsilon, delta, rho: settings, ledger entry ids and cumulative sums of them",
    ),
    (
        "schema_certificate.*",
        "public",
        "version, kind, schema, neighbouring relation, synthesizer "
        "settings, digests of the spec, code and gate settings",
    ),
    # the published zone: the schema's released tables and its ledger rows
    ("schema_published.lookup_tables.*", "public", "a lookup table copied as it is (public input)"),
    ("schema_published.synthetic_tables.*.rows", "dp", "the synthetic sample's size (post-processing)"),
    ("schema_published.synthetic_tables.*.columns.*", "public", "release schema: the spec"),
    (
        "schema_published.other_tables.governance.ledger.*",
        "public",
        "the reduced ledger view's columns, "
        "and its row count: one row per event of a run, the same whether the gate passed or blocked",
    ),
    ("schema_published.ledger.*.recorded_at", "volatile", "run bookkeeping"),
    ("schema_published.ledger.*.run_id", "volatile", "run bookkeeping"),
    ("schema_published.ledger.*.decision", "dp", "noisy schema gate"),
    (
        "schema_published.ledger.*.event",
        "dp",
        "released/blocked follows the noisy gate; trained/gate are settings",
    ),
    ("schema_published.ledger.*", "public", "per-person spend, versions and digests are settings"),
]


@dataclass(frozen=True)
class Finding:
    path: str
    kind: str  # public | dp | volatile | unclassified
    mechanism: str
    identical: bool

    @property
    def problem(self) -> bool:
        return self.kind == "unclassified" or (self.kind == "public" and not self.identical)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as `a.b.0.c -> leaf` pairs (list items by position)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{i}"))
        return out or {prefix: []}
    return {prefix: value}


def classify(path: str) -> tuple[str, str]:
    for pattern, kind, mechanism in RULES:
        if fnmatch.fnmatchcase(path, pattern):
            return kind, mechanism
    return "unclassified", "no rule: say which mechanism covers this output"


def compare(outputs: list[dict]) -> list[Finding]:
    """Compare the flattened public outputs of neighbouring runs, path by path."""
    flat = [flatten(o) for o in outputs]
    paths = sorted(set().union(*flat))
    findings = []
    for path in paths:
        kind, mechanism = classify(path)
        values = [json.dumps(f.get(path, "<absent>"), sort_keys=True, default=str) for f in flat]
        findings.append(Finding(path, kind, mechanism, len(set(values)) == 1))
    return findings


def summary(findings: list[Finding]) -> dict:
    by_kind: dict[str, int] = {}
    for f in findings:
        by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
    return {
        "outputs": len(findings),
        "by_kind": by_kind,
        "public_identical": sum(f.kind == "public" and f.identical for f in findings),
        "problems": [f.__dict__ for f in findings if f.problem],
    }
