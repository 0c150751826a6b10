"""Tests of notebook 2's figures (bl_utils.plots.maths): they draw what they claim (the arrows of
eq. 1, the region ΔS of eq. 2, the explorer's per-pixel maps) at a legible size. save_figure's tests
are in test_plots_style.py."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.image import AxesImage
from matplotlib.text import Annotation, Text
from PIL import Image

from bl_utils import disks, explorer
from bl_utils.disks import Disk
from bl_utils.plots import maths, style


@pytest.mark.parametrize("s", [Disk((54, 70), 36), Disk((60, 60), 26), Disk((63, 57), 32)])
def test_fig1_draws_the_normals_and_the_region(s):
    g = Disk((60, 60), 32)
    fig = maths.plot_boundary_loss_views(g, s, n_normals=12, resolution=200)
    ax_a, ax_b = fig.axes[:2]
    assert "differential" in ax_a.get_title() and "integral" in ax_b.get_title()
    # (a): one arrow per normal, from p to y_∂S(p)
    arrows = [t for t in ax_a.texts if isinstance(t, Annotation) and t.arrow_patch is not None and not t.get_text()]
    assert len(arrows) == 12
    p, y = disks.normal_correspondences(g, s, 12)
    starts = np.array(sorted((a.xyann[1], a.xyann[0]) for a in arrows))
    ends = np.array(sorted((a.xy[1], a.xy[0]) for a in arrows))
    np.testing.assert_allclose(starts, np.array(sorted(map(tuple, p))))
    np.testing.assert_allclose(ends, np.array(sorted(map(tuple, y))))
    # (b): the coloured image is D_G on ΔS and blank elsewhere
    coloured = [im for im in ax_b.get_images() if im.get_cmap().name == "viridis"][0]
    values = np.ma.filled(coloured.get_array(), np.nan)
    x0, x1, y1, y0 = coloured.get_extent()
    rows = np.linspace(y0, y1, values.shape[0])
    cols = np.linspace(x0, x1, values.shape[1])
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    dist = np.hypot(rr - 60, cc - 60) - 32
    region = (dist <= 0) != (np.hypot(rr - s.center[0], cc - s.center[1]) <= s.radius)
    np.testing.assert_array_equal(~np.isnan(values), region)
    np.testing.assert_allclose(values[region], np.abs(dist[region]), atol=1e-9)
    assert fig._suptitle is None


def test_fig1_title_names_the_data():
    fig = maths.plot_boundary_loss_views(Disk((60, 60), 32), Disk((54, 70), 36), resolution=50,
                                         title="analytic disks")
    assert fig._suptitle.get_text() == "analytic disks"


def image_panels(fig):
    """The explorer's image panels (colour bars hold no AxesImage), top to bottom, left to right."""
    panels = [ax for ax in fig.axes if any(isinstance(im, AxesImage) for im in ax.get_images())]
    return sorted(panels, key=lambda ax: (ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start))


def test_loss_explorer_figure_shows_the_state_maps(fake_dataset, tmp_path):
    state = explorer.explore(fake_dataset(), 1, alpha=0.3, shift=(1, 2), blur=1.0)
    fig = maths.plot_loss_explorer(state, title="synthetic")
    panels = image_panels(fig)
    assert len(panels) == 5
    shown = [next(im for im in ax.get_images() if isinstance(im, AxesImage)).get_array() for ax in panels]
    np.testing.assert_array_equal(shown[0], state.image)
    np.testing.assert_allclose(shown[1], state.phi)
    for array, key in zip(shown[2:], ("ce", "boundary", "total")):
        np.testing.assert_allclose(array, state.maps[key])
    assert f"{state.numbers['total']:.3g}" in panels[4].get_title()
    assert fig._suptitle.get_text() == f"synthetic — {state.title}"
    # the numbers panel: every line of summary_lines, as text
    text = "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)
    for line in explorer.summary_lines(state):
        assert line in text
    assert f"L_B = {state.numbers['L_B']:.4g}" in text
    path = style.save_figure(fig, "fig2_test", folder=tmp_path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_loss_explorer_figure_is_legible_at_notebook_width(fake_dataset, tmp_path):
    fig = maths.plot_loss_explorer(explorer.explore(fake_dataset(size=128), 1))
    assert fig.get_size_inches()[0] <= 10
    rows = {ax.get_subplotspec().rowspan.start for ax in image_panels(fig)}
    assert len(rows) == 2                                  # two rows of panels
    fig.canvas.draw()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert len(texts) > 30                                 # titles, tick labels, colour bars, numbers
    small = sorted({(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < 9})
    assert not small
    with Image.open(style.save_figure(fig, "fig2_width", tmp_path, dpi=100)) as png:
        assert png.width <= 1000                           # ~900 px column, a little margin


def test_loss_explorer_figure_on_an_empty_mask(fake_dataset):
    # no tumour and no prediction: nothing to outline, the figure still draws
    fig = maths.plot_loss_explorer(explorer.explore(fake_dataset(), 3, shift=(0, 0), blur=0.0, confidence=1.0))
    assert len(image_panels(fig)) == 5
