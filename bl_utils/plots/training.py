"""Notebook 3's figures: learning curves, Table 1 seed by seed, the ablations."""

from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .style import STRATEGY_COLOURS, STRATEGY_MARKERS, name_figure

__all__ = ["plot_primary_endpoint", "plot_training_curves", "plot_table1_seeds", "plot_ablations"]


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


def _fold_of(result) -> int | None:
    fold = getattr(result, "settings", {}).get("fold")
    return None if fold is None or fold < 0 else int(fold)


def _curve_label(strategy: str, runs) -> str:
    seeds = sorted(_seed_of(r) for r in runs)
    folds = [_fold_of(r) for r in runs]
    if len(runs) == 1:
        return f"{strategy} (seed {seeds[0]}" + ("" if folds[0] is None else f", fold {folds[0]}") + ")"
    if any(f is not None for f in folds):
        return f"{strategy}: mean of {len(runs)} runs ({len(set(seeds))} seed(s) × folds), band min–max"
    return f"{strategy}: mean of {len(runs)} seeds {seeds}, band min–max"


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


def _strategy_points(ax, frame, column, strategies, offset=0.0, marker="o", label=None):
    """Per-seed values of ``column`` as points at x = strategy index (+ offset), mean as a bar."""
    for k, name in enumerate(strategies):
        values = frame.loc[frame.strategy == name, column].to_numpy(float)
        x = np.full(len(values), k + offset) + np.linspace(-0.06, 0.06, len(values)) if len(values) > 1 else [k + offset]
        ax.scatter(x, values, s=22, marker=marker, color=STRATEGY_COLOURS.get(name, "k"), zorder=3,
                   label=label if k == 0 else None, edgecolor="white", linewidth=0.5)
        if len(values):
            ax.hlines(values.mean(), k + offset - 0.15, k + offset + 0.15, color="k", lw=1.5, zorder=4)
    ax.set_xticks(range(len(strategies)), strategies)


def plot_table1_seeds(frame, reference: dict | None = None, title: str = ""):
    """Table 1 seed by seed. ``frame``: :func:`bl_utils.runs.runs_frame` (one row per run). Left:
    the best-epoch Dice (Odonnat & Pham's metric) with their single-run values as red crosses;
    right: the final-epoch Dice on tumour images. Black bars: means over seeds."""
    strategies = list(dict.fromkeys(frame.strategy))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    _strategy_points(axes[0], frame, "best_val_dice", strategies, label="one seed")
    if reference:
        axes[0].scatter(range(len(strategies)), [reference.get(s, np.nan) for s in strategies], marker="x",
                        color="red", s=50, zorder=5, label="Odonnat & Pham (one run)")
    axes[0].set(ylabel="best-epoch validation Dice", title="Odonnat & Pham's metric (best epoch)")
    _strategy_points(axes[1], frame, "final_dice_tumour", strategies)
    axes[1].set(ylabel="final-epoch Dice, tumour images", title="final epoch, tumour images")
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    name_figure(fig, title)
    return fig


def plot_primary_endpoint(frame, differences, answer=None, margin: float = 0.02, title: str = ""):
    """The study's primary endpoint with every run shown.

    ``frame``: :func:`bl_utils.runs.runs_frame` of the study's runs (one row per (strategy, seed,
    fold)); ``differences``: :func:`bl_utils.answers.paired.run_differences` (``strategy, seed, fold,
    difference``); ``answer``: :func:`bl_utils.answers.study.primary_answer` (``name, mean,
    corrected_low/high, plain_low/high``), or None/empty before there are enough runs. Left: the
    final-epoch Dice on tumour images of every run, the runs of one (seed, fold) joined by a grey
    line. Right: per boundary-loss strategy, each run's difference to CE (points), their mean (bar),
    the corrected 95 % interval (thick) and the plain one (thin), with the ± ``margin`` band shaded."""
    strategies = list(dict.fromkeys(frame.strategy))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    wide = frame.pivot_table(index=["seed", "fold"], columns="strategy", values="final_dice_tumour")
    for _, row in wide.iterrows():
        present = [k for k, s in enumerate(strategies) if s in row and np.isfinite(row[s])]
        axes[0].plot(present, [row[strategies[k]] for k in present], color="0.75", lw=0.7, zorder=1)
    _strategy_points(axes[0], frame, "final_dice_tumour", strategies, label="one run (seed, fold)")
    axes[0].set(ylabel="final-epoch Dice, tumour images", title="every run, final epoch")
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize=8, frameon=False)
    others = [s for s in strategies if s in set(differences.strategy)]
    ax = axes[1]
    ax.axhspan(-margin, margin, color="0.9", zorder=0, label=f"± {margin:g} margin")
    ax.axhline(0, color="grey", lw=0.7)
    _strategy_points(ax, differences, "difference", others)
    rows = {} if answer is None or len(answer) == 0 else answer.set_index("name").to_dict("index")
    for k, name in enumerate(others):
        if name in rows:
            r = rows[name]
            ax.vlines(k + 0.25, r["corrected_low"], r["corrected_high"], color="k", lw=2.5,
                      label="corrected 95 % interval" if k == 0 else None)
            ax.vlines(k + 0.32, r["plain_low"], r["plain_high"], color="k", lw=0.8,
                      label="plain 95 % interval" if k == 0 else None)
    ax.set(ylabel="Dice, strategy − CE (per run)", title="primary endpoint: difference to CE")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8, frameon=False)
    for a in axes:
        a.grid(axis="y", alpha=0.3)
    name_figure(fig, title)
    return fig


def plot_ablations(panels: dict, title: str = ""):
    """One panel per ablation: per strategy, the per-seed final Dice on tumour images of the
    default setting (circles) and of the variant (triangles). ``panels``: ablation title ->
    ``(default runs_frame, variant runs_frame, variant label)``."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.6), constrained_layout=True,
                             squeeze=False)
    for ax, (name, (default, variant, label)) in zip(axes[0], panels.items()):
        strategies = list(dict.fromkeys(variant.strategy))
        _strategy_points(ax, default[default.strategy.isin(strategies)], "final_dice_tumour", strategies,
                         offset=-0.2, label="default")
        _strategy_points(ax, variant, "final_dice_tumour", strategies, offset=0.2, marker="^", label=label)
        ax.set(title=name, ylabel="final Dice, tumour images", ylim=(-0.02, 1))
        ax.tick_params(axis="x", labelsize=8)
        ax.legend(loc="lower left", fontsize=7, frameon=False)
        ax.grid(axis="y", alpha=0.3)
    name_figure(fig, title)
    return fig
