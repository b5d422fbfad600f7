"""Seconds of the analytics (dbt) step's parts on a scratch warehouse: zone refresh, dbt parse, build.

The step refreshes the published zone from the warehouse, then runs `dbt build` on it. This bench
builds a scratch warehouse (a temporary folder: never the repo's data/) with a release table of
the demo's shape and N rows, generated in SQL, and a small ledger; then, for a few rounds, times:

* the zone refresh after a NEW release (the chain's case: the table must be copied) and with
  nothing changed (a dbt re-run, or another dataset's release): the full copy
  (`zones.refresh_published`) against the incremental one (`published_refresh.refresh_changed`);
* `dbt build` as dagster-dbt ran it before -- a fresh target folder per run, seeded with the state
  of the load-time `dbt parse` (another profile, so dbt parses everything again) -- against the kept
  per-zone folder (`analytics.zone_target_path`: dbt parses only what changed).

`python -m synth_platform.bench.dbt_step [--rows 1000000] [--rounds 2]`; one line per measurement.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from synth_platform.lib.governance import ledger
from synth_platform.lib.storage import published_refresh, zones

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
_CATEGORIES = {
    "workclass": ("Private", "State-gov", "?"),
    "education": ("HS-grad", "Bachelors", "Masters", "Doctorate"),
    "marital_status": ("Divorced", "Never-married"),
    "occupation": ("Sales", "Tech-support", "?"),
    "relationship": ("Husband", "Wife", "Own-child"),
    "race": ("White", "Black", "Asian-Pac-Islander"),
    "sex": ("Female", "Male"),
    "native_country": ("United-States", "Mexico", "?"),
    "income": ("<=50K", ">50K"),
}


def _pick(column: str, salt: int) -> str:
    values = _CATEGORIES[column]
    return f"{list(values)!r}[1 + (i + {salt}) % {len(values)}] AS {column}"


def make_warehouse(path: Path, rows: int, salt: int = 0) -> None:
    """A warehouse with `release.adult_customers` (the demo's columns, made-up values) and a ledger
    whose latest `released` row is new (`salt` changes both: a new release)."""
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS release; CREATE SCHEMA IF NOT EXISTS governance")
        con.execute(
            f"""CREATE OR REPLACE TABLE release.adult_customers AS SELECT
            'SYN-' || lpad(CAST(i + {salt} AS VARCHAR), 13, '0') AS customer_id,
            'Given ' || CAST(hash(i) % 10000 AS VARCHAR) || ' Zorblat' AS full_name,
            'given.zorblat' || i || '@example.com' AS email,
            '212-555-01' || lpad(CAST(i % 100 AS VARCHAR), 2, '0') AS phone,
            lpad(CAST(i % 1000 AS VARCHAR), 3, '0') || '-00-'
            || lpad(CAST(i % 10000 AS VARCHAR), 4, '0') AS ssn,
            CAST(i % 99999 AS VARCHAR) || ' Zorblat Street' AS street_address,
            lpad(CAST(i % 1000 AS VARCHAR), 3, '0') || '12' AS zip_code,
            DATE '1950-01-01' + CAST(i % 20000 AS INTEGER) AS date_of_birth,
            CAST(17 + i % 70 AS BIGINT) AS age, {_pick("workclass", salt)},
            CAST(10000 + hash(i) % 500000 AS BIGINT) AS fnlwgt, {_pick("education", salt)},
            CAST(1 + i % 16 AS BIGINT) AS education_num, {_pick("marital_status", salt)},
            {_pick("occupation", salt)}, {_pick("relationship", salt)}, {_pick("race", salt)},
            {_pick("sex", salt)}, CAST(i % 5 AS BIGINT) * 1000 AS capital_gain,
            CAST(0 AS BIGINT) AS capital_loss, CAST(1 + i % 60 AS BIGINT) AS hours_per_week,
            {_pick("native_country", salt)}, {_pick("income", salt)}
            FROM range({rows}) t(i)"""
        )
        named = ("entry_id", "recorded_at", "dataset", "event", "cumulative_epsilon")
        nulls = ", ".join(
            f"CAST(NULL AS {ledger.COLUMN_KINDS[c]}) AS {c}"
            for c in zones.PUBLISHED_LEDGER_COLUMNS
            if c not in named
        )
        con.execute(
            "CREATE OR REPLACE TABLE governance.ledger AS SELECT i + 1 AS entry_id, "
            "TIMESTAMP '2026-01-01' + INTERVAL (i) MINUTE AS recorded_at, 'adult_customers' AS dataset, "
            "['trained', 'gate', 'released'][1 + i % 3] AS event, CAST(i AS DOUBLE) AS cumulative_epsilon, "
            f"{nulls} FROM range({12 + 3 * salt}) t(i)"
        )
    finally:
        con.close()


def dbt_build(published: Path, target: Path, seed_state: bool) -> float:
    """Seconds of `dbt build` on the zone with this target folder (as dagster-dbt invokes it)."""
    state = DBT_DIR / "target" / "partial_parse.msgpack"
    if seed_state and state.exists() and not (target / state.name).exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(state, target / state.name)  # what dagster-dbt does for a fresh folder
    env = {**os.environ, "SYNTH_PUBLISHED_PATH": str(published), "DBT_TARGET_PATH": str(target)}
    env |= {"DBT_LOG_PATH": str(target), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    command = [str(Path(sys.executable).with_name("dbt")), "build", "--project-dir", str(DBT_DIR)]
    command += ["--profiles-dir", str(DBT_DIR)]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=DBT_DIR, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-3000:])
    return time.perf_counter() - started


def _timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_dbt_") as tmp:
        root = Path(tmp)
        full_db, incremental_db = root / "full" / "warehouse.duckdb", root / "incr" / "warehouse.duckdb"
        kept = root / "target_kept"
        for round_ in range(args.rounds):
            for db in (full_db, incremental_db):
                db.parent.mkdir(exist_ok=True)
                make_warehouse(db, args.rows, salt=round_)  # a new release each round
            full = _timed(zones.refresh_published, full_db)
            incremental = _timed(published_refresh.refresh_changed, incremental_db)
            full_again = _timed(zones.refresh_published, full_db)
            incremental_again = _timed(published_refresh.refresh_changed, incremental_db)
            fresh = dbt_build(zones.published_path(full_db), root / f"target_fresh_{round_}", True)
            kept_build = dbt_build(zones.published_path(incremental_db), kept, True)
            print(
                f"{args.rows:,} rows, round {round_ + 1}: zone refresh after a new release "
                f"{full:.2f} s full / {incremental:.2f} s incremental; nothing changed {full_again:.2f} s / "
                f"{incremental_again:.2f} s; dbt build {fresh:.2f} s fresh target / {kept_build:.2f} s kept",
                flush=True,
            )


if __name__ == "__main__":
    main()
