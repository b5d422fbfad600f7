"""Reserved spaces in the gate's leak check: what is drawn from a declared, public reserved space
cannot be a leak; everything else keeps the strict rule.

What a user relies on: real rows that hold placeholder values (a fictional 555-01xx phone, an
example.com e-mail, an SSN of group 00) do not block an honest release whose fakes come from the
same spaces; a fake SSN that happens to equal a real 9-digit member number is no leak; but a REAL
identifier copied into a refilled column (outside its space) or into a model column is still
caught -- by the SQL scan and by the pandas rule alike, with the same counts.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.deidentify import refill
from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.gate import bounded_figures, privacy

PLAN = [
    ColumnTreatment("nº_membre", "direct_identifier", "account_number", "drop"),
    ColumnTreatment("téléphone", "direct_identifier", "phone", "drop", format="(###) ###-####"),
    ColumnTreatment("courriel", "direct_identifier", "email", "drop", format="UPPER"),
    ColumnTreatment("nir", "direct_identifier", "ssn", "drop", format="#########"),
    ColumnTreatment("nom_complet", "direct_identifier", "full_name", "drop"),
    ColumnTreatment("région", "quasi_identifier", None, "keep"),
    ColumnTreatment("remarque", "other", None, "keep"),
]
IDS = [t.column for t in PLAN if not t.reaches_model]
TYPES = {"nº_membre": "string", "téléphone": "string", "courriel": "string", "nir": "string"}
RAW, SYN = ("brut", "clients"), ("synth", "clients")
N = 240


def _real(n: int) -> pd.DataFrame:
    """A source whose first rows carry placeholder identifiers from the reserved spaces."""
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "nº_membre": [f"{100_000_000 + 7919 * i:09d}" for i in range(n)],  # 9-digit member numbers
            "téléphone": [
                f"+33 6 {i % 90 + 10:02d} {i % 97:02d} {i % 89:02d} {i % 83:02d}" for i in range(n)
            ],
            "courriel": [f"personne{i}@laposte-{i % 5}.fr" for i in range(n)],
            "nir": [f"{rng.integers(100, 899)}{rng.integers(10, 99)}{i:04d}" for i in range(n)],
            "nom_complet": [f"Žofie{i} Qwertyová{i}" for i in range(n)],
            "région": rng.choice(["Île-de-France", "Bretagne", None, "東京"], n),
            "remarque": rng.choice(["aucune", "vip", None], n),
        }
    )
    frame.loc[0:9, "téléphone"] = [f"+1 (212) 555-01{i:02d}" for i in range(10)]  # fictional phones
    frame.loc[10:19, "courriel"] = [f"Test.User{i}@Example.COM" for i in range(10)]
    frame.loc[20:29, "nir"] = [f"{300 + i}-00-{1000 + i}" for i in range(10)]  # SSN group 00
    frame.loc[30, "téléphone"] = None
    return frame


def _fakes(n: int, seed: int = 5) -> pd.DataFrame:
    """The honest synthetic table: every identifier column refilled by the real refill."""
    out = {}
    for treatment in PLAN:
        if treatment.reaches_model:
            continue
        out[treatment.column], _ = refill.refill_column(
            treatment, n, seed, TYPES.get(treatment.column, "string")
        )
    rng = np.random.default_rng(seed)
    out["région"] = rng.choice(["Bretagne", "Normandie", None], n)
    out["remarque"] = rng.choice(["aucune", "vip"], n)
    return pd.DataFrame(out)


def _placeholders_meet_fakes(real: pd.DataFrame, synthetic: pd.DataFrame) -> pd.DataFrame:
    """Make the fakes meet the real placeholders (as they all do at ten million rows)."""
    synthetic = synthetic.copy()
    synthetic.loc[0:9, "téléphone"] = [f"(212) 555-01{i:02d}" for i in range(10)]
    synthetic.loc[10:19, "courriel"] = [f"TEST.USER{i}@EXAMPLE.COM" for i in range(10)]
    synthetic.loc[20:29, "nir"] = [f"{300 + i}00{1000 + i}" for i in range(10)]
    return synthetic


def _warehouse(real: pd.DataFrame, synthetic: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for (schema, table), frame in ((RAW, real), (SYN, synthetic)):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.register("f", frame)
        con.execute(f'CREATE TABLE {schema}."{table}" AS SELECT * FROM f')
        con.unregister("f")
    return con


def _both_paths(real: pd.DataFrame, synthetic: pd.DataFrame, plan=PLAN):
    """(SQL leaks, SQL people, pandas leaks, pandas people) with the plan's reserved spaces."""
    con = _warehouse(real, synthetic)
    candidates = privacy.leak_candidates(con, SYN, RAW, IDS, plan)
    sql = privacy.identifier_leaks_of_candidates(candidates, list(synthetic.columns))
    sql_people = privacy.leaking_people_sql(con, candidates, RAW)
    reserved = privacy.reserved_spaces(plan, TYPES)
    raw_ids = [real[c] for c in IDS]
    pandas = privacy.identifier_leaks(synthetic, raw_ids, reserved)
    pandas_people = bounded_figures.leaking_people(synthetic, raw_ids, reserved)
    return sql, sql_people, pandas, pandas_people


