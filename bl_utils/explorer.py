"""The computations behind notebook 2: the geometry of eqs. 1–2, candidate predictions, per-pixel
loss terms, and what one setting of the loss explorer shows. Pure functions of arrays, no drawing.

:mod:`bl_utils.plots` draws what is computed here and :mod:`bl_utils.widgets` wires it to sliders;
this module imports neither (the arrows go ``widgets → plots → explorer``). Every name here is
also importable from :mod:`bl_utils.widgets`, where the notebooks look for it. Each function is
unit-tested in ``tests/test_widgets.py`` against an independent oracle.

Conventions (those of :mod:`bl_utils.distance`): arrays are ``(H, W)``; points are ``(row, col)``
with pixel centres at integer coordinates; Φ_G is negative inside the tumour G and positive
outside; ``D_G = |Φ_G|`` is the distance to the contour ∂G. Probabilities ``s`` lie in ``[0, 1]``.

* :class:`Disk` — an analytic disk (mask, signed distance, contour points);
* :func:`normal_correspondences`, :func:`contour_distance` — eq. 1, ``Dist(∂G, ∂S) =
  ∫_∂G ||y_∂S(p) − p||² dp``, by sampling ∂G;
* :func:`region_distance_integral` — eq. 2's ``2 ∫_ΔS D_G(q) dq`` with the exact D_G of a disk;
* :func:`pixel_region_integral`, :func:`boundary_loss_sum` — the same quantities on the pixel grid;
* :func:`distance_identities` — eq. 1 beside eq. 2 beside the change of L_B, for disks;
* :func:`candidate_prediction`, :func:`standard_candidates`, :func:`candidate_losses`,
  :func:`empty_policy_table` — L_B of hand-made predictions;
* :func:`segmentation_at`, :func:`strategy_weights`, :func:`loss_term_maps`, :func:`explore` —
  what one setting of the explorer's sliders shows (an :class:`ExplorerState`);
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

from .distance import signed_distance_map
from .schedules import STRATEGIES, ConstantSchedule, Strategy, make_strategy

#: torch's ``binary_cross_entropy`` clamps ``log`` at -100; :func:`loss_term_maps` does the same,
#: so that a confidently wrong pixel costs 100 and the maps' mean equals torch's BCE.
LOG_CLAMP = -100.0


# --------------------------------------------------------------------------------------------
# Eqs. 1–2 on analytic disks
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Disk:
    """The disk of ``radius`` (pixels) centred at ``center = (row, col)`` (pixel coordinates)."""

    center: tuple[float, float]
    radius: float

    def __post_init__(self):
        if not self.radius > 0:
            raise ValueError(f"Disk: radius must be > 0, got {self.radius}")

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Boolean ``shape`` array: True at the pixel centres inside the disk (boundary included)."""
        return self.signed_distance(shape) <= 0

    def signed_distance(self, shape: tuple[int, int]) -> np.ndarray:
        """Exact signed distance ``|q − c| − r`` to the circle at every pixel centre (float64)."""
        rows, cols = np.indices(shape, dtype=float)
        return np.hypot(rows - self.center[0], cols - self.center[1]) - self.radius

    def contour(self, n: int = 720) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points ``p_k`` evenly spaced on the circle and their outward unit normals, ``(n, 2)``."""
        theta = 2 * np.pi * np.arange(n) / n
        normals = np.stack([np.sin(theta), np.cos(theta)], axis=1)
        return np.asarray(self.center, float) + self.radius * normals, normals


def normal_correspondences(g: Disk, s: Disk, n: int = 720) -> tuple[np.ndarray, np.ndarray]:
    """Points ``p`` on ∂G and ``y_∂S(p)``: where the normal to ∂G at ``p`` first meets ∂S.

    Returns two ``(n, 2)`` arrays. ``y_∂S(p) = p + t·n(p)`` with ``t`` the root of
    ``|p + t·n − c_S| = r_S`` of smallest ``|t|`` (outwards when S bulges out, inwards when it
    shrinks). Raises ``ValueError`` when some normal line misses ∂S (then eq. 1 is undefined).
    """
    p, normal = g.contour(n)
    offset = p - np.asarray(s.center, float)
    b = np.sum(offset * normal, axis=1)
    disc = b * b - (np.sum(offset * offset, axis=1) - s.radius ** 2)
    if np.any(disc < 0):
        raise ValueError("normal_correspondences: some normals of ∂G miss ∂S; move S so that it "
                         "contains the centre of G")
    root = np.sqrt(disc)
    t = np.where(np.abs(-b + root) <= np.abs(-b - root), -b + root, -b - root)
    return p, p + t[:, None] * normal


def contour_distance(g: Disk, s: Disk, n: int = 4096) -> float:
    """Eq. 1: ``Dist(∂G, ∂S) = ∫_∂G ||y_∂S(p) − p||² dp``, by the rectangle rule on ``n`` points.

    Exact for a periodic smooth integrand up to ~machine precision for ``n`` in the thousands.
    Units: pixels³ (squared length times arc length).
    """
    p, y = normal_correspondences(g, s, n)
    return float(np.sum((y - p) ** 2) * (2 * np.pi * g.radius / n))


def region_distance_integral(g: Disk, s: Disk, step: float = 0.125) -> float:
    """Eq. 2's right side ``2 ∫_ΔS D_G(q) dq`` in the continuous plane, with the exact D_G of ``g``.

    ``ΔS`` is the symmetric difference of the two disks; the integral is the midpoint rule on a
    grid of spacing ``step`` (pixels) over their bounding box (error ~``step²``).
    """
    lo = np.minimum(np.subtract(g.center, g.radius), np.subtract(s.center, s.radius)) - 1
    hi = np.maximum(np.add(g.center, g.radius), np.add(s.center, s.radius)) + 1
    rows = np.arange(lo[0], hi[0], step) + step / 2
    cols = np.arange(lo[1], hi[1], step) + step / 2
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    dist_g = np.hypot(rr - g.center[0], cc - g.center[1]) - g.radius
    in_s = np.hypot(rr - s.center[0], cc - s.center[1]) <= s.radius
    region = (dist_g <= 0) != in_s
    return float(2 * np.abs(dist_g[region]).sum() * step * step)


def pixel_region_integral(phi_g: np.ndarray, mask_g: np.ndarray, mask_s: np.ndarray) -> float:
    """Eq. 2 on the pixel grid: ``2 Σ_{q∈ΔS} |Φ_G(q)|`` with ``ΔS = G xor S`` (pixel area 1)."""
    region = np.asarray(mask_g, bool) != np.asarray(mask_s, bool)
    return float(2 * np.abs(np.asarray(phi_g, float)[region]).sum())


def boundary_loss_sum(phi: np.ndarray, prob: np.ndarray) -> float:
    """Eq. 7 with the integral as a pixel sum: ``Σ_q Φ_G(q) s(q)`` (L_B times the pixel count)."""
    return float(np.sum(np.asarray(phi, float) * np.asarray(prob, float)))


def distance_identities(g: Disk, candidates: dict[str, Disk], shape: tuple[int, int] = (256, 256),
                        n: int = 4096):
    """Eq. 1 beside eq. 2 beside the change of L_B, for a disk G and candidate disks S.

    Returns a ``pandas.DataFrame`` (one row per candidate) with the columns

    * ``eq. 1``: ``Dist(∂G, ∂S)`` by :func:`contour_distance` (sampling ∂G);
    * ``eq. 2 (exact D_G)``: ``2∫_ΔS D_G`` by :func:`region_distance_integral` (continuous plane);
    * ``eq. 2 (pixels, Φ_G)``: ``2Σ_ΔS |Φ_G|`` by :func:`pixel_region_integral`, with Φ_G from
      :func:`bl_utils.distance.signed_distance_map` of the rasterised G and ΔS between the
      rasterised disks;
    * ``2·ΔL_B``: ``2(ΣΦ_G s − ΣΦ_G g)``, twice the change of the summed boundary loss from
      ``s = g`` to ``s = S`` (both binary): equal to the previous column exactly (eqs. 3–6).
    """
    mask_g = g.mask(shape)
    phi_g = signed_distance_map(mask_g)
    rows = {}
    for name, s in candidates.items():
        mask_s = s.mask(shape)
        rows[name] = {
            "eq. 1": contour_distance(g, s, n),
            "eq. 2 (exact D_G)": region_distance_integral(g, s),
            "eq. 2 (pixels, Φ_G)": pixel_region_integral(phi_g, mask_g, mask_s),
            "2·ΔL_B": 2 * (boundary_loss_sum(phi_g, mask_s) - boundary_loss_sum(phi_g, mask_g)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


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
    """Φ_G of image ``index``, divided by the image side for ``"image"``, in pixels for ``"pixel"``."""
    phi = _phi_of(dataset, index)
    if phi_scale == "image":
        return phi / max(phi.shape)
    if phi_scale != "pixel":
        raise ValueError(f"phi_scale must be 'image' or 'pixel', got {phi_scale!r}")
    return phi


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
    :class:`bl_utils.data.BusiDataset` has. The candidate ``s`` is
    ``candidate_prediction(mask, shift, dilation, blur, confidence)``; Φ_G is divided by the image
    side when ``phi_scale="image"`` (as :mod:`bl_utils.train` does by default), kept in pixels
    with ``"pixel"``. ``numbers`` holds ``w_ce``, ``w_b``, ``CE`` (mean BCE), ``L_B`` (mean
    Φ_G·s), ``L_B(g)`` (L_B of the perfect prediction), ``total`` (= w_ce·CE + w_b·L_B), the Dice
    of ``S_θ`` and the area of ``S_θ`` in pixels.
    """
    mask = np.asarray(dataset.masks[index], bool)
    phi = _scaled_phi(dataset, index, phi_scale)
    prob = candidate_prediction(mask, shift=tuple(shift), dilation=dilation, blur=blur, confidence=confidence)
    w_ce, w_b = strategy_weights(strategy, alpha)
    maps = loss_term_maps(phi, mask, prob, w_ce, w_b)
    seg = segmentation_at(prob, delta)
    settings = dict(strategy=strategy, alpha=alpha, delta=delta, shift=tuple(shift), dilation=dilation,
                    blur=blur, confidence=confidence, phi_scale=phi_scale)
    return ExplorerState(index=index, title=image_title(dataset, index), image=np.asarray(dataset.images[index]),
                         mask=mask, phi=phi, prob=prob, segmentation=seg, maps=maps, settings=settings,
                         numbers=_explorer_numbers(phi, mask, prob, seg, w_ce, w_b, maps))


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
