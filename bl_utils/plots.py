"""Figures of the report: one function per figure, and :func:`save_figure` to write them.

Every figure the notebooks show is drawn here and saved with :func:`save_figure` into
``figures/<name>.png``, with a name that says which paper figure it is
(``fig3_tumour_fraction_hist``, ``fig1_boundary_loss_views``, ...).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

from .runtime import atomic_write, project_root


def save_figure(fig: "matplotlib.figure.Figure", name: str, folder: str | os.PathLike | None = None,
                dpi: int = 150) -> Path:
    """Save ``fig`` as ``<folder>/<name>.png`` (default folder: ``figures/`` of the checkout).

    Written under a temporary name and renamed, so a figure file is always complete. ``name`` is a
    bare file stem such as ``"fig3_tumour_fraction_hist"``; a ``.png`` suffix is accepted and kept.
    Returns the path written.
    """
    if not name or Path(name).name != name:
        raise ValueError(f"save_figure: name must be a bare file name such as 'fig3_hist', got {name!r}")
    folder = Path(folder) if folder is not None else project_root() / "figures"
    path = folder / (name if name.endswith(".png") else f"{name}.png")
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi, bbox_inches="tight",
                    metadata={"Software": None})  # no matplotlib version in the file: stable bytes
    return path


# --- Notebook 2: Φ_G and the boundary loss ---------------------------------------------------

def _symmetric_norm(values):
    """A colour norm centred on 0 for a signed map (Φ_G, φ·s): blue < 0 < red."""
    import numpy as np
    from matplotlib.colors import Normalize

    bound = float(np.max(np.abs(values))) or 1.0
    return Normalize(vmin=-bound, vmax=bound)


def plot_boundary_loss_views(g, s, n_normals: int = 18, resolution: int = 500):
    """Figure 1 of the paper on two analytic disks ``g`` (G) and ``s`` (S) (:class:`bl_utils.widgets.Disk`).

    (a) the differential view: ∂G, ∂S and, for ``n_normals`` points ``p ∈ ∂G``, the normal segment
    to ``y_∂S(p)`` (eq. 1 integrates its squared length); (b) the integral view: the region ΔS
    between the contours coloured by ``D_G(q)``, the distance to ∂G (eq. 2 integrates it), with
    one point ``q`` and its distance drawn. ``resolution``: samples per side of panel (b).
    Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from .widgets import normal_correspondences

    c_g, c_s = np.asarray(g.center, float), np.asarray(s.center, float)
    lo = np.minimum(c_g - g.radius, c_s - s.radius) - 0.25 * g.radius
    hi = np.maximum(c_g + g.radius, c_s + s.radius) + 0.25 * g.radius
    colour_g, colour_s = "#1f4e9c", "#d95f02"
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 5.0), constrained_layout=True)

    def contours(ax):
        for disk, colour, style, label in ((g, colour_g, "-", "∂G"), (s, colour_s, "--", "∂S")):
            p, _ = disk.contour(720)
            ax.plot(np.append(p[:, 1], p[0, 1]), np.append(p[:, 0], p[0, 0]), style, color=colour, lw=2.2,
                    label=label)
        ax.set_xlim(lo[1], hi[1])
        ax.set_ylim(hi[0], lo[0])            # rows grow downwards, as in an image
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])

    ax = axes[0]
    contours(ax)
    p, y = normal_correspondences(g, s, n_normals)
    for start, end in zip(p, y):
        ax.annotate("", xy=(end[1], end[0]), xytext=(start[1], start[0]),
                    arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.0, shrinkA=0, shrinkB=0))
    k = int(np.argmax(np.sum((y - p) ** 2, axis=1)))
    ax.plot([p[k, 1]], [p[k, 0]], "o", color=colour_g, ms=7)
    ax.plot([y[k, 1]], [y[k, 0]], "o", color=colour_s, ms=7)
    direction = (y[k] - p[k]) / (np.linalg.norm(y[k] - p[k]) or 1.0)
    ax.annotate("$p$", (p[k, 1], p[k, 0]), xytext=(-14 * direction[1], 14 * direction[0]),
                textcoords="offset points", ha="center", va="center", fontsize=14, color=colour_g)
    ax.annotate(r"$y_{\partial S}(p)$", (y[k, 1], y[k, 0]), xytext=(22 * direction[1], -16 * direction[0]),
                textcoords="offset points", ha="center", va="center", fontsize=14, color=colour_s)
    ax.legend(loc="lower left", fontsize=11, frameon=False)
    ax.set_title(r"(a) differential view: $\int_{\partial G} \|y_{\partial S}(p) - p\|^2\,dp$", fontsize=12)

    ax = axes[1]
    rows = np.linspace(lo[0], hi[0], resolution)
    cols = np.linspace(lo[1], hi[1], resolution)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    signed = np.hypot(rr - c_g[0], cc - c_g[1]) - g.radius
    in_s = np.hypot(rr - c_s[0], cc - c_s[1]) <= s.radius
    region = (signed <= 0) != in_s
    dist = np.abs(signed)
    ax.imshow(np.where(region, np.nan, dist), extent=(lo[1], hi[1], hi[0], lo[0]), cmap="Greys",
              vmin=0, vmax=3 * dist.max(), interpolation="bilinear")
    shown = ax.imshow(np.where(region, dist, np.nan), extent=(lo[1], hi[1], hi[0], lo[0]), cmap="viridis",
                      vmin=0, vmax=dist[region].max() if region.any() else 1, interpolation="nearest")
    contours(ax)
    fig.colorbar(shown, ax=ax, shrink=0.8, label=r"$D_G(q)$, distance to $\partial G$ (pixels)")
    q = p[k] + 0.6 * (y[k] - p[k])          # a point of ΔS on the longest normal of panel (a)
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
    return fig


