"""Signed distance maps Φ_G of ground-truth masks, as used by the boundary loss.

The boundary loss of Kervadec et al. (2021) weighs every predicted probability ``s(q)`` by the
signed distance ``Φ_G(q)`` of the pixel ``q`` to the ground-truth object ``G``: negative inside
``G``, positive outside, so that the loss falls when probability mass moves into the object and
rises with every pixel predicted far outside it.

Convention (the authors' reference code, LIVIAETS/boundary-loss ``one_hot2dist``), in pixels:

* outside ``G``: the Euclidean distance from the pixel centre to the nearest object pixel
  centre (so the outer boundary ring is ``1``, a diagonal neighbour ``√2``);
* inside ``G``: minus (the distance to the nearest background pixel centre, minus one pixel), so
  the object's inner boundary pixels are exactly ``0`` and deeper pixels negative.

Values are floats (never rounded); the image border is *not* background (a tumour touching the
border keeps its negative values up to the border, as in the reference).

Worked example: a 3×3 square in a 5×5 image (``Φ`` rounded to 2 decimals)::

    mask          Φ_G
    0 0 0 0 0     1.41  1  1  1  1.41
    0 1 1 1 0     1     0  0  0  1
    0 1 1 1 0     1     0 -1  0  1        centre: nearest background is 2 away -> -(2 - 1)
    0 1 1 1 0     1     0  0  0  1
    0 0 0 0 0     1.41  1  1  1  1.41     corner: nearest object pixel is √2 away

>>> import numpy as np
>>> m = np.zeros((5, 5), bool); m[1:4, 1:4] = True
>>> signed_distance_map(m).round(2)
array([[ 1.41,  1.  ,  1.  ,  1.  ,  1.41],
       [ 1.  ,  0.  ,  0.  ,  0.  ,  1.  ],
       [ 1.  ,  0.  , -1.  ,  0.  ,  1.  ],
       [ 1.  ,  0.  ,  0.  ,  0.  ,  1.  ],
       [ 1.41,  1.  ,  1.  ,  1.  ,  1.41]], dtype=float32)

Spacing (physical pixel size per axis, e.g. millimetres). Distances are measured in spacing
units. The reference subtracts an unscaled ``1`` inside, which makes its inner boundary
*positive* as soon as a pixel is smaller than 1 (its issue #45). Here, with ``d_bg(q)`` the
distance to the nearest background pixel centre and ``d_B(q)`` the distance to the nearest
*inner-boundary* pixel centre (object pixels with a face neighbour in the background):

* isotropic spacing ``h`` (also ``None`` = 1): inside ``Φ = h - d_bg`` — exactly the reference
  for ``h = 1``, and ``h`` times it otherwise;
* anisotropic spacing: inside ``Φ = -min(d_bg - h_min, d_B)`` with ``h_min`` the smallest
  spacing. Both are lower estimates of "how deep is this pixel": ``d_bg - h_min`` is the reference
  shift by the smallest step, ``d_B`` is the issue-#45 fix (distance to the eroded boundary).
  Inner-boundary pixels are then exactly ``0`` (``d_B = 0``) and every inside pixel ``<= 0``
  (``d_bg >= h_min``). For isotropic ``h`` one can show ``d_B >= d_bg - h``, so the rule reduces
  to the isotropic one and the map is continuous in the spacing; the map stays 1-Lipschitz.

Empty and full masks (``empty`` policy). ``Φ_G`` is undefined without both an object and a
background: a normal BUSI image has an empty mask, and the background channel of a one-hot
target is full whenever the tumour is empty. The policy is explicit:

* ``"diagonal"`` (default): empty mask -> ``+D`` everywhere, full mask -> ``-D`` everywhere, with
  ``D = sqrt(sum((n_i * h_i) ** 2))`` the diagonal length of the array in spacing units (larger
  than any distance inside it). On a normal image, ``L_B = D * mean(s)``: every false-positive
  pixel costs ``D / N``, as much as a pixel at the farthest possible distance from a tumour — the
  strongest penalty the map can express, so the boundary term keeps supervising normal images.
* ``"zero"``: ``0`` everywhere — the reference's behaviour for an empty channel; a false positive
  on a normal image then costs nothing in ``L_B`` (only the regional loss sees it).
* a float ``c >= 0``: ``+c`` (empty) / ``-c`` (full); a false positive costs ``c / N`` per pixel.

Functions: :func:`signed_distance_map` (one mask, any dimension) and
:func:`batch_signed_distance_maps` (``(B, C, *spatial)`` binary or one-hot arrays).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Sequence, Union

import numpy as np
from scipy import ndimage

__all__ = ["signed_distance_map", "batch_signed_distance_maps", "empty_value", "PHI_SCALES", "scale_phi"]

EmptyPolicy = Union[str, float]


def check_mask(mask, name: str = "mask") -> np.ndarray:
    """``mask`` as a bool array: bool, or numbers that are all 0 or 1 (any shape).

    The one binary-mask check of the package (:mod:`bl_utils.metrics` uses it too). Raises
    ``TypeError`` for a non-numeric dtype and ``ValueError`` for other values (0/255 masks and
    probabilities must be thresholded first), naming ``name`` and the fix.
    """
    arr = np.asarray(mask)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a boolean or numeric array of 0/1 values, got dtype "
                        f"{arr.dtype}; pass e.g. `np.asarray(mask) > 0`.")
    binary = (arr == 0) | (arr == 1)
    if not binary.all():
        bad = np.unique(arr[~binary])[:5]
        raise ValueError(f"{name} must be binary (0/1 or bool), found values such as {bad.tolist()}; "
                         "threshold it first: `mask > 0` for a 0/255 mask, `probs >= 0.5` for "
                         "probabilities.")
    return arr.astype(bool)


def check_spacing(spacing, ndim: int) -> tuple[float, ...]:
    """``spacing`` as one positive, finite pixel size per axis: ``None`` -> all 1, a number -> that
    number on every axis, a sequence -> its values (exactly ``ndim`` of them). Raises ``ValueError``."""
    if spacing is None:
        return (1.0,) * ndim
    if isinstance(spacing, Real):
        values = (float(spacing),) * ndim
    else:
        values = tuple(float(s) for s in spacing)
        if len(values) != ndim:
            raise ValueError(f"spacing has {len(values)} values but the mask has {ndim} spatial "
                             f"axes; give one pixel size per axis (or a single number).")
    if not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"spacing must be positive and finite, got {values}.")
    return values


def empty_value(shape: Sequence[int], spacing=None, empty: EmptyPolicy = "diagonal") -> float:
    """The magnitude ``c`` used for an empty (``+c``) or full (``-c``) mask of this ``shape``.

    ``"diagonal"`` -> ``sqrt(sum((n_i * h_i) ** 2))``; ``"zero"`` -> ``0``; a float -> itself.
    Raises ``ValueError`` for an unknown policy or a negative/non-finite float.
    """
    if isinstance(empty, str):
        if empty == "diagonal":
            h = check_spacing(spacing, len(shape))
            return float(math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, h))))
        if empty == "zero":
            return 0.0
        raise ValueError(f"empty must be 'diagonal', 'zero' or a float >= 0, got {empty!r}.")
    if isinstance(empty, bool) or not isinstance(empty, Real):
        raise TypeError(f"empty must be 'diagonal', 'zero' or a float >= 0, got {type(empty).__name__}.")
    if not (math.isfinite(float(empty)) and float(empty) >= 0):
        raise ValueError(f"empty must be a finite float >= 0, got {empty!r}.")
    return float(empty)


def bounding_slices(mask: np.ndarray) -> tuple[slice, ...]:
    """The bounding box of a non-empty bool ``mask`` grown by one pixel, clipped to the array.

    Every object pixel's nearest background pixel lies in this window (clamping a farther
    background pixel onto the window's outer ring gives a closer one, which is background), so the
    inside distance can be computed on the crop — much cheaper for small tumours. (Surface
    distances in :mod:`bl_utils.metrics` are cropped the same way.)
    """
    window = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other)) if other else np.flatnonzero(mask)
        window.append(slice(max(int(hits[0]) - 1, 0), min(int(hits[-1]) + 2, mask.shape[axis])))
    return tuple(window)


def _sdm(mask: np.ndarray, spacing: tuple[float, ...], fill: float) -> np.ndarray:
    """Core: ``mask`` is a checked bool array, ``spacing`` a checked tuple, ``fill`` the policy."""
    out = np.empty(mask.shape, dtype=np.float32)
    count = int(np.count_nonzero(mask))
    if count == 0:
        out.fill(fill)
        return out
    if count == mask.size:
        out.fill(-fill)
        return out
    isotropic = all(s == spacing[0] for s in spacing)
    sampling = None if all(s == 1.0 for s in spacing) else spacing
    # Outside: distance to the nearest object pixel centre (0 on the object itself).
    outside = ndimage.distance_transform_edt(~mask, sampling=sampling)
    out[...] = outside
    # Inside, on the cropped window around the object.
    win = bounding_slices(mask)
    sub = mask[win]
    d_bg = ndimage.distance_transform_edt(sub, sampling=sampling)
    if isotropic:
        inside = spacing[0] - d_bg  # written h - d (not -(d - h)) so that boundary pixels are +0.0
    else:
        boundary = sub & ~ndimage.binary_erosion(sub, border_value=1)
        d_b = ndimage.distance_transform_edt(~boundary, sampling=sampling)
        inside = -np.minimum(d_bg - min(spacing), d_b)
        inside[boundary] = 0.0
    region = out[win]
    region[sub] = inside[sub]
    return out


def signed_distance_map(mask, spacing=None, empty: EmptyPolicy = "diagonal") -> np.ndarray:
    """Signed distance map ``Φ_G`` of one binary mask (2-D image, 3-D volume, any dimension).

    Parameters
    ----------
    mask:
        Binary array ``(*spatial)``: bool, or numbers that are all 0 or 1 (tumour = 1/True).
    spacing:
        ``None`` (pixel units), one number (isotropic pixel size) or one positive number per axis.
    empty:
        Policy for an empty or full mask: ``"diagonal"`` (``±D``, ``D`` the array's diagonal in
        spacing units), ``"zero"`` (``0``, the reference's behaviour) or a float ``c >= 0``
        (``±c``). See the module docstring for what each costs a false positive.

    Returns
    -------
    ``np.ndarray`` of ``float32``, same shape as ``mask``: negative inside the object, exactly
    ``0`` on its inner boundary pixels, positive outside; in pixels unless ``spacing`` is given.
    For ``spacing=None`` (or all ones) it equals the reference
    ``edt(~m) * ~m - (edt(m) - 1) * m`` exactly whenever the mask is neither empty nor full.

    Raises
    ------
    TypeError / ValueError: non-numeric or non-binary mask, 0-d or size-0 mask, wrong spacing
    length or non-positive spacing, unknown ``empty`` policy.
    """
    arr = check_mask(mask)
    if arr.ndim == 0 or arr.size == 0:
        raise ValueError(f"mask must be a non-empty array with at least one axis, got shape {arr.shape}.")
    h = check_spacing(spacing, arr.ndim)
    return _sdm(arr, h, empty_value(arr.shape, h, empty))


def batch_signed_distance_maps(masks, spacing=None, empty: EmptyPolicy = "diagonal") -> np.ndarray:
    """Signed distance maps of a batch of binary or one-hot masks ``(B, C, *spatial)``.

    Each ``(b, c)`` channel is treated as its own mask with :func:`signed_distance_map`'s
    convention and ``empty`` policy (``spacing`` refers to the spatial axes only). A one-hot target
    whose tumour channel is empty thus gets ``+D`` there and ``-D`` in its (full) background
    channel under the default policy. Used by the data pipeline to precompute and cache ``Φ_G``
    once, e.g. ``batch_signed_distance_maps(masks[:, None])`` for masks ``(N, H, W)``.

    Returns a ``float32`` array of the same shape. Raises ``ValueError`` if ``masks`` has fewer than
    3 axes (add the channel axis with ``masks[:, None]``), plus the errors of
    :func:`signed_distance_map`.
    """
    arr = check_mask(masks, "masks")
    if arr.ndim < 3:
        raise ValueError(f"masks must have shape (B, C, *spatial) with at least one spatial axis, "
                         f"got shape {arr.shape}; for (N, H, W) masks pass `masks[:, None]`.")
    spatial = arr.shape[2:]
    if arr.size == 0 and 0 in spatial:
        raise ValueError(f"masks has an empty spatial axis: shape {arr.shape}.")
    h = check_spacing(spacing, len(spatial))
    fill = empty_value(spatial, h, empty)
    out = np.empty(arr.shape, dtype=np.float32)
    for b in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            out[b, c] = _sdm(arr[b, c], h, fill)
    return out


#: How a run scales Φ_G (``TrainConfig.phi_scale``): divided by the image side, in pixels, or in
#: pixels of the 256² image whatever the training size (Odonnat & Pham's units at their size).
PHI_SCALES = ("image", "pixel", "pixel256")
REFERENCE_SIDE = 256


def scale_phi(phi: np.ndarray, phi_scale: str, side: int | None = None) -> np.ndarray:
    """Φ_G in pixels, scaled as ``phi_scale`` says: divided by the image side (``"image"``), as
    it is (``"pixel"``), or times 256 / side (``"pixel256"``: L_B at a smaller size is then what it
    is at 256²). ``side``: the image side in pixels (default: the largest of ``phi``'s last two
    axes). Raises ``ValueError`` for another ``phi_scale``."""
    if phi_scale not in PHI_SCALES:
        raise ValueError(f"phi_scale must be one of {PHI_SCALES}, got {phi_scale!r}")
    side = float(side or max(np.shape(phi)[-2:]))
    if phi_scale == "image":
        return phi / side
    if phi_scale == "pixel256":
        return phi * (REFERENCE_SIDE / side)
    return phi
