"""The release gate across tables, the refill of identifier columns, and all-or-nothing release.

A clinic schema unlike the demo: unicode text person keys, a ward lookup with unicode keys, a
child (stays, integer keys, a phone column) and a grandchild without a key (doses), and coarse
columns everywhere -- so every single row is common, while a person's rows together (how many
stays, their mean length, how many doses) are nearly unique. One honest fit per module at a
generous epsilon and few mbi iterations keeps it cheap; the copier and the link-table schema
need no fit."""

from __future__ import annotations

import math
import re

import duckdb
import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.deidentify.refill import reserved_space_regex
from synth_platform.lib.gate import bounded_figures as bf
from synth_platform.lib.gate.private_decision import GateNoise
from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational import gate
from synth_platform.lib.relational.demo_schema import load_tables
from synth_platform.lib.relational.person_split import split_by_person
from synth_platform.lib.relational.pseudonyms import pseudonymise
from synth_platform.lib.relational.schema_spec import parse_schema_spec
from synth_platform.lib.relational.synthesizer import RelationalSynthesizer, model_columns

SECRET = b"clinic-platform-key"
WARDS = ["Süd-Ä", "Nord-Ø", "Ost-Ł"]
DRUGS = ["Öl-mab", "Ñ-lol", "ß-pril", "aspirin"]
K_STAYS, K_DOSES = 3, 4


def clinic_spec():
    return parse_schema_spec(
        {
            "name": "clinic",
            "person": "patients",
            "tables": {
                "wards": {
                    "primary_key": "ward",
                    "lookup": True,
                    "columns": {"ward": {"type": "string"}, "floor": {"type": "integer"}},
                },
                "patients": {
                    "primary_key": "patient_ref",
                    "columns": {
                        "patient_ref": {"type": "string"},
                        "full_name": {
                            "type": "string",
                            "pii": {"class": "direct_identifier", "type": "name"},
                        },
                        "e-mail": {"type": "string", "pii": {"class": "direct_identifier", "type": "email"}},
                        "sex": {"type": "category", "categories": ["f", "m"]},
                        "band": {"type": "category", "categories": ["kid", "adult", "senior"]},
                    },
                },
                "stays": {
                    "primary_key": "stay_no",
                    "columns": {
                        "stay_no": {"type": "integer"},
                        "patient_ref": {"type": "string"},
                        "ward": {"type": "string"},
                        "los": {"type": "integer", "bounds": [1, 6]},
                        "contact_phone": {
                            "type": "string",
                            "pii": {"class": "direct_identifier", "type": "phone"},
                        },
                    },
                },
                "doses": {
                    "columns": {
                        "stay_no": {"type": "integer"},
                        "drug": {"type": "category", "categories": DRUGS},
                        "mg": {"type": "integer", "bounds": [1, 3]},
                    }
                },
            },
            "foreign_keys": [
                {"column": "stays.ward", "references": "wards.ward"},
                {
                    "column": "stays.patient_ref",
                    "references": "patients.patient_ref",
                    "max_children": K_STAYS,
                },
                {"column": "doses.stay_no", "references": "stays.stay_no", "max_children": K_DOSES},
            ],
        }
    )


