"""Tests of bl_utils.data.duplicates: the difference hash, Hamming distances, duplicate pairs and groups.

Oracles: hand-worked hashes, block means and brute-force Hamming distances,
``scipy.sparse.csgraph.connected_components``, and BUSI's byte-identical benign (433) /
malignant (145) files (real-data tests skip when ``../shared/data`` is absent).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from bl_utils.data import busi as data
from bl_utils.data import duplicates
from helpers import study_images

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "busi_sample" / "Dataset_BUSI_with_GT"


def test_dhash_hand_worked():
    ramp = np.tile(np.arange(90, dtype=np.uint8), (80, 1))            # brighter to the right
    assert duplicates.dhash(ramp).all() and duplicates.dhash(ramp).shape == (64,)
    assert not duplicates.dhash(ramp[:, ::-1]).any()
    # a 2x3 grid by hand: cells (row means) 1 5 2 / 4 4 9 -> bits [5>1, 2>5, 4>4, 9>4]
    img = np.repeat(np.repeat(np.array([[1, 5, 2], [4, 4, 9]], float), 4, axis=0), 4, axis=1)
    assert duplicates.dhash(img, hash_size=2).tolist() == [True, False, False, True]


@pytest.mark.parametrize("bad", [np.zeros(16), np.zeros((2, 2, 8, 9)), np.zeros((4, 8))])
def test_dhash_refuses_wrong_shapes(bad):
    with pytest.raises(ValueError):
        duplicates.dhash(bad)                     # 1-D, 4-D, smaller than the 8x9 grid


def test_box_resize_matches_block_means_and_hamming_brute_force():
    rng = np.random.default_rng(0)
    imgs = rng.random((3, 32, 36))
    expected = imgs.reshape(3, 8, 4, 9, 4).mean(axis=(2, 4))
    np.testing.assert_allclose(duplicates._box_resize(imgs, 8, 9), expected)
    bits = rng.random((7, 64)) < 0.5
    brute = np.array([[np.sum(a != b) for b in bits] for a in bits])
    np.testing.assert_array_equal(duplicates.hamming_distances(bits), brute)


def test_find_duplicates_on_arrays():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (5, 64, 64)).astype(np.uint8)
    imgs = np.concatenate([base, base[1:2], np.clip(base[3:4].astype(int) + 3, 0, 255).astype(np.uint8)])
    pairs = duplicates.find_duplicates(imgs, max_distance=3, hash_size=8)
    assert list(zip(pairs.i, pairs.j)) == [(1, 5), (3, 6)]
    assert pairs.identical.tolist() == [True, False]
    assert pairs.distance.iloc[0] == 0
    with pytest.raises(ValueError, match="max_distance"):
        duplicates.find_duplicates(imgs, max_distance=-1)


def test_duplicate_groups_against_scipy_components():
    rng = np.random.default_rng(2)
    n = 40
    edges = rng.integers(0, n, (25, 2))
    edges = edges[edges[:, 0] != edges[:, 1]]
    pairs = pd.DataFrame({"i": edges.min(1), "j": edges.max(1)})
    groups = duplicates.duplicate_groups(np.zeros((n, 8, 9)), pairs=pairs)
    _, reference = connected_components(coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                                                   shape=(n, n)), directed=False)
    same = groups[:, None] == groups[None, :]
    np.testing.assert_array_equal(same, reference[:, None] == reference[None, :])
    assert groups[0] == 0 and set(groups) == set(range(groups.max() + 1))
    assert duplicates.duplicate_groups(np.zeros((3, 8, 9)), pairs=pd.DataFrame({"i": [0], "j": [2]})).tolist() == [0, 1, 0]


@pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"real BUSI sample not found at {SAMPLE}")
def test_sample_byte_identical_pair_found_at_distance_zero():
    sample = data.load_busi(SAMPLE, max_tumour_fraction=None, cache_dir=False, distance_maps=False,
                            progress=False)
    assert (SAMPLE / "benign" / "benign (433).png").read_bytes() == \
        (SAMPLE / "malignant" / "malignant (145).png").read_bytes()
    pairs = duplicates.find_duplicates(sample)
    hit = pairs[(pairs.stem_i == "benign (433)") & (pairs.stem_j == "malignant (145)")]
    assert len(hit) == 1 and hit.distance.iloc[0] == 0 and bool(hit.identical.iloc[0])
    assert not hit.same_label.iloc[0]


def test_module_example():
    import doctest

    assert doctest.testmod(duplicates).failed == 0


def _scene(rng, size=256):
    """A speckled ultrasound-like scene with a dark elliptic lesion: ``(image uint8, mask bool)``."""
    from scipy import ndimage

    base = ndimage.gaussian_filter(rng.random((size, size)) * 255, 6)
    base = (base - base.min()) / (base.max() - base.min()) * 180 + 40
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.integers(80, 176, 2)
    mask = ((yy - cy) / rng.uniform(12, 24)) ** 2 + ((xx - cx) / rng.uniform(16, 30)) ** 2 <= 1
    return np.where(mask, base * 0.25, base).astype(np.uint8), mask


def test_lesion_frames_pair_moved_frames_of_one_lesion_and_nothing_else():
    from bl_utils.data.dataset import UltrasoundDataset

    rng = np.random.default_rng(3)
    scenes = [_scene(rng) for _ in range(4)]
    image, mask = scenes[0]
    moved = (np.roll(image, (5, -4), axis=(0, 1)), np.roll(mask, (5, -4), axis=(0, 1)))   # the probe moved
    empty = (scenes[1][0], np.zeros_like(mask))                                          # a normal image
    stack = [scenes[0], moved, scenes[2], scenes[3], empty, (empty[0].copy(), empty[1].copy())]
    meta = pd.DataFrame({"stem": [f"s{k}" for k in range(len(stack))], "label": "benign"})
    dataset = UltrasoundDataset(np.stack([s[0] for s in stack]), np.stack([s[1] for s in stack]), None, meta)
    frames = duplicates.lesion_frames(dataset)
    assert list(zip(frames.i, frames.j)) == [(0, 1)]                  # normal images are never paired
    row = frames.iloc[0]
    assert row["shift"] == pytest.approx(np.hypot(5, 4), abs=0.5) and row["area_ratio"] == pytest.approx(1.0)
    groups = duplicates.frame_groups(dataset)
    assert groups[0] == groups[1] and len(set(groups[2:4])) == 2 and groups[4] == groups[5]   # 4, 5: identical pixels


def test_frame_groups_join_the_lesions_the_hash_keeps_apart_on_busi():
    """The cases seen by eye: benign (433) and (435), one cyst, one frame with calipers (and malignant (145), the
    byte-identical copy of 433); malignant (3)–(9), one region in seven frames. The hash alone splits them."""
    busi = study_images()
    stems = list(busi.meta.stem)
    cyst = [stems.index(s) for s in ("benign (433)", "benign (435)", "malignant (145)")]
    region = [stems.index(f"malignant ({k})") for k in range(3, 10)]
    hashed, framed = duplicates.duplicate_groups(busi), duplicates.frame_groups(busi)
    assert len(set(hashed[cyst])) > 1 and len(set(hashed[region])) > 1
    assert len(set(framed[cyst])) == 1 and len(set(framed[region])) == 1 and framed[cyst[0]] != framed[region[0]]
    assert set(framed[hashed == hashed[0]]) == {framed[0]}           # every hash group stays whole
