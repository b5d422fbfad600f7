"""Privacy accounting in zero-concentrated differential privacy (zCDP).

Why zCDP: the budget of a dataset is spent over many trainings, and under zCDP the cost of
several Gaussian-noise releases simply *adds up* (rho_total = sum of rho), which is tight,
whereas adding (epsilon, delta) pairs directly overstates the spend badly. So the ledger
composes rho, and converts to epsilon at the dataset's delta only to show it to people and
to compare it with the budget they declared in epsilon.

The rho -> (epsilon, delta) conversion is OpenDP's (`make_zCDP_to_approxDP`, the bound of
Canonne, Kamath and Steinke 2020), a kept and reviewed library rather than our own maths.
The inverse (epsilon, delta) -> rho is found by bisection on that conversion, rounded
*down* so a training never spends more than the epsilon it was given. For epsilon = 1 and
delta = 1e-9 this gives rho ~= 0.014973.

Infinity stands for "unbounded": a synthesizer without a differential-privacy guarantee
spends rho = epsilon = inf, and any sum containing it stays infinite (never zero).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache

DEFAULT_DELTA = 1e-9
_BISECTION_STEPS = 200


def _check_delta(delta: float) -> None:
    if not (isinstance(delta, int | float) and 0.0 < delta < 1.0):
        raise ValueError(f"delta must be a number strictly between 0 and 1, got {delta!r}")


@lru_cache(maxsize=1)
def _gaussian_scale_one():
    """A Gaussian measurement with scale 1 under zCDP: its privacy map is rho = d_in^2 / 2.

    OpenDP only converts the privacy map of a *measurement*, so we use this one as a carrier:
    feeding it d_in = sqrt(2 * rho) yields (OpenDP rounds upward, i.e. conservatively) rho.
    """
    import opendp.prelude as dp

    dp.enable_features("contrib")
    measurement = dp.m.make_gaussian(
        dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float), scale=1.0
    )
    return dp.c.make_zCDP_to_approxDP(measurement)


def epsilon_from_rho(rho: float, delta: float = DEFAULT_DELTA) -> float:
    """The epsilon of a rho-zCDP guarantee at the given delta (OpenDP's conversion)."""
    _check_delta(delta)
    if rho is None or math.isinf(rho):
        return math.inf
    if rho < 0:
        raise ValueError(f"rho must be >= 0, got {rho!r}")
    if rho == 0:
        return 0.0
    profile = _gaussian_scale_one().map(math.sqrt(2.0 * rho))
    return float(profile.epsilon(delta))


@lru_cache(maxsize=1024)
def rho_from_epsilon_delta(epsilon: float, delta: float = DEFAULT_DELTA) -> float:
    """The largest rho whose zCDP guarantee is at least as strong as (epsilon, delta)-DP.

    Bisection on `epsilon_from_rho`; the answer is the lower end of the final bracket, so
    epsilon_from_rho(result, delta) <= epsilon always holds. Cached: it is a pure function
    and budget checks ask for the same few values over and over.
    """
    _check_delta(delta)
    if epsilon is None or math.isinf(epsilon):
        return math.inf
    if epsilon <= 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
    # rho + 2 sqrt(rho log(1/delta)) >= epsilon(rho) for the standard bound, and OpenDP's
    # conversion is never looser, so epsilon itself is a safe upper bracket for rho.
    low, high = 0.0, float(epsilon)
    while epsilon_from_rho(high, delta) <= epsilon:  # tiny delta/huge epsilon: widen the bracket
        low, high = high, high * 2.0
    for _ in range(_BISECTION_STEPS):
        mid = (low + high) / 2.0
        if mid in (low, high):
            break
        if epsilon_from_rho(mid, delta) <= epsilon:
            low = mid
        else:
            high = mid
    return low


def epsilon_from_spend(rho: float, delta_additive: float, delta: float = DEFAULT_DELTA) -> float:
    """Epsilon at total `delta` of a spend that is rho-zCDP plus an additive `delta_additive`.

    Some steps are not zCDP but (0, delta')-style (e.g. releasing a category only when its
    noisy count passes a threshold fails with probability delta'); those deltas add up across
    trainings and are taken off the dataset's delta before converting rho. When they use it
    all up, the guarantee at `delta` is gone: infinite epsilon.
    """
    _check_delta(delta)
    if rho is None or math.isinf(rho) or delta_additive is None:
        return math.inf
    if delta_additive <= 0:
        return epsilon_from_rho(rho, delta)
    if delta_additive >= delta:
        return math.inf
    return epsilon_from_rho(rho, delta - delta_additive)


def compose_rho(rhos: Iterable[float | None]) -> float:
    """Total rho of several mechanisms on the same data (zCDP composes by addition).

    None or inf means unbounded and makes the total infinite.
    """
    total = 0.0
    for rho in rhos:
        if rho is None or math.isinf(rho):
            return math.inf
        if rho < 0:
            raise ValueError(f"rho must be >= 0, got {rho!r}")
        total += rho
    return total


def split_rho(rho: float, parts: int) -> list[float]:
    """Divide a rho budget evenly across `parts` mechanisms (their sum composes back to rho)."""
    if parts < 1:
        raise ValueError("parts must be >= 1")
    return [rho / parts] * parts


def remaining_rho(budget_rho: float, spent_rho: float) -> float:
    """Rho still available; never negative, infinite budget stays infinite."""
    if math.isinf(budget_rho):
        return math.inf
    if math.isinf(spent_rho):
        return 0.0
    return max(0.0, budget_rho - spent_rho)


def fits_budget(spent_rho: float, extra_rho: float, budget_rho: float) -> bool:
    """Whether spending `extra_rho` on top of `spent_rho` stays within `budget_rho`.

    A relative tolerance of 1e-9 absorbs float rounding when a budget is exactly used up
    (e.g. ten trainings at epsilon 1 in a budget of epsilon 10 as rho), never more.
    """
    if math.isinf(extra_rho) or math.isinf(spent_rho):
        return math.isinf(budget_rho)
    if math.isinf(budget_rho):
        return True
    return spent_rho + extra_rho <= budget_rho * (1.0 + 1e-9)
