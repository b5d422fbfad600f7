"""`make demo-relational`: the related-table demo schema `bank_demo` through its governed chain.

Writes the generated schema's landing files (`lib/relational/demo_schema.py`: regions, people,
accounts, people_accounts, transactions; seeded, nothing downloaded) into
`data/landing/bank_demo/<table>/`, runs the job `bank_demo_governed_schema` in the Dagster instance
of `$DAGSTER_HOME` (the one `make demo` uses, so both show in the UI) and prints what was released:
each `release.bank_demo__<table>` with its row count, whether every foreign key resolves, the dbt
mart joined across the tables and the schema's ledger rows. All of it is read from the released
synthetic tables, the published zone and the ledger's public columns: no figure on real rows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from synth_platform.lib.relational.demo_schema import demo_schema_spec, demo_tables
from synth_platform.lib.storage.private_files import make_parents_private, write_private

SCHEMA = "bank_demo"
JOB = f"{SCHEMA}_governed_schema"
DEFAULT_PEOPLE = 3000
DEFAULT_SEED = 2026
#: The schema instance the job comes from (the GovernedSchema component, issue 18).
INSTANCE_FILE = Path("synth_platform") / "defs" / "schemas" / SCHEMA / "defs.yaml"
#: The ledger's public columns shown (zones.PUBLISHED_LEDGER_COLUMNS holds them all).
LEDGER_COLUMNS = ("entry_id", "event", "epsilon_spent", "rho_spent", "cumulative_epsilon", "decision")


def landing_dir(root: Path, table: str) -> Path:
    """`data/landing/<schema>/<table>/`: where the schema's sensor and ingest look for a table's files."""
    return Path(root) / "data" / "landing" / SCHEMA / table


def write_demo_schema_landing(
    root: Path, people: int = DEFAULT_PEOPLE, seed: int = DEFAULT_SEED
) -> dict[str, Path]:
    """One CSV per table of the demo schema under `root`'s landing folders; table -> file.

    Same arguments, same bytes (the generator is seeded), and a file already there is reused, so
    a second demo does not re-ingest a "new" set. The files play the part of real customer data:
    owner-only (0600) in owner-only folders, like the single-table demo's landing file.
    """
    frames = demo_tables(people=people, seed=seed)
    missing = set(demo_schema_spec().tables) - set(frames)
    if missing:  # the generator and the spec are one module: a mismatch is a bug, not bad input
        raise RuntimeError(f"demo_tables() lacks table(s) {sorted(missing)} of the demo schema spec")
    written = {}
    for table, frame in frames.items():
        folder = make_parents_private(landing_dir(root, table))
        path = folder / f"{table}_{seed}_{people}.csv"
        if not path.exists():
            write_private(path, frame.to_csv(index=False))
        written[table] = path
    return written


def _job_or_none(defs, name: str):
    """The job, or None while the schema's chain (its GovernedSchema instance) does not exist."""
    try:
        return defs.resolve_job_def(name)
    except Exception:  # dagster raises DagsterInvariantViolationError / KeyError by version
        return None


def downstream_not_in_job(defs, job) -> set:
    """What is downstream of `bank_demo/release` (the schema's dbt models, the ledger summary) and
    not in the job's selection: the demo builds it after the job, so the release is analysed
    whichever way the job is scoped."""
    import dagster as dg

    release = dg.AssetKey([SCHEMA, "release"])
    downstream = dg.AssetSelection.assets(release).downstream(include_self=False)
    return set(downstream.resolve(defs.resolve_asset_graph())) - set(job.asset_layer.selected_asset_keys)


def _query(path: Path, sql: str) -> pd.DataFrame | None:
    """A read-only query, or None when the file or the relation is not there (nothing released)."""
    import duckdb

    if not Path(path).exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).df()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()


def released_tables(warehouse_path: Path) -> pd.DataFrame | None:
    """Every `release.bank_demo__<table>` with its row count (the released, synthetic tables)."""
    names = _query(
        warehouse_path,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'release' "
        f"AND table_name LIKE '{SCHEMA}\\_\\_%' ESCAPE '\\' ORDER BY table_name",
    )
    if names is None or names.empty:
        return None
    counts = " UNION ALL ".join(
        f"SELECT '{t}' AS table_name, count(*) AS rows FROM release.\"{t}\"" for t in names["table_name"]
    )
    return _query(warehouse_path, counts)


