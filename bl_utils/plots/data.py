"""Notebook 1's figures: example images, Figure 3 (tumour surface fraction and the selection cuts), image sizes, duplicate pairs."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.ticker import PercentFormatter

from ..data.manifest import FROM_FILES, FROM_MANIFEST
from .style import name_figure, title_size

__all__ = ["plot_examples", "plot_tumour_fraction_hist", "size_source_line", "plot_image_sizes", "plot_duplicate_pairs"]


_CLASS_COLOURS = {"benign": "#1b9e77", "malignant": "#d95f02", "normal": "#7570b3"}


def _class_colour(label: str, k: int = 0):
    return _CLASS_COLOURS.get(label, plt.get_cmap("tab10")(k % 10))


def plot_examples(dataset, indices, ncols: int | None = None, size: float = 2.6, title: str | None = None):
    """A grid of images ``dataset.images[i]`` for ``i`` in ``indices`` with their tumour masks
    (red, semi-transparent, outlined), titled ``stem · tumour fraction``; ``title`` above the
    grid. Returns the figure."""
    indices = [int(i) for i in indices]
    ncols = ncols or min(len(indices), 6)
    nrows = max(1, -(-len(indices) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False,
                             constrained_layout=True)
    red = ListedColormap([(0, 0, 0, 0), (1.0, 0.1, 0.1, 0.35)])
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, indices):
        row = dataset.meta.iloc[i]
        mask = np.asarray(dataset.masks[i], bool)
        ax.imshow(dataset.images[i], cmap="gray", vmin=0, vmax=255)
        if mask.any():
            ax.imshow(mask, cmap=red, vmin=0, vmax=1, interpolation="nearest")
            ax.contour(mask.astype(float), levels=[0.5], colors="red", linewidths=0.8)
        ax.set_title(f"{row.stem} · {100 * row.tumour_fraction:.1f} %", color=_class_colour(row.label))
    name_figure(fig, title)
    return fig


#: Line styles of Figure 3's cuts, in increasing order of the cuts.
_CUT_STYLES = ("--", ":", "-.", (0, (6, 2, 1, 2, 1, 2)))


def _cuts(threshold: float, thresholds) -> dict[float, str]:
    """``{cut: description}`` of :func:`plot_tumour_fraction_hist`, ascending; ``ValueError`` outside (0, 1]."""
    if thresholds is None:
        thresholds = (threshold,)
    elif np.isscalar(thresholds):
        thresholds = (thresholds,)
    items = thresholds.items() if isinstance(thresholds, dict) else ((t, "") for t in thresholds)
    cuts = {float(cut): str(what or "") for cut, what in sorted(items)}
    if not cuts or any(not 0 < cut <= 1 for cut in cuts):
        raise ValueError(f"plot_tumour_fraction_hist: cuts must be fractions in (0, 1], got {list(cuts)}")
    return cuts


def _fraction_edges(top: float, cuts, bins: int) -> np.ndarray:
    """Bin edges (fractions) from 0 to at least ``top``, about ``bins`` of them, whose width divides
    every cut (to 0.01 %): no bin straddles a cut line. A cut is the edge ``k * width`` itself, so
    an image at a cut falls right of its line, as the strict rule ``< cut`` says."""
    base = math.gcd(*(max(1, round(cut * 10_000)) for cut in cuts))    # in 0.01 % steps
    per = max(1, round(bins * base / 10_000 / top))
    count = max(1, math.ceil(top * 10_000 * per / base - 1e-9))
    return np.arange(count + 1) * base / per / 10_000


def _draw_cuts(ax, fractions: np.ndarray, cuts: dict[float, str]) -> None:
    """One vertical line per cut, its legend entry and, above it, how many tumour images it keeps."""
    with_tumour = fractions > 0
    n_tumour, n_empty = int(with_tumour.sum()), int((~with_tumour).sum())
    for k, (cut, what) in enumerate(cuts.items()):
        below = int(np.sum(with_tumour & (fractions < cut)))
        share = f"{below} of {n_tumour} tumour images"
        share += f", {below + n_empty} of {len(fractions)} images" if n_empty else ""
        ax.axvline(cut, color="k", ls=_CUT_STYLES[k % len(_CUT_STYLES)], lw=1.5,
                   label=f"< {100 * cut:g} %{f' ({what})' if what else ''}: {share}")
        ax.annotate(f"{below}", (cut, 1), xycoords=("data", "axes fraction"), xytext=(0, -3),
                    textcoords="offset points", ha="center", va="top", fontsize=10, fontweight="bold",
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="k", lw=0.6))


def plot_tumour_fraction_hist(fractions, threshold: float = 0.05, labels=None, bins: int = 40,
                              title: str | None = None, thresholds=None):
    """Figure 3 of the paper: the histogram of the tumour surface fraction, with the cuts marked.

    ``fractions``: one value per image in [0, 1] (``meta.tumour_fraction``); the images with a
    tumour (fraction > 0: benign and malignant, 647 on BUSI) are drawn, stacked in colour by
    ``labels`` (optional classes); those without (fraction 0, the normal class) are counted in the
    legend. ``thresholds``: the cuts to mark, a sequence of fractions or ``{fraction: what it
    is}``, e.g. ``{0.05: "the paper's text", 0.10: "their code"}``; ``None`` marks ``threshold``
    alone. Each cut is a vertical line, with in the legend the tumour images strictly below it
    (and all images, those without tumour included), and that count in a box at the top of the
    line. ``bins``: about how many bins, of a width that divides every cut. ``title``: above the
    figure. Raises ``ValueError`` for a cut outside (0, 1]. Returns the figure.
    """
    cuts = _cuts(threshold, thresholds)
    fractions = np.asarray(fractions, float)
    labels = np.asarray(labels if labels is not None else ["images with a tumour"] * len(fractions)).astype(str)
    with_tumour = fractions > 0
    edges = _fraction_edges(max(float(fractions.max(initial=0)), max(cuts)), cuts, bins)
    fig, ax = plt.subplots(figsize=(8, 4.4), constrained_layout=True)
    groups = [c for c in dict.fromkeys(labels) if np.any(with_tumour & (labels == c))]
    if groups:
        ax.hist([fractions[with_tumour & (labels == c)] for c in groups], bins=edges, stacked=True,
                color=[_class_colour(c, k) for k, c in enumerate(groups)], label=groups, edgecolor="white",
                linewidth=0.4)
    _draw_cuts(ax, fractions, cuts)
    n_empty = int(np.sum(~with_tumour))
    if n_empty:
        ax.plot([], [], " ", label=f"{n_empty} image{'s' if n_empty > 1 else ''} without tumour (fraction 0, kept)")
    ax.set_ylim(0, 1.15 * max([p.get_y() + p.get_height() for p in ax.patches] + [1]))
    ax.xaxis.set_major_formatter(PercentFormatter(1, decimals=0))
    ax.set(xlabel="tumour surface fraction (% of the image)", ylabel="images", xlim=(0, edges[-1]),
           title=f"Tumour size: share of the image the tumour covers ({int(with_tumour.sum())} images with a tumour)")
    ax.legend(frameon=False, fontsize=9, loc="upper right")
    name_figure(fig, title)
    return fig


def size_source_line(meta) -> str:
    """Where the sizes of ``meta`` (``UltrasoundDataset.meta``) come from, in words, from its ``size_source``
    column (:mod:`bl_utils.data.manifest`): the data folder's manifest, or the image files themselves."""
    sources = meta["size_source"].value_counts().sort_index() if "size_source" in meta else {}
    if len(sources) > 1:
        return "sizes from " + " and ".join(f"{s} ({n} image{'s' * (n > 1)})" for s, n in sources.items())
    if FROM_MANIFEST in sources:
        return "sizes from the data folder's manifest.csv (its image files are resized)"
    if FROM_FILES in sources:
        sizes = set(zip(meta.orig_width, meta.orig_height))
        if len(sizes) == 1:
            (w, h), = sizes
            return f"sizes of the image files: all {w} × {h} (resized? no manifest.csv gives the originals)"
        return "sizes read from the image files (the originals)"
    return "sizes as given (no size_source column)"


