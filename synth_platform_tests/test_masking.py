import numpy as np
import pandas as pd

from synth_platform.lib.deidentify.masking import (
    RARE_CATEGORY,
    apply_masking,
    clip_outliers,
    generalize,
    plan_masking,
    pseudonymize,
    suppress_rare,
)

CLASSES = {
    "customer_id": ("direct_identifier", "customer_id"),
    "full_name": ("direct_identifier", "full_name"),
    "email": ("direct_identifier", "email"),
    "zip_code": ("quasi_identifier", "zip_code"),
    "date_of_birth": ("quasi_identifier", "date_of_birth"),
    "age": ("quasi_identifier", "age"),
    "sex": ("quasi_identifier", "sex"),
    "income": ("sensitive", "income"),
}


def _frame(n=40):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "customer_id": [f"C-{i}" for i in range(n)],
            "full_name": [f"Person Number{i}" for i in range(n)],
            "email": [f"p{i}@mail.test" for i in range(n)],
            "zip_code": ["02139"] * (n - 1) + ["99501"],
            "date_of_birth": pd.to_datetime(["1980-05-17"] * n),
            "age": pd.array(rng.integers(20, 60, n), dtype="Int64"),
            "sex": ["Female", "Male"] * (n // 2),
            "income": [">50K"] * n,
        }
    )


def test_plan_drops_direct_identifiers_and_pseudonymises_the_key(small_spec):
    plan = {t.column: t for t in plan_masking(small_spec, CLASSES)}
    assert plan["customer_id"].action == "pseudonymize"
    assert plan["full_name"].action == "drop"
    assert plan["email"].action == "drop"
    assert plan["zip_code"].action == "generalize" and plan["zip_code"].generalize == "zip3"
    assert plan["age"].action == "keep"
    assert not plan["full_name"].reaches_model and plan["age"].reaches_model


def test_masked_frame_holds_no_direct_identifier(small_spec):
    frame = _frame()
    masked, report = apply_masking(frame, plan_masking(small_spec, CLASSES), small_spec, b"k")
    assert "full_name" not in masked.columns and "email" not in masked.columns
    flat = masked.astype(str).to_numpy().ravel().tolist()
    for value in frame["customer_id"].tolist() + frame["full_name"].tolist() + frame["email"].tolist():
        assert value not in flat
    assert set(masked["zip_code"].dropna()) <= {"021", RARE_CATEGORY}
    assert masked["date_of_birth"].tolist() == [1980] * len(frame)
    assert report.rare_values_suppressed["zip_code"] == 1  # the lone 995xx ZIP3


def test_pseudonyms_are_keyed_and_stable():
    values = pd.Series(["a", "b", "a", None])
    first = pseudonymize(values, b"key-1")
    assert first[0] == first[2] and first[0] != first[1] and first[3] is None
    assert pseudonymize(values, b"key-1").tolist() == first.tolist()
    assert pseudonymize(values, b"key-2")[0] != first[0]


def test_generalisations():
    assert generalize(pd.Series(["02139", None, "12"]), "zip3").tolist()[0] == "021"
    assert generalize(pd.Series(pd.to_datetime(["1999-12-31"])), "month").tolist() == ["1999-12"]
    assert generalize(pd.Series([17, 23, 40], dtype="Int64"), "bin:10").tolist() == [10, 20, 40]


def test_rare_categories_and_outliers():
    values, count = suppress_rare(pd.Series(["a"] * 5 + ["b"]), 2)
    assert count == 1 and values.tolist()[-1] == RARE_CATEGORY
    numbers, clipped = clip_outliers(pd.Series([*list(range(100)), 10000], dtype="Int64"), (0.0, 0.99))
    assert clipped == 1 and numbers.max() < 10_000
