"""Tests of what the loss explorer's figure shows when α moves: colour scales that α does not move
(bl_utils.explorer.colour_bounds, worked out by hand and against a sweep of the α slider), the
rendered panels' colour norms, and titles at least as large as the axis labels of the rcParams."""

from __future__ import annotations

import dataclasses
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.image import AxesImage

from bl_utils import explorer
from bl_utils.plots import maths
from bl_utils.schedules import STRATEGIES

KEYS = ("phi", "ce", "boundary", "total")        # the map panels, in image_panels order after the image


def image_panels(fig):
    """The explorer's image panels (colour bars hold no AxesImage), top to bottom, left to right."""
    panels = [ax for ax in fig.axes if any(isinstance(im, AxesImage) for im in ax.get_images())]
    return sorted(panels, key=lambda ax: (ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start))


def shown_images(fig) -> list[AxesImage]:
    """The AxesImage of each map panel (Φ_G, w_CE·CE, w_B·Φ_G·s, sum), the image panel left out."""
    return [next(im for im in ax.get_images() if isinstance(im, AxesImage)) for ax in image_panels(fig)[1:]]


# ------------------------------------------------------------------ colour_bounds

def test_colour_bounds_by_hand():
    """Two pixels: Φ_G = (−1, 2), g = (1, 0), s = (1/2, 1/2), so BCE = (ln 2, ln 2), Φ_G·s = (−1/2, 1)."""
    phi, mask, prob, window = np.array([[-1.0, 2.0]]), np.array([[True, False]]), np.full((1, 2), 0.5), (0, 1, 0, 2)
    ln2 = math.log(2)
    expected = {                                 # total: the larger |sum| at α = 0 and at α = 1
        "ce": {"phi": 2.0, "ce": ln2, "boundary": 1.0, "total": ln2},                   # (1, 0) for every α
        "ce+bl": {"phi": 2.0, "ce": ln2, "boundary": 1.0, "total": ln2 + 1},            # α = 1: (ln2 − ½, ln2 + 1)
        "rebalance": {"phi": 2.0, "ce": ln2, "boundary": 1.0, "total": 1.0},            # α = 1: Φ_G·s alone
    }
    for strategy, bounds in expected.items():
        for alpha in (0.0, 0.3, 1.0):
            assert explorer.colour_bounds(phi, mask, prob, strategy, alpha, window) == pytest.approx(bounds)
    # an α beyond the slider (only through explore(alpha=...)) widens the scales so that nothing saturates
    assert explorer.colour_bounds(phi, mask, prob, "ce+bl", 2.0, window) == pytest.approx(
        {"phi": 2.0, "ce": ln2, "boundary": 2.0, "total": ln2 + 2})
    # a map that is 0 in the whole window gets the bound 1; the window is what counts
    zero = explorer.colour_bounds(np.zeros((1, 2)), np.zeros((1, 2), bool), np.zeros((1, 2)), "ce+bl", 0.5, window)
    assert zero == {"phi": 1.0, "ce": 1.0, "boundary": 1.0, "total": 1.0}
    assert explorer.colour_bounds(phi, mask, prob, "ce", 0.5, (0, 1, 0, 1))["phi"] == 1.0


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("phi_scale", ["image", "pixel"])
def test_colour_bounds_are_the_same_for_every_alpha_and_clip_nothing(fake_dataset, strategy, phi_scale):
    """Oracle: sweep the α slider (41 values, both ends included) and take the largest |map| seen."""
    ds = fake_dataset(size=64)
    sweep = [explorer.explore(ds, 1, strategy=strategy, alpha=a, phi_scale=phi_scale)
             for a in np.linspace(*explorer.ALPHA_RANGE, 41)]
    first = sweep[0]
    for state in sweep:
        assert state.window == first.window and state.bounds == pytest.approx(first.bounds, rel=1e-12)
    r0, r1, c0, c1 = first.window
    seen = {key: max(np.abs(s.maps[key][r0:r1, c0:c1]).max() for s in sweep) for key in ("ce", "boundary", "total")}
    assert first.bounds["total"] == pytest.approx(seen["total"], rel=1e-12)   # reached at an end of the range
    for key in ("ce", "boundary"):
        assert seen[key] <= first.bounds[key] * (1 + 1e-12)
    # the terms' scale is the term at weight 1: BCE from torch, Φ_G·s by hand
    bce = torch.nn.functional.binary_cross_entropy(torch.from_numpy(first.prob.astype(float)),
                                                   torch.from_numpy(first.mask.astype(float)), reduction="none")
    assert first.bounds["ce"] == pytest.approx(bce.numpy()[r0:r1, c0:c1].max(), rel=1e-9)
    assert first.bounds["boundary"] == pytest.approx(np.abs(first.phi * first.prob)[r0:r1, c0:c1].max(), rel=1e-9)
    assert first.bounds["phi"] == pytest.approx(np.abs(first.phi[r0:r1, c0:c1]).max())


