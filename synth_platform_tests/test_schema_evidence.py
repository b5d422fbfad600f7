"""A released schema gets an evidence pack (restricted) and a release certificate (public).

One real run of the GovernedSchema chain (2,000 generated people, as test_schema_chain) on landing
tables with planted identifiers (a name, a person key, an account key). The pack holds every
verdict per table and across tables with its exact figure beside the noisy one; the certificate
holds the released tables as released (row counts, types, hashes that are the gate's), the
per-person spend from the schema's ledger rows, the neighbouring relation, the noisy verdicts --
and no exact figure, and no planted identifier (nor does any asset metadata or log line).
"""

import json
import math
import stat
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from synth_platform.cli import evidence as evidence_cli
from synth_platform.cli import main as cli_main
from synth_platform.lib.governance import evidence, ledger, schema_certificate
from synth_platform.lib.relational import contribution, store
from synth_platform.lib.relational.demo_schema import demo_tables
from synth_platform.lib.storage import zones
from synth_platform_tests.test_schema_chain import SCHEMA, _query, _run, _run_text, _spec

NAME = "Zyxqwv Plantedname Ølberg"
PERSON_KEY = 987654321
ACCOUNT_KEY = "AC-PLANTED-4242"
PLANTED = ("Plantedname", str(PERSON_KEY), "PLANTED-4242")


def _land_planted(root: Path) -> None:
    """The demo tables, one person renamed and re-keyed and one of their accounts re-keyed in every
    table that holds the key (the key is consistent across tables, as a real export's would be)."""
    frames = demo_tables(people=2000, seed=5)
    people, links = frames["people"], frames["people_accounts"]
    old_person = people.loc[0, "person_id"]
    people.loc[0, ["full_name", "person_id"]] = [NAME, PERSON_KEY]
    links.loc[links["person_id"] == old_person, "person_id"] = PERSON_KEY
    old_account = links.loc[links["person_id"] == PERSON_KEY, "account_id"].iloc[0]
    for table in ("accounts", "people_accounts", "transactions"):
        frame = frames[table]
        frame.loc[frame["account_id"] == old_account, "account_id"] = ACCOUNT_KEY
    for table, frame in frames.items():
        folder = root / "data" / "landing" / SCHEMA / table
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / f"{table}_a.csv", index=False)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema_evidence")
    _land_planted(root)
    instance = dg.DagsterInstance.ephemeral()
    result = _run(root, instance)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    pack = evidence.find_pack(root, SCHEMA, result.run_id)
    cert = schema_certificate.Certificate(schema_certificate.certificate_dir(root, SCHEMA, result.run_id))
    return root, instance, result, pack, cert


def _db(root: Path):
    return duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)


def test_the_pack_holds_every_verdict_with_its_exact_figure(released):
    root, _, result, pack, _ = released
    report = json.loads(pack.json.read_text())
    spec = _spec()
    assert report["kind"] == "schema" and report["schema"] == SCHEMA and report["run_id"] == result.run_id
    assert report["decision"] == "released"  # the release step marked the gate's pack
    assert [r["event"] for r in report["ledger_rows"]][-1] == "released"
    modelled = [t for t in spec.tables if t not in spec.lookups]
    per_table = report["per_table_verdicts"]
    assert set(per_table) == set(modelled)
    assert all(any(v["kind"] == "table_quality" for v in per_table[t]) for t in modelled)
    cross = {v["name"]: v for v in report["cross_table_verdicts"]}
    assert {"orphans", "holdout_people", "profile_exact_copies", "profile_close_copies"} <= set(cross)
    assert any(n.startswith("children_per_parent:") for n in cross)
    every = [v for rows in per_table.values() for v in rows] + list(cross.values())
    assert all(isinstance(v["exact_figure"], float) and isinstance(v["noisy_figure"], float) for v in every)
    # the exact figures are the real ones: the holdout's people counted in the warehouse
    con = _db(root)
    try:
        holdout = con.execute(f"SELECT count(*) FROM {store.side_relations(spec, 'holdout')['people']}")
        assert cross["holdout_people"]["exact_figure"] == holdout.fetchone()[0]
        raw_people = con.execute(f"SELECT count(*) FROM {store.relations(spec, 'raw')['people']}")
        assert report["real_rows"]["people"]["raw"] == raw_people.fetchone()[0] == 2000
    finally:
        con.close()
    # a noisy figure differs from its exact one by its noise (orphans read no real row: no noise)
    assert cross["orphans"]["exact_figure"] == cross["orphans"]["noisy_figure"] == 0.0
    noisy = [v for v in every if v["sigma"] > 0]
    assert noisy and all(v["noisy_figure"] != v["exact_figure"] for v in noisy)
    # restricted: owner-only files and folders
    assert stat.S_IMODE(pack.json.stat().st_mode) == 0o600
    assert stat.S_IMODE(pack.directory.stat().st_mode) == 0o700
    html = pack.html.read_text()
    assert "restricted" in html and "Verdicts per table" in html and "holdout_people" in html


