"""Ingest straight into the warehouse: DuckDB's reader types the file, pandas never holds the table.

The typed values in raw.<ds> must be the ones the earlier pandas ingest produced. `_pandas_reference`
below is that ingest's typing (the csv module's cells, then pandas' to_numeric / to_datetime), kept
here as the yardstick: each shape (integers with gaps and beyond 2**53, floats written every way,
dates as plain days, timestamps or one offset throughout, unicode and padded text, empty strings,
booleans, a table without a key) is typed both ways and compared cell by cell, with its column
types. Refusals still name a row and a column, never a value, and DuckDB's own error text (which
quotes the offending line) never reaches a message.
"""

from __future__ import annotations

import csv
import io
import warnings

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage import ingest
from synth_platform.lib.storage.warehouse import SqlQuery, connect, replacing_tables
from synth_platform.lib.synthesize import split

SECRET = "SECRET-CELL-5521"


def _spec(columns: dict[str, str], key: str | None = None, **source) -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "name": "shapes",
            "source": {"landing_dir": "x", "min_rows": 1, **source},
            "key": key,
            "columns": {c: {"type": t} for c, t in columns.items()},
        }
    )


# --- the earlier pandas typing, as the yardstick ------------------------------------------------


def _reference_number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.astype("string").str.strip(), errors="coerce").astype("float64")


def _reference_integer(values: pd.Series) -> pd.Series:
    numbers = _reference_number(values)
    big = values.notna() & (numbers.abs() >= 2.0**53)
    out = numbers.where(~big, 0.0).astype("Int64")
    for i, v in values[big].items():
        text = str(v).strip()
        try:
            out[i] = int(text)
        except ValueError:
            out[i] = int(float(text))
    return out


def _reference_dates(values: pd.Series) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dates = pd.to_datetime(values, errors="coerce", format="ISO8601")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    return dates.dt.normalize()


_TRUTH = dict.fromkeys(("true", "t", "yes", "y", "1"), True) | dict.fromkeys(
    ("false", "f", "no", "n", "0"), False
)


def _pandas_reference(text: str, spec: DatasetSpec) -> pd.DataFrame:
    """The earlier ingest's frame for a valid CSV: csv-module cells, '' as missing, then typed."""
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    frame = pd.DataFrame(rows[1:], columns=[h.strip() for h in rows[0]], dtype=object)
    frame = frame.where(frame != "", None)
    out = {}
    for column, column_spec in spec.columns.items():
        values, kind = frame[column], column_spec.type
        if kind == "integer":
            out[column] = _reference_integer(values)
        elif kind == "float":
            out[column] = _reference_number(values)
        elif kind == "date":
            out[column] = _reference_dates(values)
        elif kind == "boolean":
            lowered = values.astype("string").str.strip().str.lower()
            out[column] = lowered.map(lambda v: _TRUTH.get(v) if isinstance(v, str) else None).astype(
                "boolean"
            )
        else:
            out[column] = values.astype("string").str.strip().replace("", pd.NA).astype(object)
    return pd.DataFrame(out)


# --- both ways into a warehouse -----------------------------------------------------------------


def _both_ways(tmp_path, text: str, spec: DatasetSpec) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """(new raw table, earlier raw table, new column types, earlier column types), read back."""
    path = tmp_path / "shapes.csv"
    path.write_text(text, encoding="utf-8")
    checked = ingest.check_landing_file(path, spec)
    reference = _pandas_reference(text, spec)
    with connect(tmp_path / "w.duckdb") as con:
        checked.register_lookups(con)
        with replacing_tables(con, {("raw", "new"): SqlQuery(checked.select_sql), ("raw", "old"): reference}):
            pass
        new = con.execute("SELECT * FROM raw.new").df()
        old = con.execute("SELECT * FROM raw.old").df()
        types = {
            t: dict(
                con.execute(
                    f"SELECT column_name, data_type FROM information_schema.columns "
                    f"WHERE table_schema = 'raw' AND table_name = '{t}'"
                ).fetchall()
            )
            for t in ("new", "old")
        }
    return new, old, types["new"], types["old"]


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


