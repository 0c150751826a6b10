"""Figures of the report: one function per figure, and :func:`save_figure` to write them.

Every figure the notebooks show is drawn here and saved with :func:`save_figure` into
``figures/<name>.png``, with a name that says which paper figure it is
(``fig3_tumour_fraction_hist``, ``fig1_boundary_loss_views``, ...). Each figure function takes an
optional ``title``, shown above the figure, with which the caller names its data (``"BUSI"``,
``"synthetic"``). What notebook 2's figures show is computed in :mod:`bl_utils.explorer`; this
module only draws (imports go ``widgets → plots → explorer``, never back).
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.patches import Rectangle
from matplotlib.ticker import PercentFormatter
from PIL import Image

from .explorer import Disk, ExplorerState, normal_correspondences, summary_lines, zoom_window
from .manifest import FROM_FILES, FROM_MANIFEST
from .plots_results import (STRATEGY_COLOURS, clear_ticks, name_figure, plot_components_comparison,
                            plot_qualitative_cases, plot_training_curves, title_size)
from .plots_study import (plot_ablations, plot_annotation_noise, plot_corruption_examples,
                          plot_robustness_curves, plot_table1_seeds)
from .runtime import atomic_write, project_root

__all__ = ["PNG_METADATA", "STRATEGY_COLOURS", "plot_boundary_loss_views", "plot_components_comparison",
           "plot_duplicate_pairs", "plot_examples", "plot_image_sizes", "plot_loss_explorer",
           "plot_qualitative_cases", "plot_tumour_fraction_hist", "plot_training_curves", "save_figure",
           "plot_table1_seeds", "plot_ablations", "plot_robustness_curves", "plot_annotation_noise",
           "plot_corruption_examples"]

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


# --- Notebook 2: Φ_G and the boundary loss ---------------------------------------------------

_G_COLOUR, _S_COLOUR = "#1f4e9c", "#d95f02"


def _symmetric_norm(values) -> Normalize:
    """A colour norm centred on 0 for a signed map (Φ_G, φ·s): blue < 0 < red."""
    bound = float(np.max(np.abs(values))) or 1.0
    return Normalize(vmin=-bound, vmax=bound)


def _disk_contours(ax, g: Disk, s: Disk, lo, hi) -> None:
    """∂G (solid) and ∂S (dashed) on ``ax``, framed on the box ``lo``–``hi`` (rows grow downwards)."""
    for disk, colour, style, label in ((g, _G_COLOUR, "-", "∂G"), (s, _S_COLOUR, "--", "∂S")):
        p, _ = disk.contour(720)
        ax.plot(np.append(p[:, 1], p[0, 1]), np.append(p[:, 0], p[0, 0]), style, color=colour, lw=2.2,
                label=label)
    ax.set_xlim(lo[1], hi[1])
    ax.set_ylim(hi[0], lo[0])
    ax.set_aspect("equal")
    clear_ticks(ax)


def _draw_differential_view(ax, g: Disk, s: Disk, n_normals: int):
    """Panel (a): one arrow ``p → y_∂S(p)`` per normal; returns ``(p, y, k, direction)`` with ``k``
    the longest normal and ``direction`` its unit vector, where panel (b) draws its point ``q``."""
    p, y = normal_correspondences(g, s, n_normals)
    for start, end in zip(p, y):
        ax.annotate("", xy=(end[1], end[0]), xytext=(start[1], start[0]),
                    arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.0, shrinkA=0, shrinkB=0))
    k = int(np.argmax(np.sum((y - p) ** 2, axis=1)))
    ax.plot([p[k, 1]], [p[k, 0]], "o", color=_G_COLOUR, ms=7)
    ax.plot([y[k, 1]], [y[k, 0]], "o", color=_S_COLOUR, ms=7)
    direction = (y[k] - p[k]) / (np.linalg.norm(y[k] - p[k]) or 1.0)
    ax.annotate("$p$", (p[k, 1], p[k, 0]), xytext=(-14 * direction[1], 14 * direction[0]),
                textcoords="offset points", ha="center", va="center", fontsize=14, color=_G_COLOUR)
    ax.annotate(r"$y_{\partial S}(p)$", (y[k, 1], y[k, 0]), xytext=(22 * direction[1], -16 * direction[0]),
                textcoords="offset points", ha="center", va="center", fontsize=14, color=_S_COLOUR)
    ax.legend(loc="lower left", fontsize=11, frameon=False)
    ax.set_title(r"(a) differential view: $\int_{\partial G} \|y_{\partial S}(p) - p\|^2\,dp$", fontsize=12)
    return p, y, k, direction


def _draw_region_distance(fig, ax, g: Disk, s: Disk, lo, hi, resolution: int) -> None:
    """Panel (b)'s image: ΔS coloured by ``D_G`` (viridis, with a colour bar), D_G faint elsewhere."""
    rows, cols = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    signed = np.hypot(rr - g.center[0], cc - g.center[1]) - g.radius
    region = (signed <= 0) != (np.hypot(rr - s.center[0], cc - s.center[1]) <= s.radius)
    dist = np.abs(signed)
    extent = (lo[1], hi[1], hi[0], lo[0])
    ax.imshow(np.where(region, np.nan, dist), extent=extent, cmap="Greys", vmin=0, vmax=3 * dist.max(),
              interpolation="bilinear")
    shown = ax.imshow(np.where(region, dist, np.nan), extent=extent, cmap="viridis", vmin=0,
                      vmax=dist[region].max() if region.any() else 1, interpolation="nearest")
    fig.colorbar(shown, ax=ax, shrink=0.8, label=r"$D_G(q)$, distance to $\partial G$ (pixels)")


