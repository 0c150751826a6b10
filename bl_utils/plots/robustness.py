"""Notebook 5's figures: the degradations, the models on degraded images, training on jittered contours."""

from __future__ import annotations


import matplotlib.pyplot as plt

from ..noise import corrupt, corruption_seed
from .style import STRATEGY_COLOURS, name_figure

__all__ = ["SECOND_PANELS", "plot_robustness_curves", "plot_annotation_noise", "plot_corruption_examples"]


#: The right-hand panel of :func:`plot_robustness_curves`: column of the curves, axis label, title.
SECOND_PANELS = {"fp_rate": ("share with a prediction", "false positives, normal images"),
                 "missed_share": ("share of tumours missed", "tumours missed")}


def plot_robustness_curves(curves, title: str = "", second: str = "fp_rate"):
    """Test-time degradations. ``curves``: :func:`bl_utils.answers.study.robustness_curves`. One row per
    corruption; columns: Dice on tumour images, and ``second`` (a key of :data:`SECOND_PANELS`: the
    false-positive rate on normal images, or the share of tumours missed where the runs scored no
    normal image), against the level; a line per strategy (mean over runs) with the runs' min–max
    as a band."""
    if second not in SECOND_PANELS:
        raise ValueError(f"second must be one of {sorted(SECOND_PANELS)}, got {second!r}")
    corruptions = list(dict.fromkeys(curves.corruption))
    fig, axes = plt.subplots(len(corruptions), 2, figsize=(9, 3.2 * len(corruptions)), constrained_layout=True,
                             squeeze=False)
    for row, corruption in zip(axes, corruptions):
        sub = curves[curves.corruption == corruption].sort_values("level")
        for name, g in sub.groupby("strategy", sort=False):
            colour = STRATEGY_COLOURS.get(name, "k")
            for ax, quantity in zip(row, ("dice", second)):
                ax.plot(g.level, g[f"{quantity}_mean"], "-o", ms=3, color=colour, label=name)
                ax.fill_between(g.level, g[f"{quantity}_min"], g[f"{quantity}_max"], color=colour, alpha=0.15)
        unit = "speckle σ" if corruption == "speckle" else "gain g"
        ylabel, panel = SECOND_PANELS[second]
        row[0].set(xlabel=unit, ylabel="Dice, tumour images", title=f"{corruption}: Dice on tumours")
        row[1].set(xlabel=unit, ylabel=ylabel, title=f"{corruption}: {panel}")
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
