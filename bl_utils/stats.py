"""Inference over the runs of repeated k-fold cross-validation: corrected t, TOST, Holm, sizing.

Each run ``j = (seed, fold)`` of the study, ``J`` runs in all, gives one number per comparison:
``d_j`` = the mean over that fold's test images of ``Dice_strategy - Dice_CE`` (paired by image).
Positive ``d`` means the strategy beats CE; for a metric where lower is better, pass ``-d``.

The runs of repeated CV share most of their training images, so the plain t-interval over runs
(``se = sd / sqrt(J)``) is too narrow. The corrected resampled t of Nadeau & Bengio (2003, Machine
Learning 52; Bouckaert & Frank 2004) uses ``se = sd * sqrt(1/J + n_test/n_train)``, ``J - 1`` degrees
of freedom. Its width has a floor: no number of runs shrinks it below about
``t * sd * sqrt(n_test/n_train)`` (:func:`half_width_floor`), ``0.5 * t * sd`` with 5-fold CV.

:func:`compare_all` gives, for every comparison, the intervals (:func:`t_interval`,
:func:`corrected_t_interval`), the p's of "different from 0?" (:func:`t_test_pvalue`) and "within
±margin?" (:func:`tost_pvalue`), Holm-adjusted (:func:`holm`), and a :class:`Verdict`;
:func:`runs_needed` says how many runs a TOST needs to show equivalence with a given power.

Constant ``d`` (``sd = 0``): ``se = 0``, a zero-width interval at the mean, two-sided p = 0 if the
mean is not 0 else 1, each one-sided TOST p = 0 if the mean is strictly inside its bound else 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

__all__ = ["Interval", "t_interval", "corrected_t_interval", "t_test_pvalue", "tost_pvalue", "holm",
           "VERDICTS", "Verdict", "compare_all", "compare_estimates", "half_width_floor", "power_floor", "runs_needed",
           "holm_levels", "simulated_tost_power"]

#: The verdict codes of :func:`compare_all`: a difference from 0 shown (``better``, ``worse``), and
#: also inside the ± margin (``*_within_margin``); equivalence within the margin shown without a
#: difference (``equivalent``); neither shown (``inconclusive``). :func:`bl_utils.words.primary_verdict`
#: says them in words.
VERDICTS = ("better", "worse", "better_within_margin", "worse_within_margin", "equivalent", "inconclusive")


@dataclass(frozen=True)
class Interval:
    """A t-interval for the mean of the per-run differences: ``low, high = mean ∓ half_width``,
    ``half_width = t_{(1+confidence)/2, df} * se``; ``method``: ``"t"`` (plain) or ``"nadeau-bengio"``."""
    mean: float
    low: float
    high: float
    half_width: float
    se: float
    df: int
    confidence: float
    method: str


def _runs(differences) -> np.ndarray:
    """``differences`` as a finite float array of shape ``(J,)``, ``J >= 2``, or a ValueError."""
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1:
        raise ValueError(f"differences must hold one value per run, shape (J,); got shape {d.shape} "
                         "(flatten a seeds × folds table with .ravel()).")
    if d.size < 2:
        raise ValueError(f"need at least 2 runs for a t-interval, got {d.size}.")
    if not np.isfinite(d).all():
        raise ValueError(f"differences hold {int((~np.isfinite(d)).sum())} non-finite value(s) (NaN/inf); "
                         "drop or fix those runs first.")
    return d


def _ratio(n_train, n_test) -> float:
    """``n_test / n_train`` (0.0 when both are None, the plain test), checked."""
    if n_train is None and n_test is None:
        return 0.0
    if n_train is None or n_test is None:
        raise ValueError("give both n_train and n_test (corrected test) or neither (plain test).")
    if not (np.isfinite(n_train) and np.isfinite(n_test) and n_train > 0 and n_test > 0):
        raise ValueError(f"n_train and n_test must be positive, got n_train={n_train}, n_test={n_test}.")
    return float(n_test) / float(n_train)


def _check_level(name: str, value: float, upper: float = 1.0) -> None:
    if not 0 < value < upper:  # also False for NaN
        raise ValueError(f"{name} must lie strictly between 0 and {upper}, got {value}.")


def _check_margin(margin: float) -> None:
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be positive (in the units of d, e.g. 0.02 Dice), got {margin}.")


def _se(d: np.ndarray, ratio: float) -> float:
    """Standard error of the mean of ``d``: ``sd * sqrt(1/J + ratio)`` (ratio 0: the plain one)."""
    sd = 0.0 if np.ptp(d) == 0 else np.std(d, ddof=1)   # exactly 0 for constant d, not ~1e-18
    return float(sd * math.sqrt(1.0 / d.size + ratio))


def _interval(d: np.ndarray, ratio: float, confidence: float, method: str) -> Interval:
    _check_level("confidence", confidence)
    mean, se, df = float(d.mean()), _se(d, ratio), d.size - 1
    half = float(_st.t.ppf((1 + confidence) / 2, df) * se)
    return Interval(mean, mean - half, mean + half, half, se, df, confidence, method)


def t_interval(differences, confidence: float = 0.95) -> Interval:
    """Plain t-interval for the mean of ``differences`` (shape ``(J,)``): ``se = sd / sqrt(J)``,
    ``sd`` with ``ddof=1``, ``J - 1`` degrees of freedom. Treats the runs as independent, which those of
    repeated CV are not: shown beside :func:`corrected_t_interval` to say how much the correction
    matters. Raises ValueError for fewer than 2 runs, a non-finite value, ``confidence`` not in (0, 1).
    """
    return _interval(_runs(differences), 0.0, confidence, "t")


def corrected_t_interval(differences, n_train: float, n_test: float, confidence: float = 0.95) -> Interval:
    """Nadeau–Bengio corrected resampled t-interval for the mean of ``differences`` (shape ``(J,)``).

    ``se = sd * sqrt(1/J + n_test/n_train)`` (``sd`` with ``ddof=1``), ``J - 1`` degrees of freedom.
    ``n_train``/``n_test``: the numbers of training and test images of one run (one fold); with
    folds of unequal size, their averages. Raises ValueError as :func:`t_interval` does, and when
    ``n_train`` or ``n_test`` is not positive.
    """
    if n_train is None or n_test is None:
        raise ValueError("the corrected interval needs n_train and n_test; use t_interval for the plain one.")
    return _interval(_runs(differences), _ratio(n_train, n_test), confidence, "nadeau-bengio")


def _p_greater(x: float, se: float, df: int) -> float:
    """One-sided p for H0: E[x] <= 0 against E[x] > 0, given the estimate ``x`` and its ``se``."""
    if se == 0:
        return 0.0 if x > 0 else 1.0
    return float(_st.t.sf(x / se, df))


def t_test_pvalue(differences, n_train: float | None = None, n_test: float | None = None) -> float:
    """Two-sided p-value of H0: mean difference = 0, for ``differences`` of shape ``(J,)``.

    Corrected (Nadeau–Bengio ``se``) when ``n_train`` and ``n_test`` are given, plain otherwise;
    ``J - 1`` degrees of freedom. ``sd = 0``: p is 0 if the mean is not 0, else 1.
    """
    d = _runs(differences)
    mean, se = float(d.mean()), _se(d, _ratio(n_train, n_test))
    if se == 0:
        return 0.0 if mean != 0 else 1.0
    return min(1.0, 2 * _p_greater(abs(mean), se, d.size - 1))


def tost_pvalue(differences, margin: float, n_train: float | None = None, n_test: float | None = None) -> float:
    """Two one-sided tests (TOST) of equivalence within ``±margin`` for ``differences`` of shape ``(J,)``.

    H0: mean <= -margin or mean >= +margin, against -margin < mean < +margin. Returns the larger of
    the two one-sided t-test p-values (``J - 1`` degrees of freedom); it is below ``alpha`` exactly
    when the ``(1 - 2 alpha)`` interval lies inside ``(-margin, +margin)``. Corrected ``se`` when
    ``n_train``/``n_test`` are given, plain otherwise. ``margin``: in the units of ``d`` (Dice: 0.02 =
    two points), > 0 or a ValueError.
    """
    _check_margin(margin)
    d = _runs(differences)
    mean, se, df = float(d.mean()), _se(d, _ratio(n_train, n_test)), d.size - 1
    return max(_p_greater(mean + margin, se, df), _p_greater(margin - mean, se, df))


def holm(pvalues) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the order of ``pvalues`` (shape ``(m,)``).

    With the p's sorted ascending, ``p_(i)`` adjusts to ``max_{k<=i} min(1, (m - k + 1) p_(k))``;
    reject where the adjusted p < alpha. Controls the family-wise error rate at alpha.
    Raises ValueError when ``pvalues`` is empty or holds a value outside [0, 1] or NaN.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"pvalues must be a non-empty 1-D array, got shape {p.shape}.")
    if not ((p >= 0) & (p <= 1)).all():
        raise ValueError(f"p-values must lie in [0, 1] (and not be NaN), got {p.tolist()}.")
    order, m = np.argsort(p, kind="stable"), p.size
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


@dataclass(frozen=True)
class Verdict:
    """One comparison (a strategy against CE) as :func:`compare_all` judges it.

    ``corrected``/``plain``: 95 % intervals (Nadeau–Bengio / plain t). ``p_diff``: two-sided
    corrected p against 0; ``p_tost``: corrected TOST p against ``±margin``; ``*_holm``: Holm-adjusted
    within their family. ``verdict``: a key of :data:`VERDICTS`. ``half_width``: half-width of the
    corrected ``(1 - 2 alpha)`` interval, the one TOST uses: ``bound = |mean| + half_width`` is the
    smallest margin an (unadjusted) TOST would call equivalent, so "inconclusive at ± bound".
    """
    name: str
    mean: float
    corrected: Interval
    plain: Interval
    p_diff: float
    p_diff_holm: float
    p_tost: float
    p_tost_holm: float
    verdict: str
    half_width: float
    n_runs: int
    margin: float
    alpha: float

    @property
    def bound(self) -> float:
        """``|mean| + half_width``: differences beyond ``±bound`` are ruled out at level alpha."""
        return abs(self.mean) + self.half_width

    def as_row(self) -> dict:
        """A flat dict (intervals as ``*_low``/``*_high``) for a table: ``pd.DataFrame([v.as_row() ...])``."""
        row = {k: v for k, v in self.__dict__.items() if not isinstance(v, Interval)}
        for key, ci in (("corrected", self.corrected), ("plain", self.plain)):
            row.update({f"{key}_low": ci.low, f"{key}_high": ci.high, f"{key}_se": ci.se})
        return {**row, "bound": self.bound}


def _word(mean: float, different: bool, equivalent: bool) -> str:
    side = "better" if mean > 0 else "worse"
    if different and equivalent:
        return f"{side}_within_margin"
    return side if different else "equivalent" if equivalent else "inconclusive"


def compare_all(named_differences: dict, n_train: float, n_test: float, margin: float = 0.02,
                alpha: float = 0.05) -> list[Verdict]:
    """Judge every comparison: corrected and plain intervals, two-sided and TOST p's, Holm, a verdict.

    ``named_differences``: ``{name: d}`` with ``d`` of shape ``(J,)``, the per-run mean paired
    differences ``strategy - CE`` (``J`` may differ between names). ``n_train``/``n_test``: the images
    per fold, as in :func:`corrected_t_interval`. The two-sided p's form one Holm family, the TOST p's
    another. Verdict: ``better``/``worse`` when the adjusted two-sided p < alpha (by the sign of the
    mean), ``equivalent`` when the adjusted TOST p < alpha, ``*_within_margin`` when both hold,
    ``inconclusive`` otherwise. Returns the verdicts in the order of ``named_differences``.
    """
    if not named_differences:
        raise ValueError("named_differences is empty: give at least one {name: differences}.")
    _check_level("alpha", alpha, 0.5)
    _check_margin(margin)
    rows = []
    for name, diffs in named_differences.items():
        d = _runs(diffs)
        ci = corrected_t_interval(d, n_train, n_test)
        rows.append((name, d, ci, t_test_pvalue(d, n_train, n_test), tost_pvalue(d, margin, n_train, n_test)))
    holm_diff, holm_tost = holm([r[3] for r in rows]), holm([r[4] for r in rows])
    out = []
    for (name, d, ci, p_diff, p_tost), pd_h, pt_h in zip(rows, holm_diff, holm_tost):
        half = corrected_t_interval(d, n_train, n_test, confidence=1 - 2 * alpha).half_width
        out.append(Verdict(name, ci.mean, ci, t_interval(d), p_diff, float(pd_h), p_tost, float(pt_h),
                           _word(ci.mean, pd_h < alpha, pt_h < alpha), half, d.size, margin, alpha))
    return out


def _estimate_interval(mean: float, se: float, df: float, confidence: float, method: str) -> Interval:
    half = float(_st.t.ppf((1 + confidence) / 2, df)) * se
    return Interval(mean, mean - half, mean + half, half, se, int(round(df)), confidence, method)


def compare_estimates(named: dict, margin: float = 0.02, alpha: float = 0.05, method: str = "estimate") -> list[Verdict]:
    """:func:`compare_all` for comparisons whose standard error is not that of runs alone:
    ``named`` is ``{name: (mean, se, df, plain_se, n_runs)}``, ``se`` with ``df`` degrees of freedom
    (e.g. two variance terms and Welch–Satterthwaite's df), ``plain_se`` the runs' term alone (the
    ``plain`` interval, ``n_runs - 1`` df). Same tests, Holm families and verdict codes as
    :func:`compare_all`; ``method`` names the interval. Returns the verdicts in ``named``'s order."""
    if not named:
        raise ValueError("named is empty: give at least one {name: (mean, se, df, plain_se, n_runs)}.")
    _check_level("alpha", alpha, 0.5)
    _check_margin(margin)
    rows = []
    for name, (mean, se, df, plain_se, n_runs) in named.items():
        mean, se, df = float(mean), float(se), float(df)
        p_diff = (0.0 if mean != 0 else 1.0) if se == 0 else min(1.0, 2 * _p_greater(abs(mean), se, df))
        p_tost = max(_p_greater(mean + margin, se, df), _p_greater(margin - mean, se, df))
        rows.append((name, mean, se, df, float(plain_se), int(n_runs), p_diff, p_tost))
    holm_diff, holm_tost = holm([r[6] for r in rows]), holm([r[7] for r in rows])
    out = []
    for (name, mean, se, df, plain_se, n_runs, p_diff, p_tost), pd_h, pt_h in zip(rows, holm_diff, holm_tost):
        ci = _estimate_interval(mean, se, df, 0.95, method)
        plain = _estimate_interval(mean, plain_se, max(n_runs - 1, 1), 0.95, "t")
        half = _estimate_interval(mean, se, df, 1 - 2 * alpha, method).half_width
        out.append(Verdict(name, mean, ci, plain, p_diff, float(pd_h), p_tost, float(pt_h),
                           _word(mean, pd_h < alpha, pt_h < alpha), half, n_runs, margin, alpha))
    return out


def _check_sizing(sd, n_train, n_test, alpha) -> float:
    if not (np.isfinite(sd) and sd >= 0):
        raise ValueError(f"sd must be finite and >= 0, got {sd}.")
    _check_level("alpha", alpha, 0.5)
    return _ratio(n_train, n_test)


def half_width_floor(sd: float, *, n_train: float, n_test: float, alpha: float = 0.05) -> float:
    """The limit, as ``J -> inf``, of the corrected ``(1 - 2 alpha)`` half-width: ``z_{1-alpha} * sd * sqrt(n_test/n_train)``.

    ``sd``: the standard deviation of the per-run differences (``ddof=1``, e.g. from a pilot).
    Every finite ``J`` gives a wider interval, so if the floor is >= margin, no number of runs can
    show equivalence (:func:`runs_needed` returns None).
    """
    ratio = _check_sizing(sd, n_train, n_test, alpha)
    return float(_st.norm.ppf(1 - alpha) * sd * math.sqrt(ratio))


def power_floor(sd: float, *, n_train: float, n_test: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The narrowest margin a corrected TOST at level ``alpha`` shows with probability ``power``
    (true difference 0), however many runs: ``(z_{1-alpha} + z_{1-beta/2}) * sd * sqrt(n_test/n_train)``,
    ``beta = 1 - power`` (the large-``J`` limit of :func:`runs_needed`'s condition). Wider than
    :func:`half_width_floor`, which asks for the interval alone, not for the power to land inside the
    margin: :func:`runs_needed` returns None for every margin at or below it."""
    ratio = _check_sizing(sd, n_train, n_test, alpha)
    _check_level("power", power)
    return float((_st.norm.ppf(1 - alpha) + _st.norm.ppf(1 - (1 - power) / 2)) * sd * math.sqrt(ratio))


def runs_needed(sd: float, *, n_train: float, n_test: float, margin: float = 0.02, alpha: float = 0.05,
                power: float = 0.8, true_difference: float = 0.0, max_runs: int = 10_000) -> int | None:
    """The smallest number of runs ``J`` at which a corrected TOST at level ``alpha`` shows equivalence
    within ``±margin`` with probability ``power``, when the true mean difference is ``true_difference``.

    ``sd``: the standard deviation of the per-run differences (``ddof=1``), taken as known. Uses the
    usual t-quantile approximation (Chow, Shao & Wang, *Sample Size Calculations in Clinical
    Research*, equivalence of means), with ``se_J = sd * sqrt(1/J + n_test/n_train)``, ``nu = J - 1``::

        margin - |delta| >= (t_{1-alpha, nu} + t_{1-beta/2, nu}) * se_J   if delta = 0,
        margin - |delta| >= (t_{1-alpha, nu} + t_{1-beta,   nu}) * se_J   otherwise,

    with ``beta = 1 - power``. The right side decreases in ``J`` towards a positive floor (see
    :func:`half_width_floor`), so the answer may not exist: then returns None (also when
    ``|true_difference| >= margin`` or nothing up to ``max_runs`` suffices). ``sd = 0`` gives 2.
    """
    ratio = _check_sizing(sd, n_train, n_test, alpha)
    _check_level("power", power)
    _check_margin(margin)
    if int(max_runs) < 2 or not np.isfinite(true_difference):
        raise ValueError(f"need max_runs >= 2 and a finite true_difference, got {max_runs}, {true_difference}.")
    gap = margin - abs(true_difference)
    if gap <= 0:
        return None
    runs, beta = np.arange(2, int(max_runs) + 1), 1 - power
    t_beta = _st.t.ppf(1 - beta / 2 if true_difference == 0 else 1 - beta, runs - 1)
    need = (_st.t.ppf(1 - alpha, runs - 1) + t_beta) * sd * np.sqrt(1.0 / runs + ratio)
    ok = need <= gap
    return int(runs[np.argmax(ok)]) if ok.any() else None


def holm_levels(alpha: float = 0.05, m: int = 3) -> tuple[float, ...]:
    """The levels Holm's procedure tests ``m`` p-values at, strictest first: ``alpha/m, alpha/(m−1), …, alpha``.
    A comparison is tested at ``alpha/m`` when its p is the smallest, so sizing at ``alpha/m`` guarantees
    the power whatever the other comparisons do; at ``alpha/(m−1)`` it assumes one of them comes first."""
    _check_level("alpha", alpha, 0.5)
    return tuple(alpha / k for k in range(m, 0, -1))


def simulated_tost_power(sd: float, runs: int, *, n_train: float, n_test: float, margin: float = 0.02,
                         alpha: float = 0.05, true_difference: float = 0.0, n_sim: int = 20_000,
                         seed: int = 0) -> float:
    """The share of simulated studies of ``runs`` runs in which the corrected TOST at level ``alpha``
    shows equivalence within ``± margin``: the check of :func:`runs_needed` by simulating the verdict
    procedure itself. Each study draws ``d_j = δ + u + e_j``, with ``u ~ N(0, sd²·n_test/n_train)``
    shared by its runs (the overlap of their training sets, the term the correction adds) and
    ``e_j ~ N(0, sd²)``, then runs :func:`tost_pvalue` as the report does (the sd estimated from the runs)."""
    ratio = _check_sizing(sd, n_train, n_test, alpha)
    rng = np.random.default_rng(seed)
    d = (true_difference + rng.normal(0.0, sd * math.sqrt(ratio), (n_sim, 1))
         + rng.normal(0.0, sd, (n_sim, int(runs))))
    mean, s = d.mean(axis=1), d.std(axis=1, ddof=1)
    se = s * math.sqrt(1.0 / runs + ratio)
    t = _st.t.ppf(1 - alpha, runs - 1)
    return float(np.mean((mean - t * se > -margin) & (mean + t * se < margin)))