SHAPES = {
    "integers_with_gaps_and_big_ones": (
        {"id": "integer", "n": "integer", "m": "integer"},
        "id",
        [
            [str(i), n, m]
            for i, (n, m) in enumerate(
                [
                    ("1", ""),
                    ("", "-7"),
                    (" 42 ", "+3"),
                    ("1e3", "45.0"),
                    ("9007199254740993", "-0"),
                    ("9223372036854775807", "-9223372036854775808"),
                    ("1.5e16", "00012"),
                    ("", ""),
                ]
            )
        ],
    ),
    "floats_written_every_way": (
        {"x": "float", "y": "float"},
        None,
        [[repr(v), f"{v:.17g}"] for v in np.random.default_rng(3).normal(0, 1e6, 300)]
        + [
            ["", "1e-300"],
            [".5", "5."],
            ["+1E+3", " 2.5 "],
            ["-0.0", "2.2250738585072014e-308"],
            ["0.1", "1e308"],
        ],
    ),
    "dates_plain_and_timestamps": (
        {"k": "string", "d": "date", "t": "date"},
        "k",
        [
            [f"k{i}", d, t]
            for i, (d, t) in enumerate(
                [
                    ("1980-05-01", "1980-05-01T10:00:00"),
                    ("", "1999-12-31 23:59:59.999"),
                    ("2262-04-11", "19800501"),
                    ("1677-09-22", "1980-05"),
                    ("2000-02-29", ""),
                ]
            )
        ],
    ),
    "one_offset_throughout": (
        {"d": "date"},
        None,
        [["1980-05-01T23:30:00+05:00"], ["1981-06-01T01:00:00+05:00"], [""]],
    ),
    "unicode_padded_and_empty_strings": (
        {"name": "string", "city": "category", "note": "string", "empty": "string"},
        None,
        [
            ["Zoë Müller", "Zürich", "  padded  ", ""],
            ["\u00a0nbsp\u3000", "東京", "\ttab\t", ""],
            ["", "", "line\nbreak", ""],
            ["Ærø", "\u2003", "  ", ""],
            ["o'brien", 'say "hi"', ",comma,", ""],
        ],
    ),
    "booleans_without_a_key": (
        {"flag": "boolean", "other": "boolean"},
        None,
        [["true", " Yes "], ["F", "0"], ["", "n"], ["1", "TRUE"]],
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_typed_values_in_raw_are_the_pandas_ingests(tmp_path, shape):
    columns, key, rows = SHAPES[shape]
    spec = _spec(columns, key)
    new, old, new_types, old_types = _both_ways(tmp_path, _csv_text(list(columns), rows), spec)
    assert list(new.columns) == list(columns)
    pd.testing.assert_frame_equal(new, old, check_dtype=False)
    for column in columns:
        assert new[column].isna().tolist() == old[column].isna().tolist(), column
        if old_types[column] != '"NULL"':  # an all-empty column: pandas left it untyped, now VARCHAR
            assert new_types[column] == old_types[column], column


def test_people_are_counted_in_sql_as_the_split_counts_them(tmp_path):
    spec = _spec({"k": "string", "v": "integer"}, "k")
    keys = ["a", "a", " a ", "b", "", "", "c"]  # ' a ' is 'a' once stripped; empty keys are a person each
    path = tmp_path / "people.csv"
    path.write_text(_csv_text(["k", "v"], [[k, str(i)] for i, k in enumerate(keys)]))
    checked = ingest.check_landing_file(path, spec)
    frame = ingest.read_landing_file(path, spec)
    assert (checked.rows, checked.people) == (7, split.count_people(frame, "k")) == (7, 5)
    keyless = _spec({"k": "string", "v": "integer"}, None)
    assert ingest.check_landing_file(path, keyless).people == 7


def test_a_bad_value_late_in_a_large_file_is_reported_by_row_and_column_only(tmp_path):
    """Row numbers follow the file (DuckDB reads in parallel): blank lines are not data rows."""
    spec = _spec({"id": "integer", "name": "string", "born": "date"}, "id")
    rows = [[str(i), f"Person {i}", "1980-05-01"] for i in range(30_000)]
    rows[23_456][0] = SECRET
    text = _csv_text(["id", "name", "born"], rows).replace("\n", "\n\n", 5)
    path = tmp_path / "late.csv"
    path.write_text(text)
    with pytest.raises(ingest.IngestError) as error:
        ingest.check_landing_file(path, spec)
    assert str(error.value) == (
        "late.csv: column 'id' has 1 value(s) that are not numbers (first in data row 23457)"
    )
    rows[23_456][0], rows[29_000][2] = "23456", "1980-02-30"
    path.write_text(_csv_text(["id", "name", "born"], rows))
    with pytest.raises(
        ingest.IngestError, match=r"column 'born' .* not ISO dates \(first in data row 29001\)"
    ):
        ingest.check_landing_file(path, spec)


def test_duckdbs_own_error_text_never_reaches_the_message(tmp_path):
    """A refusal the csv module does not share (a lone carriage return) gets a general message:
    DuckDB's would quote the line, cells and all."""
    path = tmp_path / "odd.csv"
    path.write_bytes(f"a,b\n1,2\n{SECRET},4\r5,6\n".encode())
    with pytest.raises(ingest.IngestError, match="malformed CSV") as error:
        ingest.check_landing_file(path, _spec({"a": "string", "b": "string"}))
    assert SECRET not in str(error.value) and "Original Line" not in str(error.value)


def test_parquet_goes_through_the_same_typing(tmp_path):
    spec = _spec({"id": "integer", "x": "float", "d": "date", "s": "string"}, "id", format="parquet")
    table = pa.table(
        {
            "id": pa.array([1, None, 9007199254740993], pa.int64()),
            "x": pa.array([0.1, None, -2.5]),
            "d": pa.array([pd.Timestamp("1980-05-01").date(), None, pd.Timestamp("2001-01-31").date()]),
            "s": pa.array([" padded ", "", None]),
        }
    )
    path = tmp_path / "shapes.parquet"
    pq.write_table(table, path)
    frame = ingest.read_landing_file(path, spec)
    assert frame["id"].tolist()[0] == 1 and frame["id"].tolist()[2] == 9007199254740993
    assert frame["id"].isna().tolist() == [False, True, False]
    assert frame["x"].tolist()[0] == 0.1 and np.isnan(frame["x"].tolist()[1])
    assert list(frame["d"].dt.strftime("%Y-%m-%d").fillna("")) == ["1980-05-01", "", "2001-01-31"]
    assert frame["s"].tolist()[0] == "padded" and frame["s"].isna().tolist() == [False, True, True]


def test_a_file_replaced_after_its_check_is_noticed(tmp_path):
    spec = _spec({"a": "integer"})
    path = tmp_path / "swap.csv"
    path.write_text("a\n1\n2\n")
    checked = ingest.check_landing_file(path, spec)
    assert checked.unchanged()
    path.write_text(f"a\n1\n{SECRET}\n3\n")
    assert not checked.unchanged()


def test_the_typed_select_runs_in_the_warehouse_without_pandas(tmp_path, monkeypatch):
    """The chain's write: SqlQuery over DuckDB's reader; no frame is built for the table."""
    spec = _spec({"id": "integer", "name": "string"}, "id")
    path = tmp_path / "people.csv"
    path.write_text(_csv_text(["id", "name"], [[str(i), f"P{i}"] for i in range(50)]))
    checked = ingest.check_landing_file(path, spec)

    def _no_frame(*args, **kwargs):
        raise AssertionError("a frame was built for the raw table")

    monkeypatch.setattr(duckdb.DuckDBPyConnection, "register", _no_frame)
    with connect(tmp_path / "w.duckdb") as con:
        with replacing_tables(con, {("raw", "people"): SqlQuery(checked.select_sql)}):
            pass
        assert con.execute("SELECT count(*), sum(id) FROM raw.people").fetchone() == (50, sum(range(50)))


# --- discovery on the warehouse table -------------------------------------------------------------


def _people_table(rows: int, seed: int = 5) -> pd.DataFrame:
    """A table unlike the demo: other names, a date, NULLs, unicode, an opaque identifier column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "ref": [f"R{i:07d}" for i in rng.permutation(rows)],
            "contact": [f"user{i}@example.org" if i % 7 else None for i in range(rows)],
            "postcode": [f"{rng.integers(10000, 99999)}" for _ in range(rows)],
            "born": pd.to_datetime("1950-01-01") + pd.to_timedelta(rng.integers(0, 20000, rows), unit="D"),
            "stadt": rng.choice(["Zürich", "Genève", "Köln", ""], rows),
            "gender": rng.choice(["F", "M", None], rows),
            "score": rng.normal(50, 10, rows).round(2),
        }
    )


def _warehouse_with(tmp_path, frame: pd.DataFrame):
    db = tmp_path / "w.duckdb"
    with connect(db) as con, replacing_tables(con, {("raw", "people"): frame}):
        pass
    return db


def test_discovery_on_a_table_smaller_than_the_sample_is_exactly_the_frames(tmp_path):
    from synth_platform.lib.pii import discovery

    frame = _people_table(3000)
    db = _warehouse_with(tmp_path, frame)
    hints = {"score": ("other", None)}
    with connect(db, read_only=True) as con:
        findings, sample = discovery.discover_table(con, "raw", "people", hints=hints)
        risk = discovery.quasi_identifier_risk_table(
            con, "raw", "people", findings, {"postcode": "zip3", "born": "year"}
        )
    back = pd.DataFrame(frame)
    assert len(sample) == 3000
    assert findings == discovery.discover(back, hints=hints)
    assert risk == discovery.quasi_identifier_risk(back, findings, {"postcode": "zip3", "born": "year"})
    assert risk.columns and 0 < risk.below_k5_share <= 1


def test_discovery_on_a_larger_table_samples_in_sql_and_counts_the_whole_table(tmp_path):
    from synth_platform.lib.pii import discovery

    frame = _people_table(30_000)
    db = _warehouse_with(tmp_path, frame)
    with connect(db, read_only=True) as con:
        first, sample = discovery.discover_table(con, "raw", "people", sample_rows=5000, seed=3)
        again, _ = discovery.discover_table(con, "raw", "people", sample_rows=5000, seed=3)
        risk = discovery.quasi_identifier_risk_table(con, "raw", "people", first)
    assert first == again and len(sample) == 5000  # seeded: the same sample, the same findings
    found = {f.column: f for f in first}
    assert found["contact"].null_share == round(frame["contact"].isna().mean(), 4)  # whole table
    assert found["ref"].uniqueness == 1.0 and found["ref"].pii_class == "direct_identifier"
    assert found["gender"].uniqueness == round(2 / frame["gender"].notna().sum(), 4)
    assert "unique in 30,000 rows" in found["ref"].evidence
    assert risk == discovery.quasi_identifier_risk(frame, first)  # the GROUP BY covers every row
