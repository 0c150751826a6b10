"""Schedules α(t) and the four strategies' weights, against hand-worked values."""

import dataclasses
import doctest

import pytest

from bl_utils import schedules
from bl_utils.schedules import (RAMP_STRATEGIES, SCHEDULES, STRATEGIES, ConstantSchedule, LinearSchedule,
                                OdonnatPhamSchedule, StepSchedule, Strategy, make_strategy)


def test_constant_schedule():
    s = ConstantSchedule(0.3)
    assert [s(t) for t in (0, 5, 19.5, 1000)] == [0.3] * 4
    assert s.formula == "α = 0.3"


@pytest.mark.parametrize("t,expected", [(-1, 0.2), (0, 0.2), (5, 0.6), (2.5, 0.4), (10, 1.0), (50, 1.0)])
def test_linear_schedule_endpoints_and_clipping(t, expected):
    assert LinearSchedule(0.2, 1.0, duration=10)(t) == pytest.approx(expected)


def test_linear_schedule_reaches_end_exactly():
    assert LinearSchedule(0.0, 0.7, duration=3)(3) == 0.7


@pytest.mark.parametrize("t,expected", [(0, 0.01), (0.99, 0.01), (1, 0.02), (3, 0.04), (3.7, 0.04),
                                        (98, 0.99), (99, 1.0), (500, 1.0), (-2, 0.01)])
def test_step_schedule_is_the_authors(t, expected):
    assert StepSchedule()(t) == pytest.approx(expected, abs=1e-12)


def test_step_schedule_cap_and_formula():
    s = StepSchedule(0.01, 0.01, maximum=0.05)
    assert s(3) == 0.04 and s(4) == 0.05 and s(40) == 0.05
    assert s.formula == "α(t) = min(0.01 + 0.01·⌊t⌋, 0.05)"


def test_ce_strategy_is_pure_regional():
    s = make_strategy("ce", epochs=20)
    assert s == Strategy("ce", ConstantSchedule(0), rebalance=False)
    assert [s.weights(t) for t in (0, 7, 19)] == [(1.0, 0.0)] * 3
    assert s.formula == "L = L_R"


def test_ce_bl_strategy_fixed_alpha():
    assert make_strategy("ce+bl", epochs=20).weights(0) == (1.0, 1.0)
    assert make_strategy("ce+bl", epochs=20, alpha=0.1).weights(19) == (1.0, 0.1)


@pytest.mark.parametrize("name,epoch,expected", [
    ("ce+ramp", 0, (1.0, 0.0)), ("ce+ramp", 19, (1.0, 1.0)), ("ce+ramp", 9.5, (1.0, 0.5)),
    ("rebalance", 0, (1.0, 0.0)), ("rebalance", 19, (0.0, 1.0)), ("rebalance", 9.5, (0.5, 0.5)),
    ("ce+bl", 10, (1.0, 1.0)), ("ce", 19, (1.0, 0.0)),
])
def test_weights_per_epoch_for_20_epochs(name, epoch, expected):
    assert make_strategy(name, epochs=20).weights(epoch) == pytest.approx(expected)


def test_linear_ramp_granularity_and_ramp_end():
    s = make_strategy("ce+ramp", epochs=20, ramp_end=0.5)
    assert s.alpha == LinearSchedule(0, 0.5, 19)
    assert s.weights(19) == (1.0, 0.5)
    assert s.weights(1) == pytest.approx((1.0, 0.5 / 19))
    assert s.weights(1 + 3 / 10) == pytest.approx((1.0, 0.5 * 1.3 / 19))  # per-step, fractional epoch
    assert make_strategy("ce+ramp", epochs=1).alpha == LinearSchedule(0, 1, 1)  # epochs=1: no 0-division


def test_kervadec_schedule_strategies():
    s = make_strategy("ce+ramp", epochs=20, schedule="kervadec")
    assert s.alpha == StepSchedule(0.01, 0.01, maximum=1.0)
    assert s.weights(3) == (1.0, 0.04)
    r = make_strategy("rebalance", epochs=20, schedule="kervadec")
    # Oracle: Kervadec et al.'s StealWeight(0.01) (LIVIAETS/boundary-loss, scheduler.py) applied once
    # per epoch to their starting weights [1, 0.01]: w_R <- max(0.1, w_R - 0.01), w_B <- w_B + 0.01.
    w_r, w_b = 1.0, 0.01
    for epoch in range(120):
        assert r.weights(epoch) == pytest.approx((w_r, min(w_b, 1.0))), epoch
        w_r, w_b = max(0.1, w_r - 0.01), w_b + 0.01
    assert r.weights(95)[0] == pytest.approx(0.1)        # the regional weight never goes below 0.1
    # Odonnat & Pham's rebalance (linear ramp) is different: w_R = 1 - α exactly
    assert make_strategy("rebalance", epochs=20).weights(19) == (0.0, 1.0)


