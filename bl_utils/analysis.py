"""The statistics of the study: per-image tables over seeds, paired two-level bootstrap, ablations.

Odonnat & Pham compare one run per strategy. Here every strategy is trained with several seeds on one
fixed split, so each validation image is scored once per seed: a crossed design (seeds × images).
A difference between two strategies is taken image by image and seed by seed (``other - baseline``,
same seed, same image), and its uncertainty comes from a **two-level bootstrap** that resamples
the seeds, then the images (:func:`two_level_bootstrap`): an interval that treated the
seed × image pairs as independent would be too narrow, since the images are the same for every seed
and one seed's run shifts all of its images at once.

* :func:`per_image` reads the runs' ``val_per_image.csv`` into one long table;
* :func:`paired_difference` / :func:`compare_to_baseline` compare strategies on a metric;
* :func:`ablation_table` compares a setting against the default, strategy by strategy;
* the words that say whether a difference stands out from the noise are in :mod:`bl_utils.words`.

Differences are ``other - baseline``: for HD95, components and the false-positive rate, where lower
is better, a negative difference is an improvement.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .config import alpha_in_pixel_units
from .noise import TEST_CORRUPTIONS
from .runs import ODONNAT_PHAM_TABLE1, RunResult, run_keys, runs_frame
from .schedules import BASELINE, BOUNDARY_STRATEGIES

__all__ = ["LOWER_IS_BETTER", "per_image", "two_level_bootstrap",
           "paired_difference", "compare_to_baseline", "ablation_table", "mean_sd", "add_interval_column",
           "best_boundary_strategy", "select_cases", "normal_image_summary", "interval", "robustness_long",
           "robustness_curves", "degradation_vs_baseline", "annotation_noise_table", "annotation_noise_vs_ce"]

#: The baseline every comparison is made against: cross-entropy alone.
#: The strategies that use the boundary loss.
#: Metrics where a lower value is better.
LOWER_IS_BETTER = {"hd95": True, "assd": True, "components": True, "pred_any": True,
                   "dice": False, "iou": False}


def per_image(results: Iterable[RunResult], checkpoint: str = "final") -> pd.DataFrame:
    """One row per (run, validation image) at ``checkpoint`` (``"best"`` or ``"final"``).

    Columns: ``strategy, seed, stem, label, dice, iou, hd95, assd, components, target_empty,
    pred_empty, pred_any`` (``pred_any``: 1.0 when anything is predicted, the per-image
    false-positive indicator on normal images).
    """
    frames = []
    for r in results:
        table = pd.read_csv(r.folder / "val_per_image.csv", dtype={"stem": str, "label": str})
        table = table[table.checkpoint == checkpoint].drop(columns="checkpoint")
        frames.append(table.assign(strategy=r.strategy, seed=r.seed))
    long = pd.concat(frames, ignore_index=True)
    long["pred_any"] = (~long.pred_empty.astype(bool)).astype(float)
    return long[["strategy", "seed"] + [c for c in long.columns if c not in ("strategy", "seed")]]


def _subset(long: pd.DataFrame, images: str) -> pd.DataFrame:
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


def paired_difference(long: pd.DataFrame, metric: str, other: str, baseline: str = BASELINE,
                      images: str = "tumour", n_resamples: int = 2000, seed: int = 0) -> dict:
    """``other - baseline`` on ``metric``, paired by seed and image, with a two-level bootstrap CI.

    Only seeds that both strategies have are used. Returns ``strategy, metric, images, seeds,
    n_images, n_excluded`` (pairs with an undefined value, e.g. HD95 of a missed tumour),
    ``mean_baseline, mean_other, mean_difference, ci_low, ci_high, per_seed`` (the seeds' mean
    differences) and ``verdict`` (``"better"``/``"worse"`` when the 95 % interval excludes 0, else
    ``"no clear difference"``).
    """
    data = _subset(long, images)
    base, oth = _matrix(data, baseline, metric), _matrix(data, other, metric)
    seeds = sorted(set(base.index) & set(oth.index))
    if not seeds:
        raise ValueError(f"{other} and {baseline} share no seed.")
    base, oth = base.loc[seeds], oth.loc[seeds, base.columns]
    d = (oth - base).to_numpy(float)
    low, high = two_level_bootstrap(d, n_resamples=n_resamples, seed=seed)
    lower = LOWER_IS_BETTER.get(metric, False)
    verdict = "no clear difference"
    if high < 0 or low > 0:
        verdict = "better" if (high < 0) == lower else "worse"
    return {"strategy": other, "metric": metric, "images": images, "seeds": len(seeds),
            "n_images": base.shape[1], "n_excluded": int(np.isnan(d).sum()),
            "mean_baseline": float(np.nanmean(base.to_numpy(float))), "mean_other": float(np.nanmean(oth.to_numpy(float))),
            "mean_difference": float(np.nanmean(d)), "ci_low": low, "ci_high": high,
            "per_seed": [round(float(v), 4) for v in np.nanmean(d, axis=1)], "verdict": verdict}


def compare_to_baseline(long: pd.DataFrame, metric: str, images: str = "tumour",
                        others: Sequence[str] = BOUNDARY_STRATEGIES, baseline: str = BASELINE,
                        n_resamples: int = 2000) -> pd.DataFrame:
    """:func:`paired_difference` of each of ``others`` (those present) against ``baseline``."""
    present = [o for o in others if o in set(long.strategy)]
    return pd.DataFrame([paired_difference(long, metric, o, baseline, images, n_resamples) for o in present])


def mean_sd(values: Sequence[float], digits: int = 3) -> str:
    """``"0.712 ± 0.010"`` (sd over seeds, ddof 1); just the mean for one value; ``"–"`` for none."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    if x.size == 0:
        return "–"
    return f"{x.mean():.{digits}f}" + (f" ± {x.std(ddof=1):.{digits}f}" if x.size > 1 else "")


