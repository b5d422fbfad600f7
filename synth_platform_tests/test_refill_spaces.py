"""Refill that cannot run out, never copies a real value, and a leak check that means 'identifies'."""

import re

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.masking import ColumnTreatment
from synth_platform.lib.name_dictionaries import pools
from synth_platform.lib.privacy import identifier_leaks
from synth_platform.lib.refill import (
    IdentifierFaker,
    forbidden_values,
    learn_template,
    restore_source_shape,
    template_capacity,
    widen_template,
)
from synth_platform.lib.spec import DatasetSpec


def _spec(columns: dict[str, str], key: str | None = None) -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "name": "t",
            "source": {"landing_dir": "x"},
            "key": key,
            "columns": {c: {"type": t} for c, t in columns.items()},
        }
    )


def test_integer_key_one_to_n_is_refilled_from_a_space_that_cannot_run_out():
    n = 1000
    raw_key = pd.Series(np.arange(1, n + 1)).astype("Int64")
    spec = _spec({"k": "integer", "x": "float"}, key="k")
    plan = [
        ColumnTreatment("k", "direct_identifier", "record_id", "pseudonymize"),
        ColumnTreatment("x", "other", None, "keep"),
    ]
    template = learn_template(raw_key.astype(str))
    assert template_capacity(template) < 10 * n  # the source's own format has no room left
    sampled = pd.DataFrame({"x": np.linspace(0, 1, n)})
    out = restore_source_shape(sampled, spec, plan, forbidden_values([raw_key]), {"k": template}, seed=3)
    assert str(out["k"].dtype) == "Int64"
    assert out["k"].is_unique and out["k"].notna().all()
    assert not out["k"].isin(raw_key).any()


def test_short_codes_are_widened_not_exhausted():
    raw = pd.Series([f"{chr(65 + i % 26)}{i % 100:02d}" for i in range(2600)]).drop_duplicates()
    template = learn_template(raw)
    assert template == "A99"
    widened = widen_template(template, 3000 + len(raw))
    assert widened.startswith("A99") and template_capacity(widened) >= 20 * (3000 + len(raw))
    faker = IdentifierFaker(1, forbidden_values([raw]))
    codes = pd.Series(faker.templated_ids(template, 3000))
    assert codes.is_unique and not codes.isin(raw).any()
    assert codes.str.fullmatch(r"[A-Z]\d{2}\d+").all()


@pytest.mark.parametrize(
    ("raw", "synthetic"),
    [
        ("+1-555-234-5678x123", "(555) 234-5678"),
        ("001-555-234-5678", "555.234.5678"),
        ("555-234-5678 ext. 9", "+1 555 234 5678"),
        ("123-45-6789", "123456789"),
        ("DE89 3704 0044 0532 0130 00", "de89370400440532013000"),
        ("Jane.Roe@Mail.example", " jane.roe@mail.example"),
    ],
)
def test_a_leak_is_found_in_every_written_form(raw, synthetic):
    result = identifier_leaks(pd.DataFrame({"c": [synthetic, "unrelated value"]}), [pd.Series([raw])])
    assert result.leaked_cells == 1 and result.columns_with_leaks == {"c": 1}


def test_common_names_coincide_by_chance_and_are_reported_not_blocked():
    raw = [pd.Series(["Smith, John", "Maria Garcia"]), pd.Series(["john.smith@mail.example"])]
    synthetic = pd.DataFrame(
        {"name": ["John Smith", "Ann Other"], "mail": ["john.smith@mail.example", "x@example.org"]}
    )
    result = identifier_leaks(synthetic, raw)
    assert result.leaked_cells == 1 and result.columns_with_leaks == {"mail": 1}
    assert result.coincidences == 1 and result.columns_with_coincidences == {"name": 1}
    assert "coincidence" in result.rule


def test_short_values_identify_nobody():
    raw = [pd.Series(np.arange(1, 500).astype(str))]  # an integer key
    synthetic = pd.DataFrame({"age": np.arange(18, 90)})
    result = identifier_leaks(synthetic, raw)
    assert result.leaked_cells == 0 and result.coincidences == 0


def test_names_that_cannot_avoid_the_source_are_counted_never_a_failed_run():
    first, _ = pools()
    from faker.providers.person.en_US import Provider

    every_first_name = pd.Series([*first, *Provider.first_names_female, *Provider.first_names_male])
    faker = IdentifierFaker(2, forbidden_values([every_first_name]))
    drawn = faker.single_names("first_name", 500, label="given")
    assert len(drawn) == 500
    assert faker.coincidences["given"] > 0  # every possible name is a source value: all counted


def test_dropped_free_text_is_refilled_with_no_real_word():
    notes = pd.Series([f"Called Mrs Whitfield about invoice {i}, she moved to Leeds" for i in range(300)])
    assert learn_template(notes) is None  # prose gets no template that could copy a note
    spec = _spec({"note": "string", "x": "integer"})
    plan = [
        ColumnTreatment("note", "direct_identifier", "free_text", "drop"),
        ColumnTreatment("x", "other", None, "keep"),
    ]
    sampled = pd.DataFrame({"x": pd.array(range(300), dtype="Int64")})
    out = restore_source_shape(sampled, spec, plan, forbidden_values([notes]), {"note": None}, seed=1)
    real_words = {w.lower() for note in notes for w in re.findall(r"[A-Za-z]{4,}", note)}
    fake_words = {w.lower() for note in out["note"] for w in re.findall(r"[A-Za-z]{4,}", note)}
    assert fake_words and not (fake_words & real_words)
    assert out["note"].nunique() > 250


def test_refill_of_many_rows_is_vectorised_and_keeps_formats():
    n = 50_000
    faker = IdentifierFaker(5, forbidden_values([]))
    cards = pd.Series(faker.cards(n))
    digits = np.array([[int(c) for c in card] for card in cards.head(2000)])[:, ::-1]
    doubled = np.where(digits[:, 1::2] * 2 > 9, digits[:, 1::2] * 2 - 9, digits[:, 1::2] * 2)
    assert ((digits[:, ::2].sum(axis=1) + doubled.sum(axis=1)) % 10 == 0).all()  # Luhn-valid
    from stdnum import iban

    for country in ("AT", "PL", "GB"):  # GB's account part has letters: refilled in a digit-only format
        ibans = pd.Series(faker.ibans(1000, country + "99" + "9" * 18))
        assert ibans.map(iban.is_valid).all()
    assert pd.Series(faker.ssns(n)).str.fullmatch(r"\d{3}-\d{2}-\d{4}").all()
    assert pd.Series(faker.phones(n, None)).str.fullmatch(r"[2-9]\d{2}-[2-9]\d{2}-\d{4}").all()
    assert pd.Series(faker.ips(1000, v6=True)).str.startswith("2001:db8:").all()
    macs = pd.Series(faker.macs(1000))
    assert (macs.str[:2].map(lambda h: int(h, 16)) & 0x03 == 0x02).all()  # locally administered


def test_phones_keep_the_source_format_only_when_the_gate_format_allows_it():
    from synth_platform.lib.evaluation import FORMAT_PATTERNS

    faker = IdentifierFaker(3, forbidden_values([]))
    uk = pd.Series(faker.phones(500, "+44 99 9999 9999"))
    assert uk.str.fullmatch(r"\+44 \d{2} \d{4} \d{4}").all()
    labelled = pd.Series(faker.phones(500, "Tel: 999 999"))  # letters would fail the gate's phone format
    assert labelled.str.fullmatch(FORMAT_PATTERNS["phone"]).all()
    assert not labelled.str.contains("Tel").any()
