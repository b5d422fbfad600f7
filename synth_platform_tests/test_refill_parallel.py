"""Refilling a table's chunks in several worker processes gives the very same table as one process.

What a user checks: with a fixed seed, 1 worker and 2 workers write identical tables (values,
types, column order, the refill report), unique identifiers stay unique across the whole table
even where chunks drawn apart repeat each other (a narrow id space forces redraws), every fake
stays in its reserved space, and the worker count comes from SYNTH_REFILL_WORKERS or the cores.
Small chunks, on a shape unlike the demo's (no key called customer_id, unicode names and values,
NULLs, a whole-number key, a generalised ZIP).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.deidentify.refill import SourceShape, reserved_space_regex
from synth_platform.lib.deidentify.refill.parallel import WORKERS_ENV, refill_workers
from synth_platform.lib.governance import release
from synth_platform.lib.storage import warehouse
from synth_platform.lib.synthesize import synthetic_table
from synth_platform_tests.conftest import typed_spec

SIZES = [4000, 4000, 3000, 1500]


def _spec_and_plan():
    spec = typed_spec(
        {
            "Kundennummer": "integer",
            "Aktenzeichen": "string",
            "Name": "string",
            "Postfach": "string",
            "Steuer-ID": "string",
            "PLZ": "string",
            "Geschlecht": "category",
            "Betrag": "float",
        },
        key="Kundennummer",
    )
    plan = [
        ColumnTreatment("Kundennummer", "direct_identifier", "customer_id", "pseudonymize", format="-######"),
        # 900,000 ids for 12,500 rows: chunks drawn apart repeat ids, so the parent must redraw
        ColumnTreatment("Aktenzeichen", "direct_identifier", "record_id", "drop", format="AZ/######"),
        ColumnTreatment("Name", "direct_identifier", "full_name", "drop", format="Family, Given"),
        ColumnTreatment("Postfach", "direct_identifier", "email", "drop"),
        ColumnTreatment("Steuer-ID", "direct_identifier", "ssn", "drop", format="#########"),
        ColumnTreatment("PLZ", "quasi_identifier", "zip", "generalize", generalize="zip3"),
        ColumnTreatment("Geschlecht", "quasi_identifier", "sex", "keep"),
        ColumnTreatment("Betrag", "other", None, "keep"),
    ]
    return spec, plan


def _sampled(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "PLZ": rng.choice(np.array(["104", "803", None], dtype=object), n),
            "Geschlecht": rng.choice(np.array(["weiblich", "männlich", None], dtype=object), n),
            "Betrag": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        }
    )


def _table(workers: int) -> tuple[pd.DataFrame, dict]:
    spec, plan = _spec_and_plan()
    shape = SourceShape(spec, plan, 11, sum(SIZES))
    sampled = (_sampled(n, i) for i, n in enumerate(SIZES))
    frames = list(shape.chunks(sampled, workers=workers))
    return pd.concat(frames, ignore_index=True), shape.report


@pytest.fixture(scope="module")
def one_and_two() -> tuple[tuple[pd.DataFrame, dict], tuple[pd.DataFrame, dict]]:
    return _table(1), _table(2)


def test_one_and_two_workers_write_the_same_table(one_and_two):
    (one, one_report), (two, two_report) = one_and_two
    pd.testing.assert_frame_equal(one, two)
    assert one_report == two_report
    assert len(one) == sum(SIZES)
    assert str(one["Kundennummer"].dtype) == "Int64"


def test_one_and_two_workers_write_the_same_warehouse_table(one_and_two, tmp_path):
    (one, _r1), (two, _r2) = one_and_two
    db = tmp_path / "w.duckdb"
    synthetic_table.write_chunks(db, "synthetic", "eins", iter([one]))
    synthetic_table.write_chunks(db, "synthetic", "zwei", iter([two]))
    with warehouse.connect(db, read_only=True) as con:
        first = release.table_sha256(con, "synthetic", "eins")
        assert first == release.table_sha256(con, "synthetic", "zwei")
        difference = 'SELECT * FROM synthetic."eins" EXCEPT ALL SELECT * FROM synthetic."zwei"'
        assert con.execute(difference).fetchall() == []


def test_chunks_kept_as_arrow_write_the_same_warehouse_table(one_and_two, tmp_path):
    """The synthetic stage's path: chunks come back from the workers as Arrow tables (redraws of
    repeated ids applied to them) and go to DuckDB as they are."""
    (one, one_report), _two = one_and_two
    spec, plan = _spec_and_plan()
    shape = SourceShape(spec, plan, 11, sum(SIZES))
    chunks = list(shape.chunks((_sampled(n, i) for i, n in enumerate(SIZES)), workers=2, arrow=True))
    assert all(isinstance(chunk, pa.Table) for chunk in chunks)
    assert shape.report == one_report
    as_frames = pd.concat([chunk.to_pandas() for chunk in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(as_frames, one)  # the same values and pandas types
    db = tmp_path / "w.duckdb"
    assert synthetic_table.write_chunks(db, "synthetic", "pfeil", iter(chunks)) == len(one)
    synthetic_table.write_chunks(db, "synthetic", "eins", iter([one]))
    with warehouse.connect(db, read_only=True) as con:
        assert release.table_sha256(con, "synthetic", "pfeil") == release.table_sha256(
            con, "synthetic", "eins"
        )
        difference = 'SELECT * FROM synthetic."pfeil" EXCEPT ALL SELECT * FROM synthetic."eins"'
        assert con.execute(difference).fetchall() == []


def test_one_worker_is_the_chunk_by_chunk_refill(one_and_two):
    (one, _report), _two = one_and_two
    spec, plan = _spec_and_plan()
    shape = SourceShape(spec, plan, 11, sum(SIZES))
    by_chunk = pd.concat([shape.chunk(_sampled(n, i)) for i, n in enumerate(SIZES)], ignore_index=True)
    pd.testing.assert_frame_equal(one, by_chunk)


def test_unique_identifiers_stay_unique_and_reserved_across_workers(one_and_two):
    _one, (two, _report) = one_and_two
    for column in ("Kundennummer", "Aktenzeichen", "Postfach", "Steuer-ID"):
        assert two[column].is_unique, column
    for column, detected, fmt, column_type in (
        ("Aktenzeichen", "record_id", "AZ/######", "string"),
        ("Steuer-ID", "ssn", "#########", "string"),
        ("Postfach", "email", None, "string"),
    ):
        pattern = re.compile(reserved_space_regex(detected, fmt, column_type))
        assert all(pattern.fullmatch(str(v)) for v in two[column]), column
    assert (two["Kundennummer"] < 0).all()
    assert two["PLZ"].dropna().str.fullmatch(r"(104|803)\d\d").all()


def test_the_worker_count_comes_from_the_environment_or_the_cores(monkeypatch):
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert refill_workers() == 3
    monkeypatch.setenv(WORKERS_ENV, "0")
    assert refill_workers() == 1  # no worker processes: refilled in this process
    monkeypatch.delenv(WORKERS_ENV)
    assert refill_workers() >= 1
    monkeypatch.setenv(WORKERS_ENV, "two")
    with pytest.raises(ValueError, match=WORKERS_ENV):
        refill_workers()
