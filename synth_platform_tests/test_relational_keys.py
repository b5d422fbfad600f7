"""Keys across related tables: consistent pseudonyms, the split by person, contribution bounds.

A library schema unlike the demo: unicode text person keys, a child of a child, a NULL and a
dangling foreign key, and a many-to-many link (members <-> cards, shared cards)."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.demo_schema import load_tables
from synth_platform.lib.relational.person_split import split_by_person
from synth_platform.lib.relational.pseudonyms import pseudonymise
from synth_platform.lib.relational.schema_spec import parse_schema_spec

SECRET = b"test-platform-key"
K_LOANS, K_FINES, K_CARDS, K_HOLDERS = 3, 2, 2, 2


def library_spec():
    return parse_schema_spec(
        {
            "name": "library",
            "person": "members",
            "tables": {
                "branches": {
                    "primary_key": "branch",
                    "lookup": True,
                    "columns": {"branch": {"type": "string"}, "city": {"type": "string"}},
                },
                "members": {
                    "primary_key": "member_code",
                    "columns": {
                        "member_code": {"type": "string"},
                        "e-mail": {"type": "string", "pii": {"class": "direct_identifier", "type": "email"}},
                        "branch": {"type": "string"},
                        "tier": {"type": "category", "categories": ["gold", "basic"]},
                    },
                },
                "loans": {
                    "primary_key": "loan_no",
                    "columns": {
                        "loan_no": {"type": "integer"},
                        "member_code": {"type": "string"},
                        "genre": {"type": "category", "categories": ["crime", "poésie", "science"]},
                    },
                },
                "fines": {"columns": {"loan_no": {"type": "integer"}, "amount": {"type": "float"}}},
                "cards": {
                    "primary_key": "card_id",
                    "columns": {"card_id": {"type": "integer"}, "colour": {"type": "boolean"}},
                },
                "members_cards": {
                    "link": True,
                    "columns": {
                        "member_code": {"type": "string"},
                        "card_id": {"type": "integer"},
                        "holder_type": {"type": "string"},  # undeclared: chosen under DP
                    },
                },
            },
            "foreign_keys": [
                {"column": "members.branch", "references": "branches.branch"},
                {"column": "loans.member_code", "references": "members.member_code", "max_children": K_LOANS},
                {"column": "fines.loan_no", "references": "loans.loan_no", "max_children": K_FINES},
                {
                    "column": "members_cards.member_code",
                    "references": "members.member_code",
                    "max_children": K_CARDS,
                },
                {"column": "members_cards.card_id", "references": "cards.card_id", "max_children": K_HOLDERS},
            ],
        }
    )


def library_tables(members: int = 120, seed: int = 5) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    codes = [f"Zoë-{i:04d}-ß" for i in range(members)]
    member_frame = pd.DataFrame(
        {
            "member_code": codes,
            "e-mail": [f"planted.reader{i}@example.org" for i in range(members)],
            "branch": rng.choice(["nord", "süd"], members),
            "tier": rng.choice(["gold", "basic"], members),
        }
    )
    gold = member_frame["tier"].to_numpy() == "gold"
    loans_per = np.where(gold, rng.integers(3, 7, members), rng.integers(0, 3, members))  # tier shapes loans
    loans_per[0] = 7  # one heavy reader, over the bound
    owner = np.repeat(np.arange(members), loans_per)
    loans = pd.DataFrame(
        {
            "loan_no": np.arange(1, owner.size + 1),
            "member_code": pd.Series([codes[i] for i in owner], dtype=object),
            "genre": rng.choice(["crime", "poésie", "science"], owner.size),
        }
    )
    loans.loc[len(loans)] = [owner.size + 1, None, "crime"]  # a NULL key: belongs to nobody
    loans.loc[len(loans)] = [owner.size + 2, "nobody-here", "crime"]  # dangling
    fines_per = rng.integers(0, 4, len(loans))
    fines = pd.DataFrame(
        {
            "loan_no": np.repeat(loans["loan_no"].to_numpy(), fines_per),
            "amount": rng.gamma(2.0, 1.5, int(fines_per.sum())).round(2),
        }
    )
    cards = pd.DataFrame({"card_id": np.arange(500, 500 + members), "colour": rng.random(members) < 0.3})
    holders = []
    for i, card in enumerate(cards["card_id"]):
        people = rng.choice(members, int(rng.integers(1, 4)), replace=False)
        holders += [(codes[p], int(card), "primär" if j == 0 else "partner") for j, p in enumerate(people)]
        if i == 0:
            holders += [(codes[p], int(card), "partner") for p in range(10, 14)]  # a card shared by many
    link = pd.DataFrame(holders, columns=["member_code", "card_id", "holder_type"])
    link = link.drop_duplicates(["member_code", "card_id"])
    branches = pd.DataFrame({"branch": ["nord", "süd"], "city": ["Kiel", "München"]})
    return {
        "branches": branches,
        "members": member_frame,
        "loans": loans,
        "fines": fines,
        "cards": cards,
        "members_cards": link,
    }


@pytest.fixture(scope="module")
def warehouse():
    con = duckdb.connect()
    spec = library_spec()
    frames = library_tables()
    raw = load_tables(con, frames, "raw")
    masked = pseudonymise(con, spec, raw, SECRET, "masked")
    yield con, spec, frames, raw, masked
    con.close()


def test_same_real_key_same_pseudonym_in_every_table(warehouse):
    con, _, frames, raw, masked = warehouse
    heavy = frames["members"]["member_code"][0]
    seen = set()
    for table, column in (
        ("members", "member_code"),
        ("loans", "member_code"),
        ("members_cards", "member_code"),
    ):
        pseudonyms = con.execute(
            f"SELECT DISTINCT p.{column} FROM (SELECT *, row_number() OVER () AS i FROM {masked[table]}) p "
            f"JOIN (SELECT *, row_number() OVER () AS i FROM {raw[table]}) r USING (i) WHERE r.{column} = ?",
            [heavy],
        ).fetchall()
        assert len(pseudonyms) == 1
        seen.add(pseudonyms[0][0])
    assert len(seen) == 1 and next(iter(seen)).startswith("ps_")
    # joins survive masking exactly
    join = "SELECT count(*) FROM {l} l JOIN {m} m ON l.member_code = m.member_code"
    assert (
        con.execute(join.format(l=raw["loans"], m=raw["members"])).fetchone()
        == con.execute(join.format(l=masked["loans"], m=masked["members"])).fetchone()
    )
    fines = "SELECT count(*) FROM {f} f JOIN {l} l ON f.loan_no = l.loan_no"
    assert (
        con.execute(fines.format(f=raw["fines"], l=raw["loans"])).fetchone()
        == con.execute(fines.format(f=masked["fines"], l=masked["loans"])).fetchone()
    )


def test_pseudonyms_hide_keys_and_identifiers(warehouse):
    con, spec, frames, raw, masked = warehouse
    everything = " ".join(
        str(v)
        for name in masked
        for v in con.execute(f"SELECT * FROM {masked[name]}").df().to_numpy().ravel()
    )
    assert "Zoë-0000-ß" not in everything and "planted.reader" not in everything
    assert "e-mail" not in con.execute(f"SELECT * FROM {masked['members']} LIMIT 0").df().columns
    # lookup keys are public: unchanged, and members.branch still joins the lookup
    assert con.execute(
        f"SELECT count(*) FROM {masked['members']} JOIN {masked['branches']} USING (branch)"
    ).fetchone()[0] == len(frames["members"])
    # equal raw values in two key domains (loan 500, card 500) do not share a pseudonym
    loan = con.execute(
        f"SELECT p.loan_no FROM (SELECT *, row_number() OVER () i FROM {masked['loans']}) p JOIN "
        f"(SELECT *, row_number() OVER () i FROM {raw['loans']}) r USING (i) WHERE r.loan_no = 100"
    ).fetchone()
    card_raw = con.execute(f"SELECT card_id FROM {raw['cards']} LIMIT 1").fetchone()[0]
    other = duckdb.connect()
    frames2 = {k: v.copy() for k, v in frames.items()}
    frames2["cards"]["card_id"] = frames2["cards"]["card_id"] - card_raw + 100
    frames2["members_cards"]["card_id"] = frames2["members_cards"]["card_id"] - card_raw + 100
    masked2 = pseudonymise(other, spec, load_tables(other, frames2, "raw"), SECRET, "masked")
    card = other.execute(f"SELECT card_id FROM {masked2['cards']} LIMIT 1").fetchone()
    assert loan[0] != card[0]
    # another platform key gives other pseudonyms
    masked3 = pseudonymise(other, spec, load_tables(other, frames, "raw3"), b"another-key", "masked3")
    first = other.execute(f"SELECT member_code FROM {masked3['members']} LIMIT 1").fetchone()[0]
    assert first != con.execute(f"SELECT member_code FROM {masked['members']} LIMIT 1").fetchone()[0]
    other.close()


def _bounded(warehouse, schema: str = "bounded"):
    con, spec, _, _, masked = warehouse
    return contrib.bound_contributions(con, spec, masked, schema, contrib.required_bounds(spec))


def test_no_parent_above_its_bound_and_dropped_rows_counted(warehouse):
    con, spec, frames, _, masked = warehouse
    bounded, report = _bounded(warehouse)
    most = con.execute(
        f"SELECT max(n) FROM (SELECT member_code, count(*) n FROM {bounded['loans']} GROUP BY 1)"
    )
    assert most.fetchone()[0] == K_LOANS
    most_fines = con.execute(
        f"SELECT max(n) FROM (SELECT loan_no, count(*) n FROM {bounded['fines']} GROUP BY 1)"
    )
    assert most_fines.fetchone()[0] <= K_FINES
    # the counts, recomputed independently in pandas
    loans = frames["loans"]
    owned = loans[loans["member_code"].isin(frames["members"]["member_code"])]
    per_member = owned.groupby("member_code").size()
    assert report.dropped_over_bound["loans"] == int((per_member - K_LOANS).clip(lower=0).sum())
    assert report.dropped_cascade["loans"] == 2  # the NULL key and the dangling one
    assert report.kept["loans"] == len(owned) - report.dropped_over_bound["loans"]
    kept_loans = set(con.execute(f"SELECT loan_no FROM {bounded['loans']}").df()["loan_no"])
    fines = con.execute(f"SELECT * FROM {masked['fines']}").df()  # pseudonymised loan numbers
    reachable = fines[fines["loan_no"].isin(kept_loans)]
    assert report.dropped_cascade["fines"] == len(fines) - len(reachable)
    over = (reachable.groupby("loan_no").size() - K_FINES).clip(lower=0).sum()
    assert report.dropped_over_bound["fines"] == int(over)
    # bounding is deterministic
    again = contrib.bound_contributions(
        con, spec, warehouse[4], "bounded_again", contrib.required_bounds(spec)
    )[0]
    for table in ("loans", "fines", "members_cards"):
        first = con.execute(f"SELECT * FROM {bounded[table]} ORDER BY ALL").df()
        second = con.execute(f"SELECT * FROM {again[table]} ORDER BY ALL").df()
        pd.testing.assert_frame_equal(first, second)


def test_link_bounds_holdings_per_person_and_copies_shared_cards(warehouse):
    con, _, frames, _, masked = warehouse
    bounded, report = _bounded(warehouse, "bounded_link")
    link = con.execute(f"SELECT * FROM {bounded['members_cards']}").df()
    cards = con.execute(f"SELECT * FROM {bounded['cards']}").df()
    assert link.groupby("member_code").size().max() <= K_CARDS  # holdings per member
    # each member keeps the K_CARDS holdings with the smallest md5 of their own (member, card) pair
    raw = con.execute(
        f"SELECT l.member_code, l.card_id FROM {masked['members_cards']} l "
        f"WHERE l.member_code IN (SELECT member_code FROM {masked['members']}) "
        f"AND l.card_id IN (SELECT card_id FROM {masked['cards']})"
    ).df()
    raw["order"] = [
        hashlib.md5(f"{s}|{e}".encode()).hexdigest()
        for s, e in zip(raw.member_code, raw.card_id, strict=True)
    ]
    expected = {
        (s, str(e))
        for s, group in raw.groupby("member_code")
        for e in group.sort_values(["order", "card_id"])["card_id"].head(K_CARDS)
    }
    assert {(s, str(e)) for s, e in zip(link.member_code, link.__entity, strict=True)} == expected
    # a kept card is one copy per kept holding, keyed by card and holding, owned by the holder
    assert len(cards) == len(link)
    assert set(cards["card_id"]) == set(link["card_id"])
    assert (cards["card_id"] == cards["__original"].astype(str) + "|" + cards["__parent"]).all()
    assert report.kept["cards"] == cards["__original"].nunique()
    shared = link.groupby("__entity")["__person"].nunique()
    assert shared.max() > 1  # cards shared by several members are kept for each of them
    assert report.kept["cards"] + report.dropped_over_bound["cards"] + report.dropped_cascade["cards"] == len(
        frames["cards"]
    )


def test_sensitivity_per_person_follows_the_bounds():
    spec = library_spec()
    bounds = contrib.required_bounds(spec)
    m = contrib.multiplicities(spec, bounds)
    assert m == {
        "members": 1,
        "loans": K_LOANS,
        "fines": K_LOANS * K_FINES,
        "cards": K_CARDS,  # one copy per holding
        "members_cards": K_CARDS,
    }
    # group privacy: a row-level mechanism at rho / m^2 costs rho per person
    assert contrib.row_rho(0.02, m["fines"]) == pytest.approx(0.02 / 36)
    # a histogram over parents: sigma grows with the rows one person has in the parent table
    assert contrib.gaussian_sigma(m["loans"], 0.5) == pytest.approx(3.0)


def test_bound_chosen_under_dp_covers_most_parents():
    rng = np.random.default_rng(0)
    counts = {0: 50, 1: 300, 2: 300, 3: 200, 4: 100, 9: 30, 40: 2}  # 95% have at most 4 children
    assert contrib.dp_choose_bound(counts, sensitivity=1, rho=10.0, rng=rng) == 4


def test_split_keeps_each_person_on_one_side(warehouse):
    con, spec, _, _, _ = warehouse
    bounded, _ = _bounded(warehouse, "bounded_split")
    split = split_by_person(con, spec, bounded, SECRET, "train", "holdout", fraction=0.3)
    for table in ("members", "loans", "fines", "cards", "members_cards"):
        train = set(con.execute(f"SELECT __person FROM {split.train[table]}").df()["__person"])
        holdout = set(con.execute(f"SELECT __person FROM {split.holdout[table]}").df()["__person"])
        assert not train & holdout, table
        assert sum(split.rows[table]) == con.execute(f"SELECT count(*) FROM {bounded[table]}").fetchone()[0]
    members_train = set(con.execute(f"SELECT member_code FROM {split.train['members']}").df()["member_code"])
    loans_train = set(con.execute(f"SELECT member_code FROM {split.train['loans']}").df()["member_code"])
    assert loans_train <= members_train  # a person's loans follow them
    assert 0 < split.rows["members"][1] < split.rows["members"][0]
    # a person's side depends on them alone: dropping one person moves nobody else
    person = con.execute(f"SELECT member_code FROM {bounded['members']} LIMIT 1").fetchone()[0]
    con.execute(
        f"CREATE OR REPLACE TABLE fewer AS SELECT * FROM {bounded['members']} WHERE member_code <> ?",
        [person],
    )
    fewer = split_by_person(
        con, spec, {**bounded, "members": "fewer"}, SECRET, "train2", "holdout2", fraction=0.3
    )
    again = set(con.execute(f"SELECT member_code FROM {fewer.train['members']}").df()["member_code"])
    assert again == members_train - {person}


def test_a_split_side_with_original_keys_bounds_to_itself(warehouse):
    """What the chain's fit reads (`store.training_views`): the train side with original keys, a
    shared card once with all its train-side holders. Bounding it again (as `fit` does) gives the
    train side back row for row: the fit sees exactly the bounded train people's rows."""
    con, spec, _, _, _ = warehouse
    bounded, _ = _bounded(warehouse, "bounded_views")
    split = split_by_person(con, spec, bounded, SECRET, "train_v", "holdout_v", fraction=0.3)
    con.execute("CREATE SCHEMA IF NOT EXISTS plain_v")
    plain = dict(split.train)
    for name in spec.modelled:
        columns = [r[0] for r in con.execute(f"DESCRIBE {split.train[name]}").fetchall()]
        sql = contrib.uncopied_sql(spec, name, split.train, columns)
        con.execute(f"CREATE OR REPLACE VIEW plain_v.{name} AS {sql}")
        plain[name] = f"plain_v.{name}"
    cards = con.execute(f"SELECT card_id, count(*) n FROM {plain['members_cards']} GROUP BY 1").df()
    assert cards["n"].max() > 1  # co-held cards reach the fit with their holders
    assert con.execute(f"SELECT count(*) FROM {plain['cards']}").fetchone()[0] == len(cards)
    again, _ = contrib.bound_contributions(
        con, spec, plain, "bounded_views_again", contrib.required_bounds(spec)
    )
    for name in spec.modelled:
        first = con.execute(f"SELECT * FROM {split.train[name]} ORDER BY ALL").df()
        second = con.execute(f"SELECT * FROM {again[name]} ORDER BY ALL").df()
        pd.testing.assert_frame_equal(first, second, obj=name)


