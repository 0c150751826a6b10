"""Segmentation metrics: Dice, IoU, HD95, ASSD and connected components, per image and summarised.

Every function takes one binary mask pair of shape ``(H, W)`` or ``(H, W, D)`` (numpy arrays or torch
tensors; ``bool`` or values in {0, 1}; no channel axis), except :func:`evaluate_masks` (a stack
``(N, H, W)`` or ``(N, H, W, D)``), :func:`batch_dice` (torch, ``(B, ...)``, for the training loop) and
:func:`batch_pooled_f1` (a stack ``(N, H, W)``: Odonnat & Pham's validation F1, pooled per batch).

Conventions (BUSI has 133 *normal* images whose true mask is empty, so they matter here):

* **Dice / IoU.** ``2|P∩T| / (|P|+|T|)`` and ``|P∩T| / |P∪T|``. Both masks empty -> ``empty_score``
  (default 1: "nothing there, nothing predicted" is a perfect answer); exactly one empty -> 0.
  MONAI's ``compute_dice(..., ignore_empty=False)`` uses the same rule (its default,
  ``ignore_empty=True``, gives NaN when the truth is empty).
* **Surfaces.** The surface (boundary) of a mask is the mask minus its binary erosion by the cross
  (4-neighbourhood in 2-D, 6 in 3-D), with everything outside the array counted as background, so
  pixels on the image border belong to the surface. This is what MONAI (``get_mask_edges`` without
  sub-voxel edges) and medpy do. Surface distances are exact Euclidean distances between surface
  pixel centres (``scipy.ndimage.distance_transform_edt``), scaled by ``spacing`` (one value per axis,
  default 1, i.e. pixels).
* **HD95.** By default the larger of the two directed 95th percentiles,
  ``max(P95(d(∂P -> ∂T)), P95(d(∂T -> ∂P)))``, with linear interpolation between order statistics —
  exactly MONAI's ``compute_hausdorff_distance(percentile=95)``. ``method="pooled"`` gives instead the
  95th percentile of the pooled (symmetric) set of both directions' distances, medpy's ``hd95``. The
  two agree on symmetric shapes and differ slightly otherwise (see the tests for a worked example).
* **ASSD.** The mean of the pooled set of both directions' distances,
  ``(Σ d(∂P -> ∂T) + Σ d(∂T -> ∂P)) / (|∂P| + |∂T|)`` — MONAI's
  ``compute_average_surface_distance(symmetric=True)`` and Heimann et al. (2009). (medpy's ``assd``
  averages the two directed means instead; they differ when the surfaces have different sizes.)
* **NSD** (normalised surface Dice, Nikolov et al. 2021) at a tolerance τ: the fraction of both
  surfaces within τ of the other, ``(|{d(∂P -> ∂T) ≤ τ}| + |{d(∂T -> ∂P) ≤ τ}|) / (|∂P| + |∂T|)``,
  on the surfaces above — MONAI's ``compute_surface_dice`` (without sub-voxel edges). Both empty -> 1,
  exactly one empty -> 0 (MONAI gives NaN and 0).
* **Empty masks in HD95/ASSD.** Both empty -> 0 (MONAI gives NaN). Exactly one empty -> the distance is
  undefined: ``empty_value`` (default NaN, so :func:`summarize` reports such images as a count beside a
  ``nanmean``); pass a number, or ``"diagonal"`` for the array's diagonal length
  ``sqrt(Σ (n_i · spacing_i)^2)``, to substitute a penalty instead. (MONAI gives NaN or inf.)
* **Connected components.** ``scipy.ndimage.label`` with ``generate_binary_structure(ndim,
  connectivity)``: in 2-D ``connectivity=2`` (default) is 8-connectivity, ``1`` is 4-connectivity; in
  3-D 1, 2, 3 are 6-, 18- and 26-connectivity.

Bad input raises ``ValueError``: masks of different shapes (both shapes named), values other than 0/1 in
a non-bool array (threshold probabilities first, and 0/255 masks with ``> 0``), a dimension other than
2 or 3, or a size-1 axis (which is almost always a channel axis left in: pass ``mask[0]``); a
non-numeric dtype raises ``TypeError`` (:func:`bl_utils.distance.check_mask`, shared with Φ_G).

Example::

    >>> import numpy as np
    >>> a = np.zeros((8, 8), bool); a[2:6, 0:4] = True
    >>> b = np.zeros((8, 8), bool); b[2:6, 2:6] = True
    >>> dice(a, b), iou(a, b)
    (0.5, 0.3333333333333333)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import ndimage

from .distance import bounding_slices, check_mask, check_spacing, empty_value as empty_value_for

__all__ = [
    "dice", "iou", "hd95", "assd", "surface_dice", "surface", "surface_distances", "count_components",
    "evaluate_masks", "summarize", "batch_dice", "batch_pooled_f1", "confusion_counts", "pooled_f1_from_counts",
]

#: Columns of the table returned by :func:`evaluate_masks`, in order.
COLUMNS = ("stem", "label", "dice", "iou", "hd95", "assd", "components", "target_empty", "pred_empty")

HD95_METHODS = ("max", "pooled")


# ----------------------------------------------------------------------------------- input checks
def _to_numpy(x: Any, name: str) -> np.ndarray:
    """A numpy view of ``x`` (torch tensors are detached and moved to the CPU)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.numpy()
    try:
        return np.asarray(x)
    except Exception as error:  # pragma: no cover - exotic objects
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}") from error


