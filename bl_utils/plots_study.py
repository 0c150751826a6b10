"""The study's figures: Table 1 seed by seed, the ablations, and the robustness of notebook 5.

Every function takes per-run or per-level tables from :mod:`bl_utils.runs` and :mod:`bl_utils.analysis`
and returns a matplotlib figure (save it with :func:`bl_utils.plots.save_figure`); ``title`` names the data.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .noise import corrupt, corruption_seed
from .plots_results import STRATEGY_COLOURS, name_figure

__all__ = ["plot_table1_seeds", "plot_ablations", "plot_robustness_curves", "plot_annotation_noise",
           "plot_corruption_examples"]




def _strategy_points(ax, frame, column, strategies, offset=0.0, marker="o", label=None):
    """Per-seed values of ``column`` as points at x = strategy index (+ offset), mean as a bar."""
    for k, name in enumerate(strategies):
        values = frame.loc[frame.strategy == name, column].to_numpy(float)
        x = np.full(len(values), k + offset) + np.linspace(-0.06, 0.06, len(values)) if len(values) > 1 else [k + offset]
        ax.scatter(x, values, s=22, marker=marker, color=STRATEGY_COLOURS.get(name, "k"), zorder=3,
                   label=label if k == 0 else None, edgecolor="white", linewidth=0.5)
        if len(values):
            ax.hlines(values.mean(), k + offset - 0.15, k + offset + 0.15, color="k", lw=1.5, zorder=4)
    ax.set_xticks(range(len(strategies)), strategies)


def plot_table1_seeds(frame, reference: dict | None = None, title: str = ""):
    """Table 1 seed by seed. ``frame``: :func:`bl_utils.runs.runs_frame` (one row per run). Left:
    the best-epoch Dice (Odonnat & Pham's metric) with their single-run values as red crosses;
    right: the final-epoch Dice on tumour images. Black bars: means over seeds."""
    strategies = list(dict.fromkeys(frame.strategy))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    _strategy_points(axes[0], frame, "best_val_dice", strategies, label="one seed")
    if reference:
        axes[0].scatter(range(len(strategies)), [reference.get(s, np.nan) for s in strategies], marker="x",
                        color="red", s=50, zorder=5, label="Odonnat & Pham (one run)")
    axes[0].set(ylabel="best-epoch validation Dice", title="Odonnat & Pham's metric (best epoch)")
    _strategy_points(axes[1], frame, "final_dice_tumour", strategies)
    axes[1].set(ylabel="final-epoch Dice, tumour images", title="final epoch, tumour images")
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    name_figure(fig, title)
    return fig


def plot_ablations(panels: dict, title: str = ""):
    """One panel per ablation: per strategy, the per-seed final Dice on tumour images of the
    default setting (circles) and of the variant (triangles). ``panels``: ablation title ->
    ``(default runs_frame, variant runs_frame, variant label)``."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.6), constrained_layout=True,
                             squeeze=False)
    for ax, (name, (default, variant, label)) in zip(axes[0], panels.items()):
        strategies = list(dict.fromkeys(variant.strategy))
        _strategy_points(ax, default[default.strategy.isin(strategies)], "final_dice_tumour", strategies,
                         offset=-0.2, label="default")
        _strategy_points(ax, variant, "final_dice_tumour", strategies, offset=0.2, marker="^", label=label)
        ax.set(title=name, ylabel="final Dice, tumour images", ylim=(-0.02, 1))
        ax.tick_params(axis="x", labelsize=8)
        ax.legend(loc="lower left", fontsize=7, frameon=False)
        ax.grid(axis="y", alpha=0.3)
    name_figure(fig, title)
    return fig


def plot_robustness_curves(curves, title: str = ""):
    """Test-time degradations. ``curves``: :func:`bl_utils.analysis.robustness_curves`. One row per
    corruption; columns: Dice on tumour images, and false-positive rate on normal images, against
    the level; a line per strategy (mean over seeds) with the seeds' min–max as a band."""
    corruptions = list(dict.fromkeys(curves.corruption))
    fig, axes = plt.subplots(len(corruptions), 2, figsize=(9, 3.2 * len(corruptions)), constrained_layout=True,
                             squeeze=False)
    for row, corruption in zip(axes, corruptions):
        sub = curves[curves.corruption == corruption].sort_values("level")
        for name, g in sub.groupby("strategy", sort=False):
            colour = STRATEGY_COLOURS.get(name, "k")
            for ax, quantity in zip(row, ("dice", "fp_rate")):
                ax.plot(g.level, g[f"{quantity}_mean"], "-o", ms=3, color=colour, label=name)
                ax.fill_between(g.level, g[f"{quantity}_min"], g[f"{quantity}_max"], color=colour, alpha=0.15)
        unit = "speckle σ" if corruption == "speckle" else "gain g"
        row[0].set(xlabel=unit, ylabel="Dice, tumour images", title=f"{corruption}: Dice on tumours")
        row[1].set(xlabel=unit, ylabel="share with a prediction", title=f"{corruption}: false positives, normal images")
        if corruption == "gain":
            for ax in row:
                ax.invert_xaxis()
    axes[0, 1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    name_figure(fig, title)
    return fig


def plot_annotation_noise(frame, title: str = ""):
    """Training on jittered contours. ``frame``: one row per run with ``strategy, mask_noise,
    final_dice_tumour, final_hd95_tumour, final_tumour_missed``; mean over seeds as a line, seeds
    as points. HD95 is over the tumours found, so the third panel counts those missed beside it."""
    panels = (("final_dice_tumour", "final Dice, tumour images (clean masks)"),
              ("final_hd95_tumour", "HD95 px, tumours found"), ("final_tumour_missed", "tumours missed per run"))
    fig, axes = plt.subplots(1, len(panels), figsize=(12, 3.4), constrained_layout=True)
    for name, g in frame.groupby("strategy", sort=False):
        colour = STRATEGY_COLOURS.get(name, "k")
        for ax, (column, _) in zip(axes, panels):
            ax.scatter(g.mask_noise, g[column], s=12, color=colour, alpha=0.6)
            mean = g.groupby("mask_noise")[column].mean()
            ax.plot(mean.index, mean.to_numpy(), "-", color=colour, label=name)
    for ax, (_, label) in zip(axes, panels):
        ax.set(xlabel="contour jitter σ (px at 256²)", ylabel=label)
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    name_figure(fig, title)
    return fig


def plot_corruption_examples(image, corruptions: dict, title: str = ""):
    """One uint8 image ``(H, W)`` at every level of every corruption (rows), as the models see it
    (the same seeds as :func:`bl_utils.evaluate.evaluate_corruptions`)."""
    n_cols = max(len(levels) for levels in corruptions.values())
    fig, axes = plt.subplots(len(corruptions), n_cols, figsize=(1.6 * n_cols, 1.8 * len(corruptions)),
                             constrained_layout=True, squeeze=False)
    for row, (kind, levels) in zip(axes, corruptions.items()):
        for j, ax in enumerate(row):
            ax.axis("off")
            if j < len(levels):
                ax.imshow(corrupt(image, kind, levels[j], seed=corruption_seed(kind, j)), cmap="gray", vmin=0, vmax=255)
                ax.set_title(f"{kind} {levels[j]:g}")
    name_figure(fig, title)
    return fig
