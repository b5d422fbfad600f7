"""The SQL leak scan finds every identifier the Python rule flags, however it is written.

The gate never runs the Python rule (`identifier_match`) on whole tables: a SQL scan keys every
value (`privacy.leak_candidates`) and hands the rule only the cells whose keys meet a raw
value's. What a user relies on: a real identifier copied into the synthetic table in another
written form -- unicode or odd spaces, a tab, punctuation, a phone extension, a +1 / 00 prefix,
name words reordered, upper case -- is still judged, so the counts over the whole tables are the
rule's own. Here on a source unlike the demo (a veterinary clinic's owners, European formats).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synth_platform.lib.deidentify.refill import forbidden_values
from synth_platform.lib.gate import privacy

RAW, SYN = ("intake", "owners"), ("twin", "owners")
IDS = ["owner_ref", "owner_name", "mobile", "iban", "mail"]
N = 120


def _tag(i: int) -> str:
    """A person's letters (names without digits, so that the rule reads them as words)."""
    return "".join("bcdfghjklmnpqrstvwxz"[int(d)] for d in f"{i:03d}")


def _raw(n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "owner_ref": [f"VT-{2019 + i % 5}-{4000 + 37 * i:06d}" for i in range(n)],
            "owner_name": [f"Wrzl{_tag(i)} Ąxelsdóttir-Pf{_tag(i)}ür" for i in range(n)],
            "mobile": [f"+1 (415) {200 + i:03d}-{1000 + 7 * i:04d}" for i in range(n)],
            "iban": [f"DE{10 + i % 80:02d} 3704 0044 {i:04d} 5320 {i % 97:02d}" for i in range(n)],
            "mail": [f"Owner.{i}@Kleintierpraxis-{i % 4}.de" for i in range(n)],
            "species": rng.choice(["dog", "cat", "ferret", None], n),
            "visits": rng.integers(1, 40, n),
        }
    )


#: (row of the source, its column, how the leaky writer spells it, the synthetic column it lands in)
PLANTED = [
    (1, "mobile", lambda v: "415.201.1007", "mobile"),
    (2, "mobile", lambda v: "001 415 202 1014", "note"),
    (3, "mobile", lambda v: "(415)\u00a0203\u20091021 ext. 12", "mobile"),
    (4, "mobile", lambda v: "\t+1-415-204-1028 x7\n", "species"),
    (5, "mobile", lambda v: "1\u3000415\u3000205\u30001035", "note"),
    (6, "owner_name", lambda v: ", ".join(reversed(v.split())).upper(), "owner_name"),
    (7, "owner_name", lambda v: ",\u00a0\u00a0".join(reversed(v.lower().split())), "note"),
    (8, "owner_name", lambda v: " " + v.replace(" ", "\u2028, ") + "\u000b", "owner_name"),
    (9, "owner_name", lambda v: "\u0085" + "\t".join(reversed(v.split())).upper(), "species"),
    (10, "iban", lambda v: v.replace(" ", "").lower(), "iban"),
    (11, "iban", lambda v: v.replace(" ", "-"), "note"),
    (12, "iban", lambda v: "  " + v.replace(" ", "\u202f") + "\u3000", "iban"),
    (13, "mail", lambda v: "\t" + v.upper() + "\u00a0", "mail"),
    (14, "mail", lambda v: v.lower() + "\u000b", "note"),
    (15, "owner_ref", lambda v: v.replace("-", " / "), "owner_ref"),
    (16, "owner_ref", lambda v: "(" + v.lower().replace("-", ".") + ")", "note"),
    (17, "owner_ref", lambda v: v.replace("-", "\u2007"), "species"),
]


