"""Tests of notebook 1's figures in bl_utils.plots: Figure 3 marks each cut with the number of tumour
images strictly below it (counted by hand here), and the image-size figure says where its sizes come
from (the data folder's manifest.csv, or the image files); every data-exploration figure draws a hand-made
BUSI-like folder."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import re

import numpy as np
import pytest
from matplotlib.text import Annotation

from bl_utils.data import busi as data
from bl_utils.data import duplicates
from bl_utils.plots import data as data_plots
from helpers import FRACTIONS, LABELS, sizes_meta


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def cut_counts(ax) -> dict[int, tuple[int, ...]]:
    """Each cut's legend entry, in legend order: percent -> its "k of n" counts (tumour images, then
    all images when the figure shows normal ones)."""
    counts = {}
    for text in legend_texts(ax):
        if cut := re.match(r"< (\d+) %", text):
            counts[int(cut.group(1))] = tuple(int(n) for pair in re.findall(r"(\d+) of (\d+)", text) for n in pair)
    return counts


def legend_entry(ax, pattern: str) -> str:
    """The one legend entry that ``pattern`` (a regex) matches at its start."""
    (entry,) = [t for t in legend_texts(ax) if re.match(pattern, t)]
    return entry


def count_boxes(ax) -> dict[float, str]:
    """The boxed counts at the top of the cut lines: x (data) -> text."""
    return {round(float(t.xy[0]), 6): t.get_text() for t in ax.texts if isinstance(t, Annotation)}


def test_fig3_marks_both_cuts_with_their_counts_of_tumour_images():
    fig = data_plots.plot_tumour_fraction_hist(FRACTIONS, labels=LABELS, title="Figure 3",
                                          thresholds={0.05: "the paper's text", 0.10: "their code"})
    (ax,) = fig.axes
    assert cut_counts(ax) == {5: (2, 8, 4, 10), 10: (5, 8, 7, 10)}
    assert "the paper's text" in legend_entry(ax, "< 5 %") and "their code" in legend_entry(ax, "< 10 %")
    assert "kept" in legend_entry(ax, r"2 images without tumour")
    assert count_boxes(ax) == {0.05: "2", 0.1: "5"}
    lines = [line for line in ax.get_lines() if line.get_label().startswith("<")]
    assert [line.get_xdata()[0] for line in lines] == [0.05, 0.10]
    assert len({str(line.get_linestyle()) for line in lines}) == 2         # told apart by their style
    # the bars: every tumour image once, none straddling a cut, an image at a cut right of its line
    bars = [p for p in ax.patches if p.get_height() > 0]
    assert sum(p.get_height() for p in bars) == 8
    edges = sorted({round(e, 12) for p in ax.patches for e in (p.get_x(), p.get_x() + p.get_width())})
    assert 0.05 in edges and 0.1 in edges and edges[-1] >= 0.55
    at_cut = [p for p in bars if p.get_x() == 0.05]
    assert at_cut and sum(p.get_height() for p in at_cut) == 1
    assert fig._suptitle.get_text() == "Figure 3"


def test_fig3_thresholds_as_a_sequence_and_the_old_single_threshold_call():
    fig = data_plots.plot_tumour_fraction_hist(FRACTIONS, thresholds=(0.10, 0.05))
    (ax,) = fig.axes
    assert count_boxes(ax) == {0.05: "2", 0.1: "5"}
    assert legend_texts(ax)[0] == "images with a tumour"
    assert list(cut_counts(ax).items()) == [(5, (2, 8, 4, 10)), (10, (5, 8, 7, 10))]   # in order, whatever the call's
    old = data_plots.plot_tumour_fraction_hist(FRACTIONS, 0.05, labels=LABELS)
    assert count_boxes(old.axes[0]) == {0.05: "2"}
    assert cut_counts(old.axes[0]) == {5: (2, 8, 4, 10)}
    # only tumour images: no "images without tumour" line, and the count of all images is left out
    tumours = data_plots.plot_tumour_fraction_hist(FRACTIONS[2:], 0.10)
    assert legend_texts(tumours.axes[0])[0] == "images with a tumour" and len(legend_texts(tumours.axes[0])) == 2
    assert cut_counts(tumours.axes[0]) == {10: (5, 8)}


@pytest.mark.parametrize("cuts", [(0.0,), (0.05, 1.5), ()])
def test_fig3_rejects_cuts_outside_0_1(cuts):
    with pytest.raises(ValueError, match="cuts"):
        data_plots.plot_tumour_fraction_hist(FRACTIONS, thresholds=cuts)


@pytest.mark.parametrize("meta, phrase", [
    (sizes_meta("manifest.csv"), "from the data folder's manifest.csv"),
    (sizes_meta("image files"), "read from the image files"),
    (sizes_meta("image files", (256,) * 3, (256,) * 3), "all 256 × 256"),
    (sizes_meta(["manifest.csv", "image files", "image files"]), "image files (2 images) and manifest.csv (1 image)"),
    (sizes_meta(None), "no size_source column"),
], ids=["manifest", "files", "one-size", "mixed", "unknown"])
def test_image_sizes_say_where_the_sizes_come_from(meta, phrase):
    fig = data_plots.plot_image_sizes(meta, title="BUSI")
    (ax,) = fig.axes
    assert "stored by the scanner" in ax.get_title() and phrase in ax.get_title()
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    np.testing.assert_array_equal(np.sort(points[:, 0]), np.sort(meta.orig_width))
    np.testing.assert_array_equal(np.sort(points[:, 1]), np.sort(meta.orig_height))
    assert legend_texts(ax) == ["benign (1)", "malignant (1)", "normal (1)"]


# --------------------------------------------------------------------------------------------
# The data-exploration figures on a hand-made folder (conftest.py's ``tiny``)


def test_data_figures(tiny):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bl_utils.plots import data as data_plots

    ds = data.load_busi(tiny, image_size=(30, 40), max_tumour_fraction=None, cache_dir=False,
                        distance_maps=False, progress=False)
    fig = data_plots.plot_examples(ds, [0, 3, 5], ncols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["benign (1) · 0.5 %", "malignant (1) · 50.0 %", "normal (1) · 0.0 %"]
    plt.close(fig)
    fig = data_plots.plot_tumour_fraction_hist(ds.meta.tumour_fraction, 0.05, labels=ds.meta.label)
    (ax,) = fig.axes
    assert cut_counts(ax) == {5: (3, 5, 4, 6)}
    assert "kept" in legend_entry(ax, r"1 image without tumour")
    heights = sum(p.get_height() for p in ax.patches if p.get_height() > 0 and p.get_width() > 0)
    assert heights == 5                                   # every tumour image counted once (stacked)
    assert any(np.isclose(0.05, edge) for p in ax.patches for edge in (p.get_x(), p.get_x() + p.get_width()))
    plt.close(fig)
    assert "image files" in data_plots.plot_image_sizes(ds.meta).axes[0].get_title()
    for fig in (data_plots.plot_image_sizes(ds.meta),
                data_plots.plot_duplicate_pairs(ds, duplicates.find_duplicates(ds.images, max_distance=64, hash_size=4)),
                data_plots.plot_duplicate_pairs(ds, duplicates.find_duplicates(ds, max_distance=0).head(0))):
        assert fig.get_axes() is not None
        plt.close(fig)