def _draw_integral_view(fig, ax, g: Disk, s: Disk, lo, hi, resolution: int, normal) -> None:
    """Panel (b): ΔS coloured by D_G, the contours, and a point ``q`` on panel (a)'s longest normal."""
    p, y, k, direction = normal
    _draw_region_distance(fig, ax, g, s, lo, hi, resolution)
    _disk_contours(ax, g, s, lo, hi)
    q = p[k] + 0.6 * (y[k] - p[k])
    ax.plot([q[1], p[k, 1]], [q[0], p[k, 0]], "-", color="white", lw=2)
    ax.plot([q[1]], [q[0]], "o", color="white", ms=6, mec="k")
    ax.annotate("$q$", (q[1], q[0]), xytext=(12 * direction[1], -12 * direction[0]),
                textcoords="offset points", ha="center", va="center", fontsize=13)
    middle = (q + p[k]) / 2
    ax.annotate(r"$D_G(q)$", (middle[1], middle[0]), xytext=(-30 * direction[0], -30 * direction[1]),
                textcoords="offset points", ha="center", va="center", fontsize=12,
                arrowprops=dict(arrowstyle="-", color="k", lw=0.8),
                bbox=dict(boxstyle="round,pad=0.2", fc="white", alpha=0.85, lw=0))
    ax.set_title(r"(b) integral view: $2\int_{\Delta S} D_G(q)\,dq$", fontsize=12)


def plot_boundary_loss_views(g: Disk, s: Disk, n_normals: int = 18, resolution: int = 500,
                             title: str | None = None):
    """Figure 1 of the paper on two analytic disks ``g`` (G) and ``s`` (S) (:class:`bl_utils.explorer.Disk`).

    (a) the differential view: ∂G, ∂S and, for ``n_normals`` points ``p ∈ ∂G``, the normal segment
    to ``y_∂S(p)`` (eq. 1 integrates its squared length); (b) the integral view: the region ΔS
    between the contours coloured by ``D_G(q)``, the distance to ∂G (eq. 2 integrates it), with
    one point ``q`` and its distance drawn. ``resolution``: samples per side of panel (b);
    ``title``: shown above both panels. Returns the figure.
    """
    c_g, c_s = np.asarray(g.center, float), np.asarray(s.center, float)
    lo = np.minimum(c_g - g.radius, c_s - s.radius) - 0.25 * g.radius
    hi = np.maximum(c_g + g.radius, c_s + s.radius) + 0.25 * g.radius
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 5.0), constrained_layout=True)
    _disk_contours(axes[0], g, s, lo, hi)
    normal = _draw_differential_view(axes[0], g, s, n_normals)
    _draw_integral_view(fig, axes[1], g, s, lo, hi, resolution, normal)
    name_figure(fig, title)
    return fig


#: Font sizes of the explorer's static figure: legible at a notebook's width (~900 px). Titles are
#: never smaller than the axis labels of the rcParams in use (see :func:`_explorer_fonts`).
_EXPLORER_FONT = {"title": 11, "text": 10, "ticks": 9, "suptitle": 12}


