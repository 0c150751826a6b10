"""Tests of bl_utils.stats (corrected resampled t, TOST, Holm, sizing) against independent oracles:
scipy.stats for the plain t, statsmodels for Holm and TOST, hand-worked numbers for the correction,
a Monte-Carlo simulation for the sizing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_paired

from bl_utils import stats

RNG = np.random.default_rng(20240501)
# Per-run differences: J = 2 (the fewest allowed), J = 5 (one 5-fold CV), J = 25 (5 seeds × 5 folds).
VECTORS = {
    "J=2": np.array([0.013, -0.004]),
    "J=5": np.array([0.010, -0.005, 0.020, 0.000, 0.003]),
    "J=25": RNG.normal(0.004, 0.015, 25),
    "J=25-negative": RNG.normal(-0.03, 0.01, 25),
}
N_TRAIN, N_TEST = 520, 130   # 5-fold CV of 650 images: n_test / n_train = 1/4


def inflated(d, n_train, n_test):
    """``d`` with its deviations from the mean scaled by ``k = sqrt(1 + J n_test/n_train)``: the plain
    t on it equals the corrected t on ``d`` (same mean, ``sd * k / sqrt(J) = sd * sqrt(1/J + n_test/n_train)``),
    so scipy/statsmodels' plain tests become oracles for the corrected ones."""
    k = np.sqrt(1 + d.size * n_test / n_train)
    return d.mean() + k * (d - d.mean())


def centred(n, sd, seed):
    """``n`` values of mean exactly 0 (to rounding) and sample sd exactly ``sd`` (ddof=1)."""
    z = np.random.default_rng(seed).normal(size=n)
    z -= z.mean()
    return sd * z / z.std(ddof=1)


# ----------------------------------------------------------------------------------------------
# Plain and corrected t


@pytest.mark.parametrize("name", VECTORS)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_plain_interval_matches_scipy(name, confidence):
    d = VECTORS[name]
    ci = stats.t_interval(d, confidence)
    low, high = st.t.interval(confidence, d.size - 1, loc=d.mean(), scale=st.sem(d))
    assert (ci.low, ci.high) == pytest.approx((low, high), rel=1e-12, abs=1e-15)
    assert ci.se == pytest.approx(st.sem(d), rel=1e-12)
    assert (ci.df, ci.confidence, ci.method) == (d.size - 1, confidence, "t")
    assert ci.half_width == pytest.approx((high - low) / 2, rel=1e-12)


@pytest.mark.parametrize("name", VECTORS)
def test_plain_pvalue_matches_scipy_ttest_1samp(name):
    d = VECTORS[name]
    assert stats.t_test_pvalue(d) == pytest.approx(st.ttest_1samp(d, 0.0).pvalue, rel=1e-10)


@pytest.mark.parametrize("name", VECTORS)
def test_corrected_interval_and_p_match_scipy_on_inflated_differences(name):
    d = VECTORS[name]
    d2 = inflated(d, N_TRAIN, N_TEST)
    ci = stats.corrected_t_interval(d, N_TRAIN, N_TEST)
    assert (ci.low, ci.high) == pytest.approx(st.t.interval(0.95, d.size - 1, loc=d2.mean(), scale=st.sem(d2)),
                                              rel=1e-10, abs=1e-15)
    assert ci.method == "nadeau-bengio"
    assert stats.t_test_pvalue(d, N_TRAIN, N_TEST) == pytest.approx(st.ttest_1samp(d2, 0.0).pvalue, rel=1e-9)


@pytest.mark.parametrize("name", VECTORS)
def test_corrected_reduces_to_plain_when_n_test_over_n_train_vanishes(name):
    d = VECTORS[name]
    plain, corrected = stats.t_interval(d), stats.corrected_t_interval(d, n_train=1e15, n_test=1)
    assert (corrected.low, corrected.high, corrected.se) == pytest.approx((plain.low, plain.high, plain.se), rel=1e-9)
    assert stats.t_test_pvalue(d, 1e15, 1) == pytest.approx(stats.t_test_pvalue(d), rel=1e-9)


