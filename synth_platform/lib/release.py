"""Release: the gate's verdict, and publishing a synthetic table with its ledger row.

The gate's figures are stored per run (`governance.assessments`) so that the release
step can refuse to publish anything that was not assessed and passed *in the same
run*. Publishing replaces `release.<dataset>` and appends the ledger row in one
transaction: either both happen or neither does, and a failure leaves the previous
release as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from synth_platform.lib import ledger
from synth_platform.lib.warehouse import replacing_table

RELEASE_SCHEMA = "release"
_ASSESSMENTS = "governance.assessments"


class NotAssessedError(RuntimeError):
    """A release was attempted without a passing assessment from the same run."""


@dataclass(frozen=True)
class Assessment:
    run_id: str
    dataset: str
    passed: bool
    failed_checks: list[str]
    figures: dict


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS governance")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {_ASSESSMENTS} (run_id VARCHAR, dataset VARCHAR, recorded_at TIMESTAMP, "
        "passed BOOLEAN, failed_checks VARCHAR, figures VARCHAR)"
    )


def record_assessment(con: duckdb.DuckDBPyConnection, assessment: Assessment) -> None:
    _ensure(con)
    con.execute(
        f"INSERT INTO {_ASSESSMENTS} VALUES (?, ?, ?, ?, ?, ?)",
        [
            assessment.run_id,
            assessment.dataset,
            datetime.now(UTC).replace(tzinfo=None),
            assessment.passed,
            json.dumps(assessment.failed_checks),
            json.dumps(assessment.figures, default=str),
        ],
    )


def assessment_for_run(con: duckdb.DuckDBPyConnection, dataset: str, run_id: str) -> Assessment | None:
    try:
        row = con.execute(
            f"SELECT passed, failed_checks, figures FROM {_ASSESSMENTS} WHERE dataset = ? AND run_id = ? "
            "ORDER BY recorded_at DESC LIMIT 1",
            [dataset, run_id],
        ).fetchone()
    except duckdb.CatalogException:  # no assessment was ever recorded
        return None
    if row is None:
        return None
    return Assessment(run_id, dataset, bool(row[0]), json.loads(row[1]), json.loads(row[2]))


def publish(
    con: duckdb.DuckDBPyConnection, dataset: str, frame: pd.DataFrame, entry: ledger.LedgerEntry
) -> dict:
    """Replace `release.<dataset>` with the frame and append the `released` ledger row, atomically."""
    ledger.ensure_ledger(con)
    with replacing_table(con, RELEASE_SCHEMA, dataset, frame):
        row = ledger.append(con, entry)
    return row