def test_an_undeclared_bound_is_chosen_and_then_enforced(warehouse):
    con, spec, _, _, masked = warehouse
    bounds = {**contrib.required_bounds(spec), "loans": None}
    rng = np.random.default_rng(1)
    asked = {}

    def choose(table, counts, sensitivity):
        asked[table] = (sum(counts.values()), sensitivity)
        return contrib.dp_choose_bound(counts, sensitivity, rho=100.0, rng=rng)

    bounded, report = contrib.bound_contributions(con, spec, masked, "bounded_dp", bounds, choose=choose)
    members = con.execute(f"SELECT count(*) FROM {bounded['members']}").fetchone()[0]
    assert asked == {"loans": (members, 1)}  # one entry per member; a person has one member row
    k = report.bounds["loans"]
    assert 3 <= k <= 6  # 95% of members have at most about 5 loans
    most = con.execute(
        f"SELECT max(n) FROM (SELECT member_code, count(*) n FROM {bounded['loans']} GROUP BY 1)"
    )
    assert most.fetchone()[0] <= k and report.multiplicity["fines"] == k * K_FINES
    with pytest.raises(ValueError, match=r"declare max_children on loans\.member_code"):
        contrib.bound_contributions(con, spec, masked, "bounded_none", bounds)


def test_removing_a_person_changes_only_their_bounded_rows(warehouse):
    """The neighbouring relation, checked on data: remove one person and every row that is theirs
    (their member row, loans, fines, their link rows, and the cards only they hold), bound again,
    and every other person's bounded rows are exactly as before -- including their copies of the
    cards they shared with that person. So the per-person multiplicities bound what one person
    changes. (`test_relational_neighbours` checks the same on random neighbours and figures.)"""
    con, spec, _, _, masked = warehouse
    bounds = contrib.required_bounds(spec)
    full, _ = contrib.bound_contributions(con, spec, masked, "neighbour_full", bounds)
    # a person whose key sorts first among the holders of a kept card they share: the case a
    # "smallest key owns the card" rule would hand over to someone else
    person = con.execute(
        f"SELECT min(member_code) FROM {masked['members_cards']} WHERE member_code IN "
        f"(SELECT __person FROM {full['members_cards']}) GROUP BY card_id HAVING count(*) > 1 "
        "ORDER BY 1 LIMIT 1"
    ).fetchone()[0]
    con.execute("CREATE SCHEMA IF NOT EXISTS smaller")
    con.execute(
        f"CREATE OR REPLACE TABLE smaller.members AS SELECT * FROM {masked['members']} "
        "WHERE member_code <> ?",
        [person],
    )
    con.execute(
        f"CREATE OR REPLACE TABLE smaller.loans AS SELECT * FROM {masked['loans']} "
        "WHERE member_code IS DISTINCT FROM ?",
        [person],
    )
    con.execute(
        f"CREATE OR REPLACE TABLE smaller.fines AS SELECT * FROM {masked['fines']} WHERE loan_no NOT IN "
        f"(SELECT loan_no FROM {masked['loans']} WHERE member_code = ?)",
        [person],
    )
    only = (  # cards the person alone holds, in the full data
        f"SELECT card_id FROM {masked['members_cards']} GROUP BY card_id "
        "HAVING count(*) FILTER (WHERE member_code <> ?) = 0"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE smaller.cards AS SELECT * FROM {masked['cards']} "
        f"WHERE card_id NOT IN ({only})",
        [person],
    )
    con.execute(
        f"CREATE OR REPLACE TABLE smaller.members_cards AS SELECT * FROM {masked['members_cards']} "
        "WHERE member_code IS DISTINCT FROM ?",
        [person],
    )
    smaller = {
        **masked,
        **{t: f"smaller.{t}" for t in ("members", "loans", "fines", "cards", "members_cards")},
    }
    reduced, _ = contrib.bound_contributions(con, spec, smaller, "neighbour_smaller", bounds)
    for table in ("members", "loans", "fines", "cards", "members_cards"):
        before = con.execute(f"SELECT * FROM {full[table]} WHERE __person <> ? ORDER BY ALL", [person]).df()
        after = con.execute(f"SELECT * FROM {reduced[table]} ORDER BY ALL").df()
        pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True), obj=table)


