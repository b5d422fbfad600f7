"""`evaluate`: every check of the gate on model-space frames, decided on the exact figures
(an operator's view) or, with a `GateNoise`, on the noisy bounded figures (the gate asset)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.gate import privacy, quality
from synth_platform.lib.gate.attacks.suite import ATTACKS, RELATIVE_ATTACKS
from synth_platform.lib.gate.evaluation.checks import privacy_attacks, public_expectations, utility_check
from synth_platform.lib.gate.evaluation.evidence_worker import GATE_SIDE_ATTACKS, EvidenceWorker
from synth_platform.lib.gate.evaluation.inputs import WholeTables, _reserved_spaces
from synth_platform.lib.gate.evaluation.model_space import (
    scored_columns,
    to_model_space,
    withhold_rare_generalized,
)
from synth_platform.lib.gate.evaluation.outcomes import HOLDOUT_CHECK, CheckOutcome, GateReport
from synth_platform.lib.gate.evaluation.private import _privatised, private_figures
from synth_platform.lib.gate.private_decision import GateNoise
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.synthesize.synthesis import sdv_metadata


def evaluate(
    spec: DatasetSpec,
    plan: list[ColumnTreatment],
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    raw_identifiers: list[pd.Series],
    noise: GateNoise | None = None,
    trained_on: str = "train",
    whole: WholeTables | None = None,
    worker: EvidenceWorker | None = None,
) -> GateReport:
    """Every check of the gate. Without `noise` the decision is taken on the exact figures
    (restricted: an operator's view, `synth-platform check`); with it (the gate asset, after the
    charge) every real-data check decides on its noisy bounded figure (`lib/private_decision`).

    `trained_on`: what the generator saw. "train" (the platform's models; a generator fitted on
    `synth-platform export-train`): every check applies. "all" (the whole source, or unknown):
    the checks that use the holdout as unseen people (`HOLDOUT_RELATIVE`) are shown but do not
    decide; absolute exposure, exact copies, identifier leaks and quality do.

    `whole` (the gate asset, `read_gate_inputs`): the frames are bounded samples of the warehouse
    tables and the sizes, exact copies and identifier leaks come from SQL over the whole tables;
    without it the frames are the whole tables (`synth-platform check`, tests).

    `worker` (the gate asset on a large table, `evidence_worker`): with `noise`, the exact checks —
    which then only fill the evidence pack — are computed in that worker process while this one
    computes the noisy figures; the same report, joined before returning.
    """
    if trained_on not in TRAINED_ON:
        raise ValueError(f"trained_on must be one of {', '.join(TRAINED_ON)}, not {trained_on!r}")
    if noise is not None and trained_on != "train":
        raise ValueError("the private gate judges the platform's own models, trained on the training split")
    checks = spec.checks
    model_columns = [t.column for t in plan if t.reaches_model]
    train = withhold_rare_generalized(train[model_columns], plan)
    holdout = withhold_rare_generalized(holdout[model_columns], plan)
    synthetic_model = to_model_space(synthetic, plan, train)

    # a private gate's exact quality score, attacks and TSTR only fill the evidence pack: a worker
    # computes them meanwhile (SDMetrics imports torch, ~1 CPU-s: there, not here)
    pending = None
    if worker is not None and noise is not None:
        pending = worker.submit_exact(spec, plan, model_columns, train, holdout, synthetic_model)
    gx = public_expectations(spec, plan, train, synthetic, synthetic_model)
    size_check = _size_check(checks, train, holdout, synthetic, whole)
    if pending is None:
        quality_check = _quality_check(checks, model_columns, train, synthetic_model)
        exact = _exact_checks(
            spec, plan, model_columns, train, holdout, synthetic_model, evidence_only=noise is not None
        )
    copy_check = _copy_check(checks, model_columns, train, holdout, synthetic_model, whole)
    leak_check = _leak_check(spec, plan, synthetic, raw_identifiers, whole)
    released = (
        None
        if noise is None
        else private_figures(
            spec, plan, synthetic, synthetic_model, train, holdout, raw_identifiers, noise, whole
        )
    )
    if pending is not None:
        # the attacks kept here (`GATE_SIDE_ATTACKS`) while the worker computes the others
        here = privacy_attacks(
            checks, plan, synthetic_model, train, holdout, evidence_only=True, only=GATE_SIDE_ATTACKS
        )
        # joined here: the report is whole when evaluate returns
        quality_check, there, utility = worker.result(pending)
        order = list(ATTACKS)
        exact = sorted([*there, *here], key=lambda o: order.index(o.name)), utility
    attack_checks, utility = exact
    outcomes = [gx, size_check, quality_check, copy_check, *attack_checks, leak_check, *utility]
    if trained_on == "all":
        outcomes = [_not_deciding(o) if o.name in HOLDOUT_RELATIVE else o for o in outcomes]
    if released is None:
        return GateReport(outcomes)
    return GateReport([_privatised(o, released.get(o.name)) for o in outcomes])


def _size_check(checks, train, holdout, synthetic, whole: WholeTables | None) -> CheckOutcome:
    """Rows of the holdout, train and synthetic tables against the minimums (exact)."""
    rows = (
        whole.rows
        if whole is not None
        else {"train": len(train), "holdout": len(holdout), "synthetic": len(synthetic)}
    )
    sizes_ok = (
        rows["holdout"] >= checks.min_holdout_rows
        and rows["train"] >= checks.min_evaluation_rows
        and rows["synthetic"] >= checks.min_evaluation_rows
    )
    return CheckOutcome(
        HOLDOUT_CHECK,
        sizes_ok,
        float(rows["holdout"]),
        float(checks.min_holdout_rows),
        f"rows of the holdout (at least min_holdout_rows) and of train and synthetic (at least "
        f"min_evaluation_rows {checks.min_evaluation_rows}): no evidence is no pass",
        {"train_rows": rows["train"], "synthetic_rows": rows["synthetic"]},
    )


def _quality_check(checks, model_columns, train, synthetic_model) -> CheckOutcome:
    """The SDMetrics quality score on the scored columns (exact)."""
    scored = scored_columns(train, model_columns)
    score, properties = quality.quality_score(
        train[scored],
        synthetic_model[scored],
        sdv_metadata(train[scored]),
        max_rows=checks.evaluation_rows,
        seed=checks.seed,
    )
    return CheckOutcome(
        "quality_score",
        score >= checks.min_quality_score,
        float(score),
        checks.min_quality_score,
        "SDMetrics quality score (column shapes and pair trends) of synthetic vs training data",
        {
            **{k: round(float(v), 4) for k, v in properties.items()},
            "not_scored_high_cardinality": [c for c in model_columns if c not in scored],
        },
    )


def _copy_check(checks, model_columns, train, holdout, synthetic_model, whole) -> CheckOutcome:
    """Exact copies of training rows: over the whole tables in SQL with `whole`, else the frames."""
    copies = (
        whole.copies
        if whole is not None
        else privacy.exact_copies(synthetic_model, train, holdout, model_columns)
    )
    return CheckOutcome(
        "exact_copies",
        copies.share <= checks.max_exact_copy_share,
        copies.share,
        checks.max_exact_copy_share,
        f"{copies.copies} synthetic rows are exact copies of training rows",
        {"copies": copies.copies, "holdout_baseline_share": round(copies.holdout_baseline_share, 6)},
    )


def _leak_check(spec, plan, synthetic, raw_identifiers, whole) -> CheckOutcome:
    """Identifying raw direct identifiers in the synthetic table (exact)."""
    leaks = (
        whole.leaks
        if whole is not None
        else privacy.identifier_leaks(synthetic, raw_identifiers, _reserved_spaces(spec, plan))
    )
    return CheckOutcome(
        "no_identifier_leak",
        leaks.leaked_cells == 0,
        float(leaks.leaked_cells),
        0.0,
        "cells of the synthetic table equal to an identifying raw direct identifier of the source "
        "(chance coincidences with common names are counted apart, not blocking)",
        {
            "columns_with_leaks": leaks.columns_with_leaks,
            "chance_coincidences": leaks.coincidences,
            "columns_with_coincidences": leaks.columns_with_coincidences,
            "rule": leaks.rule,
        },
    )


def _exact_checks(
    spec, plan, model_columns, train, holdout, synthetic_model, evidence_only: bool = False, attacks=None
):
    """(attacks, [utility]): with the quality score, the checks that decide an exact gate and only
    fill the evidence pack of a private one (its noisy bounded figures decide); what the evidence
    worker computes (`evidence_worker`). `attacks`: which attacks (all when None)."""
    attack_checks = privacy_attacks(
        spec.checks, plan, synthetic_model, train, holdout, evidence_only=evidence_only, only=attacks
    )
    utility = [utility_check(spec, train, synthetic_model, holdout)] if spec.utility.targets else []
    return attack_checks, utility


#: what a generator may have been trained on (`synth-platform check --trained-on`)
TRAINED_ON = ("train", "all")
#: checks that need the holdout to be people the generator never saw (relative attacks, TSTR)
HOLDOUT_RELATIVE = (*RELATIVE_ATTACKS, "utility_tstr")


def _not_deciding(outcome: CheckOutcome) -> CheckOutcome:
    """A holdout-relative check under --trained-on all: shown with its figures, never deciding."""
    return replace(
        outcome,
        passed=True,
        verdict=(
            "n/a under --trained-on all (the holdout was not unseen, so this comparison says nothing; "
            f"shown, not deciding): {outcome.verdict or outcome.description}"
        ),
        details={**outcome.details, "deciding": False, "exact_passed": outcome.passed},
    )
