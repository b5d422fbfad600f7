"""The private gate's cost cuts change no figure and keep nothing raw.

* The evaluation split into a package keeps both gates: the exact gate's figures are those of the
  private gate's evidence pack (its anonymeter attacks on fewer targets, said so), and the private
  gate decides on noisy figures only.
* The identifier-leak scan over the whole tables finds the planted leaks the Python rule finds,
  and keys a new landing file again (no keys kept between scans).
* The heavy imports warmed on a thread never raise: a module that fails is named.

Tables unlike the demo: Japanese and accented column names, NULLs, a clinic's and a shop's shape.
"""

from __future__ import annotations

import json
import math
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.gate import evaluation, privacy
from synth_platform.lib.gate.evaluation.checks import ANONYMETER_CHECKS, EVIDENCE_TARGETS
from synth_platform.lib.gate.evaluation.warmup import warm_imports
from synth_platform.lib.gate.private_decision import GateNoise
from synth_platform.lib.spec import DatasetSpec
from synth_platform_tests.small_gate_spec import small_gate_spec

# --- the exact gate and the private gate's evidence -----------------------------------------------

COLUMNS = {
    "会員番号": {"type": "string", "pii": {"class": "direct_identifier", "type": "customer_id"}},
    "地域": {"type": "category"},
    "生年": {"type": "integer"},
    "購入額": {"type": "float", "pii": {"class": "sensitive", "type": "income"}},
    "会員種別": {"type": "category"},
}
PLAN = [
    ColumnTreatment("会員番号", "direct_identifier", "customer_id", "drop"),
    ColumnTreatment("地域", "quasi_identifier", None, "keep"),
    ColumnTreatment("生年", "quasi_identifier", None, "keep"),
    ColumnTreatment("購入額", "sensitive", None, "keep"),
    ColumnTreatment("会員種別", "other", None, "keep"),
]


def _spec() -> DatasetSpec:
    return small_gate_spec("shop", "会員番号", COLUMNS, ["会員種別"])


def _people(rng: np.random.Generator, n: int) -> pd.DataFrame:
    spent = np.round(rng.gamma(2.0, 4000.0, n), 0)
    spent[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "地域": rng.choice(["関東", "関西", "九州", "北海道"], n),
            "生年": rng.integers(1940, 2005, n).astype("int64"),
            "購入額": spent,
            "会員種別": rng.choice(["一般", "ゴールド", "プラチナ"], n, p=[0.7, 0.2, 0.1]),
        }
    )


@pytest.fixture(scope="module")
def shop():
    rng = np.random.default_rng(7)
    train, holdout = _people(rng, 360), _people(rng, 160)
    synthetic = pd.DataFrame(
        {c: train[c].sample(len(train), replace=True, random_state=i).to_numpy() for i, c in enumerate(train)}
    )
    return train, holdout, synthetic


def _report(shop, noise) -> evaluation.GateReport:
    train, holdout, synthetic = shop
    return evaluation.evaluate(_spec(), PLAN, synthetic, train, holdout, [], noise=noise)


def _dump(figures: dict) -> str:
    return json.dumps(figures, sort_keys=True, default=str)


def test_the_private_gates_evidence_holds_the_exact_gates_figures(shop):
    """The split evaluation keeps both gates: the exact one decides on the figures the private
    one's evidence pack holds (the anonymeter attacks there on at most `EVIDENCE_TARGETS` people,
    said in their details), and the private one decides on its noisy figures only."""
    noise = GateNoise(b"shop-key", "shop-model", "shop-synthetic", 0.01, evaluation="shop-eval")
    private, exact = _report(shop, noise), _report(shop, None)
    assert private.private and not exact.private
    assert [o.name for o in private.outcomes] == [o.name for o in exact.outcomes]
    held = {o.name: o for o in private.outcomes}
    for outcome in exact.outcomes:
        evidence = held[outcome.name]
        if outcome.name in ANONYMETER_CHECKS:
            capped = evidence.details["targets_capped"]
            assert capped["spec_anonymeter_attacks"] == 200 and capped["used"] == EVIDENCE_TARGETS
            assert evidence.details["rows_evaluated"] <= EVIDENCE_TARGETS < outcome.details["rows_evaluated"]
            continue
        assert "targets_capped" not in evidence.details and "targets_capped" not in outcome.details
        assert (evidence.figure, evidence.ci) == (outcome.figure, outcome.ci) or (
            math.isnan(outcome.figure) and math.isnan(evidence.figure)
        ), outcome.name
        assert evidence.details.get("exact_passed", outcome.passed) == outcome.passed, outcome.name
    for outcome in private.outcomes:  # what decides and leaves: the noisy figure of every real-data check
        assert outcome.public or outcome.noisy is not None, outcome.name
        if outcome.noisy is not None:
            assert outcome.passed == outcome.noisy.passed, outcome.name


