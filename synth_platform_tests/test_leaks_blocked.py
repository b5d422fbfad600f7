"""The harder planted-leak battery (issue 14) must be blocked by the release gate; honest passes.

A user built leaks the first battery never tried, and the gate released them: the whole real
table with ZIP and birth date redrawn, 20 % real people of the whole source, 5 % exact copies of
holdout people, 10 % real people nudged (`lib/leak_battery.LEAK_CLASSES`). Here each class is
planted, in the source's shape (what `synth-platform check` reads: identifier columns hold the
honest table's refilled fakes), into an honest table of the demo data (6,000 rows: the outlier
class plants 1.5 % of the rows, and at 3,000 rows its 36 people did not stand out of the chance
matches at the check's family-wise 1 %), and `evaluation.evaluate` — exact figures, as `check` —
must block it and name the checks that decide.

The honest table comes from a cheap generator (`leak_battery.resampled_honest`): every column
resampled independently from the training rows within the classes of the utility target
`income`, so TSTR keeps a usable signal; it holds no real person beyond chance and fits in
milliseconds, where a Gaussian copula or CTGAN would dominate the test's time.

Most leaks plant holdout people as well as training people, which every relative attack (train
vs holdout) is blind to: they are decided by the absolute-exposure check.

Real generators through the whole gate: GaussianCopula and `dp_mst` (the spec's epsilon 1 and
declared domains, as the chain fits it) trained on the same 4,842 training people, sampled as the
chain sizes the table, refilled, and judged by `evaluate` — GX, quality, utility, every attack,
identifier leaks — must be released. CTGAN and TVAE are judged on the privacy checks only
(`test_leak_battery.py`): trained briefly enough for a test they make a poor table that quality
rightly blocks (TVAE, 30 epochs here: quality 0.62 < 0.75, a minute of fitting).
"""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

from synth_platform.bench.gate import as_ingested
from synth_platform.lib.dataset_instances import load_instance
from synth_platform.lib.deidentify import refill
from synth_platform.lib.demo_data import enrich_with_identifiers, load_adult
from synth_platform.lib.gate import evaluation, leak_battery
from synth_platform.lib.synthesize import synthesis
from synth_platform.settings import DATASETS_DIR

ROWS = 6000
EXPOSURE = "absolute_exposure"

#: leak class -> the checks that must be among those blocking it
DECIDING = {
    "whole_source_redrawn": {EXPOSURE},
    "source_redrawn_20": {EXPOSURE},
    "holdout_exact_5": {EXPOSURE},
    "k_neighbours_10": {EXPOSURE},
    "outliers_replayed": {EXPOSURE},
    # rare people are mostly training people, copied as they are: exact copies alone see them
    "rare_categories": {"exact_copies"},
    "column_group_only": {EXPOSURE},
}
#: what the generator saw: both, when evaluate takes `trained_on` (the leaks plant people of the
#: whole source, so even "all" — where train-vs-holdout checks do not decide — must block them)
TRAINED_ON = (
    list(evaluation.TRAINED_ON)
    if "trained_on" in inspect.signature(evaluation.evaluate).parameters
    else [None]
)


@pytest.fixture(scope="module")
def demo():
    spec = load_instance(DATASETS_DIR / "adult_customers")
    checks = spec.checks.model_copy(update={"anonymeter_attacks": 100, "evaluation_rows": 1500})
    spec = spec.model_copy(update={"checks": checks})
    raw = as_ingested(enrich_with_identifiers(load_adult(rows=ROWS)), spec)
    split = leak_battery.source_shape_split(raw, spec)
    model_columns = [t.column for t in split["plan"] if t.reaches_model]
    honest_model = leak_battery.resampled_honest(
        split["train"][model_columns], len(split["train"]), 2, "income"
    )
    honest = refill.restore_source_shape(honest_model, spec, split["plan"], seed=3)
    battery = leak_battery.harder_battery(
        honest,
        split["train_people"],
        split["holdout_people"],
        leak_battery.roles(split["plan"], space="source"),
        seed=1,
    )
    return {"spec": spec, "honest": honest, "battery": battery, **split}


def failed_checks(demo, table, trained_on) -> list[str]:
    extra = {} if trained_on is None else {"trained_on": trained_on}
    report = evaluation.evaluate(
        demo["spec"], demo["plan"], table, demo["train"], demo["holdout"], demo["raw_identifiers"], **extra
    )
    return report.failed_checks


@pytest.mark.parametrize("trained_on", TRAINED_ON)
def test_the_honest_table_is_released(demo, trained_on):
    assert failed_checks(demo, demo["honest"], trained_on) == []


def _leak_cases():
    for name in DECIDING:
        for trained_on in TRAINED_ON:
            yield pytest.param(name, trained_on, id=f"{name}-{trained_on}")


@pytest.mark.parametrize(("leak", "trained_on"), list(_leak_cases()))
def test_every_harder_leak_is_blocked_by_its_deciding_checks(demo, leak, trained_on):
    assert leak in demo["battery"], f"{leak} was not planted on the demo table"
    failed = failed_checks(demo, demo["battery"][leak], trained_on)
    assert failed, f"{leak} was released"
    assert DECIDING[leak] <= set(failed), failed
    assert "no_identifier_leak" not in failed  # identifiers are the honest table's fakes


def _generated(demo, kind: str) -> pd.DataFrame:
    """`kind` fitted on the demo's training people and sampled as the chain does (dp_mst: the spec's
    parameters and declared domains, its noisy total of rows; GaussianCopula: the training count),
    in the source's shape."""
    from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer, declared_domains

    spec, plan = demo["spec"], demo["plan"]
    train = demo["train"][[t.column for t in plan if t.reaches_model]]
    synthesizer = None
    if kind == "dp_mst":
        synthesizer = DPMSTSynthesizer(None, domains=declared_domains(spec, plan), **spec.synthesizer.params)
    fitted = synthesis.fit_frame(train, kind, {}, spec.synthesizer.seed, synthesizer)
    rows = max(1, round(fitted.noisy_total)) if kind == "dp_mst" else len(train)
    sampled = fitted.synth.sample(rows)
    sampled = sampled[synthesis.TABLE] if isinstance(sampled, dict) else sampled
    return refill.restore_source_shape(sampled.reset_index(drop=True), spec, plan, seed=spec.synthesizer.seed)


@pytest.mark.parametrize("kind", ["gaussian_copula", "dp_mst"])
def test_honest_generators_are_released_by_the_whole_gate(demo, kind):
    table = _generated(demo, kind)
    assert len(table) > 4000  # a table large enough to judge, not a handful of rows
    assert failed_checks(demo, table, "train") == []  # the generator saw the training split only