def _one_mask(x: Any, name: str) -> np.ndarray:
    """One mask ``(H, W)`` or ``(H, W, D)`` as a bool numpy array."""
    a = _to_numpy(x, name)
    _check_spatial_shape(a.shape, name)
    return check_mask(a, name)


def _check_spatial_shape(shape: tuple[int, ...], name: str) -> None:
    if len(shape) not in (2, 3):
        raise ValueError(f"{name} must be one mask of shape (H, W) or (H, W, D), got shape {tuple(shape)}; "
                         "use evaluate_masks for a stack of masks.")
    if 1 in shape:
        raise ValueError(f"{name} has shape {tuple(shape)}: a size-1 axis is almost always a channel or "
                         "batch axis left in (it would make every pixel a surface pixel); pass mask[0] "
                         "or mask.squeeze().")


def _check_pair(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    p, t = _to_numpy(pred, "pred"), _to_numpy(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target must have the same shape, got pred {tuple(p.shape)} and "
                         f"target {tuple(t.shape)}.")
    _check_spatial_shape(p.shape, "pred")
    return check_mask(p, "pred"), check_mask(t, "target")


def _check_empty_value(empty_value: Any) -> None:
    if isinstance(empty_value, str):
        if empty_value != "diagonal":
            raise ValueError(f"empty_value must be a number or 'diagonal', got {empty_value!r}.")
    elif not isinstance(empty_value, (int, float, np.integer, np.floating)):
        raise ValueError(f"empty_value must be a number or 'diagonal', got {empty_value!r}.")


def _empty_distance(empty_value: float | str, shape: tuple[int, ...], spacing: tuple[float, ...]) -> float:
    if empty_value == "diagonal":
        return empty_value_for(shape, spacing, "diagonal")
    return float(empty_value)


# ------------------------------------------------------------------------------- overlap metrics
def _dice(p: np.ndarray, t: np.ndarray, empty_score: float) -> float:
    total = np.count_nonzero(p) + np.count_nonzero(t)
    if total == 0:
        return float(empty_score)
    return float(2 * np.count_nonzero(p & t) / total)


def _iou(p: np.ndarray, t: np.ndarray, empty_score: float) -> float:
    union = np.count_nonzero(p | t)
    if union == 0:
        return float(empty_score)
    return float(np.count_nonzero(p & t) / union)


def dice(pred, target, empty_score: float = 1.0) -> float:
    """Dice coefficient ``2|P∩T| / (|P|+|T|)`` of two binary masks ``(H, W)`` or ``(H, W, D)``.

    Returns a float in [0, 1]. Both masks empty -> ``empty_score`` (default 1.0; a BUSI normal image
    predicted empty is a perfect answer); exactly one empty -> 0.0. Raises ``ValueError`` on shape
    mismatch or non-binary values.
    """
    p, t = _check_pair(pred, target)
    return _dice(p, t, empty_score)


def iou(pred, target, empty_score: float = 1.0) -> float:
    """Intersection over union (Jaccard) ``|P∩T| / |P∪T|``; empty cases as in :func:`dice`."""
    p, t = _check_pair(pred, target)
    return _iou(p, t, empty_score)


# ------------------------------------------------------------------------------ surface distances
def _surface(mask: np.ndarray) -> np.ndarray:
    # Default structure: the cross; border_value=0: outside the array is background.
    return mask & ~ndimage.binary_erosion(mask)


def _distances(p: np.ndarray, t: np.ndarray, spacing: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Directed surface distances (∂P -> ∂T, ∂T -> ∂P) for two non-empty masks."""
    # Every surface pixel lies in the union's bounding box, so computing in that box (plus a
    # one-pixel background margin, for the erosion) gives the same distances faster.
    box = bounding_slices(p | t)
    p, t = p[box], t[box]
    sp, st = _surface(p), _surface(t)
    to_t = ndimage.distance_transform_edt(~st, sampling=spacing)
    to_p = ndimage.distance_transform_edt(~sp, sampling=spacing)
    return to_t[sp], to_p[st]


def surface(mask) -> np.ndarray:
    """The surface (boundary) pixels of a binary mask: the mask minus its erosion by the cross.

    Pixels on the array border count as surface (outside the array is background). Returns a bool
    array of the mask's shape ``(H, W)`` or ``(H, W, D)``.
    """
    return _surface(_one_mask(mask, "mask"))


def surface_distances(pred, target, spacing=None) -> tuple[np.ndarray, np.ndarray]:
    """The directed surface distances ``(d(∂P -> ∂T), d(∂T -> ∂P))`` as two float64 arrays.

    ``d(∂P -> ∂T)`` holds, for every surface pixel of ``pred`` (in C order), the Euclidean distance
    (in ``spacing`` units) to the nearest surface pixel of ``target``. If one mask is empty the
    distances from the other are ``inf`` (and from the empty one, an empty array); both empty -> two
    empty arrays.
    """
    p, t = _check_pair(pred, target)
    spacing = check_spacing(spacing, p.ndim)
    if p.any() and t.any():
        return _distances(p, t, spacing)
    return (np.full(np.count_nonzero(_surface(p)), np.inf), np.full(np.count_nonzero(_surface(t)), np.inf))


def _hd95(d_pt: np.ndarray, d_tp: np.ndarray, method: str) -> float:
    if method == "max":
        return float(max(np.percentile(d_pt, 95), np.percentile(d_tp, 95)))
    return float(np.percentile(np.concatenate([d_pt, d_tp]), 95))


def _assd(d_pt: np.ndarray, d_tp: np.ndarray) -> float:
    return float((d_pt.sum() + d_tp.sum()) / (len(d_pt) + len(d_tp)))


def _surface_metric(pred, target, spacing, empty_value, compute) -> float:
    _check_empty_value(empty_value)
    p, t = _check_pair(pred, target)
    spacing = check_spacing(spacing, p.ndim)
    p_any, t_any = p.any(), t.any()
    if not p_any and not t_any:
        return 0.0
    if not (p_any and t_any):
        return _empty_distance(empty_value, p.shape, spacing)
    return compute(*_distances(p, t, spacing))


def hd95(pred, target, spacing=None, empty_value: float | str = float("nan"), *,
         method: str = "max") -> float:
    """95th-percentile Hausdorff distance between the surfaces of two binary masks.

    Args:
        pred, target: binary masks ``(H, W)`` or ``(H, W, D)`` of the same shape.
        spacing: pixel size, a number or one value per axis (default 1: result in pixels).
        empty_value: returned when exactly one mask is empty (default NaN); a number, or
            ``"diagonal"`` for the array's diagonal length in spacing units. Both empty -> 0.0.
        method: ``"max"`` (default): ``max`` of the two directed 95th percentiles, as MONAI's
            ``compute_hausdorff_distance(percentile=95)``; ``"pooled"``: the 95th percentile of both
            directions' distances pooled, as medpy's ``hd95``.

    Returns a float ≥ 0 in spacing units (or ``empty_value``). Raises ``ValueError`` on bad input.
    """
    if method not in HD95_METHODS:
        raise ValueError(f"method must be one of {HD95_METHODS}, got {method!r}.")
    return _surface_metric(pred, target, spacing, empty_value, lambda a, b: _hd95(a, b, method))


def assd(pred, target, spacing=None, empty_value: float | str = float("nan")) -> float:
    """Average symmetric surface distance: the mean of both directions' surface distances, pooled.

    ``(Σ d(∂P -> ∂T) + Σ d(∂T -> ∂P)) / (|∂P| + |∂T|)``, as MONAI's
    ``compute_average_surface_distance(symmetric=True)``. Arguments and empty cases as in :func:`hd95`.
    """
    return _surface_metric(pred, target, spacing, empty_value, _assd)


def _nsd(d_pt: np.ndarray, d_tp: np.ndarray, tolerance: float) -> float:
    return float((np.count_nonzero(d_pt <= tolerance) + np.count_nonzero(d_tp <= tolerance)) / (len(d_pt) + len(d_tp)))


def surface_dice(pred, target, tolerance: float, spacing=None) -> float:
    """Normalised surface Dice (NSD): the fraction of both surfaces within ``tolerance`` (spacing
    units, ≥ 0) of the other surface, as MONAI's ``compute_surface_dice``. In [0, 1]; both masks
    empty -> 1.0, exactly one empty -> 0.0. Raises ``ValueError`` on bad input or a negative tolerance."""
    if not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}.")
    p, t = _check_pair(pred, target)
    spacing = check_spacing(spacing, p.ndim)
    p_any, t_any = p.any(), t.any()
    if not (p_any and t_any):
        return 1.0 if p_any == t_any else 0.0
    return _nsd(*_distances(p, t, spacing), float(tolerance))


# ----------------------------------------------------------------------------------- components
def _structure(ndim: int, connectivity: int) -> np.ndarray:
    if not (isinstance(connectivity, (int, np.integer)) and 1 <= connectivity <= ndim):
        raise ValueError(f"connectivity must be an integer from 1 to {ndim} for {ndim}-D masks "
                         f"(2-D: 1 = 4-connectivity, 2 = 8-connectivity), got {connectivity!r}.")
    return ndimage.generate_binary_structure(ndim, int(connectivity))


def count_components(mask, connectivity: int = 2) -> int:
    """Number of connected components of a binary mask ``(H, W)`` or ``(H, W, D)``.

    ``connectivity`` is that of ``scipy.ndimage.generate_binary_structure``: in 2-D, 2 (default) is
    8-connectivity (diagonal neighbours join) and 1 is 4-connectivity; in 3-D, 1/2/3 are 6/18/26.
    An empty mask has 0 components.
    """
    m = _one_mask(mask, "mask")
    return int(ndimage.label(m, structure=_structure(m.ndim, connectivity))[1])


# ------------------------------------------------------------------------------------ per image
def evaluate_masks(preds, targets, stems: Sequence | None = None, labels: Sequence | None = None,
                   spacing=None, *, empty_score: float = 1.0, empty_value: float | str = float("nan"),
                   connectivity: int = 2, hd95_method: str = "max", nsd_tolerance: float | None = None) -> pd.DataFrame:
    """Every metric for every image of a stack: one row per image.

    Args:
        preds, targets: binary stacks ``(N, H, W)`` or ``(N, H, W, D)`` (numpy or torch) of one shape.
        stems, labels: optional per-image names and classes (length N); default ``0..N-1`` and None.
        spacing: pixel size for HD95/ASSD (see :func:`hd95`).
        empty_score, empty_value, connectivity, hd95_method: passed to :func:`dice`/:func:`iou`,
            :func:`hd95`/:func:`assd`, :func:`count_components` and :func:`hd95` (``method``).

        nsd_tolerance: when given, a column ``nsd``: :func:`surface_dice` at this tolerance.

    Returns a DataFrame with columns ``stem, label, dice, iou, hd95, assd, components, target_empty,
    pred_empty`` (``components`` counts the *prediction's* connected components), and ``nsd``.
    """
    _check_empty_value(empty_value)
    if hd95_method not in HD95_METHODS:
        raise ValueError(f"hd95_method must be one of {HD95_METHODS}, got {hd95_method!r}.")
    if nsd_tolerance is not None and not (np.isfinite(nsd_tolerance) and nsd_tolerance >= 0):
        raise ValueError(f"nsd_tolerance must be a finite number >= 0, got {nsd_tolerance!r}.")
    p_all, t_all = _to_numpy(preds, "preds"), _to_numpy(targets, "targets")
    if p_all.shape != t_all.shape:
        raise ValueError(f"preds and targets must have the same shape, got preds {tuple(p_all.shape)} "
                         f"and targets {tuple(t_all.shape)}.")
    if p_all.ndim not in (3, 4):
        raise ValueError(f"preds must be a stack (N, H, W) or (N, H, W, D), got shape {tuple(p_all.shape)}.")
    _check_spatial_shape(p_all.shape[1:], "each mask")
    p_all, t_all = check_mask(p_all, "preds"), check_mask(t_all, "targets")
    n = len(p_all)
    stems = list(range(n)) if stems is None else list(stems)
    labels = [None] * n if labels is None else list(labels)
    for name, values in (("stems", stems), ("labels", labels)):
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} masks.")
    spacing = check_spacing(spacing, p_all.ndim - 1)
    structure = _structure(p_all.ndim - 1, connectivity)

    rows = [{"stem": stem, "label": label, **_image_row(p, t, spacing, empty_score, empty_value, structure,
                                                        hd95_method, nsd_tolerance)}
            for stem, label, p, t in zip(stems, labels, p_all, t_all)]
    columns = list(COLUMNS) + (["nsd"] if nsd_tolerance is not None else [])
    return pd.DataFrame(rows, columns=columns)


def _image_row(p, t, spacing, empty_score, empty_value, structure, hd95_method, nsd_tolerance) -> dict:
    """One image's metrics (:func:`evaluate_masks`'s columns after ``stem, label``)."""
    p_any, t_any = bool(p.any()), bool(t.any())
    if p_any and t_any:
        d_pt, d_tp = _distances(p, t, spacing)
        h, a = _hd95(d_pt, d_tp, hd95_method), _assd(d_pt, d_tp)
        nsd = _nsd(d_pt, d_tp, nsd_tolerance) if nsd_tolerance is not None else None
    elif p_any or t_any:
        h = a = _empty_distance(empty_value, p.shape, spacing)
        nsd = 0.0
    else:
        h, a, nsd = 0.0, 0.0, 1.0
    return {"dice": _dice(p, t, empty_score), "iou": _iou(p, t, empty_score), "hd95": h, "assd": a,
            "components": int(ndimage.label(p, structure=structure)[1]), "target_empty": not t_any,
            "pred_empty": not p_any, "nsd": nsd}


def _mean(values: pd.Series) -> float:
    """Mean ignoring NaN; NaN (without a warning) when nothing is left."""
    values = values.dropna()
    return float(values.mean()) if len(values) else float("nan")


def summarize(df: pd.DataFrame) -> dict[str, float | int]:
    """Summary of an :func:`evaluate_masks` table, as a dict of plain floats and ints.

    Keys: ``n_images``, ``n_tumour`` (target not empty), ``n_normal`` (target empty);
    ``dice_mean`` (all images), ``dice_tumour``, ``dice_normal``; ``iou_mean``, ``iou_tumour``;
    ``hd95_mean`` and ``assd_mean`` (NaN-ignoring means over all images, where both-empty images
    count 0), ``hd95_tumour`` and ``assd_tumour`` (the same over tumour images), ``hd95_nan`` and
    ``assd_nan`` (how many images had an undefined distance: exactly one mask empty);
    ``components_mean`` (of the predictions); ``tumour_missed`` (tumour images predicted empty) and
    ``normal_with_prediction`` (normal images with any predicted pixel) and ``normal_fp_rate`` (their
    share of the normal images: the false-positive rate). A mean over no image is NaN.

    HD95 and ASSD of a tumour image predicted empty are undefined (NaN, with the default
    ``empty_value``): ``hd95_tumour`` is the mean over the tumour images that were found, and
    ``tumour_missed`` counts the failures beside it; neither is ever silently dropped.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"summarize expects a table from evaluate_masks; missing columns {missing}.")
    empty = df["target_empty"].astype(bool)
    pred_empty = df["pred_empty"].astype(bool)
    tumour, normal = df[~empty], df[empty]
    return {
        "n_images": int(len(df)), "n_tumour": int(len(tumour)), "n_normal": int(len(normal)),
        "dice_mean": _mean(df["dice"]), "dice_tumour": _mean(tumour["dice"]),
        "dice_normal": _mean(normal["dice"]),
        "iou_mean": _mean(df["iou"]), "iou_tumour": _mean(tumour["iou"]),
        "hd95_mean": _mean(df["hd95"]), "hd95_tumour": _mean(tumour["hd95"]),
        "hd95_nan": int(df["hd95"].isna().sum()),
        "assd_mean": _mean(df["assd"]), "assd_tumour": _mean(tumour["assd"]),
        "assd_nan": int(df["assd"].isna().sum()),
        "components_mean": _mean(df["components"].astype(float)),
        "tumour_missed": int((~empty & pred_empty).sum()),
        "normal_with_prediction": int((empty & ~pred_empty).sum()),
        "normal_fp_rate": float((~pred_empty[empty]).mean()) if len(normal) else float("nan"),
    }


# -------------------------------------------------------------------------- torch, for training
def batch_dice(pred, target, threshold: float = 0.5, from_logits: bool = True,
               empty_score: float = 1.0):
    """Per-image Dice of a batch, in torch on the tensors' device (no numpy round trip).

    Args:
        pred: logits (``from_logits=True``, passed through a sigmoid) or probabilities in [0, 1]
            (``from_logits=False``), shape ``(B, ...)``, e.g. ``(B, 1, H, W)``.
        target: binary tensor (bool or 0/1) of the same shape.
        threshold: a pixel is predicted foreground where its probability is ``>= threshold``.
        empty_score: Dice when both the thresholded prediction and the target are empty (as :func:`dice`).

    Returns a float32 tensor ``(B,)``, equal (to float32 rounding) to :func:`dice` on each image.
    Raises ``ValueError`` on shape mismatch, a non-binary target, or probabilities outside [0, 1].
    """
    import torch

    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError("batch_dice takes torch tensors; use dice() for numpy arrays.")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got pred {tuple(pred.shape)} and "
                         f"target {tuple(target.shape)}.")
    if pred.ndim < 2:
        raise ValueError(f"batch_dice expects a batch (B, ...), got shape {tuple(pred.shape)}.")
    with torch.no_grad():
        probs = pred.detach().float()
        if from_logits:
            probs = torch.sigmoid(probs)
        elif bool(((probs < 0) | (probs > 1)).any()):
            raise ValueError("pred holds values outside [0, 1] but from_logits=False; pass "
                             "from_logits=True for logits.")
        if target.dtype == torch.bool:
            t = target.detach()
        else:
            t = target.detach()
            if bool(((t != 0) & (t != 1)).any()):
                raise ValueError("target must be binary (bool or 0/1 values); divide 0/255 masks by 255.")
            t = t != 0
        p = (probs >= threshold).flatten(1)
        t = t.flatten(1)
        intersection = (p & t).sum(1).float()
        total = (p.sum(1) + t.sum(1)).float()
        score = 2 * intersection / total.clamp_min(1)
        return torch.where(total == 0, torch.full_like(score, float(empty_score)), score)


