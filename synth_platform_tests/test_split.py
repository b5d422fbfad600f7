import pandas as pd

from synth_platform.lib.split import split_train_holdout


def test_split_is_deterministic_disjoint_and_sized():
    frame = pd.DataFrame({"id": [f"k{i}" for i in range(2000)], "x": range(2000)})
    train, holdout = split_train_holdout(frame, 0.2, seed=1, key="id")
    again_train, _ = split_train_holdout(frame, 0.2, seed=1, key="id")
    assert train.equals(again_train)
    assert set(train["id"]).isdisjoint(holdout["id"])
    assert len(train) + len(holdout) == 2000
    assert 0.15 < len(holdout) / 2000 < 0.25


def test_a_person_stays_on_the_same_side_when_rows_are_added():
    frame = pd.DataFrame({"id": [f"k{i}" for i in range(1000)]})
    _, holdout = split_train_holdout(frame, 0.2, seed=3, key="id")
    bigger = pd.concat([frame, pd.DataFrame({"id": [f"new{i}" for i in range(500)]})]).sample(
        frac=1, random_state=0
    )
    _, holdout_bigger = split_train_holdout(bigger, 0.2, seed=3, key="id")
    assert set(holdout["id"]) <= set(holdout_bigger["id"])


def test_without_key_uses_seeded_permutation():
    frame = pd.DataFrame({"x": range(100)})
    _train, holdout = split_train_holdout(frame, 0.3, seed=5)
    assert len(holdout) == 30
    assert split_train_holdout(frame, 0.3, seed=5)[1].equals(holdout)
    assert not split_train_holdout(frame, 0.3, seed=6)[1].equals(holdout)