def interval(row, digits: int = 3) -> str:
    """``"+0.012 [−0.004, +0.027]"`` for a :func:`paired_difference` result."""
    def signed(v):
        return f"{round(float(v), digits) + 0.0:+.{digits}f}"
    return f"{signed(row['mean_difference'])} [{signed(row['ci_low'])}, {signed(row['ci_high'])}]"



def add_interval_column(table: pd.DataFrame, digits: int = 3, unit: str = "") -> pd.DataFrame:
    """``table`` (rows with ``mean_difference``, ``ci_low``, ``ci_high``) with the column
    ``difference [95% CI]`` written as :func:`interval` writes it (a copy)."""
    return table.assign(**{"difference [95% CI]": [interval(row, digits) + unit for _, row in table.iterrows()]})


def ablation_table(base: list[RunResult], variant: list[RunResult], label: str,
                   metrics: Sequence[tuple[str, str]] = (("dice", "tumour"), ("pred_any", "normal")),
                   n_resamples: int = 2000) -> pd.DataFrame:
    """A setting (``variant``) against the default (``base``), strategy by strategy, final epoch.

    For each strategy in ``variant`` and each ``(metric, images)``: the default's and the variant's
    mean ± sd over seeds (of the per-run means) and the paired difference ``variant - default``
    (same seeds and images) with its two-level 95 % interval. ``label`` names the variant.
    """
    rows = []
    for strategy in dict.fromkeys(r.strategy for r in variant):
        seeds = sorted({r.seed for r in variant if r.strategy == strategy})
        pair = [r for r in base if r.strategy == strategy and r.seed in seeds]
        long = pd.concat([per_image(pair).assign(strategy="default"),
                          per_image([r for r in variant if r.strategy == strategy]).assign(strategy=label)])
        row = {"strategy": strategy, "seeds": len(seeds)}
        for metric, images in metrics:
            data = _subset(long, images)
            per_run = data.groupby(["strategy", "seed"])[metric].mean()
            diff = paired_difference(long, metric, label, "default", images, n_resamples)
            row[f"{metric} ({images}) default"] = mean_sd(per_run.get("default", pd.Series(dtype=float)).tolist())
            row[f"{metric} ({images}) {label}"] = mean_sd(per_run.get(label, pd.Series(dtype=float)).tolist())
            row[f"Δ {metric} [95% CI]"] = interval(diff)
            row[f"verdict ({metric})"] = diff["verdict"]
        rows.append(row)
    return pd.DataFrame(rows)




# --------------------------------------------------------------------------------------------
# Figure 4 and the normal images


def best_boundary_strategy(results: list[RunResult], candidates: Sequence[str] = BOUNDARY_STRATEGIES,
                           checkpoint: str = "best", metric: str = "val_dice") -> str:
    """The candidate with the highest mean ``metric`` at ``checkpoint`` over its runs (default: the
    best validation Dice, Odonnat & Pham's metric; the study uses ``"final"``, ``"dice_tumour"``);
    ties go to the first in ``candidates``."""
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
    ``stem, label, target_empty, <metric>``. With ``d = other - baseline``: the ``ceil(n/2)``
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