def batch_pooled_f1(pred_masks, true_masks, batch_size: int = 16) -> float:
    """Odonnat & Pham's validation F1: pixels pooled within each batch, then the mean over batches.

    Their loop (ambroiseodt/BoundaryLoss, ``main.ipynb``) adds ``F1Score(task='binary')(pred, gt)``
    of each validation batch (argmax masks, all the batch's pixels pooled) and divides by the number
    of batches. Here the ``N`` masks are cut in consecutive batches of ``batch_size`` (the last one
    shorter, as an unshuffled ``DataLoader``), each scores ``2 TP / (2 TP + FP + FN)`` — ``0`` with no
    positive prediction and no positive target (torchmetrics' ``zero_division=0``) — and every batch
    counts equally, however short: neither the per-image mean Dice nor the pooled Dice, and it
    depends on the order of the images (:func:`pooled_f1_from_counts` reads any order).

    ``pred_masks``, ``true_masks``: stacks ``(N, H, W)`` (or ``(N, H, W, D)``) of one shape, numpy or
    torch, bool or 0/1. ``ValueError`` for other shapes, fewer than 2 axes, ``N = 0``, non-binary
    values or ``batch_size < 1``."""
    p, t = _to_numpy(pred_masks, "pred_masks"), _to_numpy(true_masks, "true_masks")
    if p.shape != t.shape:
        raise ValueError(f"pred_masks and true_masks must have the same shape, got {tuple(p.shape)} "
                         f"and {tuple(t.shape)}.")
    if p.ndim < 2 or len(p) == 0:
        raise ValueError(f"expected a non-empty stack of masks (N, H, W), got shape {tuple(p.shape)}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
    return pooled_f1_from_counts(confusion_counts(p, t), batch_size=int(batch_size))


def confusion_counts(pred_masks, true_masks) -> np.ndarray:
    """Per image, the true positives, false positives and false negatives, ``int64 (N, 3)``, of stacks
    ``(N, H, W)`` of one shape: each epoch's ``val_counts.npz``, which :func:`pooled_f1_from_counts` reads."""
    p, t = _to_numpy(pred_masks, "pred_masks"), _to_numpy(true_masks, "true_masks")
    if p.shape != t.shape or p.ndim < 2:
        raise ValueError(f"expected two stacks of masks (N, H, W) of one shape, got {tuple(p.shape)} and "
                         f"{tuple(t.shape)}.")
    p, t = check_mask(p, "pred_masks").reshape(len(p), -1), check_mask(t, "true_masks").reshape(len(t), -1)
    return np.stack([np.count_nonzero(p & t, axis=1), np.count_nonzero(p & ~t, axis=1),
                     np.count_nonzero(~p & t, axis=1)], axis=1).astype(np.int64)


def pooled_f1_from_counts(counts, order=None, batch_size: int = 16) -> float:
    """:func:`batch_pooled_f1` from per-image counts ``(N, 3)`` (TP, FP, FN; :func:`confusion_counts`)
    read in ``order`` (a permutation of ``range(N)``; default: as stored): consecutive batches of
    ``batch_size`` pool their counts, each scores ``2 TP / (2 TP + FP + FN)`` (0 when all are 0), and
    the batches count equally. Equal to :func:`batch_pooled_f1` on the masks in that order."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != 3 or len(counts) == 0:
        raise ValueError(f"counts must be a non-empty (N, 3) array of TP, FP, FN, got shape {counts.shape}.")
    if order is not None:
        if sorted(np.asarray(order).tolist()) != list(range(len(counts))):
            raise ValueError(f"order must be a permutation of range({len(counts)}).")
        counts = counts[np.asarray(order)]
    batches = [counts[k:k + int(batch_size)].sum(axis=0) for k in range(0, len(counts), int(batch_size))]
    return float(np.mean([2 * tp / (2 * tp + fp + fn) if tp or fp or fn else 0.0 for tp, fp, fn in batches]))
