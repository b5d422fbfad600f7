"""The release certificate's pictures counted inside DuckDB (`certificate.read_counts` and
`counted_picture`) are the pictures the table read into pandas gave (`column_picture`): the same
bars in the same order (ties included), histograms, null counts, row count and column types."""

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from synth_platform.defs.release_certificate import _year
from synth_platform.lib.governance import certificate


def _table(n: int, seed: int) -> pd.DataFrame:
    """Varied columns: many tied categories, numbers with missing values and NaN, booleans,
    integers read as categories, dates of several kinds, an all-missing column."""
    rng = np.random.default_rng(seed)

    def gaps(values, share=0.1):
        values = pd.Series(values, dtype=object)
        values[rng.random(n) < share] = None
        return values

    return pd.DataFrame(
        {
            "zip": [f"{v:05d}" for v in rng.integers(0, max(n // 3, 1), n)],  # many ties of 1, 2, 3
            "city": gaps(rng.choice([f"c{i}" for i in range(30)], n)),
            "sex": rng.choice(["Female", "Male"], n),
            "age": rng.integers(17, 91, n),
            "hours": pd.array(gaps(rng.integers(1, 99, n)), dtype="Int64"),
            "score": np.where(rng.random(n) < 0.05, np.nan, rng.normal(0, 1, n)),
            "level": rng.choice([0.0, -0.0, 0.5, 1.0], n),  # a float column with declared categories
            "flag": rng.random(n) < 0.3,
            "flag_gaps": pd.array(gaps(rng.random(n) < 0.3), dtype="boolean"),
            "grade": rng.integers(0, 20, n),  # an integer column with declared categories
            "born": pd.to_datetime(gaps(rng.integers(-20_000, 15_000, n).astype("datetime64[D]"))),
            "day": gaps(
                [dt.date(1950, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 20_000, n)]
            ),
            "day_text": gaps([f"19{d:02d}-0{1 + d % 9}-1{d % 9}" for d in rng.integers(0, 100, n)]),
            "nothing": pd.Series([None] * n, dtype=object),
            "customer_id": [f"SYN-{i:08d}" for i in range(n)],  # not pictured
        }
    )


DECLARED = {
    "sex": {"categories": ["Female", "Male", "Other"]},
    "age": {"bounds": (17, 90)},
    "grade": {"categories": list(range(15))},  # more than MAX_BARS, and not every value declared
    "hours": {"categories": [1, 2, 3]},
    "level": {"categories": ["0.0", "-0.0", "0.5"]},
}
DATES = ("born", "day", "day_text")


def _old_pictures(con, pictured: list[str]) -> tuple[int, dict, dict]:
    """What the release stage did before: each pictured column read into pandas through Arrow
    (text as a categorical), dates as their years, `column_picture` of each."""
    frame = pd.DataFrame(
        {
            name: con.sql(f'SELECT "{name}" FROM release.t')
            .to_arrow_table()
            .to_pandas(strings_to_categorical=True)[name]
            for name in pictured
        }
    )
    dtypes = {name: str(frame[name].dtype) for name in pictured}
    for name in DATES:
        frame[name] = pd.to_datetime(frame[name], errors="coerce").dt.year.astype("Int64")
    return len(frame), dtypes, {c: certificate.column_picture(frame[c], DECLARED.get(c)) for c in pictured}


@pytest.mark.parametrize(("rows", "seed"), [(0, 0), (1, 1), (40, 2), (3_000, 3), (20_000, 4)])
def test_counted_pictures_are_the_pictures_of_the_table_read_into_pandas(rows, seed):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA release")
    frame = _table(rows, seed)
    con.register("frame", frame)
    con.execute("CREATE TABLE release.t AS SELECT * FROM frame")
    con.execute("ALTER TABLE release.t ALTER day TYPE DATE")
    pictured = [c for c in frame.columns if c != "customer_id"]

    counts = certificate.read_counts(con, "release", "t", pictured)
    for name in DATES:
        counts = counts.replace(name, counts.columns[name].map(_year))
    new = {c: certificate.counted_picture(counts.columns[c], DECLARED.get(c)) for c in pictured}
    old_rows, old_dtypes, old = _old_pictures(con, pictured)

    assert counts.rows == old_rows == rows
    assert {c: counts.dtypes[c] for c in pictured} == old_dtypes
    assert counts.dtypes["customer_id"] == "category"  # listed, never read
    assert "customer_id" not in counts.columns
    for name in pictured:
        assert new[name] == old[name], name


def test_build_from_counts_matches_build_from_the_frame():
    """`certificate.build` gives the same content whether it is handed the table or its counts."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA release")
    frame = _table(2_000, 7)[["zip", "sex", "age", "score"]]
    con.register("frame", frame)
    con.execute("CREATE TABLE release.t AS SELECT * FROM frame")
    read = con.sql("SELECT * FROM release.t").to_arrow_table().to_pandas(strings_to_categorical=True)
    common = dict(
        dataset="d",
        run_id="r",
        decision="released",
        synthesizer="dp_mst",
        parameters={},
        differentially_private=True,
        spend={},
        cumulative={},
        digests={},
        gate=[],
        declared_domains=DECLARED,
        column_types={"zip": "string"},
        pictured=["zip", "sex", "age", "score"],
        issued_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    counts = certificate.read_counts(con, "release", "t", common["pictured"])
    assert certificate.build(synthetic=counts, **common) == certificate.build(synthetic=read, **common)