def test_corrected_interval_hand_example():
    # d = 0.05 + 0.01 * (1, 1, 1, -3): mean 0.05, squared deviations 1e-4 * (1 + 1 + 1 + 9) = 1.2e-3,
    # sd = sqrt(1.2e-3 / 3) = 0.02. J = 4, n_test/n_train = 3/4: factor sqrt(1/4 + 3/4) = 1, so
    # se = 0.02 (plain: 0.02 / sqrt(4) = 0.01). t_{0.975, 3} = 3.18244630528 (tables: 3.182), so the
    # corrected half-width is 0.0636489261 -> [-0.0136489261, 0.1136489261]; plain 0.0318244631.
    # t statistic 0.05 / 0.02 = 2.5 exactly (plain: 5.0).
    d = [0.06, 0.06, 0.06, 0.02]
    ci = stats.corrected_t_interval(d, n_train=4, n_test=3)
    assert (ci.mean, ci.se, ci.df) == (pytest.approx(0.05), pytest.approx(0.02), 3)
    assert (ci.low, ci.high) == pytest.approx((-0.0136489261, 0.1136489261), abs=1e-9)
    plain = stats.t_interval(d)
    assert (plain.se, plain.half_width) == pytest.approx((0.01, 0.0318244631), abs=1e-9)
    assert stats.t_test_pvalue(d, 4, 3) == pytest.approx(2 * st.t.sf(2.5, 3), rel=1e-9)   # 0.08771
    assert stats.t_test_pvalue(d) == pytest.approx(2 * st.t.sf(5.0, 3), rel=1e-9)


def test_corrected_interval_covers_where_the_plain_one_does_not():
    # Runs sharing training data: d_j = a + e_j, a common to all runs with Var(a) = sd² n_test/n_train.
    # Under this model the corrected statistic is exactly t_{J-1}; the plain one ignores a.
    rng, sd, J = np.random.default_rng(7), 0.01, 10
    draws = rng.normal(0, sd * np.sqrt(N_TEST / N_TRAIN), (2000, 1)) + rng.normal(0, sd, (2000, J))

    def cover(ci):
        return ci.low < 0 < ci.high
    corrected = np.mean([cover(stats.corrected_t_interval(d, N_TRAIN, N_TEST)) for d in draws])
    plain = np.mean([cover(stats.t_interval(d)) for d in draws])
    assert 0.93 < corrected < 0.97     # Monte-Carlo se ~0.005
    assert plain < 0.85                # ~0.75 analytically


# ----------------------------------------------------------------------------------------------
# TOST


