"""Tables nobody tuned for, through the real chain: one spec plus one landing file each.

A legacy customer table whose identifier columns have names that say nothing (first names,
surnames, e-mails, SSNs, IPs that lost a dot, card numbers a spreadsheet broke, wallets,
addresses, phones), an integer key 1..N, a free-text column that embeds e-mails and phone
numbers, and columns named like `0-5km`, `order`, `select`, `Età`. It must release, with no
raw identifier in any table outside `raw`.
"""

import numpy as np
import pandas as pd
import pytest
import yaml

from synth_platform.bench.gate import notes, opaque_identifiers
from synth_platform.lib.deidentify.refill import is_common_value
from synth_platform.lib.spec import SpecError, load_spec
from synth_platform_tests.pipeline_harness import identifiers_in, run_generated_dataset

IDENTIFIER_COLUMNS = ["f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "note"]


def _legacy_table(rows: int = 1000) -> tuple[pd.DataFrame, dict]:
    frame, spec = opaque_identifiers(rows, seed=7)
    rng = np.random.default_rng(7)
    note_frame, _ = notes(rows, seed=7)
    frame["note"] = note_frame["note"]
    frame["0-5km"] = np.round(rng.normal(1500, 200, rows), 1)
    frame["order"] = rng.integers(1, 50, rows)
    frame["select"] = rng.choice(["M35", "F35", "M50", "F50"], rows)
    frame["Età"] = rng.integers(18, 90, rows)
    spec["name"] = "legacy_customers"
    spec["columns"] |= {
        "note": {"type": "string"},
        "0-5km": {"type": "float"},
        "order": {"type": "integer"},
        "select": {"type": "category"},
        "Età": {"type": "integer"},
    }
    return frame, spec


def _planted(frame: pd.DataFrame) -> set[str]:
    """Every identifying raw value, and every e-mail and phone number embedded in the notes.

    A lone first name or surname ("Mitchell") is a common value: fake names and street names
    are drawn from the same dictionaries and may coincide with it by chance, which the leak
    check counts as a coincidence. Full names, e-mails, numbers and addresses must never appear.
    """
    values = pd.Series(sorted({str(v) for c in IDENTIFIER_COLUMNS[:-1] for v in frame[c].dropna()}))
    embedded = frame["note"].str.extractall(r"([\w.+-]+@[\w-]+\.[\w.]+|\+?[\d(][\d ().x-]{8,}\d)")[0]
    single_words = ~values.str.contains(r"[\s\d@]", regex=True)
    identifying = values[~(single_words & is_common_value(values))]
    return set(identifying) | {v.strip(" .,") for v in embedded}


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    frame, spec = _legacy_table()
    project, result = run_generated_dataset(tmp_path_factory.mktemp("legacy"), spec, frame)
    return frame, project, result


def test_the_legacy_table_releases(released):
    frame, project, result = released
    failures = [e.message for e in result.all_events if e.is_failure]
    assert result.success, failures
    out = project.query('SELECT * FROM release."legacy_customers"')
    assert list(out.columns) == list(frame.columns) and len(out) > 0


def test_discovery_found_every_identifier_by_its_values(released):
    _, project, _ = released
    report = project.query('SELECT "column", pii_class, detected_type FROM governance."pii_legacy_customers"')
    classes = dict(zip(report["column"], report["pii_class"], strict=True))
    assert {c for c in IDENTIFIER_COLUMNS if classes[c] != "direct_identifier"} == set()
    assert {
        c: classes[c] for c in ("seg", "bal", "n_tx", "0-5km", "order", "select", "Età")
    } == dict.fromkeys(("seg", "bal", "n_tx", "0-5km", "order", "select", "Età"), "other")


def test_no_raw_identifier_outside_raw(released):
    frame, project, _ = released
    planted = _planted(frame)
    tables = project.query(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema <> 'raw'"
    )
    found = {}
    for schema, table in tables.itertuples(index=False):
        dump = project.query(f'SELECT * FROM "{schema}"."{table}"').astype(str).to_csv(index=False)
        hits = identifiers_in(dump, planted, min_length=8)
        if hits:
            found[f"{schema}.{table}"] = len(hits)
    assert found == {}, "raw identifiers found (counts per table)"


def test_the_integer_key_is_refilled_from_a_wider_space(released):
    frame, project, _ = released
    keys = project.query('SELECT k FROM release."legacy_customers"')["k"]
    assert keys.is_unique and not keys.isin(frame["k"]).any()


def test_a_column_name_no_table_can_hold_is_refused_when_the_spec_loads(tmp_path):
    good = {"name": "odd", "source": {"landing_dir": "x"}, "columns": {"0-5km": {"type": "float"}}}
    bad_cases = {
        "tab\there": "control character",
        "Age": "differ only in upper/lower case",
    }
    path = tmp_path / "odd.yaml"
    path.write_text(yaml.safe_dump(good))
    assert load_spec(path).column_names == ["0-5km"]
    for name, message in bad_cases.items():
        columns = {name: {"type": "integer"}}
        if name == "Age":
            columns["age"] = {"type": "integer"}
        path.write_text(yaml.safe_dump({**good, "columns": columns}))
        with pytest.raises(SpecError, match=message):
            load_spec(path)
    path.write_text("name: odd\nsource: {landing_dir: x}\ncolumns:\n  2019: {type: integer}\n")
    with pytest.raises(SpecError, match="put it in quotes"):
        load_spec(path)


def test_any_column_name_a_file_can_carry_round_trips_through_the_warehouse(tmp_path):
    from synth_platform.lib.storage.warehouse import quote_ident, read_table, write_table

    names = ["0-5km", "split time", "Runner.Club", "order", "select", "default", "month", "Età", 'say "hi"']
    frame = pd.DataFrame({name: [i, i + 1] for i, name in enumerate(names)})
    write_table(tmp_path / "w.duckdb", "raw", "odd-table", frame)
    back = read_table(tmp_path / "w.duckdb", "raw", "odd-table", names[::-1])
    assert list(back.columns) == names[::-1] and back[names[0]].tolist() == [0, 1]
    assert quote_ident('say "hi"') == '"say ""hi"""'
    for unusable in ("", "a\x00b", "line\nbreak"):
        with pytest.raises(ValueError, match="not a usable SQL identifier"):
            quote_ident(unusable)