# --- the identifier-leak scan over the whole tables --------------------------------------------

RAW = ("raw", "boutique")
SYNTHETIC = ("synthetic", "boutique")
IDENTIFIERS = ["nom complet", "téléphone", "courriel"]
NAMES = ["Zoë Dubois-Ñúñez", "Jean Martin", "Amélie Poulain", "Søren Kierkegaard", "Łukasz Żółć"]


def _raw(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    phones = [
        f"+33 6 {rng.integers(10, 99)} {rng.integers(10, 99)} {rng.integers(10, 99)} 4{i % 10}"
        for i in range(rows)
    ]
    frame = pd.DataFrame(
        {
            "nom complet": [f"{NAMES[i % len(NAMES)]} {i:03d}" for i in range(rows)],
            "téléphone": phones,
            "courriel": [f"client.{i}@boutique-privée.fr" for i in range(rows)],
            "ville": rng.choice(["Lyon", "Nîmes", "Brest"], rows),
        }
    )
    frame.loc[3, "téléphone"] = None
    frame.loc[5, "courriel"] = None
    return frame


def _synthetic(raw: pd.DataFrame) -> pd.DataFrame:
    """Fakes, plus planted leaks: a name re-spaced and in capitals, a phone re-punctuated, an e-mail
    copied as it is, and one raw name in the wrong column."""
    n = 40
    frame = pd.DataFrame(
        {
            "nom complet": [f"Inventé Personne {i}" for i in range(n)],
            "téléphone": [f"+33 7 00 00 00 {i:02d}" for i in range(n)],
            "courriel": [f"faux.{i}@example.com" for i in range(n)],
            "ville": ["Lyon"] * n,
        }
    )
    first, last, number = raw.loc[10, "nom complet"].rsplit(" ", 2)
    frame.loc[0, "nom complet"] = f"  {first.upper()}  {last} {number} "
    frame.loc[1, "téléphone"] = raw.loc[12, "téléphone"].replace(" ", ".")
    frame.loc[2, "courriel"] = raw.loc[14, "courriel"]
    frame.loc[3, "ville"] = raw.loc[20, "nom complet"]
    frame.loc[4, "téléphone"] = None
    return frame


def _warehouse(raw: pd.DataFrame, synthetic: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for (schema, table), frame in ((RAW, raw), (SYNTHETIC, synthetic)):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.register("__frame", frame)
        con.execute(f'CREATE TABLE {schema}."{table}" AS SELECT * FROM __frame')
        con.unregister("__frame")
    return con


def _judged(con) -> tuple:
    candidates = privacy.leak_candidates(con, SYNTHETIC, RAW, IDENTIFIERS, None)
    columns = list(privacy.table_columns(con, *SYNTHETIC))
    return privacy.identifier_leaks_of_candidates(candidates, columns), privacy.leaking_people_sql(
        con, candidates, RAW
    )


def test_the_leak_scan_finds_the_planted_leaks_as_the_rule_does():
    """A re-spaced name in capitals, a re-punctuated phone, a copied e-mail and a name in the wrong
    column: four source people, the counts the Python rule gives on the whole tables."""
    raw = _raw()
    synthetic = _synthetic(raw)
    con = _warehouse(raw, synthetic)
    leaks, people = _judged(con)
    assert leaks.leaked_cells >= 4 and people == 4, (leaks, people)
    assert leaks == privacy.identifier_leaks(synthetic, [raw[c] for c in IDENTIFIERS])


def test_a_new_landing_file_is_keyed_again():
    """Nothing from an earlier scan is reused: a raw e-mail that now equals a synthetic one is a leak."""
    raw = _raw()
    con = _warehouse(raw, _synthetic(raw))
    _, before = _judged(con)
    con.execute(
        'UPDATE raw."boutique" SET courriel = ? WHERE courriel = ?',
        ["faux.7@example.com", "client.30@boutique-privée.fr"],
    )
    _, after = _judged(con)
    assert after == before + 1


# --- warmed imports -------------------------------------------------------------------------------


def test_warmed_imports_name_a_failure_and_never_raise():
    with warm_imports(("colorsys", "no_such_module_for_the_gate")) as failures:
        pass
    assert "colorsys" in sys.modules
    assert failures == ["no_such_module_for_the_gate: ModuleNotFoundError"]
