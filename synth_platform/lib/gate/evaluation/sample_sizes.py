"""How many rows each check used, and why that is enough (restricted details; public parts of a
noisy figure derived from its noisy uncertainty only)."""

from __future__ import annotations

import math
from dataclasses import replace

from synth_platform.lib.gate.evaluation.inputs import GATE_SAMPLE_ROWS, WholeTables
from synth_platform.lib.gate.evaluation.outcomes import HOLDOUT_CHECK, CheckOutcome, GateReport
from synth_platform.lib.spec import DatasetSpec

#: checks computed over the whole warehouse tables in SQL (no sample decides them)
WHOLE_TABLE_CHECKS = (HOLDOUT_CHECK, "exact_copies", "no_identifier_leak")
Z95 = 1.959963984540054


def _sufficiency(half_width: float | None, figure: float | None, threshold: float) -> dict:
    """The 95 % half-width against the margin between the figure and its threshold: a half-width
    under the margin means more rows could not turn the verdict (at 95 %)."""
    if half_width is None or figure is None or not (math.isfinite(half_width) and math.isfinite(figure)):
        return {
            "ci95_half_width": None,
            "margin_to_threshold": None,
            "enough": "no figure: no evidence, no pass",
        }
    margin = abs(float(threshold) - float(figure))
    enough = half_width < margin
    return {
        "ci95_half_width": float(f"{half_width:.4g}"),
        "margin_to_threshold": float(f"{margin:.4g}"),
        "enough": (
            "yes: the 95 % half-width is below the margin to the threshold"
            if enough
            else "undecided at 95 %: the figure is within its half-width of the threshold (the rule "
            "blocks only a figure surely beyond it)"
        ),
    }


def _exact_half_width(outcome: CheckOutcome, people: int) -> float | None:
    if outcome.ci is not None and all(v is not None and math.isfinite(v) for v in outcome.ci):
        return (outcome.ci[1] - outcome.ci[0]) / 2.0
    if outcome.name == "exact_copies" or outcome.name == "quality_score":
        p = (
            min(1.0, max(float(outcome.figure), 1.0 / max(people, 1)))
            if math.isfinite(outcome.figure)
            else 0.5
        )
        return Z95 * math.sqrt(p * (1 - p) / max(people, 1))
    return None


def with_sample_sizes(report: GateReport, whole: WholeTables, spec: DatasetSpec) -> GateReport:
    """Each check says how many rows it used and why that is enough.

    Restricted (details, for the evidence pack): the exact rows read per table, whole-table counts
    and the exact figure's 95 % half-width against its margin. Public (a noisy figure's parts, so
    the check's metadata): the sample cap (a constant), the public people counts the figure
    already shows, and the half-width from its noisy uncertainty (post-processing, free) against
    the noisy figure's margin. No cell value, and no exact count, leaves through the public part.
    """
    outcomes = []
    for outcome in report.outcomes:
        if outcome.name in WHOLE_TABLE_CHECKS:
            scope = "whole tables (SQL scans over every row)"
            used = dict(whole.rows)
            half = 0.0  # an exact count of the whole table: no sampling error
        elif outcome.public:
            scope = f"the synthetic table's keyed sample (at most {GATE_SAMPLE_ROWS:,} rows)"
            used = {"synthetic": whole.sample_rows["synthetic"]}
            half = 3.0 / max(used["synthetic"], 1)  # rule of three: a defect share the sample would show
        else:
            scope = f"keyed samples of at most {GATE_SAMPLE_ROWS:,} rows per table, checks' own sizes inside"
            used = dict(whole.sample_rows)
            half = _exact_half_width(outcome, min(whole.sample_rows["train"], whole.sample_rows["holdout"]))
        sampling = {
            "scope": scope,
            "rows_used": used,
            "whole_table_rows": dict(whole.rows),
            **_sufficiency(half, outcome.figure, outcome.threshold),
        }
        if outcome.public:  # shown in the UI as is: the synthetic table's figures only (public)
            sampling.pop("whole_table_rows")
            sampling["synthetic_rows"] = whole.rows["synthetic"]
            sampling["enough"] = (
                f"a defect in {half:.2%} of the synthetic rows or more shows in the sample at 95 % "
                "(rule of three)"
            )
        details = {**outcome.details, "sample": sampling}
        noisy = outcome.noisy
        if noisy is not None:
            public = {
                "rows_read_per_table_at_most": GATE_SAMPLE_ROWS,
                "rows_basis": "whole tables (SQL)" if outcome.name in WHOLE_TABLE_CHECKS else "keyed samples",
                **{
                    f"sample_{k}": v
                    for k, v in _sufficiency(Z95 * noisy.uncertainty, noisy.value, outcome.threshold).items()
                },
            }
            noisy = replace(noisy, parts={**noisy.parts, **public})
        outcomes.append(replace(outcome, details=details, noisy=noisy))
    return GateReport(outcomes)
