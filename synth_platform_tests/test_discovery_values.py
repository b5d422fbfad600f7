"""Discovery by values: opaque names, several locales, malformed values, look-alikes, fail safe."""

import numpy as np
import pandas as pd
import pytest
from faker import Faker

from synth_platform.bench.discovery import MUST_FIND, NEGATIVE, labelled_table, score
from synth_platform.lib.demo_data import load_adult
from synth_platform.lib.pii.discovery import UNEXPLAINED, discover, findings_table, quasi_identifier_risk
from synth_platform_tests.pipeline_harness import identifiers_in


@pytest.fixture(scope="module")
def labelled():
    return [labelled_table(4, rows=300)]


def test_direct_identifiers_are_found_by_values_alone(labelled):
    result = score(labelled)
    # Every labelled direct identifier column (opaque name, some malformed values) is found ...
    assert result["missed_direct_by_label"] == {}
    assert result["direct_identifier"]["recall"] == 1.0
    # ... and no look-alike negative (codes, amounts, ZIP-like numbers, categories) is called one.
    assert result["false_direct_by_label"] == {}
    for kind in MUST_FIND:
        if result["per_type"].get(kind, {}).get("columns"):
            assert result["per_type"][kind]["recall"] == 1.0, kind


def test_no_raw_value_in_the_evidence(labelled):
    table = labelled[0]
    frame = pd.DataFrame({name: column.values for name, column in table.items()})
    report = " | ".join(findings_table(discover(frame)).astype(str).to_numpy().ravel())
    planted = {
        str(v)
        for column in table.values()
        if column.label != NEGATIVE
        for v in column.values.dropna()
        if len(str(v)) >= 6
    }
    assert len(planted) > 1000
    assert identifiers_in(report, planted, min_length=6) == []


def test_no_adult_column_is_a_direct_identifier():
    adult = load_adult(rows=3000)
    assert [f.column for f in discover(adult) if f.pii_class == "direct_identifier"] == []
    as_text = adult.astype(str)
    assert [f.column for f in discover(as_text) if f.pii_class == "direct_identifier"] == []


def test_unexplained_unique_text_is_an_identifier_until_a_hint_releases_it():
    rng = np.random.default_rng(0)
    codes = pd.Series(["".join(rng.choice(list("QWXZKJ"), 9)) + "/" + str(i % 7) for i in range(500)])
    frame = pd.DataFrame({"c1": codes, "c2": rng.choice(["a", "b"], 500)})
    found = {f.column: f for f in discover(frame)}
    assert found["c1"].pii_class == "direct_identifier"
    assert UNEXPLAINED in found["c1"].evidence
    assert found["c2"].pii_class == "other"
    released = {f.column: f for f in discover(frame, hints={"c1": ("other", "batch_code")})}
    assert released["c1"].pii_class == "other" and released["c1"].source == "spec_hint"


def test_a_name_that_says_identifier_keeps_malformed_values_an_identifier():
    rng = np.random.default_rng(1)
    typed_by_hand = [
        f"{a} {b}" for a, b in zip(rng.integers(100, 999, 300), rng.integers(10, 99, 300), strict=True)
    ]
    frame = pd.DataFrame({"ssn": typed_by_hand, "Phone": ["+44 20 " + str(i)[:3] for i in range(300)]})
    found = {f.column: f for f in discover(frame)}
    assert (found["ssn"].pii_class, found["ssn"].detected_type) == ("direct_identifier", "ssn")
    assert found["Phone"].pii_class == "direct_identifier"
    assert "kept as an identifier" in found["ssn"].evidence


def test_free_text_with_embedded_contacts_is_dropped_and_said_so():
    fake = Faker("en_US")
    fake.seed_instance(2)
    notes = [
        f"Please call {fake.phone_number()} or mail {fake.email()}" if i % 4 == 0 else fake.sentence(8)
        for i in range(400)
    ]
    found = discover(pd.DataFrame({"remarks": notes}))[0]
    assert (found.pii_class, found.detected_type) == ("direct_identifier", "free_text")
    assert "embed email" in found.evidence and "embed phone" in found.evidence


def test_numbers_under_any_name_are_not_identifiers_by_shape():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "amount": np.round(rng.lognormal(5, 2, 2000), 2),
            "amount_text": [f"{x:,.2f}" for x in rng.lognormal(8, 1, 2000)],
            "zip_like": [f"{z:05d}" for z in rng.integers(1000, 99_999, 2000)],
        }
    )
    found = {f.column: f for f in discover(frame)}
    assert found["amount"].pii_class == "other"
    assert found["amount_text"].pii_class == "other"
    assert found["zip_like"].pii_class == "quasi_identifier"


def test_quasi_identifier_risk_counts_singled_out_records():
    frame = pd.DataFrame(
        {
            "sex": ["F"] * 6 + ["M"] * 3 + ["M"],
            "age": [30] * 6 + [40] * 3 + [41],
            "score": range(10),
        }
    )
    findings = discover(frame, hints={"sex": ("quasi_identifier", "sex"), "age": ("quasi_identifier", "age")})
    risk = quasi_identifier_risk(frame, findings)
    assert risk.columns == ["sex", "age"]
    assert risk.unique_share == pytest.approx(0.1)  # the one 41-year-old man
    assert risk.below_k5_share == pytest.approx(0.4)  # he and the three 40-year-old men
    assert set(risk.as_metadata()) == {"qi_columns", "qi_records", "qi_unique_share_k1", "qi_below_k5_share"}
