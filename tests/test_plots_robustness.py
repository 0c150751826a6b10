"""Notebook 5's figures (bl_utils.plots.robustness): the annotation-noise figure, one panel per
quantity, the tumours missed among them (HD95 is over the tumours found), each strategy's line the
mean of its seeds per jitter strength (worked out here with pandas); the test-time curves, whose
right-hand panel is the normal images' false positives or, for runs that scored none, the tumours missed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd

import pytest

from bl_utils.plots.robustness import plot_annotation_noise, plot_robustness_curves


def test_annotation_noise_panels_show_the_seed_means_and_the_tumours_missed():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame([{"strategy": s, "seed": k, "mask_noise": m, "final_dice_tumour": rng.random(),
                           "final_hd95_tumour": 10 * rng.random(), "final_tumour_missed": int(rng.integers(0, 30))}
                          for s in ("ce", "rebalance") for m in (0.0, 4.0, 8.0) for k in range(3)])
    fig = plot_annotation_noise(frame, title="t")
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes][2].startswith("tumours missed")
    for ax, column in zip(axes, ("final_dice_tumour", "final_hd95_tumour", "final_tumour_missed")):
        lines = {line.get_label(): line for line in ax.get_lines()}
        for name, g in frame.groupby("strategy"):
            expected = g.groupby("mask_noise")[column].mean()
            np.testing.assert_allclose(lines[name].get_xdata(), expected.index)
            np.testing.assert_allclose(lines[name].get_ydata(), expected.to_numpy())


@pytest.mark.parametrize("second, label", [("fp_rate", "share with a prediction"), ("missed_share", "share of tumours missed")])
def test_robustness_curves_draw_the_chosen_right_hand_panel(second, label):
    curves = pd.DataFrame([{"strategy": s, "corruption": "speckle", "level": level,
                            **{f"{q}_{k}": v + level for q in ("dice", "fp_rate", "missed_share")
                               for k, v in (("mean", 0.5), ("min", 0.4), ("max", 0.6))}}
                           for s in ("ce", "ce+bl") for level in (0.0, 0.5)])
    fig = plot_robustness_curves(curves, title="t", second=second)
    right = fig.axes[1]
    assert right.get_ylabel() == label
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), [0.5, 1.0])
    with pytest.raises(ValueError, match="second must be one of"):
        plot_robustness_curves(curves, second="hd95")
