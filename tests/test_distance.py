"""Signed distance maps Φ_G against independent oracles.

Oracles: a brute-force distance over all pixel pairs (pure numpy), the reference formula of
LIVIAETS/boundary-loss re-implemented from scipy, an analytic disk/ball, and hand-worked values.
"""

import doctest
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from bl_utils import distance
from bl_utils.distance import batch_signed_distance_maps, signed_distance_map

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# ----------------------------------------------------------------------------------- oracles
def reference(m: np.ndarray) -> np.ndarray:
    """The authors' one_hot2dist formula for one non-degenerate channel (float32, like theirs)."""
    m = m.astype(bool)
    return (distance_transform_edt(~m) * ~m - (distance_transform_edt(m) - 1) * m).astype(np.float32)


def face_boundary(m: np.ndarray) -> np.ndarray:
    """Object pixels with a face neighbour in the background (the image border is not background)."""
    padded = np.pad(m, 1, constant_values=True)
    out = np.zeros_like(m)
    core = tuple(slice(1, -1) for _ in range(m.ndim))
    for axis, shift in itertools.product(range(m.ndim), (-1, 1)):
        out |= ~np.roll(padded, shift, axis=axis)[core]
    return m & out


def brute_force(m: np.ndarray, spacing=None) -> np.ndarray:
    """The documented convention, computed over all pixel pairs (no distance transform)."""
    m = m.astype(bool)
    h = np.broadcast_to(np.asarray(1.0 if spacing is None else spacing, float), (m.ndim,))
    pts = np.indices(m.shape).reshape(m.ndim, -1).T * h
    flat = m.ravel()

    def dist_to(targets):
        d = np.sqrt(((pts[:, None, :] - pts[None, targets, :]) ** 2).sum(-1))
        return d.min(1)

    d_obj = dist_to(flat)
    d_bg = dist_to(~flat)
    if np.all(h == h[0]):
        inside = h[0] - d_bg
    else:
        inside = -np.minimum(d_bg - h.min(), dist_to(face_boundary(m).ravel()))
    return np.where(flat, inside, d_obj).reshape(m.shape)


def random_masks(rng, shape, n):
    out = []
    while len(out) < n:
        m = rng.random(shape) < rng.uniform(0.1, 0.8)
        if m.any() and not m.all():
            out.append(m)
    return out


