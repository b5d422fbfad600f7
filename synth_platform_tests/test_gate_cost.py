"""The private gate's cost cuts change no figure and keep nothing raw.

* The evaluation split into a package keeps both gates: the exact gate's figures are those of the
  private gate's evidence pack (its anonymeter attacks on fewer targets, said so), and the private
  gate decides on noisy figures only.
* The raw identifiers' match keys are cached once per source as keyed digests
  (`lib/gate/leak_key_cache`): the leak scan finds the same candidates, leaks and leaking people
  with and without the cache; a new raw table or a new platform key rebuilds it; the cache holds
  no raw value and no match key.
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
from synth_platform.lib.gate import evaluation, leak_key_cache, privacy
from synth_platform.lib.gate.evaluation.checks import ANONYMETER_CHECKS, EVIDENCE_TARGETS
from synth_platform.lib.gate.evaluation.warmup import warm_imports
from synth_platform.lib.gate.private_decision import GateNoise
from synth_platform.lib.spec import DatasetSpec

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
    return DatasetSpec.model_validate(
        {
            "name": "shop",
            "source": {"landing_dir": "landing/shop", "format": "parquet"},
            "key": "会員番号",
            "columns": COLUMNS,
            "synthesizer": {"kind": "gaussian_copula"},
            "privacy": {"epsilon_budget": None},
            "checks": {
                "min_holdout_rows": 50,
                "min_evaluation_rows": 50,
                "anonymeter_attacks": 200,
                "evaluation_rows": 400,
            },
            "utility": {"targets": ["会員種別"], "max_gap": 0.5},
        }
    )


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


# --- the raw identifiers' keys, cached as keyed digests -----------------------------------------

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


def _candidates(con, cached=None) -> privacy.LeakCandidates:
    return privacy.leak_candidates(con, SYNTHETIC, RAW, IDENTIFIERS, None, cached=cached)


def _normalised(candidates: privacy.LeakCandidates) -> tuple:
    synthetic = {
        c: sorted(map(tuple, f.astype(str).to_numpy().tolist())) for c, f in candidates.synthetic.items()
    }
    raw = {c: sorted(map(str, v.tolist())) for c, v in candidates.raw.items() if len(v)}
    return synthetic, raw


def _judged(con, candidates) -> tuple:
    columns = list(privacy.table_columns(con, *SYNTHETIC))
    return privacy.identifier_leaks_of_candidates(candidates, columns), privacy.leaking_people_sql(
        con, candidates, RAW
    )


def test_cached_keys_find_the_same_leaks_as_keying_the_raw_values():
    raw = _raw()
    con = _warehouse(raw, _synthetic(raw))
    keyed = _candidates(con)
    cached = leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"platform-key", eager=True)
    assert cached is not None
    from_cache = _candidates(con, cached)
    assert _normalised(from_cache) == _normalised(keyed)
    leaks, people = _judged(con, from_cache)
    assert (leaks, people) == _judged(con, keyed)
    # the planted leaks are found: a re-spaced name, a re-punctuated phone, a copied e-mail, a name
    # in the wrong column; four source people
    assert leaks.leaked_cells >= 4 and people == 4, (leaks, people)


def test_the_cache_holds_no_raw_value_and_no_match_key():
    raw = _raw()
    con = _warehouse(raw, _synthetic(raw))
    leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"platform-key", eager=True)
    keys = con.execute(f"SELECT v, k FROM ({privacy.raw_keys_sql(con, RAW, IDENTIFIERS)})").fetchall()
    secrets = {str(x) for row in keys for x in row if x and len(str(x)) >= 4}
    secrets |= {str(v) for c in IDENTIFIERS for v in raw[c].dropna()}
    secrets |= {part for name in NAMES for part in name.split()} - {"Jean"}  # words of 4+ letters
    stored = []
    for table in (leak_key_cache.DIGESTS, leak_key_cache.SOURCES):
        frame = con.execute(f"SELECT * FROM {leak_key_cache.SCHEMA}.{table}").df()
        stored += [str(v) for v in frame.to_numpy().ravel()]
    assert len(stored) > 100
    found = [s for s in secrets if any(s.lower() in cell.lower() for cell in stored)]
    assert found == []
    # digests are keyed: another platform key gives other digests for the same values
    other = _warehouse(raw, _synthetic(raw))
    leak_key_cache.ensure(other, "boutique", RAW, IDENTIFIERS, None, b"another-key", eager=True)
    mine = set(con.execute(f"SELECT kd FROM {leak_key_cache.SCHEMA}.{leak_key_cache.DIGESTS}").fetchall())
    theirs = set(other.execute(f"SELECT kd FROM {leak_key_cache.SCHEMA}.{leak_key_cache.DIGESTS}").fetchall())
    assert mine and theirs and not (mine & theirs)


def _copy_into_source(con) -> None:
    """A new landing file: one raw e-mail is now one the synthetic table holds (a new leak)."""
    con.execute(
        'UPDATE raw."boutique" SET courriel = ? WHERE courriel = ?',
        ["faux.7@example.com", "client.30@boutique-privée.fr"],
    )


def _identities(con) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            f"SELECT identity FROM {leak_key_cache.SCHEMA}.{leak_key_cache.SOURCES}"
        ).fetchall()
    ]


def test_a_new_source_or_a_new_key_rebuilds_the_cache():
    raw = _raw()
    con = _warehouse(raw, _synthetic(raw))
    first = leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"platform-key", eager=True)
    assert (
        leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"platform-key", eager=True) == first
    )
    # a new landing file: one cell changed, and it is now copied by the synthetic table
    _copy_into_source(con)
    assert leak_key_cache.lookup(con, "boutique", RAW, IDENTIFIERS, {}, b"platform-key") is None
    stale = _candidates(con, first)  # the old digests miss the new value: never used once stale
    fresh = leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"platform-key", eager=True)
    assert fresh.identity != first.identity and _identities(con) == [fresh.identity]
    assert _normalised(_candidates(con, fresh)) == _normalised(_candidates(con))
    assert _judged(con, _candidates(con, fresh))[1] == 5  # the new copy is a fifth leaking person
    assert _judged(con, stale)[1] == 4
    # a new platform key: the old digests are not current for it, and are replaced
    assert leak_key_cache.lookup(con, "boutique", RAW, IDENTIFIERS, {}, b"new-key") is None
    rekeyed = leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"new-key", eager=True)
    assert rekeyed.identity not in (first.identity, fresh.identity)
    assert _identities(con) == [rekeyed.identity]
    assert leak_key_cache.lookup(con, "boutique", RAW, IDENTIFIERS, {}, b"platform-key") is None
    assert _normalised(_candidates(con, rekeyed)) == _normalised(_candidates(con))


def _digests(con) -> int:
    return con.execute(f"SELECT count(*) FROM {leak_key_cache.SCHEMA}.{leak_key_cache.DIGESTS}").fetchall()[
        0
    ][0]


def test_a_source_judged_once_pays_nothing_and_the_second_gate_builds_the_cache():
    raw = _raw()
    con = _warehouse(raw, _synthetic(raw))
    assert leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"platform-key") is None
    assert _digests(con) == 0  # seen: an identity, no digest
    second = leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"platform-key")
    assert second is not None and _digests(con) > 0
    assert leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"platform-key") == second
    _copy_into_source(con)  # a new source: seen again first, its old digests dropped
    assert leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"platform-key") is None
    assert _digests(con) == 0


def test_the_gate_inputs_use_the_cache_only_when_it_is_current():
    """`read_gate_inputs` checks the cache itself: a stale cache (the raw table changed after it
    was built) is not used, so the leak figures are those of keying the raw values."""
    raw = _raw()
    con = _warehouse(raw, _synthetic(raw))
    leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, None, b"platform-key", eager=True)
    _copy_into_source(con)
    from synth_platform.lib.gate.evaluation.inputs import _cached_leak_keys

    plan = [ColumnTreatment(c, "direct_identifier", "name", "drop") for c in IDENTIFIERS]
    assert _cached_leak_keys(con, plan, RAW, IDENTIFIERS, ("boutique", b"platform-key")) is None
    leak_key_cache.ensure(con, "boutique", RAW, IDENTIFIERS, plan, b"platform-key", eager=True)
    assert _cached_leak_keys(con, plan, RAW, IDENTIFIERS, ("boutique", b"platform-key")) is not None
    assert _cached_leak_keys(con, plan, RAW, IDENTIFIERS, None) is None


# --- warmed imports -------------------------------------------------------------------------------


def test_warmed_imports_name_a_failure_and_never_raise():
    with warm_imports(("colorsys", "no_such_module_for_the_gate")) as failures:
        pass
    assert "colorsys" in sys.modules
    assert failures == ["no_such_module_for_the_gate: ModuleNotFoundError"]
