import re

import pandas as pd

from synth_platform.lib.masking import ColumnTreatment
from synth_platform.lib.refill import forbidden_values, learn_template, restore_source_shape

PLAN = [
    ColumnTreatment("customer_id", "direct_identifier", "customer_id", "pseudonymize"),
    ColumnTreatment("full_name", "direct_identifier", "full_name", "drop"),
    ColumnTreatment("email", "direct_identifier", "email", "drop"),
    ColumnTreatment("zip_code", "quasi_identifier", "zip_code", "generalize", "zip3"),
    ColumnTreatment("date_of_birth", "quasi_identifier", "date_of_birth", "generalize", "year"),
    ColumnTreatment("age", "quasi_identifier", "age", "keep"),
    ColumnTreatment("sex", "quasi_identifier", "sex", "keep"),
    ColumnTreatment("income", "sensitive", "income", "keep"),
]


def _sampled(n=300):
    return pd.DataFrame(
        {
            "zip_code": ["021", "100", None] * (n // 3),
            "date_of_birth": pd.array([1980, 1991, None] * (n // 3), dtype="Int64"),
            "age": pd.array([45, 34, 20] * (n // 3), dtype="Int64"),
            "sex": ["Female", "Male", "Female"] * (n // 3),
            "income": [">50K", "<=50K", "<=50K"] * (n // 3),
        }
    )


def test_template_keeps_shared_characters_only():
    ids = pd.Series([f"CUST-{i * 7919 % 10_000_000:07d}" for i in range(1, 60)])
    assert learn_template(ids) == "CUST-" + "9" * 7
    # Too few distinct values to tell format from content: no template (it could copy a value).
    assert learn_template(pd.Series(["CUST-0000012", "CUST-0048841", "CUST-0000777"])) is None


def test_restored_table_has_the_source_shape(small_spec):
    forbidden = forbidden_values([pd.Series(["CUST-0000001"])])
    templates = {"customer_id": "CUST-9999999"}
    out = restore_source_shape(_sampled(), small_spec, PLAN, forbidden, templates, seed=1)
    assert list(out.columns) == small_spec.column_names
    assert out["customer_id"].str.fullmatch(r"CUST-\d{7}").all()
    assert out["customer_id"].is_unique
    assert out["email"].str.fullmatch(r"[a-z.]+\d+@example\.(com|net|org)").all()
    assert out["zip_code"].dropna().str.fullmatch(r"\d{5}").all()
    assert out["zip_code"].dropna().str[:3].isin(["021", "100"]).all()
    assert (pd.to_datetime(out["date_of_birth"]).dt.year.dropna().astype(int).isin([1980, 1991])).all()
    assert str(out["age"].dtype) == "Int64"


def test_refill_never_emits_a_forbidden_value(small_spec):
    # Draw once, forbid everything drawn, draw again with the same seed: all must change.
    first = restore_source_shape(
        _sampled(90), small_spec, PLAN, forbidden_values([]), {"customer_id": "C-99"}, seed=4
    )
    forbidden = forbidden_values([first["full_name"], first["email"], first["customer_id"]])
    second = restore_source_shape(_sampled(90), small_spec, PLAN, forbidden, {"customer_id": "C-999"}, seed=4)
    assert not any(name in forbidden for name in second["full_name"])
    assert not any(email in forbidden for email in second["email"])
    assert any(name in forbidden for name in first["full_name"])  # the check itself can fail


def test_names_follow_the_sampled_sex(small_spec):
    from faker.providers.person.en_US import Provider

    out = restore_source_shape(_sampled(), small_spec, PLAN, forbidden_values([]), {}, seed=2)
    female, male = set(Provider.first_names_female), set(Provider.first_names_male)

    def first_name_in(name: str, names: set) -> bool:
        return any(token in names for token in re.split(r"[ .]+", name))

    assert out.loc[out["sex"] == "Female", "full_name"].map(lambda n: first_name_in(n, female)).all()
    assert out.loc[out["sex"] == "Male", "full_name"].map(lambda n: first_name_in(n, male)).all()