def _masked_text(con, masked: dict[str, str]) -> list[str]:
    """Every cell of every masked table as text (NULLs left out): what a leak search reads."""
    cells = []
    for relation in masked.values():
        columns = [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()]
        for column in columns:
            quoted = '"' + column.replace('"', '""') + '"'
            cells += [
                r[0]
                for r in con.execute(
                    f"SELECT CAST({quoted} AS VARCHAR) FROM {relation} WHERE {quoted} IS NOT NULL"
                ).fetchall()
            ]
    return cells


def test_pseudonymize_columns_that_are_not_keys_leave_no_raw_value():
    """`mask: pseudonymize` on non-key columns of a person table and of a child table (a number with
    NULLs, unicode text): no planted raw value stays anywhere in the masked schema, equal values
    stay equal within a column, and each column is its own pseudonym space (a value shared by two
    columns and by a key gets three unrelated pseudonyms)."""
    spec = parse_schema_spec(
        {
            "name": "clubs",
            "person": "members",
            "tables": {
                "members": {
                    "primary_key": "code",
                    "columns": {
                        "code": {"type": "string"},
                        "loyalty_no": {"type": "integer", "mask": "pseudonymize"},
                        "level": {"type": "category", "categories": ["a", "b"]},
                    },
                },
                "visits": {
                    "primary_key": "visit",
                    "columns": {
                        "visit": {"type": "integer"},
                        "code": {"type": "string"},
                        "ticket": {"type": "string", "mask": "pseudonymize"},
                    },
                },
            },
            "foreign_keys": [{"column": "visits.code", "references": "members.code", "max_children": 3}],
        }
    )
    codes = ["Åsa-ß-1", "Åsa-ß-2", "Jürgen-3", "shared-Ω"]
    members = pd.DataFrame(
        {"code": codes, "loyalty_no": [9_900_771, 9_900_771, None, 9_900_772], "level": ["a", "b", "a", "b"]}
    )
    visits = pd.DataFrame(
        {
            "visit": [1, 2, 3, 4],
            "code": ["Åsa-ß-1", "Åsa-ß-1", "Jürgen-3", "shared-Ω"],
            "ticket": ["tkt-ÆØ-9900771", "shared-Ω", None, "tkt-ÆØ-9900771"],
        }
    )
    con = duckdb.connect()
    raw = load_tables(con, {"members": members, "visits": visits}, "raw")
    masked = pseudonymise(con, spec, raw, SECRET, "masked")
    cells = _masked_text(con, masked)
    planted = ["9900771", "9900772", "tkt-ÆØ-9900771", *codes]
    leaks = [(p, c) for p in planted for c in cells if p in c]
    assert not leaks, leaks
    m = con.execute(f"SELECT code, loyalty_no FROM {masked['members']}").df()
    v = con.execute(f"SELECT code, ticket FROM {masked['visits']}").df()  # keys are pseudonyms: no order
    assert m["loyalty_no"].isna().sum() == 1 and v["ticket"].isna().sum() == 1  # NULL stays NULL
    assert sorted(m["loyalty_no"].value_counts()) == [1, 2]  # 9900771 twice -> one pseudonym
    tickets = v["ticket"].value_counts()
    assert sorted(tickets) == [1, 2] and all(t.startswith("ps_") for t in tickets.index)
    # "shared-Ω" is a member key and a ticket: unrelated pseudonyms in the two domains
    shared_ticket = tickets.index[tickets == 1][0]
    assert shared_ticket not in set(m["code"]) | set(v["code"])
    assert set(v["code"]) <= set(m["code"])  # the key domain still joins
    con.close()
