"""The refill draws every fake from a space that cannot hold a real value, and reads no raw value.

Each test checks a *public rule* (a documentation block, a reserved range, a check digit); no
test compares fakes with real data, and no assertion message prints a value.
"""

import inspect
import ipaddress
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stdnum import bitcoin, iban, luhn
from stdnum.us import itin, ssn

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.deidentify.refill import (
    RESERVED_SPACES,
    accepted_formats,
    check_formats,
    refill_column,
    refill_kind,
    restore_source_shape,
)
from synth_platform.lib.gate.evaluation import FORMAT_PATTERNS
from synth_platform.lib.pii import detectors
from synth_platform_tests.conftest import typed_spec

N = 3000


def _fakes(detected_type, fmt=None, column_type="string", n=N, seed=7) -> pd.Series:
    treatment = ColumnTreatment("c", "direct_identifier", detected_type, "drop", format=fmt)
    values, _report = refill_column(treatment, n, seed, column_type)
    return pd.Series(values, dtype=object)


def test_every_detected_direct_type_has_a_reserved_space():
    for kind in detectors.DIRECT_TYPES | {"customer_id", "prose", None}:
        family = refill_kind(kind)
        assert family in {"single_name"} | set(RESERVED_SPACES), kind
        assert len(_fakes(kind, n=50)) == 50


