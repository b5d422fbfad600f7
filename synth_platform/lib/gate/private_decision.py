"""A private release decision: the gate decides from figures noised with a charged zCDP budget.

Why. Every release-gate check that reads the real train / holdout tables is a function of real
people, and so is the bit "a release appeared tonight". This module makes that bit (and the
figures shown outside the restricted evidence pack) differentially private:

* **Public checks** read only the synthetic table (itself a DP output), the spec, the declared
  domains and the approved masking plan: they are free and exact (the GX suite).
* **Real-data checks** have a *bounded* figure (`lib/gate/bounded_figures.py`): a share over a keyed,
  fixed-size sample of people whose per-person indicator depends only on that person and the
  synthetic table, so adding or removing one person moves it by at most its sensitivity Δ
  (`SENSITIVITY` says which Δ each figure has, and why). Each figure is released with Gaussian
  noise sigma = Δ / sqrt(2 rho_check) — rho_check-zCDP — and the gate's rho (`checks.gate_rho`) is split
  across the checks with the public weights `RHO_WEIGHTS`. zCDP composes by addition, so the
  whole decision is gate_rho-zCDP; the gate charges it to the ledger before it reads data.
* The neighbouring relation is the platform's: one person's row added or removed. A person is
  on exactly one side of the split (a keyed hash of their key), so a figure built from a train
  share and a holdout share is moved by one person on one side only; the two sides are
  released as a vector whose coordinates each get sigma_side = Δ_side / sqrt(2 rho) (one person
  changes one coordinate, so the vector costs rho, not 2rho).
* **Deterministic noise.** The noise comes from a generator keyed with HMAC(platform key, model
  sha, synthetic sha, check): re-running the gate on the same (model, synthetic table) pair
  gives the same noisy figures, so repeating the gate cannot average the noise away, and the
  charge is not repeated. A new pair is a new evaluation, charged again.
* **Decision.** "Sure of a problem": a check blocks when its noisy figure is beyond the
  threshold by more than z times its total uncertainty — the DP noise and the sampling error
  estimated *from the noisy figures* (post-processing, free). A minimum (the holdout's size) is
  the other way round: it passes only when the noisy count is surely at least the minimum.
  Only noisy figures decide; the exact figures stay in the restricted evidence pack.
* **Family-wise false-block rate.** One honest figure sitting exactly at its threshold (an honest
  table has 0 leaking people, and the leak threshold is 0) is blocked with probability Φ(-z); a
  gate deciding F such figures at once blocks an honest release with probability up to F Φ(-z).
  The spec states the rate a user accepts, `checks.false_block_rate` (alpha), and every "sure of a
  problem" figure of one evaluation is decided at `family_z(alpha, F)` = Φ⁻¹(1 - alpha / F) (Bonferroni
  over every figure of every noisy check: a union bound, so it holds whatever the figures'
  dependence). F comes from the spec and the plan only (public), never from data. The minimum
  (holdout size) is not in the family: its error is a false *pass*, kept at `Z`'s 0.5 %.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

import numpy as np

from synth_platform.lib.test_noise import noise_test_seed

#: "sure" for one check alone: its noisy figure minus Z times its total uncertainty is beyond the
#: threshold (one-sided 99.5 %). A check that decides several figures (close copies' cuts, absolute
#: exposure's criteria) widens Z over them (`z_for`, Bonferroni): one such check blocked an honest
#: 2,500-row dp_mst table on a 2.7-sigma draw of one of its four cuts' noise. The gate itself decides
#: its "sure of a problem" figures at the family-wise `family_z` (Z per check let ~13 checks block an
#: honest release ~6 % of the time: the demo was blocked once on a noisy leak count of 146 ± 54, exact
#: 0); Z stays the minimum's (holdout size) rule, which `lib/synthesize/split.py` sizes the holdout for.
Z = 2.5758293035489004

#: one-sided error of one figure decided at Z (0.5 %)
Z_ERROR = 0.005


def z_for(count: int, error: float = Z_ERROR) -> float:
    """z for a check deciding `count` figures with one-sided `error` for the check as a whole
    (Bonferroni: error / count per figure). z_for(1) is Z; z_for(3) is 2.94."""
    from scipy.stats import norm

    return float(norm.isf(float(error) / max(int(count), 1)))


def check_false_block_rate(rate: float) -> float:
    """The family-wise false-block rate alpha, validated: a probability strictly between 0 and 0.5
    (0 would never block anything; at 0.5 a figure at its threshold blocks on a coin flip)."""
    if not (isinstance(rate, int | float) and math.isfinite(rate) and 0.0 < rate < 0.5):
        raise ValueError(
            f"false_block_rate must be a probability strictly between 0 and 0.5 (the chance that an "
            f"honest release is blocked by the gate's noise; default 0.01), not {rate!r}"
        )
    return float(rate)


def family_z(false_block_rate: float, figures: int) -> float:
    """Per-figure z for a gate deciding `figures` "sure of a problem" figures in one evaluation at
    family-wise false-block rate alpha: one-sided alpha / figures each (Bonferroni). Public: alpha comes from
    the spec, `figures` from the spec and the plan (`evaluation.decided_figures`)."""
    rate = check_false_block_rate(false_block_rate)
    if int(figures) < 1:
        raise ValueError("a gate decides at least one figure")
    return z_for(int(figures), rate)


#: public weights of the gate's rho, per real-data check: more to the tight privacy checks whose
#: thresholds are a fraction of a percent, less to quality / utility whose margins are wide
RHO_WEIGHTS: dict[str, float] = {
    "holdout_size": 2.0,
    "quality_score": 0.1,
    "exact_copies": 0.5,
    "close_copies": 1.5,
    "near_copies": 8.0,
    "membership_inference": 0.1,
    "singling_out": 0.1,
    "linkability": 0.1,
    "attribute_inference": 0.1,
    "unique_people": 0.5,
    "absolute_exposure": 4.0,
    "no_identifier_leak": 0.3,
    "utility_tstr": 0.1,
}

#: what each bounded figure is and its sensitivity to one person added or removed (m_t, m_h:
#: the public sample sizes of train and holdout people; m: the one sample of a single-side figure)
SENSITIVITY: dict[str, str] = {
    "holdout_size": "noisy counts of train and holdout rows; one person is one row on one side: Δ = 1",
    "quality_score": "mean of per-column 1-TV / 1-KS and per-pair 1-TV (numbers on public bins) between "
    "a keyed sample of m training people and the synthetic table, frequencies over m (a missing "
    "person is mass on an absent cell); each term moves by <= 1/m: Δ = 1/m",
    "exact_copies": "share of m_t training people with an exact copy (all model columns) in the "
    "synthetic table, against the absolute threshold as before; an indicator per person: Δ = 1/m_t",
    "close_copies": "per public cut c (squared distance 1e-4, 1e-3, 1e-2), share of "
    "people with a synthetic row within c (same categories, numbers scaled by the synthetic ranges), "
    "train and holdout; one person moves C = 3 shares of one side: L2 Δ = √3/m_t, √3/m_h; the figure is "
    "the largest excess",
    "near_copies": "share of people with a synthetic twin on all but <= 2 columns (numbers at a "
    "resolution from the synthetic ranges), train and holdout: Δ = 1/m_t, 1/m_h",
    "membership_inference": "AUC of minus the distance to the nearest synthetic row (encoder fitted on "
    "the synthetic table), m train vs m holdout people, pairs over m^2: Δ = 1/m",
    "singling_out": "share of people matching a 3-column combination that is unique in the synthetic "
    "table (public column triples, numbers on synthetic-quantile bins), train and holdout: Δ = 1/m",
    "linkability": "share of people whose nearest synthetic rows on the two quasi-identifier halves "
    "are the same row (encoders fitted on the synthetic table), train and holdout: Δ = 1/m",
    "attribute_inference": "per sensitive column, share of people whose secret equals the nearest "
    "synthetic row's (numbers within 5 %); S columns per side: L2 Δ = sqrt(S)/m per side",
    "unique_people": "share of people whose profile reappears in the synthetic table while their "
    "quasi-identifier combination occurs at most once there, train and holdout: Δ = 1/m_t, 1/m_h",
    "absolute_exposure": "per public criterion (exact copy; <= 2 columns changed; <= k changed with at "
    "most one number not within 4 % of the synthetic range), the maximum matching of m keyed people of "
    "one half of the source to distinct synthetic rows, and to distinct people of the other half (chance: "
    "an equally large real sample without them); one person is one vertex of one side, and a matching "
    "moves by <= 1 per vertex, on both the found and the chance side: L2 Δ = sqrt(2C)/m; the figure is "
    "the largest excess found - chance",
    "no_identifier_leak": "count of source people with an identifying direct identifier found in the "
    "synthetic table (any written form): Δ = 1",
    "utility_tstr": "public score of a model trained on synthetic, on held-out synthetic rows, minus its "
    "score on m holdout people (accuracy; numbers: 1 - |error| / synthetic range, clipped): Δ = 1/m",
}


def split_rho(total: float, checks: list[str]) -> dict[str, float]:
    """The gate's rho split over `checks` by the public `RHO_WEIGHTS` (sums to `total`)."""
    weights = {c: RHO_WEIGHTS[c] for c in checks}
    whole = sum(weights.values())
    return {c: total * w / whole for c, w in weights.items()}


