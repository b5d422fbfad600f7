"""The planted-leak battery against the release gate's privacy checks, both sides.

Every leaky table built from the demo data must be blocked; the honest generators — Gaussian
copula, CTGAN and TVAE with a short training, and the differentially private dp_mst — must
pass. A few thousand rows keep it quick; `make bench` runs the same on all 48,842 rows.

Twice: by the exact attacks (the restricted figures of the evidence pack) and by the private
decision (`lib/private_decision`: bounded figures, noised). On 3,000 rows (580 holdout people)
the default gate rho's noise is larger than a 1 % leak, so the battery's private side is judged
at a rho whose noise is negligible — the bounded figures and the decision rule must separate
leaky from honest by themselves — and at the default rho for the honest generators (no false
block) and the gross leaks. On the full demo data (9,609 holdout people) the default rho blocks
every table of the battery and passes the honest ones (README, "A private release decision").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.dataset_instances import load_instance
from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
from synth_platform.lib.gate import evaluation, leak_battery, privacy, private_decision
from synth_platform.settings import DATASETS_DIR

ROWS = 3000
#: CTGAN / TVAE / dp_mst learn from this many training rows (their fit dominates the test's time;
#: under 500 rows CTGAN's transformer also stays in-process instead of spawning workers)
FIT_ROWS = 450
SHORT_TRAINING = {
    "gaussian_copula": {"default_distribution": "truncnorm"},
    "ctgan": {"epochs": 2},
    "tvae": {"epochs": 2},
    "dp_mst": {"epsilon": 1.0, "iters": 50},
}


@pytest.fixture(scope="module")
def demo():
    spec = load_instance(DATASETS_DIR / "adult_customers")
    # the gate's thresholds as shipped; fewer anonymeter targets and distance rows, as in the chain tests
    checks = spec.checks.model_copy(update={"anonymeter_attacks": 100, "evaluation_rows": 1500})
    spec = spec.model_copy(update={"checks": checks})
    plan, train, holdout = leak_battery.model_space_split(
        enrich_with_identifiers(load_adult(rows=ROWS)), spec
    )
    return spec, plan, train, holdout


def privacy_failures(spec, plan, table: pd.DataFrame, train, holdout) -> dict[str, str]:
    """The gate's privacy checks that block `table`: exact copies and every attack."""
    failures = {}
    copies = privacy.exact_copies(table, train, holdout, list(train.columns))
    if copies.share > spec.checks.max_exact_copy_share:
        failures["exact_copies"] = f"share {copies.share:.4f}"
    for outcome in evaluation.privacy_attacks(spec.checks, plan, table, train, holdout):
        if not outcome.passed:
            failures[outcome.name] = outcome.verdict
    return failures


#: a rho whose noise is negligible on this sample: what is left is the bounded figures' own power
NEGLIGIBLE_NOISE_RHO = 50.0


def private_failures(
    spec, plan, table: pd.DataFrame, train, holdout, rho: float, name: str
) -> dict[str, str]:
    """The private gate's real-data checks that block `table`: noisy bounded figures, fixed test key."""
    noise = private_decision.GateNoise(
        b"fixed-test-only-gate-key", "battery-model", name, rho, evaluation=name
    )
    figures = evaluation.private_figures(spec, plan, table, table, train, holdout, [], noise)
    # the privacy checks, as `privacy_failures` (quality and utility are judged elsewhere; a 2-epoch
    # CTGAN on 450 rows is poor but private)
    privacy_checks = set(figures) - {"quality_score", "utility_tstr"}
    return {c: verdict for c, (noisy, verdict) in figures.items() if c in privacy_checks and not noisy.passed}


@pytest.fixture(scope="module")
def gaussian_copula_table(demo):
    _, _, train, _ = demo
    return leak_battery.honest_table(train, "gaussian_copula", SHORT_TRAINING["gaussian_copula"], len(train))


@pytest.mark.parametrize("kind", sorted(SHORT_TRAINING))
def test_honest_generators_are_released(demo, gaussian_copula_table, kind):
    spec, plan, train, holdout = demo
    if kind == "gaussian_copula":
        table = gaussian_copula_table
    else:  # judged against exactly the rows it learnt from, so any memorisation would show in full
        train = train.sample(FIT_ROWS, random_state=0).reset_index(drop=True)
        table = leak_battery.honest_table(train, kind, SHORT_TRAINING[kind], len(train))
    assert privacy_failures(spec, plan, table, train, holdout) == {}
    for rho in (spec.checks.gate_rho, NEGLIGIBLE_NOISE_RHO):  # the private decision: no false block
        assert private_failures(spec, plan, table, train, holdout, rho, kind) == {}, rho