def plot_image_sizes(meta, title: str | None = None):
    """The image sizes as the scanner stored them: width against height, one colour per class.

    ``meta``: :attr:`UltrasoundDataset.meta <bl_utils.data.dataset.UltrasoundDataset.meta>` (``label``,
    ``orig_width``, ``orig_height`` and ``size_source``, which the loader sets from the data
    folder's ``manifest.csv`` when it has one, else from the image files). The axes' title says
    which source the sizes come from (:func:`size_source_line`); ``title`` goes above the figure.
    Returns the figure.
    """
    fig, ax = plt.subplots(figsize=(6, 4.4), constrained_layout=True)
    for k, (label, rows) in enumerate(meta.groupby("label", sort=True)):
        ax.scatter(rows.orig_width, rows.orig_height, s=12, alpha=0.6, color=_class_colour(label, k),
                   label=f"{label} ({len(rows)})")
    ax.set(xlabel="original width (pixels)", ylabel="original height (pixels)",
           title=f"Image sizes as stored by the scanner\n{size_source_line(meta)}")
    ax.legend(frameon=False, fontsize=9)
    name_figure(fig, title)
    return fig


def plot_duplicate_pairs(dataset, pairs, n: int = 3, size: float = 2.4, title: str | None = None):
    """The first ``n`` rows of ``pairs`` (:func:`bl_utils.data.duplicates.find_duplicates`, or any table with
    ``i, j`` and a ``caption`` column) in one row, each pair side by side under its hash distance (or its
    caption); ``title`` above them. Returns the figure."""
    rows = pairs.head(n)
    count = max(1, len(rows))
    fig = plt.figure(figsize=(2.15 * size * count, size + 0.6), layout="constrained")
    panels = fig.subfigures(1, count, squeeze=False, wspace=0.04)[0]
    for panel, (_, pair) in zip(panels, rows.iterrows()):
        axes = panel.subplots(1, 2)
        for ax, i in zip(axes, (pair.i, pair.j)):
            ax.imshow(dataset.images[int(i)], cmap="gray", vmin=0, vmax=255)
            ax.set_title(dataset.meta.stem.iloc[int(i)])
            ax.axis("off")
        caption = pair.caption if "caption" in pair else (
            "pixel-identical" if pair.identical else f"dHash distance {pair.distance}")
        panel.suptitle(caption, fontsize=title_size())
    name_figure(fig, title)
    return fig
