"""The private decision: each real-data check's bounded figure (`lib/gate/bounded_figures`),
noised (`lib/gate/private_decision`: the rho split, the family-wise rule), with its public verdict;
and how an exact outcome is replaced by its noisy figure."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.gate import bounded_figures, private_decision
from synth_platform.lib.gate.evaluation.checks import _utility_task
from synth_platform.lib.gate.evaluation.inputs import GATE_SAMPLE_ROWS, WholeTables, _reserved_spaces
from synth_platform.lib.gate.evaluation.outcomes import HOLDOUT_CHECK, UTILITY_CHECK, CheckOutcome
from synth_platform.lib.gate.private_decision import GateNoise, NoisyFigure
from synth_platform.lib.spec import DatasetSpec


def real_data_checks(spec: DatasetSpec, plan: list[ColumnTreatment]) -> list[str]:
    """The checks that read real data and apply to this dataset (a function of the spec and the
    plan: public), in gate order; the gate's rho is split over these."""
    reaching = [t for t in plan if t.reaches_model]
    qis = [t for t in reaching if t.pii_class == "quasi_identifier"]
    sensitive = [t for t in reaching if t.pii_class == "sensitive"]
    names = [HOLDOUT_CHECK, "quality_score", "exact_copies", "close_copies", "near_copies"]
    names += ["membership_inference", "singling_out"]
    if len(qis) >= 2:
        names.append("linkability")
    if sensitive and len(reaching) >= 2:
        names.append("attribute_inference")
    if qis:
        names.append("unique_people")
    names.append("absolute_exposure")
    names.append("no_identifier_leak")
    if spec.utility.targets:
        names.append(UTILITY_CHECK)
    return names


def decided_figures(spec: DatasetSpec, plan: list[ColumnTreatment], numeric: list[str]) -> dict[str, int]:
    """Per noisy check that can falsely block an honest release, how many figures it decides: the
    family the gate's false-block rate is shared over (`private_decision.family_z`). Public: from the
    spec, the plan and the warehouse types (`numeric`), never from data.

    Every real-data check but the holdout minimum, whose error is the other way (a false pass: it
    passes only when surely at least the minimum, at `private_decision.Z`). Close copies decide one
    excess per public cut, absolute exposure one per public criterion, attribute inference one per
    sensitive column (the worst decides, so each may block); the others one figure each.
    """
    reaching = [t for t in plan if t.reaches_model]
    columns = [t.column for t in reaching]
    secrets = [t.column for t in reaching if t.pii_class == "sensitive"]
    many = {
        "close_copies": len(bounded_figures.CLOSE_CUTS),
        "absolute_exposure": len(bounded_figures.exposure_criteria(columns, numeric)),
        "attribute_inference": len(secrets),
    }
    return {name: max(1, many.get(name, 1)) for name in real_data_checks(spec, plan) if name != HOLDOUT_CHECK}


def gate_decision_rule(spec: DatasetSpec, plan: list[ColumnTreatment], numeric: list[str]) -> dict:
    """The gate's decision rule as stated to a user (public): the family-wise false-block rate alpha,
    how many figures share it, and the z each one is decided at."""
    figures = decided_figures(spec, plan, numeric)
    alpha = spec.checks.false_block_rate
    total = sum(figures.values())
    return {
        "false_block_rate": alpha,
        "figures": total,
        "figures_per_check": figures,
        "z": private_decision.family_z(alpha, total),
        "z_minimum": private_decision.Z,  # the holdout minimum's "surely at least"
    }


def _in_family(name: str, released: tuple[NoisyFigure, str], rule: dict) -> tuple[NoisyFigure, str]:
    """A released figure stamped with the family it was decided in (alpha and its size): public.
    A check that decided more figures than the family counted would break the stated rate: an
    error (the gate then fails, never passes), not a silent drift."""
    noisy, verdict = released
    per_figure = noisy.parts.get("noisy_excess_per_cut") or noisy.parts.get("noisy_excess_per_criterion")
    if per_figure is not None and len(per_figure) > rule["figures_per_check"][name]:
        raise RuntimeError(
            f"{name} decided {len(per_figure)} figures but the gate's false-block rate was shared over "
            f"{rule['figures_per_check'][name]} of them (evaluation.decided_figures is out of date)"
        )
    noisy = replace(noisy, false_block_rate=rule["false_block_rate"], family_figures=rule["figures"])
    return noisy, verdict


