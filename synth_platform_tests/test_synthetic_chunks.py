"""The synthetic table is sampled, refilled and written in chunks, yet reads as one table.

What a user checks: unique identifiers are unique across the WHOLE table (not per chunk), the
same model and seed give the same table, the chunked writer replaces the table atomically (a
refused lease or a failing chunk leaves the previous table), and the release copies exactly the
table the gate hashed. Small chunks here, on shapes unlike the demo's.
"""

from __future__ import annotations

from pathlib import Path

import cloudpickle
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.deidentify.refill import SourceShape, restore_source_shape
from synth_platform.lib.governance import ledger, release
from synth_platform.lib.storage import warehouse
from synth_platform.lib.synthesize import synthesis, synthetic_table
from synth_platform_tests.conftest import typed_spec

KEY = "k" * 64


def _spec_and_plan():
    """No sex column, a whole-number key, unicode names, narrow id patterns (a small space, so
    chunks drawn independently WOULD repeat ids: about 200 pairs over 20,000 rows)."""
    spec = typed_spec(
        {
            "Kundennummer": "integer",
            "nº dossier": "string",
            "e-mail": "string",
            "sécu": "string",
            "carte": "string",
            "région": "category",
            "score": "float",
        },
        key="Kundennummer",
    )
    plan = [
        ColumnTreatment("Kundennummer", "direct_identifier", "customer_id", "pseudonymize", format="-######"),
        ColumnTreatment("nº dossier", "direct_identifier", "record_id", "drop", format="Dos-######"),
        ColumnTreatment("e-mail", "direct_identifier", "email", "drop"),
        ColumnTreatment("sécu", "direct_identifier", "ssn", "drop"),
        ColumnTreatment("carte", "direct_identifier", "credit_card", "drop"),
        ColumnTreatment("région", "quasi_identifier", "region", "keep"),
        ColumnTreatment("score", "other", None, "keep"),
    ]
    return spec, plan


def _sampled(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(np.array(["Île-de-France", "Zürich", "", None], dtype=object), n)
    score = np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))
    return pd.DataFrame({"région": region, "score": score})


def _chunked(spec, plan, sizes: list[int], seed: int = 7) -> pd.DataFrame:
    shape = SourceShape(spec, plan, seed, sum(sizes))
    return pd.concat([shape.chunk(_sampled(n, i)) for i, n in enumerate(sizes)], ignore_index=True)


def test_unique_identifiers_stay_unique_across_all_chunks():
    spec, plan = _spec_and_plan()
    table = _chunked(spec, plan, [1000] * 20)
    assert len(table) == 20_000
    for column in ("Kundennummer", "nº dossier", "e-mail", "sécu", "carte"):
        assert table[column].is_unique, column
        assert table[column].notna().all(), column
    assert (table["Kundennummer"] < 0).all()
    assert table["nº dossier"].str.fullmatch(r"Dos-\d{6,}").all()
    assert table["sécu"].str.fullmatch(r"\d{3}-00-\d{4}").all()
    # the chunks really are different draws, not one chunk repeated
    assert (
        not table["score"]
        .iloc[:1000]
        .reset_index(drop=True)
        .equals(table["score"].iloc[1000:2000].reset_index(drop=True))
    )


def test_the_same_seed_and_chunks_give_the_same_table_and_one_chunk_is_the_whole_frame_refill():
    spec, plan = _spec_and_plan()
    pd.testing.assert_frame_equal(_chunked(spec, plan, [300, 300, 57]), _chunked(spec, plan, [300, 300, 57]))
    assert not _chunked(spec, plan, [300, 300], seed=8)["carte"].equals(
        _chunked(spec, plan, [300, 300])["carte"]
    )
    sampled = _sampled(500, 0)
    pd.testing.assert_frame_equal(
        restore_source_shape(sampled, spec, plan, seed=7), SourceShape(spec, plan, 7, 500).chunk(sampled)
    )


def test_a_chunked_table_keeps_the_whole_table_pattern_width():
    """A narrow id pattern is widened for the table's rows, the same in every chunk."""
    spec = typed_spec({"id": "string", "x": "float"})
    plan = [
        ColumnTreatment("id", "direct_identifier", "record_id", "drop", format="R######"),
        ColumnTreatment("x", "other", None, "keep"),
    ]
    shape = SourceShape(spec, plan, 1, 300_000)  # 9e5 ids < 4 x 300,000 rows: wider for every chunk
    ids = pd.concat([shape.chunk(pd.DataFrame({"x": np.zeros(n)}))["id"] for n in (100, 100)])
    assert ids.str.fullmatch(r"R\d{7,}").all() and ids.str.len().nunique() == 1


class _CountingModel:
    """A stand-in synthesizer: draws from numpy's global state, as SDV models do."""

    def sample(self, rows: int) -> pd.DataFrame:
        return pd.DataFrame({"région": np.random.choice(["a", "b"], rows), "score": np.random.random(rows)})

    def save(self, path: str) -> None:
        Path(path).write_bytes(cloudpickle.dumps(self))


def _model(tmp_path):
    path, digest = synthesis.save_model(_CountingModel(), tmp_path / "models", KEY)
    return synthesis.FittedModel(path, digest, "toy", {}, 0.0, 10, ["région", "score"], "h")


