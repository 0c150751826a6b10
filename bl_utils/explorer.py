"""The computations behind notebook 2: candidate predictions, per-pixel loss terms, and what one
setting of the loss explorer shows. Pure functions of arrays, no drawing.

:mod:`bl_utils.plots` draws what is computed here and :mod:`bl_utils.widgets` wires it to sliders;
this module imports neither (the arrows go ``widgets → plots → explorer``). Every name here is
also importable from :mod:`bl_utils.widgets`, where the notebooks look for it. Each function is
unit-tested in ``tests/test_explorer.py`` against an independent oracle.

Conventions (those of :mod:`bl_utils.distance`): arrays are ``(H, W)``; points are ``(row, col)``
with pixel centres at integer coordinates; Φ_G is negative inside the tumour G and positive
outside; ``D_G = |Φ_G|`` is the distance to the contour ∂G. Probabilities ``s`` lie in ``[0, 1]``.

* eqs. 1–2 on analytic disks (:class:`Disk`, :func:`normal_correspondences`,
  :func:`contour_distance`, :func:`region_distance_integral`, :func:`pixel_region_integral`,
  :func:`boundary_loss_sum`, :func:`distance_identities`) live in :mod:`bl_utils.disks` and are
  importable from here too;
* :func:`candidate_prediction`, :func:`standard_candidates`, :func:`candidate_losses`,
  :func:`empty_policy_table` — L_B of hand-made predictions;
* :func:`segmentation_at`, :func:`strategy_weights`, :func:`loss_term_maps`, :func:`explore` —
  what one setting of the explorer's sliders shows (an :class:`ExplorerState`), with
  :func:`colour_bounds`, the colour scales of its maps, fixed over the α slider's range
  :data:`ALPHA_RANGE`;
* small helpers: :func:`soft_dice_loss`, :func:`significant` (rounding for printed results),
  :func:`tumour_index`, :func:`image_title`, :func:`summary_lines`, :func:`summary_text`,
  :func:`zoom_window`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from .disks import Disk, boundary_loss_sum
from .distance import scale_phi, signed_distance_map
from .schedules import STRATEGIES, ConstantSchedule, Strategy, make_strategy

#: torch's ``binary_cross_entropy`` clamps ``log`` at -100; :func:`loss_term_maps` does the same,
#: so that a confidently wrong pixel costs 100 and the maps' mean equals torch's BCE.
LOG_CLAMP = -100.0


# --------------------------------------------------------------------------------------------
# Printed results
# --------------------------------------------------------------------------------------------

def significant(values, digits: int = 3):
    """``values`` (a number, array, ``Series`` or ``DataFrame``) rounded to ``digits`` significant
    digits, so that printed results do not show float noise (notebook outputs are compared in CI)."""
    def one(x):
        return float(f"{x:.{digits}g}")

    if hasattr(values, "map"):                   # pandas Series or DataFrame
        return values.map(one)
    if np.ndim(values) == 0:
        return one(float(values))
    return np.vectorize(one, otypes=[float])(values)


# --------------------------------------------------------------------------------------------
# Candidate predictions and their losses
# --------------------------------------------------------------------------------------------

def _binary_2d(mask, name: str = "mask") -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) array, got shape {mask.shape}")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError(f"{name} must be binary (bool or 0/1); threshold it first (mask > 0)")
        mask = mask.astype(bool)
    return mask


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move the content by ``(dy, dx)`` pixels; what comes in from outside is background."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        mask[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def candidate_prediction(mask, shift: tuple[int, int] = (0, 0), dilation: int = 0, blur: float = 0.0,
                         confidence: float = 1.0) -> np.ndarray:
    """A hand-made prediction ``s`` from the ground truth: shifted, dilated/eroded, blurred.

    Parameters
    ----------
    mask: binary ``(H, W)`` ground truth (bool or 0/1).
    shift: ``(dy, dx)`` integer pixels; positive moves the tumour down/right. Pixels entering
        from outside the image are background.
    dilation: integer ``k``; ``k > 0`` grows the mask by a Euclidean disk of radius ``k``
        (every pixel within distance ``k`` of the mask), ``k < 0`` erodes it by radius ``|k|``
        (keeps the pixels farther than ``|k|`` from the background; the image border is not
        background, so a tumour touching it is not eroded from that side).
    blur: σ (pixels) of a Gaussian filter applied to the binary result (0: none); soft edges.
    confidence: ``c`` in ``[0.5, 1]``; probabilities are mapped from ``[0, 1]`` to
        ``[1 − c, c]`` (1: unchanged), so that a wrong pixel does not cost an infinite CE.

    Returns float32 ``(H, W)`` probabilities in ``[0, 1]``. Order: shift, dilation, blur,
    confidence. Raises ``ValueError`` on a non-binary or non-2-D mask or a non-integer shift.
    """
    mask = _binary_2d(mask)
    dy, dx = shift
    if int(dy) != dy or int(dx) != dx or int(dilation) != dilation:
        raise ValueError(f"shift and dilation must be integers, got shift={shift}, dilation={dilation}")
    if blur < 0 or not 0.5 <= confidence <= 1:
        raise ValueError(f"need blur >= 0 and 0.5 <= confidence <= 1, got {blur}, {confidence}")
    out = _shift(mask, int(dy), int(dx))
    k = int(dilation)
    if k > 0 and out.any():
        out = ndimage.distance_transform_edt(~out) <= k
    elif k < 0 and out.any() and not out.all():
        out = ndimage.distance_transform_edt(out) > -k
    prob = out.astype(np.float64)
    if blur > 0:
        prob = np.clip(ndimage.gaussian_filter(prob, blur, mode="nearest"), 0.0, 1.0)
    if confidence < 1:
        prob = (1 - confidence) + (2 * confidence - 1) * prob
    return prob.astype(np.float32)


def standard_candidates(mask, shift: tuple[int, int] = (0, 10), blur: float = 4.0,
                        dilation: int = 5) -> dict[str, np.ndarray]:
    """The predictions notebook 2 scores: ``s = g``, ``s = 0``, ``s = 1``, shifted, blurred,
    dilated and eroded versions of ``mask`` (float32 ``(H, W)`` each, keyed by a readable name)."""
    mask = _binary_2d(mask)
    return {
        "s = g (perfect)": mask.astype(np.float32),
        "s = 0 (nothing)": np.zeros(mask.shape, np.float32),
        "s = 1 (everything)": np.ones(mask.shape, np.float32),
        f"shifted by {tuple(shift)}": candidate_prediction(mask, shift=shift),
        f"blurred (σ = {blur:g})": candidate_prediction(mask, blur=blur),
        f"dilated by {dilation}": candidate_prediction(mask, dilation=dilation),
        f"eroded by {dilation}": candidate_prediction(mask, dilation=-dilation),
    }


def _check_prob(prob, shape, name="prob") -> np.ndarray:
    prob = np.asarray(prob, dtype=np.float64)
    if prob.shape != tuple(shape):
        raise ValueError(f"{name} has shape {prob.shape}, expected {tuple(shape)} (same as the mask)")
    if prob.size and (prob.min() < 0 or prob.max() > 1):
        raise ValueError(f"{name} must be probabilities in [0, 1] (apply the sigmoid to logits first)")
    return prob


def soft_dice_loss(mask, prob, eps: float = 1e-8) -> float:
    """``1 − 2Σsg / (Σs + Σg)`` (0 for a perfect prediction; 0 when both are empty)."""
    g = np.asarray(mask, float)
    s = np.asarray(prob, float)
    total = s.sum() + g.sum()
    return float(1 - 2 * (s * g).sum() / total) if total > eps else 0.0


def candidate_losses(phi, mask, candidates: dict[str, np.ndarray]):
    """L_B (the mean of ``Φ_G·s`` over pixels, what :class:`bl_utils.losses.BoundaryLoss` returns),
    ``ΣΦ_G s`` (eq. 7 as a pixel sum) and the soft Dice loss of each candidate.

    Returns a ``pandas.DataFrame`` indexed by candidate name with columns ``L_B``, ``ΣΦ_G s``,
    ``1 − Dice``. ``phi`` is Φ_G of ``mask`` in whatever units the caller chose.
    """
    mask = _binary_2d(mask)
    phi = np.asarray(phi, dtype=np.float64)
    rows = {}
    for name, prob in candidates.items():
        prob = _check_prob(prob, mask.shape, name)
        total = boundary_loss_sum(phi, prob)
        rows[name] = {"L_B": total / phi.size, "ΣΦ_G s": total, "1 − Dice": soft_dice_loss(mask, prob)}
    return pd.DataFrame.from_dict(rows, orient="index")


def empty_policy_table(shape: tuple[int, int] = (256, 256), policies=("diagonal", "zero", 10.0),
                       blob: Disk | None = None):
    """L_B on an image without tumour (G = ∅) under each ``empty`` policy of the distance map.

    Candidates: ``s = 0``, ``s = 1`` and a false-positive disk ``blob`` (default: radius 10 at the
    centre). Returns a ``pandas.DataFrame`` with one row per policy: the constant value of Φ_G and
    L_B (mean of ``Φ_G·s``) of each candidate.
    """
    blob = blob or Disk(((shape[0] - 1) / 2, (shape[1] - 1) / 2), 10)
    empty = np.zeros(shape, bool)
    candidates = {"s = 0": np.zeros(shape), "s = 1": np.ones(shape),
                  f"false positive (disk r = {blob.radius:g})": blob.mask(shape).astype(float)}
    rows = {}
    for policy in policies:
        phi = np.asarray(signed_distance_map(empty, empty=policy), dtype=np.float64)
        row = {"Φ_G (constant)": float(phi.flat[0])}
        row.update({f"L_B({name})": boundary_loss_sum(phi, s) / phi.size for name, s in candidates.items()})
        rows[repr(policy) if not isinstance(policy, str) else policy] = row
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------------------------
# What one setting of the explorer shows
# --------------------------------------------------------------------------------------------

def segmentation_at(prob, delta: float) -> np.ndarray:
    """``S_θ = {q : s_θ(q) ≥ δ}``, boolean ``(H, W)``; raises ``ValueError`` unless ``0 ≤ δ ≤ 1``."""
    if not 0 <= delta <= 1:
        raise ValueError(f"delta must be a threshold in [0, 1], got {delta}")
    return np.asarray(prob, dtype=np.float64) >= delta


def strategy_weights(strategy: str, alpha: float) -> tuple[float, float]:
    """``(w_CE, w_B)`` of ``strategy`` at the moment its α equals ``alpha``.

    ``"ce"``: (1, 0) whatever α; ``"ce+bl"``: (1, α); ``"ce+ramp"``: (1, α) with α the ramp's
    current value; ``"rebalance"``: (1 − α, α). Computed by :class:`bl_utils.schedules.Strategy`
    (the ramps' schedule replaced by the constant α). Raises ``ValueError`` for an unknown name.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    built = make_strategy(strategy, epochs=1, alpha=float(alpha))
    if not isinstance(built.alpha, ConstantSchedule):          # a ramp: freeze it at α
        built = Strategy(built.name, ConstantSchedule(float(alpha)), built.rebalance)
    w_ce, w_b = built.weights(0.0)
    return float(w_ce), float(w_b)


def loss_term_maps(image_phi, mask, prob, w_ce: float, w_b: float) -> dict[str, np.ndarray]:
    """Per-pixel contributions of the weighted regional and boundary terms.

    Parameters: ``image_phi`` Φ_G ``(H, W)`` (scaled as in training), ``mask`` the binary ground
    truth ``(H, W)``, ``prob`` the predicted probabilities ``s`` ``(H, W)`` in ``[0, 1]``.

    Returns float64 ``(H, W)`` maps ``{"ce": w_CE·BCE(s, g), "boundary": w_B·Φ_G·s,
    "total": their sum}``, with ``BCE = −(g log s + (1 − g) log(1 − s))`` and ``log`` clamped at
    −100 as torch does; the mean of each map is the corresponding term of the training loss
    (``StrategyLoss`` with ``regional="bce"``), the mean of ``"total"`` the loss itself.
    """
    mask = _binary_2d(mask)
    prob = _check_prob(prob, mask.shape)
    phi = np.asarray(image_phi, dtype=np.float64)
    if phi.shape != mask.shape:
        raise ValueError(f"image_phi has shape {phi.shape}, expected {mask.shape} (same as the mask)")
    with np.errstate(divide="ignore"):
        log_s = np.maximum(np.log(prob), LOG_CLAMP)
        log_1s = np.maximum(np.log1p(-prob), LOG_CLAMP)
    ce = -np.where(mask, log_s, log_1s)
    maps = {"ce": w_ce * ce, "boundary": w_b * phi * prob}
    maps["total"] = maps["ce"] + maps["boundary"]
    return maps


#: The explorer's sliders at rest; also the static figure's settings.
EXPLORER_DEFAULTS = dict(strategy="rebalance", alpha=0.5, delta=0.5, shift=(0, 8), dilation=0,
                         blur=3.0, confidence=0.999, phi_scale="image")

#: The range of the explorer's α slider; :func:`colour_bounds` keeps the colour scales fixed over it.
ALPHA_RANGE = (0.0, 1.0)


def colour_bounds(phi, mask, prob, strategy: str, alpha: float, window) -> dict[str, float]:
    """Colour bounds of the explorer's maps that do not move with α, over the zoom ``window``.

    Returns ``{"phi", "ce", "boundary", "total": b}``: each map is drawn on ``[−b, b]`` (the CE,
    which is ≥ 0, on ``[0, b]``). ``phi``, ``mask``, ``prob`` are those of :func:`explore`,
    ``window = (r0, r1, c0, c1)`` the part of the image the figure shows (:func:`zoom_window`).

    Why fixed: with each panel scaled to its own maximum, moving α rescales a map and its colour
    bar together, so the picture stays the same and only the bar's numbers change. With bounds
    that α does not move, the colours carry the weights: under ``rebalance`` the CE panel fades
    while the L_B panel darkens as α grows. The figure draws them on logarithmic scales
    (:data:`bl_utils.plots.maths.TERM_DECADES`), so that a term at weight 0.01, or L_B inside the
    sum, still shows; a tenfold weight is one step of colour. Each panel keeps its own scale: near
    the contours the CE is often 100 times Φ_G·s per pixel (Φ_G ÷ image side), and one scale shared
    by the panels would blank the L_B one.

    * ``"phi"``: the largest ``|Φ_G|`` in the window (α plays no part);
    * ``"ce"``, ``"boundary"``: the largest unweighted BCE, ``|Φ_G·s|``, times the term's largest
      weight over :data:`ALPHA_RANGE` and ``alpha``, at least 1. On the slider every strategy's
      largest weight is 1 (``w_CE = 1 − α`` of ``rebalance`` at α = 0, ``w_B = α`` at α = 1), so
      this is the term at weight 1, whatever the strategy; ``ce``'s ``w_B = 0`` leaves a blank panel;
    * ``"total"``: the largest ``|w_CE·CE + w_B·Φ_G·s|`` over every α of :data:`ALPHA_RANGE`
      and ``alpha``. The weights are affine in α ((1, 0), (1, α) or (1 − α, α)), so that maximum
      is reached at an end of the range, where it is computed exactly.

    A map that is 0 in the whole window gets ``b = 1``. The bounds change with the prediction,
    Φ_G and the window (so with δ, through S_θ), never with α within the range.
    """
    r0, r1, c0, c1 = window
    terms = loss_term_maps(phi, mask, prob, 1.0, 1.0)
    ce, b = (terms[key][r0:r1, c0:c1] for key in ("ce", "boundary"))
    weights = np.array([strategy_weights(strategy, a) for a in sorted({*ALPHA_RANGE, float(alpha)})])

    def top(values) -> float:
        return float(np.max(np.abs(values), initial=0.0)) or 1.0

    return {"phi": top(np.asarray(phi)[r0:r1, c0:c1]),
            "ce": max(1.0, float(np.abs(weights[:, 0]).max())) * top(ce),
            "boundary": max(1.0, float(np.abs(weights[:, 1]).max())) * top(b),
            "total": max(top(w_ce * ce + w_b * b) for w_ce, w_b in weights)}


@dataclass
class ExplorerState:
    """Everything one setting of the loss explorer shows (see :func:`explore`)."""

    index: int
    title: str
    image: np.ndarray          # uint8 or float (H, W)
    mask: np.ndarray           # bool (H, W), the ground truth G
    phi: np.ndarray            # float64 (H, W), Φ_G as used in the loss (scaled)
    prob: np.ndarray           # float32 (H, W), the candidate prediction s
    segmentation: np.ndarray   # bool (H, W), S_θ = {s ≥ δ} (its contour ∂S_θ is drawn at level δ of s)
    maps: dict[str, np.ndarray]
    settings: dict[str, Any] = field(default_factory=dict)
    numbers: dict[str, float] = field(default_factory=dict)
    window: tuple[int, int, int, int] | None = None      # (r0, r1, c0, c1): the zoom of the map panels
    bounds: dict[str, float] = field(default_factory=dict)   # colour bounds, fixed over α (colour_bounds)


def _phi_of(dataset, index: int) -> np.ndarray:
    phis = getattr(dataset, "phis", None)
    if phis is not None:
        return np.asarray(phis[index], dtype=np.float64)
    return np.asarray(signed_distance_map(np.asarray(dataset.masks[index], bool)), dtype=np.float64)


def image_title(dataset, index: int) -> str:
    """``"<index>: <stem> (<label>, tumour <fraction>%)"`` from the dataset's ``meta``."""
    meta = getattr(dataset, "meta", None)
    if meta is None:
        return f"image {index}"
    row = meta.iloc[index]
    return f"{index}: {row['stem']} ({row['label']}, tumour {100 * row['tumour_fraction']:.1f}%)"


def tumour_index(dataset, example: int = 0) -> int:
    """Index (in ``dataset``) of the ``example``-th image whose mask is not empty."""
    with_tumour = np.flatnonzero(np.asarray(dataset.masks).reshape(len(dataset.masks), -1).any(axis=1))
    if not len(with_tumour):
        raise ValueError("the dataset has no image with a tumour")
    if not -len(with_tumour) <= example < len(with_tumour):
        raise ValueError(f"example={example} but the dataset has {len(with_tumour)} tumour images")
    return int(with_tumour[example])


def _scaled_phi(dataset, index: int, phi_scale: str) -> np.ndarray:
    """Φ_G of image ``index`` scaled as a run scales it (:func:`bl_utils.distance.scale_phi`)."""
    return scale_phi(_phi_of(dataset, index), phi_scale)


def _explorer_numbers(phi, mask, prob, seg, w_ce: float, w_b: float, maps) -> dict[str, float]:
    """The numbers of :attr:`ExplorerState.numbers` (see :func:`explore`)."""
    inter = float((seg & mask).sum())
    denom = float(seg.sum() + mask.sum())
    return {
        "w_ce": w_ce, "w_b": w_b,
        "CE": float(loss_term_maps(phi, mask, prob, 1.0, 0.0)["ce"].mean()),
        "L_B": boundary_loss_sum(phi, prob) / phi.size,
        "L_B(g)": boundary_loss_sum(phi, mask) / phi.size,
        "total": float(maps["total"].mean()),
        "dice": 2 * inter / denom if denom else 1.0,
        "area": float(seg.sum()),
    }


def explore(dataset, index: int, strategy: str = EXPLORER_DEFAULTS["strategy"],
            alpha: float = EXPLORER_DEFAULTS["alpha"], delta: float = EXPLORER_DEFAULTS["delta"],
            shift: tuple[int, int] = EXPLORER_DEFAULTS["shift"], dilation: int = EXPLORER_DEFAULTS["dilation"],
            blur: float = EXPLORER_DEFAULTS["blur"], confidence: float = EXPLORER_DEFAULTS["confidence"],
            phi_scale: str = EXPLORER_DEFAULTS["phi_scale"]) -> ExplorerState:
    """Compute what the explorer shows for image ``index`` of ``dataset`` and one slider setting.

    ``dataset`` needs ``.images``, ``.masks`` (and ``.phis`` or None, ``.meta`` optional) as a
    :class:`bl_utils.data.dataset.UltrasoundDataset` has. The candidate ``s`` is
    ``candidate_prediction(mask, shift, dilation, blur, confidence)``; Φ_G is divided by the image
    side when ``phi_scale="image"`` (as :mod:`bl_utils.train` does by default), kept in pixels
    with ``"pixel"``. ``numbers`` holds ``w_ce``, ``w_b``, ``CE`` (mean BCE), ``L_B`` (mean
    Φ_G·s), ``L_B(g)`` (L_B of the perfect prediction), ``total`` (= w_ce·CE + w_b·L_B), the Dice
    of ``S_θ`` and the area of ``S_θ`` in pixels. ``window`` is :func:`zoom_window` of G and
    ``S_θ``; ``bounds`` the maps' colour bounds over it, which α does not move (:func:`colour_bounds`).
    """
    mask = np.asarray(dataset.masks[index], bool)
    phi = _scaled_phi(dataset, index, phi_scale)
    prob = candidate_prediction(mask, shift=tuple(shift), dilation=dilation, blur=blur, confidence=confidence)
    w_ce, w_b = strategy_weights(strategy, alpha)
    maps = loss_term_maps(phi, mask, prob, w_ce, w_b)
    seg = segmentation_at(prob, delta)
    settings = dict(strategy=strategy, alpha=alpha, delta=delta, shift=tuple(shift), dilation=dilation,
                    blur=blur, confidence=confidence, phi_scale=phi_scale)
    window = zoom_window(mask, seg)
    return ExplorerState(index=index, title=image_title(dataset, index), image=np.asarray(dataset.images[index]),
                         mask=mask, phi=phi, prob=prob, segmentation=seg, maps=maps, settings=settings,
                         numbers=_explorer_numbers(phi, mask, prob, seg, w_ce, w_b, maps), window=window,
                         bounds=colour_bounds(phi, mask, prob, strategy, alpha, window))


def summary_lines(state: ExplorerState) -> list[str]:
    """The explorer's numbers as short lines (HTML-free): weights, CE, L_B, L_B of s = g, total, Dice."""
    n, st = state.numbers, state.settings
    return [f"{st['strategy']}: (w_CE, w_B) = ({n['w_ce']:.3g}, {n['w_b']:.3g})",
            f"CE = {n['CE']:.4g}",
            f"L_B = {n['L_B']:.4g}",
            f"L_B(g) = {n['L_B(g)']:.4g}  (s = g)",
            f"total = {n['total']:.4g}",
            f"Dice(S_θ, G) = {n['dice']:.3f}"]


def summary_text(state: ExplorerState) -> str:
    """:func:`summary_lines` on one line, joined by ``"  ·  "``."""
    return "  ·  ".join(summary_lines(state))


def zoom_window(*masks, margin: int = 24, minimum: int = 64) -> tuple[int, int, int, int]:
    """``(row0, row1, col0, col1)``: the bounding box of the masks' union grown by ``margin`` and to
    at least ``minimum`` pixels a side, inside the image; the whole image when the masks are empty."""
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