def _explorer_fonts() -> dict[str, float]:
    """:data:`_EXPLORER_FONT` in points, raised so that the colour-bar labels are at least the
    axis-label size of the current rcParams (``axes.labelsize``) and every title (panel and figure)
    at least as large as those labels."""
    size = matplotlib.rcParams["axes.labelsize"]               # points, or "medium" etc. (× font.size)
    rc_label = matplotlib.font_manager.FontProperties(size=size).get_size_in_points()
    label = max(float(rc_label), _EXPLORER_FONT["text"])
    title = max(float(_EXPLORER_FONT["title"]), label)
    return {"title": title, "suptitle": max(float(_EXPLORER_FONT["suptitle"]), title), "label": label,
            "text": _EXPLORER_FONT["text"], "ticks": _EXPLORER_FONT["ticks"]}


def _explorer_outline(ax, state: ExplorerState, window, what=("g", "s"), zoom: bool = True) -> None:
    """∂G (green) and/or ∂S_θ (orange) on ``ax``, zoomed on ``window = (r0, r1, c0, c1)``."""
    delta = state.settings.get("delta", 0.5)
    if "g" in what and state.mask.any() and not state.mask.all():
        ax.contour(state.mask.astype(float), levels=[0.5], colors="#1a9850", linewidths=1.5)
    if "s" in what and state.prob.min() < delta <= state.prob.max():
        ax.contour(state.prob, levels=[delta], colors="#ff7f00", linewidths=1.5)
    if zoom:
        r0, r1, c0, c1 = window
        ax.set_xlim(c0 - 0.5, c1 - 0.5)
        ax.set_ylim(r1 - 0.5, r0 - 0.5)
    clear_ticks(ax)


def _explorer_colorbar(fig, shown, ax, label: str | None = None) -> None:
    bar = fig.colorbar(shown, ax=ax, shrink=0.85)
    bar.ax.tick_params(labelsize=_EXPLORER_FONT["ticks"])
    if label:
        bar.set_label(label, fontsize=_explorer_fonts()["label"])


def _explorer_bound(state: ExplorerState, key: str, part) -> float:
    """The colour bound of map ``key``: the state's own (fixed over α), else the largest ``|part|``."""
    return state.bounds.get(key) or float(np.max(np.abs(part), initial=0.0)) or 1.0


def _draw_explorer_image(ax, state: ExplorerState, window) -> None:
    """The whole image with ∂G, ∂S_θ and the zoomed window (dashed)."""
    r0, r1, c0, c1 = window
    ax.imshow(state.image, cmap="gray")
    _explorer_outline(ax, state, window, zoom=False)
    if (r1 - r0, c1 - c0) != state.mask.shape:
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, ec="w", ls="--", lw=1))
    ax.set_title("image\n∂G (green) · ∂S_θ (orange)", fontsize=_explorer_fonts()["title"])


def _draw_explorer_phi(fig, ax, state: ExplorerState, window) -> None:
    """Φ_G zoomed (blue inside G, red outside) with S_θ hatched."""
    r0, r1, c0, c1 = window
    bound = _explorer_bound(state, "phi", state.phi[r0:r1, c0:c1])
    shown = ax.imshow(state.phi, cmap="RdBu_r", norm=_symmetric_norm(bound))
    if state.segmentation.any():
        ax.contourf(state.segmentation.astype(float), levels=[0.5, 1.5], colors="none", hatches=["///"])
    _explorer_outline(ax, state, window)
    _explorer_colorbar(fig, shown, ax)
    unit = "÷ image side" if state.settings.get("phi_scale") == "image" else "pixels"
    delta = state.settings.get("delta", 0.5)
    ax.set_title(f"Φ_G ({unit})\nS_θ = {{s ≥ {delta:.2f}}} hatched", fontsize=_explorer_fonts()["title"])