def test_sampling_in_chunks_is_deterministic_and_the_first_chunk_is_load_and_sample(tmp_path):
    model = _model(tmp_path)
    chunks = list(synthesis.sample_chunks(model, 250, seed=3, key=KEY, chunk_rows=100))
    assert [len(c) for c in chunks] == [100, 100, 50]
    again = list(synthesis.sample_chunks(model, 250, seed=3, key=KEY, chunk_rows=100))
    for a, b in zip(chunks, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert not chunks[0]["score"].equals(chunks[1]["score"])
    pd.testing.assert_frame_equal(synthesis.load_and_sample(model, 100, seed=3, key=KEY), chunks[0])
    assert [len(c) for c in synthesis.sample_chunks(model, 0, seed=3, key=KEY, chunk_rows=100)] == [0]


def _frames(spec, plan, sizes):
    shape = SourceShape(spec, plan, 5, sum(sizes))
    for i, n in enumerate(sizes):
        yield shape.chunk(_sampled(n, i))


def test_the_chunked_writer_replaces_the_table_in_one_transaction(tmp_path):
    spec, plan = _spec_and_plan()
    db = tmp_path / "wh" / "warehouse.duckdb"
    rows = synthetic_table.write_chunks(db, "synthetic", "t", _frames(spec, plan, [40, 40, 7]))
    assert rows == 87
    with warehouse.connect(db, read_only=True) as con:
        written = con.execute('SELECT * FROM synthetic."t"').df()
    pd.testing.assert_frame_equal(
        written, pd.concat(list(_frames(spec, plan, [40, 40, 7])), ignore_index=True), check_dtype=False
    )
    assert _tables(db) == ["t"], "the staging table became the table"

    def refused(con):
        raise RuntimeError("lease held by another run")

    with pytest.raises(RuntimeError, match="lease held"):
        synthetic_table.write_chunks(db, "synthetic", "t", _frames(spec, plan, [5]), guard=refused)

    def failing():
        yield from _frames(spec, plan, [5])
        raise ValueError("chunk 2 failed")

    with pytest.raises(ValueError, match="chunk 2"):
        synthetic_table.write_chunks(db, "synthetic", "t", failing())
    with warehouse.connect(db, read_only=True) as con:
        assert con.execute('SELECT count(*) FROM synthetic."t"').fetchone()[0] == 87  # untouched
    assert _tables(db) == ["t"], "a failed write drops its staging table"


def _tables(db) -> list[str]:
    with warehouse.connect(db, read_only=True) as con:
        rows = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'synthetic' ORDER BY 1"
        ).fetchall()
    return [r[0] for r in rows]


def test_a_staging_table_left_by_a_crashed_write_goes_with_the_next_swap(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    with warehouse.connect(db) as con:
        con.execute("CREATE SCHEMA synthetic")
        con.execute(f'CREATE TABLE synthetic."{synthetic_table.staging_name("t", "dead")}" AS SELECT 1 AS x')
    synthetic_table.write_chunks(db, "synthetic", "t", iter([pd.DataFrame({"x": [2, 3]})]))
    assert _tables(db) == ["t"]


@pytest.mark.parametrize("as_arrow", [False, True], ids=["frames", "arrow"])
def test_a_column_empty_in_the_first_chunk_still_takes_later_text(tmp_path, as_arrow):
    """Also when the chunks are the Arrow tables of the frames (chunks refilled by workers): the
    empty column arrives as Arrow's null type and still becomes text, the whole numbers BIGINT."""
    db = tmp_path / "warehouse.duckdb"
    chunks = [
        pd.DataFrame({"note": [None, None], "n": pd.array([1, None], dtype="Int64")}),
        pd.DataFrame({"note": ["été", ""], "n": pd.array([3, 4], dtype="Int64")}),
    ]
    if as_arrow:
        chunks = [pa.Table.from_pandas(chunk, preserve_index=False) for chunk in chunks]
    assert synthetic_table.write_chunks(db, "synthetic", "odd", iter(chunks)) == 4
    with warehouse.connect(db, read_only=True) as con:
        assert con.execute('SELECT note, n FROM synthetic."odd" ORDER BY n NULLS FIRST').fetchall() == [
            (None, None),
            (None, 1),
            ("été", 3),
            ("", 4),
        ]
        types = dict(
            con.execute('SELECT column_name, column_type FROM (DESCRIBE synthetic."odd")').fetchall()
        )
        assert types == {"note": "VARCHAR", "n": "BIGINT"}


def _entry(run_id):
    return ledger.LedgerEntry(
        run_id=run_id,
        dataset="ds",
        event="released",
        source_hash="src",
        train_data_hash="train",
        synthesizer="toy",
        parameters={},
        code_version="test",
        decision="released",
    )


def test_the_release_copies_the_table_the_gate_hashed_inside_duckdb():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA synthetic")
    con.execute(
        "CREATE TABLE synthetic.ds AS SELECT i AS n, 'v' || i AS s, NULL::DATE AS d FROM range(50) r(i)"
    )
    digest = release.table_sha256(con, "synthetic", "ds")
    assert digest.startswith(release.TABLE_HASH_PREFIX)
    con.execute("CREATE TABLE synthetic.shuffled AS SELECT * FROM synthetic.ds ORDER BY n DESC")
    assert release.table_sha256(con, "synthetic", "shuffled") == digest  # same rows, other order
    release.record_verdict(con, release.Assessment("run-a", "ds", True, [], {}, digest, "m1"))
    con.execute("UPDATE synthetic.ds SET s = 'changed' WHERE n = 49")  # another writer
    with pytest.raises(release.ChangedSinceAssessedError, match="not the table the gate judged"):
        release.publish_assessed_table(con, "ds", "run-a", "m1", lambda a: _entry("run-a"))
    con.execute("UPDATE synthetic.ds SET s = 'v49' WHERE n = 49")
    row, assessment = release.publish_assessed_table(con, "ds", "run-a", "m1", lambda a: _entry("run-a"))
    assert row["event"] == "released" and assessment.synthetic_sha256 == digest
    assert release.table_sha256(con, "release", "ds") == digest
    assert con.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'ds' "
        "AND table_schema = 'release' AND column_name = 'd'"
    ).fetchone() == ("DATE",)
