"""Tests of bl_utils.disks: eqs. 1–2 on analytic disks (Disk, the normal correspondences, the contour
distance of eq. 1, the region integral of eq. 2 and its pixel form, the table of identities), each against
an independent oracle (closed forms worked out by hand, brute force, scipy quadrature) with a stated
tolerance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from bl_utils import disks
from bl_utils.disks import Disk
from helpers import authors_sdm, random_blobs


# ------------------------------------------------------------------ Disk and eq. 1

@pytest.mark.parametrize("center,radius", [((10, 10), 4), ((9.5, 10.3), 5.2), ((0, 0), 3), ((2, 18), 1)])
def test_disk_mask_matches_brute_force(center, radius):
    shape = (20, 21)
    expected = np.array([[(r - center[0]) ** 2 + (c - center[1]) ** 2 <= radius ** 2 for c in range(shape[1])]
                         for r in range(shape[0])])
    np.testing.assert_array_equal(Disk(center, radius).mask(shape), expected)


@pytest.mark.parametrize("center,radius", [((50, 50), 20), ((40.3, 61.7), 13.2), ((30, 70), 4.5)])
def test_pixel_phi_is_the_exact_distance_plus_less_than_a_pixel(center, radius):
    """The authors' convention (inner-boundary pixels at 0) shifts the exact signed distance of the
    disk up by between 0 and 1 pixel: the pixel map of eq. 2 is biased by about +1/2 pixel."""
    from bl_utils.distance import signed_distance_map

    disk = Disk(center, radius)
    bias = signed_distance_map(disk.mask((100, 100))) - disk.signed_distance((100, 100))
    assert bias.min() >= -1e-6 and bias.max() < 1


def test_disk_rejects_non_positive_radius():
    with pytest.raises(ValueError, match="radius"):
        Disk((0, 0), 0)


def test_correspondences_of_concentric_disks_are_radial():
    g, s = Disk((5.0, -3.0), 10.0), Disk((5.0, -3.0), 13.0)
    p, y = disks.normal_correspondences(g, s, 64)
    np.testing.assert_allclose(np.linalg.norm(p - g.center, axis=1), 10.0)
    np.testing.assert_allclose(y - p, 0.3 * (p - np.array(g.center)), atol=1e-12)


@pytest.mark.parametrize("s", [Disk((50, 57), 30), Disk((44, 50), 25), Disk((53, 46), 36), Disk((50, 50), 30)])
def test_correspondences_are_the_nearest_crossing_along_the_normal(s):
    """Brute force: walk along each normal line in both directions and find where it crosses ∂S first."""
    g = Disk((50, 50), 30)
    p, y = disks.normal_correspondences(g, s, 24)
    _, normals = g.contour(24)
    t = np.linspace(-60, 60, 240001)
    for pk, nk, yk in zip(p, normals, y):
        inside = np.hypot(*(pk[:, None] + t * nk[:, None] - np.array(s.center)[:, None])) <= s.radius
        crossings = t[1:][inside[1:] != inside[:-1]]
        if inside[np.argmin(np.abs(t))] and not len(crossings):
            continue
        nearest = crossings[np.argmin(np.abs(crossings))] if len(crossings) else 0.0
        np.testing.assert_allclose(yk, pk + nearest * nk, atol=1e-3)
        assert abs(np.hypot(*(yk - s.center)) - s.radius) < 1e-9


def test_correspondences_raise_when_a_normal_misses_S():
    with pytest.raises(ValueError, match="miss"):
        disks.normal_correspondences(Disk((0, 0), 10), Disk((40, 0), 5))


@pytest.mark.parametrize("r,big_r", [(40, 46), (40, 34), (12, 12.5), (30, 30)])
def test_contour_distance_of_concentric_disks(r, big_r):
    # every normal has length |R − r|: Dist = 2πr (R − r)²
    assert disks.contour_distance(Disk((0, 0), r), Disk((0, 0), big_r)) == pytest.approx(
        2 * math.pi * r * (big_r - r) ** 2, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("d,phi0,big_r", [(6, 0.0, 40), (3, 0.7, 40), (8, 2.0, 45), (5, -1.2, 36)])
def test_contour_distance_of_a_shifted_disk_matches_quadrature(d, phi0, big_r):
    """Hand derivation: with S centred at c + d·e, the radial ray at angle θ meets ∂S at
    ρ(θ) = d cos(θ − φ0) + sqrt(R² − d² sin²(θ − φ0)), so Dist = ∫ (ρ(θ) − r)² r dθ (scipy quad)."""
    r, c = 40.0, np.array([100.0, 80.0])
    e = np.array([math.sin(phi0), math.cos(phi0)])
    rho = lambda th: d * math.cos(th - phi0) + math.sqrt(big_r ** 2 - (d * math.sin(th - phi0)) ** 2)
    expected, _ = integrate.quad(lambda th: (rho(th) - r) ** 2 * r, 0, 2 * math.pi, limit=200)
    value = disks.contour_distance(Disk(tuple(c), r), Disk(tuple(c + d * e), big_r))
    assert value == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------ eq. 2

@pytest.mark.parametrize("r,big_r", [(40, 46), (40, 34), (20, 30), (25, 24)])
def test_region_integral_of_concentric_disks(r, big_r):
    # 2∫ΔS D_G = 2∫ |ρ − r| 2πρ dρ between r and R = (2π/3)(R − r)²(2R + r), worked out by hand
    expected = 2 * math.pi / 3 * (big_r - r) ** 2 * (2 * big_r + r)
    value = disks.region_distance_integral(Disk((7.3, 9.1), r), Disk((7.3, 9.1), big_r), step=0.0625)
    assert value == pytest.approx(expected, rel=5e-3)


def test_eq2_approaches_eq1_as_the_contours_get_close():
    # the ratio of eq. 2 to eq. 1 for concentric disks is (2R + r) / (3r) -> 1
    g = Disk((0, 0), 40)
    ratios = [disks.region_distance_integral(g, Disk((0, 0), 40 + k), step=0.0625)
              / disks.contour_distance(g, Disk((0, 0), 40 + k)) for k in (8, 4, 2)]
    np.testing.assert_allclose(ratios, [(2 * (40 + k) + 40) / 120 for k in (8, 4, 2)], rtol=2e-2)
    assert ratios[0] > ratios[1] > ratios[2] > 1


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", ["random", "s empty", "s full", "s = g", "g one pixel"])
def test_region_sum_equals_change_of_boundary_loss(seed, case):
    """eqs. 3–6 on pixels: 2Σ_ΔS |Φ_G| = 2(ΣΦ_G s − ΣΦ_G g) for binary s, any Φ_G with the sign convention."""
    g, s = random_blobs(seed), random_blobs(seed + 10)
    if case == "s empty":
        s = np.zeros_like(g)
    elif case == "s full":
        s = np.ones_like(g)
    elif case == "s = g":
        s = g.copy()
    elif case == "g one pixel":
        g = np.zeros_like(g)
        g[20, 30] = True
    phi = authors_sdm(g)
    region = np.logical_xor(g, s)
    by_hand = 2 * sum(abs(phi[i, j]) for i, j in zip(*np.nonzero(region)))
    assert disks.pixel_region_integral(phi, g, s) == pytest.approx(by_hand, rel=1e-12, abs=1e-12)
    change = 2 * (disks.boundary_loss_sum(phi, s) - disks.boundary_loss_sum(phi, g))
    assert change == pytest.approx(by_hand, rel=1e-9, abs=1e-9)


def test_distance_identities_table():
    g = Disk((128, 128), 40)
    table = disks.distance_identities(g, {"shift": Disk((128, 134), 40), "enlarge": Disk((128, 128), 46)})
    assert list(table.index) == ["shift", "enlarge"]
    eq1, exact, pixels, change = (table[c].to_numpy() for c in table.columns)
    np.testing.assert_allclose(eq1, [disks.contour_distance(g, Disk((128, 134), 40)),
                                     2 * math.pi * 40 * 36], rtol=1e-9)
    np.testing.assert_allclose(exact[1], 2 * math.pi / 3 * 36 * 132, rtol=5e-3)
    np.testing.assert_allclose(pixels, change, rtol=1e-9)
    mask_g, mask_s = g.mask((256, 256)), Disk((128, 128), 46).mask((256, 256))
    assert pixels[1] == pytest.approx(2 * np.abs(authors_sdm(mask_g))[mask_g ^ mask_s].sum(), rel=1e-5)
    # eq. 2 approximates eq. 1: within 10 % for a shift, within 30 % for an enlargement on pixels
    assert abs(pixels[0] / eq1[0] - 1) < 0.1 and abs(pixels[1] / eq1[1] - 1) < 0.3
