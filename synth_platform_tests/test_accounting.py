"""zCDP accounting: the conversions come from OpenDP and agree with the published figure."""

import math

import pytest

from synth_platform.lib.synthesize import accounting


def test_rho_for_epsilon_one_delta_1e9_matches_the_published_figure():
    rho = accounting.rho_from_epsilon_delta(1.0, 1e-9)
    assert rho == pytest.approx(0.014973, abs=5e-7)
    # Rounded down: converting back never claims more than the epsilon asked for.
    assert accounting.epsilon_from_rho(rho, 1e-9) <= 1.0
    assert accounting.epsilon_from_rho(rho, 1e-9) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(("epsilon", "delta"), [(0.3, 1e-9), (4.0, 1e-9), (1.0, 1e-6), (10.0, 1e-12)])
def test_conversion_round_trips_and_is_never_looser_than_the_closed_form(epsilon, delta):
    rho = accounting.rho_from_epsilon_delta(epsilon, delta)
    assert accounting.epsilon_from_rho(rho, delta) == pytest.approx(epsilon, rel=1e-6)
    closed_form = rho + 2 * math.sqrt(rho * math.log(1 / delta))  # Bun & Steinke 2016, Prop. 1.3
    assert accounting.epsilon_from_rho(rho, delta) <= closed_form


def test_composition_adds_rho_and_beats_adding_epsilons():
    one = accounting.rho_from_epsilon_delta(1.0, 1e-9)
    ten = accounting.compose_rho([one] * 10)
    assert ten == pytest.approx(10 * one)
    composed = accounting.epsilon_from_rho(ten, 1e-9)
    assert 1.0 < composed < 10.0  # ten trainings at epsilon 1 cost far less than epsilon 10 in zCDP
    assert accounting.split_rho(ten, 3) == pytest.approx([ten / 3] * 3)


def test_unbounded_stays_unbounded_never_zero():
    assert math.isinf(accounting.compose_rho([0.1, None]))
    assert math.isinf(accounting.compose_rho([math.inf, 0.1]))
    assert math.isinf(accounting.epsilon_from_rho(math.inf, 1e-9))
    assert math.isinf(accounting.rho_from_epsilon_delta(math.inf, 1e-9))
    assert not accounting.fits_budget(0.0, math.inf, 1.0)


def test_additive_delta_is_taken_off_the_delta_before_converting():
    rho = accounting.rho_from_epsilon_delta(1.0, 5e-10)
    assert accounting.epsilon_from_spend(rho, 5e-10, 1e-9) == pytest.approx(1.0, rel=1e-6)
    assert math.isinf(accounting.epsilon_from_spend(rho, 1e-9, 1e-9))  # all of delta used up


@pytest.mark.parametrize("bad", [0.0, 1.0, -1e-9, float("nan")])
def test_bad_delta_is_refused(bad):
    with pytest.raises(ValueError, match="delta"):
        accounting.epsilon_from_rho(0.1, bad)
