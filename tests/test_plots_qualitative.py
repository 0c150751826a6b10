"""Tests of notebook 4's figures in bl_utils.plots: Figure 4 draws the masks it is given and titles them
with their own Dice and component counts (worked out by hand here), Figure 5 draws the hand-counted
distribution, the per-image differences and the given confidence intervals."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.contour import ContourSet

from bl_utils.plots import qualitative
from helpers import cases


def contour_sets(ax):
    return [c for c in ax.collections if isinstance(c, ContourSet)]


@pytest.mark.filterwarnings("error")      # empty masks must not make matplotlib warn
def test_fig4_titles_are_the_dice_and_components_of_the_masks_shown():
    images, truths, predictions = cases()
    fig = qualitative.plot_qualitative_cases(images, truths, predictions, row_titles=["tumour (1)", "normal (1)"])
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == [
        "image + ground truth", "ce: Dice 0.44\n2 components", "ce+bl: Dice 0.00\n0 components"]
    # normal image: ce predicts 8 pixels (Dice 0), ce+bl nothing (Dice 1 by the empty-empty convention)
    assert [ax.get_title() for ax in axes[1, 1:]] == ["ce: Dice 0.00\n1 component", "ce+bl: Dice 1.00\n0 components"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["tumour (1)", "normal (1)"]
    for i in range(2):
        for ax in axes[i]:
            np.testing.assert_array_equal(ax.get_images()[0].get_array(), images[i])
    # contours: in the image panel ∂G (halo, line); in a prediction panel the prediction's fill and
    # outline, then ∂G (halo, line) drawn last, on top
    assert [len(contour_sets(ax)) for ax in axes[0]] == [2, 4, 2]
    assert [len(contour_sets(ax)) for ax in axes[1]] == [0, 2, 0]    # no truth to outline
    fill, outline, halo, truth = contour_sets(axes[0, 1])
    assert fill.get_alpha() <= 0.5 and to_hex(fill.get_facecolor()[0]) == to_hex(outline.get_edgecolor()[0])
    assert to_hex(truth.get_edgecolor()[0]) == "#00e5ff" and to_hex(halo.get_edgecolor()[0]) == "#000000"
    assert truth.get_linewidth()[0] >= 2 * outline.get_linewidth()[0]
    assert truth.get_zorder() > halo.get_zorder() > max(fill.get_zorder(), outline.get_zorder())
    assert fig._suptitle is None and [t.get_text() for t in fig.legends[0].get_texts()] == [
        "ground truth ∂G", "prediction"]


def test_fig4_ground_truth_is_visible_over_the_prediction_at_256_pixels():
    """Render a 256² case and read the pixels: along the whole true contour, the truth's cyan is
    there even where the prediction's outline and fill lie; inside the prediction, the image shows
    through its fill (alpha-blended, by hand: 0.35 orange over black)."""
    rows, cols = np.mgrid[:256, :256]
    truth = np.hypot(rows - 128, cols - 128) < 60
    prediction = np.hypot(rows - 128, cols - 148) < 60         # crosses ∂G twice, covers most of it
    image = np.zeros((256, 256), np.uint8)
    image[0, 0] = 255                                          # black everywhere in the panels' middle
    fig = qualitative.plot_qualitative_cases(image[None], truth[None], {"ce": prediction[None]}, title="BUSI")
    assert fig._suptitle.get_text() == "BUSI"
    fig.set_dpi(100)
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    height = rgb.shape[0]
    ax = fig.axes[1]
    box = ax.get_window_extent()
    assert min(box.width, box.height) >= 256                   # a screen pixel per image pixel at 100 dpi

    def pixel(row, col):
        x, y = ax.transData.transform((col, row))
        return int(round(height - y)), int(round(x))

    theta = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    cyan = np.array([0x00, 0xE5, 0xFF])
    for t in theta:
        r, c = pixel(127.5 + 59.5 * np.sin(t), 127.5 + 59.5 * np.cos(t))
        window = rgb[r - 2:r + 3, c - 2:c + 3].reshape(-1, 3)
        assert np.min(np.abs(window - cyan).sum(axis=1)) <= 30, f"∂G hidden at θ = {np.degrees(t):.0f}°"
    r, c = pixel(128, 198)                                     # in the prediction only, far from both contours
    expected = 0.35 * np.array([0xFF, 0x7F, 0x00])             # orange at alpha 0.35 over black
    np.testing.assert_allclose(rgb[r, c], expected, atol=3)


def test_fig4_rejects_inconsistent_shapes():
    images, truths, predictions = cases()
    with pytest.raises(ValueError, match="predictions"):
        qualitative.plot_qualitative_cases(images, truths, {"ce": predictions["ce"][:1]})
    with pytest.raises(ValueError, match="truths"):
        qualitative.plot_qualitative_cases(images, truths[:, :20], predictions)
    with pytest.raises(ValueError, match="row titles"):
        qualitative.plot_qualitative_cases(images, truths, predictions, row_titles=["one"])