def test_formulas_are_readable():
    assert make_strategy("rebalance", 20).formula == "L = (1 − α(t))·L_R + α(t)·L_B, α(t) = 1·min(t/19, 1)"
    assert make_strategy("ce+bl", 20, alpha=0.5).formula == "L = L_R + α·L_B, α = 0.5"
    assert LinearSchedule(0.2, 1, 4).formula == "α(t) = 0.2 + 0.8·min(t/4, 1)"


def test_strategies_and_schedules_are_frozen():
    s = make_strategy("ce+bl", 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.name = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.alpha.value = 2.0


def test_all_names_build():
    assert STRATEGIES == ("ce", "ce+bl", "ce+ramp", "rebalance")
    assert [make_strategy(n, 5).name for n in STRATEGIES] == list(STRATEGIES)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_ramp_strategies_are_those_whose_alpha_changes_over_the_epochs(schedule):
    epochs = 20
    built = {name: make_strategy(name, epochs, schedule=schedule) for name in STRATEGIES}
    changing = tuple(name for name, s in built.items() if s.alpha(0) != s.alpha(epochs - 1))
    assert changing == RAMP_STRATEGIES


@pytest.mark.parametrize("kwargs,match", [
    (dict(name="dice+bl", epochs=5), r"valid names: ce, ce\+bl, ce\+ramp, rebalance"),
    (dict(name="ce+ramp", epochs=5, schedule="cosine"), "valid schedules: linear, kervadec"),
    (dict(name="ce", epochs=0), "epochs"),
    (dict(name="ce", epochs=2.5), "epochs"),
    (dict(name="ce+bl", epochs=5, alpha=-1), ">= 0"),
    (dict(name="rebalance", epochs=5, ramp_end=1.5), "ramp_end <= 1"),
    (dict(name="ce+bl", epochs=5, alpha=float("nan")), "finite"),
])
def test_make_strategy_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_strategy(**kwargs)


def test_schedule_errors():
    with pytest.raises(ValueError, match="duration"):
        LinearSchedule(0, 1, 0)
    with pytest.raises(ValueError, match="finite"):
        ConstantSchedule(0.5)(float("nan"))
    with pytest.raises(TypeError, match="epoch"):
        StepSchedule()("three")


def test_docstring_examples():
    assert doctest.testmod(schedules).failed == 0


# ------------------------------------------ Odonnat & Pham's code (tests/odonnat_pham_port.py)
# Their notebook printed these at the top of each epoch (``print('alpha:', alpha)``), epochs 1..20.
PRINTED = [0, 0.05, 0.09999999999999999, 0.15000000000000002, 0.2, 0.25, 0.3, 0.35000000000000003, 0.4,
           0.45, 0.5, 0.5499999999999999, 0.6, 0.6499999999999999, 0.7, 0.75, 0.7999999999999999, 0.85,
           0.8999999999999999, 0.95]


def test_odonnat_pham_schedule_is_their_loop_at_every_epoch():
    """Package epoch t (0-based) = their epoch t + 1 (``for epoch in range(1, EPOCHS + 1)``): the
    same floats, bit for bit, over all 20 epochs, and constant within an epoch."""
    port = pytest.importorskip("odonnat_pham_port")
    s = make_strategy("rebalance", epochs=20, schedule="odonnat-pham")
    assert s.alpha == OdonnatPhamSchedule(20) and "odonnat-pham" in SCHEDULES
    for t in range(20):
        a = port.alpha_at(t + 1, EPOCHS=20)
        assert s.alpha(t) == a == PRINTED[t] and s.alpha(t + 0.75) == a
        assert s.weights(t) == (1 - a, a)                       # their (1 - alpha) * ce + alpha * bl
        assert make_strategy("ce+ramp", 20, schedule="odonnat-pham").weights(t) == (1.0, a)
        assert make_strategy("ce+bl", 20, alpha=1.0, schedule="odonnat-pham").weights(t) == (1.0, 1.0)
    assert s.alpha(-3) == 0.0 and s.alpha(25) == 0.95          # outside their loop: clamped
    assert s.formula == "L = (1 − α(t))·L_R + α(t)·L_B, α(t) = max(0, (⌊t⌋ + 1)/20 − 0.05)"


def test_odonnat_pham_schedule_other_lengths_and_scale():
    port = pytest.importorskip("odonnat_pham_port")
    for epochs in (1, 5, 30):
        s = OdonnatPhamSchedule(epochs)
        assert [s(t) for t in range(epochs)] == [port.alpha_at(e, epochs) for e in range(1, epochs + 1)]
    assert OdonnatPhamSchedule(5)(0) == pytest.approx(0.15)     # 0.05 is a constant, not 1/EPOCHS
    assert make_strategy("ce+ramp", 20, schedule="odonnat-pham", ramp_end=0.5).alpha(19) == 0.475
    with pytest.raises(ValueError, match="epochs"):
        OdonnatPhamSchedule(0)
