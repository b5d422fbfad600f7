"""Private synthesis of a related schema: what a user checks on the sample.

One fit per module on the library schema of `test_relational_keys` (unicode keys, a child of a
child, a shared-card link with an undeclared category, a lookup), at a generous epsilon and few
mbi iterations so the test stays cheap: every foreign key resolves, children per parent follow the
real distribution, a parent's tier shapes its loans, no real identifier or key reaches the sample,
and the privacy report adds up per person."""

from __future__ import annotations

import math

import duckdb
import pytest

from synth_platform.lib.relational import fidelity
from synth_platform.lib.relational.contribution import PERSON
from synth_platform.lib.relational.demo_schema import load_tables
from synth_platform.lib.relational.pseudonyms import pseudonymise
from synth_platform.lib.relational.synthesizer import RelationalSynthesizer
from synth_platform_tests.test_relational_keys import SECRET, library_spec, library_tables

EPSILON = 40.0


@pytest.fixture(scope="module")
def fitted():
    con = duckdb.connect()
    spec = library_spec()
    frames = library_tables(members=400, seed=11)
    raw = load_tables(con, frames, "raw")
    masked = pseudonymise(con, spec, raw, SECRET, "masked")
    synthesizer = RelationalSynthesizer(spec, epsilon=EPSILON, iters=30).fit(con, masked, scratch="fit")
    sample = synthesizer.sample(seed=3)
    synthetic = load_tables(con, sample, "synthetic")
    yield con, spec, frames, masked, synthesizer, sample, synthetic
    con.close()


def test_every_foreign_key_resolves(fitted):
    con, spec, _, _, _, sample, synthetic = fitted
    assert set(sample) == set(spec.tables)
    assert all(len(sample[t]) > 0 for t in spec.tables)
    orphans = fidelity.orphans(con, spec, synthetic)
    assert set(orphans) == {f"{fk.column}->{fk.references}" for fk in spec.foreign_keys}
    assert sum(orphans.values()) == 0, orphans
    for table in spec.tables:  # primary keys are unique
        pk = spec.tables[table].primary_key
        if pk:
            assert sample[table][pk].is_unique, table


def test_children_per_parent_follow_the_real_distribution(fitted):
    con, spec, _, masked, _, _, synthetic = fitted
    bounded = {t: f'"fit"."{t}"' for t in spec.tables if t not in spec.lookups}
    cardinality = fidelity.cardinality_fidelity(con, spec, {**masked, **bounded}, synthetic)
    loans = cardinality["loans.member_code->members.member_code"]
    assert loans["tvd"] < 0.2, loans
    assert loans["mean_synthetic"] == pytest.approx(loans["mean_real"], rel=0.2)
    fines = cardinality["fines.loan_no->loans.loan_no"]
    assert fines["tvd"] < 0.2, fines
    # no parent above its bound in the sample either (the link's member side bounds the cards a
    # member owns, not the cards they co-hold: not a per-row bound)
    for fk in spec.foreign_keys:
        if fk.max_children and fk.column != "members_cards.member_code":
            child = synthetic[fk.child_table]
            most = con.execute(
                f'SELECT max(n) FROM (SELECT "{fk.child_column}", count(*) n FROM {child} GROUP BY 1)'
            ).fetchone()[0]
            assert most <= fk.max_children, fk.column


def test_parent_attributes_shape_children(fitted):
    con, _, _, _, _, _, synthetic = fitted
    rows = dict(
        con.execute(
            f"SELECT m.tier, avg(coalesce(l.n, 0)) FROM {synthetic['members']} m LEFT JOIN "
            f"(SELECT member_code, count(*) n FROM {synthetic['loans']} GROUP BY 1) l USING (member_code) "
            "GROUP BY 1"
        ).fetchall()
    )
    assert rows["gold"] > rows["basic"] + 1.0, rows  # real: about 3 (capped at 3) vs 1


def test_no_real_identifier_or_key_in_the_sample(fitted):
    _, _, frames, _, _, sample, _ = fitted
    text = " ".join(str(v) for frame in sample.values() for v in frame.astype(str).to_numpy().ravel())
    assert "planted.reader" not in text and "Zoë-" not in text and "ps_" not in text
    # the direct identifier is refilled (not dropped) with fakes on reserved domains (RFC 2606)
    emails = sample["members"]["e-mail"]
    assert emails.notna().all() and emails.str.fullmatch(r"[^@\s]+@example\.(com|net|org)").all()
    assert not set(emails) & set(frames["members"]["e-mail"])
    assert all(PERSON not in frame.columns for frame in sample.values())
    # the lookup is public and copied as it is
    assert sample["branches"].equals(frames["branches"])


def test_budget_is_charged_per_person(fitted):
    _, _, _, _, synthesizer, _, _ = fitted
    report = synthesizer.privacy_report()
    assert report["rho_spent"] <= report["rho_budget"]
    assert report["epsilon_spent"] <= EPSILON
    # a member's holdings are capped at 2; each holding is one link row and one card copy
    assert report["multiplicity"] == {"members": 1, "loans": 3, "fines": 6, "cards": 2, "members_cards": 2}
    parts = {p["name"]: p for p in report["parts"]}
    # histograms over parents: sensitivity = rows one person has in the parent table
    assert parts["loans:counts"]["sensitivity"] == 1
    assert parts["fines:counts"]["sensitivity"] == 3
    # holders per card: a member adds a holder to at most their 2 cards (each moves one cell)
    assert parts["members_cards:holders"]["sensitivity"] == pytest.approx(math.sqrt(2) * 2)
    # models: group privacy over at most rows_per_person rows per person
    assert parts["members:model"]["sensitivity"] == 1
    assert parts["fines:model"]["sensitivity"] == min(synthesizer.rows_per_person, 6)
    # the undeclared category list was chosen under DP and charged
    assert "members_cards.holder_type:domain" in parts and report["delta_threshold"] > 0
    assert sum(p["rho"] for p in report["parts"]) == pytest.approx(report["rho_spent"])


def test_a_single_table_dataset_synthesises_as_a_one_table_schema():
    import numpy as np
    import pandas as pd

    from synth_platform.lib.relational.schema_spec import SchemaSpec
    from synth_platform.lib.spec import DatasetSpec

    dataset = DatasetSpec.model_validate(
        {
            "name": "readings",
            "source": {"landing_dir": "x"},
            "key": "sensor",
            "columns": {
                "sensor": {"type": "string"},
                "zone": {"type": "category", "categories": ["ober", "über"]},
                "ok": {"type": "boolean"},
            },
        }
    )
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "sensor": [f"s-{i}" for i in range(300)],
            "zone": rng.choice(["ober", "über"], 300),
            "ok": rng.random(300) < 0.5,
        }
    )
    frame.loc[3, "zone"] = None
    con = duckdb.connect()
    schema = SchemaSpec.from_dataset(dataset)
    masked = pseudonymise(con, schema, load_tables(con, {"readings": frame}, "raw"), SECRET, "masked")
    sample = RelationalSynthesizer(schema, epsilon=20.0, iters=20).fit(con, masked).sample(seed=1)
    assert list(sample) == ["readings"] and list(sample["readings"].columns) == ["sensor", "zone", "ok"]
    assert (
        sample["readings"]["sensor"].is_unique and not sample["readings"]["sensor"].str.startswith("s-").any()
    )
    assert set(sample["readings"]["zone"].dropna()) <= {"ober", "über"}
    con.close()