# ------------------------------------------------------------------------- brute force, scipy
@pytest.mark.parametrize("shape,spacing", [
    ((9, 11), None), ((9, 11), (1.0, 1.0)), ((9, 11), 0.5), ((9, 11), (1.0, 0.5)),
    ((8, 10), (0.3, 2.0)), ((5, 6, 7), None), ((5, 6, 7), (2.0, 1.0, 0.5)), ((5, 6, 4), 1.5),
])
def test_matches_brute_force_on_random_masks(shape, spacing):
    rng = np.random.default_rng(sum(shape))
    for m in random_masks(rng, shape, 6):
        np.testing.assert_allclose(signed_distance_map(m, spacing), brute_force(m, spacing),
                                   rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("shape", [(40,), (16, 16), (31, 17), (64, 64), (7, 8, 9)])
@pytest.mark.parametrize("spacing", [None, 1, (1.0,) * 4])
def test_equals_reference_formula_exactly(shape, spacing):
    rng = np.random.default_rng(len(shape))
    for m in random_masks(rng, shape, 8):
        sp = spacing[: m.ndim] if isinstance(spacing, tuple) else spacing
        out = signed_distance_map(m, sp)
        assert out.dtype == np.float32 and out.shape == m.shape
        assert np.array_equal(out, reference(m))


def test_small_blobs_exactly_reference_and_float():
    """Sparse objects (the cropped-window path) including one at each corner."""
    m = np.zeros((50, 60), bool)
    m[0:3, 0:4] = m[47:50, 55:60] = m[20:26, 30:33] = m[10, 50] = True
    out = signed_distance_map(m)
    assert np.array_equal(out, reference(m))
    assert not np.allclose(out, np.round(out))  # floats, never truncated to integers
    assert out[25, 40] == 8.0 and out[27, 34] == pytest.approx(math.hypot(2, 2))


def test_worked_example_and_doctest():
    m = np.zeros((5, 5), bool)
    m[1:4, 1:4] = True
    r2 = math.sqrt(2)
    expected = np.array([[r2, 1, 1, 1, r2],
                         [1, 0, 0, 0, 1],
                         [1, 0, -1, 0, 1],
                         [1, 0, 0, 0, 1],
                         [r2, 1, 1, 1, r2]], np.float32)
    np.testing.assert_array_equal(signed_distance_map(m), expected)
    assert not np.signbit(signed_distance_map(m)[m & (expected == 0)]).any()  # boundary is +0.0
    assert doctest.testmod(distance).failed == 0


# ------------------------------------------------------------------------------- analytic
def test_disk_close_to_analytic_signed_distance():
    """Φ ≈ |q − c| − r: the pixel convention shifts it by less than one pixel."""
    yy, xx = np.mgrid[:101, :101]
    c, r = (50.3, 49.6), 30.0
    rho = np.hypot(yy - c[0], xx - c[1])
    phi = signed_distance_map(rho <= r)
    err = phi - (rho - r)
    assert np.abs(err).max() < 1.0
    assert abs(err.mean()) < 0.75  # the reference's zero level sits on the inner pixel centres


def test_ball_close_to_analytic_signed_distance_with_spacing():
    h = np.array([2.0, 1.0, 1.0])  # thick slices, like CT
    zz, yy, xx = np.indices((21, 41, 41)) * h[:, None, None, None]
    rho = np.sqrt((zz - 20.2) ** 2 + (yy - 20.4) ** 2 + (xx - 19.7) ** 2)
    mask = rho <= 14.0
    phi = signed_distance_map(mask, spacing=h)
    err = phi - (rho - 14.0)
    assert np.abs(err).max() < h.max()  # within one (largest) pixel step
    assert (phi[mask] <= 0).all() and (phi[~mask] > 0).all()


# --------------------------------------------------------------------------- awkward cases
@pytest.mark.parametrize("shape,spacing", [((6, 8), None), ((4, 5, 6), (2.0, 1.0, 0.5))])
def test_empty_and_full_policies(shape, spacing):
    h = np.ones(len(shape)) if spacing is None else np.asarray(spacing)
    diag = float(np.sqrt(((np.asarray(shape) * h) ** 2).sum()))
    empty, full = np.zeros(shape, bool), np.ones(shape, bool)
    for policy, c in [("diagonal", diag), ("zero", 0.0), (3.5, 3.5)]:
        e = signed_distance_map(empty, spacing, empty=policy)
        f = signed_distance_map(full, spacing, empty=policy)
        assert e.dtype == f.dtype == np.float32
        np.testing.assert_allclose(e, np.full(shape, c), rtol=1e-6)
        np.testing.assert_allclose(f, np.full(shape, -c), rtol=1e-6)
    # the diagonal is larger than any distance a non-degenerate mask of this shape can produce
    one = np.zeros(shape, bool)
    one[(0,) * len(shape)] = True
    assert signed_distance_map(one, spacing).max() < diag


def test_one_pixel_is_zero_and_distances_are_euclidean():
    m = np.zeros((7, 9), bool)
    m[2, 6] = True
    yy, xx = np.mgrid[:7, :9]
    np.testing.assert_allclose(signed_distance_map(m), np.hypot(yy - 2, xx - 6), rtol=1e-6)
    np.testing.assert_allclose(signed_distance_map(m, (2.0, 0.5)),
                               np.hypot(2 * (yy - 2), 0.5 * (xx - 6)), rtol=1e-6)


def test_border_touching_object_keeps_its_depth():
    """The image border is not background: a half-plane object is deepest at the border."""
    m = np.zeros((5, 7), bool)
    m[:, :3] = True
    phi = signed_distance_map(m)
    np.testing.assert_array_equal(phi[0], [-2, -1, 0, 1, 2, 3, 4])
    assert np.array_equal(phi, reference(m))


def test_ring_hole_is_positive_and_multi_object_is_min_of_objects():
    yy, xx = np.mgrid[:41, :41]
    rho = np.hypot(yy - 20, xx - 20)
    ring = (rho >= 8) & (rho <= 14)
    phi = signed_distance_map(ring)
    assert phi[20, 20] == pytest.approx(8.0) and (phi[rho < 8] > 0).all()
    assert (phi[ring] <= 0).all() and np.array_equal(phi, reference(ring))

    a, b = np.zeros((30, 40), bool), np.zeros((30, 40), bool)
    a[3:8, 4:10] = True
    b[18:27, 25:37] = True
    both = signed_distance_map(a | b)
    outside = ~(a | b)
    np.testing.assert_allclose(both[outside],
                               np.minimum(signed_distance_map(a), signed_distance_map(b))[outside])
    np.testing.assert_array_equal(both[a], signed_distance_map(a)[a])  # inside: each object alone


@pytest.mark.parametrize("spacing", [(1.0, 0.5), (0.5, 1.0), (0.3, 2.0), (1.0, 2.0), (2.0, 1.0, 0.5),
                                     (0.25, 0.25, 3.0)])
def test_anisotropic_boundary_is_zero_and_inside_non_positive(spacing):
    rng = np.random.default_rng(7)
    shape = (12, 14) if len(spacing) == 2 else (6, 9, 8)
    masks = random_masks(rng, shape, 5)
    square = np.zeros(shape, bool)
    square[tuple(slice(1, 4) for _ in shape)] = True  # issue #45's example (5x5 with a 3x3 square)
    for m in [square, *masks]:
        phi = signed_distance_map(m, spacing)
        b = face_boundary(m)
        assert (phi[b] == 0).all() and not np.signbit(phi[b]).any()
        assert (phi[m] <= 0).all() and (phi[m & ~b] < 0).all() and (phi[~m] > 0).all()


def test_reference_breaks_on_anisotropic_spacing_but_we_do_not():
    """The reference subtracts an unscaled 1 (its issue #45): boundary pixels become +0.5."""
    m = np.zeros((5, 5), bool)
    m[1:4, 1:4] = True
    ref = distance_transform_edt(~m, (1, 0.5)) * ~m - (distance_transform_edt(m, (1, 0.5)) - 1) * m
    assert ref[2, 1] == pytest.approx(0.5) and ref[1, 2] == 0
    assert signed_distance_map(m, (1, 0.5))[2, 1] == 0


@pytest.mark.parametrize("h", [0.5, 2.0, 0.7])
def test_isotropic_spacing_scales_the_pixel_map(h):
    rng = np.random.default_rng(3)
    for m in random_masks(rng, (15, 13), 4):
        np.testing.assert_allclose(signed_distance_map(m, h), h * reference(m), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(signed_distance_map(m, (h, h)), h * reference(m), rtol=1e-6, atol=1e-6)


def test_anisotropic_rule_is_continuous_in_spacing():
    rng = np.random.default_rng(11)
    for m in random_masks(rng, (12, 12), 4):
        np.testing.assert_allclose(signed_distance_map(m, (1.0, 1.0 + 1e-9)), reference(m), atol=1e-6)


# ------------------------------------------------------------------------------------ batch
def test_batch_matches_per_image_and_one_hot_policy():
    rng = np.random.default_rng(5)
    tumour = np.zeros((3, 20, 24), bool)
    tumour[0, 4:9, 5:12] = True
    tumour[2] = rng.random((20, 24)) < 0.3  # tumour[1] is empty (a normal image)
    one_hot = np.stack([~tumour, tumour], axis=1)  # (B, 2, H, W)
    out = batch_signed_distance_maps(one_hot)
    assert out.shape == one_hot.shape and out.dtype == np.float32
    for b, c in itertools.product(range(3), range(2)):
        assert np.array_equal(out[b, c], signed_distance_map(one_hot[b, c]))
    diag = math.hypot(20, 24)
    np.testing.assert_allclose(out[1, 1], diag)   # empty tumour channel: +D
    np.testing.assert_allclose(out[1, 0], -diag)  # its full background channel: -D
    np.testing.assert_array_equal(batch_signed_distance_maps(one_hot, empty="zero")[1], 0)
    assert np.array_equal(out[2, 1], reference(tumour[2]))


def test_batch_3d_with_spacing_and_uint8_input():
    rng = np.random.default_rng(9)
    vols = (rng.random((2, 1, 5, 6, 7)) < 0.3).astype(np.uint8)
    out = batch_signed_distance_maps(vols, spacing=(2.0, 1.0, 1.0))
    for b in range(2):
        np.testing.assert_allclose(out[b, 0], brute_force(vols[b, 0], (2.0, 1.0, 1.0)), atol=1e-5)


# ----------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("mask,kwargs,error,match", [
    (np.array([[0, 2], [1, 0]]), {}, ValueError, "binary"),
    (np.array([[0.0, 0.5]]), {}, ValueError, "mask > 0"),
    (np.array([["a", "b"]]), {}, TypeError, "dtype"),
    (np.zeros((3, 3), bool), {"spacing": (1.0,)}, ValueError, "one pixel size per axis"),
    (np.zeros((3, 3), bool), {"spacing": (1.0, 0.0)}, ValueError, "positive"),
    (np.zeros((3, 3), bool), {"empty": "nan"}, ValueError, "diagonal"),
    (np.zeros((3, 3), bool), {"empty": -1.0}, ValueError, ">= 0"),
    (np.array(True), {}, ValueError, "at least one axis"),
    (np.zeros((0, 3), bool), {}, ValueError, "non-empty"),
])
def test_bad_input_raises_clear_errors(mask, kwargs, error, match):
    with pytest.raises(error, match=match):
        signed_distance_map(mask, **kwargs)


