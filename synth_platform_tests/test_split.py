"""The split: keyed (platform key), deterministic, neighbour-preserving, one row per person."""

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.synthesize.split import (
    holdout_mask,
    one_row_per_key,
    split_dataset,
    split_train_holdout,
)

SECRET = "s" * 64


def _keyless(rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows),
            "income": np.round(rng.lognormal(10, 1, rows), 2),
            "region": rng.choice(["north", "south", "east", None], rows),
            "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, rows), unit="D"),
        }
    )


def _sides(frame: pd.DataFrame, **kwargs) -> dict[tuple, bool]:
    """Row content -> holdout? (the test rows are distinct, so content identifies a row)."""
    mask = holdout_mask(frame, 0.2, seed=42, secret=SECRET, **kwargs)
    return dict(zip(map(tuple, frame.astype(str).to_numpy()), mask, strict=True))


def test_split_is_deterministic_disjoint_and_sized():
    frame = pd.DataFrame({"id": [f"k{i}" for i in range(2000)], "x": range(2000)})
    train, holdout = split_train_holdout(frame, 0.2, seed=1, key="id", secret=SECRET)
    again_train, _ = split_train_holdout(frame, 0.2, seed=1, key="id", secret=SECRET)
    assert train.equals(again_train)
    assert set(train["id"]).isdisjoint(holdout["id"])
    assert len(train) + len(holdout) == 2000
    assert 0.15 < len(holdout) / 2000 < 0.25


def test_a_person_stays_on_the_same_side_when_rows_are_added():
    frame = pd.DataFrame({"id": [f"k{i}" for i in range(1000)]})
    _, holdout = split_train_holdout(frame, 0.2, seed=3, key="id", secret=SECRET)
    bigger = pd.concat([frame, pd.DataFrame({"id": [f"new{i}" for i in range(500)]})]).sample(
        frac=1, random_state=0
    )
    _, holdout_bigger = split_train_holdout(bigger, 0.2, seed=3, key="id", secret=SECRET)
    assert set(holdout["id"]) <= set(holdout_bigger["id"])


def test_with_a_key_the_side_is_a_keyed_hash_of_the_key_alone():
    frame = pd.DataFrame({"id": [f"k{i}" for i in range(500)], "x": range(500)})
    changed = frame.assign(x=frame["x"] * 7 + 1)  # every other cell differs
    same = holdout_mask(frame, 0.3, seed=1, key="id", secret=SECRET)
    assert (same == holdout_mask(changed, 0.3, seed=1, key="id", secret=SECRET)).all()
    other_key = holdout_mask(frame, 0.3, seed=1, key="id", secret="t" * 64)
    other_seed = holdout_mask(frame, 0.3, seed=2, key="id", secret=SECRET)
    assert not (same == other_key).all() and not (same == other_seed).all()


def test_removing_one_row_of_a_keyless_frame_moves_no_other_row():
    frame = _keyless()
    before = _sides(frame)
    for removed in (0, 17, 1500, len(frame) - 1):
        after = _sides(frame.drop(index=removed).reset_index(drop=True))
        assert all(after[row] == before[row] for row in after)
    shuffled = frame.sample(frac=1, random_state=1).reset_index(drop=True)
    assert _sides(shuffled) == before, "row order does not matter either"


def test_changing_one_row_moves_at_most_that_row():
    frame = _keyless()
    before = holdout_mask(frame, 0.2, seed=42, secret=SECRET)
    for row in (3, 999, 2500):
        edited = frame.copy()
        edited.loc[row, "income"] = edited.loc[row, "income"] + 1.5
        after = holdout_mask(edited, 0.2, seed=42, secret=SECRET)
        moved = np.flatnonzero(before != after)
        assert set(moved) <= {row}


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.35])
def test_the_holdout_share_is_close_to_the_fraction(fraction):
    frame = _keyless(rows=6000, seed=3)
    share = holdout_mask(frame, fraction, seed=42, secret=SECRET).mean()
    assert abs(share - fraction) < 4 * np.sqrt(fraction * (1 - fraction) / len(frame))


def test_a_keyless_split_depends_on_the_platform_key_and_the_seed():
    frame = _keyless(rows=500)
    mask = holdout_mask(frame, 0.3, seed=5, secret=SECRET)
    assert (mask == holdout_mask(frame, 0.3, seed=5, secret=SECRET)).all()
    assert not (mask == holdout_mask(frame, 0.3, seed=6, secret=SECRET)).all()
    assert not (mask == holdout_mask(frame, 0.3, seed=5, secret="t" * 64)).all()


def test_the_same_value_in_another_dtype_stays_on_its_side():
    """An integer column that turned float (a NULL elsewhere in a refresh) keeps every row's side."""
    frame = pd.DataFrame({"n": range(300), "c": ["a", "b", "c"] * 100})
    as_float = frame.assign(n=frame["n"].astype(float))
    assert (holdout_mask(frame, 0.3, 1, secret=SECRET) == holdout_mask(as_float, 0.3, 1, secret=SECRET)).all()


def test_one_row_per_person_the_same_one_every_run():
    rng = np.random.default_rng(4)
    people = pd.DataFrame({"id": [f"p{i}" for i in range(400)], "spend": rng.integers(0, 999, 400)})
    repeated = pd.DataFrame({"id": ["p7"] * 4, "spend": [1001, 1002, 1003, 1004]})
    frame = pd.concat([people, repeated]).sample(frac=1, random_state=2).reset_index(drop=True)
    assert (frame["id"] == "p7").sum() == 5
    result = split_dataset(frame, 0.2, seed=42, key="id", secret=SECRET)
    assert result.duplicate_rows_dropped == 4
    kept = pd.concat([result.train, result.holdout])
    assert (kept["id"] == "p7").sum() == 1 and kept["id"].is_unique
    chosen = kept.loc[kept["id"] == "p7", "spend"].item()
    for order in (3, 4):  # another row order, another run: the same row of p7
        again = split_dataset(frame.sample(frac=1, random_state=order), 0.2, seed=42, key="id", secret=SECRET)
        both = pd.concat([again.train, again.holdout])
        assert both.loc[both["id"] == "p7", "spend"].item() == chosen
    # the choice depends on p7's rows alone: other people removed, the same row is kept
    alone, dropped = one_row_per_key(frame[frame["id"].isin(["p7", "p8"])], "id", 42, secret=SECRET)
    assert dropped == 4 and alone.loc[alone["id"] == "p7", "spend"].item() == chosen


def test_one_row_per_person_keeps_everyone_else_and_rows_without_a_key():
    frame = pd.DataFrame({"id": ["a", "b", None, None, "b"], "x": [1, 2, 3, 4, 5]})
    kept, dropped = one_row_per_key(frame, "id", 0, secret=SECRET)
    assert dropped == 1 and len(kept) == 4
    assert sorted(kept["x"])[:1] == [1] and {3, 4} <= set(kept["x"])
    unique = pd.DataFrame({"id": ["a", "b"], "x": [1, 2]})
    assert one_row_per_key(unique, "id", 0, secret=SECRET)[1] == 0
    assert one_row_per_key(unique, None, 0, secret=SECRET)[1] == 0
