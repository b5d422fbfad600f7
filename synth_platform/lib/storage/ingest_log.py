"""Which source file each dataset's raw table came from (`governance.ingests`).

Later stages stamp the ledger with the source's content hash; keeping it in the
warehouse keeps the audit trail in one place, independent of the orchestrator.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

_TABLE = "governance.ingests"


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS governance")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {_TABLE} (dataset VARCHAR, run_id VARCHAR, ingested_at TIMESTAMP, "
        "file_name VARCHAR, source_hash VARCHAR, rows BIGINT)"
    )


def record_ingest(
    con: duckdb.DuckDBPyConnection, dataset: str, run_id: str, file_name: str, source_hash: str, rows: int
) -> None:
    _ensure(con)
    con.execute(
        f"INSERT INTO {_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
        [dataset, run_id, datetime.now(UTC).replace(tzinfo=None), file_name, source_hash, rows],
    )


def latest_source_hash(con: duckdb.DuckDBPyConnection, dataset: str) -> str:
    try:  # reads work on a read-only connection, before any ingest
        row = con.execute(
            f"SELECT source_hash FROM {_TABLE} WHERE dataset = ? ORDER BY ingested_at DESC LIMIT 1", [dataset]
        ).fetchone()
    except duckdb.CatalogException:
        return "unknown"
    return row[0] if row else "unknown"


def source_hash_for_run(con: duckdb.DuckDBPyConnection, dataset: str, run_id: str) -> str:
    """The source hash this run ingested; the latest one when the run ingested nothing itself.

    A ledger row must carry its own run's source, not whichever file another run ingested last.
    """
    try:
        row = con.execute(
            f"SELECT source_hash FROM {_TABLE} WHERE dataset = ? AND run_id = ? "
            "ORDER BY ingested_at DESC LIMIT 1",
            [dataset, run_id],
        ).fetchone()
    except duckdb.CatalogException:
        return "unknown"
    return row[0] if row else latest_source_hash(con, dataset)
