"""Tests of notebook 2's figures in bl_utils.plots: they draw what they claim (the arrows of eq. 1,
the region ΔS of eq. 2, the explorer's per-pixel maps) and save as PNG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.image import AxesImage
from matplotlib.text import Annotation

from bl_utils import plots, widgets
from bl_utils.widgets import Disk
from test_widgets import fake_dataset


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("s", [Disk((54, 70), 36), Disk((60, 60), 26), Disk((63, 57), 32)])
def test_fig1_draws_the_normals_and_the_region(s):
    g = Disk((60, 60), 32)
    fig = plots.plot_boundary_loss_views(g, s, n_normals=12, resolution=200)
    ax_a, ax_b = fig.axes[:2]
    assert "differential" in ax_a.get_title() and "integral" in ax_b.get_title()
    # (a): one arrow per normal, from p to y_∂S(p)
    arrows = [t for t in ax_a.texts if isinstance(t, Annotation) and t.arrow_patch is not None and not t.get_text()]
    assert len(arrows) == 12
    p, y = widgets.normal_correspondences(g, s, 12)
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


def test_loss_explorer_figure_shows_the_state_maps(tmp_path):
    state = widgets.explore(fake_dataset(), 1, alpha=0.3, shift=(1, 2), blur=1.0)
    fig = plots.plot_loss_explorer(state)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 5
    shown = [next(im for im in ax.get_images() if isinstance(im, AxesImage)).get_array() for ax in panels]
    np.testing.assert_array_equal(shown[0], state.image)
    np.testing.assert_allclose(shown[1], state.phi)
    for array, key in zip(shown[2:], ("ce", "boundary", "total")):
        np.testing.assert_allclose(array, state.maps[key])
    assert f"{state.numbers['total']:.3g}" in panels[4].get_title()
    assert state.title in fig._suptitle.get_text()
    path = plots.save_figure(fig, "fig2_test", folder=tmp_path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_loss_explorer_figure_on_an_empty_mask():
    # no tumour and no prediction: nothing to outline, the figure still draws
    fig = plots.plot_loss_explorer(widgets.explore(fake_dataset(), 3, shift=(0, 0), blur=0.0, confidence=1.0))
    assert len([ax for ax in fig.axes if ax.get_title()]) == 5
