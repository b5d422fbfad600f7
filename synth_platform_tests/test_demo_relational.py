"""`make demo-relational`'s landing files: one per table of the demo schema, keys that join, no download."""

import socket
import stat
import sys
import types

import duckdb
import pandas as pd
import pytest

from synth_platform import demo_relational
from synth_platform.lib.relational.demo_schema import demo_schema_spec


@pytest.fixture(scope="module")
def written(tmp_path_factory, monkeypatch_module):
    root = tmp_path_factory.mktemp("demo_relational")
    return root, demo_relational.write_demo_schema_landing(root, people=150, seed=3)


@pytest.fixture(scope="module")
def monkeypatch_module():
    """No network while the files are written: a download would fail loudly."""
    with pytest.MonkeyPatch.context() as patch:

        def refuse(*args, **kwargs):
            raise AssertionError("the demo schema's landing files must not download anything")

        patch.setattr(socket, "create_connection", refuse)
        patch.setattr(socket.socket, "connect", refuse)
        yield patch


def test_one_owner_only_file_per_table_in_its_landing_folder(written):
    root, files = written
    spec = demo_schema_spec()
    assert set(files) == set(spec.tables)
    for table, path in files.items():
        assert path.parent == root / "data" / "landing" / "bank_demo" / table
        assert [p.name for p in path.parent.iterdir()] == [path.name]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        columns = list(pd.read_csv(path, nrows=0).columns)
        assert columns == list(spec.tables[table].columns), table


def test_every_foreign_key_of_the_written_files_resolves(written):
    _, files = written
    con = duckdb.connect()
    for table, path in files.items():
        con.execute(f"CREATE TABLE \"{table}\" AS SELECT * FROM read_csv_auto('{path}')")
    spec = demo_schema_spec()
    for fk in spec.foreign_keys:
        orphans = con.execute(
            f'SELECT count(*) FROM "{fk.child_table}" c WHERE NOT EXISTS '
            f'(SELECT 1 FROM "{fk.parent_table}" p WHERE p."{fk.parent_column}" = c."{fk.child_column}")'
        ).fetchone()[0]
        assert orphans == 0, fk.column
    assert con.execute("SELECT count(*) FROM people").fetchone()[0] == 150
    # a many-to-many link: some account has two holders
    assert (
        con.execute(
            "SELECT max(n) FROM (SELECT count(*) n FROM people_accounts GROUP BY account_id)"
        ).fetchone()[0]
        >= 2
    )


def test_same_arguments_same_bytes_and_an_existing_file_is_reused(written, tmp_path):
    root, files = written
    again = demo_relational.write_demo_schema_landing(tmp_path, people=150, seed=3)
    for table in files:
        assert again[table].read_bytes() == files[table].read_bytes()
    before = {t: p.stat().st_mtime_ns for t, p in files.items()}
    assert demo_relational.write_demo_schema_landing(root, people=150, seed=3) == files
    assert {t: p.stat().st_mtime_ns for t, p in files.items()} == before


def test_without_the_schema_job_the_demo_writes_the_files_and_says_why_it_stops(
    tmp_path, monkeypatch, capsys
):
    """Until the schema's chain exists, `make demo-relational` fails with a message naming what is missing."""

    class NoSchemaJob:
        def resolve_job_def(self, name):
            raise KeyError(name)

    monkeypatch.setenv("SYNTH_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setitem(sys.modules, "synth_platform.definitions", types.SimpleNamespace(defs=NoSchemaJob()))
    assert demo_relational.main(["--people", "40", "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "bank_demo_governed_schema" in err and "defs/schemas/bank_demo/defs.yaml" in err
    assert len(list((tmp_path / "data" / "landing" / "bank_demo").glob("*/*.csv"))) == 5
