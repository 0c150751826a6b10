"""Tests of bl_utils.data.synthetic: deterministic, BUSI's layout and encodings, ultrasound-like lesions.

Everything is read back through :func:`bl_utils.data.busi.load_busi`, the loader the report uses.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from bl_utils.data import busi as data
from bl_utils.data import duplicates, synthetic

SMALL = dict(n_benign=3, n_malignant=3, n_normal=2)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    return synthetic.write_synthetic_busi(tmp_path_factory.mktemp("syn"), seed=0, **SMALL)


def test_byte_identical_for_the_same_seed(small, tmp_path):
    again = synthetic.write_synthetic_busi(tmp_path / "again", seed=0, **SMALL)
    assert _hashes(small) == _hashes(again)
    other = synthetic.write_synthetic_busi(tmp_path / "other", seed=1, **SMALL)
    first, second = _hashes(small), _hashes(other)
    images = [k for k in first if k.endswith(").png")]
    assert len(images) == 8 and all(first[k] != second[k] for k in images)   # every image differs


def test_an_image_does_not_depend_on_the_counts(small, tmp_path):
    fewer = synthetic.write_synthetic_busi(tmp_path / "fewer", seed=0, n_benign=1, n_malignant=0, n_normal=0)
    assert (fewer / "benign" / "benign (1).png").read_bytes() == (small / "benign" / "benign (1).png").read_bytes()


def test_busi_layout_and_encodings(small):
    assert small.name == "Dataset_BUSI_with_GT"
    marker = json.loads((small.parent / "synthetic_busi.json").read_text())
    assert marker["seed"] == 0 and marker["generator_version"] == synthetic.GENERATOR_VERSION
    names = {p.relative_to(small).as_posix() for p in small.rglob("*.png")}
    for label, n in (("benign", 3), ("malignant", 3), ("normal", 2)):
        for k in range(1, n + 1):
            assert f"{label}/{label} ({k}).png" in names and f"{label}/{label} ({k})_mask.png" in names
    # benign (1) and malignant (3) have a second lesion (seed 0), stored RGBA 0/255 as in BUSI
    for path in (small / "benign" / "benign (1)_mask_1.png", small / "malignant" / "malignant (3)_mask_1.png"):
        second = Image.open(path)
        assert second.mode == "RGBA" and set(np.unique(np.asarray(second)[..., :3])) == {0, 255}
    assert Image.open(small / "benign" / "benign (2)_mask.png").mode == "1"
    normal_mask = Image.open(small / "normal" / "normal (1)_mask.png")
    assert normal_mask.mode == "RGB" and not np.asarray(normal_mask).any()
    for path in small.rglob("*).png"):
        w, h = Image.open(path).size
        assert 300 <= h <= 540 and 320 <= w <= 660
        assert Image.open(path).size == Image.open(path.with_name(path.stem + "_mask.png")).size


def test_read_back_through_load_busi(small):
    ds = data.load_busi(small, max_tumour_fraction=None, cache_dir=False, distance_maps=False, progress=False)
    assert ds.class_counts().to_dict() == {"benign": 3, "malignant": 3, "normal": 2}
    meta = ds.meta.set_index("stem")
    assert meta.loc["benign (1)", "n_masks"] == 2 and meta.loc["benign (3)", "n_masks"] == 1
    assert (meta.tumour_fraction[meta.label == "normal"] == 0).all()
    assert (meta.tumour_fraction[meta.label != "normal"] > 0).all()
    image, masks, colour = synthetic.synthetic_case("benign", 1)
    assert meta.loc["benign (1)", "orig_height"] == image.shape[0] and len(masks) == 2 and not colour


def test_rejects_overwrite_and_bad_counts(small, tmp_path):
    with pytest.raises(FileExistsError):
        synthetic.write_synthetic_busi(small.parent, **SMALL)
    with pytest.raises(ValueError):
        synthetic.write_synthetic_busi(tmp_path / "bad", n_benign=-1)
    with pytest.raises(ValueError):
        synthetic.synthetic_case("cyst", 1)


@pytest.mark.parametrize("label, number", [("benign", k) for k in range(1, 9)] + [("malignant", k) for k in range(1, 7)])
def test_lesions_are_darker_with_a_soft_but_visible_border(label, number):
    image, masks, _ = synthetic.synthetic_case(label, number)
    mask = masks[0]
    grey = image.astype(float)
    ring = ndimage.binary_dilation(mask, iterations=12) & ~ndimage.binary_dilation(mask, iterations=4)
    core = ndimage.binary_erosion(mask, iterations=3)
    assert grey[core].mean() < 0.8 * grey[ring].mean()          # hypoechoic
    assert grey[core].std() > 4                                   # speckled, not a flat blob
    # the border is blurred: pixels just inside are brighter on average than the core
    edge = mask & ~ndimage.binary_erosion(mask, iterations=2)
    assert grey[core].mean() < grey[edge].mean() < grey[ring].mean()


def test_tumour_fractions_spread_mostly_below_five_percent():
    fractions = []
    for label, n in (("benign", 30), ("malignant", 15)):
        for k in range(1, n + 1):
            image, masks, _ = synthetic.synthetic_case(label, k)
            fractions.append(np.logical_or.reduce(masks).mean())
    fractions = np.array(fractions)
    assert 0.5 < np.mean(fractions < 0.05) < 0.9                 # most, not all, below 5 %
    assert fractions.min() < 0.01 and fractions.max() > 0.08


def test_duplicates_like_busi():
    exact = synthetic.synthetic_case("malignant", 7)
    copied = synthetic.synthetic_case("benign", 13)
    np.testing.assert_array_equal(exact[0], copied[0])           # same file under two labels
    frames = np.stack([duplicates._box_resize(synthetic.synthetic_case("benign", k)[0][None], 256, 256)[0]
                       for k in (8, 9, 10)])
    dist = duplicates.hamming_distances(duplicates.dhash(frames, 16))
    assert dist[1, 2] <= 64 < dist[0, 1]                          # (9, 10): two frames of one scene


def test_ensure_writes_once_and_cleans_up_on_failure(tmp_path, monkeypatch):
    counts = {"benign": 1, "malignant": 1, "normal": 1}
    root = tmp_path / "data" / "synthetic_busi"
    layout = synthetic.ensure_synthetic_busi(root, counts=counts, verbose=False)
    assert layout == root / "Dataset_BUSI_with_GT" and layout.is_dir()
    stamp = (root / "synthetic_busi.json").stat().st_mtime_ns
    synthetic.ensure_synthetic_busi(root, counts=counts, verbose=False)
    assert (root / "synthetic_busi.json").stat().st_mtime_ns == stamp
    # other settings: rewritten in a temporary folder, then swapped in
    synthetic.ensure_synthetic_busi(root, counts={**counts, "normal": 2}, verbose=False)
    assert (layout / "normal" / "normal (2).png").is_file()
    assert sorted(p.name for p in root.parent.iterdir()) == ["synthetic_busi"]

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "write_synthetic_busi", crash)
    fresh = tmp_path / "fresh" / "synthetic_busi"
    with pytest.raises(KeyboardInterrupt):
        synthetic.ensure_synthetic_busi(fresh, counts=counts, verbose=False)
    assert list(fresh.parent.iterdir()) == []                     # nothing that looks complete