def _pixel(shape, *index):
    mask = np.zeros(shape, bool)
    mask[index] = True
    return mask


@pytest.mark.parametrize("mask, expected", [
    (_pixel((5, 5), 2, 2), (slice(1, 4), slice(1, 4))),                 # one pixel: grown by one
    (_pixel((5, 5), 0, 0), (slice(0, 2), slice(0, 2))),                 # touching the border: clipped
    (np.ones((3, 4), bool), (slice(0, 3), slice(0, 4))),                 # full mask: the whole array
    (_pixel((4, 6, 5), 3, 1, 2) | _pixel((4, 6, 5), 1, 4, 2), (slice(0, 4), slice(0, 6), slice(1, 4))),  # 3-D, two objects
    (_pixel((7,), 3), (slice(2, 5),)),                                   # 1-D
])
def test_bounding_slices_hand_worked(mask, expected):
    assert distance.bounding_slices(mask) == expected


@pytest.mark.parametrize("mask, expected", [
    (np.array([[0, 1], [1, 0]], np.uint8), [[False, True], [True, False]]),
    (np.array([[0.0, -0.0], [1.0, 1.0]]), [[False, False], [True, True]]),
    (np.array([[True, False]]), [[True, False]]),
])
def test_check_mask_accepts_bool_and_zero_one(mask, expected):
    out = distance.check_mask(mask)
    assert out.dtype == bool and out.tolist() == expected