def test_every_planted_leak_is_blocked(demo, gaussian_copula_table):
    spec, plan, train, holdout = demo
    roles = leak_battery.roles(plan)
    battery = leak_battery.build_battery(
        train, holdout, gaussian_copula_table, roles["generalised"], roles["quasi_identifiers"], seed=1
    )
    assert {
        "near_copies_100%",
        "near_copies_10%",
        "near_copies_2%",
        "near_copies_1%",
        "exact_copies_0.5%",
        "unique_replay_1%",
        "unique_replay_2%",
        "noisy_copies_2%",
        "noisy_copies_10%",
    } <= set(battery)
    released = [
        name for name, table in battery.items() if not privacy_failures(spec, plan, table, train, holdout)
    ]
    assert released == []
    # At negligible noise only the sampling error is left. The battery's smallest leaks stand ~2.8
    # sampling sd above their thresholds on 580 holdout people: the shipped family-wise false-block
    # rate (`checks.false_block_rate` 0.01: z 3.23 per figure over the gate's 16) is not sure of
    # them at 3,000 rows (the power it pays for a stated 1 %; they blocked at the old per-check z
    # 2.58). A 5 % family rate (z 2.73, still stricter than 2.58) separates them; the shipped rate
    # every larger leak.
    smallest = ("near_copies_1%", "exact_copies_0.5%", "unique_replay_1%")
    five_percent = spec.model_copy(
        update={"checks": spec.checks.model_copy(update={"false_block_rate": 0.05})}
    )
    privately_released = [
        name
        for name, table in battery.items()
        if not private_failures(
            five_percent if name in smallest else spec,
            plan,
            table,
            train,
            holdout,
            NEGLIGIBLE_NOISE_RHO,
            name,
        )
    ]
    assert privately_released == []
    gross = ("near_copies_100%", "near_copies_10%")  # beyond the default rho's noise even on 580 people
    for name in gross:
        failed = private_failures(spec, plan, battery[name], train, holdout, spec.checks.gate_rho, name)
        assert {"near_copies", "unique_people"} & set(failed), name


def test_planted_rows_are_real_training_people(demo, gaussian_copula_table):
    """The battery plants what it says: 1 % near copies share all non-generalised columns with train."""
    _, plan, train, holdout = demo
    roles = leak_battery.roles(plan)
    leaky = leak_battery.build_battery(
        train, holdout, gaussian_copula_table, roles["generalised"], roles["quasi_identifiers"], seed=1
    )["near_copies_1%"]
    kept = [c for c in train.columns if c not in roles["generalised"]]
    merged = leaky[kept].astype(str).merge(train[kept].astype(str).drop_duplicates(), how="inner")
    assert len(merged) >= round(0.01 * len(leaky))
    assert len(leaky) == len(gaussian_copula_table)


# --- The harder battery (issue 14): people of the whole source, any table shape, both spaces ------
# Generation only (what is planted where); whether the gate blocks it is test_leaks_blocked.py.
# The honest side is the cheap per-column resampling of train (`leak_battery.resampled_honest`).

HARDER_ROWS = 3000


def _shape_demo_model() -> dict:
    spec = load_instance(DATASETS_DIR / "adult_customers")
    plan, train, holdout = leak_battery.model_space_split(
        enrich_with_identifiers(load_adult(rows=HARDER_ROWS)), spec
    )
    honest = leak_battery.resampled_honest(train, len(train), seed=2, by="income")
    return {"train": train, "holdout": holdout, "honest": honest, "roles": leak_battery.roles(plan)}


def _shape_demo_source() -> dict:
    from synth_platform.bench.gate import as_ingested
    from synth_platform.lib.deidentify import refill

    spec = load_instance(DATASETS_DIR / "adult_customers")
    raw = as_ingested(enrich_with_identifiers(load_adult(rows=HARDER_ROWS)), spec)
    split = leak_battery.source_shape_split(raw, spec)
    model_columns = [t.column for t in split["plan"] if t.reaches_model]
    honest_model = leak_battery.resampled_honest(
        split["train"][model_columns], len(split["train"]), 2, "income"
    )
    return {
        "train": split["train_people"],
        "holdout": split["holdout_people"],
        "honest": refill.restore_source_shape(honest_model, spec, split["plan"], seed=3),
        "roles": leak_battery.roles(split["plan"], space="source"),
    }


