"""The earlier protocol's answer (the appendix): Table 1 over seeds, its comparisons, ablations, annotation noise.

The earlier protocol (:data:`bl_utils.config.PROTOCOLS` ``"earlier"``) read Odonnat & Pham's < 5 %
rule over every image, normal ones included, on one grouped split, 8 epochs at a constant rate,
and repeated the four strategies over seeds. Every validation image is scored once per seed (a
crossed seeds × images design), so each comparison here is a paired difference with a two-level
bootstrap interval (:func:`bl_utils.answers.paired.paired_difference`). These intervals are
uncorrected for multiplicity and anti-conservative over 3–5 seeds: they are shown as numbers,
**without verdict words**; the report's verdicts come from the study (:mod:`bl_utils.answers.study`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..config import alpha_in_pixel_units
from ..runs import RunResult, per_image, runs_frame
from .odonnat_pham import ODONNAT_PHAM_TABLE1
from .paired import compare_to_baseline, images_subset, paired_difference

__all__ = ["table1", "table1_display", "TABLE1_COMPARISONS", "comparisons_with_ce", "ablation_table",
           "annotation_noise_table", "annotation_noise_vs_ce", "normal_image_summary", "mean_sd", "interval",
           "add_interval_column"]

#: Table 1's columns: (name, column of :func:`runs_frame`); each becomes a mean and, over several
#: seeds, a standard deviation.
TABLE1_COLUMNS = (("best_dice", "best_val_dice"), ("final_dice", "final_val_dice"),
                  ("final_dice_tumour", "final_dice_tumour"), ("final_normal_fp_rate", "final_normal_fp_rate"),
                  ("final_hd95", "final_hd95_tumour"), ("final_hd95_failures", "final_tumour_missed"),
                  ("final_components", "final_components_mean"), ("best_epoch", "best_epoch"))


def table1(results: Sequence[RunResult]) -> pd.DataFrame:
    """Table 1: per strategy, the number of runs, mean (and ``*_sd`` over seeds, ddof 1) of the
    ``TABLE1_COLUMNS``, and Odonnat & Pham's best Dice.

    ``best_dice`` is their metric (best epoch, chosen on the validation images themselves, so
    optimistic); the ``final_*`` columns score the last epoch: Dice over all images and over tumour
    images, the share of normal images with any predicted pixel, HD95 in pixels over tumour images
    with a prediction and, beside it, the number of tumour images predicted empty (failures).
    """
    frame = runs_frame(results)
    grouped = frame.groupby("strategy", sort=False)
    table = pd.DataFrame({"runs": grouped.size()})
    for name, column in TABLE1_COLUMNS:
        table[name] = grouped[column].mean()
        if name in ("best_dice", "final_dice", "final_dice_tumour"):
            table[f"{name}_sd"] = grouped[column].std(ddof=1)
    table["odonnat_pham_dice"] = [ODONNAT_PHAM_TABLE1.get(name, np.nan) for name in table.index]
    return table.reset_index()


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
            data = images_subset(long, images)
            per_run = data.groupby(["strategy", "seed"])[metric].mean()
            diff = paired_difference(long, metric, label, "default", images, n_resamples)
            row[f"{metric} ({images}) default"] = mean_sd(per_run.get("default", pd.Series(dtype=float)).tolist())
            row[f"{metric} ({images}) {label}"] = mean_sd(per_run.get(label, pd.Series(dtype=float)).tolist())
            row[f"Δ {metric} [95% CI]"] = interval(diff)
        rows.append(row)
    return pd.DataFrame(rows)


def normal_image_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Per strategy, on the images without tumour: how many, the false-positive rate (share with
    any predicted pixel) as mean ± sd over seeds, and the mean components per prediction."""
    normal = images_subset(long, "normal")
    rows = []
    for name, group in normal.groupby("strategy", sort=False):
        per_seed = group.groupby("seed").pred_any.mean()
        rows.append({"strategy": name, "normal_images": group.stem.nunique(), "seeds": len(per_seed),
                     "false_positive_rate": mean_sd(per_seed.tolist(), 2),
                     "mean_components": round(float(group.components.mean()), 2)})
    return pd.DataFrame(rows)


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
    """Table 1 for reading: per strategy, mean ± sd over seeds of the best-epoch per-image Dice over
    all images beside their Table 1 (batch-pooled F1, :func:`bl_utils.metrics.batch_pooled_f1`), then the final epoch's Dice (all images, tumour images), the
    false-positive rate on normal images, HD95 on the tumours found with the number missed, the
    components per prediction, the best epoch and α (in the trainer's and the papers' units)."""
    frame = runs_frame(results)
    rows = []
    for name, g in frame.groupby("strategy", sort=False):
        first = next(r for r in results if r.strategy == name)
        rows.append({"strategy": name, "seeds": len(g),
                     "best-epoch Dice, all images": mean_sd(g.best_val_dice), "Odonnat & Pham (batch-pooled F1)": ODONNAT_PHAM_TABLE1.get(name),
                     "final Dice": mean_sd(g.final_val_dice), "final Dice, tumour images": mean_sd(g.final_dice_tumour),
                     "FP rate, normal images": mean_sd(g.final_normal_fp_rate, 2),
                     "HD95 px (tumours missed)": f"{g.final_hd95_tumour.mean():.1f} ({g.final_tumour_missed.mean():.1f})",
                     "components": f"{g.final_components_mean.mean():.2f}", "best epoch": mean_sd(g.best_epoch, 1),
                     "α (÷ side; px)": _alpha_text(first)})
    return pd.DataFrame(rows)


#: The comparisons with CE that Table 1 reports: (label, checkpoint, metric, images).
TABLE1_COMPARISONS = (("best-epoch Dice, all images", "best", "dice", "all"),
                      ("final Dice, tumour images", "final", "dice", "tumour"),
                      ("final HD95 px, tumours found by both", "final", "hd95", "tumour"),
                      ("final false positives, normal images", "final", "pred_any", "normal"),
                      ("final components, all images", "final", "components", "all"))


def comparisons_with_ce(results: list[RunResult], n_resamples: int = 2000) -> pd.DataFrame:
    """Every boundary-loss strategy against CE for each of :data:`TABLE1_COMPARISONS`: the paired
    difference (same seed, same image) with its two-level 95 % interval (uncorrected: no verdict)."""
    longs = {c: per_image(results, c) for c in ("best", "final")}
    frames = []
    for label, checkpoint, metric, images in TABLE1_COMPARISONS:
        table = compare_to_baseline(longs[checkpoint], metric, images, n_resamples=n_resamples)
        frames.append(table.assign(comparison=label))
    out = pd.concat(frames, ignore_index=True)
    out["difference [95% CI]"] = [interval(row, 1 if row.metric == "hd95" else 3) for _, row in out.iterrows()]
    return out[["comparison", "strategy", "seeds", "n_images", "n_excluded", "difference [95% CI]",
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
        return pd.DataFrame(columns=["jitter", "comparison", "strategy", "seeds", "n_images", "difference [95% CI]"])
    out = pd.concat(frames, ignore_index=True)
    return out[out.comparison.isin(keep)].reset_index(drop=True)
