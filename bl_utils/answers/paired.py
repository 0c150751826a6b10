"""The paired difference, written once: a strategy minus CE, run by run and image by image.

Every answer of the report compares a strategy with CE on runs that share everything but the
loss: the same seed (initial weights, batch order, split or fold), the same images, the same kind
of machine (:func:`bl_utils.runs.run_keys`). Two ways of reading the pairs:

* per run (:func:`run_differences`): ``d_j``, the mean over run j's images of the paired difference,
  one value per run; their interval is :func:`interval_table` (corrected and plain t-intervals,
  :mod:`bl_utils.stats`), the study's and Odonnat & Pham's reading;
* per seed and image (:func:`paired_difference`): the seeds × images matrix of one fixed split, with
  a two-level bootstrap interval (:func:`two_level_bootstrap`), the earlier protocol's reading; an
  interval only, no verdict (uncorrected, and anti-conservative over few seeds).

Differences are ``strategy − CE``: for HD95, components and false positives, where lower is better,
a negative difference is an improvement. :func:`paired_runs` keeps the runs that pair completely,
:func:`select_cases` picks the images a figure shows by a rule.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from .. import stats
from ..runs import RunResult, run_keys
from ..schedules import BASELINE, BOUNDARY_STRATEGIES

__all__ = ["run_differences", "differences_by_strategy", "interval_table", "mean_sizes", "paired_runs",
           "two_level_bootstrap", "paired_difference", "compare_to_baseline", "select_cases",
           "best_boundary_strategy", "images_subset", "written_interval"]


def run_differences(long: pd.DataFrame, metric: str = "dice", images: str = "tumour",
                    baseline: str = BASELINE) -> pd.DataFrame:
    """``d_j`` of every run j = (seed, fold) and strategy: the mean over the images scored by both
    that strategy and ``baseline`` in run j of ``metric`` (strategy − baseline). ``long``: rows keyed
    by ``seed, fold, machine, stem`` (:func:`bl_utils.runs.per_image`). ``images``: ``"tumour"``
    (non-empty targets) or ``"all"``. Columns ``strategy, seed, fold, machine, difference, n_images``;
    runs whose baseline is missing, or trained on another kind of machine, are left out."""
    if images not in ("tumour", "all"):
        raise ValueError(f"images must be 'tumour' or 'all', got {images!r}")
    rows = long if images == "all" else long[~long.target_empty.astype(bool)]
    keys = ["seed", "fold", "machine"]
    wide = rows.pivot_table(index=keys + ["stem"], columns="strategy", values=metric)
    out = []
    for strategy in [s for s in wide.columns if s != baseline]:
        if baseline not in wide:
            break
        paired = (wide[strategy] - wide[baseline]).dropna()
        for (seed, fold, machine), values in paired.groupby(level=keys):
            out.append({"strategy": strategy, "seed": seed, "fold": fold, "machine": machine,
                        "difference": float(values.mean()), "n_images": len(values)})
    return pd.DataFrame(out, columns=["strategy", "seed", "fold", "machine", "difference", "n_images"])


def differences_by_strategy(differences: pd.DataFrame, strategies: Sequence[str] = BOUNDARY_STRATEGIES
                            ) -> dict[str, np.ndarray]:
    """The per-run differences ``d`` of :func:`run_differences` as ``{strategy: d}`` (shape ``(J,)``),
    for each of ``strategies`` that has any: what :func:`interval_table` and
    :func:`bl_utils.stats.compare_all` take."""
    return {s: differences[differences.strategy == s].difference.to_numpy()
            for s in strategies if (differences.strategy == s).any()}


def mean_sizes(results: Sequence[RunResult]) -> tuple[float, float]:
    """Mean numbers of training and validation images per run (the corrected interval's ratio)."""
    return (float(np.mean([len(r.metadata["train_stems"]) for r in results])),
            float(np.mean([len(r.metadata["val_stems"]) for r in results])))


def interval_table(named_differences: dict, n_train: float, n_test: float) -> pd.DataFrame:
    """Per name: ``n_runs, mean`` and the 95 % corrected (Nadeau–Bengio) and plain t-intervals of
    the per-run differences ``d`` (shape ``(J,)``); NaN bounds where fewer than two runs. No verdict:
    the table of the exploratory comparisons."""
    rows = []
    for name, d in named_differences.items():
        d = np.asarray(d, dtype=float)
        row = {"strategy": name, "n_runs": len(d), "mean": float(d.mean()) if len(d) else float("nan")}
        for key, make in (("corrected", lambda: stats.corrected_t_interval(d, n_train, n_test)),
                          ("plain", lambda: stats.t_interval(d))):
            ci = make() if len(d) >= 2 else None
            row[f"{key}_low"], row[f"{key}_high"] = (ci.low, ci.high) if ci else (float("nan"), float("nan"))
        rows.append(row)
    return pd.DataFrame(rows, columns=["strategy", "n_runs", "mean", "corrected_low", "corrected_high",
                                       "plain_low", "plain_high"])


def paired_runs(results: Sequence[RunResult]) -> list[RunResult]:
    """The runs of the (seed, fold) for which every strategy among ``results`` has a run, all on one
    kind of machine (:func:`bl_utils.runs.machine_of`): the ones a figure can show side by side,
    image by image."""
    def key(r: RunResult) -> tuple[int, int, str]:
        keys = run_keys(r)
        return keys["seed"], keys["fold"], keys["machine"]

    strategies = {r.strategy for r in results}
    groups: dict[tuple[int, int, str], set] = {}
    for r in results:
        groups.setdefault(key(r), set()).add(r.strategy)
    complete = {k for k, present in groups.items() if present == strategies}
    return [r for r in results if key(r) in complete]


# --------------------------------------------------------------------------------------------
# One fixed split, several seeds: the seeds × images matrix


def two_level_bootstrap(differences: np.ndarray, n_resamples: int = 2000, confidence: float = 0.95,
                        seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean of a seeds × images matrix of paired differences.

    Each replicate draws ``S`` seeds (rows) with replacement, then ``N`` images (columns) with
    replacement, and takes the mean of the drawn cells, ignoring NaN (pairs where a value is
    undefined). With one seed this is the ordinary bootstrap over images. Returns
    ``(low, high)``; ``(nan, nan)`` when the matrix holds no finite value.
    """
    d = np.asarray(differences, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"differences must be a seeds × images matrix, got shape {d.shape}.")
    if not np.isfinite(d).any():
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    s, n = d.shape
    rows = rng.integers(0, s, size=(n_resamples, s))
    cols = rng.integers(0, n, size=(n_resamples, n))
    finite = np.isfinite(d)
    values = np.where(finite, d, 0.0)
    means = np.empty(n_resamples)
    for k in range(n_resamples):     # sums over the drawn grid: rows[k] × cols[k]
        grid_sum = values[rows[k]][:, cols[k]].sum()
        grid_n = finite[rows[k]][:, cols[k]].sum()
        means[k] = grid_sum / grid_n if grid_n else np.nan
    low, high = np.nanquantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def images_subset(long: pd.DataFrame, images: str) -> pd.DataFrame:
    """The rows of ``long`` (per-image tables) on ``images``: ``"all"``, ``"tumour"`` (non-empty
    target) or ``"normal"`` (empty target)."""
    if images not in ("all", "tumour", "normal"):
        raise ValueError(f"images must be 'all', 'tumour' or 'normal', got {images!r}")
    if images == "all":
        return long
    empty = long.target_empty.astype(bool)
    return long[~empty] if images == "tumour" else long[empty]


def _matrix(long: pd.DataFrame, strategy: str, metric: str) -> pd.DataFrame:
    """``metric`` of ``strategy`` as a seeds × images table."""
    rows = long[long.strategy == strategy]
    if rows.empty:
        raise ValueError(f"no runs of {strategy!r}; the table holds {sorted(set(long.strategy))}.")
    return rows.pivot(index="seed", columns="stem", values=metric)


def paired_difference(long: pd.DataFrame, metric: str, other: str, baseline: str = BASELINE,
                      images: str = "tumour", n_resamples: int = 2000, seed: int = 0) -> dict:
    """``other − baseline`` on ``metric``, paired by seed and image, with a two-level bootstrap interval.

    ``long``: :func:`bl_utils.runs.per_image` rows of one split. Only seeds both strategies have are
    used. Returns ``strategy, metric, images, seeds, n_images, n_excluded`` (pairs with an undefined
    value, e.g. HD95 of a missed tumour), ``mean_baseline, mean_other, mean_difference, ci_low,
    ci_high`` and ``per_seed`` (the seeds' mean differences). No verdict: the interval is uncorrected.
    """
    data = images_subset(long, images)
    base, oth = _matrix(data, baseline, metric), _matrix(data, other, metric)
    seeds = sorted(set(base.index) & set(oth.index))
    if not seeds:
        raise ValueError(f"{other} and {baseline} share no seed.")
    base, oth = base.loc[seeds], oth.loc[seeds, base.columns]
    d = (oth - base).to_numpy(float)
    low, high = two_level_bootstrap(d, n_resamples=n_resamples, seed=seed)
    return {"strategy": other, "metric": metric, "images": images, "seeds": len(seeds),
            "n_images": base.shape[1], "n_excluded": int(np.isnan(d).sum()),
            "mean_baseline": float(np.nanmean(base.to_numpy(float))), "mean_other": float(np.nanmean(oth.to_numpy(float))),
            "mean_difference": float(np.nanmean(d)), "ci_low": low, "ci_high": high,
            "per_seed": [round(float(v), 4) for v in np.nanmean(d, axis=1)]}


def compare_to_baseline(long: pd.DataFrame, metric: str, images: str = "tumour",
                        others: Sequence[str] = BOUNDARY_STRATEGIES, baseline: str = BASELINE,
                        n_resamples: int = 2000) -> pd.DataFrame:
    """:func:`paired_difference` of each of ``others`` (those present) against ``baseline``."""
    present = [o for o in others if o in set(long.strategy)]
    return pd.DataFrame([paired_difference(long, metric, o, baseline, images, n_resamples) for o in present])


# --------------------------------------------------------------------------------------------
# The cases a figure shows


def best_boundary_strategy(results: Sequence[RunResult], candidates: Sequence[str] = BOUNDARY_STRATEGIES,
                           checkpoint: str = "best", metric: str = "val_dice") -> str:
    """The candidate with the highest mean ``metric`` at ``checkpoint`` over its runs (the study uses
    ``"final"``, ``"dice_tumour"``); ties go to the first in ``candidates``."""
    score = {}
    for name in candidates:
        values = [getattr(r, checkpoint)[metric] for r in results if r.strategy == name]
        if values:
            score[name] = float(np.mean(values))
    if not score:
        raise ValueError(f"none of {tuple(candidates)} among the runs.")
    return max(score, key=lambda k: (score[k], -list(candidates).index(k)))


def select_cases(baseline: pd.DataFrame, other: pd.DataFrame, n_cases: int = 4, metric: str = "dice") -> pd.DataFrame:
    """Tumour images with the largest ``metric`` differences both ways (a rule, not a hand pick).

    ``baseline``/``other``: per-image tables of the same images (one seed, or means over seeds) with
    ``stem, label, target_empty, <metric>``. With ``d = other − baseline``: the ``ceil(n/2)``
    largest ``d`` then the ``floor(n/2)`` smallest, never an image twice, ties broken by stem.
    Returns ``stem, label, <metric>_baseline, <metric>_other, difference, side``.
    """
    if n_cases < 1:
        raise ValueError(f"n_cases must be >= 1, got {n_cases}")
    if sorted(baseline.stem) != sorted(other.stem) or baseline.stem.duplicated().any():
        raise ValueError("select_cases: the two tables must hold the same images, once each.")
    table = baseline[["stem", "label", "target_empty", metric]].merge(
        other[["stem", metric]], on="stem", suffixes=("_baseline", "_other"))
    table = table[~table.target_empty.astype(bool)]
    table = table.assign(difference=table[f"{metric}_other"] - table[f"{metric}_baseline"]).dropna(subset=["difference"])
    n_top = min(math.ceil(n_cases / 2), len(table))
    top = table.sort_values(["difference", "stem"], ascending=[False, True], kind="mergesort").head(n_top)
    rest = table.drop(top.index).sort_values(["difference", "stem"], kind="mergesort")
    chosen = pd.concat([top, rest.head(min(n_cases - n_top, len(rest)))])
    side = np.select([chosen.difference > 0, chosen.difference < 0], ["other better", "baseline better"], "tie")
    return chosen.assign(side=side)[["stem", "label", f"{metric}_baseline", f"{metric}_other",
                                     "difference", "side"]].reset_index(drop=True)


def written_interval(mean: float, low: float, high: float, digits: int = 3, signed: bool = False) -> str:
    """``"0.696 [0.645, 0.747]"`` (``signed``: ``"+0.012 [-0.004, +0.027]"``), or the mean alone where the
    interval is undefined (NaN bounds: fewer than two runs)."""
    form = f"{{:{'+' if signed else ''}.{digits}f}}"
    head = form.format(mean)
    return f"{head} [{form.format(low)}, {form.format(high)}]" if np.isfinite(low) and np.isfinite(high) else head