def _zoom_window(*masks, margin: int = 24, minimum: int = 64):
    """``(row0, row1, col0, col1)``: the bounding box of the masks' union grown by ``margin`` and to
    at least ``minimum`` pixels a side, inside the image; the whole image when the masks are empty."""
    import numpy as np

    union = np.logical_or.reduce([np.asarray(m, bool) for m in masks])
    h, w = union.shape
    if not union.any():
        return 0, h, 0, w
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    window = []
    for lo, hi, size in ((rows[0], rows[-1] + 1, h), (cols[0], cols[-1] + 1, w)):
        lo, hi = lo - margin, hi + margin
        grow = max(0, minimum - (hi - lo))
        lo, hi = lo - grow // 2, hi + grow - grow // 2
        shift = max(0, -lo) - max(0, hi - size)
        window += [max(0, lo + shift), min(size, hi + shift)]
    return tuple(int(v) for v in window)


def plot_loss_explorer(state):
    """The loss explorer's view of one :class:`bl_utils.widgets.ExplorerState`.

    Five panels: the whole image with ∂G (green), ∂S_θ (orange) and the zoomed window (dashed);
    then, zoomed on the tumour and the prediction: Φ_G (blue inside G, red outside) with S_θ
    shaded, and the per-pixel w_CE·CE, w_B·Φ_G·s and their sum (each titled with its mean over the
    whole image, the term's value in the loss). Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from .widgets import summary_text

    n, st = state.numbers, state.settings
    delta = st.get("delta", 0.5)
    r0, r1, c0, c1 = _zoom_window(state.mask, state.segmentation)
    fig, axes = plt.subplots(1, 5, figsize=(19, 4.3), constrained_layout=True)

    def outline(ax, what=("g", "s"), zoom=True):
        if "g" in what and state.mask.any() and not state.mask.all():
            ax.contour(state.mask.astype(float), levels=[0.5], colors="#1a9850", linewidths=1.5)
        if "s" in what and state.prob.min() < delta <= state.prob.max():
            ax.contour(state.prob, levels=[delta], colors="#ff7f00", linewidths=1.5)
        if zoom:
            ax.set_xlim(c0 - 0.5, c1 - 0.5)
            ax.set_ylim(r1 - 0.5, r0 - 0.5)
        ax.set_xticks([])
        ax.set_yticks([])

    ax = axes[0]
    ax.imshow(state.image, cmap="gray")
    outline(ax, zoom=False)
    if (r1 - r0, c1 - c0) != state.mask.shape:
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, ec="w", ls="--", lw=1))
    ax.set_title("image\n∂G (green) · ∂S_θ (orange)", fontsize=10)

    ax = axes[1]
    shown = ax.imshow(state.phi, cmap="RdBu_r", norm=_symmetric_norm(state.phi[r0:r1, c0:c1]))
    if state.segmentation.any():
        ax.contourf(state.segmentation.astype(float), levels=[0.5, 1.5], colors="none", hatches=["///"])
    outline(ax)
    fig.colorbar(shown, ax=ax, shrink=0.75)
    unit = "÷ image side" if st.get("phi_scale") == "image" else "pixels"
    ax.set_title(f"Φ_G ({unit})\nS_θ = {{s ≥ {delta:.2f}}} hatched", fontsize=10)

    panels = (("ce", f"w_CE·CE\nmean {n['w_ce'] * n['CE']:.3g}", "magma"),
              ("boundary", f"w_B·Φ_G·s\nmean {n['w_b'] * n['L_B']:.3g}", "RdBu_r"),
              ("total", f"sum\nmean = loss {n['total']:.3g}", "RdBu_r"))
    for ax, (key, title, cmap) in zip(axes[2:], panels):
        values = state.maps[key]
        window = values[r0:r1, c0:c1]
        if cmap == "magma":
            shown = ax.imshow(values, cmap=cmap, vmin=0, vmax=max(float(window.max()), 1e-12))
        else:
            shown = ax.imshow(values, cmap=cmap, norm=_symmetric_norm(window))
        outline(ax, ("g",))
        fig.colorbar(shown, ax=ax, shrink=0.75)
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"{state.title}\n{summary_text(state)}", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------
# Notebook 3: training curves


STRATEGY_COLOURS = {"ce": "#4c72b0", "ce+bl": "#dd8452", "ce+ramp": "#55a868", "rebalance": "#c44e52"}


def plot_training_curves(results):
    """Three panels over epochs for a list of ``train.RunResult``: validation Dice; the unweighted
    loss terms (regional solid, boundary dashed), whose ratio is the evidence for the scale of Φ_G;
    and the weights (w_R solid, w_B dashed) each strategy gave them. One line per run."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for result in results:
        h = result.history
        colour = STRATEGY_COLOURS.get(result.strategy)
        label = f"{result.strategy} (seed {result.settings.get('seed', 0)})"
        axes[0].plot(h.epoch, h.val_dice, "o-", color=colour, label=label, ms=3)
        axes[1].plot(h.epoch, h.train_regional, "-", color=colour, label=f"{result.strategy}: L_R")
        axes[1].plot(h.epoch, h.train_boundary, "--", color=colour, label=f"{result.strategy}: L_B")
        axes[2].plot(h.epoch, h.w_regional, "-", color=colour, label=f"{result.strategy}: w_R")
        axes[2].plot(h.epoch, h.w_boundary, "--", color=colour, label=f"{result.strategy}: w_B = α")
    axes[0].set(title="validation Dice", xlabel="epoch", ylim=(0, 1))
    axes[1].set(title="loss terms (unweighted, train mean)", xlabel="epoch")
    axes[1].axhline(0, color="grey", lw=0.5)
    axes[2].set(title="weights of the objective", xlabel="epoch", ylim=(-0.05, 1.05))
    handles, labels = axes[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    axes[0].legend(unique.values(), unique.keys(), fontsize=8)
    axes[1].legend(fontsize=7, ncol=2)
    axes[2].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


# --- Notebook 4: qualitative results and connected components --------------------------------

_TRUTH_COLOUR, _PRED_COLOUR = "#1a9850", "#ff7f00"


def _outline(ax, mask, colour, style="-", lw=1.5):
    """The contour of a binary mask at level 0.5 (nothing for an empty or full mask)."""
    import numpy as np

    mask = np.asarray(mask, bool)
    if mask.any() and not mask.all():
        ax.contour(mask.astype(float), levels=[0.5], colors=colour, linewidths=lw, linestyles=style)


def plot_qualitative_cases(images, truths, predictions, row_titles=None, connectivity: int = 2):
    """Figure 4 of the paper: validation images with the ground truth and each strategy's prediction.

    Args:
        images: ``(K, H, W)`` grey images (any numeric range; shown with ``cmap="gray"``).
        truths: ``(K, H, W)`` binary ground truths.
        predictions: ``{name: (K, H, W) binary masks}``, one column each, in the dict's order.
        row_titles: ``K`` strings shown at the left of each row (e.g. the image's stem and class).
        connectivity: of the components counted in the titles (see :func:`bl_utils.metrics.count_components`).

    One row per image: the image with ∂G (green), then per strategy the image with the predicted
    contour (orange, region lightly filled) over ∂G (dashed green), titled with that prediction's
    Dice and number of connected components, computed here from the masks shown.
    Raises ``ValueError`` on inconsistent shapes. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from .metrics import count_components, dice

    images, truths = np.asarray(images), np.asarray(truths).astype(bool)
    masks = {name: np.asarray(m).astype(bool) for name, m in predictions.items()}
    if images.ndim != 3 or truths.shape != images.shape:
        raise ValueError(f"images and truths must be stacks (K, H, W) of one shape, got {images.shape} "
                         f"and {truths.shape}.")
    for name, m in masks.items():
        if m.shape != images.shape:
            raise ValueError(f"predictions[{name!r}] has shape {m.shape}, the images {images.shape}.")
    if row_titles is not None and len(row_titles) != len(images):
        raise ValueError(f"{len(row_titles)} row titles for {len(images)} images.")
    k, cols = len(images), 1 + len(masks)
    fig, axes = plt.subplots(max(k, 1), cols, figsize=(2.9 * cols, 3.0 * max(k, 1)), squeeze=False,
                             constrained_layout=True)
    for i in range(k):
        ax = axes[i, 0]
        ax.imshow(images[i], cmap="gray")
        _outline(ax, truths[i], _TRUTH_COLOUR)
        ax.set_title("image + ground truth", fontsize=9)
        if row_titles is not None:
            ax.set_ylabel(row_titles[i], fontsize=9)
        for ax, (name, m) in zip(axes[i, 1:], masks.items()):
            ax.imshow(images[i], cmap="gray")
            if m[i].any():
                ax.contourf(m[i].astype(float), levels=[0.5, 1.5], colors=[_PRED_COLOUR], alpha=0.25)
            _outline(ax, truths[i], _TRUTH_COLOUR, style="--", lw=1.0)
            _outline(ax, m[i], _PRED_COLOUR)
            n = count_components(m[i], connectivity)
            ax.set_title(f"{name}: Dice {dice(m[i], truths[i]):.2f}\n{n} component{'' if n == 1 else 's'}",
                         fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_components_comparison(components, comparison, baseline: str = "ce", hd95=None,
                               hd95_comparison=None, max_count: int = 5, seed: int = 0):
    """Figure 5: connected components of the predictions per strategy, and paired differences.

    Args:
        components: DataFrame, one row per validation image, one column per strategy (baseline
            included; :func:`bl_utils.analysis.wide`), the number of components of each prediction.
        comparison: :func:`bl_utils.analysis.compare_to_baseline` on the components (columns
            ``strategy, mean_difference, ci_low, ci_high, improved, worsened, confidence``).
        hd95, hd95_comparison: the same for HD95 (NaN where undefined; dropped pair by pair), for a
            third panel; ``None`` leaves it out.
        max_count: panel (a) pools ``max_count`` components or more into one bar.
        seed: of the horizontal jitter of the points (for a reproducible picture).

    Panels: (a) the fraction of images with 0, 1, ..., ``max_count``+ components, one bar per
    strategy; (b) per image, ``strategy - baseline`` components (points) with the mean and its
    bootstrap confidence interval (black, error bar) and the counts of images with fewer/more
    components; (c) the same for HD95. Below 0 is better. Raises ``ValueError`` when ``baseline``
    or a compared strategy is not a column. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    strategies = list(components.columns)
    others = list(comparison.strategy)
    for name in [baseline, *others]:
        if name not in strategies:
            raise ValueError(f"{name!r} is not a column of the components table ({strategies}).")
    panels = [("components", components, comparison, "components")]
    if hd95 is not None and hd95_comparison is not None:
        panels.append(("HD95", hd95, hd95_comparison, "pixels"))
    fig, axes = plt.subplots(1, 1 + len(panels), figsize=(5.2 * (1 + len(panels)), 4.2),
                             constrained_layout=True)
    colours = plt.get_cmap("tab10").colors

    ax = axes[0]
    bins = np.arange(max_count + 1)
    width = 0.8 / len(strategies)
    for j, name in enumerate(strategies):
        counts = np.minimum(components[name].to_numpy(dtype=int), max_count)
        fraction = np.bincount(counts, minlength=max_count + 1) / max(len(counts), 1)
        ax.bar(bins + (j - (len(strategies) - 1) / 2) * width, fraction, width, label=name,
               color=colours[j % 10])
    ax.set_xticks(bins, [str(b) for b in bins[:-1]] + [f"≥{max_count}"])
    ax.set_xlabel("connected components of the prediction")
    ax.set_ylabel("fraction of validation images")
    ax.set_title(f"(a) components per predicted mask ({len(components)} images)", fontsize=10)
    ax.legend(fontsize=8)

    rng = np.random.default_rng(seed)
    for ax, (letter, (title, table, comp, unit)) in zip(axes[1:], zip("bc", panels)):
        comp = comp.set_index("strategy")
        for i, name in enumerate(others):
            d = (table[name] - table[baseline]).to_numpy(dtype=float)
            d = d[~np.isnan(d)]
            ax.scatter(i + rng.uniform(-0.22, 0.22, d.size), d, s=12, alpha=0.5,
                       color=colours[strategies.index(name) % 10], lw=0)
            row = comp.loc[name]
            mean = row["mean_difference"]
            ax.errorbar([i], [mean], yerr=[[mean - row["ci_low"]], [row["ci_high"] - mean]], fmt="D",
                        color="k", ms=6, capsize=6, lw=1.8, zorder=3)
            ax.annotate(f"{int(row['improved'])} better\n{int(row['worsened'])} worse", (i, 1.0),
                        xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=8)
        ax.axhline(0, color="0.4", lw=0.8, ls="--")
        ax.set_xticks(range(len(others)), others)
        ax.set_xlim(-0.6, len(others) - 0.4)
        level = comp["confidence"].iloc[0] if "confidence" in comp and len(comp) else 0.95
        ax.set_ylabel(f"{title}: strategy − {baseline} ({unit})")
        ax.set_title(f"({letter}) {title}, paired per image: mean and {level:.0%} bootstrap CI\n"
                     "below 0 = better than " + baseline, fontsize=10)
        ax.margins(y=0.2)
    return fig


# --- Notebook 1: the data (BUSI or its synthetic stand-in) ------------------------------------

_CLASS_COLOURS = {"benign": "#1b9e77", "malignant": "#d95f02", "normal": "#7570b3"}


def _class_colour(label: str, k: int = 0) -> str:
    import matplotlib.pyplot as plt

    return _CLASS_COLOURS.get(label, plt.get_cmap("tab10")(k % 10))


def plot_examples(dataset, indices, ncols: int | None = None, size: float = 2.6):
    """A grid of images ``dataset.images[i]`` for ``i`` in ``indices`` with their tumour masks
    (red, semi-transparent, outlined), titled ``stem · tumour fraction``. Returns the figure."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import ListedColormap

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
        ax.set_title(f"{row.stem} · {100 * row.tumour_fraction:.1f} %", fontsize=9,
                     color=_class_colour(row.label))
    return fig


def plot_tumour_fraction_hist(fractions, threshold: float = 0.05, labels=None, bins: int = 40):
    """Figure 3 of the paper: histogram of the tumour surface fraction, with the ``threshold`` line.

    ``fractions``: one value per image in [0, 1] (``meta.tumour_fraction``); ``labels``: optional
    classes, stacked in colour. Images without tumour (fraction 0, the normal class) are counted
    in the legend, not drawn as a bar. ``bins``: about how many bins; their width divides
    ``threshold``, so that no bin straddles the line. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fractions = np.asarray(fractions, float)
    labels = np.asarray(labels if labels is not None else ["images"] * len(fractions)).astype(str)
    with_tumour = fractions > 0
    top = max(float(fractions.max(initial=0)), threshold) * 100
    per_threshold = max(1, round(bins * 100 * threshold / top))      # the threshold falls on a bin edge
    width = 100 * threshold / per_threshold
    edges = np.arange(0, top + width, width)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
    groups = [c for c in dict.fromkeys(labels) if np.any(with_tumour & (labels == c))]
    if groups:
        ax.hist([100 * fractions[with_tumour & (labels == c)] for c in groups], bins=edges, stacked=True,
                color=[_class_colour(c, k) for k, c in enumerate(groups)], label=groups, edgecolor="white",
                linewidth=0.4)
    kept = int(np.sum(fractions < threshold))
    ax.axvline(100 * threshold, color="k", ls="--", lw=1.5,
               label=f"{100 * threshold:g} % rule: {kept} of {len(fractions)} kept")
    n_empty = int(np.sum(~with_tumour))
    if n_empty:
        ax.plot([], [], " ", label=f"{n_empty} images without tumour (fraction 0, kept)")
    ax.set_xlabel("tumour surface fraction (% of the image)")
    ax.set_ylabel("images")
    ax.set_title("Tumour size: share of the image covered by the tumour mask")
    ax.legend(frameon=False, fontsize=9)
    return fig


def plot_image_sizes(meta):
    """Original image sizes: width against height per class (``meta``: ``BusiDataset.meta``)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2), constrained_layout=True)
    for k, (label, rows) in enumerate(meta.groupby("label", sort=True)):
        ax.scatter(rows.orig_width, rows.orig_height, s=12, alpha=0.6, color=_class_colour(label, k),
                   label=f"{label} ({len(rows)})")
    ax.set_xlabel("original width (pixels)")
    ax.set_ylabel("original height (pixels)")
    ax.set_title("Image sizes before resizing")
    ax.legend(frameon=False, fontsize=9)
    return fig


def plot_duplicate_pairs(dataset, pairs, n: int = 3, size: float = 2.4):
    """The first ``n`` rows of ``pairs`` (:func:`bl_utils.data.find_duplicates`) in one row, each
    pair side by side under its hash distance. Returns the figure."""
    import matplotlib.pyplot as plt

    rows = pairs.head(n)
    count = max(1, len(rows))
    fig = plt.figure(figsize=(2.15 * size * count, size + 0.6), layout="constrained")
    panels = fig.subfigures(1, count, squeeze=False, wspace=0.04)[0]
    for panel, (_, pair) in zip(panels, rows.iterrows()):
        axes = panel.subplots(1, 2)
        for ax, i in zip(axes, (pair.i, pair.j)):
            ax.imshow(dataset.images[int(i)], cmap="gray", vmin=0, vmax=255)
            ax.set_title(dataset.meta.stem.iloc[int(i)], fontsize=9)
            ax.axis("off")
        panel.suptitle("pixel-identical" if pair.identical else f"dHash distance {pair.distance}",
                       fontsize=10)
    return fig
