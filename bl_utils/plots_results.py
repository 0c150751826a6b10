"""Figures of the study's results: training curves (notebook 3), Figure 4 (qualitative cases) and
Figure 5 (connected components), and the small drawing helpers every figure of the report shares.

Notebooks import these from :mod:`bl_utils.plots`, which re-exports them beside the other figures
and :func:`~bl_utils.plots.save_figure`; this module imports nothing of ``plots`` (the arrows go
``plots → plots_results``). Each figure function takes an optional ``title``, shown above the
figure, with which the caller names its data (``"BUSI"``, ``"synthetic"``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .metrics import count_components, dice


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


# --- Notebook 3: training curves ------------------------------------------------------------

STRATEGY_COLOURS = {"ce": "#4c72b0", "ce+bl": "#dd8452", "ce+ramp": "#55a868", "rebalance": "#c44e52"}

#: The panels of :func:`plot_training_curves`: (title, y label, ((history column, line style), ...)).
_CURVE_PANELS = (
    ("(a) validation Dice", "Dice", (("val_dice", "-"),)),
    ("(b) regional term L_R", "L_R (train mean, unweighted)", (("train_regional", "-"),)),
    ("(c) boundary term L_B", "L_B (train mean, unweighted)", (("train_boundary", "-"),)),
    ("(d) weights of the objective", "weight", (("w_regional", "-"), ("w_boundary", "--"))),
)


def _seed_of(result) -> int:
    """The run's seed: ``result.seed``, else ``result.settings["seed"]``, else 0 (older runs)."""
    try:
        return int(result.seed)
    except (AttributeError, KeyError, TypeError):
        return int(getattr(result, "settings", {}).get("seed", 0))


def _by_strategy(results) -> dict[str, list]:
    """The runs grouped by strategy, in the order the strategies first appear."""
    groups: dict[str, list] = {}
    for result in results:
        groups.setdefault(result.strategy, []).append(result)
    return groups


def _seed_band(runs, column: str) -> pd.DataFrame:
    """Per epoch, the ``mean``, ``min`` and ``max`` of ``column`` over the runs (seeds) that have it."""
    table = pd.concat([r.history.set_index("epoch")[column].rename(i) for i, r in enumerate(runs)], axis=1)
    table = table.sort_index()
    return pd.DataFrame({"mean": table.mean(axis=1), "min": table.min(axis=1), "max": table.max(axis=1)})


def _curve_label(strategy: str, runs) -> str:
    seeds = sorted(_seed_of(r) for r in runs)
    if len(runs) == 1:
        return f"{strategy} (seed {seeds[0]})"
    return f"{strategy}: mean of {len(runs)} seeds {seeds}, band min–max"


