"""Odonnat & Pham's answer: their Table 1, and their protocol as their code ran it, beside it.

Their metric (:func:`bl_utils.metrics.batch_pooled_f1`: pixels pooled within each validation batch of
16, the mean over batches) at the epoch where it is best. The epoch is chosen on the images it is
scored on, so the number is optimistic; beside it, the per-image Dice on the tumour images at that
epoch and at the final one, with a t-interval over seeds (each seed: its own random split, so the
interval counts split-to-split and initialisation noise together), and the false-positive rate on
the 133 normal images, which their protocol never trains or validates on. Then what the runs can say
of their Table 1: the differences between their protocol and the study's that the same runs separate
(:func:`measured_differences`), and each strategy − CE paired by seed (:func:`differences_from_ce`),
the noise their one-run-per-strategy ranking is read against.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from .. import stats
from ..runs import RunResult, normal_fp_rate, per_image, run_keys
from ..schedules import BASELINE, STRATEGIES
from .paired import differences_by_strategy, interval_table, mean_sizes, run_differences

__all__ = ["ODONNAT_PHAM_TABLE1", "mean_interval", "table_as_they_ran_it", "for_reading", "measured_differences",
           "differences_from_ce"]

#: Odonnat & Pham's Table 1: their metric (F1 pooled within each validation batch of 16, averaged over
#: batches: :func:`bl_utils.metrics.batch_pooled_f1`) at its best epoch, one run per strategy (ImageNet ResNet-34, 256²,
#: 20 epochs, batch 16, Adam 1e-3). Source: their report "Boundary Loss for Breast Ultrasound
#: Segmentation" (Master MVA, ENS Paris-Saclay), Table 1; github.com/ambroiseodt/BoundaryLoss.
ODONNAT_PHAM_TABLE1 = {"ce": 0.798, "ce+bl": 0.798, "ce+ramp": 0.796, "rebalance": 0.801}


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)`` of :func:`bl_utils.stats.t_interval` over ``values`` (NaN bounds, and a NaN
    mean for none, when there are fewer than 2)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return (float(values.mean()) if len(values) else float("nan")), float("nan"), float("nan")
    ci = stats.t_interval(values, confidence)
    return ci.mean, ci.low, ci.high


def _per_run_tumour_dice(results: Sequence[RunResult], checkpoint: str) -> pd.Series:
    long = per_image(results, checkpoint)
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
        row["FP rate, normal images (final)"] = float(np.nanmean([normal_fp_rate(r) for r in runs]))
        rows.append(row)
    return pd.DataFrame(rows)


def for_reading(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`table_as_they_ran_it` for a reader: each measure and its ``"… 95% CI"`` column written as
    one ``"0.696 [0.645, 0.747]"`` column (``"0.696"`` alone where the interval is undefined), the other
    numbers rounded to ``digits``."""
    def written(mean: float, low: float, high: float) -> str:
        head = f"{mean:.{digits}f}"
        return f"{head} [{low:.{digits}f}, {high:.{digits}f}]" if np.isfinite(low) and np.isfinite(high) else head

    out = table.copy()
    for name in [c for c in table.columns if f"{c} 95% CI" in table.columns]:
        out[name] = [written(mean, *ci) for mean, ci in zip(table[name], table[f"{name} 95% CI"])]
        out = out.drop(columns=f"{name} 95% CI").rename(columns={name: f"{name} [95% CI]"})
    return out.round(digits)


def measured_differences(results: Sequence[RunResult]) -> pd.DataFrame:
    """How far the two differences between their protocol and the study's that the same runs can
    separate move the number: one row per (difference, strategy) with the runs, and the mean and 95 %
    t-interval over runs of the paired per-run difference.

    * ``"metric"``: their batch-pooled F1 minus the per-image Dice on tumour images, both at the best
      epoch (the same predictions, scored two ways);
    * ``"epoch chosen on the scored images"``: the per-image Dice at the best epoch minus that at the
      final epoch (what choosing the epoch on the validation images adds).

    Every other difference (split leakage, weighting, α endpoint, Φ_G's units, the constant rate, the
    encoder's weights) changes together with the others between the two protocols, so no pair of runs
    here separates it."""
    best_dice, final_dice = _per_run_tumour_dice(results, "best"), _per_run_tumour_dice(results, "final")
    rows = []
    for strategy in [s for s in STRATEGIES if any(r.strategy == s for r in results)]:
        runs = [r for r in results if r.strategy == strategy]
        pooled = np.array([r.best.get("val_f1_pooled", np.nan) for r in runs], dtype=float)
        best = best_dice.loc[strategy].reindex([r.seed for r in runs]).to_numpy()
        final = final_dice.loc[strategy].reindex([r.seed for r in runs]).to_numpy()
        for name, values in (("metric", pooled - best), ("epoch chosen on the scored images", best - final)):
            mean, low, high = mean_interval(values[np.isfinite(values)])
            rows.append({"difference": name, "strategy": strategy, "runs": int(np.isfinite(values).sum()),
                         "mean": mean, "low": low, "high": high})
    return pd.DataFrame(rows, columns=["difference", "strategy", "runs", "mean", "low", "high"])


def differences_from_ce(results: Sequence[RunResult]) -> pd.DataFrame:
    """Each boundary-loss strategy minus CE within their protocol, paired by run (same seed: same
    random split, initial weights and batch order; same kind of machine). One row per (measure,
    strategy): ``measure, strategy, Odonnat & Pham`` (their Table 1's difference, one run each),
    ``n_runs, mean`` and the 95 % corrected (Nadeau–Bengio: the seeds' random splits share most of
    their training images) and plain t-intervals over runs, as :func:`bl_utils.answers.paired.interval_table`.

    Measures: ``"their metric, best epoch"`` (batch-pooled F1, each run at its own best epoch) and
    ``"Dice on tumours, final epoch"`` (per-image Dice averaged over the tumour images both runs score)."""
    if not results:
        return pd.DataFrame()
    n_train, n_test = mean_sizes(results)
    their_metric = pd.DataFrame([{**run_keys(r), "stem": "validation batches",           # one value per run
                                  "f1": r.best.get("val_f1_pooled", np.nan)} for r in results]).dropna(subset=["f1"])
    measures = {"their metric, best epoch": run_differences(their_metric, "f1", "all"),
                "Dice on tumours, final epoch": run_differences(per_image(results, "final"))}
    frames = []
    for measure, differences in measures.items():
        table = interval_table(differences_by_strategy(differences), n_train=n_train, n_test=n_test)
        theirs = [ODONNAT_PHAM_TABLE1[s] - ODONNAT_PHAM_TABLE1[BASELINE] for s in table.strategy]
        frames.append(table.assign(measure=measure, **{"Odonnat & Pham": theirs}))
    columns = ["measure", "strategy", "Odonnat & Pham", "n_runs", "mean", "corrected_low", "corrected_high",
               "plain_low", "plain_high"]
    return pd.concat(frames, ignore_index=True)[columns]
