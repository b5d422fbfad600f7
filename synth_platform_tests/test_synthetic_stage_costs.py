"""The synthetic stage's cheaper paths give exactly what the plain ones gave.

Each shortcut (chunks re-cut to whole DuckDB row groups, the invented family names read from
their file, ZIP3 digits looked up, hashes searched in sorted order, dp_mst seeded without torch)
is checked against the straightforward computation it replaces, on varied inputs.
"""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synth_platform.lib.deidentify.refill import family_names as stored_names
from synth_platform.lib.deidentify.refill.reserved_faker import TakenValues
from synth_platform.lib.deidentify.refill.shape import _cast, _degeneralize
from synth_platform.lib.pii.name_dictionaries import fictional_family_names
from synth_platform.lib.storage import warehouse
from synth_platform.lib.synthesize import synthetic_table
from synth_platform.lib.synthesize.synthesis.fitting import _seed_everything
from synth_platform.lib.synthesize.synthesis.sampling import _seed_sampling


def _chunks(sizes: list[int], as_arrow: bool) -> list[pd.DataFrame | pa.Table]:
    out, start = [], 0
    for n in sizes:
        frame = pd.DataFrame(
            {
                "row": pd.array(np.arange(start, start + n), dtype="Int64"),
                "text": pd.Series(
                    [f"t{i}" if i % 7 else None for i in range(start, start + n)], dtype=object
                ),
            }
        )
        out.append(pa.Table.from_pandas(frame, preserve_index=False) if as_arrow else frame)
        start += n
    return out


@pytest.mark.parametrize("as_arrow", [False, True], ids=["frames", "arrow"])
@pytest.mark.parametrize("sizes", [[25, 25, 25, 7], [3], [0], [9, 1, 30, 2, 2, 16], [10, 10], [41, 0]])
def test_row_group_batches_keep_every_row_in_order_and_cut_at_whole_groups(sizes, as_arrow):
    chunks = _chunks(sizes, as_arrow)
    batches = list(synthetic_table.row_group_batches(iter(chunks), rows=10))
    assert batches, "even an empty table gives one batch (its columns)"
    as_frames = [b.to_pandas() if isinstance(b, pa.Table) else b for b in batches]
    assert all(len(b) % 10 == 0 and len(b) for b in as_frames[:-1]), [len(b) for b in as_frames]
    got = pd.concat(as_frames, ignore_index=True)
    assert got["row"].tolist() == list(range(sum(sizes)))
    assert got["text"].tolist() == [f"t{i}" if i % 7 else None for i in range(sum(sizes))]


def test_rows_held_back_do_not_keep_the_chunk_they_came_from():
    """The rows past the last whole group are copied: the chunk itself can be freed."""
    chunk = pa.table({"x": np.arange(25)})
    batches = synthetic_table.row_group_batches(iter([chunk]), rows=10)
    assert len(next(batches)) == 20
    rest = next(batches)
    assert rest["x"].to_pylist() == list(range(20, 25))
    assert rest["x"].chunks[0].buffers()[1].address != chunk["x"].chunks[0].buffers()[1].address


@pytest.mark.parametrize("as_arrow", [False, True], ids=["frames", "arrow"])
def test_the_writer_stores_the_same_table_however_the_chunks_fall(tmp_path, as_arrow):
    sizes = [130_000, 1, 122_879, 5]  # across DuckDB's 122,880-row groups
    db = tmp_path / "w.duckdb"
    assert synthetic_table.write_chunks(db, "synthetic", "t", iter(_chunks(sizes, as_arrow))) == sum(sizes)
    with warehouse.connect(db, read_only=True) as con:
        rows = con.execute('SELECT row, text FROM synthetic."t"').fetchall()
        types = dict(con.execute('SELECT column_name, column_type FROM (DESCRIBE synthetic."t")').fetchall())
    assert [r[0] for r in rows] == list(range(sum(sizes))), "the rows in their order"
    assert [r[1] for r in rows] == [f"t{i}" if i % 7 else None for i in range(sum(sizes))]
    assert types == {"row": "BIGINT", "text": "VARCHAR"}


def test_the_stored_family_names_are_the_invented_ones():
    """The file is current for this code and Faker (else every process invents them again:
    run `python -m synth_platform.lib.deidentify.refill.family_names`), and equal to them."""
    stored = stored_names.stored_family_names()
    assert stored is not None, "fictional_family_names.txt is stale: regenerate it"
    assert stored.tolist() == fictional_family_names().tolist()
    assert stored_names.family_names().tolist() == fictional_family_names().tolist()


def test_a_file_made_under_another_fingerprint_is_not_read(tmp_path):
    stale = tmp_path / "names.txt"
    stale.write_text("# fingerprint 0000\nRealname\n", encoding="utf-8")
    assert stored_names.stored_family_names(stale) is None
    assert stored_names.stored_family_names(tmp_path / "missing.txt") is None
    current = tmp_path / "current.txt"
    stored_names.write_stored(current)
    assert stored_names.stored_family_names(current).tolist() == fictional_family_names().tolist()


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_zip3_digits_are_drawn_as_before(seed):
    """The old per-row formatting and matching, against the lookup and per-distinct matching."""
    rng = np.random.default_rng(seed)
    values = pd.Series(
        rng.choice(np.array(["123", "007", "12", "abcd", None, "9999", "456", np.nan], dtype=object), 5000)
    )
    new = _degeneralize(values, "zip3", np.random.default_rng(seed))
    old_rng = np.random.default_rng(seed)
    suffix = pd.Series([f"{d:02d}" for d in old_rng.integers(0, 100, len(values))], index=values.index)
    text = values.astype("string")
    old = (text + suffix).where(text.str.fullmatch(r"\d{3}").fillna(False), None).astype(object)
    pd.testing.assert_series_equal(new, old)


@pytest.mark.parametrize(
    "values",
    [["a", "b"], ["a", None, np.nan], [], ["x", pd.NA]],
    ids=["full", "missing", "empty", "pd_na"],
)
def test_text_columns_are_cast_as_before(values):
    series = pd.Series(values, dtype=object)
    pd.testing.assert_series_equal(_cast(series, "string"), series.astype(object).where(series.notna(), None))


def test_taken_hashes_are_found_as_by_a_plain_search():
    rng = np.random.default_rng(3)
    taken = TakenValues()
    earlier = rng.integers(0, 2**63, 5000, dtype=np.uint64)
    taken.add_hashes(earlier)
    queries = np.concatenate([rng.choice(earlier, 700), rng.integers(0, 2**63, 3000, dtype=np.uint64)])
    rng.shuffle(queries)
    assert taken.contains_hashes(queries).tolist() == np.isin(queries, earlier).tolist()


def test_dp_mst_sampling_is_seeded_as_before_without_importing_torch():
    _seed_everything(11)
    expected = (random.getstate(), np.random.get_state()[1].tolist())
    random.seed(0)
    np.random.seed(0)
    _seed_sampling("dp_mst", 11)
    assert (random.getstate(), np.random.get_state()[1].tolist()) == expected
    code = (
        "import sys\n"
        "from synth_platform.lib.synthesize.synthesis.sampling import _seed_sampling\n"
        "_seed_sampling('dp_mst', 11)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
