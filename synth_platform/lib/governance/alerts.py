"""Alerts an operator sees: what went wrong, in one sentence, and where it is sent.

The Dagster sensors in `defs/alerts.py` decide *when* to alert (a failed run, a privacy budget
under 20 %, a release older than its freshness window, a landing file quarantined); this module
words the alert and posts it to a webhook when `SYNTH_ALERT_WEBHOOK_URL` is set. Posting never
raises: an unreachable webhook must not break the sensor that records the alert in Dagster.

Messages name datasets, jobs, runs, files and figures; never a cell value or an error text
that could quote one (a run-failure alert names the failed steps and points to the run's logs).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from synth_platform.lib.governance.budget import LOW_BUDGET_SHARE
from synth_platform.lib.governance.ledger import SPENDING_EVENTS

WEBHOOK_ENV = "SYNTH_ALERT_WEBHOOK_URL"
MAX_AGE_ENV = "SYNTH_RELEASE_MAX_AGE_HOURS"
DEFAULT_MAX_AGE_HOURS = 26.0  # a nightly refresh, plus two hours of slack


@dataclass(frozen=True)
class Alert:
    kind: str  # run_failure | budget_low | stale_release | landing_quarantined
    message: str
    dataset: str | None = None
    details: dict = field(default_factory=dict)

    def payload(self) -> dict:
        return {
            "source": "synth_platform",
            "kind": self.kind,
            "dataset": self.dataset,
            "message": self.message,
            "details": self.details,
            "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }


def webhook_url() -> str | None:
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    return url or None


def post(alert: Alert, url: str | None = None, timeout: float = 3.0) -> str:
    """POST the alert as JSON; returns what happened, in words. Never raises."""
    url = url or webhook_url()
    if not url:
        return f"not posted ({WEBHOOK_ENV} is not set)"
    if not url.startswith(("http://", "https://")):
        return f"not posted: {WEBHOOK_ENV} must be an http(s) URL"
    body = json.dumps(alert.payload(), default=str).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return f"posted to the webhook (HTTP {response.status})"
    except urllib.error.HTTPError as error:
        return f"webhook answered HTTP {error.code}; alert not delivered"
    except Exception as error:  # unreachable, timeout, TLS: report, never raise
        return f"webhook unreachable ({error.__class__.__name__}); alert not delivered"


def release_max_age() -> timedelta:
    """How old a release may get before it is stale: SYNTH_RELEASE_MAX_AGE_HOURS, default 26 h."""
    raw = os.environ.get(MAX_AGE_ENV, "")
    try:
        hours = float(raw) if raw else DEFAULT_MAX_AGE_HOURS
    except ValueError:
        hours = DEFAULT_MAX_AGE_HOURS
    return timedelta(hours=hours if hours > 0 else DEFAULT_MAX_AGE_HOURS)


@dataclass(frozen=True)
class CommittedRow:
    """A ledger row a run appended: the fact that says what a failed run changed before failing.

    Rows are committed with what they describe (a `trained` row before the data is read, a
    `released` row in the same transaction as the release table), so they are the record of
    what the run changed; no other write of the chain outlives a failed run unnoticed.
    """

    entry_id: int
    dataset: str
    event: str
    epsilon_spent: float | None = None
    rho_spent: float | None = None


def _spend(row: CommittedRow) -> str:
    if row.event == "gate":
        return f"rho {row.rho_spent:.4g}" if row.rho_spent is not None else "its rho"
    if row.epsilon_spent is None:
        return "an unbounded epsilon (not differentially private)"
    return f"epsilon {row.epsilon_spent:.4g}"


def what_changed(committed: list[CommittedRow] | None) -> str:
    """What a failed run left behind, in words, from the ledger rows it appended.

    `None` means the rows could not be read: then nothing is claimed either way. A charge is
    never refunded (the step saw the data, or might have), so the alert says so; a `released`
    row means the release table was replaced in the same transaction, so the release stands and
    only a later step (evidence pack, certificate, ledger head) failed.
    """
    if committed is None:
        return (
            "Whether it changed the ledger or a release is unknown (the warehouse could not be read): "
            "look for this run's rows with `synth-platform ledger show`."
        )
    if not committed:
        return (
            "Nothing was committed: the ledger has no row from this run and the last good release "
            "is unchanged."
        )
    parts = []
    spent = [r for r in committed if r.event in SPENDING_EVENTS]
    if spent:
        charges = "; ".join(
            f"ledger row `{r.event}` entry {r.entry_id} of '{r.dataset}', {_spend(r)}" for r in spent
        )
        parts.append(
            f"This run charged the privacy budget before failing ({charges}); a charge is not refunded."
        )
    for event, words in (
        ("reused", "the current model was re-used at no cost"),
        ("refused", "a training was refused (no spend)"),
        ("blocked", "the release gate's `blocked` decision was recorded"),
    ):
        rows = [r for r in committed if r.event == event]
        if rows:
            entries = ", ".join(f"entry {r.entry_id} of '{r.dataset}'" for r in rows)
            parts.append(f"Recorded in the ledger: {words} ({entries}).")
    released = [r for r in committed if r.event == "released"]
    if released:
        entries = ", ".join(f"'{r.dataset}' (entry {r.entry_id})" for r in released)
        parts.append(
            f"The release was published and recorded: {entries}; it stands, and only a later step failed."
        )
    else:
        parts.append("The last good release is unchanged.")
    return " ".join(parts)


def run_failure(
    job_name: str,
    run_id: str,
    failed_steps: list[str],
    dataset: str | None = None,
    committed: list[CommittedRow] | None = None,
) -> Alert:
    """The failed-run alert; `committed` is the ledger rows the run appended (None: unknown)."""
    steps = (
        ", ".join(failed_steps)
        if failed_steps
        else "no step reported (the run failed to start or was killed)"
    )
    return Alert(
        "run_failure",
        f"Run {run_id} of job {job_name} failed. Failed steps: {steps}. {what_changed(committed)} "
        "Open the run's logs in the Dagster UI (Runs) for the reason.",
        dataset,
        {
            "job": job_name,
            "run_id": run_id,
            "failed_steps": failed_steps,
            "committed_ledger_entries": None
            if committed is None
            else [{"entry_id": r.entry_id, "dataset": r.dataset, "event": r.event} for r in committed],
        },
    )


#: What a ledger name belongs to: a single-table dataset, or a schema of related tables (its rows are
#: under the schema's name). Alerts of a schema say so; a dataset's read as they always did.
DATASET, SCHEMA = "dataset", "schema"


def _named(name: str, unit: str) -> str:
    return f"'{name}'" if unit == DATASET else f"{unit} '{name}'"


def _unit_details(unit: str) -> dict:
    return {} if unit == DATASET else {"unit": unit}


def budget_low(
    dataset: str,
    spent: float,
    remaining: float,
    share: float,
    budget: float,
    threshold: float = LOW_BUDGET_SHARE,
    unit: str = DATASET,
) -> Alert | None:
    """An alert when less than `threshold` of the dataset's (or schema's: `unit`) epsilon budget remains."""
    if share >= threshold:
        return None
    return Alert(
        "budget_low",
        f"Privacy budget of {_named(dataset, unit)} is running out: {share:.0%} left (epsilon spent "
        f"{spent:.4g} of {budget:g}, remaining {remaining:.4g}; alert below {threshold:.0%}). Further "
        "trainings will be refused once it is used up: plan a budget decision or stop retraining this "
        f"{unit}.",
        dataset,
        {
            "epsilon_spent": spent,
            "epsilon_remaining": remaining,
            "remaining_share": share,
            "budget": budget,
            **_unit_details(unit),
        },
    )


def stale_release(
    dataset: str,
    asset: str,
    last_update: datetime | None,
    now: datetime,
    max_age: timedelta,
    unit: str = DATASET,
):
    """An alert when the release was last updated more than `max_age` ago (None: never released)."""
    if last_update is None:
        return None
    age = now - last_update
    if age <= max_age:
        return None
    hours = age.total_seconds() / 3600
    return Alert(
        "stale_release",
        f"Release '{asset}' is stale: last updated {last_update.isoformat(timespec='minutes')} "
        f"({hours:.1f} h ago; allowed {max_age.total_seconds() / 3600:g} h). Check the nightly run and "
        f"the release gate of this {unit}.",
        dataset,
        {
            "asset": asset,
            "last_update": last_update.isoformat(),
            "age_hours": round(hours, 2),
            **_unit_details(unit),
        },
    )


def landing_quarantined(dataset: str, file_name: str, reason: str, moved_to: str) -> Alert:
    return Alert(
        "landing_quarantined",
        f"Landing file {file_name} of '{dataset}' was quarantined and not run: {reason} "
        f"(moved to {moved_to}).",
        dataset,
        {"file": file_name, "quarantined_to": moved_to},
    )


def schema_mismatch(path, spec) -> str | None:
    """Why a landing file's columns differ from its spec, from its header alone; None if they match.

    Reads only the header (the first CSV row, or the Parquet schema), so a sensor can screen a
    large file cheaply. A file whose header cannot be read at all is left to the ingest step,
    which quarantines it with the full reason.
    """
    import csv

    import pandas as pd

    from synth_platform.lib.storage import ingest

    try:
        if spec.source.format == "parquet":
            import pyarrow.parquet as pq

            found = list(pq.read_schema(path).names)
        else:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                found = next(csv.reader(handle), [])
    except Exception:  # unreadable header: the ingest step says why, with the whole file in hand
        return None
    if not found:
        return None
    try:
        ingest.check_columns(pd.DataFrame(columns=[str(c) for c in found]), spec, path.name)
    except ingest.IngestError as error:
        return str(error)
    return None
