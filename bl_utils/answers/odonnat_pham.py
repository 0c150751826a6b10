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
from ..metrics import pooled_f1_from_counts
from ..runs import RunResult, normal_fp_rate, per_image, run_keys, validation_counts, validation_order
from ..schedules import BASELINE, STRATEGIES
from .paired import differences_by_strategy, interval_table, mean_sizes, run_differences, written_interval

__all__ = ["ODONNAT_PHAM_TABLE1", "ORDERS", "their_metric", "mean_interval", "table_as_they_ran_it", "for_reading",
           "measured_differences", "differences_from_ce", "ce_cell_table"]

#: Odonnat & Pham's Table 1: their metric (F1 pooled within each validation batch of 16, averaged over
#: batches: :func:`bl_utils.metrics.batch_pooled_f1`) at its best epoch, one run per strategy (ImageNet ResNet-34, 256²,
#: 20 epochs, batch 16, Adam 1e-3). Source: their report "Boundary Loss for Breast Ultrasound
#: Segmentation" (Master MVA, ENS Paris-Saclay), Table 1; github.com/ambroiseodt/BoundaryLoss.
ODONNAT_PHAM_TABLE1 = {"ce": 0.798, "ce+bl": 0.798, "ce+ramp": 0.796, "rebalance": 0.801}


#: The orders their metric is read in: their split's (the primary reading) and sorted by class (a sensitivity
#: line: the order of the runs published before the draw's order was kept).
ORDERS = {"theirs": "their order (the split's draw)", "sorted": "sorted by class"}


def their_metric(result: RunResult, order: str = "theirs", epoch: str = "best") -> float:
    """Their metric (batch-pooled F1, :func:`bl_utils.metrics.pooled_f1_from_counts`) with the validation
    images read in ``order`` (:data:`ORDERS`): ``"theirs"``, the order their split drew them in (their
    loader did not shuffle), or ``"sorted"``, by dataset index (benign, then malignant); at ``epoch``
    ``"best"`` (the highest over the epochs, as their cell kept it: optimistic) or ``"final"``.

    From the run's per-epoch counts (``val_counts.npz``). A run published before them has its own
    order's numbers only (:func:`bl_utils.runs.validation_order`): NaN for the other order; and a run
    that did not validate in their order (the study's) has no ``"theirs"``."""
    if order not in ORDERS or epoch not in ("best", "final"):
        raise ValueError(f"order must be one of {list(ORDERS)} and epoch 'best' or 'final', got {order!r}, {epoch!r}")
    drawn = validation_order(result) == "drawn"
    if order == "theirs" and not drawn:
        return float("nan")
    saved = validation_counts(result)
    if saved is None:
        if drawn != (order == "theirs"):
            return float("nan")
        return float(result.best.get("val_f1_pooled", np.nan) if epoch == "best"
                     else result.history.val_f1_pooled.iloc[-1])
    permutation = None if order == "theirs" else np.argsort(saved["index"], kind="stable")
    per_epoch = [pooled_f1_from_counts(c, permutation) for c in saved["counts"]]
    return float(max(per_epoch) if epoch == "best" else per_epoch[-1])


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)`` of :func:`bl_utils.stats.t_interval` over the finite ``values`` (NaN bounds,
    and a NaN mean for none, when there are fewer than 2)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return (float(values.mean()) if len(values) else float("nan")), float("nan"), float("nan")
    ci = stats.t_interval(values, confidence)
    return ci.mean, ci.low, ci.high


def _per_run_tumour_dice(results: Sequence[RunResult], checkpoint: str) -> pd.Series:
    long = per_image(results, checkpoint)
    tumour = long[~long.target_empty.astype(bool)]
    return tumour.groupby(["strategy", "seed"]).dice.mean()


def table_as_they_ran_it(results: Sequence[RunResult]) -> pd.DataFrame:
    """One row per strategy: runs, their Table 1, their metric at its best epoch (:func:`their_metric`)
    in their order and sorted by class, the per-image Dice on tumour images at the best and the final
    epoch (mean and 95 % t-interval over seeds), and the final models' false-positive rate on the normal
    images. A reading no run has (runs published before their order was kept) is left out."""
    best_dice, final_dice = _per_run_tumour_dice(results, "best"), _per_run_tumour_dice(results, "final")
    rows = []
    for strategy in [s for s in STRATEGIES if any(r.strategy == s for r in results)]:
        runs = [r for r in results if r.strategy == strategy]
        row = {"strategy": strategy, "runs": len(runs), "Odonnat & Pham": ODONNAT_PHAM_TABLE1[strategy]}
        columns = {f"their metric, best epoch, {ORDERS[o]} (optimistic)": [their_metric(r, o) for r in runs]
                   for o in ORDERS}
        columns.update({"Dice on tumours, best epoch": best_dice.loc[strategy].to_numpy(),
                        "Dice on tumours, final epoch": final_dice.loc[strategy].to_numpy()})
        for name, values in columns.items():
            mean, low, high = mean_interval(values)
            row[name] = mean
            row[f"{name} 95% CI"] = (low, high)
        row["FP rate, normal images (final)"] = mean_interval([normal_fp_rate(r) for r in runs])[0]
        rows.append(row)
    table = pd.DataFrame(rows)
    unread = [c for c in table.columns if c.startswith("their metric") and not c.endswith("CI")
              and table[c].isna().all()]
    return table.drop(columns=unread + [f"{c} 95% CI" for c in unread])