def gaussian_sigma(sensitivity: float, rho: float) -> float:
    """The Gaussian mechanism's scale for rho-zCDP at L2 sensitivity Δ: sigma = Δ / sqrt(2 rho)."""
    if rho <= 0:
        raise ValueError("rho must be positive")
    return float(sensitivity) / math.sqrt(2.0 * rho)


def noise_seed(key: bytes, model_sha256: str, synthetic_sha256: str, check: str, evaluation: str = "") -> int:
    """HMAC(platform key; model sha, synthetic sha, evaluation id, check): the same evaluation draws
    the same noise (re-running cannot average it away); without the key nobody can predict it."""
    parts = ("gate-noise-v1", model_sha256 or "", synthetic_sha256 or "", evaluation or "", check)
    return int.from_bytes(hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest(), "big")


def sample_key(key: bytes, check: str = "") -> str:
    """16 characters keying the hash that picks each check's sample of people (SipHash key)."""
    return hmac.new(key, f"gate-sample-v1\x1f{check}".encode(), hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class GateNoise:
    """The evaluation's identity and budget: who draws the noise, how much rho there is."""

    key: bytes
    model_sha256: str
    synthetic_sha256: str
    rho: float
    #: `evaluation_id` of this evaluation (settings included): part of the noise seed
    evaluation: str = ""
    #: a DP model's noisy total row count (public), shown beside the noisy counts
    noisy_total: float | None = None

    def rng(self, check: str) -> np.random.Generator:
        """The check's generator. Inside a test run with `SYNTH_TEST_NOISE_SEED` (lib.test_noise) the
        model's bytes (a pickle with fit timestamps, new on every run) leave the seed, so an end-to-end
        test's decision on the same synthetic table is the same on every run instead of a fresh draw."""
        test_seed = noise_test_seed()
        if test_seed is None:
            seed = noise_seed(self.key, self.model_sha256, self.synthetic_sha256, check, self.evaluation)
        else:
            seed = noise_seed(self.key, f"test-noise-{test_seed}", self.synthetic_sha256, check)
        return np.random.Generator(np.random.PCG64(seed))

    def gaussian(self, check: str, sigma: float | np.ndarray, size: int | None = None):
        draw = self.rng(check).standard_normal(size)
        return draw * sigma


@dataclass(frozen=True)
class NoisyFigure:
    """One real-data check's released figure: noisy value, its noise and how it decided."""

    value: float  # the noisy figure (what decides, what is shown)
    sigma: float  # standard deviation of the DP noise on `value`
    sensitivity: float  # Δ of the exact figure (per side: the larger one)
    rho: float  # the rho this check spent
    uncertainty: float  # sqrt(sigma^2 + sampling variance estimated from noisy figures)
    passed: bool
    parts: dict  # further noisy (public) figures, e.g. the train and holdout shares
    #: the z each of its figures was decided at (public: a function of the spec and the plan)
    z: float = Z
    #: the gate's family-wise false-block rate alpha that z comes from (None: a check decided alone)
    false_block_rate: float | None = None
    #: how many figures that alpha is shared over (Bonferroni: z = Phi^-1(1 - alpha / figures))
    family_figures: int | None = None

    def as_dict(self) -> dict:
        out = {
            "noisy_figure": _round(self.value),
            "sigma": _round(self.sigma),
            "sensitivity": _round(self.sensitivity),
            "rho": _round(self.rho),
            "uncertainty": _round(self.uncertainty),
            "z": _round(self.z),
            **{k: _round(v) if isinstance(v, float) else v for k, v in self.parts.items()},
        }
        if self.false_block_rate is not None:
            out["false_block_rate"] = _round(self.false_block_rate)
            out["family_figures"] = self.family_figures
        return out


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


def passes_unless_surely_above(noisy: float, uncertainty: float, threshold: float, z: float = Z) -> bool:
    """True (pass) unless the noisy figure is surely above the threshold."""
    return not (noisy - z * uncertainty > threshold)


def passes_unless_surely_below(noisy: float, uncertainty: float, threshold: float, z: float = Z) -> bool:
    """True (pass) unless the noisy figure is surely below the threshold (a minimum score)."""
    return not (noisy + z * uncertainty < threshold)


def passes_if_surely_at_least(noisy: float, uncertainty: float, minimum: float, z: float = Z) -> bool:
    """True (pass) only when the noisy figure is surely at least `minimum` (no evidence, no pass)."""
    return noisy - z * uncertainty >= minimum


def noisy_scalar(
    noise: GateNoise,
    check: str,
    exact: float,
    sensitivity: float,
    rho: float,
    threshold: float,
    direction: str = "above",
    sampling_sd=None,
    parts: dict | None = None,
    clip: tuple[float, float] | None = None,
    z: float = Z,
) -> NoisyFigure:
    """Release one bounded scalar with Gaussian noise and decide on it.

    `direction`: "above" blocks a figure surely above the threshold, "below" one surely below it
    (a minimum score), "at_least" passes only a figure surely at least the threshold.
    `sampling_sd(noisy)` estimates the figure's sampling error from the noisy value (free).
    `clip`: the figure's possible range; the noisy value is clipped into it (post-processing, free:
    a score of 1.02 is shown as 1).
    `z`: how sure (`family_z` in the gate; `Z` for a check decided alone).
    """
    sigma = gaussian_sigma(sensitivity, rho)
    value = float(exact + noise.gaussian(check, sigma)) if math.isfinite(exact) else math.nan
    if clip is not None and math.isfinite(value):
        value = min(max(value, clip[0]), clip[1])
    sd = float(sampling_sd(value)) if sampling_sd is not None and math.isfinite(value) else 0.0
    uncertainty = math.sqrt(sigma**2 + sd**2)
    if not math.isfinite(value):
        passed = False
    elif direction == "above":
        passed = passes_unless_surely_above(value, uncertainty, threshold, z)
    elif direction == "below":
        passed = passes_unless_surely_below(value, uncertainty, threshold, z)
    else:
        passed = passes_if_surely_at_least(value, uncertainty, threshold, z)
    return NoisyFigure(value, sigma, sensitivity, rho, uncertainty, passed, dict(parts or {}), z)


def noisy_share_difference(
    noise: GateNoise,
    check: str,
    hits_train: float,
    m_train: int,
    hits_holdout: float,
    m_holdout: int,
    rho: float,
    threshold: float,
    z: float = Z,
) -> NoisyFigure:
    """Release (train share, holdout share) — hits over the public sample sizes — with per-side
    Gaussian noise (one person moves one side by <= 1/m_side), and decide on their difference at `z`.

    The sampling error of the difference is Wald's, from the noisy shares clipped to [1/m, 1].
    """
    if m_train < 1 or m_holdout < 1:
        return NoisyFigure(math.nan, math.inf, math.inf, rho, math.inf, False, {"reason": "no sample"}, z)
    sigma_t = gaussian_sigma(1.0 / m_train, rho)
    sigma_h = gaussian_sigma(1.0 / m_holdout, rho)
    draws = noise.gaussian(check, 1.0, 2)
    p_t = hits_train / m_train + draws[0] * sigma_t
    p_h = hits_holdout / m_holdout + draws[1] * sigma_h
    value = float(p_t - p_h)
    sigma = math.sqrt(sigma_t**2 + sigma_h**2)
    clipped_t = min(1.0, max(p_t, 1.0 / m_train))
    clipped_h = min(1.0, max(p_h, 1.0 / m_holdout))
    sampling = clipped_t * (1 - clipped_t) / m_train + clipped_h * (1 - clipped_h) / m_holdout
    uncertainty = math.sqrt(sigma**2 + sampling)
    return NoisyFigure(
        value,
        sigma,
        1.0 / min(m_train, m_holdout),
        rho,
        uncertainty,
        passes_unless_surely_above(value, uncertainty, threshold, z),
        {
            "noisy_train_share": float(p_t),
            "noisy_holdout_share": float(p_h),
            "train_people": int(m_train),
            "holdout_people": int(m_holdout),
        },
        z,
    )


def noisy_share(
    noise: GateNoise, check: str, hits: float, m: int, rho: float, threshold: float, z: float = Z
) -> NoisyFigure:
    """Release one share `hits / m` of a public-size sample (one person moves it by <= 1/m) and
    decide on it at `z` against an absolute threshold (Wald's sampling error from the noisy share)."""
    if m < 1:
        return NoisyFigure(math.nan, math.inf, math.inf, rho, math.inf, False, {"reason": "no sample"}, z)
    sigma = gaussian_sigma(1.0 / m, rho)
    value = float(hits / m + noise.gaussian(check, sigma))
    clipped = min(1.0, max(value, 1.0 / m))
    uncertainty = math.sqrt(sigma**2 + clipped * (1 - clipped) / m)
    passed = passes_unless_surely_above(value, uncertainty, threshold, z)
    return NoisyFigure(value, sigma, 1.0 / m, rho, uncertainty, passed, {"people": int(m)}, z)


def noisy_share_differences(
    noise: GateNoise,
    check: str,
    hits_train: list[float],
    m_train: int,
    hits_holdout: list[float],
    m_holdout: int,
    rho: float,
    threshold: float,
    z: float | None = None,
) -> NoisyFigure:
    """Like `noisy_share_difference` for C shares per side that one person all moves (one side):
    L2 sensitivity sqrt(C)/m per side. Blocks when any excess is surely above the threshold; the
    figure is the largest noisy excess. `z`: per excess (the gate's `family_z`, which counts these
    C figures); None decides the check alone at `z_for(C)`, the check's own 0.5 %."""
    count = len(hits_train)
    z = z_for(count) if z is None else float(z)
    if m_train < 1 or m_holdout < 1 or count == 0:
        return NoisyFigure(math.nan, math.inf, math.inf, rho, math.inf, False, {"reason": "no sample"}, z)
    sigma_t = gaussian_sigma(math.sqrt(count) / m_train, rho)
    sigma_h = gaussian_sigma(math.sqrt(count) / m_holdout, rho)
    draws = noise.gaussian(check, 1.0, 2 * count)
    best, passed, excesses = None, True, []
    for i in range(count):
        p_t = hits_train[i] / m_train + draws[2 * i] * sigma_t
        p_h = hits_holdout[i] / m_holdout + draws[2 * i + 1] * sigma_h
        clipped_t = min(1.0, max(p_t, 1.0 / m_train))
        clipped_h = min(1.0, max(p_h, 1.0 / m_holdout))
        sampling = clipped_t * (1 - clipped_t) / m_train + clipped_h * (1 - clipped_h) / m_holdout
        uncertainty = math.sqrt(sigma_t**2 + sigma_h**2 + sampling)
        excess = float(p_t - p_h)
        excesses.append(excess)
        passed = passed and passes_unless_surely_above(excess, uncertainty, threshold, z)
        if best is None or excess > best[0]:
            best = (excess, uncertainty)
    return NoisyFigure(
        best[0],
        math.hypot(sigma_t, sigma_h),
        math.sqrt(count) / min(m_train, m_holdout),
        rho,
        best[1],
        passed,
        {
            "noisy_excess_per_cut": [float(f"{e:.6g}") for e in excesses],
            "train_people": m_train,
            "holdout_people": m_holdout,
        },
        z,
    )


def noisy_counts(noise: GateNoise, n_train: int, n_holdout: int, rho: float) -> tuple[float, float, float]:
    """(noisy train rows, noisy holdout rows, sigma): one person is one row on one side (Δ = 1)."""
    sigma = gaussian_sigma(1.0, rho)
    draws = noise.gaussian("holdout_size", sigma, 2)
    return float(n_train + draws[0]), float(n_holdout + draws[1]), sigma


def public_size(noisy_count: float, sigma: float, cap: int | None = None) -> int:
    """A sample size everyone may know: the noisy count less 2sigma (so the real side nearly always
    holds that many people), capped; post-processing of the noisy count."""
    size = math.floor(noisy_count - 2.0 * sigma)
    if cap is not None:
        size = min(size, int(cap))
    return max(0, size)


def gate_epsilon(rho: float, delta: float) -> float:
    """The gate's rho as epsilon at `delta` (one evaluation alone)."""
    from synth_platform.lib.synthesize import accounting

    return accounting.epsilon_from_rho(rho, delta)


# --- The charge: one ledger row per (model, synthetic table, settings) evaluation ---------------

#: bump when a bounded figure, the split or the decision rule changes: a new evaluation, charged anew
#: (4: the family-wise false-block rate, `family_z`)
CODE_VERSION = "4"


def evaluation_id(model_sha256: str, synthetic_sha256: str, train_data_hash: str, settings: dict) -> str:
    """The public identity of one gate evaluation: same id, same noisy figures, one charge.

    Anything that changes a released figure is in it (model, synthetic table, the training data's
    hash, the gate's rho and every check setting, the code version of the bounded figures), so a
    figure is never released twice with the same noise draw on different inputs or scales.
    """
    import json

    text = json.dumps(
        {
            "model": model_sha256,
            "synthetic": synthetic_sha256,
            "train": train_data_hash,
            "settings": settings,
            "code": CODE_VERSION,
            "weights": RHO_WEIGHTS,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class GateCharge:
    status: str  # "charged" (a new gate row), "reused" (the earlier row of the same evaluation), "refused"
    row: dict | None
    reason: str = ""


def _earlier_charge(con, dataset: str, evaluation: str) -> dict | None:
    import json

    from synth_platform.lib.governance import ledger

    rows = ledger.read_ledger(con, dataset)
    if rows.empty:
        return None
    for row in reversed(rows[rows["event"] == "gate"].to_dict(orient="records")):
        parameters = row.get("parameters")
        try:
            parameters = json.loads(parameters) if isinstance(parameters, str) else (parameters or {})
        except ValueError:
            continue
        if isinstance(parameters, dict) and parameters.get("gate_evaluation") == evaluation:
            return row
    return None


def charge_gate(con, entry, budget: float | None, delta: float, guard=None, key=None) -> GateCharge:
    """Charge a gate evaluation before it reads real data: one transaction under the warehouse lock.

    `entry` is the `gate` ledger row (its `rho_spent` the gate's rho, its `parameters` holding
    `gate_evaluation`, the `evaluation_id`). The same evaluation charged before is reused (no new
    row: the noisy figures will be the same ones). A charge the remaining budget cannot pay is
    refused: nothing is appended and the gate must block without reading data. `key`: the platform
    key the ledger is keyed with (as `ledger.append`).
    """
    from synth_platform.lib.governance import ledger
    from synth_platform.lib.governance.budget import _budget_rho
    from synth_platform.lib.synthesize import accounting

    evaluation = entry.parameters["gate_evaluation"]
    ledger.ensure_ledger(con, key)
    con.execute("BEGIN TRANSACTION")
    try:
        if guard is not None:
            guard(con)
        earlier = _earlier_charge(con, entry.dataset, evaluation)
        if earlier is not None:
            con.execute("COMMIT")
            return GateCharge("reused", earlier)
        spent_rho, spent_delta = ledger.cumulative_spend(
            con, entry.dataset, getattr(entry, "source_id", None)
        )
        if budget is not None and (
            spent_delta >= delta
            or not accounting.fits_budget(spent_rho, entry.rho_spent, _budget_rho(budget, delta, spent_delta))
        ):
            con.execute("ROLLBACK")
            spent = accounting.epsilon_from_spend(spent_rho, spent_delta, delta)
            return GateCharge(
                "refused",
                None,
                f"the release gate's noisy figures would spend rho {entry.rho_spent:g} on top of epsilon "
                f"{spent:.4g} already spent, past the dataset's budget of epsilon {budget:g} at delta "
                f"{delta:g}; the gate blocks without reading the real data and the last release stays",
            )
        row = ledger.append(con, entry, key=key)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    ledger.write_head(con, key)
    return GateCharge("charged", row)