def clinic_tables(patients: int = 700, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Coarse rows, identifying combinations; planted identifiers (names, e-mails, phones)."""
    rng = np.random.default_rng(seed)
    refs = [f"Ünal-{seed}-{i:04d}" for i in range(patients)]
    band = rng.choice(["kid", "adult", "senior"], patients, p=[0.2, 0.5, 0.3])
    people = pd.DataFrame(
        {
            "patient_ref": refs,
            "full_name": [f"Zsófia Kovács-Ñúñez {seed}x{i}" for i in range(patients)],
            "e-mail": [f"planted.patient{seed}x{i}@klinik-süd.de" for i in range(patients)],
            "sex": rng.choice(["f", "m"], patients),
            "band": band,
        }
    )
    per = np.where(band == "senior", rng.integers(1, 4, patients), rng.integers(0, 3, patients))
    owner = np.repeat(np.arange(patients), per)
    stays = pd.DataFrame(
        {
            "stay_no": np.arange(1, owner.size + 1) + 1000 * seed,
            "patient_ref": [refs[i] for i in owner],
            "ward": rng.choice(WARDS, owner.size),
            "los": rng.integers(1, 7, owner.size),
            "contact_phone": [f"+49 30 {7_000_000 + 13 * i + seed}" for i in range(owner.size)],
        }
    )
    doses_per = rng.integers(0, 5, owner.size)
    doses = pd.DataFrame(
        {
            "stay_no": np.repeat(stays["stay_no"].to_numpy(), doses_per),
            "drug": rng.choice(DRUGS, int(doses_per.sum())),
            "mg": rng.integers(1, 4, int(doses_per.sum())),
        }
    )
    wards = pd.DataFrame({"ward": WARDS, "floor": [1, 2, 3]})
    return {"wards": wards, "patients": people, "stays": stays, "doses": doses}


def _without_helpers(con, relations: dict[str, str], schema: str) -> dict[str, str]:
    """Views of split tables without the bounding's helper columns (what a synthesizer reads)."""
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    out = {}
    for name, relation in relations.items():
        columns = [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()]
        keep = ", ".join(f'"{c}"' for c in columns if c not in contrib.HELPER_COLUMNS)
        con.execute(f'CREATE OR REPLACE VIEW "{schema}"."{name}" AS SELECT {keep} FROM {relation}')
        out[name] = f'"{schema}"."{name}"'
    return out


def _prepare(con, spec, frames):
    """Raw -> consistent pseudonyms -> contribution bounds -> split by person."""
    raw = load_tables(con, frames, "raw")
    masked = pseudonymise(con, spec, raw, SECRET, "masked")
    bounds = contrib.required_bounds(spec)
    bounded, report = contrib.bound_contributions(con, spec, masked, "bounded", bounds)
    split = split_by_person(con, spec, bounded, SECRET, "train", "holdout", fraction=0.4)
    return split, report


def _noise(rho: float, synthetic: str = "syn") -> GateNoise:
    return GateNoise(key=b"gate-key", model_sha256="model", synthetic_sha256=synthetic, rho=rho)


@pytest.fixture(scope="module")
def clinic():
    con = duckdb.connect()
    spec = clinic_spec()
    frames = clinic_tables()
    split, report = _prepare(con, spec, frames)
    train = _without_helpers(con, split.train, "train_plain")
    synthesizer = RelationalSynthesizer(spec, epsilon=40.0, iters=30).fit(con, train, scratch="fit")
    sample = synthesizer.sample(seed=5)
    synthetic = load_tables(con, sample, "synthetic")
    yield con, spec, frames, split, report, synthesizer, sample, synthetic
    con.close()


def test_an_honest_schema_passes_and_is_released_whole(clinic):
    con, spec, _, split, report, _, _, synthetic = clinic
    result = gate.evaluate_schema(
        con, spec, split.train, split.holdout, synthetic, report.bounds, _noise(1.0), scratch="g1"
    )
    names = {v.name for v in result.verdicts}
    assert {"orphans", "holdout_people", "profile_exact_copies", "profile_close_copies"} <= names
    assert "children_per_parent:doses.stay_no" in names and "pair_trends:stays.patient_ref" in names
    failed = [(v.name, round(v.value, 4), v.threshold) for v in result.verdicts if not v.passed]
    assert not failed, failed
    decision = gate.schema_verdict(result.verdicts, spec.tables)
    assert decision.release and set(decision.tables) == set(spec.tables)


def _copier(con, spec, split, honest: dict[str, pd.DataFrame], share: float) -> dict[str, pd.DataFrame]:
    """A leaky "synthesizer": an honest sample plus whole training people -- their row and every
    stay and dose of theirs -- copied with fresh keys (nothing else changed)."""
    plain = _without_helpers(con, split.train, "copy_src")
    people = con.execute(f"SELECT * FROM {plain['patients']} ORDER BY patient_ref").df()
    chosen = people.iloc[: int(len(people) * share)].copy()
    new_ref = {old: f"copy-{i}" for i, old in enumerate(chosen["patient_ref"])}
    stays = con.execute(f"SELECT * FROM {plain['stays']}").df()
    stays = stays[stays["patient_ref"].isin(new_ref)].copy()
    new_stay = {old: 9_000_000 + i for i, old in enumerate(stays["stay_no"])}
    doses = con.execute(f"SELECT * FROM {plain['doses']}").df()
    doses = doses[doses["stay_no"].isin(new_stay)].copy()
    chosen["patient_ref"] = chosen["patient_ref"].map(new_ref)
    stays["patient_ref"], stays["stay_no"] = stays["patient_ref"].map(new_ref), stays["stay_no"].map(new_stay)
    doses["stay_no"] = doses["stay_no"].map(new_stay)
    copied = {"patients": chosen, "stays": stays, "doses": doses}
    return {
        name: pd.concat([honest[name], copied[name]], ignore_index=True) if name in copied else honest[name]
        for name in honest
    }


def _row_copy_excess(con, spec, split, leaky: dict[str, str], table: str) -> float:
    """The single-table exact-copy figure: share of training rows with an identical synthetic row,
    minus the same share of holdout rows (model columns only)."""
    columns = model_columns(spec, table)
    frames = [con.execute(f"SELECT * FROM {side[table]}").df() for side in (split.train, split.holdout)]
    synthetic = con.execute(f"SELECT * FROM {leaky[table]}").df()
    shares = [bf.exact_copy_hits(f, synthetic, columns) / max(len(f), 1) for f in frames]
    return shares[0] - shares[1]


def test_a_copier_of_whole_people_is_blocked_by_the_joined_profile(clinic):
    con, spec, _, split, report, _, sample, _ = clinic
    leaky = load_tables(con, _copier(con, spec, split, sample, share=0.3), "leaky")
    # every table alone looks fine: its rows are common, copied or not
    for table in ("patients", "stays", "doses"):
        assert abs(_row_copy_excess(con, spec, split, leaky, table)) < 0.05, table
    result = gate.evaluate_schema(
        con, spec, split.train, split.holdout, leaky, report.bounds, _noise(1.0, "leaky"), scratch="g2"
    )
    verdicts = {v.name: v for v in result.verdicts}
    assert verdicts["orphans"].passed  # the copy is referentially intact
    exact = verdicts["profile_exact_copies"]
    assert not exact.passed and exact.value > 0.15, exact
    assert not gate.schema_verdict(result.verdicts, spec.tables).release


def test_an_orphan_is_caught_and_nothing_is_released(clinic):
    con, spec, _, split, report, _, sample, _ = clinic
    planted = {name: frame.copy() for name, frame in sample.items()}
    planted["doses"].loc[len(planted["doses"])] = [-42, DRUGS[0], 2]  # a dose of no stay
    tables = load_tables(con, planted, "orphaned")
    result = gate.evaluate_schema(
        con, spec, split.train, split.holdout, tables, report.bounds, _noise(1.0, "orphan"), scratch="g3"
    )
    orphans = next(v for v in result.verdicts if v.name == "orphans")
    assert orphans.value == 1 and not orphans.passed and orphans.rho == 0.0
    decision = gate.schema_verdict(result.verdicts, spec.tables)
    assert not decision.release and decision.tables == () and "orphans" in decision.blocked_by


def test_schema_verdict_releases_all_or_none():
    ok = [gate.Verdict("a", 0.0, 1.0, True), gate.Verdict("table:stays/quality", 0.9, 0.75, True)]
    assert gate.schema_verdict(ok, ["x", "y"]) == gate.SchemaDecision(True, ("x", "y"), ())
    one_bad = [*ok, gate.Verdict("table:doses/exact_copies", 0.2, 0.0, False)]
    decision = gate.schema_verdict(one_bad, ["x", "y"])
    assert decision == gate.SchemaDecision(False, (), ("table:doses/exact_copies",))
    assert not gate.schema_verdict([], ["x"]).release  # no evidence, no release


def test_refilled_identifiers_hold_no_real_value(clinic):
    _, spec, frames, _, _, synthesizer, sample, _ = clinic
    assert list(sample["patients"].columns) == list(spec.tables["patients"].columns)
    assert list(sample["stays"].columns) == list(spec.tables["stays"].columns)
    emails, phones = sample["patients"]["e-mail"], sample["stays"]["contact_phone"]
    assert emails.notna().all() and emails.str.fullmatch(reserved_space_regex("email", None)).all()
    assert phones.notna().all() and phones.str.fullmatch(reserved_space_regex("phone", None)).all()
    assert sample["patients"]["full_name"].str.fullmatch(r"\S+ \S+").all()
    assert emails.is_unique
    real = set()
    for column in ("full_name", "e-mail"):
        real |= set(frames["patients"][column])
    real |= set(frames["stays"]["contact_phone"])
    real_families = {name.split()[1] for name in frames["patients"]["full_name"]}
    for name, frame in sample.items():  # every output table, every cell
        cells = {str(v) for v in frame.to_numpy().ravel()}
        assert not cells & real, name
        assert not any(re.search(r"klinik|Kovács|planted|\+49", c) for c in cells), name
    assert not {n.split()[1] for n in sample["patients"]["full_name"]} & real_families
    assert set(synthesizer.refill_report["patients"]) == {"full_name", "e-mail"}


def test_chunked_sampling_keeps_keys_unique_and_resolving(clinic):
    con, spec, _, _, _, synthesizer, sample, _ = clinic
    chunks = list(synthesizer.sample_chunks(seed=5, people=len(sample["patients"]), chunk_people=97))
    assert len(chunks) == -(-len(sample["patients"]) // 97)
    assert "wards" in chunks[0] and all("wards" not in c for c in chunks[1:])
    whole = {
        name: pd.concat([c[name] for c in chunks if name in c], ignore_index=True) for name in spec.tables
    }
    for table in ("patients", "stays"):
        pk = spec.tables[table].primary_key
        assert whole[table][pk].is_unique, table
    assert whole["patients"]["e-mail"].is_unique  # unique identifiers stay unique across chunks
    relations = load_tables(con, whole, "chunked")
    from synth_platform.lib.relational.fidelity import orphans

    assert sum(orphans(con, spec, relations).values()) == 0
    # one chunk is the one-frame sample, row for row
    single = synthesizer.sample(seed=5, people=len(sample["patients"]))
    assert all(single[name].equals(sample[name]) for name in spec.tables)


def test_the_rho_charged_is_what_the_sensitivities_say():
    """On a schema with a many-to-many link (the library of `test_relational_keys`): every noisy
    figure's sigma is its per-person sensitivity over sqrt(2 rho), the sensitivities follow from the
    bounds, and the parts add up to the gate's rho."""
    from synth_platform_tests.test_relational_keys import library_spec, library_tables

    con = duckdb.connect()
    spec = library_spec()
    split, report = _prepare(con, spec, library_tables(members=300, seed=4))
    fresh = library_tables(members=200, seed=9)  # a stand-in synthetic schema (no fit needed)
    synthetic = load_tables(con, fresh, "synthetic")
    rho = 0.5
    result = gate.evaluate_schema(
        con, spec, split.train, split.holdout, synthetic, report.bounds, _noise(rho)
    )
    m = report.multiplicity
    assert m == {"members": 1, "loans": 3, "fines": 6, "cards": 2, "members_cards": 2}
    verdicts = {v.name: v for v in result.verdicts}
    expected = {
        "children_per_parent:loans.member_code": m["members"],
        "children_per_parent:fines.loan_no": m["loans"],
        # holders per card: a member adds a holder to each of their cards (one cell up each)
        "children_per_parent:members_cards.card_id": math.sqrt(2) * m["members_cards"],
        # a person's holdings: their own entries only (nobody else's holdings depend on them)
        "children_per_parent:members_cards.member_code": m["members"],
        "pair_trends:loans.member_code": m["members"] * math.sqrt(2),  # tier, branch x count
        "pair_trends:fines.loan_no": m["loans"] * math.sqrt(2),  # genre x (count, mean amount)
        "pair_trends:members_cards.card_id": math.sqrt(2) * m["members_cards"],  # colour x holders
        "holdout_people": 1.0,
    }
    for name, sensitivity in expected.items():
        v = verdicts[name]
        assert v.sensitivity == pytest.approx(sensitivity), name
        assert v.sigma == pytest.approx(sensitivity / math.sqrt(2 * v.rho)), name
    for name in ("profile_exact_copies", "profile_close_copies"):
        v = verdicts[name]
        m_t, m_h = v.noisy.parts["train_people"], v.noisy.parts["holdout_people"]
        cuts = 1 if name == "profile_exact_copies" else len(bf.CLOSE_CUTS)
        per_side = [math.sqrt(cuts) / size / math.sqrt(2 * v.rho) for size in (m_t, m_h)]
        assert v.sigma == pytest.approx(math.hypot(*per_side)), name
    assert "pair_trends:members_cards.member_code" not in verdicts  # co-holders: not the parent's rows
    assert verdicts["orphans"].rho == 0.0 and not verdicts["orphans"].passed  # a dangling loan in `fresh`
    assert sum(v.rho for v in result.verdicts) == pytest.approx(rho) == result.rho_charged
    # keyed noise: the same evaluation draws the same figures (re-running cannot average it away)
    again = gate.evaluate_schema(con, spec, split.train, split.holdout, synthetic, report.bounds, _noise(rho))
    assert [v.value for v in again.verdicts] == [v.value for v in result.verdicts]
    # the weights are public: a function of the spec and the bounds only
    assert {n: p["weight"] for n, p in gate.gate_plan(spec, report.bounds).items()} == {
        n: v.rho / rho for n, v in verdicts.items() if n != "orphans"
    }
    con.close()


def test_profile_sample_of_people_moves_by_one_person_at_most():
    """The people whose joined profiles the gate builds are a keyed top-k of their person keys
    (unicode, in DuckDB): removing a sampled person swaps at most one person in; removing an
    unsampled one changes nothing; the same key gives the same people."""
    from synth_platform.lib.relational.figures.profiles import sample_people

    con = duckdb.connect()
    keys = [f"ps_Ωß{i:04d}" for i in range(300)]
    con.register("everyone", pd.DataFrame({"__person": keys}))

    def chosen(exclude: str | None = None) -> set[str]:
        where = "" if exclude is None else f"WHERE __person <> '{exclude}'"
        con.execute(f"CREATE OR REPLACE VIEW people_view AS SELECT * FROM everyone {where}")
        table = sample_people(con, "people_view", "k3y-0123456789ab", 40, "picked")
        return {r[0] for r in con.execute(f"SELECT __person FROM {table}").fetchall()}

    base = chosen()
    assert len(base) == 40 and base == chosen()
    inside, outside = sorted(base)[0], sorted(set(keys) - base)[0]
    without_inside = chosen(inside)
    assert len(without_inside) == 40 and len(base - without_inside) == 1 and len(without_inside - base) == 1
    assert chosen(outside) == base
    con.close()


def test_streamed_exact_copies_equal_the_whole_frame_count():
    """Exact copies against every synthetic profile, read in batches of 2,048 rows, count as
    `bounded_figures.exact_copy_hits` on the whole frame, although NULLs and integer-vs-float
    columns fall in only some batches."""
    from synth_platform.lib.relational.figures import profiles

    con = duckdb.connect()
    rng = np.random.default_rng(3)
    n = 5_000
    synthetic = pd.DataFrame(
        {
            "age": pd.array(rng.integers(18, 30, n), dtype="Int64"),
            "mean__t__x": rng.integers(0, 4, n) / 2,
            "mode__t__c": rng.choice(["ä", "b", None], n),
        }
    )
    synthetic.loc[4_500:, "age"] = pd.NA  # NULLs only in the last batch
    con.register("syn", synthetic)
    people = [synthetic.sample(40, random_state=1).astype({"age": "float64"}), synthetic.iloc[:0]]
    people[0].loc[people[0].index[:5], "mean__t__x"] = 99.0  # five without a copy
    columns = list(synthetic.columns)
    old = profiles.STREAM_VECTORS
    profiles.STREAM_VECTORS = 1
    try:
        hits = profiles.streamed_exact_hits(con, "SELECT * FROM syn", people, columns)
    finally:
        profiles.STREAM_VECTORS = old
    assert hits == [bf.exact_copy_hits(people[0], synthetic, columns), 0] == [35, 0]
    con.close()


def test_profiles_on_capped_samples_still_catch_a_copier(clinic, monkeypatch):
    """With the people read per side capped below the schema's people (as a large schema is), the
    gate builds at most that many joined profiles per side, its figures keep their sensitivities
    and a copier of 30 % of the training people still shows (the exact-copy figure blocks it; at
    150 people a side the close-copy figure's excess is clear but within its noise)."""
    from synth_platform.lib.relational.figures import profiles

    con, spec, _, split, report, _, sample, _ = clinic
    monkeypatch.setattr(profiles, "PROFILE_PEOPLE", 150)
    monkeypatch.setattr(profiles, "SYNTHETIC_PROFILES", 200)
    read = []
    original = profiles.joined_profiles

    def counting(*args, **kwargs):
        frame = original(*args, **kwargs)
        read.append(len(frame))
        return frame

    monkeypatch.setattr(profiles, "joined_profiles", counting)
    leaky = load_tables(con, _copier(con, spec, split, sample, share=0.3), "leaky_capped")
    result = gate.evaluate_schema(
        con, spec, split.train, split.holdout, leaky, report.bounds, _noise(1.0, "capped"), scratch="g3"
    )
    assert read == [150, 150, 200]
    assert not gate.schema_verdict(result.verdicts, spec.tables).release
    verdicts = {v.name: v for v in result.verdicts}
    assert not verdicts["profile_exact_copies"].passed
    for name in ("profile_exact_copies", "profile_close_copies"):
        v = verdicts[name]
        assert v.noisy.parts["train_people"] <= 150 and v.value > 3 * v.threshold, (name, v.value)
        cuts = 1 if name == "profile_exact_copies" else len(bf.CLOSE_CUTS)
        sizes = (v.noisy.parts["train_people"], v.noisy.parts["holdout_people"])
        assert v.sigma == pytest.approx(
            math.hypot(*[math.sqrt(cuts) / s / math.sqrt(2 * v.rho) for s in sizes])
        )
