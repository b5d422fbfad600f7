"""Two runs at once, then hostile and broken landing files: only checked tables released,
every bad file refused with a clear reason, nothing leaked, nothing lost.

The release is made by two runs of one dataset launched at the same moment through the CLI on
one instance and one warehouse, with different files (session fixture `faulted_chain` in
chain_under_faults.py, after its kill tests): one must own the dataset and release, the other
must be refused before writing, and every ledger row must carry its own run's source hash and
figures. Then every kind of bad file runs through the real `raw` step of the chain (the step a
sensor-launched run starts with). Each case asserts
the message a person reads, that the file went to quarantine with that reason (or, for a path
outside the landing folder, that nothing was read or moved), that no cell value of the file
appears in the run's events or the reason, and that the release and the ledger are untouched.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import duckdb
import pytest

from synth_platform.defs.automation import chain_job_name
from synth_platform.lib.governance import ledger, release
from synth_platform.lib.storage import ingest_log
from synth_platform_tests.pipeline_harness import DATASET, identifiers_in

pytestmark = pytest.mark.integration
SECRET = "SECRET-CELL-7731"


@dataclass
class Released:
    project: object
    job: object
    header: list[str]
    rows: list[list[str]]
    planted: set[str]
    two_runs: dict
    source_hashes: dict

    def snapshot(self) -> tuple:
        con = duckdb.connect(str(self.project.settings.warehouse_path), read_only=True)
        try:
            published = release.frame_sha256(con.execute(f"SELECT * FROM release.{DATASET}").df())
            entries = ledger.read_ledger(con)
            problems = ledger.verify_chain(con)
        finally:
            con.close()
        return published, len(entries), entries["row_hash"].iloc[-1], problems

    def ingest(self, landing_file: str):
        config = {"ops": {f"{DATASET}__raw": {"config": {"landing_file": landing_file}}}}
        return self.job.execute_in_process(
            run_config=config,
            instance=self.project.instance,
            asset_selection=[dg.AssetKey([DATASET, "raw"])],
            raise_on_error=False,
        )


@pytest.fixture(scope="module")
def released(faulted_chain) -> Released:
    """The project of chain_under_faults.py: seven killed runs, then two runs at once, one released."""
    project = faulted_chain.project
    job = project.definitions().resolve_job_def(chain_job_name(DATASET))
    return Released(
        project,
        job,
        faulted_chain.header,
        faulted_chain.rows,
        faulted_chain.planted,
        faulted_chain.two_runs,
        faulted_chain.source_hashes,
    )


def test_two_runs_of_one_dataset_at_once_release_only_a_checked_table(released):
    project, results, files = released.project, released.two_runs, released.source_hashes
    assert len(set(files.values())) == 2
    assert set(results) == set(files)
    outcomes = {name: run.status == dg.DagsterRunStatus.SUCCESS for name, run in results.items()}
    assert sorted(outcomes.values()) == [False, True], outcomes  # one run owned the dataset
    (winner,) = (n for n, ok in outcomes.items() if ok)
    (loser,) = (n for n, ok in outcomes.items() if not ok)
    assert "is still in progress and owns its tables" in project.run_text(results[loser].run_id)

    rows = project.query("SELECT run_id, event, source_hash FROM governance.ledger ORDER BY entry_id")
    assert results[loser].run_id not in set(rows["run_id"])  # the refused run wrote nothing
    mine = rows[rows["run_id"] == results[winner].run_id]
    # A file the earlier runs already trained on is sampled again from its charged model ("reused").
    # The gate's charge ("gate") is paid once per (model, synthetic table) evaluation.
    events = list(mine["event"])
    assert events in (["trained", "gate", "released"], ["reused", "gate", "released"], ["reused", "released"])
    assert set(mine["source_hash"]) == {files[winner]}  # each row names its own run's file

    con = duckdb.connect(str(project.settings.warehouse_path), read_only=True)
    try:
        assessment = release.assessment_for_run(con, DATASET, results[winner].run_id)
        published_sha256 = release.table_sha256(con, release.RELEASE_SCHEMA, DATASET)
        assert ingest_log.source_hash_for_run(con, DATASET, results[winner].run_id) == files[winner]
        assert ledger.verify_chain(con) == []
        released_row = ledger.read_ledger(con, DATASET).iloc[-1]
    finally:
        con.close()
    assert assessment.passed and published_sha256 == assessment.synthetic_sha256  # the checked table
    assert released_row["quality_score"] == pytest.approx(assessment.figures["quality_score"]["figure"])


def _csv(header, rows) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode()


def _set(rows, row: int, column: str, value: str, header) -> list:
    changed = [list(r) for r in rows]
    changed[row][header.index(column)] = value
    return changed


Build = Callable[[list[str], list[list[str]]], bytes]
BODY = 300  # rows per bad file: above min_rows, so the defect named is the one planted


def _rows(rows):
    return rows[:BODY]


CONTENT_CASES: list[tuple[str, Build, str]] = [
    ("empty", lambda h, r: b"", r"the file is empty \(0 bytes\)"),
    ("blank_lines_only", lambda h, r: b"\n\n\n", r"no header and no rows"),
    ("header_only", lambda h, r: _csv(h, []), r"has a header but no data rows"),
    ("two_rows", lambda h, r: _csv(h, r[:2]), r"2 data rows, fewer than the 200 .*source\.min_rows"),
    (  # well-formed, but fewer people than the release gate needs after the split (split.rows_needed)
        "too_few_for_the_gate",
        lambda h, r: _csv(h, r[:1000]),
        r"1000 data rows, too few for the release gate of 'adult_customers'.*deliver at least \d+ rows",
    ),
    ("no_header", lambda h, r: _csv(r[0], _rows(r)[1:]), r"the first row looks like data, not a header"),
    (
        "missing_column",
        lambda h, r: _csv(h[:-1], [row[:-1] for row in _rows(r)]),
        r"missing \['income'\]",
    ),
    (
        "renamed_column",
        lambda h, r: _csv([c if c != "ssn" else "ssn_number" for c in h], _rows(r)),
        r"missing \['ssn'\]; unexpected \['ssn_number'\]",
    ),
    (
        "duplicate_header",
        lambda h, r: _csv([c if c != "fnlwgt" else "age" for c in h], _rows(r)),
        r"missing \['fnlwgt'\]; duplicated \['age'\]",
    ),
    (
        "header_cell_like_data",
        lambda h, r: _csv([c if c != "email" else f"{SECRET}@example.com" for c in h], _rows(r)),
        r"unexpected \[\] and 1 more whose names are not plain identifiers",
    ),
    (
        "short_row",
        lambda h, r: _csv(h, [*_rows(r)[:5], r[5][:-3], *_rows(r)[6:]]),
        r"data row 6 has 20 fields, fewer than the 23 of the header",
    ),
    (
        "long_row",
        lambda h, r: _csv(h, [*_rows(r)[:5], [*r[5], SECRET], *_rows(r)[6:]]),
        r"data row 6 has 24 fields, more than the 23",
    ),
    (
        "integer_overflow",
        lambda h, r: _csv(h, _set(_rows(r), 7, "age", "12345678901234567890", h)),
        r"column 'age' has 1 value\(s\) that are not within the 64-bit integer range \(first in data row 8\)",
    ),
    (
        "infinity_in_integer",
        lambda h, r: _csv(h, _set(_rows(r), 3, "capital_gain", "inf", h)),
        r"column 'capital_gain' has 1 value\(s\) that are not finite numbers",
    ),
    (
        "text_in_integer",
        lambda h, r: _csv(h, _set(_rows(r), 9, "hours_per_week", SECRET, h)),
        r"column 'hours_per_week' has 1 value\(s\) that are not numbers \(first in data row 10\)",
    ),
    (
        "fraction_in_integer",
        lambda h, r: _csv(h, _set(_rows(r), 2, "age", "41.5", h)),
        r"column 'age' has 1 value\(s\) that are not whole numbers",
    ),
    (
        "mixed_time_zone_offsets",
        lambda h, r: _csv(
            h,
            _set(
                _set(_rows(r), 0, "date_of_birth", "1980-05-01T10:00:00+05:00", h),
                1,
                "date_of_birth",
                "1981-06-01T10:00:00-03:00",
                h,
            ),
        ),
        r"column 'date_of_birth' mixes time-zone offsets",
    ),
    (
        "impossible_date",
        lambda h, r: _csv(h, _set(_rows(r), 4, "date_of_birth", "1980-13-45", h)),
        r"column 'date_of_birth' has 1 value\(s\) that are not ISO dates \(first in data row 5\)",
    ),
    (
        "latin1_encoding",
        lambda h, r: _csv(h, _set(_rows(r), 0, "full_name", "Zoë Müller", h)).decode().encode("latin-1"),
        r"not UTF-8 text \(undecodable byte at offset \d+\); save it as UTF-8",
    ),
    (
        "utf16_encoding",
        lambda h, r: _csv(h, _rows(r)).decode().encode("utf-16"),
        r"UTF-16 text; save it as UTF-8",
    ),
    (
        "nul_bytes",
        lambda h, r: _csv(h, _set(_rows(r), 0, "full_name", "Ann\x00Example", h)),
        r"contains NUL bytes: it is binary, not CSV text",
    ),
    (
        "unterminated_quote",
        lambda h, r: _csv(h, _rows(r)) + f'"{SECRET},1\n'.encode(),
        r"malformed CSV near record \d+: unexpected end of data",
    ),
    (
        "stray_quote",
        lambda h, r: _csv(h, _rows(r)).replace(b"\n", f'\n"{SECRET}"x,'.encode(), 1),
        r"malformed CSV near record 2: ',' expected after '\"'",
    ),
    (
        "binary_garbage",
        lambda h, r: random.Random(7).randbytes(256).replace(b"\x00", b"\x01") + b"\xff",
        r"not UTF-8 text",
    ),
]


@pytest.mark.parametrize(("case", "build", "expected"), CONTENT_CASES, ids=[c[0] for c in CONTENT_CASES])
def test_bad_file_is_quarantined_with_a_clear_reason(released, case, build, expected):
    before = released.snapshot()
    project = released.project
    path = project.landing / f"bad_{case}.csv"
    content = build(released.header, released.rows)
    path.write_bytes(content)

    result = released.ingest(str(path))

    assert not result.success
    text = project.run_text(result.run_id)
    assert f"Ingest of '{DATASET}' stopped: bad_{case}.csv: " in text
    (reason_file,) = project.quarantine.glob(f"*__bad_{case}.csv.reason.txt")
    reason = reason_file.read_text()
    assert re.search(expected, reason), reason
    assert not path.exists() and reason_file.with_name(reason_file.name[: -len(".reason.txt")]).exists()
    for where in (text, reason):
        assert SECRET not in where and "12345678901234567890" not in where
        assert len(identifiers_in(where, released.planted)) == 0, "a cell value was quoted (count only)"
    assert released.snapshot() == before  # release, ledger (length, head) and chain untouched


PATH_CASES = [
    ("the_warehouse", lambda p: str(p.settings.warehouse_path), r"points outside the landing folder"),
    ("relative_escape", lambda p: "../../../warehouse.duckdb", r"points outside the landing folder"),
    ("symlink_out", lambda p: "link.csv", r"link.csv: a symbolic link, not a file"),
    ("a_folder", lambda p: "folder.csv", r"folder.csv: not a regular file"),
    ("wrong_kind", lambda p: "notes.txt", r"notes.txt: the spec expects files matching \*\.csv"),
    ("missing", lambda p: "nowhere.csv", r"nowhere.csv: no such file in"),
]


@pytest.mark.parametrize(("case", "requested", "expected"), PATH_CASES, ids=[c[0] for c in PATH_CASES])
def test_landing_file_outside_the_landing_folder_is_refused_before_reading(
    released, case, requested, expected
):
    project = released.project
    dotenv = project.root / ".env"
    dotenv.write_text(f"SYNTH_PSEUDONYM_KEY={SECRET}\n")
    (project.landing / "link.csv").unlink(missing_ok=True)
    (project.landing / "link.csv").symlink_to(dotenv)
    (project.landing / "folder.csv").mkdir(exist_ok=True)
    (project.landing / "notes.txt").write_text(SECRET)
    quarantined = sorted(project.quarantine.glob("*")) if project.quarantine.exists() else []
    before = released.snapshot()

    result = released.ingest(requested(project))

    assert not result.success
    text = project.run_text(result.run_id)
    assert re.search(expected, text)
    assert SECRET not in text
    assert (
        project.settings.warehouse_path.exists()
        and dotenv.exists()
        and (project.landing / "notes.txt").exists()
    )
    after = sorted(project.quarantine.glob("*")) if project.quarantine.exists() else []
    if case == "symlink_out":  # the link itself is moved to quarantine; its target is never read
        assert "its target was not read" in text
        assert [p.readlink() for p in after if p.is_symlink() and p not in quarantined] == [dotenv]
    else:
        assert "Nothing was read or moved" in text
        assert after == quarantined
    assert released.snapshot() == before