@pytest.mark.parametrize("name", VECTORS)
@pytest.mark.parametrize("margin", [0.005, 0.02, 0.05])
def test_plain_tost_matches_statsmodels_ttost_paired(name, margin):
    d = VECTORS[name]
    x2 = np.random.default_rng(3).uniform(0.6, 0.9, d.size)    # CE's Dice, say
    p_oracle = ttost_paired(x2 + d, x2, -margin, margin)[0]
    assert stats.tost_pvalue(d, margin) == pytest.approx(p_oracle, rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("name", VECTORS)
def test_corrected_tost_matches_statsmodels_on_inflated_differences(name):
    d = VECTORS[name]
    x2 = np.full(d.size, 0.8)
    p_oracle = ttost_paired(x2 + inflated(d, N_TRAIN, N_TEST), x2, -0.02, 0.02)[0]
    assert stats.tost_pvalue(d, 0.02, N_TRAIN, N_TEST) == pytest.approx(p_oracle, rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_tost_rejects_exactly_when_the_1_minus_2alpha_interval_is_inside_the_margin(seed):
    d = np.random.default_rng(seed).normal(0.005, 0.01, 12)
    ci = stats.corrected_t_interval(d, N_TRAIN, N_TEST, confidence=0.90)
    margin = abs(ci.mean) + ci.half_width              # the interval touches the margin: p = alpha
    assert stats.tost_pvalue(d, margin, N_TRAIN, N_TEST) == pytest.approx(0.05, rel=1e-9)
    assert stats.tost_pvalue(d, margin * 1.01, N_TRAIN, N_TEST) < 0.05 < stats.tost_pvalue(d, margin * 0.99, N_TRAIN, N_TEST)


# ----------------------------------------------------------------------------------------------
# Holm

HOLM_CASES = {
    "uniform": np.random.default_rng(11).uniform(0, 0.2, 8),
    "ties": np.array([0.01, 0.01, 0.01, 0.04]),
    "ties-unsorted": np.array([0.03, 0.001, 0.03, 0.2, 0.001]),
    "near-one": np.array([0.9, 0.95, 0.99, 0.999]),
    "zero-and-one": np.array([0.0, 1.0, 0.5, 0.0]),
    "single": np.array([0.3]),
    "all-equal": np.full(5, 0.2),
    "step-down-order": np.array([0.04, 0.01, 0.03, 0.02]),
}


@pytest.mark.parametrize("name", HOLM_CASES)
def test_holm_matches_statsmodels(name):
    p = HOLM_CASES[name]
    np.testing.assert_allclose(stats.holm(p), multipletests(p, method="holm")[1], rtol=1e-12, atol=0)


@pytest.mark.parametrize("bad", [[], [np.nan, 0.1], [1.2], [-0.1, 0.5], [[0.1, 0.2]]])
def test_holm_rejects_bad_pvalues(bad):
    with pytest.raises(ValueError):
        stats.holm(bad)


# ----------------------------------------------------------------------------------------------
# Awkward inputs


@pytest.mark.parametrize("J", [2, 5])
@pytest.mark.parametrize("c, p_diff, p_tost", [(0.0, 1.0, 0.0), (0.25, 0.0, 0.0), (-0.25, 0.0, 0.0),
                                                (0.5, 0.0, 1.0), (-0.75, 0.0, 1.0)])
def test_constant_differences_have_zero_width_and_decided_pvalues(J, c, p_diff, p_tost):
    # Binary-exact values, margin 0.5: c = 0.5 sits on the bound (H0 includes it: p = 1).
    d = np.full(J, c)
    for ci in (stats.t_interval(d), stats.corrected_t_interval(d, N_TRAIN, N_TEST)):
        assert (ci.mean, ci.low, ci.high, ci.half_width, ci.se) == (c, c, c, 0.0, 0.0)
    assert stats.t_test_pvalue(d) == stats.t_test_pvalue(d, N_TRAIN, N_TEST) == p_diff
    assert stats.tost_pvalue(d, 0.5) == stats.tost_pvalue(d, 0.5, N_TRAIN, N_TEST) == p_tost


@pytest.mark.parametrize("bad", [[], [0.01], [np.nan, np.nan, np.nan], [0.01, np.nan, 0.02], [0.01, np.inf],
                                 [[0.01, 0.02], [0.03, 0.04]]])
@pytest.mark.parametrize("call", [
    lambda d: stats.t_interval(d),
    lambda d: stats.corrected_t_interval(d, N_TRAIN, N_TEST),
    lambda d: stats.t_test_pvalue(d, N_TRAIN, N_TEST),
    lambda d: stats.tost_pvalue(d, 0.02),
    lambda d: stats.compare_all({"x": d}, N_TRAIN, N_TEST),
], ids=["t_interval", "corrected", "t_test", "tost", "compare_all"])
def test_bad_differences_raise(bad, call):
    with pytest.raises(ValueError):
        call(bad)


D = [0.01, 0.02, 0.0]


@pytest.mark.parametrize("call", [
    lambda: stats.corrected_t_interval(D, 0, 130),
    lambda: stats.corrected_t_interval(D, 520, -1),
    lambda: stats.corrected_t_interval(D, None, None),
    lambda: stats.corrected_t_interval(D, np.nan, 130),
    lambda: stats.t_test_pvalue(D, 520, None),
    lambda: stats.t_interval(D, confidence=1.0),
    lambda: stats.t_interval(D, confidence=0.0),
    lambda: stats.tost_pvalue(D, 0.0),
    lambda: stats.tost_pvalue(D, -0.02),
    lambda: stats.compare_all({}, N_TRAIN, N_TEST),
    lambda: stats.compare_all({"x": D}, N_TRAIN, N_TEST, margin=0),
    lambda: stats.compare_all({"x": D}, N_TRAIN, N_TEST, alpha=0.5),
    lambda: stats.runs_needed(0.01, n_train=0, n_test=130),
    lambda: stats.runs_needed(-0.01, n_train=520, n_test=130),
    lambda: stats.runs_needed(0.01, n_train=520, n_test=130, margin=0),
    lambda: stats.runs_needed(0.01, n_train=520, n_test=130, power=1.0),
    lambda: stats.half_width_floor(np.nan, n_train=520, n_test=130),
])
def test_bad_settings_raise(call):
    with pytest.raises(ValueError):
        call()


# ----------------------------------------------------------------------------------------------
# Verdicts


def test_compare_all_verdict_words_and_holm_families():
    J = 25
    named = {
        "clearly-better": 0.05 + centred(J, 0.01, 1),
        "clearly-worse": -0.05 + centred(J, 0.01, 2),
        "tiny-noise": centred(J * 2, 0.001, 3),               # many runs, mean 0, sd 0.001
        "wide-noise": centred(10, 0.05, 4),
        "small-gain": 0.01 + centred(J, 0.001, 5),            # significant, yet within ±0.02
        "small-loss": -0.01 + centred(J, 0.001, 6),
    }
    verdicts = stats.compare_all(named, N_TRAIN, N_TEST, margin=0.02, alpha=0.05)
    words = {v.name: v.verdict for v in verdicts}
    assert words == {"clearly-better": "better", "clearly-worse": "worse", "tiny-noise": "equivalent",
                     "wide-noise": "inconclusive", "small-gain": "better_within_margin",
                     "small-loss": "worse_within_margin"}
    assert set(words.values()) <= set(stats.VERDICTS)
    assert [v.name for v in verdicts] == list(named)
    np.testing.assert_allclose([v.p_diff_holm for v in verdicts],
                               multipletests([v.p_diff for v in verdicts], method="holm")[1], rtol=1e-12)
    np.testing.assert_allclose([v.p_tost_holm for v in verdicts],
                               multipletests([v.p_tost for v in verdicts], method="holm")[1], rtol=1e-12)
    wide = verdicts[3]
    # half_width of the 90 % corrected interval: t_{0.95, 9} * 0.05 * sqrt(1/10 + 1/4)
    assert wide.half_width == pytest.approx(st.t.ppf(0.95, 9) * 0.05 * np.sqrt(0.1 + 0.25), rel=1e-9)
    assert wide.bound > wide.margin and wide.n_runs == 10
    assert wide.corrected.half_width > wide.plain.half_width
    row = wide.as_row()
    assert row["corrected_low"] == wide.corrected.low and row["verdict"] == "inconclusive"


def test_holm_can_turn_a_raw_difference_into_inconclusive():
    # Corrected t = 0.03 / (s * sqrt(1/10 + 1/4)) chosen so that the raw two-sided p is 0.03.
    t_crit = st.t.isf(0.015, 9)
    d = 0.03 + centred(10, 0.03 / t_crit / np.sqrt(0.35), 8)
    alone = stats.compare_all({"a": d}, N_TRAIN, N_TEST)[0]
    assert alone.p_diff == pytest.approx(0.03, rel=1e-9) and alone.verdict == "better"
    pair = stats.compare_all({"a": d, "b": d.copy()}, N_TRAIN, N_TEST)
    assert [v.p_diff_holm for v in pair] == pytest.approx([0.06, 0.06]) and {v.verdict for v in pair} == {"inconclusive"}


@pytest.mark.parametrize("c, word", [(0.0, "equivalent"), (0.01, "better_within_margin"), (-0.05, "worse")])
def test_compare_all_on_constant_differences(c, word):
    v = stats.compare_all({"x": np.full(4, c)}, N_TRAIN, N_TEST)[0]
    assert v.verdict == word and v.half_width == 0.0


# ----------------------------------------------------------------------------------------------
# Sizing


def test_half_width_floor_is_the_large_J_limit():
    sd = 0.012
    floor = stats.half_width_floor(sd, n_train=N_TRAIN, n_test=N_TEST)
    assert floor == pytest.approx(st.norm.ppf(0.95) * sd * 0.5, rel=1e-12)    # sqrt(1/4) = 0.5
    big = stats.corrected_t_interval(centred(100_000, sd, 9), N_TRAIN, N_TEST, confidence=0.90)
    assert floor < big.half_width < floor * 1.001


def test_runs_needed_is_monotone_in_sd_and_none_beyond_the_floor():
    sds = np.linspace(0.0, 0.03, 31)
    runs = [stats.runs_needed(sd, n_train=N_TRAIN, n_test=N_TEST, margin=0.02) for sd in sds]
    as_number = [np.inf if r is None else r for r in runs]
    assert runs[0] == 2 and all(a <= b for a, b in zip(as_number, as_number[1:]))
    for sd, r in zip(sds, runs):       # None whenever the floor reaches the margin
        if stats.half_width_floor(sd, n_train=N_TRAIN, n_test=N_TEST) >= 0.02:
            assert r is None
    assert stats.runs_needed(0.03, n_train=N_TRAIN, n_test=N_TEST, margin=0.02) is None   # floor 0.0247



def test_power_floor_is_where_runs_needed_stops_having_an_answer():
    """At 80 % power and true difference 0, (z_0.95 + z_0.90)·sd·√(n_test/n_train) is the margin's
    limit: just above the sd that puts it at 0.02 no number of runs suffices; just below, some does."""
    coefficient = (st.norm.ppf(0.95) + st.norm.ppf(0.90)) * 0.5               # sqrt(1/4) = 0.5
    assert stats.power_floor(0.01, n_train=N_TRAIN, n_test=N_TEST) == pytest.approx(coefficient * 0.01, rel=1e-12)
    critical = 0.02 / coefficient                                               # ≈ 0.0137
    assert stats.runs_needed(critical * 1.01, n_train=N_TRAIN, n_test=N_TEST, margin=0.02) is None
    assert stats.runs_needed(critical * 0.97, n_train=N_TRAIN, n_test=N_TEST, margin=0.02) is not None
    assert stats.power_floor(0.01, n_train=N_TRAIN, n_test=N_TEST) > stats.half_width_floor(0.01, n_train=N_TRAIN, n_test=N_TEST)

def test_runs_needed_edge_cases():
    kw = dict(n_train=N_TRAIN, n_test=N_TEST)
    assert stats.runs_needed(0.005, true_difference=0.02, **kw) is None          # |delta| = margin
    assert stats.runs_needed(0.012, max_runs=5, **kw) is None                   # needs more than 5
    assert stats.runs_needed(0.012, margin=0.04, **kw) < stats.runs_needed(0.012, **kw)
    assert stats.runs_needed(0.008, true_difference=0.005, **kw) > stats.runs_needed(0.008, **kw)


@pytest.mark.parametrize("sd, delta", [(0.01, 0.0), (0.008, 0.005)])
def test_runs_needed_is_smallest_and_reaches_the_power_in_simulation(sd, delta):
    J = stats.runs_needed(sd, n_train=N_TRAIN, n_test=N_TEST, margin=0.02, true_difference=delta)
    assert J is not None and J > 2

    def condition(j):   # the approximation of the docstring, written out again
        t_beta = st.t.ppf(0.9 if delta == 0 else 0.8, j - 1)
        return 0.02 - abs(delta) >= (st.t.ppf(0.95, j - 1) + t_beta) * sd * np.sqrt(1 / j + N_TEST / N_TRAIN)
    assert condition(J) and not condition(J - 1)
    # d_j = delta + a + e_j, a shared by all runs (Var sd² n_test/n_train), e_j ~ N(0, sd²): the model
    # under which the corrected t is exact. 3000 draws: Monte-Carlo se of the power ~0.007.
    rng, n = np.random.default_rng(12345), 3000
    draws = delta + rng.normal(0, sd * np.sqrt(N_TEST / N_TRAIN), (n, 1)) + rng.normal(0, sd, (n, J))
    power = np.mean([stats.tost_pvalue(d, 0.02, N_TRAIN, N_TEST) < 0.05 for d in draws])
    assert power >= 0.75


def test_holm_levels_are_alpha_over_m_down_to_alpha():
    assert stats.holm_levels(0.05, 3) == pytest.approx((0.05 / 3, 0.025, 0.05))


@pytest.mark.parametrize("sd, alpha, delta", [(0.0115, 0.05 / 3, 0.0), (0.009, 0.025, -0.004)])
def test_runs_needed_matches_a_simulation_of_the_verdict_procedure(sd, alpha, delta):
    """The formula's number of runs reaches the power when the procedure itself is simulated; one run fewer does not
    reach it by more than the simulation's noise (the t-approximation is tight, not exact)."""
    st_ = stats
    runs = st_.runs_needed(sd, n_train=340, n_test=85, alpha=alpha, true_difference=delta)
    power = st_.simulated_tost_power(sd, runs, n_train=340, n_test=85, alpha=alpha, true_difference=delta, n_sim=40_000)
    fewer = st_.simulated_tost_power(sd, runs - 1, n_train=340, n_test=85, alpha=alpha, true_difference=delta, n_sim=40_000)
    assert 0.78 <= power <= 0.86 and fewer < power