#: One marker per strategy, in the order the strategies appear: with the colour, what tells apart
#: two strategies whose curves coincide.
STRATEGY_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _curve_styles(groups: dict, epochs: int) -> dict[str, dict]:
    """``plot`` keywords per strategy: its colour and its own marker, the markers of the n strategies
    at interleaved epochs (every ``stride``-th, the k-th strategy from epoch ``k * stride / n``, or
    the last epoch when there are more strategies than epochs), so that no marker hides another;
    and lines that thin with k, from at most 3.6 pt to 1.2 pt (the first drawn is the widest,
    underneath: where curves coincide, each shows as a coloured rim around the next)."""
    palette = plt.get_cmap("tab10").colors
    n = len(groups)
    stride, step = max(n, -(-epochs // 10)), min(0.6, 2.4 / max(n - 1, 1))
    styles = {}
    for k, s in enumerate(groups):
        first = min(k * stride // n, max(epochs - 1, 0))
        styles[s] = dict(color=STRATEGY_COLOURS.get(s, palette[k % 10]), lw=1.2 + step * (n - 1 - k),
                         marker=STRATEGY_MARKERS[k % len(STRATEGY_MARKERS)], ms=6, mec="white", mew=0.6,
                         markevery=(first, stride))
    return styles


def _curve_legend(fig, labels: dict[str, str], styles: dict[str, dict]) -> None:
    """One legend below the panels: a line per strategy (its colour, marker and width), then the line
    styles of panel (d) and how coinciding curves are drawn."""
    keys = ("color", "marker", "lw", "ms", "mec", "mew")       # not markevery: one marker per handle
    handles = [Line2D([], [], label=labels[s], **{k: styles[s][k] for k in keys}) for s in labels]
    handles += [Line2D([], [], color="0.3", ls="-", label="(d) solid: w_R"),
                Line2D([], [], color="0.3", ls="--", label="(d) dashed: w_B = α"),
                Line2D([], [], ls="none", label="coinciding curves: the first strategy is the widest, underneath")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=9, frameon=False)


def plot_training_curves(results, title: str | None = None):
    """Training curves over epochs for a list of runs (:class:`bl_utils.runs.RunResult` or alike:
    ``.strategy``, ``.history`` with columns ``epoch, val_dice, train_regional, train_boundary,
    w_regional, w_boundary``, and ``.seed`` or ``.settings["seed"]``; 0 when neither).

    Four panels, one per quantity: (a) validation Dice, (b) the unweighted regional term L_R,
    (c) the unweighted boundary term L_B (their ratio is the evidence for the scale of Φ_G), and
    (d) the weights w_R (solid) and w_B = α (dashed) each strategy gave them. Each strategy has its
    colour and its marker (:data:`STRATEGY_MARKERS`), the strategies' markers at interleaved epochs,
    and the earlier a strategy comes the wider its line, drawn underneath: two strategies with the
    same curve (ce and ce+ramp have w_R = 1, ce+ramp and rebalance the same w_B) both show. Several
    seeds of one strategy are drawn as their mean with the seeds' min–max as a band. The legend, in
    the order of the runs, sits below the panels, covering no line; ``title`` names the data above.
    Raises ``ValueError`` on an empty list. Returns the figure.
    """
    groups = _by_strategy(results)
    if not groups:
        raise ValueError("plot_training_curves: no runs given")
    styles = _curve_styles(groups, max(len(r.history) for runs in groups.values() for r in runs))
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.8), layout="constrained")
    for ax, (panel, ylabel, curves) in zip(axes.flat, _CURVE_PANELS):
        for strategy, runs in groups.items():
            for column, style in curves:
                band = _seed_band(runs, column)
                ax.plot(band.index, band["mean"], style, **styles[strategy])
                if len(runs) > 1:
                    ax.fill_between(band.index, band["min"], band["max"], color=styles[strategy]["color"],
                                    alpha=0.2, lw=0, zorder=1)
        ax.set(title=panel, xlabel="epoch", ylabel=ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].set_ylim(0, 1)
    axes[1, 0].axhline(0, color="grey", lw=0.5)
    axes[1, 1].set_ylim(-0.05, 1.05)
    _curve_legend(fig, {s: _curve_label(s, runs) for s, runs in groups.items()}, styles)
    name_figure(fig, title)
    return fig


# --- Notebook 4: qualitative results and connected components --------------------------------

#: Figure 4's colours: the ground truth a thick cyan contour on a dark halo, drawn last; the
#: prediction a translucent orange fill with a thin outline (a colour-blind-safe pair).
_TRUTH_COLOUR, _HALO_COLOUR, _PRED_COLOUR = "#00e5ff", "black", "#ff7f00"
_PRED_ALPHA = 0.35


def _outline(ax, mask, colour, lw: float = 1.5, zorder: float = 2) -> None:
    """The contour of a binary mask at level 0.5 (nothing for an empty or full mask)."""
    mask = np.asarray(mask, bool)
    if mask.any() and not mask.all():
        ax.contour(mask.astype(float), levels=[0.5], colors=colour, linewidths=lw, zorder=zorder)


def _truth_outline(ax, truth) -> None:
    """∂G over everything else: a 2.4-wide cyan line on a 4.4-wide black halo."""
    _outline(ax, truth, _HALO_COLOUR, lw=4.4, zorder=4)
    _outline(ax, truth, _TRUTH_COLOUR, lw=2.4, zorder=5)


def _check_case_stacks(images, truths, masks, row_titles) -> None:
    if images.ndim != 3 or truths.shape != images.shape:
        raise ValueError(f"images and truths must be stacks (K, H, W) of one shape, got {images.shape} "
                         f"and {truths.shape}.")
    for name, m in masks.items():
        if m.shape != images.shape:
            raise ValueError(f"predictions[{name!r}] has shape {m.shape}, the images {images.shape}.")
    if row_titles is not None and len(row_titles) != len(images):
        raise ValueError(f"{len(row_titles)} row titles for {len(images)} images.")


def _draw_prediction_panel(ax, image, truth, mask, name: str, connectivity: int) -> None:
    """The image, the prediction (translucent fill, thin outline), then ∂G on top; titled with the
    prediction's Dice and number of connected components."""
    ax.imshow(image, cmap="gray")
    if mask.any():
        ax.contourf(mask.astype(float), levels=[0.5, 1.5], colors=[_PRED_COLOUR], alpha=_PRED_ALPHA, zorder=1)
    _outline(ax, mask, _PRED_COLOUR, lw=1.0, zorder=2)
    _truth_outline(ax, truth)
    n = count_components(mask, connectivity)
    ax.set_title(f"{name}: Dice {dice(mask, truth):.2f}\n{n} component{'' if n == 1 else 's'}")


def plot_qualitative_cases(images, truths, predictions, row_titles=None, connectivity: int = 2,
                           title: str | None = None):
    """Figure 4 of the paper: validation images with the ground truth and each strategy's prediction.

    Args:
        images: ``(K, H, W)`` grey images (any numeric range; shown with ``cmap="gray"``).
        truths: ``(K, H, W)`` binary ground truths.
        predictions: ``{name: (K, H, W) binary masks}``, one column each, in the dict's order.
        row_titles: ``K`` strings shown at the left of each row (e.g. the image's stem and class).
        connectivity: of the components counted in the titles (see :func:`bl_utils.metrics.count_components`).
        title: shown above the figure (the caller's name for the data).

    One row per image: the image with ∂G, then per strategy the prediction as a translucent orange
    fill with a thin outline, and ∂G over it, drawn last as a thick cyan line on a black halo (visible
    on bright and dark tissue, and over the prediction); titled with that prediction's Dice and
    number of connected components, computed here from the masks shown. Panels of about 2.8 in, so
    that a 256² image keeps its detail at 100 dpi; a key below. Raises ``ValueError`` on inconsistent shapes.
    """
    images, truths = np.asarray(images), np.asarray(truths).astype(bool)
    masks = {name: np.asarray(m).astype(bool) for name, m in predictions.items()}
    _check_case_stacks(images, truths, masks, row_titles)
    k, cols = len(images), 1 + len(masks)
    fig, axes = plt.subplots(max(k, 1), cols, figsize=(3.2 * cols, 3.2 * max(k, 1) + 0.9), squeeze=False,
                             constrained_layout=True)
    for i in range(k):
        axes[i, 0].imshow(images[i], cmap="gray")
        _truth_outline(axes[i, 0], truths[i])
        axes[i, 0].set_title("image + ground truth")
        if row_titles is not None:
            axes[i, 0].set_ylabel(row_titles[i])
        for ax, (name, m) in zip(axes[i, 1:], masks.items()):
            _draw_prediction_panel(ax, images[i], truths[i], m[i], name, connectivity)
    for ax in axes.ravel():
        clear_ticks(ax)
    key = [Line2D([], [], color=_TRUTH_COLOUR, lw=2.4, label="ground truth ∂G"),
           Patch(facecolor=_PRED_COLOUR, alpha=_PRED_ALPHA, edgecolor=_PRED_COLOUR, label="prediction")]
    fig.legend(handles=key, loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    name_figure(fig, title)
    return fig


def _draw_component_histogram(ax, components, max_count: int, colours: dict) -> None:
    """Panel (a): the fraction of images with 0, 1, ..., ``max_count``+ components per strategy."""
    strategies = list(components.columns)
    bins = np.arange(max_count + 1)
    width = 0.8 / len(strategies)
    for j, name in enumerate(strategies):
        counts = np.minimum(components[name].to_numpy(dtype=int), max_count)
        fraction = np.bincount(counts, minlength=max_count + 1) / max(len(counts), 1)
        ax.bar(bins + (j - (len(strategies) - 1) / 2) * width, fraction, width, label=name,
               color=colours[name])
    ax.set_xticks(bins, [str(b) for b in bins[:-1]] + [f"≥{max_count}"])
    ax.set_xlabel("connected components of the prediction")
    ax.set_ylabel("fraction of validation images")
    ax.set_title(f"(a) components per predicted mask ({len(components)} images)", fontsize=10)
    ax.legend(fontsize=8)


def _draw_paired_differences(ax, letter: str, panel, baseline: str, others, colours: dict, rng) -> None:
    """Panel (b)/(c): per image ``strategy − baseline`` (points), the mean and its CI (black)."""
    title, table, comp, unit = panel
    comp = comp.set_index("strategy")
    for i, name in enumerate(others):
        d = (table[name] - table[baseline]).to_numpy(dtype=float)
        d = d[~np.isnan(d)]
        ax.scatter(i + rng.uniform(-0.22, 0.22, d.size), d, s=12, alpha=0.5, color=colours[name], lw=0)
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


def plot_components_comparison(components, comparison, baseline: str = "ce", hd95=None,
                               hd95_comparison=None, max_count: int = 5, seed: int = 0,
                               title: str | None = None):
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
        title: shown above the figure (the caller's name for the data).

    Panels: (a) the fraction of images with 0, 1, ..., ``max_count``+ components, one bar per
    strategy; (b) per image, ``strategy - baseline`` components (points) with the mean and its
    bootstrap confidence interval (black, error bar) and the counts of images with fewer/more
    components; (c) the same for HD95. Below 0 is better. Raises ``ValueError`` when ``baseline``
    or a compared strategy is not a column. Returns the figure.
    """
    strategies, others = list(components.columns), list(comparison.strategy)
    for name in [baseline, *others]:
        if name not in strategies:
            raise ValueError(f"{name!r} is not a column of the components table ({strategies}).")
    panels = [("components", components, comparison, "components")]
    if hd95 is not None and hd95_comparison is not None:
        panels.append(("HD95", hd95, hd95_comparison, "pixels"))
    fig, axes = plt.subplots(1, 1 + len(panels), figsize=(5.2 * (1 + len(panels)), 4.2),
                             constrained_layout=True)
    palette = plt.get_cmap("tab10").colors
    colours = {name: palette[j % 10] for j, name in enumerate(strategies)}
    _draw_component_histogram(axes[0], components, max_count, colours)
    rng = np.random.default_rng(seed)
    for ax, letter, panel in zip(axes[1:], "bc", panels):
        _draw_paired_differences(ax, letter, panel, baseline, others, colours, rng)
    name_figure(fig, title)
    return fig
