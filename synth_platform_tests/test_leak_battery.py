"""The planted-leak battery against the release gate's privacy checks, both sides.

Every leaky table built from the demo data must be blocked; the honest generators — Gaussian
copula, CTGAN and TVAE with a short training, and the differentially private dp_mst — must
pass. A few thousand rows keep it quick; `make bench` runs the same on all 48,842 rows.
"""

from __future__ import annotations

import pandas as pd
import pytest

from synth_platform.lib import evaluation, leak_battery, privacy
from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
from synth_platform.lib.spec import load_spec
from synth_platform_tests.conftest import PROJECT_ROOT

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
    spec = load_spec(PROJECT_ROOT / "config" / "datasets" / "adult_customers.yaml")
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
