"""The split computed by SQL inside the warehouse (synthesize.split_sql) puts every row on the side the Python
split always did (keyed and keyless, NULLs, unicode, floats, timestamps, duplicate people), keeps the one
row per person the Python split kept, writes train and holdout together or not at all, and keeps the key
out of the SQL text."""

import hashlib
import hmac
import json
import math
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.storage import warehouse
from synth_platform.lib.storage.sql_dialect import DUCKDB, SPARK, hmac_pads
from synth_platform.lib.synthesize import split_sql
from synth_platform.lib.synthesize.split import (
    _split_key,
    holdout_mask,
    one_row_per_key,
    split_dataset,
    split_table,
)

SECRET = "another platform key"

# --- the Python split this replaced (the oracle) -----------------------------------------------


def _ref_cell(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return None
        if math.isfinite(number) and number.is_integer():
            return int(number)
        return repr(number)
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    return str(value)


def _ref_rows(frame: pd.DataFrame) -> list[bytes]:
    names = [str(c) for c in frame.columns]
    order = sorted(range(len(names)), key=lambda i: names[i])
    header = [names[i] for i in order]
    return [
        json.dumps(
            [header, [_ref_cell(v[i]) for i in order]], ensure_ascii=False, separators=(",", ":")
        ).encode()
        for v in frame.itertuples(index=False, name=None)
    ]


def _ref_uniform(digests: list[bytes]) -> np.ndarray:
    if not digests:
        return np.zeros(0)
    return np.frombuffer(b"".join(d[:8] for d in digests), dtype=">u8").astype(np.float64) / np.float64(2**64)


def _ref_holdout(frame, fraction, seed, key=None, secret=None) -> np.ndarray:
    derived = _split_key(secret, seed)
    mac = lambda m: hmac.new(derived, m, hashlib.sha256).digest()  # noqa: E731
    if key is None or key not in frame.columns:
        return _ref_uniform([mac(b"row|" + r) for r in _ref_rows(frame)]) < fraction
    missing = frame[key].isna().to_numpy()
    messages = [b"key|" + json.dumps(_ref_cell(v), ensure_ascii=False).encode() for v in frame[key].tolist()]
    for position, row in zip(np.flatnonzero(missing), _ref_rows(frame[missing]), strict=True):
        messages[position] = b"row|" + row
    return _ref_uniform([mac(m) for m in messages]) < fraction


def _ref_one_row_per_key(frame, key, seed, secret=None):
    if key is None or key not in frame.columns or frame.empty:
        return frame.reset_index(drop=True), 0
    derived = _split_key(secret, seed)
    missing = frame[key].isna().to_numpy()
    ranks = [hmac.new(derived, b"bound|" + r, hashlib.sha256).hexdigest() for r in _ref_rows(frame)]
    people = [
        None if m else json.dumps(_ref_cell(v), ensure_ascii=False)
        for v, m in zip(frame[key], missing, strict=True)
    ]
    order = pd.DataFrame({"person": people, "rank": ranks, "position": np.arange(len(frame))})[~missing]
    chosen = order.sort_values(["person", "rank", "position"]).drop_duplicates("person")["position"]
    keep = missing.copy()
    keep[chosen.to_numpy()] = True
    return frame[keep].reset_index(drop=True), int((~keep).sum())


# --- shapes ---------------------------------------------------------------------------------------

ODD_TEXT = [
    "",
    'quo"te',
    "back\\slash",
    "tab\there",
    "new\nline",
    "ctl\x01\x1f\x0b",
    "ünïcødé ☃",
    "😀",
    "\x7f",
    None,
]


def _odd(rows: int = 500, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "person": [f"p{i % 350}" if i % 23 else None for i in range(rows)],
            "Text col": rng.choice(np.array(ODD_TEXT, dtype=object), rows),
            "n": rng.integers(-(10**15), 10**15, rows),
            "x": rng.choice(
                [0.1, -0.0, 1.5e-05, 2.0, np.nan, np.inf, -np.inf, 1e37, 123456.789, 1 / 3, 1e17], rows
            ),
            "ok": rng.choice([True, False], rows),
            "at": pd.Timestamp("2021-03-04") + pd.to_timedelta(rng.integers(0, 10**12, rows), unit="us"),
            "maybe": pd.array(rng.choice([1, 2, None], rows), dtype="Int64"),
            "order": rng.integers(0, 5, rows),  # a reserved word
        }
    )


FRAMES = {
    "odd, keyed by a text column with NULLs and duplicates": (_odd(), "person"),
    "odd, no key": (_odd(), None),
    "integer key with duplicates": (
        pd.DataFrame({"id": np.arange(400) % 250, "v": np.random.default_rng(3).normal(size=400)}),
        "id",
    ),
    "float key with NaN": (pd.DataFrame({"k": [1.0, 2.5, np.nan, 3.0, 1.0] * 40, "v": range(200)}), "k"),
    "one column": (pd.DataFrame({"only": ["a", "b", None, "ü"] * 30}), None),
}