def test_the_certificate_names_the_release_and_its_spend(released):
    root, _, result, _, cert = released
    content = json.loads(cert.json.read_text())
    spec = _spec()
    assert content["kind"] == "schema" and content["schema"] == SCHEMA and content["decision"] == "released"
    assert "\n" not in content["neighbouring_relation"] and "one person" in content["neighbouring_relation"]
    con = _db(root)
    try:
        rows = ledger.read_ledger(con, SCHEMA)
        tables = {t["table"]: t for t in content["release"]["tables"]}
        assert set(tables) == set(spec.tables)
        for table, relation in store.relations(spec, "release").items():
            assert tables[table]["rows"] == con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
            assert tables[table]["lookup"] == (table in spec.lookups)
        # tied to the release: the hash of the released tables is the one the gate judged
        judged = con.execute(
            f"SELECT synthetic_sha256 FROM governance.{store.VERDICTS} WHERE run_id = ?", [result.run_id]
        ).fetchone()[0]
        assert (
            content["release"]["synthetic_sha256"] == judged == store.synthetic_sha256(con, spec, "release")
        )
        bounds = store.recorded_bounds(con, spec)
    finally:
        con.close()
    trained = rows[rows["event"] == "trained"].iloc[-1]
    released_row = rows[rows["event"] == "released"].iloc[-1]
    spent = content["privacy"]["this_release"]
    assert spent["training"]["epsilon"] == pytest.approx(spec.synthesizer.epsilon)
    assert spent["training"]["ledger_entry"] == trained["entry_id"]
    assert spent["gate"]["rho"] == store.GATE_RHO
    cumulative = content["privacy"]["schema_cumulative"]
    assert cumulative["released_ledger_entry"] == released_row["entry_id"]
    assert cumulative["epsilon"] == pytest.approx(released_row["cumulative_epsilon"])
    assert content["privacy"]["rows_per_person"] == contribution.multiplicities(spec, bounds)
    gate = {g["check"] for g in content["gate"]}
    assert {"orphans", "holdout_people", "profile_exact_copies"} <= gate
    assert all(g["passed"] for g in content["gate"])
    # public: world-readable, and linked from the release's metadata
    assert stat.S_IMODE(cert.json.stat().st_mode) == 0o644
    materialization = next(
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey([SCHEMA, "release"])
    )
    metadata = materialization.materialization.metadata
    assert metadata["certificate_json"].value == str(cert.json)


def _numbers(text: str) -> set[str]:
    return set(text.replace(",", " ").replace(":", " ").replace("[", " ").replace("]", " ").split())


def test_the_certificate_holds_no_exact_real_figure(released):
    _, _, _, pack, cert = released
    report = json.loads(pack.json.read_text())
    content = json.loads(cert.json.read_text())
    text = cert.json.read_text() + cert.html.read_text()
    verdicts = [v for rows in report["per_table_verdicts"].values() for v in rows]
    verdicts += report["cross_table_verdicts"]
    gate = {g["check"]: g for g in content["gate"]}
    assert set(gate) == {v["name"] for v in verdicts}
    for v in verdicts:
        if v["sigma"] == 0:  # orphans: read from the synthetic tables only
            continue
        exact = v["exact_figure"]
        assert gate[v["name"]]["noisy_figure"] != exact, v["name"]
        if exact not in (0.0, 1.0) and not float(exact).is_integer():
            assert repr(exact) not in text and f"{exact:.6g}" not in text and f"{exact:.4g}" not in text
    # the real row counts (exact) are no released table's count, lookups aside (public, copied)
    real = report["real_rows"]
    for table in content["release"]["tables"]:
        if table["lookup"]:
            continue
        counts = {c for c in real[table["table"]].values() if c is not None}
        assert table["rows"] not in counts, table["table"]
    assert not any(math.isnan(g["noisy_figure"]) for g in gate.values())


