"""Odonnat & Pham's Table 1 as their code ran it, beside their numbers.

Their metric (:func:`bl_utils.metrics.batch_pooled_f1`: pixels pooled within each validation batch of
16, the mean over batches) at the epoch where it is best. The epoch is chosen on the images it is
scored on, so the number is optimistic; beside it, the per-image Dice on the tumour images at that
epoch and at the final one, with a t-interval over seeds (each seed: its own random split, so the
interval counts split-to-split and initialisation noise together), and the false-positive rate on
the 133 normal images, which their protocol never trains or validates on.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .crossval import _normal_fp, per_image_folds
from .runs import ODONNAT_PHAM_TABLE1, RunResult
from .schedules import STRATEGIES

__all__ = ["mean_interval", "table_as_they_ran_it"]


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)`` of the t-interval over ``values`` (nan bounds for fewer than 2)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else float("nan")
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = scipy_stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def _per_run_tumour_dice(results: Sequence[RunResult], checkpoint: str) -> pd.Series:
    long = per_image_folds(results, checkpoint)
    tumour = long[~long.target_empty.astype(bool)]
    return tumour.groupby(["strategy", "seed"]).dice.mean()


def table_as_they_ran_it(results: Sequence[RunResult]) -> pd.DataFrame:
    """One row per strategy: runs, their Table 1, the best-epoch batch-pooled F1 (their metric)
    and the per-image Dice on tumour images at the best and the final epoch (mean and 95 %
    t-interval over seeds), and the final models' false-positive rate on the normal images."""
    best_dice, final_dice = _per_run_tumour_dice(results, "best"), _per_run_tumour_dice(results, "final")
    rows = []
    for strategy in [s for s in STRATEGIES if any(r.strategy == s for r in results)]:
        runs = [r for r in results if r.strategy == strategy]
        row = {"strategy": strategy, "runs": len(runs), "Odonnat & Pham": ODONNAT_PHAM_TABLE1[strategy]}
        columns = {"their metric, best epoch (optimistic)": [r.best.get("val_f1_pooled", np.nan) for r in runs],
                   "Dice on tumours, best epoch": best_dice.loc[strategy].to_numpy(),
                   "Dice on tumours, final epoch": final_dice.loc[strategy].to_numpy()}
        for name, values in columns.items():
            mean, low, high = mean_interval(values)
            row[name] = mean
            row[f"{name} 95% CI"] = (low, high)
        row["FP rate, normal images (final)"] = float(np.nanmean([_normal_fp(r) for r in runs]))
        rows.append(row)
    return pd.DataFrame(rows)
