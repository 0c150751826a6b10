"""Tests of bl_utils.explorer, the computations behind the loss explorer (its widget: test_widgets.py).

What its figure shows when α moves: colour scales that α does not move (colour_bounds, worked out by
hand and against a sweep of the α slider), the rendered panels' colour norms, and titles at least as
large as the axis labels of the rcParams. Then candidate predictions, per-pixel loss terms and what one
setting of the sliders shows (explore), each against an independent oracle (closed forms worked out by
hand, scipy, torch) with a stated tolerance."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.image import AxesImage
from scipy import ndimage

from bl_utils import explorer
from bl_utils.disks import Disk
from bl_utils.plots import maths
from bl_utils.schedules import STRATEGIES
from helpers import authors_sdm, random_blobs

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



@pytest.mark.parametrize("strategy", ["ce+bl", "ce+ramp", "rebalance"])
@pytest.mark.parametrize("alpha", [0.01, 0.5, 1.0])
def test_every_term_panel_shows_its_term_at_every_alpha(fake_dataset, strategy, alpha):
    """A term that is not 0 in the window reaches at least a quarter of its colour range away from the
    neutral colour (0 in the middle of RdBu, the dark end of magma), whatever α."""
    state = explorer.explore(fake_dataset(size=64), 1, strategy=strategy, alpha=alpha)
    r0, r1, c0, c1 = state.window
    for key, im in zip(KEYS[1:], shown_images(maths.plot_loss_explorer(state))[1:]):
        values = state.maps[key][r0:r1, c0:c1]
        if not np.any(values):
            continue                                             # rebalance at α = 1: no CE
        colour = np.asarray(im.norm(values))
        reach = colour.max() if key == "ce" else np.abs(colour - 0.5).max() * 2
        assert reach >= 0.25, (key, reach)


def test_the_sum_at_alpha_one_shows_the_boundary_term_inside_the_tumour(fake_dataset):
    """The reported case: ce+bl at α = 1, where the CE near ∂G sets the sum's bound (≈ 4–7) and L_B
    (≈ −0.1 inside G) drew in the neutral colour. Where L_B dominates the sum, the sum is drawn blue."""
    state = explorer.explore(fake_dataset(size=64), 2, strategy="ce+bl", alpha=1.0)   # radius 10
    r0, r1, c0, c1 = state.window
    total = shown_images(maths.plot_loss_explorer(state))[3]
    inside = (state.mask & (np.abs(state.maps["boundary"]) > state.maps["ce"]))[r0:r1, c0:c1]
    assert inside.sum() > 20
    assert state.bounds["total"] > 20 * np.abs(state.maps["boundary"][r0:r1, c0:c1][inside]).max()   # the case
    colour = np.asarray(total.norm(state.maps["total"][r0:r1, c0:c1][inside]))
    assert np.median(colour) <= 0.5 - 0.125                                     # clearly on the blue side

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
    assert len(bar_labels) == 3 and all(t.get_text() == "log scale, fixed over α" for t in bar_labels)
    assert max(t.get_fontsize() for t in bar_labels) <= min(t.get_fontsize() for t in titles)


# ------------------------------------------------------------------ significant

def test_significant_rounds_to_significant_digits():
    assert explorer.significant(4543.2123) == 4540.0
    assert explorer.significant(-0.000123456, 2) == -0.00012
    assert explorer.significant(0.0) == 0.0
    np.testing.assert_array_equal(explorer.significant(np.array([1.23456, 98765.0])), [1.23, 98800.0])
    frame = explorer.significant(pd.DataFrame({"a": [1.23456, 2.0], "b": [1e-9 + 3.0, 12345.6]}))
    assert frame.to_dict("list") == {"a": [1.23, 2.0], "b": [3.0, 12300.0]}
    assert explorer.significant(pd.Series([0.33333])).tolist() == [0.333]


# ------------------------------------------------------------------ candidate predictions

def disk_footprint(k: int) -> np.ndarray:
    yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
    return yy ** 2 + xx ** 2 <= k ** 2


def test_candidate_prediction_defaults_return_the_mask():
    mask = random_blobs(3)
    out = explorer.candidate_prediction(mask)
    assert out.dtype == np.float32 and out.shape == mask.shape
    np.testing.assert_array_equal(out, mask.astype(np.float32))
    np.testing.assert_array_equal(explorer.candidate_prediction(mask.astype(np.uint8)), out)


@pytest.mark.parametrize("shift", [(1, 0), (0, 2), (-1, 1), (2, -3), (0, 0), (5, 0), (-7, 9)])
def test_candidate_shift_matches_hand_indexing(shift):
    mask = np.zeros((5, 6), bool)
    mask[1:3, 2:5] = True
    mask[4, 0] = True
    dy, dx = shift
    expected = np.zeros_like(mask)
    for r, c in zip(*np.nonzero(mask)):
        if 0 <= r + dy < 5 and 0 <= c + dx < 6:
            expected[r + dy, c + dx] = True
    np.testing.assert_array_equal(explorer.candidate_prediction(mask, shift=shift), expected)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_candidate_dilation_and_erosion_match_scipy_disks(k):
    mask = np.zeros((60, 60), bool)
    mask[20:38, 18:30] = True
    mask[30:42, 25:45] = True
    dilated = ndimage.binary_dilation(mask, structure=disk_footprint(k))
    eroded = ndimage.binary_erosion(mask, structure=disk_footprint(k))
    np.testing.assert_array_equal(explorer.candidate_prediction(mask, dilation=k) > 0.5, dilated)
    np.testing.assert_array_equal(explorer.candidate_prediction(mask, dilation=-k) > 0.5, eroded)


def test_candidate_awkward_masks():
    empty, full = np.zeros((9, 9), bool), np.ones((9, 9), bool)
    assert explorer.candidate_prediction(empty, dilation=3).sum() == 0
    assert explorer.candidate_prediction(empty, dilation=-3, blur=2).sum() == 0
    assert explorer.candidate_prediction(full, dilation=-3).min() == 1      # the border is not background
    border = np.zeros((9, 9), bool)
    border[:, :4] = True                          # touches three borders: eroded from the right only
    np.testing.assert_array_equal(explorer.candidate_prediction(border, dilation=-1) > 0.5,
                                  np.pad(np.ones((9, 3), bool), ((0, 0), (0, 6))))
    one = np.zeros((9, 9), bool)
    one[4, 4] = True
    np.testing.assert_array_equal(explorer.candidate_prediction(one, dilation=1) > 0.5,
                                  ndimage.binary_dilation(one))   # radius 1: the 4-neighbours


@pytest.mark.parametrize("sigma", [0.5, 2.0, 4.0])
def test_candidate_blur_matches_gaussian_filter(sigma):
    mask = random_blobs(4)
    out = explorer.candidate_prediction(mask, blur=sigma)
    np.testing.assert_allclose(out, ndimage.gaussian_filter(mask.astype(float), sigma, mode="nearest"), atol=1e-6)
    assert 0 <= out.min() and out.max() <= 1


def test_candidate_confidence_squeezes_the_range():
    mask = random_blobs(5)
    out = explorer.candidate_prediction(mask, confidence=0.9)
    np.testing.assert_allclose(out, np.where(mask, 0.9, 0.1), atol=1e-7)


@pytest.mark.parametrize("kwargs,message", [
    (dict(mask=np.full((4, 4), 0.5)), "binary"),
    (dict(mask=np.zeros((2, 4, 4))), "2-D"),
    (dict(mask=np.zeros((4, 4)), shift=(0.5, 0)), "integers"),
    (dict(mask=np.zeros((4, 4)), dilation=1.5), "integers"),
    (dict(mask=np.zeros((4, 4)), confidence=0.3), "confidence"),
    (dict(mask=np.zeros((4, 4)), blur=-1), "blur"),
])
def test_candidate_prediction_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        explorer.candidate_prediction(**kwargs)


def test_standard_candidates_and_their_losses():
    mask = Disk((30, 30), 8).mask((64, 64))
    phi = authors_sdm(mask)
    candidates = explorer.standard_candidates(mask, shift=(0, 5), blur=2.0, dilation=3)
    table = explorer.candidate_losses(phi, mask, candidates)
    assert list(table.columns) == ["L_B", "ΣΦ_G s", "1 − Dice"]
    for name, prob in candidates.items():
        assert table.loc[name, "L_B"] == pytest.approx((phi * prob).mean(), rel=1e-6, abs=1e-9)
    assert table.loc["s = 0 (nothing)", "L_B"] == 0
    assert table.loc["s = 1 (everything)", "L_B"] == pytest.approx(phi.mean())
    # s = g minimises L_B among all candidates, and has zero Dice loss
    assert table["L_B"].idxmin() == "s = g (perfect)"
    assert table.loc["s = g (perfect)", "1 − Dice"] == pytest.approx(0)
    assert table.loc["s = 0 (nothing)", "1 − Dice"] == pytest.approx(1)


def test_soft_dice_loss_by_hand():
    g = np.array([[1, 1, 0, 0]])
    s = np.array([[1.0, 0.5, 0.5, 0.0]])
    assert explorer.soft_dice_loss(g, s) == pytest.approx(1 - 2 * 1.5 / (2 + 2))
    assert explorer.soft_dice_loss(np.zeros((2, 2)), np.zeros((2, 2))) == 0


def test_empty_policy_table():
    shape = (30, 40)
    table = explorer.empty_policy_table(shape, policies=("diagonal", "zero", 7.5), blob=Disk((15, 20), 5))
    blob_fraction = Disk((15, 20), 5).mask(shape).mean()
    assert list(table.index) == ["diagonal", "zero", "7.5"]
    np.testing.assert_allclose(table["Φ_G (constant)"], [50.0, 0.0, 7.5], rtol=1e-6)   # diagonal of 30×40
    np.testing.assert_allclose(table["L_B(s = 0)"], 0)
    np.testing.assert_allclose(table["L_B(s = 1)"], [50.0, 0.0, 7.5], rtol=1e-6)
    np.testing.assert_allclose(table.iloc[:, 3], np.array([50.0, 0.0, 7.5]) * blob_fraction, rtol=1e-6)


# ------------------------------------------------------------------ threshold, weights, loss maps

def test_segmentation_at_by_hand():
    prob = np.array([[0.1, 0.6, 0.5],
                     [0.49, 0.9, 1.0]])
    np.testing.assert_array_equal(explorer.segmentation_at(prob, 0.5), [[0, 1, 1], [0, 1, 1]])   # δ is inside
    assert not explorer.segmentation_at(prob, 1.0)[0].any() and explorer.segmentation_at(prob, 1.0)[1, 2]
    assert explorer.segmentation_at(prob, 0.0).all()
    with pytest.raises(ValueError, match="threshold"):
        explorer.segmentation_at(prob, 1.5)


@pytest.mark.parametrize("strategy,alpha,expected", [
    ("ce", 0.3, (1.0, 0.0)), ("ce+bl", 0.3, (1.0, 0.3)), ("ce+ramp", 0.3, (1.0, 0.3)),
    ("rebalance", 0.3, (0.7, 0.3)), ("rebalance", 1.0, (0.0, 1.0)), ("ce+bl", 0.0, (1.0, 0.0)),
])
def test_strategy_weights(strategy, alpha, expected):
    assert explorer.strategy_weights(strategy, alpha) == pytest.approx(expected)


def test_strategy_weights_rejects_unknown():
    with pytest.raises(ValueError, match="unknown strategy"):
        explorer.strategy_weights("dice", 0.5)


@pytest.mark.parametrize("w_ce,w_b", [(1.0, 0.0), (0.7, 0.3), (0.0, 1.0), (1.0, 2.5)])
def test_loss_term_maps_match_torch(w_ce, w_b):
    rng = np.random.default_rng(1)
    mask = random_blobs(6)
    phi = authors_sdm(mask) / 52
    prob = rng.uniform(size=mask.shape)
    prob[0, :5] = [0.0, 1.0, 0.0, 1.0, 0.5]           # exact 0/1: torch clamps log at -100
    mask[0, :4] = [True, True, False, False]
    maps = explorer.loss_term_maps(phi, mask, prob, w_ce, w_b)
    bce = torch.nn.functional.binary_cross_entropy(torch.from_numpy(prob), torch.from_numpy(mask.astype(float)),
                                                   reduction="none").numpy()
    np.testing.assert_allclose(maps["ce"], w_ce * bce, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(maps["ce"][0, :4], w_ce * np.array([100.0, 0.0, 0.0, 100.0]))
    np.testing.assert_allclose(maps["boundary"], w_b * phi * prob, rtol=1e-12)
    np.testing.assert_allclose(maps["total"], maps["ce"] + maps["boundary"])
    assert maps["total"].mean() == pytest.approx(w_ce * bce.mean() + w_b * (phi * prob).mean(), rel=1e-10)


def test_loss_term_maps_total_matches_strategy_loss():
    """Cross-check with the training loss: the mean of the "total" map is StrategyLoss's total."""
    from bl_utils.losses import StrategyLoss
    from bl_utils.schedules import make_strategy

    mask = random_blobs(7)
    phi = (authors_sdm(mask) / 52).astype(np.float32)
    prob = np.clip(explorer.candidate_prediction(mask, shift=(2, 3), blur=2.0), 1e-4, 1 - 1e-4)
    logits = torch.logit(torch.from_numpy(prob).double())[None, None]
    strategy = make_strategy("ce+bl", epochs=10, alpha=0.4)
    total, terms = StrategyLoss(strategy)(logits, torch.from_numpy(mask.astype(np.float64))[None, None],
                                          torch.from_numpy(phi).double()[None, None], epoch=0.0)
    w_ce, w_b = float(terms["w_regional"]), float(terms["w_boundary"])
    maps = explorer.loss_term_maps(phi, mask, prob, w_ce, w_b)
    assert maps["total"].mean() == pytest.approx(float(total), rel=1e-4)
    assert maps["boundary"].mean() == pytest.approx(w_b * float(terms["boundary"]), rel=1e-4, abs=1e-7)