def _random_split(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    holdout = np.random.default_rng(seed).random(len(frame)) < 0.2
    return frame[~holdout].reset_index(drop=True), frame[holdout].reset_index(drop=True)


def _shape_plain(frame: pd.DataFrame) -> dict:
    """A table with no roles at all: no generalised columns, no quasi-identifiers, no fakes."""
    train, holdout = _random_split(frame)
    honest = leak_battery.resampled_honest(train, len(train), seed=2)
    return {"train": train, "holdout": holdout, "honest": honest, "roles": {}}


def _shape_odd_names() -> dict:
    from synth_platform.bench.gate import odd_names

    return _shape_plain(odd_names(HARDER_ROWS)[0])


def _shape_numeric() -> dict:
    from synth_platform.bench.gate import numeric_credit

    return _shape_plain(numeric_credit(HARDER_ROWS)[0].drop(columns=["id"]))


HARDER_SHAPES = {
    "demo_model": _shape_demo_model,
    "demo_source": _shape_demo_source,
    "odd_names": _shape_odd_names,
    "numeric": _shape_numeric,
}


@pytest.fixture(scope="module", params=sorted(HARDER_SHAPES))
def shape(request):
    data = HARDER_SHAPES[request.param]()
    data["name"] = request.param
    data["planted"] = leak_battery.planted_battery(
        data["honest"], data["train"], data["holdout"], data["roles"], seed=1
    )
    columns = list(data["honest"].columns)
    data["source"] = leak_battery.source_of(data["train"], data["holdout"])[columns]
    data["real"] = [c for c in columns if c not in data["roles"].get("fake", [])]
    return data


def _text(frame: pd.DataFrame) -> np.ndarray:
    """Cells as text, missing as one marker: equality across dtypes that hold the same value."""
    return frame.astype("string").fillna("\x00<NA>").to_numpy()


EXPECTED_COUNTS = {
    "whole_source_redrawn": 1.0,
    "source_redrawn_20": 0.20,
    "holdout_exact_5": 0.05,
    "k_neighbours_10": 0.10,
    "outliers_replayed": 0.015,
    "column_group_only": 0.10,
}


def test_harder_battery_plants_the_stated_share_of_real_people(shape):
    honest, source, n = shape["honest"], shape["source"], len(shape["honest"])
    assert set(shape["planted"]) <= set(leak_battery.LEAK_CLASSES)
    assert set(EXPECTED_COUNTS) <= set(shape["planted"])
    for name, leak in shape["planted"].items():
        table = leak.table
        assert list(table.columns) == list(honest.columns) and len(table) == n, name
        assert (table.dtypes == honest.dtypes).all(), name
        share = EXPECTED_COUNTS.get(name)
        if share is not None:
            assert len(leak.positions) == max(1, round(share * n)), name
        else:  # rare categories: as many rare people as there are, at most 2 %
            assert 1 <= len(leak.positions) <= round(leak_battery.RARE_SHARE * n), name
        assert len(set(leak.positions)) == len(leak.positions) == len(leak.people) == len(leak.altered)
        others = np.setdiff1d(np.arange(n), leak.positions)
        assert (_text(table.iloc[others]) == _text(honest.iloc[others])).all(), name
        fake = shape["roles"].get("fake", [])
        if fake:  # identifiers are never a real person's: the honest table's refilled values stay
            assert (_text(table[fake]) == _text(honest[fake])).all(), name
        for position, person, altered in zip(leak.positions, leak.people, leak.altered, strict=True):
            kept = [c for c in shape["real"] if c not in altered]
            planted = _text(table.iloc[[position]][kept])
            assert (planted == _text(source.iloc[[person]][kept])).all(), (name, kept)


def test_whole_source_leaks_draw_train_and_holdout_people(shape):
    train_rows = len(shape["train"])
    for name in ("whole_source_redrawn", "source_redrawn_20", "k_neighbours_10"):
        people = shape["planted"][name].people
        assert (people < train_rows).any() and (people >= train_rows).any(), name
    generalised = shape["roles"].get("generalised", [])
    for altered in shape["planted"]["whole_source_redrawn"].altered:
        assert set(altered) == set(generalised) if generalised else len(altered) == 2


def test_holdout_copies_are_exact_copies_of_holdout_people(shape):
    leak = shape["planted"]["holdout_exact_5"]
    assert (leak.people >= len(shape["train"])).all()
    real = shape["real"]
    holdout = {tuple(row) for row in _text(shape["holdout"][real])}
    planted = _text(leak.table.iloc[leak.positions][real])
    assert all(tuple(row) in holdout for row in planted)


def test_k_neighbours_differ_from_their_person_in_exactly_the_stated_columns(shape):
    leak, source = shape["planted"]["k_neighbours_10"], shape["source"]
    numeric = leak_battery.numeric_columns(source, shape["real"])
    has_categories = bool(leak_battery.categorical_columns(source, shape["real"]))
    spans = {c: float(source[c].max() - source[c].min()) for c in numeric}
    for position, person, altered in zip(leak.positions, leak.people, leak.altered, strict=True):
        planted, real = leak.table.iloc[position], source.iloc[person]
        differing = {c for c in shape["real"] if str(planted[c]) != str(real[c])}
        assert differing == set(altered)
        moved = [c for c in altered if c in numeric]
        if numeric and has_categories:
            assert len(moved) <= 2 and len(altered) - len(moved) <= 1 and len(altered) >= 2
        else:  # one kind only: three columns of it
            assert len(altered) == 3
        for column in moved:
            step = abs(float(planted[column]) - float(real[column]))
            assert 0 < step <= leak_battery.K_NEIGHBOURS_MOVE * spans[column] + 1e-9, column
            assert source[column].min() <= planted[column] <= source[column].max()
            if pd.api.types.is_integer_dtype(source[column]):
                assert float(planted[column]).is_integer()
        for column in set(altered) - set(moved):
            assert planted[column] in set(source[column].dropna())


def test_outliers_are_the_most_extreme_people(shape):
    leak, source = shape["planted"]["outliers_replayed"], shape["source"]
    candidates = [c for c in shape["real"] if c not in shape["roles"].get("generalised", [])]
    scores = leak_battery.extremeness(source, candidates)
    assert scores[leak.people].min() >= np.sort(scores)[::-1][len(leak.people) - 1]
    assert scores[leak.people].min() > np.median(scores)


def test_rare_category_people_hold_a_value_at_most_five_people_hold(shape):
    leak = shape["planted"].get("rare_categories")
    source = shape["source"]
    categories = leak_battery.categorical_columns(source, shape["real"])
    if not categories:
        assert leak is None  # an all-numeric table has no category to be rare in
        return
    if leak is None:
        return  # no value held by <= 5 people in this sample
    counts = {c: source[c].value_counts() for c in categories}
    for person in leak.people:
        row = source.iloc[person]
        assert any(pd.notna(row[c]) and counts[c][row[c]] <= leak_battery.RARE_COUNT for c in categories)
    assert all(altered == () for altered in leak.altered)  # copied as they are


def test_column_group_is_copied_jointly_from_unique_people(shape):
    leak, source = shape["planted"]["column_group_only"], shape["source"]
    group = [c for c in shape["real"] if c not in leak.altered[0]]
    quasi = [c for c in shape["roles"].get("quasi_identifiers", []) if c in shape["real"]]
    assert group == quasi if quasi else len(group) == len(shape["real"]) // 2
    unique = set(leak_battery.group_unique_people(source, group))
    assert set(leak.people) <= unique
    assert (_text(leak.table.iloc[leak.positions][group]) == _text(source.iloc[leak.people][group])).all()


def test_harder_battery_is_seeded(shape):
    again = leak_battery.harder_battery(
        shape["honest"], shape["train"], shape["holdout"], shape["roles"], seed=1
    )
    other = leak_battery.harder_battery(
        shape["honest"], shape["train"], shape["holdout"], shape["roles"], seed=2
    )
    for name, leak in shape["planted"].items():
        pd.testing.assert_frame_equal(again[name], leak.table)
        assert not again[name].equals(other[name]), name
    assert [line.split(":")[0] for line in leak_battery.leak_descriptions()] == list(
        leak_battery.LEAK_CLASSES
    )