def _draw_explorer_terms(fig, axes, state: ExplorerState, window) -> None:
    """w_CE·CE, w_B·Φ_G·s and their sum, zoomed, each titled with its mean over the whole image and
    drawn on the colour scale of ``state.bounds``, which α does not move: sliding α changes the
    colours, not only the colour bars' numbers (see :func:`bl_utils.explorer.colour_bounds`)."""
    r0, r1, c0, c1 = window
    n = state.numbers
    fixed = "scale fixed over α" if state.bounds else None
    panels = (("ce", f"w_CE·CE\nmean {n['w_ce'] * n['CE']:.3g}", "magma"),
              ("boundary", f"w_B·Φ_G·s\nmean {n['w_b'] * n['L_B']:.3g}", "RdBu_r"),
              ("total", f"sum\nmean = loss {n['total']:.3g}", "RdBu_r"))
    for ax, (key, title, cmap) in zip(axes, panels):
        values = state.maps[key]
        bound = _explorer_bound(state, key, values[r0:r1, c0:c1])
        if cmap == "magma":
            shown = ax.imshow(values, cmap=cmap, vmin=0, vmax=bound)
        else:
            shown = ax.imshow(values, cmap=cmap, norm=_symmetric_norm(bound))
        _explorer_outline(ax, state, window, ("g",))
        _explorer_colorbar(fig, shown, ax, fixed)
        ax.set_title(title, fontsize=_explorer_fonts()["title"])


def _draw_explorer_numbers(ax, state: ExplorerState) -> None:
    """The numbers of :func:`bl_utils.explorer.summary_lines` and the candidate's settings, as text."""
    st = state.settings
    unused = "  (no effect for ce)" if st.get("strategy") == "ce" else ""
    lines = [*summary_lines(state), "",
             f"α = {st.get('alpha', float('nan')):.2f}{unused},  δ = {st.get('delta', float('nan')):.2f}",
             f"s: shift {tuple(st.get('shift', ()))} px, dilation {st.get('dilation')} px",
             f"   blur σ {st.get('blur')} px, max prob {st.get('confidence')}"]
    ax.text(0.0, 1.0, "\n".join(lines), transform=ax.transAxes, va="top", ha="left",
            fontsize=_EXPLORER_FONT["text"], linespacing=1.5)
    ax.axis("off")


def plot_loss_explorer(state: ExplorerState, title: str | None = None):
    """The loss explorer's view of one :class:`bl_utils.explorer.ExplorerState`, 9.6 in wide.

    Two rows of three panels: the whole image with ∂G (green), ∂S_θ (orange) and the zoomed
    window (dashed); Φ_G zoomed (blue inside G, red outside) with S_θ hatched; the numbers
    (weights, CE, L_B, total loss, Dice) and settings as text; then, zoomed on the tumour and the
    prediction, the per-pixel w_CE·CE, w_B·Φ_G·s and their sum, each titled with its mean over the
    whole image (the term's value in the loss). Above: ``title`` (the caller's name for the data)
    and the image's title. Returns the figure.

    The maps use ``state.bounds`` (:func:`bl_utils.explorer.colour_bounds`): colour scales that do
    not move with α, one per panel, so that the colours show the weights: a reader comparing two
    α sees the CE fade and L_B darken, not two identical pictures under different colour bars (what
    scaling each panel to its own maximum showed). A state without ``bounds`` (built by hand) is
    scaled panel by panel. Titles are at least the rcParams' axis-label size.
    """
    window = state.window or zoom_window(state.mask, state.segmentation)
    fig, axes = plt.subplots(2, 3, figsize=(9.6, 7.2), constrained_layout=True)
    _draw_explorer_image(axes[0, 0], state, window)
    _draw_explorer_phi(fig, axes[0, 1], state, window)
    _draw_explorer_numbers(axes[0, 2], state)
    _draw_explorer_terms(fig, axes[1], state, window)
    fig.suptitle(f"{title} — {state.title}" if title else state.title, fontsize=_explorer_fonts()["suptitle"])
    return fig


# --- Notebook 1: the data (BUSI or its synthetic stand-in) ------------------------------------

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
    """Where the sizes of ``meta`` (``BusiDataset.meta``) come from, in words, from its ``size_source``
    column (:mod:`bl_utils.manifest`): the data folder's manifest, or the image files themselves."""
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

    ``meta``: :attr:`BusiDataset.meta <bl_utils.dataset.BusiDataset.meta>` (``label``,
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
    """The first ``n`` rows of ``pairs`` (:func:`bl_utils.data.find_duplicates`) in one row, each
    pair side by side under its hash distance; ``title`` above them. Returns the figure."""
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
        panel.suptitle("pixel-identical" if pair.identical else f"dHash distance {pair.distance}",
                       fontsize=title_size())
    name_figure(fig, title)
    return fig