def test_no_planted_identifier_leaves_the_governed_side(released):
    root, instance, result, pack, cert = released
    public = cert.json.read_text() + cert.html.read_text() + _run_text(instance, result.run_id)
    for planted in PLANTED:
        assert planted not in public, planted
    # the restricted pack holds no cell value either: counts, figures, names of tables and columns
    restricted = pack.json.read_text() + pack.html.read_text()
    for planted in PLANTED:
        assert planted not in restricted, planted
    # the planted person was ingested (else the test proves nothing)
    raw = _query(root / "warehouse.duckdb", f'SELECT full_name FROM raw."{SCHEMA}__people"')
    assert (raw["full_name"] == NAME).sum() == 1
    published = zones.published_path(root / "warehouse.duckdb")
    people = _query(published, f'SELECT * FROM release."{SCHEMA}__people"')
    assert not people.astype(str).apply(lambda c: c.str.contains("Plantedname")).any().any()


def test_cli_finds_a_schemas_pack_and_lists_both_kinds_for_an_unknown_name(released, monkeypatch, capsys):
    root, _, result, pack, _ = released
    monkeypatch.setenv("SYNTH_PROJECT_ROOT", str(root))
    assert cli_main(["evidence", SCHEMA]) == 0
    assert capsys.readouterr().out.strip() == str(pack.html)
    assert cli_main(["evidence", SCHEMA, result.run_id, "--json"]) == 0
    assert capsys.readouterr().out.strip() == str(pack.json)
    schemas = root / "schemas"
    (schemas / "other_schema").mkdir(parents=True)
    (schemas / "other_schema" / "defs.yaml").write_text("type: x\n")
    monkeypatch.setattr(evidence_cli, "SCHEMAS_DIR", schemas)
    assert cli_main(["evidence", "other_schema"]) == 2
    assert "no evidence pack for schema 'other_schema'" in capsys.readouterr().err
    assert cli_main(["evidence", "no_such_name"]) == 2
    err = capsys.readouterr().err
    assert "neither a dataset nor a schema" in err and "adult_customers" in err and "other_schema" in err


# --- the lib pieces alone (no run) ---------------------------------------------------------------


def test_a_certificate_keeps_only_the_public_fields_of_a_gate_row():
    rows = schema_certificate.gate_rows(
        [{"name": "table_quality:people", "value": 0.9, "sigma": 3.0, "threshold": 0.7, "passed": True}]
    )
    rows[0]["exact_figure"] = 0.123456  # what a careless caller might pass along
    table = {"table": "people", "rows": 10, "lookup": False, "columns": [], "real_rows": 123457}
    content = schema_certificate.build(
        schema="s",
        run_id="r",
        tables=[table],
        synthetic_sha256="h",
        privacy=schema_certificate.spend(None, 0.01, 0.6, {}),
        rows_per_person={"people": 1},
        gate=rows,
        synthesizer={"kind": "relational_dp", "parameters": {}},
        digests={},
    )
    text = json.dumps(content)
    assert "0.123456" not in text and "exact_figure" not in text and "123457" not in text
    assert content["gate"][0]["rule"] == "noisy (charged)"
    assert "table_quality:people" in schema_certificate.render_html(content)


def test_verdict_rows_pair_each_noisy_verdict_with_its_exact_figure():
    from synth_platform.lib.governance import schema_evidence
    from synth_platform.lib.relational.gate import Verdict

    noisy = [Verdict("table_quality:people", 0.72, 0.7, True, sigma=2.0), Verdict("orphans", 0.0, 0.0, True)]
    exact = [Verdict("table_quality:people", 0.65, 0.7, False), Verdict("orphans", 0.0, 0.0, True)]
    rows = {r["name"]: r for r in schema_evidence.verdict_rows(noisy, exact)}
    quality = rows["table_quality:people"]
    assert (quality["scope"], quality["table"], quality["threshold_is"]) == ("table", "people", "minimum")
    assert quality["exact_figure"] == 0.65 and quality["exact_within_threshold"] is False
    assert quality["verdict"] == "pass"  # the noisy figure decided
    assert rows["orphans"]["scope"] == "across tables" and rows["orphans"]["exact_within_threshold"] is True
    assert schema_evidence.verdict_rows(noisy, None)[0]["exact_figure"] is None


def test_exact_noise_draws_zeros_of_the_asked_shape():
    from synth_platform.lib.gate.private_decision import GateNoise
    from synth_platform.lib.governance import schema_evidence

    noise = schema_evidence.exact_noise(GateNoise(b"k" * 32, "m", "s", 0.01, evaluation="e"))
    assert noise.gaussian("x", 3.0) == 0.0
    assert list(noise.gaussian("x", 3.0, 4)) == [0.0] * 4
    assert noise.rho == 0.01 and noise.evaluation == "e"
