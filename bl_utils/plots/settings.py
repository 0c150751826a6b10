"""Notebook 3's settings figure: each arm (Φ_G's scale and α, the schedule) against its base strategy and CE."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .style import name_figure

__all__ = ["plot_settings_arms"]

#: Where each comparison sits on an arm's row, and how it is drawn.
_AGAINST = {"base": (-0.15, "o", "#1f4e9c", "arm − its base strategy"), "CE": (0.15, "s", "#d95f02", "arm − CE")}


def plot_settings_arms(differences: pd.DataFrame, table: pd.DataFrame, margin: float = 0.02, title: str = ""):
    """One row per arm: every run's paired difference in final-epoch Dice on tumour images (points) to its
    base strategy and to CE, their mean (bar) and the corrected 95 % interval (line), beside the ± ``margin``
    band the study reads its verdicts against (shaded; no verdict is drawn here: the arms are exploratory).

    ``differences``: :func:`bl_utils.answers.settings.arm_differences`; ``table``:
    :func:`bl_utils.answers.settings.arm_table` (``arm, − base, − base, 95 % CI, − CE, − CE, 95 % CI``)."""
    arms = list(table["arm"])
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.9 * max(len(arms), 1)), constrained_layout=True)
    ax.axvspan(-margin, margin, color="0.92", zorder=0, label=f"± {margin:g}")
    ax.axvline(0, color="grey", lw=0.7)
    rows = table.set_index("arm")
    for k, arm in enumerate(arms):
        for against, (offset, marker, colour, label) in _AGAINST.items():
            points = differences[(differences.arm == arm) & (differences.against == against)].difference
            y = k + offset
            ax.scatter(points, np.full(len(points), y), marker=marker, s=18, color=colour, alpha=0.55, zorder=2,
                       label=label if k == 0 else None)
            column = "− base" if against == "base" else "− CE"
            low, high = rows.loc[arm, f"{column}, 95 % CI"]
            if np.isfinite(low) and np.isfinite(high):
                ax.hlines(y, low, high, color=colour, lw=2.2, zorder=3,
                          label="corrected 95 % interval" if k == 0 and against == "CE" else None)
            ax.vlines(rows.loc[arm, column], y - 0.1, y + 0.1, color="k", lw=1.5, zorder=4)
    ax.set_yticks(range(len(arms)), [f"{a}\n(base {rows.loc[a, 'base']})" for a in arms], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("final-epoch Dice on tumour images, paired within (seed, fold)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=4, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    name_figure(fig, title)
    return fig
