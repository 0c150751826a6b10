"""Ultrasound degradations: speckle and gain at test time, contour errors in training masks.

Kervadec et al. (2021) name the regularising effect of the boundary loss on noisy images as future
work; Odonnat & Pham chose ultrasound for that reason. Notebook 5 measures it with three seeded,
documented degradations:

* :func:`speckle` — multiplicative speckle on the 8-bit intensities, ``I' = clip(I · n)`` with
  ``n ~ Gamma(k = 1/σ², θ = σ²)``: ``E[n] = 1`` and ``Var[n] = σ²`` (fully developed speckle on
  an intensity image is Gamma-distributed; σ = 1 is the exponential law of a single look).
* :func:`gain` — a wrong receive gain, ``I' = clip(g · I)``: darker (g < 1) or saturated (g > 1).
* :func:`jitter_contours` — an annotator's contour error: the mask is warped by a smooth random
  displacement field whose components have standard deviation ``strength`` pixels, so the
  contour moves by a few pixels in a spatially coherent way; the mask stays binary and an empty
  mask stays empty.

Each function takes a ``numpy.random.Generator`` or an int seed, so a degraded validation set is
the same for every run (comparisons between strategies are paired). :data:`TEST_CORRUPTIONS`
lists the levels at which every trained model is evaluated (:func:`bl_utils.train.train` does it
at the end of each run, while the model is in memory).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["speckle", "gain", "corrupt", "jitter_contours", "corruption_seed", "TEST_CORRUPTIONS"]

#: Levels of each test-time corruption, from clean to severe (the first level is the clean image).
TEST_CORRUPTIONS: dict[str, tuple[float, ...]] = {
    "speckle": (0.0, 0.1, 0.2, 0.35, 0.5, 0.75),    # σ of the multiplicative Gamma noise
    "gain": (1.0, 0.75, 0.5, 0.35, 0.25),           # receive gain g (I' = g · I)
}


def corruption_seed(kind: str, index: int) -> int:
    """The seed of level number ``index`` of corruption ``kind`` in :data:`TEST_CORRUPTIONS`: fixed,
    so every model is evaluated on the same degraded images."""
    return 1000 * (list(TEST_CORRUPTIONS).index(kind) + 1) + index


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_uint8(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8 intensities 0-255 (the loader's format), got {images.dtype}; "
                        "degrade the images before normalising them.")
    return images


def speckle(images: np.ndarray, sigma: float, seed=0) -> np.ndarray:
    """Multiplicative Gamma speckle of relative standard deviation ``sigma`` (``sigma = 0``: a copy).

    ``images``: uint8 ``(..., H, W)``. Returns uint8 of the same shape: ``round(clip(I · n, 0, 255))``
    with ``n ~ Gamma(shape=1/σ², scale=σ²)`` drawn independently per pixel (mean 1, variance σ²).
    Raises ``ValueError`` for ``sigma < 0``, ``TypeError`` for non-uint8 input.
    """
    images = _check_uint8(images)
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}.")
    if sigma == 0:
        return images.copy()
    n = _rng(seed).gamma(shape=1.0 / sigma**2, scale=sigma**2, size=images.shape)
    return np.clip(np.rint(images * n), 0, 255).astype(np.uint8)


def gain(images: np.ndarray, factor: float) -> np.ndarray:
    """A receive-gain change: uint8 ``round(clip(factor · I, 0, 255))`` (``factor > 0``)."""
    images = _check_uint8(images)
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor!r}.")
    return np.clip(np.rint(images * float(factor)), 0, 255).astype(np.uint8)


def corrupt(images: np.ndarray, kind: str, level: float, seed=0) -> np.ndarray:
    """Apply the corruption ``kind`` of :data:`TEST_CORRUPTIONS` at ``level`` (seeded)."""
    if kind == "speckle":
        return speckle(images, level, seed)
    if kind == "gain":
        return gain(images, level)
    raise ValueError(f"unknown corruption {kind!r}; choose one of {', '.join(TEST_CORRUPTIONS)}.")


def jitter_contours(masks: np.ndarray, strength: float, smoothness: float = 8.0, seed=0) -> np.ndarray:
    """Warp binary masks by smooth random displacements: an annotator's contour errors.

    ``masks``: bool or 0/1 ``(H, W)`` or ``(N, H, W)``. For each mask, two white-noise fields are
    smoothed with a Gaussian of ``smoothness`` pixels and rescaled to standard deviation
    ``strength`` pixels; the mask is resampled at ``q + d(q)`` with nearest-neighbour interpolation.
    Returns a bool array of the same shape; ``strength = 0`` returns the masks unchanged, an empty
    mask stays empty. Raises ``ValueError`` for negative ``strength`` or ``smoothness <= 0``.
    """
    masks = np.asarray(masks)
    if masks.ndim not in (2, 3):
        raise ValueError(f"masks must be (H, W) or (N, H, W), got shape {masks.shape}.")
    if not strength >= 0 or not smoothness > 0:
        raise ValueError(f"strength must be >= 0 and smoothness > 0, got {strength!r}, {smoothness!r}.")
    stack = masks[None] if masks.ndim == 2 else masks
    out = stack.astype(bool).copy()
    if strength > 0:
        rng = _rng(seed)
        grid = np.indices(stack.shape[1:], dtype=np.float64)
        for i, mask in enumerate(stack):
            field = [ndimage.gaussian_filter(rng.standard_normal(mask.shape), smoothness) for _ in range(2)]
            shift = [f * (strength / max(f.std(), 1e-12)) for f in field]
            if mask.any():
                coords = [g + s for g, s in zip(grid, shift)]
                out[i] = ndimage.map_coordinates(mask.astype(np.uint8), coords, order=0, mode="nearest") > 0
    return out[0] if masks.ndim == 2 else out
