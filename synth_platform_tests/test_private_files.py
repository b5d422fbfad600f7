"""Files and folders holding real data or governed state are owner-only whatever the umask.

Was: only the key file was 0600. Under the default umask 022 the warehouse and its `.wal`, the
published zone, the ledger head, quarantined files and their reasons, model files, their MACs
and pointer, and the demo's landing file were created world-readable (0644, folders 0755): any
local user could copy the raw table. Each test below runs the real code under umask 022.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cloudpickle
import pandas as pd

from synth_platform.lib.demo_data import write_demo_landing_file
from synth_platform.lib.governance import ledger
from synth_platform.lib.storage import private_files, warehouse, zones
from synth_platform.lib.storage.ingest import quarantine
from synth_platform.lib.synthesize import synthesis
from synth_platform_tests.conftest import PROJECT_ROOT

FRAME = pd.DataFrame({"ssn": ["123-45-6789", "987-65-4320"], "age": [40, 51]})


@contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_warehouse_and_its_wal_are_owner_only(tmp_path):
    db = tmp_path / "new_folder" / "warehouse.duckdb"
    with umask(0o022):
        warehouse.write_table(db, "raw", "people", FRAME)
        with warehouse.connect(db) as con:
            con.execute("INSERT INTO raw.people VALUES ('111-22-3333', 30)")  # the .wal exists now
            wal = Path(f"{db}.wal")
            assert wal.exists()
            assert mode(wal) == 0o600  # owner-only from the moment DuckDB created it
    assert mode(db) == 0o600
    assert mode(Path(f"{db}.lock")) == 0o600
    assert mode(db.parent) == 0o700  # the folder the warehouse created


def test_a_loose_warehouse_of_an_older_version_is_tightened_on_the_next_write(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    warehouse.write_table(db, "raw", "people", FRAME)
    os.chmod(db, 0o644)
    with umask(0o022):
        warehouse.write_table(db, "raw", "people", FRAME)
    assert mode(db) == 0o600


def test_the_published_zone_is_owner_only(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    warehouse.write_table(db, "release", "people", FRAME)
    with umask(0o022), warehouse.warehouse_lock(db):
        copied = zones.refresh_published(db)
    assert copied == ["release.people"]
    assert mode(zones.published_path(db)) == 0o600


def test_the_ledger_head_is_owner_only(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    entry = ledger.LedgerEntry("run", "people", "trained", "s", "", "gaussian_copula", {}, "test")
    with umask(0o022), warehouse.connect(db) as con:
        ledger.append(con, entry)
    head = ledger.head_path(db)
    assert head.exists() and mode(head) == 0o600
    assert mode(db) == 0o600


def test_a_quarantined_file_and_its_reason_are_owner_only(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    bad = landing / "people.csv"
    bad.write_text("ssn\n123-45-6789\n")
    os.chmod(bad, 0o644)  # as an operator's copy lands
    with umask(0o022):
        target = quarantine(
            bad, tmp_path / "quarantine" / "people", "people.csv: broken", landing_dir=landing
        )
    assert mode(target) == 0o600
    assert mode(Path(f"{target}.reason.txt")) == 0o600
    assert mode(target.parent) == 0o700 and mode(target.parent.parent) == 0o700


def test_quarantining_a_symlink_leaves_its_target_alone(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    outside = tmp_path / "not_ours.txt"
    outside.write_text("x")
    os.chmod(outside, 0o644)
    (landing / "link.csv").symlink_to(outside)
    with umask(0o022):
        target = quarantine(landing / "link.csv", tmp_path / "q", "a link", landing_dir=landing)
    assert target.is_symlink()
    assert mode(outside) == 0o644  # never followed: the target is not the platform's to change


class _Model:
    """A stand-in synthesizer whose `save` re-creates the file, as a library might."""

    def save(self, path):
        Path(path).unlink()
        with open(path, "wb") as handle:
            cloudpickle.dump({"marginals": [1, 2, 3]}, handle)


def test_model_files_their_macs_and_the_pointer_are_owner_only(tmp_path):
    model_dir = tmp_path / "models" / "people"
    fitted = synthesis.Fitted(_Model(), "gaussian_copula", {}, 0.1, 2, ["age"], "hash")
    with umask(0o022):
        model = synthesis.save_and_promote(fitted, model_dir, "k" * 64, charged_by=1, provenance={})
    files = sorted(p.name for p in model_dir.iterdir())
    assert files == sorted([model.path.name, model.path.name + synthesis.MAC_SUFFIX, synthesis.POINTER])
    assert {p.name: mode(p) for p in model_dir.iterdir()} == dict.fromkeys(files, 0o600)
    assert mode(model_dir) == 0o700 and mode(model_dir.parent) == 0o700


def test_the_demo_landing_file_is_owner_only(tmp_path):
    landing = tmp_path / "data" / "landing" / "adult_customers"
    with umask(0o022):
        path = write_demo_landing_file(landing, rows=30, seed=7)
    assert mode(path) == 0o600
    assert mode(landing) == 0o700


def test_private_dir_tightens_a_loose_governed_folder(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    private_files.private_dir(folder)
    assert mode(folder) == 0o700


def test_entry_points_set_an_owner_only_umask():
    """The code location (what the Dagster code server and run workers import) and the CLI
    restrict the umask, so whatever DuckDB, dbt or Dagster create there is owner-only too."""
    load = "import os; os.umask(0o022); import synth_platform.definitions; print(oct(os.umask(0)))"
    done = subprocess.run(
        [sys.executable, "-c", load],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "0o77", done.stderr[-2000:]
    with umask(0o022):
        from synth_platform import cli

        assert cli.main([]) == 2  # no command: help, exit 2, but the umask is set first
        assert os.umask(0o022) == 0o077
    with umask(0o027):
        assert private_files.restrict_process_umask() == 0o027
        assert os.umask(0o022) == 0o077  # at least 077, whatever stricter bits were set
