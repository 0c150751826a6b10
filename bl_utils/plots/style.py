"""What every figure of the report shares: ``save_figure``, the strategies' colours and markers, legible titles."""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.font_manager import FontProperties
from PIL import Image

from ..runtime import atomic_write, project_root

__all__ = ["PNG_METADATA", "save_figure", "title_size", "figure_titles", "legible_titles", "name_figure", "clear_ticks", "STRATEGY_COLOURS", "STRATEGY_MARKERS"]


#: PNG text chunks of every figure file: none (matplotlib would write its version as ``Software``).
PNG_METADATA = {"Software": None}


def save_figure(fig: "matplotlib.figure.Figure", name: str, folder: str | os.PathLike | None = None,
                dpi: int = 150) -> Path:
    """Save ``fig`` as ``<folder>/<name>.png`` (default folder: ``figures/`` of the checkout).

    The bytes depend on the picture only: no text chunks (no matplotlib version, no date), and
    the Agg renderer draws on one thread, so ``OMP_NUM_THREADS`` and the like change nothing. When
    the file exists and decodes to the same pixels it is left as it is (bytes and date), so
    re-running a notebook does not touch unchanged figures; otherwise it is written under a
    temporary name and renamed, so a figure file is always complete. ``name`` is a bare file stem
    such as ``"fig3_tumour_fraction_hist"`` (a ``.png`` suffix is accepted and kept); ``ValueError``
    otherwise. Returns the path.
    """
    if not name or Path(name).name != name:
        raise ValueError(f"save_figure: name must be a bare file name such as 'fig3_hist', got {name!r}")
    folder = Path(folder) if folder is not None else project_root() / "figures"
    path = folder / (name if name.endswith(".png") else f"{name}.png")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata=PNG_METADATA)
    if not _same_pixels(path, buffer.getvalue()):
        with atomic_write(path, "wb") as handle:
            handle.write(buffer.getvalue())
    return path


def _same_pixels(path: Path, png: bytes) -> bool:
    """Whether the image file ``path`` exists and decodes to the pixels of the PNG bytes ``png``."""
    if not path.is_file():
        return False
    try:
        with Image.open(path) as old_image, Image.open(io.BytesIO(png)) as new_image:
            old, new = np.asarray(old_image.convert("RGBA")), np.asarray(new_image.convert("RGBA"))
    except OSError:                      # not an image (or truncated): replace it
        return False
    return old.shape == new.shape and bool(np.array_equal(old, new))


def _points(size) -> float:
    """A matplotlib font size (points, or a name such as ``"large"``) in points."""
    return FontProperties(size=size).get_size_in_points()


def title_size() -> float:
    """The font size (points) of the report's titles: ``rcParams["axes.titlesize"]``, never below the
    axis labels' ``rcParams["axes.labelsize"]`` (12 and 10 with matplotlib's defaults)."""
    return max(_points(plt.rcParams["axes.titlesize"]), _points(plt.rcParams["axes.labelsize"]))


def _suptitles(fig) -> list:
    """The suptitles of ``fig`` and of its sub-figures, at any depth."""
    own = [fig._suptitle] if fig._suptitle is not None else []
    return own + [t for sub in fig.subfigs for t in _suptitles(sub)]


def figure_titles(fig) -> list:
    """Every title of ``fig``: each Axes' (left, centre, right) and the (sub)figures' suptitles."""
    return [t for ax in fig.get_axes() for t in (ax.title, ax._left_title, ax._right_title)] + _suptitles(fig)


def legible_titles(fig) -> None:
    """Bring every title of ``fig`` (:func:`figure_titles`) up to the size of its largest axis label
    (and at least ``rcParams["axes.labelsize"]``), so no title is smaller than the labels it heads."""
    labels = [_points(plt.rcParams["axes.labelsize"])]
    labels += [label.get_fontsize() for ax in fig.get_axes() for label in (ax.xaxis.label, ax.yaxis.label)]
    for text in figure_titles(fig):
        text.set_fontsize(max(text.get_fontsize(), max(labels)))


def name_figure(fig, title: str | None) -> None:
    """The caller's name for the figure's data, above everything (nothing when ``title`` is None), at
    :func:`title_size`; then :func:`legible_titles`. Every figure function of the report ends here."""
    if title:
        fig.suptitle(title, fontsize=title_size())
    legible_titles(fig)


def clear_ticks(ax) -> None:
    """No ticks on either axis (images)."""
    ax.set_xticks([])
    ax.set_yticks([])


STRATEGY_COLOURS = {"ce": "#4c72b0", "ce+bl": "#dd8452", "ce+ramp": "#55a868", "rebalance": "#c44e52"}


#: One marker per strategy, in the order the strategies appear: with the colour, what tells apart
#: two strategies whose curves coincide.
STRATEGY_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
