"""Every figure of the report titles its panels and itself at least at the size of its axis labels
(bl_utils.plots.style.legible_titles, applied by name_figure, which every figure function ends with),
under matplotlib's default rcParams and under larger labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.font_manager import FontProperties

from bl_utils.plots import data as data_plots, maths, qualitative, robustness, training
from bl_utils.explorer import Disk
from bl_utils.plots.style import figure_titles
# fake_dataset itself, not conftest.py's fixture of that name: FIGURES is built when this file is imported
from helpers import FRACTIONS, LABELS, cases, components_tables, fake_dataset, runs, sizes_meta


def study_frames():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame([{"strategy": s, "seed": k, "best_val_dice": rng.random(), "final_dice_tumour": rng.random(),
                           "mask_noise": m, "final_hd95_tumour": rng.random(), "final_tumour_missed": 1}
                          for s in ("ce", "rebalance") for k in range(2) for m in (0.0, 4.0)])
    curves = pd.DataFrame([{"corruption": c, "level": lv, "strategy": s, **{f"{q}_{a}": rng.random()
                           for q in ("dice", "fp_rate") for a in ("mean", "min", "max")}}
                           for c in ("speckle", "gain") for lv in (0.5, 1.0) for s in ("ce", "rebalance")])
    return frame, curves


def _figures():
    """``name -> builder`` of every figure function that ends with name_figure."""
    images, truths, predictions = cases()
    counts, comparison, hd95, hd95_comparison = components_tables()
    ce, rebalance, old = runs()
    frame, curves = study_frames()
    pairs = pd.DataFrame({"i": [0], "j": [1], "identical": [False], "distance": [3]})
    image = (np.arange(1024).reshape(32, 32) % 251).astype(np.uint8)
    return {
        "examples": lambda: data_plots.plot_examples(fake_dataset(), [0, 1, 2, 3], ncols=4, title="BUSI"),
        "fig3": lambda: data_plots.plot_tumour_fraction_hist(FRACTIONS, labels=LABELS, thresholds=(0.05, 0.1), title="t"),
        "image_sizes": lambda: data_plots.plot_image_sizes(sizes_meta("manifest.csv"), title="t"),
        "duplicates": lambda: data_plots.plot_duplicate_pairs(fake_dataset(), pairs, title="t"),
        "fig1": lambda: maths.plot_boundary_loss_views(Disk((60, 60), 32), Disk((54, 70), 36), resolution=40,
                                                       title="t"),
        "fig4": lambda: qualitative.plot_qualitative_cases(images, truths, predictions, row_titles=["a", "b"], title="t"),
        "training_curves": lambda: training.plot_training_curves([*ce, rebalance, old], title="t"),
        "table1_seeds": lambda: training.plot_table1_seeds(frame, {"ce": 0.5}, title="t"),
        "study_primary": lambda: training.plot_primary_endpoint(
            frame.assign(fold=frame.mask_noise.astype(int)), pd.DataFrame({"strategy": ["rebalance"] * 2,
                                                                       "difference": [0.01, -0.02]}), title="t"),
        "ablations": lambda: training.plot_ablations({"a": (frame, frame, "variant"), "b": (frame, frame, "v")},
                                                  title="t"),
        "robustness": lambda: robustness.plot_robustness_curves(curves, title="t"),
        "annotation_noise": lambda: robustness.plot_annotation_noise(frame, title="t"),
        "corruptions": lambda: robustness.plot_corruption_examples(image, {"speckle": [0.1, 0.5], "gain": [0.5]},
                                                              title="t"),
    }


FIGURES = _figures()


def label_size(fig) -> float:
    """The largest axis-label font of ``fig`` (labels not set have rcParams["axes.labelsize"])."""
    rc = FontProperties(size=plt.rcParams["axes.labelsize"]).get_size_in_points()
    return max([rc] + [lab.get_fontsize() for ax in fig.axes for lab in (ax.xaxis.label, ax.yaxis.label)])


@pytest.mark.parametrize("rc", [{}, {"axes.labelsize": 15, "axes.titlesize": 8}], ids=["default", "large-labels"])
@pytest.mark.parametrize("name", list(FIGURES))
def test_titles_are_at_least_the_size_of_the_axis_labels(name, rc):
    with plt.rc_context(rc):
        fig = FIGURES[name]()
        smallest = label_size(fig)
        titles = figure_titles(fig)
        assert fig._suptitle is not None and fig._suptitle in titles
        small = [(t.get_text(), t.get_fontsize()) for t in titles if t.get_fontsize() < smallest]
        assert not small, f"{name}: titles under the axis labels' {smallest} pt: {small}"


@pytest.mark.parametrize("name", ["examples", "fig4", "duplicates", "corruptions"])
def test_small_panel_titles_now_follow_rcparams(name):
    """The grids of images titled at 9 pt before: now rcParams["axes.titlesize"] (12 pt by default)."""
    fig = FIGURES[name]()
    titled = [ax.title for ax in fig.axes if ax.get_title()]
    assert titled and {t.get_fontsize() for t in titled} == {12.0}
    assert fig._suptitle.get_fontsize() >= 12


def test_figure_titles_finds_subfigure_suptitles():
    fig = FIGURES["duplicates"]()
    sub = [t.get_text() for t in figure_titles(fig) if t.get_text().startswith("dHash")]
    assert sub == ["dHash distance 3"]