def test_batch_needs_a_channel_axis():
    with pytest.raises(ValueError, match=r"masks\[:, None\]"):
        batch_signed_distance_maps(np.zeros((4, 8), bool))


# -------------------------------------------------------------------------------- real data
@pytest.mark.skipif(not (DATA / "busi256").is_dir(), reason=f"real BUSI data not found at {DATA}")
def test_real_busi_masks_match_reference():
    from PIL import Image

    files = sorted((DATA / "busi256" / "malignant").glob("*_mask.png"))[:4]
    files += sorted((DATA / "busi256" / "normal").glob("*_mask.png"))[:1]
    masks = np.stack([np.asarray(Image.open(f).convert("L")) > 0 for f in files])
    out = batch_signed_distance_maps(masks[:, None])[:, 0]
    for m, phi in zip(masks, out):
        if m.any():
            assert np.array_equal(phi, reference(m))
            assert 0 < phi.max() < math.hypot(256, 256)
        else:
            np.testing.assert_allclose(phi, math.hypot(256, 256))


def test_phi_scales_divide_by_the_side_keep_pixels_or_take_the_256_image_units():
    phis = np.array([[-2.0, 0.0, 3.0]] * 2)[None]     # (1, 2, 3): side 3
    assert distance.scale_phi(phis, "pixel256", 128).tolist() == [[[-4.0, 0.0, 6.0]] * 2]
    assert distance.scale_phi(phis, "image", 2).tolist() == [[[-1.0, 0.0, 1.5]] * 2]
    assert distance.scale_phi(phis, "image").tolist() == [[[-2 / 3, 0.0, 1.0]] * 2]   # the side of phi
    assert distance.scale_phi(phis, "pixel", 128) is phis
    with pytest.raises(ValueError, match="phi_scale"):
        distance.scale_phi(phis, "metres")
