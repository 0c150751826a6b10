"""Tests of notebook 3's training curves (bl_utils.training.plot_training_curves): one panel per
quantity, each strategy's line the mean of its seeds with their min–max as a band (worked out here
with numpy), and a legend that covers no panel."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex

from bl_utils.plots import style, training
from helpers import history, runs

COLUMNS = ("val_dice", "train_regional", "train_boundary", "w_regional", "w_boundary")


def lines_of(ax, colour: str):
    return [line for line in ax.lines if to_hex(line.get_color()) == colour]


def band_of(ax, colour: str):
    return [c for c in ax.collections if isinstance(c, PolyCollection)
            and to_hex(c.get_facecolor()[0], keep_alpha=False) == colour]


def test_one_panel_per_quantity_with_labels():
    ce, rebalance, old = runs()
    fig = training.plot_training_curves([*ce, rebalance, old], title="BUSI")
    assert len(fig.axes) == 4
    titles = [ax.get_title() for ax in fig.axes]
    assert ["Dice" in titles[0], "L_R" in titles[1], "L_B" in titles[2], "weights" in titles[3]] == [True] * 4
    assert all(ax.get_xlabel() == "epoch" and ax.get_ylabel() for ax in fig.axes)
    assert fig._suptitle.get_text() == "BUSI"


def test_several_seeds_are_a_mean_line_and_a_min_max_band():
    ce, rebalance, old = runs()
    fig = training.plot_training_curves([*ce, rebalance, old])
    colour = style.STRATEGY_COLOURS["ce"]
    panels = dict(zip(("val_dice", "train_regional", "train_boundary", "weights"), fig.axes))
    for column in COLUMNS:
        ax = panels.get(column, panels["weights"])
        stacked = np.stack([r.history[column].to_numpy() for r in ce])
        line = [ln for ln in lines_of(ax, colour) if np.allclose(ln.get_ydata(), stacked.mean(axis=0))]
        assert len(line) == 1, column
        np.testing.assert_array_equal(line[0].get_xdata(), np.arange(1, 7))
        if column in ("w_regional", "w_boundary"):           # two bands in one panel (of zero width)
            continue
        (band,) = band_of(ax, colour)
        vertices = np.concatenate([p.vertices for p in band.get_paths()])
        for e, low, high in zip(range(1, 7), stacked.min(axis=0), stacked.max(axis=0)):
            at = vertices[np.isclose(vertices[:, 0], e), 1]
            assert (at.min(), at.max()) == pytest.approx((low, high)), (column, e)
    # one run: its own values, no band
    for name, run in (("rebalance", rebalance), ("ce+bl", old)):
        c = style.STRATEGY_COLOURS[name]
        np.testing.assert_allclose(lines_of(fig.axes[0], c)[0].get_ydata(), run.history.val_dice)
        assert not band_of(fig.axes[0], c)
    weights = [ln.get_linestyle() for ln in lines_of(fig.axes[3], style.STRATEGY_COLOURS["rebalance"])]
    assert weights == ["-", "--"]                            # w_R solid, w_B dashed


def test_seeds_of_different_lengths_average_what_exists():
    short = SimpleNamespace(strategy="ce", seed=0, history=history(0, epochs=4))
    long = SimpleNamespace(strategy="ce", seed=1, history=history(1, epochs=6))
    fig = training.plot_training_curves([short, long])
    line = lines_of(fig.axes[0], style.STRATEGY_COLOURS["ce"])[0]
    expected = np.r_[(short.history.val_dice + long.history.val_dice[:4]) / 2, long.history.val_dice[4:]]
    np.testing.assert_allclose(line.get_ydata(), expected)


def test_legend_names_the_seeds_and_covers_no_panel():
    ce, rebalance, old = runs()
    fig = training.plot_training_curves([*ce, rebalance, old])
    assert all(ax.get_legend() is None for ax in fig.axes)
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[:3] == ["ce: mean of 3 seeds [0, 1, 2], band min–max", "rebalance (seed 4)", "ce+bl (seed 0)"]
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert not any(box.overlaps(ax.get_window_extent()) for ax in fig.axes)


def test_unknown_strategy_gets_a_colour_and_empty_input_raises():
    run = SimpleNamespace(strategy="mine", seed=3, history=history(3))
    fig = training.plot_training_curves([run])
    assert len(fig.axes[0].lines) == 1
    with pytest.raises(ValueError, match="no runs"):
        training.plot_training_curves([])


def test_each_strategy_has_its_own_marker_in_every_panel_and_the_legend():
    ce, rebalance, old = runs()
    mine = SimpleNamespace(strategy="mine", seed=3, history=history(3))
    fig = training.plot_training_curves([*ce, rebalance, old, mine])
    colours = {"ce": style.STRATEGY_COLOURS["ce"], "rebalance": style.STRATEGY_COLOURS["rebalance"],
               "ce+bl": style.STRATEGY_COLOURS["ce+bl"]}
    markers = {}
    for ax in fig.axes:
        for name, colour in colours.items():
            found = {line.get_marker() for line in lines_of(ax, colour)}
            assert len(found) == 1, (name, found)             # one marker per strategy, in every panel
            markers.setdefault(name, found).update(found)
    assert len({m for found in markers.values() for m in found}) == 3        # distinct between strategies
    handles = fig.legends[0].legend_handles[:4]
    assert [h.get_marker() for h in handles] == ["o", "s", "^", "D"]        # in the order of the runs
    assert len({h.get_marker() for h in handles}) == 4


def test_coinciding_curves_both_show():
    """Two strategies with the same history: the first is drawn wider, underneath, their markers at
    alternate epochs, and both colours are on the rendered panel."""
    same = history(5)
    first = SimpleNamespace(strategy="ce", seed=0, history=same)
    second = SimpleNamespace(strategy="ce+ramp", seed=0, history=same.copy())
    fig = training.plot_training_curves([first, second])
    for ax in fig.axes:
        below, above = (lines_of(ax, style.STRATEGY_COLOURS[s]) for s in ("ce", "ce+ramp"))
        for a, b in zip(below, above):
            np.testing.assert_array_equal(a.get_ydata(), b.get_ydata())
            assert a.get_linewidth() > b.get_linewidth() and a.get_marker() != b.get_marker()
            assert a.get_markevery() == (0, 2) and b.get_markevery() == (1, 2)       # epochs 1, 3, 5 and 2, 4, 6
            assert ax.lines.index(a) < ax.lines.index(b)                    # drawn first: underneath
    fig.set_dpi(100)
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    box = fig.axes[0].get_window_extent()
    height = rgb.shape[0]
    panel = rgb[int(height - box.y1):int(height - box.y0), int(box.x0):int(box.x1)].reshape(-1, 3)
    for name in ("ce", "ce+ramp"):
        colour = np.array([int(style.STRATEGY_COLOURS[name][i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(panel - colour).sum(axis=1) <= 12).sum() > 40, name      # visible (hidden before: 0)


def test_legend_of_cross_validation_runs_counts_runs_not_seeds():
    folds = [SimpleNamespace(strategy="ce", seed=s, settings={"seed": s, "fold": f}, history=history(s + f))
             for s in (0, 1) for f in range(3)]
    single = SimpleNamespace(strategy="ce+bl", seed=1, settings={"seed": 1, "fold": 2}, history=history(9))
    labels = [t.get_text() for t in training.plot_training_curves([*folds, single]).legends[0].get_texts()]
    assert labels[:2] == ["ce: mean of 6 runs (2 seed(s) × folds), band min–max", "ce+bl (seed 1, fold 2)"]


def test_primary_endpoint_figure_shows_every_run_and_the_two_intervals():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame([{"strategy": s, "seed": seed, "fold": fold, "final_dice_tumour": rng.random()}
                          for seed in (0, 1) for fold in range(5) for s in ("ce", "ce+bl", "rebalance")])
    wide = frame.pivot_table(index=["seed", "fold"], columns="strategy", values="final_dice_tumour")
    differences = pd.concat([pd.DataFrame({"strategy": s, "difference": (wide[s] - wide["ce"]).to_numpy()})
                             for s in ("ce+bl", "rebalance")], ignore_index=True)
    answer = pd.DataFrame([{"name": "ce+bl", "corrected_low": -0.3, "corrected_high": 0.2, "plain_low": -0.1,
                            "plain_high": 0.05}])                                # rebalance: no answer yet
    fig = training.plot_primary_endpoint(frame, differences, answer, margin=0.02, title="t")
    left, right = fig.axes
    grey = [line for line in left.get_lines() if line.get_color() == "0.75"]
    assert len(grey) == 10 and all(len(line.get_xdata()) == 3 for line in grey)     # one line per (seed, fold)
    points = [c for c in right.collections if c.get_offsets().shape[0] == 10]
    np.testing.assert_allclose(np.sort(points[0].get_offsets()[:, 1]), np.sort(differences.difference[:10]))
    bars = [seg for c in right.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
    spans = {tuple(np.round(seg[:, 1], 6)) for seg in bars if len(seg) == 2 and seg[0, 0] == seg[1, 0]}
    assert (-0.3, 0.2) in spans and (-0.1, 0.05) in spans and len(spans & {(-0.3, 0.2), (-0.1, 0.05)}) == 2
    (band,) = right.patches                                                      # the ± margin, in data units
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((-0.02, 0.02))
