"""Notebook 6's figures: BUS-BRA beside BUSI, each strategy − CE on BUS-BRA by subgroup, and each
run's BUS-BRA Dice by the training set it had."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import STRATEGY_COLOURS, name_figure

__all__ = ["plot_two_hospitals", "plot_subgroups", "plot_runs_on_bus_bra"]


def plot_two_hospitals(datasets: dict, title: str = ""):
    """Two datasets side by side. ``datasets``: ``{name: (meta, images)}`` with each dataset's table
    (``tumour_fraction``, ``orig_width``, ``orig_height``) and its uint8 images ``(N, H, W)`` at one size.
    Three panels: the tumour fraction (share of the image, density), the scanner's image sizes, and each
    image's mean grey level (density)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), constrained_layout=True)
    colours = ("#4c72b0", "#c44e52", "#55a868")
    for (name, (meta, images)), colour in zip(datasets.items(), colours):
        axes[0].hist(meta.tumour_fraction, bins=np.linspace(0, 0.5, 41), density=True, histtype="step", lw=1.6,
                     color=colour, label=f"{name} ({len(meta)} images)")
        axes[1].scatter(meta.orig_width, meta.orig_height, s=5, alpha=0.4, color=colour, label=name)
        axes[2].hist(images.reshape(len(images), -1).mean(axis=1), bins=np.linspace(0, 255, 41), density=True,
                     histtype="step", lw=1.6, color=colour, label=name)
    axes[0].axvline(0.10, color="k", ls="--", lw=0.8)
    axes[0].set(xlabel="tumour fraction of the image (dashed: the 10 % cut)", ylabel="density")
    axes[1].set(xlabel="width of the stored image (px)", ylabel="height (px)")
    axes[2].set(xlabel="mean grey level of an image (0–255)", ylabel="density")
    axes[0].legend(fontsize=8, frameon=False, loc="upper right")
    name_figure(fig, title)
    return fig


def plot_subgroups(tables: dict, margin: float = 0.02, title: str = ""):
    """Each strategy − CE with its 95 % interval, one panel per grouping. ``tables``: ``{panel title:
    frame}`` with a grouping column first, then ``strategy, mean, low, high`` (as
    :func:`bl_utils.answers.external.subgroup_differences` returns). The ± ``margin`` band is shaded."""
    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 3.6), constrained_layout=True, squeeze=False)
    for ax, (panel, table) in zip(axes[0], tables.items()):
        by = table.columns[0]
        groups = list(dict.fromkeys(table[by]))
        strategies = list(dict.fromkeys(table.strategy))
        for k, name in enumerate(strategies):
            rows = table[table.strategy == name].set_index(by).reindex(groups)
            y = np.arange(len(groups)) + (k - (len(strategies) - 1) / 2) * 0.22
            ax.errorbar(rows["mean"], y, xerr=[rows["mean"] - rows["low"], rows["high"] - rows["mean"]], fmt="o",
                        ms=4, color=STRATEGY_COLOURS.get(name, "k"), label=name, capsize=2)
        ax.axvspan(-margin, margin, color="0.9", zorder=0)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(groups)), [f"{g}\n({int(table[table[by] == g].n_images.iloc[0])} images)"
                                           for g in groups], fontsize=8)
        ax.set(xlabel="Dice, strategy − CE", title=panel)
        ax.xaxis.set_major_locator(plt.MaxNLocator(5))
    axes[0][-1].legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.01, 0.5))
    name_figure(fig, title)
    return fig


def plot_runs_on_bus_bra(per_run, title: str = ""):
    """Each run's mean Dice on BUS-BRA, one dot a run, per strategy, one column of dots per set of runs.
    ``per_run``: :func:`bl_utils.answers.external.bus_bra_per_run`'s table (``strategy, runs, dice``); the
    sets are placed side by side in the order they first appear, the strategies in their table order."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6), constrained_layout=True)
    sets = list(dict.fromkeys(per_run.runs))
    strategies = list(dict.fromkeys(per_run.strategy))
    offsets = np.linspace(-0.18, 0.18, len(sets)) if len(sets) > 1 else np.zeros(1)
    markers = ("o", "s", "^")
    for k, (name, offset) in enumerate(zip(sets, offsets)):
        ax.scatter([], [], s=18, marker=markers[k % len(markers)], color="0.4", label=name)   # the legend's entry
        for i, strategy in enumerate(strategies):
            dice = per_run.dice[(per_run.runs == name) & (per_run.strategy == strategy)].to_numpy()
            spread = np.linspace(-0.05, 0.05, len(dice)) if len(dice) > 1 else np.zeros(len(dice))
            ax.scatter(i + offset + spread, dice, s=18, marker=markers[k % len(markers)], alpha=0.8,
                       color=STRATEGY_COLOURS.get(strategy, "k"), edgecolors="none")
    ax.set_xticks(range(len(strategies)), strategies)
    ax.set(ylabel="mean Dice on BUS-BRA (one run)")
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(sets))   # off the dots
    name_figure(fig, title)
    return fig
