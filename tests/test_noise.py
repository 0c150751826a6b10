"""Tests of the degradations (bl_utils.noise): their statistics, binary masks, seeded determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from bl_utils import noise
from bl_utils.metrics import dice


@pytest.mark.parametrize("sigma", [0.1, 0.35, 0.75])
def test_speckle_is_multiplicative_with_mean_one_and_variance_sigma_squared(sigma):
    # on a dark grey image (clipping at 255 needs n > 5.1: negligible for these σ) I'/I estimates n
    image = np.full((400, 400), 50, np.uint8)
    n = noise.speckle(image, sigma, seed=1).astype(float) / 50
    assert n.mean() == pytest.approx(1.0, abs=0.01)
    # rounding to integers adds a uniform error of variance 1/12 on I', i.e. (1/12)/50² on n
    assert n.var() == pytest.approx(sigma**2 + 1 / 12 / 50**2, rel=0.05)


def test_speckle_is_seeded_zero_level_is_identity_and_black_stays_black():
    image = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    np.testing.assert_array_equal(noise.speckle(image, 0.3, seed=5), noise.speckle(image, 0.3, seed=5))
    assert not np.array_equal(noise.speckle(image, 0.3, seed=5), noise.speckle(image, 0.3, seed=6))
    np.testing.assert_array_equal(noise.speckle(image, 0.0), image)
    assert (noise.speckle(np.zeros((8, 8), np.uint8), 0.5) == 0).all()   # multiplicative
    assert noise.speckle(image, 0.3).dtype == np.uint8


def test_gain_scales_and_clips():
    image = np.array([[0, 10, 100, 200, 255]], np.uint8)
    np.testing.assert_array_equal(noise.gain(image, 0.5), [[0, 5, 50, 100, 128]])   # 127.5 rounds to even
    np.testing.assert_array_equal(noise.gain(image, 2.0), [[0, 20, 200, 255, 255]])


def test_degradations_refuse_bad_input():
    with pytest.raises(TypeError, match="uint8"):
        noise.speckle(np.zeros((4, 4), np.float32), 0.1)
    with pytest.raises(ValueError, match="sigma"):
        noise.speckle(np.zeros((4, 4), np.uint8), -0.1)
    with pytest.raises(ValueError, match="factor"):
        noise.gain(np.zeros((4, 4), np.uint8), 0)
    with pytest.raises(ValueError, match="unknown corruption"):
        noise.corrupt(np.zeros((4, 4), np.uint8), "blur", 1)
    with pytest.raises(ValueError, match="strength"):
        noise.jitter_contours(np.zeros((4, 4), bool), -1)


def disk(shape=(128, 128), centre=(64, 64), radius=30):
    yy, xx = np.indices(shape)
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_jitter_keeps_masks_binary_and_empty_masks_empty_and_is_seeded():
    masks = np.stack([disk(), np.zeros((128, 128), bool)])
    out = noise.jitter_contours(masks, 4.0, seed=3)
    assert out.dtype == bool and out.shape == masks.shape
    assert not out[1].any()
    np.testing.assert_array_equal(out, noise.jitter_contours(masks, 4.0, seed=3))
    assert not np.array_equal(out, noise.jitter_contours(masks, 4.0, seed=4))
    np.testing.assert_array_equal(noise.jitter_contours(masks, 0.0), masks)


def test_jitter_moves_the_contour_by_about_strength_pixels():
    mask = disk()
    scores = []
    for strength in (2.0, 4.0, 8.0):
        out = noise.jitter_contours(mask, strength, seed=0)
        # the interior far from the contour is untouched: the warp moves the boundary, not the object
        assert out[ndimage.binary_erosion(mask, iterations=int(4 * strength))].all()
        changed = out ^ mask
        ring = ndimage.distance_transform_edt(~mask) + ndimage.distance_transform_edt(mask)
        assert ring[changed].max() <= 4.5 * strength + 1     # no pixel moves beyond ~4.5 σ
        scores.append(dice(out, mask))
    assert scores[0] > scores[1] > scores[2] > 0.5           # monotone in strength, still the same lesion
    areas = [noise.jitter_contours(mask, 4.0, seed=k).sum() / mask.sum() for k in range(20)]
    assert abs(np.mean(areas) - 1) < 0.05                   # the area is kept on average
