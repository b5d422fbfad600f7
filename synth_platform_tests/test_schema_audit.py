"""The privacy audit of neighbouring schemas (synth_platform/audit_schema_neighbours.py).

The neighbours differ by one *person* with every row that is theirs (lib/relational/contribution.py):
one removed with their link rows and the accounts only they hold (and those accounts'
transactions), one added who co-holds an existing account. Three small runs of the real schema
job; every public output must be classified and the public ones identical. A deliberately leaking
output (a real row count in a public field) must be caught by the same comparison.
"""

import copy
import json

import pytest

from synth_platform.audit_schema_neighbours import audit, schema_neighbours
from synth_platform.lib.governance import public_outputs
from synth_platform.lib.relational.demo_schema import demo_schema_dict, demo_tables
from synth_platform.lib.relational.gate import RelationalChecks
from synth_platform.lib.relational.schema_spec import parse_schema_spec

PLANTED = "Zyxqwv Plantedname Ølberg"


def _frames(people: int = 600) -> dict:
    frames = demo_tables(people=people, seed=3)
    frames["people"].loc[0, "full_name"] = PLANTED
    return frames


def test_neighbours_differ_by_one_person_and_all_their_rows():
    frames = _frames(300)
    variants = schema_neighbours(frames)
    source, removed, added = variants["source"], variants["one_person_removed"], variants["one_person_added"]
    gone = set(source["people"]["person_id"]) - set(removed["people"]["person_id"])
    assert len(gone) == 1 and len(removed["people"]) == len(source["people"]) - 1
    victim = gone.pop()
    links = source["people_accounts"]
    holders = links.groupby("account_id")["person_id"].nunique()
    theirs = set(links.loc[links["person_id"] == victim, "account_id"])
    only_theirs = {a for a in theirs if holders[a] == 1}
    assert theirs - only_theirs, "the removed person co-holds an account (the harder case)"
    assert victim not in set(removed["people_accounts"]["person_id"])
    # every row that is theirs goes; an account they co-hold stays, with one holder fewer
    assert not only_theirs & set(removed["accounts"]["account_id"])
    assert not only_theirs & set(removed["transactions"]["account_id"])
    assert (theirs - only_theirs) <= set(removed["accounts"]["account_id"])
    others = source["people_accounts"][source["people_accounts"]["person_id"] != victim]
    assert len(removed["people_accounts"]) == len(others)
    assert removed["regions"].equals(source["regions"])  # the public lookup is untouched
    # the added person: new, one link to an account someone else already holds
    new = set(added["people"]["person_id"]) - set(source["people"]["person_id"])
    assert len(new) == 1
    newcomer = new.pop()
    held = added["people_accounts"][added["people_accounts"]["person_id"] == newcomer]
    assert set(held["account_id"]) & set(source["accounts"]["account_id"])
    assert len(added["people_accounts"]) == len(links) + len(held)
    for table in ("people", "accounts", "people_accounts", "transactions"):
        kept = source[table].merge(added[table], how="inner")
        assert len(kept) == len(source[table])  # nobody else's rows change


@pytest.fixture(scope="module")
def schema_audit(tmp_path_factory):
    raw = demo_schema_dict()
    raw["synthesizer"] = {"epsilon": 4.0, "iters": 20}
    raw["privacy"] = {"epsilon_budget": 50, "delta": 1e-6}
    spec = parse_schema_spec(raw, "test schema")
    # 600 people hold ~130 in the holdout: a lower holdout threshold than a deployment's, so the
    # noisy gate releases the three small runs (a blocked run would leave the audit incomplete)
    checks = RelationalChecks(min_holdout_people=10)
    return audit(spec, _frames(), tmp_path_factory.mktemp("schema_audit"), checks=checks)


def test_schema_audit_public_outputs_identical(schema_audit):
    report = schema_audit
    assert report["complete"] and all(report["runs"].values()), report["runs"]
    assert report["people"] == {"source": 600, "one_person_removed": 599, "one_person_added": 601}
    summary = report["summary"]
    assert summary["problems"] == [], summary["problems"]
    assert "unclassified" not in summary["by_kind"]
    paths = {o["path"]: o for o in report["outputs"]}
    # what was compared: the certificate, the published tables and the ledger rows
    lookup = "schema_certificate.release.lookup_tables.release.bank_demo__regions.rows"
    assert paths[lookup]["kind"] == "public" and paths[lookup]["identical"]
    zone_hash = "schema_published.lookup_tables.release.bank_demo__regions.content_sha256"
    assert paths[zone_hash]["kind"] == "public" and paths[zone_hash]["identical"]
    assert any(p.startswith("schema_published.ledger.") and o["kind"] == "public" for p, o in paths.items())
    people_rows = "schema_published.synthetic_tables.release.bank_demo__people.rows"
    assert paths[people_rows]["kind"] == "dp"
    assert summary["public_identical"] >= 200
    # the audit can see a difference: the synthetic tables (DP outputs) do differ between neighbours
    assert any(o["kind"] == "dp" and not o["identical"] for o in report["outputs"])
    # no identifier of the landing set reaches anything the runs published
    assert "Plantedname" not in json.dumps(report["collected"], default=str)


def test_a_leaking_public_output_is_caught(schema_audit):
    """An exact real row count written into a public field of the certificate -- or a synthetic
    table published as if it were a lookup -- differs between neighbours: the audit reports it."""
    collected = copy.deepcopy(schema_audit["collected"])
    real_people = schema_audit["people"]
    for name, public in collected.items():
        public["schema_certificate"]["privacy"]["rows_per_person"]["real_people"] = real_people[name]
    findings = public_outputs.compare(list(collected.values()))
    problems = [f.path for f in findings if f.problem]
    assert problems == ["schema_certificate.privacy.rows_per_person.real_people"]

    collected = copy.deepcopy(schema_audit["collected"])
    for public in collected.values():
        zone = public["schema_published"]
        zone["lookup_tables"].update(zone.pop("synthetic_tables"))  # a real table copied as "lookup"
    problems = {f.path for f in public_outputs.compare(list(collected.values())) if f.problem}
    assert "schema_published.lookup_tables.release.bank_demo__people.rows" in problems

    # an output nobody classified fails too
    findings = public_outputs.compare([{"schema_extra": {"people": n}} for n in real_people.values()])
    assert [f.kind for f in findings] == ["unclassified"] and findings[0].problem
