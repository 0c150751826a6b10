"""Notebook 6's figures (bl_utils.plots.external): what each panel draws, checked on the artists."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd

from bl_utils.plots import external


def test_two_hospitals_draws_each_dataset_in_every_panel():
    rng = np.random.default_rng(0)
    def dataset(n, fraction):
        meta = pd.DataFrame({"tumour_fraction": np.full(n, fraction), "orig_width": rng.integers(200, 600, n),
                             "orig_height": rng.integers(200, 500, n)})
        return meta, rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)

    fig = external.plot_two_hospitals({"A": dataset(10, 0.05), "B": dataset(20, 0.2)}, title="two")
    hist, sizes, grey = fig.axes
    assert len(hist.patches) == 2 and len(grey.patches) == 2            # one step histogram per dataset
    assert [len(c.get_offsets()) for c in sizes.collections] == [10, 20]  # every image's size
    assert [t.get_text() for t in hist.get_legend().get_texts()] == ["A (10 images)", "B (20 images)"]


def test_subgroups_puts_each_interval_where_the_table_says():
    table = pd.DataFrame({"scanner": ["x", "x", "y", "y"], "strategy": ["ce+bl", "rebalance"] * 2,
                          "n_images": [5, 5, 7, 7], "mean": [0.01, -0.02, 0.0, 0.03],
                          "low": [0.0, -0.05, -0.01, 0.01], "high": [0.02, 0.01, 0.01, 0.05]})
    fig = external.plot_subgroups({"by scanner": table}, margin=0.02)
    ax = fig.axes[0]
    centres = sorted(float(x) for line in ax.lines for x in np.atleast_1d(line.get_xdata()) if line.get_marker() == "o")
    assert centres == sorted(table["mean"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x\n(5 images)", "y\n(7 images)"]
    band = [p for p in ax.patches if p.get_facecolor()[:3] == matplotlib.colors.to_rgb("0.9")]
    assert band and np.allclose([band[0].get_x(), band[0].get_x() + band[0].get_width()], [-0.02, 0.02])


def test_runs_on_bus_bra_draws_one_dot_per_run_in_its_strategys_column():
    per_run = pd.DataFrame({"strategy": ["ce", "ce", "ce+bl", "ce", "ce+bl"],
                            "runs": ["all 425"] * 3 + ["study"] * 2, "dice": [0.5, 0.45, 0.48, 0.3, 0.35]})
    fig = external.plot_runs_on_bus_bra(per_run, title="runs")
    ax = fig.axes[0]
    drawn = [c.get_offsets() for c in ax.collections if len(c.get_offsets())]
    points = np.concatenate(drawn)
    assert len(points) == 5 and sorted(points[:, 1]) == sorted(per_run.dice)
    by_dice = {round(float(y), 3): float(x) for x, y in points}
    assert abs(by_dice[0.5] - 0) < 0.3 and abs(by_dice[0.48] - 1) < 0.3 and abs(by_dice[0.35] - 1) < 0.3
    assert by_dice[0.3] > by_dice[0.5]                      # the second set sits right of the first
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["all 425", "study"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ce", "ce+bl"]