def normal_image_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Per strategy, on the images without tumour: how many, the false-positive rate (share with
    any predicted pixel) as mean ± sd over seeds, and the mean components per prediction."""
    normal = _subset(long, "normal")
    rows = []
    for name, group in normal.groupby("strategy", sort=False):
        per_seed = group.groupby("seed").pred_any.mean()
        rows.append({"strategy": name, "normal_images": group.stem.nunique(), "seeds": len(per_seed),
                     "false_positive_rate": mean_sd(per_seed.tolist(), 2),
                     "mean_components": round(float(group.components.mean()), 2)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Robustness to degraded images (notebook 5)


def robustness_long(results: Iterable[RunResult]) -> pd.DataFrame:
    """The runs' ``robustness.csv`` in one table: ``strategy, seed, fold, machine, corruption, level`` and the
    per-image metrics of the final model on the degraded validation images, plus ``pred_any``
    (``fold``: -1 for runs without cross-validation folds)."""
    frames = [pd.read_csv(r.folder / "robustness.csv", dtype={"stem": str, "label": str})
              .assign(**run_keys(r)) for r in results]
    long = pd.concat(frames, ignore_index=True)
    long["pred_any"] = (~long.pred_empty.astype(bool)).astype(float)
    return long


def robustness_curves(rob: pd.DataFrame) -> pd.DataFrame:
    """Per strategy, corruption and level, over runs (mean, min, max of the per-run values; a run is a
    seed, or a (seed, fold)): Dice on tumour images, HD95 on the tumour images found, the share of
    tumours missed, components per prediction, and the false-positive rate on normal images (NaN
    where the runs scored none)."""
    tumour, normal = _subset(rob, "tumour"), _subset(rob, "normal")
    keys = ["strategy", "corruption", "level", "seed", "fold"]
    per_run = tumour.groupby(keys).agg(dice=("dice", "mean"), hd95=("hd95", "mean"),
                                       missed=("pred_empty", "sum"), missed_share=("pred_empty", "mean"),
                                       components=("components", "mean"))
    per_run["fp_rate"] = normal.groupby(keys).pred_any.mean()
    grouped = per_run.groupby(keys[:-2])
    out = grouped.mean().add_suffix("_mean").join(grouped.min().add_suffix("_min")).join(grouped.max().add_suffix("_max"))
    return out.reset_index()


def degradation_vs_baseline(rob: pd.DataFrame, corruption: str, level: float, metric: str = "dice",
                            images: str = "tumour", n_resamples: int = 2000) -> pd.DataFrame:
    """How much each boundary-loss strategy loses from the clean images to ``level``, against CE.

    Per run and image: ``drop = metric(level) - metric(clean)`` (clean: the corruption's first
    level); then :func:`paired_difference` of the drops, ``other - CE``: positive means the
    strategy degrades less than CE (for Dice).
    """
    sub = rob[rob.corruption == corruption]
    clean_level = TEST_CORRUPTIONS[corruption][0]
    keys = ["strategy", "seed", "stem"]
    clean = sub[sub.level == clean_level].set_index(keys)[metric]
    at = sub[sub.level == level].set_index(keys)
    drop = (at[metric] - clean.reindex(at.index)).rename(f"{metric}_drop")
    long = at[["label", "target_empty"]].join(drop).reset_index()
    return compare_to_baseline(long, f"{metric}_drop", images=images, n_resamples=n_resamples)


# --------------------------------------------------------------------------------------------
# Table 1 and the comparisons as a reader sees them (notebook 3)


def _alpha_text(result: RunResult) -> str:
    """α of a run in the trainer's units and, in brackets, in the papers' pixel units."""
    s = result.settings
    if result.strategy == "ce":
        return "–"
    def px(alpha):
        return alpha_in_pixel_units(alpha, s["phi_scale"], s["image_size"])

    if result.strategy == "ce+bl":
        return f"{s['alpha']:g} ({px(s['alpha']):.2g} px)"
    if s["schedule"] == "kervadec":
        return "0.01 + 0.01·epoch" + (f" (÷{s['image_size']} in px)" if s["phi_scale"] == "image" else "")
    return f"0 → {s['ramp_end']:g} ({px(s['ramp_end']):.2g} px)"


def table1_display(results: list[RunResult]) -> pd.DataFrame:
    """Table 1 for reading: per strategy, mean ± sd over seeds of the best-epoch Dice (Odonnat &
    Pham's metric) beside theirs, then the final epoch's Dice (all images, tumour images), the
    false-positive rate on normal images, HD95 on the tumours found with the number missed, the
    components per prediction, the best epoch and α (in the trainer's and the papers' units)."""
    frame = runs_frame(results)
    rows = []
    for name, g in frame.groupby("strategy", sort=False):
        first = next(r for r in results if r.strategy == name)
        rows.append({"strategy": name, "seeds": len(g),
                     "best Dice (O&P metric)": mean_sd(g.best_val_dice), "Odonnat & Pham": ODONNAT_PHAM_TABLE1.get(name),
                     "final Dice": mean_sd(g.final_val_dice), "final Dice, tumour images": mean_sd(g.final_dice_tumour),
                     "FP rate, normal images": mean_sd(g.final_normal_fp_rate, 2),
                     "HD95 px (tumours missed)": f"{g.final_hd95_tumour.mean():.1f} ({g.final_tumour_missed.mean():.1f})",
                     "components": f"{g.final_components_mean.mean():.2f}", "best epoch": mean_sd(g.best_epoch, 1),
                     "α (÷ side; px)": _alpha_text(first)})
    return pd.DataFrame(rows)


#: The comparisons with CE that Table 1 reports: (label, checkpoint, metric, images).
TABLE1_COMPARISONS = (("best-epoch Dice, all images (O&P metric)", "best", "dice", "all"),
                      ("final Dice, tumour images", "final", "dice", "tumour"),
                      ("final HD95 px, tumours found by both", "final", "hd95", "tumour"),
                      ("final false positives, normal images", "final", "pred_any", "normal"),
                      ("final components, all images", "final", "components", "all"))


def comparisons_with_ce(results: list[RunResult], n_resamples: int = 2000) -> pd.DataFrame:
    """Every boundary-loss strategy against CE for each of :data:`TABLE1_COMPARISONS`: the paired
    difference (same seed, same image) with its two-level 95 % interval and verdict."""
    longs = {c: per_image(results, c) for c in ("best", "final")}
    frames = []
    for label, checkpoint, metric, images in TABLE1_COMPARISONS:
        table = compare_to_baseline(longs[checkpoint], metric, images, n_resamples=n_resamples)
        frames.append(table.assign(comparison=label))
    out = pd.concat(frames, ignore_index=True)
    out["difference [95% CI]"] = [interval(row, 1 if row.metric == "hd95" else 3) for _, row in out.iterrows()]
    return out[["comparison", "strategy", "seeds", "n_images", "n_excluded", "difference [95% CI]", "verdict",
                "mean_difference", "ci_low", "ci_high", "metric", "images", "per_seed"]]








def annotation_noise_table(clean: list[RunResult], noisy: list[RunResult], n_resamples: int = 2000) -> pd.DataFrame:
    """Training on jittered contours: per boundary-loss strategy, how much more (or less) its final
    Dice on tumour images drops from ``clean`` to ``noisy`` runs (same seeds) than CE's drops,
    paired by seed and image, with the two-level interval (positive: degrades less than CE)."""
    seeds = {r.seed for r in noisy}
    keys = ["strategy", "seed", "stem"]
    before = per_image([r for r in clean if r.seed in seeds]).set_index(keys)
    after = per_image(noisy).set_index(keys)
    drop = (after.dice - before.dice.reindex(after.index)).rename("dice_drop")
    long = after[["label", "target_empty"]].join(drop).reset_index()
    return compare_to_baseline(long, "dice_drop", "tumour", n_resamples=n_resamples)


def annotation_noise_vs_ce(noisy: dict[str, list[RunResult]], n_resamples: int = 2000) -> pd.DataFrame:
    """Training on jittered contours, each boundary-loss strategy against CE trained on the same
    jittered masks (same seeds, same jitter realisations, same machine), per strength (the keys of
    ``noisy``, as column ``jitter``): the final-epoch rows of :func:`comparisons_with_ce` for Dice on
    tumour images and false positives on normal images. Unlike :func:`annotation_noise_table`, it
    needs no clean run, so no pairing across machines."""
    keep = ("final Dice, tumour images", "final false positives, normal images")
    frames = [comparisons_with_ce(results, n_resamples).assign(jitter=k) for k, results in noisy.items() if results]
    if not frames:
        return pd.DataFrame(columns=["jitter", "comparison", "strategy", "seeds", "n_images", "difference [95% CI]",
                                     "verdict"])
    out = pd.concat(frames, ignore_index=True)
    return out[out.comparison.isin(keep)].reset_index(drop=True)


