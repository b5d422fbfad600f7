import numpy as np
import pandas as pd
import pytest
from faker import Faker

from synth_platform.lib.pii.discovery import discover, findings_table


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    fake = Faker("en_US")
    fake.seed_instance(1)
    rng = np.random.default_rng(1)
    n = 600
    return pd.DataFrame(
        {
            "full_name": [fake.name() for _ in range(n)],
            "email": [fake.email() for _ in range(n)],
            "phone": [fake.phone_number() for _ in range(n)],
            "ssn": [fake.ssn() for _ in range(n)],
            "street_address": [fake.street_address() for _ in range(n)],
            "zip_code": [f"{z:05d}" for z in rng.integers(501, 99950, n)],
            "date_of_birth": [fake.date_of_birth().isoformat() for _ in range(n)],
            "age": rng.integers(17, 90, n),
            "sex": rng.choice(["Male", "Female"], n),
            "race": rng.choice(["White", "Black", "Asian-Pac-Islander"], n),
            "marital_status": rng.choice(["Married-civ-spouse", "Never-married", "Divorced"], n),
            "income": rng.choice(["<=50K", ">50K"], n),
            "fnlwgt": rng.integers(10_000, 1_500_000, n),
            "capital_gain": rng.integers(0, 99_999, n),
            "contact": [fake.email() for _ in range(n)],
            "col7": [fake.ssn() for _ in range(n)],
            "card": [fake.credit_card_number() for _ in range(n)],
            "remarks": rng.choice(["ok", "late payer", "vip"], n),
        }
    )


def _by_column(findings):
    return {f.column: f for f in findings}


def test_demo_like_columns_are_classified(people):
    found = _by_column(discover(people))
    expected = {
        "full_name": ("direct_identifier", "full_name"),
        "email": ("direct_identifier", "email"),
        "phone": ("direct_identifier", "phone"),
        "ssn": ("direct_identifier", "ssn"),
        "street_address": ("direct_identifier", "street_address"),
        "zip_code": ("quasi_identifier", "zip_code"),
        "date_of_birth": ("quasi_identifier", "date_of_birth"),
        "age": ("quasi_identifier", "age"),
        "sex": ("quasi_identifier", "sex"),
        "race": ("quasi_identifier", "race"),
        "marital_status": ("quasi_identifier", "marital_status"),
        "income": ("sensitive", "income"),
        "fnlwgt": ("other", None),
        "capital_gain": ("other", None),
        "remarks": ("other", None),
    }
    for column, (cls, kind) in expected.items():
        assert (found[column].pii_class, found[column].detected_type) == (cls, kind), column
    assert found["email"].pattern_share > 0.99 and found["email"].name_match


def test_values_alone_reveal_identifiers_under_neutral_names(people):
    found = _by_column(discover(people))
    assert (found["contact"].pii_class, found["contact"].detected_type) == ("direct_identifier", "email")
    assert found["col7"].detected_type == "ssn" and not found["col7"].name_match
    assert found["card"].detected_type == "credit_card" and found["card"].pattern_share > 0.95


def test_numbers_are_never_direct_identifiers():
    frame = pd.DataFrame({"n": np.arange(100_000_000, 100_001_000), "z": np.arange(10_000, 11_000)})
    assert {f.pii_class for f in discover(frame)} == {"other"}


def test_luhn_rejects_invalid_card_numbers():
    valid = ["4111111111111111", "5500005555555559", "340000000000009"] * 10
    invalid = ["4111111111111112", "5500005555555550", "340000000000001"] * 10
    assert discover(pd.DataFrame({"x": valid}))[0].detected_type == "credit_card"
    rejected = discover(pd.DataFrame({"x": invalid}))[0]
    assert rejected.detected_type != "credit_card" and rejected.pii_class == "other"


def test_hints_override_but_measurements_stay(people):
    found = _by_column(
        discover(people, hints={"fnlwgt": ("other", "weight"), "remarks": ("sensitive", "note")})
    )
    assert found["remarks"].pii_class == "sensitive" and found["remarks"].source == "spec_hint"
    assert found["fnlwgt"].detected_type == "weight"
    assert "spec hint" in found["remarks"].evidence and "unique" in found["remarks"].evidence


def test_empty_and_all_null_columns():
    frame = pd.DataFrame({"blank": [None] * 5, "email": [None] * 5})
    found = _by_column(discover(frame))
    assert found["blank"].pii_class == "other" and found["blank"].null_share == 1.0
    assert discover(pd.DataFrame({"a": []}))[0].pii_class == "other"


def test_report_holds_no_raw_value(people):
    table = findings_table(discover(people))
    text = table.astype(str).to_numpy().ravel()
    planted = set(people.drop(columns=["age", "fnlwgt", "capital_gain"]).astype(str).to_numpy().ravel())
    planted = {v for v in planted if len(v) > 5}
    assert not any(value in cell for cell in text for value in planted)