@pytest.mark.parametrize("kwargs,message", [
    (dict(prob=np.full((4, 4), 1.5)), r"\[0, 1\]"),
    (dict(prob=np.zeros((4, 5))), "shape"),
    (dict(image_phi=np.zeros((5, 4))), "shape"),
])
def test_loss_term_maps_rejects_bad_input(kwargs, message):
    args = dict(image_phi=np.zeros((4, 4)), mask=np.zeros((4, 4), bool), prob=np.zeros((4, 4)), w_ce=1, w_b=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        explorer.loss_term_maps(**args)


# ------------------------------------------------------------------ explore() and its summary

def test_tumour_index_skips_empty_masks(fake_dataset):
    ds = fake_dataset()
    ds.masks = ds.masks[::-1].copy()          # the empty mask first
    assert explorer.tumour_index(ds, 0) == 1
    assert explorer.tumour_index(ds, 2) == 3
    with pytest.raises(ValueError, match="tumour images"):
        explorer.tumour_index(ds, 3)
    with pytest.raises(ValueError, match="no image with a tumour"):
        explorer.tumour_index(SimpleNamespace(masks=np.zeros((2, 4, 4), bool)), 0)


@pytest.mark.parametrize("phi_scale,divisor", [("image", 40.0), ("pixel", 1.0)])
def test_explore_numbers(fake_dataset, phi_scale, divisor):
    ds = fake_dataset()
    state = explorer.explore(ds, 1, strategy="rebalance", alpha=0.25, delta=0.4, shift=(2, -3), dilation=1,
                            blur=1.5, confidence=0.98, phi_scale=phi_scale)
    prob = explorer.candidate_prediction(ds.masks[1], shift=(2, -3), dilation=1, blur=1.5, confidence=0.98)
    phi = ds.phis[1].astype(float) / divisor
    np.testing.assert_allclose(state.prob, prob)
    np.testing.assert_allclose(state.phi, phi, rtol=1e-6)
    bce = torch.nn.functional.binary_cross_entropy(torch.from_numpy(prob.astype(float)),
                                                   torch.from_numpy(ds.masks[1].astype(float))).item()
    n = state.numbers
    assert (n["w_ce"], n["w_b"]) == pytest.approx((0.75, 0.25))
    assert n["CE"] == pytest.approx(bce, rel=1e-6)
    assert n["L_B"] == pytest.approx((phi * prob).mean(), rel=1e-5)
    assert n["L_B(g)"] == pytest.approx((phi * ds.masks[1]).mean(), rel=1e-5)
    assert n["total"] == pytest.approx(0.75 * bce + 0.25 * n["L_B"], rel=1e-5)
    seg = prob >= 0.4
    assert n["dice"] == pytest.approx(2 * (seg & ds.masks[1]).sum() / (seg.sum() + ds.masks[1].sum()))
    assert state.title == "1: benign (1) (benign, tumour %.1f%%)" % (100 * ds.meta.tumour_fraction[1])
    assert "L_B = " in explorer.summary_text(state)


def test_explore_on_an_image_without_tumour(fake_dataset):
    ds = fake_dataset()
    state = explorer.explore(ds, 3, shift=(0, 0), blur=0.0, confidence=1.0, phi_scale="pixel")
    assert state.numbers["L_B"] == 0 and state.numbers["L_B(g)"] == 0 and state.numbers["CE"] == 0
    assert state.numbers["dice"] == 1.0


def test_summary_lines_are_the_summary_text(fake_dataset):
    state = explorer.explore(fake_dataset(), 1)
    lines = explorer.summary_lines(state)
    assert explorer.summary_text(state) == "  ·  ".join(lines)
    assert lines[2] == f"L_B = {state.numbers['L_B']:.4g}" and lines[-1].startswith("Dice(S_θ, G) = ")
