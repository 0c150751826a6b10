"""What should a user set? Φ_G's scale and α, and the schedule, measured on the study protocol.

Φ_G enters L_B linearly, so its scale and α are one axis: Φ_G in pixels at α = 1 is Φ_G ÷ side at
α = side (128 at the study's 128²; :func:`bl_utils.config.alpha_in_pixel_units`). Three arms
(:data:`ARMS`), each trained in the study's new (seed, fold) blocks right after the four strategies of
the block, on the same machine, so each pairs with its base strategy: ce+bl at α_px = 1 (the papers'
setting, α = 128 here) and at α_px = 0.1 (α = 12.8), against the study's ce+bl (α = 1, α_px ≈ 0.008,
in pixels of the 128² image); and rebalance with Kervadec et al.'s schedule (α = 0.01 + 0.01 per
epoch: over 20 epochs α reaches 0.20, so the regional weight stays ≥ 0.8 — the arm asks whether a
boundary term that stays small differs from CE, not which ramp is better at the same strength).

The reading is exploratory (:func:`arm_table`): each arm minus its base, and minus CE, paired by
(seed, fold, machine), with the corrected interval and no verdict words; the effective boundary weight
Σ lr·w_B / Σ lr; and the boundary term's share of the loss (in magnitude) over the first and the last epoch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..runs import RunResult, per_image
from ..schedules import BASELINE
from .paired import differences_by_strategy, interval_table, mean_sizes, run_differences, written_interval

__all__ = ["ARMS", "boundary_share", "arm_differences", "arm_table", "answer_table"]

#: Each arm, by its label: (the experiment of :data:`bl_utils.experiments.EXPERIMENTS`, its base strategy).
ARMS = {"α_px = 1 (the papers')": ("settings_alpha_px1", "ce+bl"),
        "α_px = 0.1": ("settings_alpha_px01", "ce+bl"),
        "Kervadec et al.'s schedule": ("settings_kervadec", "rebalance")}


def boundary_share(result: RunResult, epoch: int) -> float:
    """The boundary term's share of a run's weighted loss over epoch ``epoch`` (1-based; -1: the last),
    in magnitude: ``|w_B·L_B| / (|w_R·L_R| + |w_B·L_B|)``, in [0, 1], from the epoch's mean terms in
    ``metrics.csv``. Magnitudes, because L_B = mean(Φ_G·s) turns negative once the prediction sits inside
    the tumour (Φ_G < 0 there): a ratio of the signed terms then leaves [0, 1] (or divides by ~0)."""
    row = result.history.iloc[epoch - 1 if epoch > 0 else epoch]
    boundary = abs(row.w_boundary * row.train_boundary)
    total = abs(row.w_regional * row.train_regional) + boundary
    return float(boundary / total) if total else float("nan")


def _run_differences(base: Sequence[RunResult], arm: Sequence[RunResult], label: str, baseline: str) -> pd.DataFrame:
    """Per run, ``arm − baseline`` (the base runs of strategy ``baseline``) in final-epoch Dice on tumour
    images, paired by (seed, fold, machine): :func:`bl_utils.answers.paired.run_differences`."""
    long = pd.concat([per_image([r for r in base if r.strategy == baseline]), per_image(arm).assign(strategy=label)],
                     ignore_index=True)
    differences = run_differences(long, baseline=baseline)
    return differences[differences.strategy == label]


def _difference(base: Sequence[RunResult], arm: Sequence[RunResult], label: str, baseline: str) -> pd.DataFrame:
    """``arm − baseline`` as :func:`bl_utils.answers.paired.interval_table` (corrected and plain intervals)."""
    named = differences_by_strategy(_run_differences(base, arm, label, baseline), (label,))
    n_train, n_test = mean_sizes(arm)
    return interval_table(named or {label: np.zeros(0)}, n_train, n_test)


def arm_differences(study: Sequence[RunResult], arms: dict[str, Sequence[RunResult]]) -> pd.DataFrame:
    """Every run's paired difference (final-epoch Dice on tumour images), long: ``arm, against`` (``"base"``
    or ``"CE"``), ``seed, fold, machine, difference, n_images``; what the settings figure draws."""
    frames = []
    for label, runs in arms.items():
        if runs:
            for against, baseline in (("base", ARMS[label][1]), ("CE", BASELINE)):
                frames.append(_run_differences(study, runs, label, baseline).drop(columns="strategy")
                              .assign(arm=label, against=against))
    columns = ["arm", "against", "seed", "fold", "machine", "difference", "n_images"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def arm_table(study: Sequence[RunResult], arms: dict[str, Sequence[RunResult]]) -> pd.DataFrame:
    """One row per arm of :data:`ARMS` with runs: its runs, its difference to its base strategy and to CE
    (final-epoch Dice on tumour images, mean and corrected 95 % interval, paired within (seed, fold)
    blocks on one machine), its effective boundary weight, and the boundary term's share of the loss
    over the first and the last epoch. ``study``: the study's runs; ``arms``: each arm's runs by label.
    Exploratory: no verdict."""
    rows = []
    for label, runs in arms.items():
        if not runs:
            continue
        base = ARMS[label][1]
        to_base, to_ce = _difference(study, runs, label, base).iloc[0], _difference(study, runs, label, BASELINE).iloc[0]
        rows.append({"arm": label, "base": base, "runs": len(runs), "paired with base": int(to_base.n_runs),
                     "− base": to_base["mean"], "− base, 95 % CI": (to_base.corrected_low, to_base.corrected_high),
                     "− CE": to_ce["mean"], "− CE, 95 % CI": (to_ce.corrected_low, to_ce.corrected_high),
                     "effective w_B": float(np.mean([r.final.get("effective_w_boundary", np.nan) for r in runs])),
                     "L_B share, first epoch": float(np.mean([boundary_share(r, 1) for r in runs])),
                     "L_B share, last epoch": float(np.mean([boundary_share(r, -1) for r in runs]))})
    return pd.DataFrame(rows)


def answer_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`arm_table` for a reader, the section's short answer: per arm, what it sets, its runs, its
    Dice difference to its base and to CE with the corrected interval (``"-0.012 [-0.030, +0.006]"``),
    the boundary weight the optimiser applied, and L_B's share of the loss at the first → last epoch."""
    def cell(mean: float, ci) -> str:
        return written_interval(mean, *ci, digits, signed=True)

    return pd.DataFrame({
        "setting": table["arm"], "against": table["base"], "runs": table["runs"],
        "Dice − its base [95 % CI]": [cell(m, ci) for m, ci in zip(table["− base"], table["− base, 95 % CI"])],
        "Dice − CE [95 % CI]": [cell(m, ci) for m, ci in zip(table["− CE"], table["− CE, 95 % CI"])],
        "effective w_B": table["effective w_B"].round(digits),
        "L_B share of the loss, first → last epoch": [f"{a:.0%} → {b:.0%}" for a, b in
                                                       zip(table["L_B share, first epoch"], table["L_B share, last epoch"])]})
