import re

import pandas as pd

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.deidentify.refill import restore_source_shape

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


def test_restored_table_has_the_source_shape(small_spec):
    out = restore_source_shape(_sampled(), small_spec, PLAN, seed=1)
    assert list(out.columns) == small_spec.column_names
    assert out["customer_id"].str.fullmatch(r"SYN-\d{10}").all()  # the declared prefix, never learnt
    assert out["customer_id"].is_unique
    assert out["email"].str.fullmatch(r"[a-z.]+\d+@example\.(com|net|org)").all()
    assert out["zip_code"].dropna().str.fullmatch(r"\d{5}").all()
    assert out["zip_code"].dropna().str[:3].isin(["021", "100"]).all()
    assert (pd.to_datetime(out["date_of_birth"]).dt.year.dropna().astype(int).isin([1980, 1991])).all()
    assert str(out["age"].dtype) == "Int64"
    assert out.attrs["refill"]["email"]["space"].startswith("reserved domains")


def test_the_key_pattern_comes_from_the_plan(small_spec):
    plan = [
        ColumnTreatment(
            t.column, t.pii_class, t.detected_type, t.action, t.generalize, format="SYNTH-#######"
        )
        if t.column == "customer_id"
        else t
        for t in PLAN
    ]
    out = restore_source_shape(_sampled(), small_spec, plan, seed=1)
    assert out["customer_id"].str.fullmatch(r"SYNTH-[1-9]\d{6}").all() and out["customer_id"].is_unique


def test_names_follow_the_sampled_sex(small_spec):
    from faker.providers.person.en_US import Provider

    out = restore_source_shape(_sampled(), small_spec, PLAN, seed=2)
    female, male = set(Provider.first_names_female), set(Provider.first_names_male)

    def first_name_in(name: str, names: set) -> bool:
        return any(token in names for token in re.split(r"[ .]+", name))

    assert out.loc[out["sex"] == "Female", "full_name"].map(lambda n: first_name_in(n, female)).all()
    assert out.loc[out["sex"] == "Male", "full_name"].map(lambda n: first_name_in(n, male)).all()
