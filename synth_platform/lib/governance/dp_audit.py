"""An empirical lower bound on the epsilon `dp_mst` really spends (DP auditing).

A differential-privacy claim says: whatever the output, it is at most e^epsilon times (plus
delta) more likely with one person's row than without it. An auditor who fits the model many
times with a *canary* row in the table and many times without it, and then tries to tell the
two worlds apart from the outputs alone, can turn the test's true- and false-positive rates
into a lower bound on epsilon (Jagielski et al. 2020; Nasr et al. 2021, 2023):

    epsilon >= log((TPR - delta) / FPR)

with TPR and FPR replaced by their Clopper-Pearson bounds (TPR's lower, FPR's upper), so the
bound holds with the stated confidence. If the bound ever exceeded the claimed epsilon, the
mechanism (or its accounting) would be broken.

The test. The base table has a few hundred rows of categorical columns with public (declared)
domains; the canary's values are each common, but their *combination* appears in no other row.
The statistic is the model's own estimate of how many rows hold the canary's values: the
fitted graphical model's count (its total times its marginal probability) of the canary's
cell in every 1-way marginal and every tree-edge 2-way marginal, summed. Each of those is a
post-processing of the noisy measurements the canary moves by exactly one, so this is close to
the strongest test a white-box auditor with the model file can run (stronger than looking at a
sample of rows, which is a post-processing of the model). A threshold is chosen on the first
half of the fits and the rates are measured on the second half, so the threshold's choice does
not bias the bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import beta

from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer


@dataclass(frozen=True)
class AuditTable:
    base: pd.DataFrame  # the table without the canary
    canary: dict  # the canary's row
    domains: dict[str, dict]  # declared (public) category lists

    def with_canary(self) -> pd.DataFrame:
        return pd.concat([self.base, pd.DataFrame([self.canary])], ignore_index=True)


def audit_table(rows: int = 400, columns: int = 4, categories: int = 3, seed: int = 0) -> AuditTable:
    """A small table whose canary combination appears nowhere else (each of its values is common)."""
    rng = np.random.default_rng(seed)
    names = [f"attr_{i}" for i in range(columns)]
    labels = {c: [f"{c}_v{j}" for j in range(categories)] for c in names}
    frame = pd.DataFrame({c: rng.choice(labels[c], rows) for c in names})
    canary = {c: labels[c][0] for c in names}
    is_canary = np.logical_and.reduce([frame[c] == canary[c] for c in names])
    # Break every copy of the canary's combination by moving one of its values: the canary is unique.
    frame.loc[is_canary, names[-1]] = labels[names[-1]][1]
    return AuditTable(frame, canary, {c: {"categories": labels[c]} for c in names})


def canary_statistic(model: DPMSTSynthesizer, canary: dict, base: pd.DataFrame) -> float:
    """How far the model's counts of the canary's cells exceed the base table's exact counts.

    Every 1-way and every tree-edge 2-way marginal of the model is compared with the same cell
    counted in the base table (which the auditor, like the strongest adversary of the DP
    definition, knows): with the canary in, each excess is about one plus noise, without it
    noise alone. Subtracting the known counts removes the spread that different trees would add.
    """
    state = model._model
    if state is None:
        raise RuntimeError("dp_mst model is not fitted")
    total = float(state["total"])
    names = state["attributes"]
    index = {}
    for i, column in enumerate(model.columns):
        code = model.encodings[column].labels.index(canary[column])
        support = model._supports[column]
        # the compressed index: supported codes keep their rank, the rest share the last cell
        index[names[i]] = int(support[:code].sum()) if support[code] else int(support.sum())
    column_of = dict(zip(names, model.columns, strict=True))

    def known(attributes) -> float:
        hits = np.logical_and.reduce([base[column_of[a]] == canary[column_of[a]] for a in attributes])
        return float(np.sum(hits))

    one_way: dict[str, float] = {}
    statistic = 0.0
    for clique, table in state["marginals"].items():
        table = np.asarray(table, dtype=float)
        table = table / table.sum() if table.sum() > 0 else table
        statistic += total * float(table[tuple(index[a] for a in clique)]) - known(clique)
        for axis, attribute in enumerate(clique):
            if attribute not in one_way:
                other = tuple(a for a in range(len(clique)) if a != axis)
                one_way[attribute] = total * float(table.sum(axis=other)[index[attribute]]) - known(
                    [attribute]
                )
    return statistic + sum(one_way.values())


def fit_statistic(frame: pd.DataFrame, table: AuditTable, epsilon: float, delta: float, iters: int) -> float:
    # fresh_noise: each fit of an audit needs its own noise, even under the test suite's seed
    model = DPMSTSynthesizer(
        epsilon=epsilon, delta=delta, iters=iters, domains=table.domains, fresh_noise=True
    ).fit(frame)
    return canary_statistic(model, table.canary, table.base)


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided exact binomial interval."""
    alpha = 1.0 - confidence
    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return low, high