def test_ip_addresses_are_in_documentation_blocks():
    blocks = [ipaddress.ip_network(b) for b in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
    v4 = _fakes("ip_address").map(ipaddress.ip_address)
    assert v4.map(lambda ip: any(ip in block for block in blocks)).all()
    v6 = _fakes("ip_address", "ipv6").map(ipaddress.ip_address)
    assert v6.map(lambda ip: ip in ipaddress.ip_network("2001:db8::/32")).all()
    assert v6.is_unique


def test_phones_are_fictional_numbers():
    nanp = _fakes("phone")
    assert nanp.str.fullmatch(r"[2-9]\d{2}-555-01\d{2}").all()
    assert nanp.str.fullmatch(FORMAT_PATTERNS["phone"]).all()  # the gate's format check
    assert not nanp.str[:3].str.fullmatch(r"\d11").any()  # no N11 service codes
    pattern = _fakes("phone", "(###) ###-####")
    assert pattern.str.fullmatch(r"\([2-9]\d{2}\) 555-01\d{2}").all()
    with_country = _fakes("phone", "+1 ###.###.####")
    assert with_country.str.fullmatch(r"\+1 [2-9]\d{2}\.555\.01\d{2}").all()
    geographic = "|".join(f"01{c}496" for c in (13, 14, 15, 16, 17, 18, 21, 31, 41, 51, 61))
    drama = f"(07700900|0207946|{geographic}|0191498|01632960)"
    uk = _fakes("phone", "uk").str.replace(" ", "")
    assert uk.str.fullmatch(drama + r"\d{3,4}").all() and (uk.str.len() == 11).all()
    uk_pattern = _fakes("phone", "##### ######").str.replace(" ", "")
    assert uk_pattern.str.fullmatch(drama + r"\d{3,4}").all()
    international = _fakes("phone", "+44 #### ######")
    assert ("0" + international.str[3:].str.replace(" ", "")).str.fullmatch(drama + r"\d{3,4}").all()
    numeric = _fakes("phone", column_type="integer")
    assert numeric.str.fullmatch(r"[2-9]\d{2}55501\d{2}").all()


def test_ssns_are_neither_ssn_nor_itin():
    fakes = _fakes("ssn")
    assert fakes.str.fullmatch(FORMAT_PATTERNS["ssn"]).all()  # the gate's format check
    assert (fakes.str[4:6] == "00").all()  # group 00: never issued; ATINs use group 93
    assert not fakes.map(ssn.is_valid).any()
    assert not fakes.map(itin.is_valid).any()
    assert fakes.is_unique
    plain = _fakes("ssn", "#########")
    assert plain.str.fullmatch(r"\d{3}00\d{4}").all()


def test_cards_carry_major_industry_identifier_zero_and_pass_luhn():
    fakes = _fakes("credit_card")
    assert fakes.str.fullmatch(r"0\d{3} \d{4} \d{4} \d{4}").all()  # groups of four by default
    digits = fakes.str.replace(" ", "")
    assert digits.map(luhn.is_valid).all()
    assert digits.is_unique
    assert _fakes("credit_card", "################").str.fullmatch(r"0\d{15}").all()
    # A whole-number column cannot keep a leading 0: there no fake passes Luhn, as every real card does.
    numeric = _fakes("credit_card", column_type="integer")
    assert numeric.str.fullmatch(r"9\d{15}").all() and not numeric.map(luhn.is_valid).any()


def test_ibans_have_check_digits_no_real_iban_has():
    fakes = _fakes("iban")
    assert fakes.str.fullmatch(r"DE00\d{18}").all()
    assert not fakes.map(iban.is_valid).any()
    grouped = _fakes("iban", "AT groups")
    assert grouped.str.fullmatch(r"AT00 \d{4} \d{4} \d{4} \d{4}").all()
    assert not grouped.map(iban.is_valid).any()


def test_emails_macs_urls_and_wallets_are_reserved():
    emails = _fakes("email")
    assert emails.str.fullmatch(r"[a-z.]+\d+@example\.(com|net|org)").all() and emails.is_unique
    assert emails.str.fullmatch(FORMAT_PATTERNS["email"]).all()
    assert _fakes("mac_address").str.fullmatch(r"00:00:5e:00:53:[0-9a-f]{2}").all()
    assert _fakes("mac_address", "XX-XX-XX-XX-XX-XX").str.fullmatch(r"00-00-5E-00-53-[0-9A-F]{2}").all()
    assert _fakes("url").str.fullmatch(r"https://www\.example\.com/u/\d{10}").all()
    wallets = _fakes("crypto_wallet", n=500)
    assert wallets.str.fullmatch(r"1[1-9A-HJ-NP-Za-km-z]{25,34}").all()
    assert not wallets.map(bitcoin.is_valid).any()  # a real address always has its checksum
    assert _fakes("crypto_wallet", "ethereum", n=500).str.fullmatch(r"0x0{24}[0-9a-f]{16}").all()


def test_generic_ids_carry_the_declared_prefix_and_are_unique():
    for kind in ("customer_id", "record_id", "national_id", "unexplained_text", "account_ref", None):
        fakes = _fakes(kind)
        assert fakes.str.fullmatch(r"SYN-[1-9]\d{9}").all() and fakes.is_unique, kind
    custom = _fakes("record_id", "ACC/########")
    assert custom.str.fullmatch(r"ACC/[1-9]\d{7}").all() and custom.is_unique
    numeric = _fakes("record_id", column_type="integer").astype(int)
    assert (numeric < 0).all() and numeric.is_unique
    # A pattern too small for the rows gets more digits: it never runs out.
    widened = _fakes("record_id", "K-######", n=400_000)
    assert widened.is_unique and widened.str.fullmatch(r"K-\d{7,}").all()


def test_free_text_is_lorem_ipsum():
    fakes = _fakes("free_text", n=300)
    from faker.providers.lorem.la import Provider

    latin = {w.lower() for w in Provider.word_list}
    words = {w.lower() for text in fakes for w in re.findall(r"[A-Za-z]+", text)}
    assert words <= latin


def test_formats_from_the_plan_are_honoured():
    assert _fakes("full_name", "Family, Given").str.fullmatch(r"[A-Za-z' -]+, [A-Za-z' -]+").all()
    shouted = _fakes("full_name", "FAMILY, Given")
    family, given = shouted.str.split(", ", n=1).str[0], shouted.str.split(", ", n=1).str[1]
    assert (family == family.str.upper()).all() and (given.str[1:] != given.str[1:].str.upper()).any()
    assert _fakes("full_name").str.fullmatch(r"[A-Za-z'-]+ [A-Za-z' -]+").all()
    assert _fakes("email", "UPPER").str.fullmatch(r"[A-Z.]+\d+@EXAMPLE\.(COM|NET|ORG)").all()
    assert _fakes("last_name", "UPPER").map(lambda v: v == v.upper()).all()


@pytest.mark.parametrize(
    ("detected_type", "fmt", "column_type"),
    [
        ("full_name", "Given-Family", "string"),
        ("ssn", "##-###-####x", "string"),
        ("credit_card", "#### ####", "string"),
        ("email", "Mixed", "string"),
        ("phone", "###-####", "string"),
        ("customer_id", "##########", "string"),  # no declared prefix: could be a real id
        ("record_id", "SYN-######", "integer"),
        ("iban", "XX groups", "string"),
    ],
)
def test_a_bad_format_is_a_clear_error(detected_type, fmt, column_type):
    plan = [ColumnTreatment("the_column", "direct_identifier", detected_type, "drop", format=fmt)]
    spec = typed_spec({"the_column": column_type})
    with pytest.raises(ValueError, match="the_column") as error:
        check_formats(plan, spec)
    message = str(error.value)
    assert "accepted formats" in message
    assert all(f in message for f in accepted_formats(detected_type, column_type))


def test_refill_takes_no_raw_values():
    parameters = list(inspect.signature(restore_source_shape).parameters)
    assert parameters == ["sampled", "spec", "plan", "seed"]
    parameters = set(inspect.signature(refill_column).parameters)
    assert not parameters & {"forbidden", "templates", "raw", "raw_identifiers", "source"}
    stage = Path(__file__).parents[1] / "synth_platform" / "defs" / "chain" / "synthetic.py"
    text = stage.read_text()
    assert 'read_table("raw"' not in text and "forbidden" not in text and "learn_template" not in text


def _table(n=2000, seed=3):
    rng = np.random.default_rng(seed)
    spec = typed_spec(
        {
            "customer_id": "string",
            "full_name": "string",
            "email": "string",
            "phone": "string",
            "ssn": "string",
            "street_address": "string",
            "sex": "category",
            "age": "integer",
        },
        key="customer_id",
    )
    plan = [
        ColumnTreatment("customer_id", "direct_identifier", "customer_id", "pseudonymize"),
        ColumnTreatment("full_name", "direct_identifier", "full_name", "drop", format="Family, Given"),
        ColumnTreatment("email", "direct_identifier", "email", "drop"),
        ColumnTreatment("phone", "direct_identifier", "phone", "drop"),
        ColumnTreatment("ssn", "direct_identifier", "ssn", "drop", format="#########"),
        ColumnTreatment("street_address", "direct_identifier", "street_address", "drop"),
        ColumnTreatment("sex", "quasi_identifier", "sex", "keep"),
        ColumnTreatment("age", "quasi_identifier", "age", "keep"),
    ]
    sampled = pd.DataFrame(
        {
            "sex": rng.choice(["Female", "Male"], n),
            "age": pd.array(rng.integers(18, 90, n), dtype="Int64"),
        }
    )
    return sampled, spec, plan


def test_same_synthetic_frame_plan_and_seed_give_the_same_refill():
    """With a person in the source or without, the refill's inputs are the same (the raw table is
    not one of them), so its output is identical: presence cannot show through the fakes."""
    sampled, spec, plan = _table()
    first = restore_source_shape(sampled, spec, plan, seed=11)
    again = restore_source_shape(sampled.copy(), spec, list(plan), seed=11)
    pd.testing.assert_frame_equal(first, again)
    assert first.attrs["refill"] == again.attrs["refill"]
    other_seed = restore_source_shape(sampled, spec, plan, seed=12)
    assert not first["customer_id"].equals(other_seed["customer_id"])
    # One column's refill does not depend on which other columns exist.
    fewer = [t for t in plan if t.column != "street_address"]
    spec_fewer = typed_spec(
        {c: spec.columns[c].type for c in spec.columns if c != "street_address"}, key="customer_id"
    )
    smaller = restore_source_shape(sampled, spec_fewer, fewer, seed=11)
    assert smaller["ssn"].equals(first["ssn"]) and smaller["customer_id"].equals(first["customer_id"])


def test_restored_table_keeps_people_consistent_and_formats():
    sampled, spec, plan = _table()
    out = restore_source_shape(sampled, spec, plan, seed=5)
    assert list(out.columns) == list(spec.columns)
    assert out["customer_id"].is_unique and out["email"].is_unique
    assert out["ssn"].str.fullmatch(r"\d{3}00\d{4}").all()
    # E-mails are made from the same fake people as the names.
    family = out["full_name"].str.split(", ").str[0].str.lower().str.replace(r"[^a-z]", "", regex=True)
    assert (out["email"].str.split("@").str[0].str.contains(".", regex=False)).all()
    local_family = (
        out["email"].str.split("@").str[0].str.split(".").str[-1].str.replace(r"\d+$", "", regex=True)
    )
    assert (local_family == family).mean() > 0.95
    report = out.attrs["refill"]
    assert set(report) == {"customer_id", "full_name", "email", "phone", "ssn", "street_address"}
    assert report["ssn"]["format"] == "#########" and report["customer_id"]["format"] == "SYN-##########"


@pytest.mark.parametrize(
    ("detected_type", "fmt"),
    [
        ("ssn", None),
        ("ssn", "#########"),
        ("credit_card", None),
        ("credit_card", "################"),
        ("phone", None),
        ("phone", "uk"),
        ("phone", "(###) ###-####"),
        ("email", None),
        ("email", "UPPER"),
        ("customer_id", None),
        ("record_id", "ACC/########"),
    ],
)
def test_format_regex_describes_every_fake(detected_type, fmt):
    from synth_platform.lib.deidentify.refill import format_regex

    pattern = format_regex(detected_type, fmt)
    assert pattern is not None
    assert _fakes(detected_type, fmt).str.fullmatch(pattern.strip("^$")).all()


def test_fake_full_names_and_streets_cannot_equal_names_built_from_real_dictionaries():
    """Family and street names are invented, outside every shipped dictionary: real names never return."""
    from synth_platform.lib.pii.name_dictionaries import dictionaries, fictional_family_names, fold

    invented = fictional_family_names()
    first, last = dictionaries()
    assert len(invented) >= 5000
    assert not {fold(w) for w in invented} & (first | last)
