"""Per-table figures of the schema gate (issue 18 item 2).

`table_quality:<t>`: 1 - mean marginal TVD of each modelled table's model columns, real side noised
at m(t) sqrt(C) per person. `identifier_leaks:<t>`: real rows whose identifier value a synthetic
refilled cell holds, noised at m(t) per person, blocking when surely above 0.

On the clinic schema of test_relational_gate.py (unicode keys, a keyless grandchild, a lookup, an
e-mail and a name in the person table, a phone in the child `stays`): an honest fit passes every
table's figures; a generator whose stays all have the longest stay in one ward is blocked by
`table_quality:stays` alone; one that copies real phones into the refilled column of `stays` is
blocked by `identifier_leaks:stays` alone.
"""

from __future__ import annotations

import math

import duckdb
import pytest

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational import gate
from synth_platform.lib.relational.demo_schema import load_tables
from synth_platform.lib.relational.synthesizer import RelationalSynthesizer
from synth_platform_tests.test_relational_gate import (
    WARDS,
    _noise,
    _prepare,
    _without_helpers,
    clinic_spec,
    clinic_tables,
)


@pytest.fixture(scope="module")
def fitted():
    con = duckdb.connect()
    spec = clinic_spec()
    frames = clinic_tables(patients=700, seed=3)  # holdout people: about 280 (gate minimum 200)
    split, report = _prepare(con, spec, frames)
    train = _without_helpers(con, split.train, "train_plain")
    sample = RelationalSynthesizer(spec, epsilon=40.0, iters=20).fit(con, train, scratch="fit").sample(seed=2)
    raw = {t: f'"raw"."{t}"' for t in frames}  # what _prepare loaded: identifiers kept
    yield con, spec, split, report, sample, raw, frames
    con.close()


def _quality(verdicts) -> dict:
    return {v.name.split(":", 1)[1]: v for v in verdicts if v.name.startswith("table_quality:")}


def test_honest_tables_pass_and_the_sensitivity_is_per_person(fitted):
    con, spec, split, report, sample, _raw, _frames = fitted
    synthetic = load_tables(con, sample, "syn_ok")
    result = gate.evaluate_schema(
        con, spec, split.train, split.holdout, synthetic, report.bounds, _noise(1.0, "ok"), scratch="q1"
    )
    quality = _quality(result.verdicts)
    assert set(quality) == {"patients", "stays", "doses"}  # modelled tables; the lookup is copied
    for table, verdict in quality.items():
        assert verdict.passed and verdict.value > 0.8 and verdict.threshold == 0.7, (table, verdict)
    m = contrib.multiplicities(spec, report.bounds)
    columns = {"patients": 2, "stays": 2, "doses": 2}  # sex, band | ward, los | drug, mg
    for table, verdict in quality.items():
        assert verdict.sensitivity == pytest.approx(m[table] * math.sqrt(columns[table]))
        assert verdict.rho > 0
    assert result.rho_charged == pytest.approx(1.0)  # still the gate's rho, split by public weights
    assert gate.schema_verdict(result.verdicts, spec.tables).release


def test_a_table_with_broken_marginals_is_blocked(fitted):
    con, spec, split, report, sample, _raw, _frames = fitted
    broken = {name: frame.copy() for name, frame in sample.items()}
    broken["stays"]["los"] = 6
    broken["stays"]["ward"] = WARDS[-1]
    synthetic = load_tables(con, broken, "syn_broken")
    result = gate.evaluate_schema(
        con, spec, split.train, split.holdout, synthetic, report.bounds, _noise(1.0, "broken"), scratch="q2"
    )
    quality = _quality(result.verdicts)
    assert not quality["stays"].passed and quality["stays"].value < 0.5, quality["stays"]
    assert quality["patients"].passed and quality["doses"].passed
    decision = gate.schema_verdict(result.verdicts, spec.tables)
    assert not decision.release and "table_quality:stays" in decision.blocked_by


def _leaks(verdicts) -> dict:
    return {v.name.split(":", 1)[1]: v for v in verdicts if v.name.startswith("identifier_leaks:")}


def test_honest_refill_leaks_nothing(fitted):
    con, spec, split, report, sample, raw, _frames = fitted
    synthetic = load_tables(con, sample, "syn_ok2")
    result = gate.evaluate_schema(
        con,
        spec,
        split.train,
        split.holdout,
        synthetic,
        report.bounds,
        _noise(1.0, "ok2"),
        scratch="l1",
        raw=raw,
    )
    found = _leaks(result.verdicts)
    assert set(found) == {"patients", "stays"}  # the tables with refilled identifiers
    m = contrib.multiplicities(spec, report.bounds)
    for table, verdict in found.items():
        assert verdict.passed and verdict.threshold == 0.0, (table, verdict)
        assert verdict.sensitivity == m[table]
        assert verdict.sigma == pytest.approx(m[table] / math.sqrt(2 * verdict.rho))
    assert result.rho_charged == pytest.approx(1.0)
    assert gate.schema_verdict(result.verdicts, spec.tables).release
    # the bounded raw copy (real identifiers) does not outlive the evaluation
    schemas = {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}
    assert "l1__raw_bounded" not in schemas and "l1" in schemas  # (the scratch of the profiles stays)


def test_copied_real_phones_in_a_child_table_are_blocked(fitted):
    con, spec, split, report, sample, raw, frames = fitted
    leaky = {name: frame.copy() for name, frame in sample.items()}
    stays = leaky["stays"]
    real = frames["stays"]["contact_phone"].tolist()
    copies = min(150, len(stays))
    # written differently from the source (separators), as a copier that reformats would
    stays.loc[stays.index[:copies], "contact_phone"] = [p.replace(" ", "-") for p in real[:copies]]
    synthetic = load_tables(con, leaky, "syn_leaky")
    result = gate.evaluate_schema(
        con,
        spec,
        split.train,
        split.holdout,
        synthetic,
        report.bounds,
        _noise(1.0, "leaky"),
        scratch="l2",
        raw=raw,
    )
    found = _leaks(result.verdicts)
    assert not found["stays"].passed and found["stays"].value > 50, found["stays"]
    assert found["patients"].passed
    decision = gate.schema_verdict(result.verdicts, spec.tables)
    assert not decision.release and decision.blocked_by == ("identifier_leaks:stays",)