def _privatised(outcome: CheckOutcome, released: tuple[NoisyFigure, str] | None) -> CheckOutcome:
    if outcome.public:
        return outcome
    details = {
        **outcome.details,
        "exact_passed": outcome.passed,
        "exact_verdict": outcome.verdict,
        "exact_description": outcome.description,  # may quote exact counts or scores: restricted
    }
    description = "noisy bounded figure: " + private_decision.SENSITIVITY.get(outcome.name, outcome.name)
    outcome = replace(outcome, description=description)
    if released is None:  # does not apply to this dataset (the plan says so): nothing to release
        return replace(
            outcome,
            passed=True,
            verdict="n/a: does not apply to this dataset's columns (public: from the masking plan)",
            details=details,
        )
    noisy, verdict = released
    details["released"] = noisy.as_dict()  # the noisy figure beside the exact ones, in the pack
    return replace(outcome, passed=noisy.passed, verdict=verdict, details=details, noisy=noisy)


def _verdict(noisy: NoisyFigure, what: str, threshold: float, direction: str = "above") -> str:
    if not math.isfinite(noisy.value):
        return f"BLOCK: {what} could not be computed; no evidence is no pass"
    word = {"above": "surely above", "below": "surely below", "at_least": "surely at least"}[direction]
    state = "pass" if noisy.passed else "BLOCK"
    if direction == "at_least":
        is_word = word if noisy.passed else "not " + word
    else:
        is_word = ("not " + word) if noisy.passed else word
    return (
        f"{state}: noisy {what} is {noisy.value:.4f} (DP noise sd {noisy.sigma:.4g}, total uncertainty "
        f"{noisy.uncertainty:.4g}), {is_word} {threshold:g} (sure: z {noisy.z:.3f})"
    )


def _auc_sd(m: int):
    def sd(value: float) -> float:
        a = min(0.99, max(0.5, value))
        q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
        return math.sqrt(max(a * (1 - a) + (m - 1) * (q1 - a * a) + (m - 1) * (q2 - a * a), 0.0)) / m

    return sd


