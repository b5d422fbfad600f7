"""The gate's exact checks: the public GX suite, one check per privacy attack of
`lib/gate/attacks/`, and train-synthetic-test-real utility. Under a private gate their exact
figures fill the restricted evidence pack only; without one they decide."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import pandas as pd

from synth_platform.lib.deidentify.masking import RARE_CATEGORY, ColumnTreatment
from synth_platform.lib.gate import quality
from synth_platform.lib.gate.attacks import ATTACKS, AttackConfig, AttackResult, run_suite
from synth_platform.lib.gate.evaluation.model_space import format_patterns, published_domains
from synth_platform.lib.gate.evaluation.outcomes import UTILITY_CHECK, CheckOutcome
from synth_platform.lib.spec import DatasetSpec


def public_expectations(
    spec: DatasetSpec,
    plan: list[ColumnTreatment],
    schema: pd.DataFrame,
    synthetic: pd.DataFrame,
    synthetic_model: pd.DataFrame,
) -> CheckOutcome:
    """The GX suite, built from public inputs only (warehouse types, declared domains, the plan's
    formats) and run on the synthetic table: a public check, exact and free."""
    published = published_domains(spec, plan)
    formats = format_patterns(plan)
    suite = quality.build_public_suite(
        schema.head(0),
        formats=formats,
        bounds={c: d["bounds"] for c, d in published.items() if "bounds" in d},
        categories={c: d["categories"] for c, d in published.items() if "categories" in d},
        extra_categories=[RARE_CATEGORY],
    )
    suite_frame = synthetic_model.copy()
    for column in formats:
        suite_frame[column] = synthetic[column].astype("string")
    suite_result = quality.run_suite(suite, suite_frame)
    failed = [f"{o.expectation}({o.column})" for o in suite_result.outcomes if not o.success]
    return CheckOutcome(
        "schema_expectations",
        suite_result.success,
        float(suite_result.failed),
        0.0,
        f"{suite_result.evaluated - suite_result.failed} of {suite_result.evaluated} expectations built "
        "from public inputs (warehouse types, declared domains, identifier formats) hold on the synthetic "
        "table",
        {"failed_expectations": failed[:20]},
        public=True,
    )


# --- Privacy attacks (lib/attacks): one blocking check per attack ----------------------------------


def attack_config(checks) -> AttackConfig:
    """The attack suite's settings from the spec's `checks` (one source of thresholds)."""
    return AttackConfig(
        seed=checks.seed,
        distance_rows=checks.evaluation_rows,
        close_quantile=checks.close_copy_quantile,
        max_close_copy_excess=checks.max_close_copy_excess,
        max_near_copy_excess=checks.max_near_copy_excess,
        max_membership_auc=checks.max_membership_auc,
        max_singling_out_risk=checks.max_singling_out_risk,
        max_linkability_risk=checks.max_linkability_risk,
        max_inference_risk=checks.max_inference_risk,
        max_unique_people_excess=checks.max_unique_people_excess,
        max_absolute_exposure_excess=checks.max_absolute_exposure_excess,
        anonymeter_attacks=checks.anonymeter_attacks,
        min_holdout_rows=checks.min_holdout_rows,
        min_evaluation_rows=checks.min_evaluation_rows,
    )


#: check name -> description, in gate order (the gate asset declares one blocking check per attack)
ATTACK_CHECKS = {name: description for name, (_, _, description) in ATTACKS.items()}


def attack_outcome(result: AttackResult) -> CheckOutcome:
    return CheckOutcome(
        result.name,
        result.passed,
        result.statistic,
        result.threshold,
        ATTACK_CHECKS[result.name],
        {
            **result.details,
            "rows_evaluated": result.rows_evaluated,
            "seed": result.seed,
            "outcome": result.verdict,  # pass | block | not_applicable
        },
        ci=result.ci,
        verdict=result.message,
    )


def privacy_attacks(
    checks,
    plan: list[ColumnTreatment],
    synthetic_model: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    timings: dict | None = None,
    evidence_only: bool = False,
    only: Collection[str] | None = None,
) -> list[CheckOutcome]:
    """Every attack of the suite on model-space tables; roles from the PII report classes.

    `evidence_only` (a private gate, whose noisy figures decide): the anonymeter attacks target at
    most `EVIDENCE_TARGETS` people, and their details say so (`targets_capped`). `only`: the
    attacks to run (`attacks.run_suite`), all when None."""
    reaching = [t for t in plan if t.reaches_model]
    config = attack_config(checks)
    capped = evidence_only and config.anonymeter_attacks > EVIDENCE_TARGETS
    if capped:
        config = replace(config, anonymeter_attacks=EVIDENCE_TARGETS)
    results = run_suite(
        train,
        holdout,
        synthetic_model,
        [t.column for t in reaching],
        quasi_identifiers=[t.column for t in reaching if t.pii_class == "quasi_identifier"],
        sensitive=[t.column for t in reaching if t.pii_class == "sensitive"],
        generalised=[t.column for t in reaching if t.action == "generalize"],
        config=config,
        timings=timings,
        only=only,
    )
    outcomes = [attack_outcome(r) for r in results]
    if not capped:
        return outcomes
    note = {
        "spec_anonymeter_attacks": checks.anonymeter_attacks,
        "used": EVIDENCE_TARGETS,
        "why": "a private gate decides on noisy figures; this exact figure only fills the evidence pack",
    }
    return [
        replace(o, details={**o.details, "targets_capped": note}) if o.name in ANONYMETER_CHECKS else o
        for o in outcomes
    ]


#: Under a private gate the anonymeter attacks (singling out, linkability, attribute inference)
#: only fill the restricted evidence pack: they target at most this many people, half the spec's
#: default, in half the time. Measured on the demo (50,000 rows, a dp_mst table with no risk):
#: singling out's 95 % interval [0, 0.056] -> [0, 0.096] against its 0.20 threshold, linkability's
#: [0, 0.009] -> [0, 0.018] against 0.10 (both still decide); attribute inference's [0, 0.25] ->
#: [0, 0.31] against 0.10 (undecided at either size). The exact gate (`synth-platform check`)
#: keeps the spec's `anonymeter_attacks`.
EVIDENCE_TARGETS = 150
ANONYMETER_CHECKS = ("singling_out", "linkability", "attribute_inference")


# --- Utility: train synthetic, test real (TSTR) ----------------------------------------------------
# Kept as its own block: one check over every target the spec declares (lib.gate.utility does the work).


def utility_check(
    spec: DatasetSpec, train: pd.DataFrame, synthetic_model: pd.DataFrame, holdout: pd.DataFrame
) -> CheckOutcome:
    """The largest TRTR - TSTR gap over the spec's targets, against `utility.max_gap`.

    Frames are model space (as the other checks see them). A target that does not reach the
    model (a dropped identifier) or has no values fails the check with the reason, not an error.
    """
    from synth_platform.lib.gate import utility

    settings = spec.utility
    results, problems = [], []
    for target in settings.targets:
        try:
            results.append(
                utility.train_synthetic_test_real(
                    train,
                    synthetic_model,
                    holdout,
                    target,
                    task=_utility_task(spec, target),
                    max_rows=settings.max_rows,
                    seed=settings.seed,
                )
            )
        except ValueError as error:
            problems.append(str(error))
    # The verdict uses the interval, as the attacks do: block when even the lower 95 % bound of a
    # target's gap is above max_gap. A small holdout gives a wide interval (the demo's 300-row samples
    # swing by 0.15 AUC between splits); the full table's is tight.
    worst = max(results, key=lambda r: r.gap, default=None)
    blocked = [r.target for r in results if r.gap_ci[0] > settings.max_gap]
    passed = not problems and not blocked and worst is not None
    scores = ", ".join(f"{r.target}: {r.metric} {r.tstr:.3f} vs {r.trtr:.3f}" for r in results)
    if problems or worst is None:
        verdict = "blocked: " + ("; ".join(problems) or "no target scored")
    elif blocked:
        verdict = f"blocked: the synthetic data loses more than {settings.max_gap:g} on {', '.join(blocked)}"
    else:
        verdict = f"passed: no target's gap is surely above {settings.max_gap:g} (lower 95 % bound)"
    return CheckOutcome(
        UTILITY_CHECK,
        passed,
        float(worst.gap) if worst else float("inf"),
        settings.max_gap,
        f"largest gap between a model trained on real and one trained on synthetic data, both tested on "
        f"the real holdout (TRTR - TSTR; {scores or 'no target scored'}); blocks when the gap's lower 95 % "
        "bound is above the threshold",
        {"targets": [r.as_dict() for r in results], **({"problems": problems} if problems else {})},
        ci=worst.gap_ci if worst else None,
        verdict=verdict,
    )


def _utility_task(spec: DatasetSpec, target: str):
    kind = spec.columns[target].type
    if kind in ("category", "string", "boolean"):
        return "classification"
    return None  # numbers: lib.gate.utility decides (few distinct integers are classes)
