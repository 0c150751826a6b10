"""Notebook 4's figure: Figure 4, the qualitative comparison of predictions on chosen cases."""

from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..metrics import count_components, dice
from .style import clear_ticks, name_figure

__all__ = ["plot_qualitative_cases"]


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