def private_figures(
    spec: DatasetSpec,
    plan: list[ColumnTreatment],
    synthetic: pd.DataFrame,
    synthetic_model: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    raw_identifiers: list[pd.Series],
    noise: GateNoise,
    whole: WholeTables | None = None,
) -> dict[str, tuple[NoisyFigure, str]]:
    """Each applicable real-data check's noisy bounded figure and public verdict.

    Sample sizes are public: the noisy counts less two sigma (capped per check, and at
    `GATE_SAMPLE_ROWS`: with `whole`, train and holdout are the gate's SQL samples of that size,
    themselves a keyed function of the data, so one person still moves each chosen set by at most
    one in and one out). Everything that scales an indicator comes from the synthetic table
    (`lib/bounded_figures`); exact copies and leaks are looked up in the whole tables (`whole`).
    """
    checks = spec.checks
    bf = bounded_figures
    names = real_data_checks(spec, plan)
    rho = private_decision.split_rho(noise.rho, names)
    reaching = [t for t in plan if t.reaches_model]
    columns = [t.column for t in reaching]
    qis = [t.column for t in reaching if t.pii_class == "quasi_identifier"]
    secrets = [t.column for t in reaching if t.pii_class == "sensitive"]
    generalised = [t.column for t in reaching if t.action == "generalize"]
    numeric = bf.numeric_columns(train, columns)  # from the warehouse types: public
    # one z for every "sure of a problem" figure: the spec's family-wise false-block rate, shared
    # (Bonferroni) over every figure this evaluation decides (public: spec, plan, types)
    rule = gate_decision_rule(spec, plan, numeric)
    z = rule["z"]
    out: dict[str, tuple[NoisyFigure, str]] = {}

    rows = (
        whole.rows
        if whole is not None
        else {"train": len(train), "holdout": len(holdout), "synthetic": len(synthetic)}
    )
    n_t, n_h, sigma_n = private_decision.noisy_counts(
        noise, rows["train"], rows["holdout"], rho[HOLDOUT_CHECK]
    )
    enough = (
        private_decision.passes_if_surely_at_least(n_h, sigma_n, checks.min_holdout_rows)
        and private_decision.passes_if_surely_at_least(n_t, sigma_n, checks.min_evaluation_rows)
        and rows["synthetic"] >= checks.min_evaluation_rows
    )
    size = NoisyFigure(n_h, sigma_n, 1.0, rho[HOLDOUT_CHECK], sigma_n, enough, {"noisy_train_rows": n_t})
    out[HOLDOUT_CHECK] = (size, _verdict(size, "holdout row count", checks.min_holdout_rows, "at_least"))

    key = private_decision.sample_key(noise.key)
    m_t = private_decision.public_size(n_t, sigma_n, GATE_SAMPLE_ROWS)
    m_h = private_decision.public_size(n_h, sigma_n, GATE_SAMPLE_ROWS)

    hashes: dict[int, np.ndarray] = {}  # per frame (train, holdout): hashed once for every check
    texts = {id(train): bf.canonical_text(train), id(holdout): bf.canonical_text(holdout)}  # and written once

    def sample(frame: pd.DataFrame, m: int) -> pd.DataFrame:
        if 0 < m < len(frame) and id(frame) not in hashes:
            hashes[id(frame)] = bf.keyed_hashes(frame, key, texts.get(id(frame)))
        return bf.keyed_sample(frame, m, key, hashes.get(id(frame)))

    people_t, people_h = sample(train, m_t), sample(holdout, m_h)

    def shares(name: str, hits: tuple[int, int], sizes: tuple[int, int], threshold: float, what: str):
        noisy = private_decision.noisy_share_difference(
            noise, name, hits[0], sizes[0], hits[1], sizes[1], rho[name], threshold, z
        )
        out[name] = (noisy, _verdict(noisy, what, threshold))

    m_q = min(m_t, bf.DISTANCE_PEOPLE)
    scored = bf.scored_columns(synthetic_model, columns, numeric)
    quality_score = bf.bounded_quality(
        sample(train, m_q), synthetic_model, scored, numeric, m_q, checks.seed
    )["score"]
    noisy = private_decision.noisy_scalar(
        noise,
        "quality_score",
        quality_score,
        1.0 / max(m_q, 1),
        rho["quality_score"],
        checks.min_quality_score,
        "below",
        clip=(0.0, 1.0),
        z=z,
    )
    out["quality_score"] = (
        noisy,
        _verdict(noisy, "quality score (bounded TV/KS variant)", checks.min_quality_score, "below"),
    )

    noisy = private_decision.noisy_share(
        noise,
        "exact_copies",
        (
            int(whole.copied.loc[people_t.index].sum())
            if whole is not None
            else bf.exact_copy_hits(people_t, synthetic_model, columns)
        ),
        m_t,
        rho["exact_copies"],
        checks.max_exact_copy_share,
        z,
    )
    out["exact_copies"] = (
        noisy,
        _verdict(noisy, "share of training people with an exact copy", checks.max_exact_copy_share),
    )

    m_td, m_hd = min(m_t, bf.DISTANCE_PEOPLE), min(m_h, bf.DISTANCE_PEOPLE)
    close_t, close_h = bf.close_copy_hits(
        sample(train, m_td), sample(holdout, m_hd), synthetic_model, columns, numeric
    )
    noisy = private_decision.noisy_share_differences(
        noise,
        "close_copies",
        close_t,
        m_td,
        close_h,
        m_hd,
        rho["close_copies"],
        checks.max_close_copy_excess,
        z,
    )
    what = "largest excess share of training people close to a synthetic row (public cuts)"
    out["close_copies"] = (noisy, _verdict(noisy, what, checks.max_close_copy_excess))

    shares(
        "near_copies",
        bf.near_copy_hits(people_t, people_h, synthetic_model, columns, numeric),
        (m_t, m_h),
        checks.max_near_copy_excess,
        "excess share of training people with a near twin",
    )

    m_n = min(m_t, m_h, bf.NEIGHBOUR_PEOPLE)
    near_t, near_h = sample(train, m_n), sample(holdout, m_n)
    auc = bf.membership_auc(near_t, near_h, synthetic_model, columns, numeric, m_n, checks.seed)
    noisy = private_decision.noisy_scalar(
        noise,
        "membership_inference",
        auc,
        1.0 / max(m_n, 1),
        rho["membership_inference"],
        checks.max_membership_auc,
        "above",
        sampling_sd=_auc_sd(max(m_n, 1)),
        z=z,
    )
    out["membership_inference"] = (
        noisy,
        _verdict(noisy, "membership AUC (distance attack)", checks.max_membership_auc),
    )

    shares(
        "singling_out",
        bf.singling_out_hits(people_t, people_h, synthetic_model, columns, numeric, checks.seed),
        (m_t, m_h),
        checks.max_singling_out_risk,
        "excess share of people matching a combination unique in the synthetic table",
    )
    if "linkability" in rho:
        shares(
            "linkability",
            bf.linkability_hits(near_t, near_h, synthetic_model, qis, numeric, checks.seed),
            (m_n, m_n),
            checks.max_linkability_risk,
            "excess share of people re-linked through the synthetic table",
        )
    if "attribute_inference" in rho:
        found = bf.inference_hits(near_t, near_h, synthetic_model, columns, secrets, numeric, checks.seed)
        out["attribute_inference"] = _inference(noise, found, m_n, rho["attribute_inference"], checks, z)
    if "unique_people" in rho:
        kept = [c for c in columns if c not in generalised]
        profile = kept if len(kept) >= 2 else columns
        shares(
            "unique_people",
            bf.unique_people_hits(people_t, people_h, synthetic_model, qis, profile, numeric),
            (m_t, m_h),
            checks.max_unique_people_excess,
            "excess share of people with a rare combination whose profile reappears",
        )

    source_text = pd.concat([texts[id(train)][columns], texts[id(holdout)][columns]], ignore_index=True)
    out["absolute_exposure"] = _private_exposure(
        noise,
        train,
        holdout,
        synthetic_model,
        columns,
        numeric,
        n_t + n_h,
        sigma_n,
        rho,
        checks,
        z,
        source_text,
    )

    leaking = (
        whole.leaking_people
        if whole is not None
        else bf.leaking_people(synthetic, raw_identifiers, _reserved_spaces(spec, plan))
    )
    noisy = private_decision.noisy_scalar(
        noise, "no_identifier_leak", float(leaking), 1.0, rho["no_identifier_leak"], 0.0, "above", z=z
    )
    out["no_identifier_leak"] = (noisy, _verdict(noisy, "count of people with a leaked identifier", 0.0))

    if UTILITY_CHECK in rho:
        m_u = min(m_h, spec.utility.max_rows)
        out[UTILITY_CHECK] = _private_utility(
            spec, synthetic_model, sample(holdout, m_u), m_u, noise, rho[UTILITY_CHECK], z
        )
    return {
        name: _in_family(name, pair, rule) if name in rule["figures_per_check"] else pair
        for name, pair in out.items()
    }


