"""Notebook 2's figures: Kervadec et al.'s Figure 1 on two disks, and the loss explorer's static view."""

from __future__ import annotations


import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize, SymLogNorm
from matplotlib.patches import Rectangle

from ..disks import Disk, normal_correspondences
from ..explorer import ExplorerState, summary_lines, zoom_window
from .style import clear_ticks, name_figure

__all__ = ["plot_boundary_loss_views", "plot_loss_explorer"]


_G_COLOUR, _S_COLOUR = "#1f4e9c", "#d95f02"

#: Decades the explorer's loss-term maps show below their colour bound: each is drawn on a symmetric
#: logarithmic scale, linear within bound × 10^−TERM_DECADES of 0. On a linear scale fixed over α the
#: sum at α = 1 (bound ≈ 4–7, the CE near ∂G) drew L_B (≈ 0.1 inside G) in the neutral colour, and
#: a term at weight 0.01 vanished; on this scale both show, and a tenfold weight is one step of
#: colour (a third of a side's range).
TERM_DECADES = 3


def _term_norm(bound: float, signed: bool) -> SymLogNorm:
    """The colour norm of a loss-term map: ``[−bound, bound]`` (``[0, bound]`` unsigned), logarithmic
    over :data:`TERM_DECADES` decades, linear below ``bound × 10^−TERM_DECADES``."""
    return SymLogNorm(linthresh=bound * 10.0 ** -TERM_DECADES, linscale=1.0,
                      vmin=-bound if signed else 0.0, vmax=bound, base=10)


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
    colours, not only the colour bars' numbers (see :func:`bl_utils.explorer.colour_bounds`). The
    scales are logarithmic (:data:`TERM_DECADES`), so that each panel shows its term at every α."""
    r0, r1, c0, c1 = window
    n = state.numbers
    fixed = "log scale, fixed over α" if state.bounds else "log scale"
    panels = (("ce", f"w_CE·CE\nmean {n['w_ce'] * n['CE']:.3g}", "magma"),
              ("boundary", f"w_B·Φ_G·s\nmean {n['w_b'] * n['L_B']:.3g}", "RdBu_r"),
              ("total", f"sum\nmean = loss {n['total']:.3g}", "RdBu_r"))
    for ax, (key, title, cmap) in zip(axes, panels):
        values = state.maps[key]
        bound = _explorer_bound(state, key, values[r0:r1, c0:c1])
        shown = ax.imshow(values, cmap=cmap, norm=_term_norm(bound, signed=cmap != "magma"))
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
