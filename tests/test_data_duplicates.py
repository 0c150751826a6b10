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
