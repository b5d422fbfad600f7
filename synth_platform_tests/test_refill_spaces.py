"""Refill that cannot run out and reads no raw value, and a leak check that means 'identifies'.

The leak check (`privacy.identifier_leaks`) is the gate's restricted side: it alone compares
the synthetic table with raw identifiers. The refill never does (see test_refill_reserved.py).
"""

import re

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.deidentify.refill import ReservedFaker, restore_source_shape
from synth_platform.lib.gate.privacy import identifier_leaks
from synth_platform_tests.conftest import typed_spec


def test_integer_key_is_refilled_with_negative_numbers_that_cannot_run_out():
    n = 1000
    spec = typed_spec({"k": "integer", "x": "float"}, key="k")
    plan = [
        ColumnTreatment("k", "direct_identifier", "record_id", "pseudonymize"),
        ColumnTreatment("x", "other", None, "keep"),
    ]
    sampled = pd.DataFrame({"x": np.linspace(0, 1, n)})
    out = restore_source_shape(sampled, spec, plan, seed=3)
    assert str(out["k"].dtype) == "Int64"
    assert out["k"].is_unique and out["k"].notna().all()
    assert (out["k"] < 0).all()  # the sign is the declared prefix: no real key is negative


def test_short_id_patterns_are_widened_not_exhausted():
    faker = ReservedFaker(np.random.default_rng(1))
    codes, pattern = faker.ids(3000, "A-######")
    codes = pd.Series(codes)
    assert pattern.startswith("A-") and pattern.count("#") >= 6
    assert codes.is_unique and codes.str.fullmatch(r"A-\d{6,}").all()
    many, wider = faker.ids(300_000, "A-######")  # 9e5 ids < 4 x the rows
    assert wider.count("#") > 6 and pd.Series(many).is_unique


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


def test_reserved_fakes_never_meet_realistic_identifiers_in_the_leak_check():
    """Fakes from reserved spaces cannot equal a real-looking identifier in any written form."""
    spec = typed_spec(
        {"k": "string", "e": "string", "p": "string", "s": "string", "c": "string", "x": "integer"}
    )
    plan = [
        ColumnTreatment("k", "direct_identifier", "customer_id", "pseudonymize"),
        ColumnTreatment("e", "direct_identifier", "email", "drop"),
        ColumnTreatment("p", "direct_identifier", "phone", "drop"),
        ColumnTreatment("s", "direct_identifier", "ssn", "drop"),
        ColumnTreatment("c", "direct_identifier", "credit_card", "drop"),
        ColumnTreatment("x", "other", None, "keep"),
    ]
    out = restore_source_shape(pd.DataFrame({"x": pd.array(range(2000), dtype="Int64")}), spec, plan, seed=9)
    rng = np.random.default_rng(0)
    realistic = [
        pd.Series([f"CUST-{i:07d}" for i in range(1, 2001)]),
        pd.Series([f"person{i}@mail.test" for i in range(2000)]),
        pd.Series(
            [
                f"{a}-{b}-{c:04d}"
                for a, b, c in zip(
                    rng.integers(201, 999, 2000),
                    rng.integers(201, 999, 2000),
                    rng.integers(0, 9999, 2000),
                    strict=True,
                )
            ]
        ),
        pd.Series(
            [
                f"{a:03d}-{g:02d}-{s:04d}"
                for a, g, s in zip(
                    rng.integers(1, 899, 2000),
                    rng.integers(1, 99, 2000),
                    rng.integers(1, 9999, 2000),
                    strict=True,
                )
            ]
        ),
        pd.Series(["4" + "".join(map(str, rng.integers(0, 10, 15))) for _ in range(2000)]),
    ]
    assert identifier_leaks(out, realistic).leaked_cells == 0


def test_dropped_free_text_is_refilled_with_no_real_word():
    notes = pd.Series([f"Called Mrs Whitfield about invoice {i}, she moved to Leeds" for i in range(300)])
    spec = typed_spec({"note": "string", "x": "integer"})
    plan = [
        ColumnTreatment("note", "direct_identifier", "free_text", "drop"),
        ColumnTreatment("x", "other", None, "keep"),
    ]
    sampled = pd.DataFrame({"x": pd.array(range(300), dtype="Int64")})
    out = restore_source_shape(sampled, spec, plan, seed=1)
    real_words = {w.lower() for note in notes for w in re.findall(r"[A-Za-z]{4,}", note)}
    fake_words = {w.lower() for note in out["note"] for w in re.findall(r"[A-Za-z]{4,}", note)}
    assert fake_words and not (fake_words & real_words)
    assert out["note"].nunique() > 250


def test_refill_of_many_rows_is_vectorised():
    import time

    n = 200_000
    spec = typed_spec(
        {"k": "string", "name": "string", "mail": "string", "tel": "string", "ssn": "string", "x": "integer"}
    )
    plan = [
        ColumnTreatment("k", "direct_identifier", "customer_id", "pseudonymize"),
        ColumnTreatment("name", "direct_identifier", "full_name", "drop"),
        ColumnTreatment("mail", "direct_identifier", "email", "drop"),
        ColumnTreatment("tel", "direct_identifier", "phone", "drop"),
        ColumnTreatment("ssn", "direct_identifier", "ssn", "drop"),
        ColumnTreatment("x", "other", None, "keep"),
    ]
    started = time.perf_counter()
    out = restore_source_shape(pd.DataFrame({"x": pd.array(np.arange(n), dtype="Int64")}), spec, plan, seed=2)
    assert time.perf_counter() - started < 30  # ~2 s on one core; a per-row loop would take minutes
    assert out["k"].is_unique and out["mail"].is_unique and out["ssn"].is_unique