def _private_exposure(
    noise,
    train,
    holdout,
    synthetic_model,
    columns,
    numeric,
    noisy_total,
    sigma_n,
    rho,
    checks,
    z=None,
    source_text=None,
):
    """Absolute exposure's bounded figure: matchings of one keyed half's people to the synthetic
    table and to the other half (`bounded_figures.exposure_matchings`), released as a vector of
    shares. One person moves both sides, so each side gets half the check's rho. `source_text`:
    the train and holdout rows' `canonical_text`, when the caller wrote it already."""
    bf = bounded_figures
    half = max(noisy_total, 0.0) / 2.0
    # the keyed half's size is binomial about the total's half: keep 3 sd of it and 2 of the noise
    m_public = private_decision.public_size(half - 3.0 * math.sqrt(half), math.sqrt(2.0) * sigma_n)
    m = min(m_public, bf.EXPOSURE_PEOPLE)
    n_reference = min(m_public, bf.EXPOSURE_REFERENCE, len(synthetic_model))
    found, chance, chosen = bf.exposure_matchings(
        pd.concat([train, holdout], ignore_index=True),
        synthetic_model,
        columns,
        numeric,
        m,
        n_reference,
        private_decision.sample_key(noise.key, "absolute_exposure"),
        canonical=source_text,
    )
    threshold = checks.max_absolute_exposure_excess
    noisy = private_decision.noisy_share_differences(
        noise, "absolute_exposure", found, m, chance, m, rho["absolute_exposure"] / 2.0, threshold, z
    )
    parts = {
        "noisy_excess_per_criterion": noisy.parts.get("noisy_excess_per_cut"),
        "criteria": [c.label for c in chosen],
        "people": m,
        "reference_rows": n_reference,
    }
    noisy = replace(noisy, rho=rho["absolute_exposure"], parts=parts)
    what = "largest excess share of real people (whole source) found in the table beyond chance"
    return noisy, _verdict(noisy, what, threshold)


