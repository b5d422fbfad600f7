"""The gate reads bounded SQL samples and computes exact copies and identifier leaks in SQL.

What a user relies on: on a table smaller than the sample the gate sees exactly the rows it saw
when it read whole tables; on a larger one it reads a bounded, reproducible sample; and the
whole-table figures (exact copies, leaked identifiers, leaking people) are the ones the pandas
rule gives, found anywhere in the tables, whatever the column names, types, NULLs or unicode.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.gate import bounded_figures, evaluation, privacy

PLAN = [
    ColumnTreatment("kunde", "direct_identifier", "customer_id", "drop"),
    ColumnTreatment("navn", "direct_identifier", "full_name", "drop"),
    ColumnTreatment("telefon", "direct_identifier", "phone", "drop"),
    ColumnTreatment("postnr", "quasi_identifier", "zip_code", "generalize", "zip3"),
    ColumnTreatment("født", "quasi_identifier", "date", "generalize", "year"),
    ColumnTreatment("by", "quasi_identifier", None, "keep"),
    ColumnTreatment("beløb", "other", None, "keep"),
    ColumnTreatment("løn", "sensitive", None, "keep"),
]
MODEL = [t.column for t in PLAN if t.reaches_model]
IDS = [t.column for t in PLAN if not t.reaches_model]
TABLES = {
    "synthetic": ("synthetic", "ds"),
    "train": ("masked", "ds_train"),
    "holdout": ("masked", "ds_holdout"),
    "raw": ("raw", "ds"),
}


def _people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    towns = np.array(["Århus", "Ødense", "", "Köln", "東京"], dtype=object)
    frame = pd.DataFrame(
        {
            "kunde": [f"K-{seed}{i:07d}" for i in range(n)],
            "navn": [f"Zyx{seed}q{i} Wvu{i}" for i in range(n)],
            "telefon": [f"+1 (555) {seed % 10}{i % 100:02d}-{i:04d}" for i in range(n)],
            "postnr": [f"{rng.integers(100, 999)}{rng.integers(10, 99)}" for _ in range(n)],
            "født": pd.to_datetime("1950-01-01") + pd.to_timedelta(rng.integers(0, 20000, n), unit="D"),
            "by": towns[rng.integers(0, len(towns), n)],
            "beløb": rng.integers(0, 50, n).astype(float),
            "løn": rng.choice([None, "lav", "høj"], n),
        }
    )
    frame.loc[frame.index % 7 == 0, "beløb"] = np.nan
    return frame


def _masked(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[MODEL].copy()
    out["postnr"] = out["postnr"].str.slice(0, 3)
    out.loc[out.index % 11 == 0, "postnr"] = "(rare)"
    out["født"] = out["født"].dt.year.astype("Int64")
    return out


def _warehouse(raw: pd.DataFrame, synthetic: pd.DataFrame, split: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    masked = _masked(raw)
    for schema in ("raw", "masked", "synthetic"):
        con.execute(f"CREATE SCHEMA {schema}")
    for (schema, table), frame in {
        TABLES["raw"]: raw,
        TABLES["train"]: masked.iloc[:split],
        TABLES["holdout"]: masked.iloc[split:],
        TABLES["synthetic"]: synthetic,
    }.items():
        con.register("f", frame)
        con.execute(f'CREATE TABLE {schema}."{table}" AS SELECT * FROM f')
        con.unregister("f")
    return con


@pytest.fixture
def leaky():
    """A source, and a synthetic table with planted copies and leaked identifiers in other forms."""
    raw = _people(400, 3)
    synthetic = _people(300, 8)
    synthetic.iloc[:5, synthetic.columns.get_indexer(MODEL)] = raw.iloc[:5][MODEL].to_numpy()  # copies
    synthetic.loc[10, "by"] = raw.loc[20, "kunde"].lower()  # an id, lower case, in a town column
    synthetic.loc[11, "navn"] = "5551" + raw.loc[21, "telefon"][-7:].replace("-", "")[-6:]  # noise
    synthetic.loc[12, "telefon"] = raw.loc[22, "telefon"].replace("+1 ", "").replace(" ", ".")  # a phone
    raw.loc[23, "navn"] = "Quixotica Zanzibarová"
    synthetic.loc[13, "løn"] = "ZANZIBAROVÁ, Quixotica"  # a name, words swapped, upper case
    synthetic.loc[14, "kunde"] = raw.loc[24, "kunde"]  # an id where ids are refilled
    return raw, synthetic


def _pandas_view(con):
    read = {name: con.execute(f'SELECT * FROM {s}."{t}"').df() for name, (s, t) in TABLES.items()}
    train = evaluation.withhold_rare_generalized(read["train"][MODEL], PLAN)
    holdout = evaluation.withhold_rare_generalized(read["holdout"][MODEL], PLAN)
    synthetic_model = evaluation.to_model_space(read["synthetic"], PLAN, train)
    return read, train, holdout, synthetic_model


def test_whole_table_figures_in_sql_equal_the_pandas_rule(leaky):
    raw, synthetic = leaky
    con = _warehouse(raw, synthetic, 300)
    read, train, holdout, synthetic_model = _pandas_view(con)
    *_, whole = evaluation.read_gate_inputs(con, PLAN, TABLES, IDS, "0123456789abcdef")

    assert whole.copies == privacy.exact_copies(synthetic_model, train, holdout, MODEL)
    assert whole.copies.copies >= 4  # the planted copies (one has a ZIP3 withheld as rare)
    expected = privacy.identifier_leaks(read["synthetic"], [read["raw"][c] for c in IDS])
    assert whole.leaks == expected
    assert whole.leaks.leaked_cells >= 4  # id lower-cased, phone re-punctuated, name swapped, id kept
    people = bounded_figures.leaking_people(read["synthetic"], [read["raw"][c] for c in IDS])
    assert whole.leaking_people == people >= 4
    assert int(whole.copied.sum()) == bounded_figures.exact_copy_hits(train, synthetic_model, MODEL)
    assert whole.rows == {"synthetic": 300, "train": 300, "holdout": 100}


def test_a_small_table_is_read_whole_in_its_stored_order(leaky):
    raw, synthetic = leaky
    con = _warehouse(raw, synthetic, 300)
    read, *_ = _pandas_view(con)
    syn, tr, ho, whole = evaluation.read_gate_inputs(con, PLAN, TABLES, IDS, "k")
    pd.testing.assert_frame_equal(syn, read["synthetic"])
    pd.testing.assert_frame_equal(tr, read["train"])
    pd.testing.assert_frame_equal(ho, read["holdout"])
    assert whole.sample_rows == whole.rows


def test_a_large_table_is_sampled_the_same_way_every_time_and_bounded(leaky):
    raw, synthetic = leaky
    con = _warehouse(raw, synthetic, 300)
    first = evaluation.read_gate_inputs(con, PLAN, TABLES, IDS, "key-1", sample_rows=50)
    again = evaluation.read_gate_inputs(con, PLAN, TABLES, IDS, "key-1", sample_rows=50)
    other = evaluation.read_gate_inputs(con, PLAN, TABLES, IDS, "key-2", sample_rows=50)
    for a, b in zip(first[:3], again[:3], strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert not first[1].equals(other[1])
    assert first[3].sample_rows == {"synthetic": 50, "train": 50, "holdout": 50}
    # whole-table figures do not depend on the sample
    assert first[3].copies == other[3].copies and first[3].leaks == other[3].leaks
    assert first[3].rows == {"synthetic": 300, "train": 300, "holdout": 100}


def test_one_person_added_changes_the_sql_sample_by_at_most_one_row_in_and_one_out(leaky):
    raw, synthetic = leaky
    con = _warehouse(raw, synthetic, 300)
    before = con.execute(evaluation.sample_query('masked."ds_train"', MODEL, 40, "secret")).df()
    extra = _masked(_people(3, 99)).iloc[[1]]
    con.register("extra", extra)
    con.execute('INSERT INTO masked."ds_train" SELECT * FROM extra')
    after = con.execute(evaluation.sample_query('masked."ds_train"', MODEL, 40, "secret")).df()
    keys = lambda f: set(pd.util.hash_pandas_object(f.astype("string"), index=False))  # noqa: E731
    assert len(keys(after) - keys(before)) <= 1 and len(keys(before) - keys(after)) <= 1


def test_no_identifier_columns_no_leak_scan():
    raw, synthetic = _people(50, 1), _people(50, 2)
    con = _warehouse(raw, synthetic, 40)
    *_, whole = evaluation.read_gate_inputs(con, PLAN, TABLES, [], "k")
    assert whole.leaks.leaked_cells == 0 and whole.leaking_people == 0


def test_each_check_says_how_many_rows_it_used_and_public_parts_hold_no_exact_count():
    from synth_platform.lib.gate.private_decision import NoisyFigure

    whole = evaluation.WholeTables(
        rows={"train": 812_345, "holdout": 203_087, "synthetic": 812_000},
        sample_rows={"train": 50_000, "holdout": 50_000, "synthetic": 50_000},
        copies=privacy.ExactCopyResult(0, 0.0, 0.0),
        leaks=privacy.LeakResult(0, {}),
        leaking_people=0,
        copied=pd.Series(dtype=bool),
    )
    noisy = NoisyFigure(0.0004, 0.0001, 2e-5, 0.001, 0.0002, True, {"train_people": 50_000})
    report = evaluation.GateReport(
        [
            evaluation.CheckOutcome("schema_expectations", True, 0.0, 0.0, "gx", {}, public=True),
            evaluation.CheckOutcome("exact_copies", True, 0.0, 0.001, "copies", {}, noisy=noisy),
            evaluation.CheckOutcome(
                "near_copies", True, 0.0003, 0.002, "near", {}, ci=(0.0, 0.0006), noisy=noisy
            ),
        ]
    )
    out = evaluation.with_sample_sizes(report, whole, spec=None)
    gx, copies, near = out.outcomes
    assert gx.details["sample"]["rows_used"] == {"synthetic": 50_000}
    assert "whole_table_rows" not in gx.details["sample"]  # shown in the UI: synthetic figures only
    assert copies.details["sample"]["rows_used"]["train"] == 812_345  # whole tables, restricted side
    assert near.details["sample"]["rows_used"]["train"] == 50_000
    assert near.details["sample"]["ci95_half_width"] == pytest.approx(0.0003)
    assert near.details["sample"]["enough"].startswith("yes")
    public = near.as_dict()
    assert public["rows_read_per_table_at_most"] == evaluation.GATE_SAMPLE_ROWS
    assert public["sample_enough"].startswith("yes")
    assert public["sample_ci95_half_width"] == pytest.approx(1.96 * 0.0002, rel=1e-3)
    shown = repr([o.as_dict() for o in out.outcomes])
    assert "812345" not in shown and "203087" not in shown
