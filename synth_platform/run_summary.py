"""A plain-text summary of one governed run, read back from Dagster's event log and the ledger."""

from __future__ import annotations

import json
import math

import dagster as dg
import pandas as pd

from synth_platform.lib.governance import ledger
from synth_platform.lib.spec import synthesizer_label
from synth_platform.lib.storage import warehouse


def _events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    records = instance.get_records_for_run(run_id, of_type=kind, limit=10_000).records
    return [r.event_log_entry.dagster_event for r in records if r.event_log_entry.dagster_event]


def step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    stats = instance.get_run_step_stats(run_id)
    return {s.step_key: (s.end_time or s.start_time) - s.start_time for s in stats if s.start_time}


def materialized_row_counts(instance: dg.DagsterInstance, run_id: str) -> dict[str, int]:
    counts = {}
    for event in _events(instance, run_id, dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = event.event_specific_data.materialization
        row_count = materialization.metadata.get("dagster/row_count")
        if row_count is not None:
            counts[materialization.asset_key.to_user_string()] = int(row_count.value)
    return counts


def check_results(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    results = []
    for event in _events(instance, run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = event.event_specific_data
        metadata = evaluation.metadata
        results.append(
            {
                "asset": evaluation.asset_key.to_user_string(),
                "check": evaluation.check_name,
                "passed": evaluation.passed,
                "figure": metadata["figure"].value if "figure" in metadata else None,
                "threshold": metadata["threshold"].value if "threshold" in metadata else None,
                # the DP noise's standard deviation of a noisy (released) figure
                "sigma": metadata["sigma"].value if "sigma" in metadata else None,
            }
        )
    return results


def certificate_path(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The public release certificate of the run's release, as the release asset's metadata links it."""
    found = None
    for event in _events(instance, run_id, dg.DagsterEventType.ASSET_MATERIALIZATION):
        metadata = event.event_specific_data.materialization.metadata
        if "certificate" in metadata:
            found = str(metadata["certificate"].value)
    return found


def evidence_path(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The evidence pack of the run's release decision, as its asset metadata links it."""
    found = None
    for kind in (dg.DagsterEventType.ASSET_CHECK_EVALUATION, dg.DagsterEventType.ASSET_MATERIALIZATION):
        for event in _events(instance, run_id, kind):
            data = event.event_specific_data
            is_check = kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION
            metadata = data.metadata if is_check else data.materialization.metadata
            if "evidence_report" in metadata:
                found = str(metadata["evidence_report"].value)
    return found


def ledger_rows(db_path, run_id: str) -> pd.DataFrame:
    with warehouse.connect(db_path, read_only=True) as con:
        rows = ledger.read_ledger(con)
    return rows[rows["run_id"] == run_id]


def _fmt_epsilon(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return "unbounded (inf)" if math.isinf(value) else f"{value:g}"


def budget_line(db_path, dataset: str) -> str:
    """Privacy spend of the dataset: this budget's spent, cumulative and remaining epsilon (zCDP)."""
    from synth_platform.lib.governance import budget

    with warehouse.connect(db_path, read_only=True) as con:
        rows = ledger.read_ledger(con, dataset)
        if rows.empty:
            return "Privacy budget: nothing spent yet"
        last = rows.iloc[-1]
        limit = None if pd.isna(last["epsilon_budget"]) else float(last["epsilon_budget"])
        delta = 1e-9 if pd.isna(last["budget_delta"]) else float(last["budget_delta"])
        status = budget.status(con, dataset, limit, delta)
    if limit is None:
        spent = _fmt_epsilon(status.spent_epsilon)
        return f"Privacy budget: none set; cumulative epsilon {spent} at delta {delta:g}"
    return (
        f"Privacy budget: epsilon {limit:g} at delta {delta:g}; cumulative epsilon "
        f"{_fmt_epsilon(status.spent_epsilon)}, remaining {_fmt_epsilon(status.remaining_epsilon)} "
        f"({status.remaining_share:.0%} of the budget's rho)"
    )


def synthesizer_line(rows: pd.DataFrame) -> str | None:
    """The synthesizer behind the run's model and whether it is differentially private, from the
    run's `trained` / `reused` ledger row (e.g. "... gaussian_copula: not differentially private")."""
    fits = rows[rows["event"].isin(["trained", "reused"])] if "event" in rows else rows.iloc[0:0]
    if fits.empty:
        return None
    last = fits.iloc[-1]
    try:
        params = json.loads(last["parameters"]) if isinstance(last["parameters"], str) else {}
    except ValueError:
        params = {}
    params = params if isinstance(params, dict) else {}
    return f"Synthesizer: {synthesizer_label(str(last['synthesizer']), params)}"


def render(instance: dg.DagsterInstance, run: dg.DagsterRun, db_path, dataset: str) -> str:
    lines = [f"Run {run.run_id} of job {run.job_name}: {run.status.value}", ""]
    counts = materialized_row_counts(instance, run.run_id)
    lines.append("Rows")
    for key in ("raw", "masked", "train", "holdout", "synthetic", "release"):
        name = f"{dataset}/{key}"
        if name in counts:
            lines.append(f"  {name:<32} {counts[name]:>10,}")
    lines.append("")
    lines.append("Time per stage")
    seconds = step_seconds(instance, run.run_id)
    for step, value in seconds.items():
        lines.append(f"  {step:<40} {value:>8.1f} s")
    lines.append(f"  {'total':<40} {sum(seconds.values()):>8.1f} s")
    lines.append("")
    lines.append(
        "Release gate (blocking checks on the synthetic table; real-data figures are noisy, ± their DP sd)"
    )
    results = check_results(instance, run.run_id)
    for result in [r for r in results if r["asset"] == f"{dataset}/synthetic"]:
        verdict = "PASS" if result["passed"] else "FAIL"
        figure = "" if result["figure"] is None else f"{result['figure']:.4f}"
        if result.get("sigma") is not None:
            figure += f" ± {result['sigma']:.4f}"
        threshold = "" if result["threshold"] is None else f"(threshold {result['threshold']:g})"
        lines.append(f"  {verdict}  {result['check']:<30} {figure:>19} {threshold}")
    dbt_tests = [r for r in results if r["asset"].startswith("analytics/")]
    if dbt_tests:
        failed = [r["check"] for r in dbt_tests if not r["passed"]]
        lines.append(
            f"  dbt tests on analytics models: {len(dbt_tests) - len(failed)} passed, {len(failed)} failed"
        )
    lines.append("")
    rows = ledger_rows(db_path, run.run_id)
    lines.append("Ledger rows written by this run")
    for row in rows.itertuples():
        quality = "" if pd.isna(row.quality_score) else f" quality={row.quality_score:.4f}"
        lines.append(
            f"  #{row.entry_id} {row.event:<8} {row.synthesizer} epsilon={row.epsilon_note}; "
            f"cumulative={_fmt_epsilon(row.cumulative_epsilon)}{quality} decision={row.decision} "
            f"source={row.source_hash[:12]}… hash={row.row_hash[:12]}…"
        )
    described = synthesizer_line(rows)
    if described:
        lines.append(described)
    lines.append(budget_line(db_path, dataset))
    decisions = [r.decision for r in rows.itertuples() if r.event in ("released", "blocked")]
    lines.append("")
    lines.append(
        f"Release decision: {decisions[-1] if decisions else 'none (the run stopped before the gate)'}"
    )
    cert = certificate_path(instance, run.run_id)
    if cert:
        lines.append(f"Release certificate (public: DP outputs and public inputs only): {cert}")
    pack = evidence_path(instance, run.run_id)
    if pack:
        lines.append(f"Evidence pack (open in a browser; restricted: computed on real data): {pack}")
    return "\n".join(lines)
