"""Release: the gate's verdict, and publishing a synthetic table with its ledger row.

The gate's figures are stored per run (`governance.assessments`) together with the
content hashes of the exact synthetic table and model it judged, so that the release
step publishes only what was assessed and passed *in the same run*: it re-hashes the
table it is about to publish, under the same warehouse lock and transaction as the
publish, and refuses on any difference (another writer, a re-sample, a swapped model).
Publishing replaces `release.<dataset>` and appends the ledger row in one transaction:
either both happen or neither does, and a failure leaves the previous release as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from synth_platform.lib.governance import ledger
from synth_platform.lib.storage.warehouse import SqlQuery, quote_ident, replacing_table
from synth_platform.lib.synthesize.synthesis import frame_sha256  # noqa: F401 - the table hash the gate records

RELEASE_SCHEMA = "release"
#: The prefix of a table hash computed inside DuckDB (`table_sha256`); a recorded hash without it
#: is a `frame_sha256` of the table read into pandas (gates of earlier versions).
TABLE_HASH_PREFIX = "duckdb-v1:"
_ASSESSMENTS = "governance.assessments"


class NotAssessedError(RuntimeError):
    """A release was attempted without a passing assessment from the same run."""


class ChangedSinceAssessedError(NotAssessedError):
    """The synthetic table or model differs from the one the gate judged in this run."""


@dataclass(frozen=True)
class Assessment:
    run_id: str
    dataset: str
    passed: bool
    failed_checks: list[str]
    figures: dict
    #: Content hashes of the synthetic table and the model file the gate judged ("" if unknown).
    synthetic_sha256: str = ""
    model_sha256: str = ""


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS governance")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {_ASSESSMENTS} (run_id VARCHAR, dataset VARCHAR, recorded_at TIMESTAMP, "
        "passed BOOLEAN, failed_checks VARCHAR, figures VARCHAR)"
    )
    for column in ("synthetic_sha256", "model_sha256"):  # warehouses from before the hashes were bound
        con.execute(f"ALTER TABLE {_ASSESSMENTS} ADD COLUMN IF NOT EXISTS {column} VARCHAR")


def record_assessment(con: duckdb.DuckDBPyConnection, assessment: Assessment) -> None:
    _ensure(con)
    con.execute(
        f"INSERT INTO {_ASSESSMENTS} (run_id, dataset, recorded_at, passed, failed_checks, figures, "
        "synthetic_sha256, model_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            assessment.run_id,
            assessment.dataset,
            datetime.now(UTC).replace(tzinfo=None),
            assessment.passed,
            json.dumps(assessment.failed_checks),
            json.dumps(assessment.figures, default=str),
            assessment.synthetic_sha256,
            assessment.model_sha256,
        ],
    )


def record_verdict(
    con: duckdb.DuckDBPyConnection,
    assessment: Assessment,
    blocked_entry: ledger.LedgerEntry | None = None,
    guard: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    key=None,
) -> dict | None:
    """Store the gate's assessment and, for a failed gate, its `blocked` ledger row: one transaction.

    `guard` runs first inside the transaction (the run-lease check); if it raises, nothing is
    written. Returns the ledger row, if one was appended. `key`: the platform key the ledger
    row is keyed with (default: as `ledger.append`).
    """
    _ensure(con)
    key = ledger.resolve_key(key, create=True)
    ledger.ensure_ledger(con, key)
    row = None
    con.execute("BEGIN TRANSACTION")
    try:
        if guard is not None:
            guard(con)
        record_assessment(con, assessment)
        if blocked_entry is not None:
            row = ledger.append(con, blocked_entry, key=key)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    if row is not None:
        ledger.write_head(con, key)
    return row


def assessment_for_run(con: duckdb.DuckDBPyConnection, dataset: str, run_id: str) -> Assessment | None:
    try:
        row = con.execute(
            f"SELECT * FROM {_ASSESSMENTS} WHERE dataset = ? AND run_id = ? "
            "ORDER BY recorded_at DESC LIMIT 1",
            [dataset, run_id],
        ).fetchone()
        names = [d[0] for d in con.description] if row is not None else []
    except duckdb.CatalogException:  # no assessment was ever recorded
        return None
    if row is None:
        return None
    found = dict(zip(names, row, strict=True))
    return Assessment(
        run_id,
        dataset,
        bool(found["passed"]),
        json.loads(found["failed_checks"]),
        json.loads(found["figures"]),
        found.get("synthetic_sha256") or "",
        found.get("model_sha256") or "",
    )


def table_sha256(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """A content hash of a warehouse table computed inside DuckDB: no row reaches pandas.

    Over the column names and types, the row count and two order-insensitive aggregates of
    DuckDB's 64-bit `hash()` of each whole row (their sum and their XOR): another writer, a
    re-sample or a swapped table changes it; a table whose rows were only reordered is the same
    set of rows and keeps it. Stable within a DuckDB version, which is all the gate -> release
    comparison of one run needs. Prefixed with `TABLE_HASH_PREFIX`.
    """
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    if not columns:
        raise duckdb.CatalogException(f"no table {schema}.{table} to hash")
    row = "hash(" + ", ".join(quote_ident(name) for name, _ in columns) + ")"
    rows, total, xor = con.execute(
        f"SELECT count(*), coalesce(sum({row}::HUGEINT), 0), coalesce(bit_xor({row}), 0) "
        f"FROM {quote_ident(schema)}.{quote_ident(table)}"
    ).fetchall()[0]
    content = json.dumps([[list(c) for c in columns], int(rows), str(total), str(xor)])
    return TABLE_HASH_PREFIX + hashlib.sha256(content.encode()).hexdigest()


def _same_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, recorded: str) -> bool:
    """Whether `schema.table` is the table whose hash the gate recorded: computed in DuckDB for a
    `table_sha256`; a bare 64-digit hash is a `frame_sha256`, re-computed chunk by chunk."""
    if recorded.startswith(TABLE_HASH_PREFIX):
        return table_sha256(con, schema, table) == recorded
    return streamed_frame_sha256(con, schema, table) == recorded


def streamed_frame_sha256(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """`frame_sha256` of a whole warehouse table, read in chunks of a few thousand rows: the same
    digest (row hashes are per row, SHA-256 is incremental), without the table in pandas."""
    con.execute(f"SELECT * FROM {quote_ident(schema)}.{quote_ident(table)}")
    digest = hashlib.sha256(json.dumps([str(c[0]) for c in con.description]).encode())
    while not (chunk := con.fetch_df_chunk(8)).empty:
        digest.update(pd.util.hash_pandas_object(chunk, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def publish(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    frame: pd.DataFrame | SqlQuery,
    entry: ledger.LedgerEntry,
    key=None,
) -> dict:
    """Replace `release.<dataset>` with the frame (or the result of a `SqlQuery` run in the
    warehouse: a large table never passes through pandas) and append the `released` ledger row,
    atomically."""
    key = ledger.resolve_key(key, create=True)
    ledger.ensure_ledger(con, key)
    with replacing_table(con, RELEASE_SCHEMA, dataset, frame):
        row = ledger.append(con, entry, key=key)
    ledger.write_head(con, key)
    return row


def publish_assessed_table(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    run_id: str,
    model_sha256: str,
    make_entry: Callable[[Assessment], ledger.LedgerEntry],
    source_schema: str = "synthetic",
    guard: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    key=None,
) -> tuple[dict, Assessment]:
    """Publish `<source_schema>.<dataset>` only if it is the table this run's gate passed.

    Everything happens in one connection, so under one warehouse lock: read the run's
    assessment, re-hash the synthetic table (inside DuckDB: `table_sha256`), compare it and the
    model's hash with what the gate recorded, run `guard` (the run-lease check), then copy the
    table into the release (`CREATE TABLE AS SELECT`, no pandas) and append the ledger row in
    one transaction. Raises NotAssessedError (or its subclass ChangedSinceAssessedError) and
    publishes nothing when anything differs.
    """
    assessment = assessment_for_run(con, dataset, run_id)
    if assessment is None or not assessment.passed:
        why = "it was not run" if assessment is None else "failed: " + ", ".join(assessment.failed_checks)
        raise NotAssessedError(f"the release gate did not pass in this run ({why})")
    if not assessment.synthetic_sha256 or not assessment.model_sha256:
        raise ChangedSinceAssessedError("the gate recorded no content hash, so nothing can be matched to it")
    if not _same_table(con, source_schema, dataset, assessment.synthetic_sha256):
        raise ChangedSinceAssessedError(
            f"{source_schema}.{dataset} is not the table the gate judged in this run (its content hash "
            "differs): another writer or a re-sample changed it after the checks"
        )
    if model_sha256 != assessment.model_sha256:
        raise ChangedSinceAssessedError("the current model is not the one the gate judged in this run")
    if guard is not None:
        guard(con)
    source = SqlQuery(f"SELECT * FROM {quote_ident(source_schema)}.{quote_ident(dataset)}")
    row = publish(con, dataset, source, make_entry(assessment), key)
    return row, assessment


def publish_assessed(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    run_id: str,
    model_sha256: str,
    make_entry: Callable[[Assessment], ledger.LedgerEntry],
    source_schema: str = "synthetic",
    guard: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    key=None,
) -> tuple[dict, pd.DataFrame, Assessment]:
    """`publish_assessed_table`, then the published table read back as a frame (for callers that
    want it in pandas; the release stage does not: it reads counts from the warehouse)."""
    row, assessment = publish_assessed_table(
        con, dataset, run_id, model_sha256, make_entry, source_schema, guard, key
    )
    frame = con.execute(f"SELECT * FROM {quote_ident(RELEASE_SCHEMA)}.{quote_ident(dataset)}").df()
    return row, frame, assessment
