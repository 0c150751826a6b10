"""Eqs. 1–2 of Kervadec et al. (2021, section 2.2) on analytic disks, and their pixel versions.

The boundary loss starts as a distance between two contours (eq. 1, ``Dist(∂G, ∂S) =
∫_∂G ||y_∂S(p) − p||² dp``), approximated by twice the integral of the distance to ∂G over the
region between them (eq. 2, ``2 ∫_ΔS D_G(q) dq``). For a disk G both sides have a closed form or
an exact integrand, which notebook 2 compares with the pixel sums the loss really computes.
Pure functions of arrays, no drawing; every name is also importable from :mod:`bl_utils.explorer`
and :mod:`bl_utils.widgets`, where the notebooks look for it.

Conventions (those of :mod:`bl_utils.distance`): arrays are ``(H, W)``; points are ``(row, col)``
with pixel centres at integer coordinates; Φ_G is negative inside G and positive outside.

* :class:`Disk` — an analytic disk (mask, signed distance, contour points);
* :func:`normal_correspondences`, :func:`contour_distance` — eq. 1, by sampling ∂G;
* :func:`region_distance_integral` — eq. 2's right side with the exact D_G of a disk;
* :func:`pixel_region_integral`, :func:`boundary_loss_sum` — the same quantities on the pixel grid;
* :func:`distance_identities` — eq. 1 beside eq. 2 beside the change of L_B, for disks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .distance import signed_distance_map


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