def _inference(
    noise: GateNoise, found: dict, m: int, rho: float, checks, z: float = private_decision.Z
) -> tuple[NoisyFigure, str]:
    """Per secret, the train and holdout shares (2 S noisy figures; one person moves S of them, one
    side: L2 sensitivity sqrt(S)/m); the figure is the largest noisy excess, decided at `z` (the
    gate's family z counts the S excesses: the worst of them decides)."""
    threshold = checks.max_inference_risk
    if m < 1 or not found:
        noisy = NoisyFigure(math.nan, math.inf, math.inf, rho, math.inf, False, {}, z)
        return noisy, _verdict(noisy, "attribute-inference excess", threshold)
    secrets = sorted(found)
    sigma = private_decision.gaussian_sigma(math.sqrt(len(secrets)) / m, rho)
    draws = noise.gaussian("attribute_inference", sigma, 2 * len(secrets))
    excess = {}
    for i, secret in enumerate(secrets):
        p_t = found[secret][0] / m + draws[2 * i]
        p_h = found[secret][1] / m + draws[2 * i + 1]
        sampling = sum(min(1.0, max(p, 1.0 / m)) * (1 - min(1.0, max(p, 1.0 / m))) / m for p in (p_t, p_h))
        excess[secret] = (p_t - p_h, math.sqrt(2 * sigma**2 + sampling))
    worst = max(secrets, key=lambda s: excess[s][0])
    value, uncertainty = excess[worst]
    noisy = NoisyFigure(
        float(value),
        math.sqrt(2) * sigma,
        math.sqrt(len(secrets)) / m,
        rho,
        uncertainty,
        private_decision.passes_unless_surely_above(value, uncertainty, threshold, z),
        {"worst_secret_column": worst, "people_per_side": m},
        z,
    )
    return noisy, _verdict(noisy, "attribute-inference excess (worst sensitive column)", threshold)


def _private_utility(
    spec, synthetic_model, holdout_people, m, noise, rho, z: float = private_decision.Z
) -> tuple[NoisyFigure, str]:
    """The largest public-reference gap: score of the synthetic-trained model on held-out synthetic
    rows minus its score summed over m holdout people, over m (each person's score in [0, 1]:
    Δ = 1/m)."""
    settings = spec.utility
    gaps, problems = [], []
    for target in settings.targets:
        try:
            public, private_sum = bounded_figures.tstr_scores(
                synthetic_model,
                holdout_people,
                target,
                _utility_task(spec, target),
                settings.max_rows,
                settings.seed,
            )
            gaps.append(public - private_sum / max(m, 1))
        except (ValueError, KeyError) as error:
            problems.append(type(error).__name__)
    exact = max(gaps) if gaps and not problems and m >= 1 else math.nan
    noisy = private_decision.noisy_scalar(
        noise,
        UTILITY_CHECK,
        exact,
        1.0 / max(m, 1),
        rho,
        settings.max_gap,
        "above",
        sampling_sd=lambda _v: math.sqrt(0.25 / max(m, 1)),
        z=z,
    )
    what = "utility gap (synthetic-trained model: public reference score minus holdout score)"
    return noisy, _verdict(noisy, what, settings.max_gap)