def for_reading(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`table_as_they_ran_it` for a reader: each measure and its ``"… 95% CI"`` column written as
    one ``"0.696 [0.645, 0.747]"`` column (``"0.696"`` alone where the interval is undefined), the other
    numbers rounded to ``digits``."""
    out = table.copy()
    for name in [c for c in table.columns if f"{c} 95% CI" in table.columns]:
        out[name] = [written_interval(mean, *ci, digits) for mean, ci in zip(table[name], table[f"{name} 95% CI"])]
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

    Measures: ``"their metric, best epoch, <order>"`` for each order of :data:`ORDERS` that the runs
    can be read in (batch-pooled F1, each run at its own best epoch in that order, :func:`their_metric`),
    and ``"Dice on tumours, final epoch"`` (per-image Dice averaged over the tumour images both runs score)."""
    if not results:
        return pd.DataFrame()
    n_train, n_test = mean_sizes(results)
    measures = {}
    for order, label in ORDERS.items():
        f1 = pd.DataFrame([{**run_keys(r), "stem": "validation batches",                    # one value per run
                            "f1": their_metric(r, order)} for r in results]).dropna(subset=["f1"])
        if not f1.empty:
            measures[f"their metric, best epoch, {label}"] = run_differences(f1, "f1", "all")
    measures["Dice on tumours, final epoch"] = run_differences(per_image(results, "final"))
    frames = []
    for measure, differences in measures.items():
        table = interval_table(differences_by_strategy(differences), n_train=n_train, n_test=n_test)
        theirs = [ODONNAT_PHAM_TABLE1[s] - ODONNAT_PHAM_TABLE1[BASELINE] for s in table.strategy]
        frames.append(table.assign(measure=measure, **{"Odonnat & Pham": theirs}))
    columns = ["measure", "strategy", "Odonnat & Pham", "n_runs", "mean", "corrected_low", "corrected_high",
               "plain_low", "plain_high"]
    return pd.concat(frames, ignore_index=True)[columns]


def ce_cell_table(cell_runs: Sequence[RunResult], ce_runs: Sequence[RunResult]) -> pd.DataFrame:
    """What their Table 1's CE row would have been under each reading of their notebook: one row per
    reading with its runs, their metric in their order (mean and 95 % t-interval over seeds, and each
    seed's value in seed order: over 3 seeds a t-interval can reach below 0) and the per-image Dice on
    tumour images at the final epoch, beside their Table 1's CE.

    * ``ce_runs``: their rebalance cell with α = 0, the CE arm of their protocol here (Adam, weighted
      BCE on two channels, the < 10 % rule, 20 epochs), at its best epoch;
    * ``cell_runs``: their CE cell as written (SGD with momentum 0.9, sigmoid BCE, the < 5 % rule,
      30 epochs), at its final epoch (their cell resets its best accuracy every epoch, so it saves every
      epoch and keeps the last) and at its best epoch in their metric (had it been chosen as the others).

    The two readings validate on different images (other selection rules, other splits): the rows
    compare what each reading reports, not paired runs."""
    readings = (("CE as the rebalance cell with α = 0 (this protocol's CE), best epoch", ce_runs, "best"),
                ("their CE cell as written, final epoch (what it kept)", cell_runs, "final"),
                ("their CE cell as written, best epoch", cell_runs, "best"))
    rows = []
    for label, runs, epoch in readings:
        runs = [r for r in runs if r.strategy == BASELINE]
        if not runs:
            continue
        values = [their_metric(r, "theirs", epoch) for r in sorted(runs, key=lambda r: r.seed)]
        f1 = mean_interval(values)
        dice = mean_interval(_per_run_tumour_dice(runs, "final").to_numpy())
        rows.append({"reading": label, "runs": len(runs), "images validated": len(runs[0].metadata.get("val_stems", [])),
                     "Odonnat & Pham": ODONNAT_PHAM_TABLE1[BASELINE], "their metric, their order": f1[0],
                     "their metric, their order 95% CI": f1[1:],
                     "their metric, their order, per seed": " / ".join(f"{v:.3f}" for v in values),
                     "Dice on tumours, final epoch": dice[0],
                     "Dice on tumours, final epoch 95% CI": dice[1:]})
    return pd.DataFrame(rows)