@pytest.mark.parametrize("name", list(FRAMES))
@pytest.mark.parametrize("secret", [SECRET, None])
def test_every_row_is_on_the_side_the_python_split_put_it(name, secret):
    frame, key = FRAMES[name]
    for fraction in (0.2, 0.5):
        expected = _ref_holdout(frame, fraction, 7, key, secret=secret)
        assert (holdout_mask(frame, fraction, 7, key, secret=secret) == expected).all()


@pytest.mark.parametrize("name", list(FRAMES))
def test_the_row_kept_per_person_is_the_one_the_python_split_kept(name):
    frame, key = FRAMES[name]
    kept, dropped = one_row_per_key(frame, key, 11, secret=SECRET)
    expected, expected_dropped = _ref_one_row_per_key(frame, key, 11, secret=SECRET)
    assert dropped == expected_dropped
    pd.testing.assert_frame_equal(kept, expected)


def test_the_threshold_is_numpys_float_comparison_exactly():
    rng = np.random.default_rng(0)
    for fraction in (0.2, 0.1, 1 / 3, 0.999999, 1e-9):
        threshold = split_sql.holdout_threshold(fraction)
        heads = [threshold - 2, threshold - 1, threshold, threshold + 1, *rng.integers(0, 2**63, 50).tolist()]
        for head in (h for h in heads if 0 <= h < 2**64):
            assert (head < threshold) == (np.float64(np.uint64(head)) / np.float64(2**64) < fraction)


def _masked_warehouse(tmp_path, frame: pd.DataFrame):
    db = tmp_path / "wh.duckdb"
    warehouse.write_table(db, "masked", "t", frame)
    return db


@pytest.mark.parametrize("key", ["person", None])
def test_the_warehouse_split_writes_the_frame_splits_rows_in_source_order(tmp_path, key):
    frame = _odd(seed=4).drop(columns=["maybe"])  # DuckDB hands nullable ints back as floats
    db = _masked_warehouse(tmp_path, frame)
    source = warehouse.read_table(db, "masked", "t")
    with warehouse.connect(db) as con:
        counts = split_table(
            con, ("masked", "t"), ("masked", "tr"), ("masked", "ho"), 0.3, 5, key, secret=SECRET
        )
    expected = split_dataset(source, 0.3, 5, key, secret=SECRET)
    assert (counts.train, counts.holdout) == (len(expected.train), len(expected.holdout))
    assert counts.duplicate_rows_dropped == expected.duplicate_rows_dropped
    assert counts.duplicate_rows_dropped == _ref_one_row_per_key(source, key, 5, SECRET)[1]
    assert (counts.duplicate_rows_dropped > 0) == (key is not None)
    pd.testing.assert_frame_equal(warehouse.read_table(db, "masked", "tr"), expected.train)
    pd.testing.assert_frame_equal(warehouse.read_table(db, "masked", "ho"), expected.holdout)


def test_a_refused_split_writes_neither_side(tmp_path):
    db = _masked_warehouse(tmp_path, _odd(rows=100))
    for side in ("tr", "ho"):
        warehouse.write_table(db, "masked", side, pd.DataFrame({"previous": [side]}))
    seen = {}

    def refuse(con, counts):
        seen["counts"] = counts
        raise RuntimeError("the gate would only block")

    with warehouse.connect(db) as con, pytest.raises(RuntimeError, match="only block"):
        split_table(
            con, ("masked", "t"), ("masked", "tr"), ("masked", "ho"), 0.2, 1, "person", before_commit=refuse
        )
    assert seen["counts"].train + seen["counts"].holdout + seen["counts"].duplicate_rows_dropped == 100
    for side in ("tr", "ho"):
        assert warehouse.read_table(db, "masked", side)["previous"].tolist() == [side]


def test_the_split_key_is_never_in_the_sql_text():
    columns = [("person", "text"), ("n", "int")]
    derived = _split_key(SECRET, 3)
    for dialect in (DUCKDB, SPARK):
        selects = split_sql.split_selects("src", "person", 0.2, 3, SECRET, dialect, columns)
        ipad, opad = hmac_pads(derived)
        assert selects.params == {"split_ipad": ipad, "split_opad": opad}
        for text in (selects.train_sql, selects.holdout_sql):
            for secret in (SECRET, derived.hex(), ipad, opad):
                assert secret not in text


def test_an_empty_frame_splits_into_two_empty_sides():
    frame = _odd().iloc[:0]
    result = split_dataset(frame, 0.2, 1, "person", secret=SECRET)
    assert result.train.empty and result.holdout.empty and result.duplicate_rows_dropped == 0
    assert holdout_mask(frame, 0.2, 1, None, secret=SECRET).shape == (0,)
