"""The one result type every privacy attack returns, and the statistics they share.

Every attack reports a figure where *higher means more exposure* (an excess share over the
holdout's own rate, an AUC, a risk), a 95 % confidence interval, and a threshold. The
verdict uses the interval, not the point: an attack blocks only when its **lower**
confidence bound exceeds the threshold. An honest generator's figure wobbles around its
baseline with sampling noise, and blocking on the point estimate would block it at random;
a real leak of the size the thresholds are set for lies wholly above them.

The other way round, a figure computed from too little data has a wide interval that would
always "pass": that is why the suite refuses to compute on too few rows and blocks instead
(`insufficient`) — no evidence is no pass. An attack that does not apply to a table (no
quasi-identifier, no sensitive column) says so and does not block.

Nothing here holds a cell value: results carry counts, shares and column names only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Verdict = Literal["pass", "block", "not_applicable"]
Z95 = 1.959963984540054


@dataclass(frozen=True)
class AttackResult:
    """One attack's outcome: figure (higher = more exposure), CI, threshold and verdict."""

    name: str
    statistic: float
    ci: tuple[float, float]
    threshold: float
    verdict: Verdict
    rows_evaluated: int
    seed: int
    message: str  # one line a person understands; counts and shares only, never a value
    details: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict != "block"

    def as_dict(self) -> dict:
        return {
            "figure": _finite(self.statistic),
            "ci_low": _finite(self.ci[0]),
            "ci_high": _finite(self.ci[1]),
            "threshold": self.threshold,
            "verdict": self.verdict,
            "rows_evaluated": self.rows_evaluated,
            "seed": self.seed,
            "message": self.message,
        }


def _finite(value: float) -> float | None:
    return round(float(value), 6) if value is not None and math.isfinite(value) else None


def decide(
    name: str,
    statistic: float,
    ci: tuple[float, float],
    threshold: float,
    rows: int,
    seed: int,
    what: str,
    details: dict | None = None,
) -> AttackResult:
    """Verdict by the interval: block only when the lower 95 % bound is above the threshold.

    `what` names the figure in the one-line message, e.g. "excess share of near copies".
    """
    blocked = ci[0] > threshold
    if blocked:
        message = (
            f"BLOCK: {what} is {statistic:.4f} (95% CI {ci[0]:.4f}..{ci[1]:.4f}), "
            f"confidently above the {threshold:g} allowed"
        )
    else:
        message = (
            f"pass: {what} is {statistic:.4f} (95% CI {ci[0]:.4f}..{ci[1]:.4f}), "
            f"not confidently above {threshold:g}"
        )
    return AttackResult(
        name,
        float(statistic),
        (float(ci[0]), float(ci[1])),
        float(threshold),
        "block" if blocked else "pass",
        int(rows),
        int(seed),
        message,
        details or {},
    )


def not_applicable(name: str, threshold: float, seed: int, reason: str) -> AttackResult:
    """The attack has nothing to attack on this table (which is not a block)."""
    return AttackResult(
        name, math.nan, (math.nan, math.nan), float(threshold), "not_applicable", 0, seed, f"n/a: {reason}"
    )


def insufficient(name: str, threshold: float, seed: int, reason: str, rows: int = 0) -> AttackResult:
    """No evidence is no pass: too few rows, or the attack could not be computed."""
    return AttackResult(
        name, math.nan, (math.nan, math.nan), float(threshold), "block", rows, seed, f"BLOCK: {reason}"
    )


def share_difference(hits_a: int, n_a: int, hits_b: int, n_b: int) -> tuple[float, tuple[float, float]]:
    """p_a - p_b with Newcombe's hybrid score interval (method 10), which stays sensible for
    shares near 0 where Wald's interval collapses to a point."""
    p_a, p_b = hits_a / n_a, hits_b / n_b
    low_a, high_a = wilson(hits_a, n_a)
    low_b, high_b = wilson(hits_b, n_b)
    diff = p_a - p_b
    low = diff - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = diff + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return diff, (low, high)


def wilson(hits: int, n: int) -> tuple[float, float]:
    """Wilson score interval of a binomial share."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    denominator = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def auc_with_ci(member_scores: np.ndarray, other_scores: np.ndarray) -> tuple[float, tuple[float, float]]:
    """ROC AUC of `member_scores` above `other_scores` (ties count half), with the Hanley-McNeil
    (1982) standard error: closed form, no bootstrap, so it is cheap and seed-free."""
    from scipy.stats import rankdata

    n_1, n_0 = len(member_scores), len(other_scores)
    ranks = rankdata(np.concatenate([member_scores, other_scores]))
    auc = (ranks[:n_1].sum() - n_1 * (n_1 + 1) / 2) / (n_1 * n_0)
    q_1, q_2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n_1 - 1) * (q_1 - auc**2) + (n_0 - 1) * (q_2 - auc**2)) / (n_1 * n_0)
    half = Z95 * math.sqrt(max(variance, 0.0))
    return float(auc), (max(0.0, auc - half), min(1.0, auc + half))