# ------------------------------------------------------------------ the rendered panels

@pytest.mark.parametrize("strategy", ["rebalance", "ce+bl"])
def test_moving_alpha_changes_the_colours_not_the_colour_scales(fake_dataset, strategy):
    ds = fake_dataset(size=64)
    figures = [maths.plot_loss_explorer(explorer.explore(ds, 1, strategy=strategy, alpha=a)) for a in (0.2, 0.8)]
    low, high = (shown_images(fig) for fig in figures)
    state = explorer.explore(ds, 1, strategy=strategy, alpha=0.5)
    for key, a, b in zip(KEYS, low, high):
        assert (a.norm.vmin, a.norm.vmax) == (b.norm.vmin, b.norm.vmax), key       # the same colour bar
        assert a.norm.vmax == pytest.approx(state.bounds[key])
        assert a.norm.vmin == pytest.approx(0.0 if key == "ce" else -state.bounds[key])
    # ... while the data, and so the colours, differ where α matters
    changed = ("ce", "boundary", "total") if strategy == "rebalance" else ("boundary", "total")
    for key, a, b in zip(KEYS, low, high):
        if key in changed:
            assert not np.allclose(a.get_array(), b.get_array()), key
            assert not np.array_equal(a.to_rgba(a.get_array()), b.to_rgba(b.get_array())), key


def test_ce_draws_the_boundary_term_blank_on_its_weight_one_scale(fake_dataset):
    state = explorer.explore(fake_dataset(size=64), 1, strategy="ce", alpha=0.7)
    fig = maths.plot_loss_explorer(state)
    boundary = shown_images(fig)[2]
    assert not np.any(boundary.get_array())                                      # w_B = 0
    r0, r1, c0, c1 = state.window
    assert boundary.norm.vmax == pytest.approx(np.abs(state.phi * state.prob)[r0:r1, c0:c1].max())
    text = "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "α = 0.70  (no effect for ce)" in text


def test_a_state_without_bounds_is_scaled_panel_by_panel(fake_dataset):
    state = explorer.explore(fake_dataset(size=64), 1, alpha=0.3)
    bare = dataclasses.replace(state, bounds={}, window=None)
    r0, r1, c0, c1 = explorer.zoom_window(state.mask, state.segmentation)
    for key, im in zip(KEYS, shown_images(maths.plot_loss_explorer(bare))):
        values = state.phi if key == "phi" else state.maps[key]
        assert im.norm.vmax == pytest.approx(np.abs(values[r0:r1, c0:c1]).max()), key


# ------------------------------------------------------------------ font sizes

@pytest.mark.parametrize("rc", [{}, {"axes.labelsize": 14}, {"font.size": 13, "axes.labelsize": "large"}])
def test_titles_are_at_least_the_axis_label_size(fake_dataset, rc):
    with matplotlib.rc_context(rc):
        label = matplotlib.font_manager.FontProperties(size=matplotlib.rcParams["axes.labelsize"]).get_size_in_points()
        fig = maths.plot_loss_explorer(explorer.explore(fake_dataset(size=64), 1), title="synthetic")
        fig.canvas.draw()
    titles = [ax.title for ax in fig.axes if ax.get_title()]
    assert len(titles) == 5                                                      # every panel but the numbers
    assert fig._suptitle is not None
    for text in [*titles, fig._suptitle]:
        assert text.get_fontsize() >= label, text.get_text()
    bar_labels = [ax.yaxis.label for ax in fig.axes if ax.get_ylabel()]
    assert len(bar_labels) == 3 and all(t.get_text() == "scale fixed over α" for t in bar_labels)
    assert max(t.get_fontsize() for t in bar_labels) <= min(t.get_fontsize() for t in titles)