def test_placeholder_identifiers_meeting_reserved_fakes_are_not_leaks():
    real = _real(N)
    synthetic = _placeholders_meet_fakes(real, _fakes(N))
    sql, sql_people, pandas, pandas_people = _both_paths(real, synthetic)
    assert sql.leaked_cells == pandas.leaked_cells == 0
    assert sql_people == pandas_people == 0
    # every refilled phone / e-mail / SSN / member id lies in its space, counted apart, not compared
    assert sql.columns_in_reserved_space == pandas.columns_in_reserved_space
    assert sql.columns_in_reserved_space == {"nº_membre": N, "téléphone": N, "courriel": N, "nir": N}
    assert "reserved space" in sql.rule
    # today's rule (no plan) calls these real placeholder rows leaks: the reason for the change
    assert privacy.identifier_leaks(synthetic, [real[c] for c in IDS]).leaked_cells >= 30
    assert bounded_figures.leaking_people(synthetic, [real[c] for c in IDS]) == 30


def test_a_fake_group_00_ssn_equal_to_a_real_member_number_is_no_leak():
    real = _real(N)
    synthetic = _fakes(N)
    synthetic.loc[50, "nir"] = "123004567"  # a fake SSN (group 00) ...
    real.loc[60, "nº_membre"] = "123-004-567"  # ... equal in digits to a real member number
    sql, sql_people, pandas, pandas_people = _both_paths(real, synthetic)
    assert sql.leaked_cells == pandas.leaked_cells == 0
    assert sql_people == pandas_people == 0
    assert privacy.identifier_leaks(synthetic, [real[c] for c in IDS]).columns_with_leaks == {"nir": 1}


def test_a_real_identifier_copied_outside_its_space_or_into_a_model_column_still_leaks():
    real = _real(N)
    synthetic = _placeholders_meet_fakes(real, _fakes(N))
    synthetic.loc[100, "nir"] = real.loc[100, "nir"]  # a real SSN in the refilled SSN column
    synthetic.loc[101, "téléphone"] = real.loc[101, "téléphone"].replace(" ", "")  # a real phone, re-spaced
    synthetic.loc[102, "courriel"] = real.loc[102, "courriel"].upper()  # a real e-mail, upper case
    synthetic.loc[103, "nº_membre"] = "SYN-" + real.loc[103, "nº_membre"] + "X"  # a leaky writer: outside
    synthetic.loc[104, "région"] = real.loc[104, "courriel"]  # a real e-mail in a model column
    synthetic.loc[105, "remarque"] = real.loc[105, "nº_membre"]  # a real member number in a model column
    synthetic.loc[106, "remarque"] = real.loc[3, "téléphone"]  # a fictional phone, copied: identifies nobody
    sql, sql_people, pandas, pandas_people = _both_paths(real, synthetic)
    assert sql == pandas
    leaks = {"nir": 1, "téléphone": 1, "courriel": 1, "nº_membre": 1, "région": 1, "remarque": 1}
    assert sql.columns_with_leaks == leaks
    assert sql_people == pandas_people == 6  # rows 100 to 105; the copied fictional phone is nobody


def test_without_a_plan_the_sql_scan_keeps_the_strict_rule():
    real = _real(N)
    synthetic = _placeholders_meet_fakes(real, _fakes(N))
    con = _warehouse(real, synthetic)
    candidates = privacy.leak_candidates(con, SYN, RAW, IDS)
    sql = privacy.identifier_leaks_of_candidates(candidates, list(synthetic.columns))
    assert sql == privacy.identifier_leaks(synthetic, [real[c] for c in IDS])
    assert privacy.leaking_people_sql(con, candidates, RAW) == 30


def test_a_whole_number_ssn_column_keeps_its_space_without_leading_zeros():
    spaces = privacy.reserved_spaces(PLAN, {"nir": "BIGINT"})
    assert re.fullmatch(spaces.synthetic["nir"], "12004567")  # area 012, group 00
    assert not re.fullmatch(spaces.synthetic["nir"], "12345678")
    assert "nom_complet" not in spaces.synthetic and "nom_complet" not in spaces.raw  # names: no space


@pytest.mark.parametrize(
    ("detected", "fmt", "column_type"),
    [
        ("phone", None, "string"),
        ("phone", "uk", "string"),
        ("phone", "+44 #### ######", "integer"),
        ("ssn", "### ## ####", "string"),
        ("credit_card", None, "string"),
        ("iban", "PL groups", "string"),
        ("ip_address", "ipv6", "string"),
        ("mac_address", "XX-XX-XX-XX-XX-XX", "string"),
        ("url", None, "string"),
        ("email", None, "string"),
        ("record_key", "REC/######", "string"),
        ("record_key", None, "integer"),
    ],
)
def test_every_fake_lies_in_its_declared_space_in_python_and_duckdb(detected, fmt, column_type):
    """The patterns are RE2 and Python alike, and the refill's fakes all lie inside them."""
    treatment = ColumnTreatment("x", "direct_identifier", detected, "drop", format=fmt)
    values, _ = refill.refill_column(treatment, 500, 3, column_type)
    text = pd.Series(values).astype(str)
    regex = refill.reserved_space_regex(detected, fmt, column_type)
    assert all(re.fullmatch(regex, v, re.ASCII) for v in text)
    con = duckdb.connect()
    con.register("t", pd.DataFrame({"v": text}))
    assert con.execute("SELECT bool_and(regexp_full_match(v, ?)) FROM t", [regex]).fetchone()[0]
    raw = refill.raw_reserved_regex(detected, column_type)
    if raw is not None:
        assert con.execute("SELECT bool_and(regexp_full_match(lower(v), ?)) FROM t", [raw]).fetchone()[0]
    assert not privacy.in_synthetic_space(pd.Series(["555-123-4567", "jan@example.co", None]), regex).any()