def _epsilon_from_rates(tpr: float, fpr: float, delta: float) -> float:
    if tpr - delta <= 0:
        return 0.0
    if fpr <= 0:
        return math.inf
    return max(0.0, math.log((tpr - delta) / fpr))


def _rates(inside: np.ndarray, outside: np.ndarray, threshold: float, flip: bool) -> tuple[int, int]:
    """(true positives, false positives): 'canary in' is guessed when the statistic is past the threshold."""
    if flip:
        return int((inside < threshold).sum()), int((outside < threshold).sum())
    return int((inside > threshold).sum()), int((outside > threshold).sum())


@dataclass(frozen=True)
class LowerBound:
    epsilon_claimed: float
    delta: float
    fits_per_world: int
    threshold: float
    true_positives: int
    false_positives: int
    trials: int  # held-out fits per world the rates are measured on
    point: float  # epsilon from the observed rates
    lower: float  # the bound: epsilon from the one-sided confidence bounds of the rates
    confidence: float

    @property
    def below_claim(self) -> bool:
        return self.lower <= self.epsilon_claimed

    def line(self) -> str:
        return (
            f"empirical epsilon lower bound {self.lower:.3f} at {self.confidence:.0%} confidence "
            f"(point estimate {self.point:.3f}; TPR {self.true_positives}/{self.trials}, FPR "
            f"{self.false_positives}/{self.trials}) vs claimed epsilon {self.epsilon_claimed:g} "
            f"at delta {self.delta:g}: {'below the claim' if self.below_claim else 'ABOVE THE CLAIM (a bug)'}"
        )


def lower_bound(
    inside: np.ndarray, outside: np.ndarray, epsilon_claimed: float, delta: float, confidence: float = 0.95
) -> LowerBound:
    """Pick the threshold on the first half of each world's statistics, bound epsilon on the second."""
    inside, outside = np.asarray(inside, float), np.asarray(outside, float)
    half = min(len(inside), len(outside)) // 2
    pick_in, pick_out, test_in, test_out = inside[:half], outside[:half], inside[half:], outside[half:]
    trials = min(len(test_in), len(test_out))
    test_in, test_out = test_in[:trials], test_out[:trials]
    two_sided = 1.0 - 2.0 * (1.0 - confidence)
    best = (-1.0, 0.0, False)
    # The threshold that would prove the most on the picking half (its own confidence bound, not
    # its point estimate, which favours extreme thresholds that hold up on no other fits).
    for threshold in np.unique(np.concatenate([pick_in, pick_out])):
        for flip in (False, True):
            tp, fp = _rates(pick_in, pick_out, threshold, flip)
            low, _ = clopper_pearson(tp, half, two_sided)
            _, high = clopper_pearson(fp, half, two_sided)
            score = _epsilon_from_rates(low, high, delta) + 1e-6 * (tp - fp) / max(half, 1)
            if score > best[0]:
                best = (score, float(threshold), flip)
    _, threshold, flip = best
    tp, fp = _rates(test_in, test_out, threshold, flip)
    # One-sided bounds at `confidence` each: the two-sided interval at 1 - 2 * (1 - confidence).
    tpr_low, _ = clopper_pearson(tp, trials, two_sided)
    _, fpr_high = clopper_pearson(fp, trials, two_sided)
    point = _epsilon_from_rates(tp / trials, fp / trials, delta) if trials else 0.0
    return LowerBound(
        epsilon_claimed=epsilon_claimed,
        delta=delta,
        fits_per_world=len(inside),
        threshold=threshold,
        true_positives=tp,
        false_positives=fp,
        trials=trials,
        point=point,
        lower=_epsilon_from_rates(tpr_low, fpr_high, delta),
        confidence=confidence,
    )


def run_lower_bound_audit(
    fits: int,
    epsilon: float,
    delta: float = 1e-9,
    rows: int = 400,
    iters: int = 100,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> LowerBound:
    """Fit `fits` models with the canary and `fits` without (fresh DP noise each), and bound epsilon."""
    table = audit_table(rows=rows, seed=seed)
    with_canary = table.with_canary()
    inside, outside = [], []
    for i in range(fits):
        inside.append(fit_statistic(with_canary, table, epsilon, delta, iters))
        outside.append(fit_statistic(table.base, table, epsilon, delta, iters))
        if progress is not None:
            progress(i + 1, fits)
    return lower_bound(np.array(inside), np.array(outside), epsilon, delta)