def _synthetic(raw: pd.DataFrame, n: int = 200) -> pd.DataFrame:
    """An honest twin (values no source person has), then the planted leaky cells."""
    rng = np.random.default_rng(3)
    synthetic = pd.DataFrame(
        {
            "owner_ref": [f"SYN-{i:08d}" for i in range(n)],
            "owner_name": [f"Fakename{i} Nobody{i % 9}" for i in range(n)],
            "mobile": [f"+49 30 {5550000 + i}" for i in range(n)],
            "iban": [f"XX00 0000 {i:04d}" for i in range(n)],
            "mail": [f"twin{i}@example.org" for i in range(n)],
            "species": rng.choice(["dog", "cat", "parrot"], n).astype(object),
            "visits": rng.integers(1, 40, n),
            "note": rng.choice(["none", "vaccinated", "415 2011007 99"], n).astype(object),
        }
    )
    for i, (row, column, spell, into) in enumerate(PLANTED):
        synthetic.loc[i, into] = spell(raw.loc[row, column])
    return synthetic


def _warehouse(raw: pd.DataFrame, synthetic: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for (schema, table), frame in ((RAW, raw), (SYN, synthetic)):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.register("f", frame)
        con.execute(f"CREATE TABLE {schema}.{table} AS SELECT * FROM f")
        con.unregister("f")
    return con


def _rule_flags(raw: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, set]:
    """Per synthetic column, the values the Python rule flags (identifying or common), whole tables."""
    forbidden = forbidden_values([raw[c] for c in IDS])
    out = {}
    for column in synthetic.columns:
        values = synthetic[column].dropna().reset_index(drop=True)
        identifying, common = forbidden.classify(values)
        out[column] = set(values[identifying | common].astype(str))
    return out


def _assert_scan_covers_rule(raw: pd.DataFrame, synthetic: pd.DataFrame) -> privacy.LeakResult:
    con = _warehouse(raw, synthetic)
    candidates = privacy.leak_candidates(con, SYN, RAW, IDS)
    for column, flagged in _rule_flags(raw, synthetic).items():
        found = candidates.synthetic.get(column)
        found = set(found["v"].astype(str)) if found is not None else set()
        assert flagged <= found, f"{column}: {len(flagged - found)} flagged cells missed by the scan"
    sql = privacy.identifier_leaks_of_candidates(candidates, list(synthetic.columns))
    assert sql == privacy.identifier_leaks(synthetic, [raw[c] for c in IDS])
    return sql


def test_every_planted_form_is_found_by_the_scan_and_judged_a_leak():
    raw = _raw()
    synthetic = _synthetic(raw)
    flagged = _rule_flags(raw, synthetic)
    for i, (_row, _column, _spell, into) in enumerate(PLANTED):  # the rule itself sees each form
        assert str(synthetic.loc[i, into]) in flagged[into], (i, into)
    leaks = _assert_scan_covers_rule(raw, synthetic)
    assert leaks.leaked_cells >= len(PLANTED)
    assert set(leaks.columns_with_leaks) == {into for *_, into in PLANTED}


def test_random_rewritings_of_real_identifiers_are_all_found():
    """Fuzz: real values re-spelt at random (separators, spaces of every kind, case, word order,
    prefixes, extensions) in every column; the scan must still hand the rule each one it flags."""
    raw = _raw()
    rng = np.random.default_rng(2026)
    spaces = [" ", "\t", "\u00a0", "\u2009", "\u3000", "\u000b", "\u0085", "\u001c", "\n", "  "]
    seps = [*spaces, "-", ".", "/", ",", "(", ")", ""]

    def respell(value: str) -> str:
        words = value.replace("-", " ").split()
        if rng.random() < 0.4:
            words = list(rng.permutation(words))
        text = str(rng.choice(seps)).join(words) if len(words) > 1 else value
        if rng.random() < 0.5:
            text = text.upper() if rng.random() < 0.5 else text.lower()
        if any(ch.isdigit() for ch in text) and rng.random() < 0.3:
            text = str(rng.choice(["00", "+", "001 ", ""])) + text
            text += str(rng.choice(["", " x12", "#3", " ext. 456", " extension 7"]))
        return str(rng.choice(spaces)) + text + str(rng.choice([*spaces, ""]))

    synthetic = _synthetic(raw)
    rows = rng.choice(len(raw), 150)
    columns = rng.choice(IDS, 150)
    targets = rng.choice([*IDS, "species", "note"], 150)
    for i, (row, column, into) in enumerate(zip(rows, columns, targets, strict=True)):
        synthetic.loc[20 + i % 180, into] = respell(str(raw.loc[row, column]))
    leaks = _assert_scan_covers_rule(raw, synthetic)
    assert leaks.leaked_cells > 0


def test_the_scan_trims_and_splits_the_whitespace_the_rule_does():
    """The keys' whitespace class (RE2 in DuckDB) is exactly Arrow's whitespace, which the rule
    trims and splits on: a wider rule class would let a leak through the scan unseen."""
    points = [i for i in range(1, 0x10000) if not 0xD800 <= i <= 0xDFFF]
    words = pc.utf8_split_whitespace(pa.array([f"a{chr(i)}b" for i in points]))
    arrow = {p for p, n in zip(points, pc.list_value_length(words).to_pylist(), strict=True) if n == 2}
    con = duckdb.connect()
    con.register("p", pd.DataFrame({"i": points}))
    sql = con.execute(
        f"SELECT i FROM p WHERE regexp_matches(chr(CAST(i AS INTEGER)), '{privacy._SPACE_RE}')"
    ).fetchall()
    assert {row[0] for row in sql} == arrow


def test_exact_copies_count_each_row_once_whatever_the_training_duplicates():
    """The copy semi-joins read the training split without a DISTINCT: a row copied from a person
    who appears three times in the split (NULLs too) still counts once, as the pandas rule counts."""
    from synth_platform.lib.deidentify.masking import ColumnTreatment
    from synth_platform.lib.gate import bounded_figures, evaluation

    plan = [
        ColumnTreatment("herd", "quasi_identifier", None, "keep"),
        ColumnTreatment("weight", "other", None, "keep"),
        ColumnTreatment("breed", "sensitive", None, "keep"),
    ]
    rng = np.random.default_rng(9)

    def animals(n: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "herd": rng.choice(["Nord", "Süd", None], n).astype(object),
                "weight": rng.choice([410.5, 520.0, np.nan, 610.25, 388.0], n),
                "breed": rng.choice(["Holstein", "Angus", "Wagyū", None], n).astype(object),
            }
        )

    train = pd.concat([animals(40)] * 3, ignore_index=True)  # every training row three times
    holdout = pd.concat([animals(30), train.iloc[:7]], ignore_index=True)
    synthetic = pd.concat([animals(60), train.iloc[5:17], train.iloc[5:9]], ignore_index=True)
    con = duckdb.connect()
    tables = {"synthetic": ("s", "t"), "train": ("m", "tr"), "holdout": ("m", "ho"), "raw": ("r", "t")}
    for (schema, table), frame in zip(tables.values(), [synthetic, train, holdout, train], strict=True):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.register("f", frame)
        con.execute(f"CREATE TABLE {schema}.{table} AS SELECT * FROM f")
        con.unregister("f")
    _, train_read, _, whole = evaluation.read_gate_inputs(con, plan, tables, [], "key")
    columns = ["herd", "weight", "breed"]
    assert whole.copies == privacy.exact_copies(synthetic, train, holdout, columns)
    assert whole.copies.copies >= 16
    assert int(whole.copied.sum()) == bounded_figures.exact_copy_hits(train_read, synthetic, columns)


def test_the_rule_reads_words_and_groups_that_only_unicode_spaces_separate():
    """A copied name whose words only no-break or ideographic spaces separate, in reversed order, and
    a low-digit code grouped by narrow no-break spaces are the source's identifiers to the rule (it
    used to see words and groups only between ASCII spaces), and the scan hands them to it."""
    raw = _raw()
    name, code = raw.loc[21, "owner_name"], "QH-7XKP-LMZT"
    raw.loc[22, "owner_ref"] = code
    spelt = [
        "\u00a0".join(reversed(name.split())),
        "\u3000".join(reversed(name.split())),
        "QH\u202f7XKP\u202fLMZT",
    ]
    identifying, _ = forbidden_values([raw[c] for c in IDS]).classify(pd.Series(spelt, dtype=object))
    assert identifying.all(), [s for s, hit in zip(spelt, identifying, strict=True) if not hit]
    synthetic = _synthetic(raw)
    synthetic.loc[150:152, "note"] = spelt
    leaks = _assert_scan_covers_rule(raw, synthetic)
    assert leaks.columns_with_leaks.get("note", 0) >= 3