def orphan_counts(warehouse_path: Path) -> dict[str, int]:
    """Per foreign key of the spec: released child rows whose parent key is not released (want 0)."""
    out = {}
    for fk in demo_schema_spec().foreign_keys:
        child = f'release."{SCHEMA}__{fk.child_table}"'
        parent = f'release."{SCHEMA}__{fk.parent_table}"'
        frame = _query(
            warehouse_path,
            f'SELECT count(*) AS n FROM {child} c WHERE c."{fk.child_column}" IS NOT NULL AND NOT EXISTS '
            f'(SELECT 1 FROM {parent} p WHERE p."{fk.parent_column}" = c."{fk.child_column}")',
        )
        if frame is not None:
            out[f"{fk.column} -> {fk.references}"] = int(frame["n"][0])
    return out


def ledger_rows(warehouse_path: Path) -> pd.DataFrame | None:
    """The schema's ledger rows, public columns only (what the published zone shows)."""
    return _query(
        warehouse_path,
        f"SELECT {', '.join(LEDGER_COLUMNS)} FROM governance.ledger "
        f"WHERE dataset = '{SCHEMA}' ORDER BY entry_id",
    )


def summary(warehouse_path: Path) -> str:
    """The release's tables and row counts, orphans, the dbt mart and the ledger rows, as text."""
    from synth_platform.lib.storage import zones

    lines = []
    tables = released_tables(warehouse_path)
    if tables is None:
        lines.append(f"No table of schema '{SCHEMA}' is released (the gate blocked, or the run failed).")
    else:
        lines += ["Released synthetic tables:", tables.to_string(index=False)]
        orphans = orphan_counts(warehouse_path)
        resolved = "every foreign key resolves" if not any(orphans.values()) else "ORPHANS FOUND"
        lines += ["", f"Foreign keys ({resolved}):"] + [
            f"  {fk}: {n} orphan rows" for fk, n in orphans.items()
        ]
        mart = _query(
            zones.published_path(warehouse_path),
            "SELECT region_name, segment, people, holdings_per_person, holder_transactions, median_amount "
            "FROM analytics.bank_demo_activity_by_region_segment ORDER BY region_name, segment",
        )
        if mart is not None:
            lines += ["", "dbt mart analytics.bank_demo_activity_by_region_segment (published zone):"]
            lines.append(mart.to_string(index=False))
    ledger = ledger_rows(warehouse_path)
    if ledger is not None and not ledger.empty:
        lines += ["", f"Ledger rows of '{SCHEMA}':", ledger.to_string(index=False, max_colwidth=60)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=DEFAULT_PEOPLE, help="generated people (default 3000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)

    from synth_platform.lib.storage.private_files import restrict_process_umask
    from synth_platform.settings import Settings

    restrict_process_umask()  # landing files, warehouse, models, evidence: owner-only
    settings = Settings.from_env()
    started = time.perf_counter()
    files = write_demo_schema_landing(settings.root, people=args.people, seed=args.seed)
    print(f"Demo schema landing files ({time.perf_counter() - started:.1f} s):")
    for table, path in files.items():
        print(f"  {table}: {path.relative_to(settings.root)}")

    import dagster as dg

    from synth_platform.definitions import defs

    job = _job_or_none(defs, JOB)
    if job is None:
        print(
            f"\nThe job '{JOB}' does not exist in this code location: the schema's governed chain "
            f"(the GovernedSchema instance {INSTANCE_FILE}) is not there yet. The landing files are "
            "written; nothing was run.",
            file=sys.stderr,
        )
        return 2
    instance = dg.DagsterInstance.get()
    from synth_platform.defs.run_health import reap_dead_runs

    for run_id in reap_dead_runs(instance):  # a killed earlier demo must not hold the warehouse pool
        print(f"Marked run {run_id} failed: its process is gone; its pool slot is free again.")
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    print(f"\nRunning {JOB} ({args.people} generated people) ...", flush=True)
    started = time.perf_counter()
    result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
    runs = [result]
    dbt_keys = downstream_not_in_job(defs, job)
    if result.success and dbt_keys:
        print(f"Building what the job does not select downstream of {SCHEMA}/release (dbt) ...", flush=True)
        subset = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=dbt_keys)
        runs.append(subset.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False))
    elapsed = time.perf_counter() - started
    print()
    print(summary(settings.warehouse_path))
    success = all(run.success for run in runs)
    state = "succeeded" if success else "FAILED"
    ids = ", ".join(run.run_id for run in runs)
    print(
        f"\nRun(s) {ids} {state} in {elapsed:.1f} s. Browse them in the UI: make dev, then http://127.0.0.1:3000"
    )
    return 0 if success else 1


if __name__ == "__main__":
    sys.exit(main())
