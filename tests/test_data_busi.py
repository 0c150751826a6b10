"""Tests of bl_utils.data.busi (the BUSI loader, the < 5 % rule).

Oracles: the preprocessed copy ``../shared/data/busi256`` (made independently from the same
Kaggle files: PIL bilinear greyscale images, nearest-neighbour mask unions), PIL itself, brute
force and :func:`bl_utils.distance.signed_distance_map`. The hand-made folder ``tiny``: conftest.py.
The cache: test_data_cache.py; the original sizes from manifest.csv: test_data_manifest.py; the
dataset's items and subsets: test_data_dataset.py; duplicates and the split: test_data_duplicates.py,
test_data_split.py; the data-exploration figures: test_plots_data.py.
Real-data tests skip when ``../shared/data`` is absent (as on a user's machine).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from bl_utils.data import busi as data
from bl_utils.data.dataset import META_COLUMNS, DataError
from bl_utils.distance import signed_distance_map
from helpers import npz_files, write_case

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE = SHARED / "busi_sample" / "Dataset_BUSI_with_GT"
BUSI256 = SHARED / "busi256"
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"real BUSI sample not found at {SAMPLE}")
needs_busi256 = pytest.mark.skipif(not BUSI256.is_dir(), reason=f"preprocessed BUSI not found at {BUSI256}")


# --------------------------------------------------------------------------------------------
# The loader on a hand-made folder


def test_tiny_folder_exact_fractions_order_and_items(tiny, tmp_path):
    ds = data.load_busi(tiny, image_size=(30, 40), max_tumour_fraction=None, cache_dir=False, progress=False)
    assert list(ds.meta.columns) == list(META_COLUMNS)
    assert ds.stems == ["benign (1)", "benign (2)", "benign (10)", "malignant (1)", "malignant (2)", "normal (1)"]
    # the images are 40 wide, 30 high: resizing to (30, 40) keeps every pixel
    np.testing.assert_allclose(ds.meta.tumour_fraction, np.array([6, 200, 20, 600, 1, 0]) / 1200)
    assert list(ds.meta.n_masks) == [1, 2, 1, 1, 1, 1]
    assert (ds.meta.orig_height == 30).all() and (ds.meta.orig_width == 40).all()
    assert ds.images.dtype == np.uint8 and ds.masks.dtype == bool and ds.phis.dtype == np.float32
    item = ds[1]
    assert set(item) == {"image", "mask", "phi"}
    assert item["image"].shape == (1, 30, 40) and item["image"].dtype == torch.float32
    assert 0 <= float(item["image"].min()) and float(item["image"].max()) <= 1
    np.testing.assert_array_equal(item["mask"][0].numpy(), ds.masks[1].astype(np.float32))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["phi"].shape == (4, 1, 30, 40)
    for i in range(len(ds)):   # Φ_G: the distance module's map of each mask (empty -> +diagonal)
        np.testing.assert_array_equal(ds.phis[i], signed_distance_map(ds.masks[i]))
    np.testing.assert_allclose(ds.phis[5], np.hypot(40, 30))


@pytest.mark.parametrize("threshold, expected", [
    (None, 6), (0.5, 5), (0.05, 4), (20 / 1200, 3), (1 / 1200, 1)])   # strict "<", normal always in
def test_tumour_fraction_rule_is_strict_and_keeps_normal(tiny, threshold, expected):
    ds = data.load_busi(tiny, image_size=(30, 40), max_tumour_fraction=threshold, cache_dir=False,
                        distance_maps=False, progress=False)
    assert len(ds) == expected
    assert "normal (1)" in ds.stems
    if threshold is not None:
        assert (ds.meta.tumour_fraction < threshold).all()


def test_layout_with_or_without_the_kaggle_folder_level(tiny):
    with_level = data.load_busi(tiny.parent, image_size=16, cache_dir=False, distance_maps=False, progress=False)
    without = data.load_busi(tiny, image_size=16, cache_dir=False, distance_maps=False, progress=False)
    assert with_level.stems == without.stems
    np.testing.assert_array_equal(with_level.images, without.images)


def test_images_resized_bilinear_masks_nearest(tiny):
    ds = data.load_busi(tiny, image_size=(15, 20), max_tumour_fraction=None, cache_dir=False,
                        distance_maps=False, progress=False)
    src = Image.open(tiny / "benign" / "benign (2).png").convert("L")
    np.testing.assert_array_equal(ds.images[1], np.asarray(src.resize((20, 15), Image.BILINEAR)))
    # halving: nearest keeps every other pixel -> the two 10x10 squares become 5x5 squares
    expected = np.zeros((15, 20), bool)
    expected[0:5, 0:5] = expected[10:15, 10:15] = True
    np.testing.assert_array_equal(ds.masks[1], expected)


@pytest.mark.parametrize("n_in, n_out", [(468, 256), (552, 256), (256, 256), (100, 256), (7, 3), (1048, 64)])
def test_nearest_indices_brute_force(n_in, n_out):
    # OpenCV INTER_NEAREST: src = floor(dst * (1 / (n_out / n_in))), computed in double precision
    expected = [min(int(np.floor(i * (1.0 / (n_out / n_in)))), n_in - 1) for i in range(n_out)]
    assert data._nearest_indices(n_in, n_out).tolist() == expected


def test_mask_encodings_any_value_above_zero(tmp_path):
    """1-bit, 0/1 greyscale, RGB with colour, RGBA with an opaque alpha, palette: all read as > 0."""
    folder = tmp_path / "enc" / "benign"
    folder.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "benign (1).png")
    truth = np.zeros((8, 8), bool)
    truth[2:5, 3:7] = True
    grey01 = truth.astype(np.uint8)
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[truth, 1] = 7                                         # only the green channel is set
    rgba = np.dstack([grey01 * 255] * 3 + [np.full((8, 8), 255, np.uint8)])
    Image.fromarray(truth).convert("1").save(folder / "benign (1)_mask.png")
    Image.fromarray(grey01).save(folder / "benign (1)_mask_1.png")
    Image.fromarray(rgb).save(folder / "benign (1)_mask_2.png")
    Image.fromarray(rgba, "RGBA").save(folder / "benign (1)_mask_3.png")
    Image.fromarray(grey01 * 255).convert("P").save(folder / "benign (1)_mask_4.png")
    ds = data.load_busi(tmp_path / "enc", image_size=8, max_tumour_fraction=None, cache_dir=False,
                        distance_maps=False, progress=False)
    assert ds.meta.n_masks[0] == 5
    np.testing.assert_array_equal(ds.masks[0], truth)       # alpha (255 everywhere) is ignored
    for name in ["benign (1)_mask.png", "benign (1)_mask_1.png", "benign (1)_mask_2.png",
                 "benign (1)_mask_3.png", "benign (1)_mask_4.png"]:
        np.testing.assert_array_equal(data._mask_array(Image.open(folder / name)), truth, err_msg=name)


# --------------------------------------------------------------------------------------------
# Bad input: one exception type, the file named, no cache left behind


def _bad_cases():
    def missing(tmp):
        return tmp / "nowhere", "nowhere", ("Kaggle", "BUSI_DIR", "Dataset_BUSI_with_GT")

    def not_busi(tmp):
        (tmp / "notbusi" / "photos").mkdir(parents=True)
        Image.new("L", (4, 4)).save(tmp / "notbusi" / "photos" / "cat.png")
        return tmp / "notbusi", "notbusi", ("No BUSI layout", "Dataset_BUSI_with_GT")

    def a_file(tmp):
        (tmp / "file.png").write_bytes(b"x")
        return tmp / "file.png", "file.png", ("not a folder",)

    def no_mask(tmp):
        write_case(tmp / "b" / "benign", "benign (1)")
        write_case(tmp / "b" / "benign", "benign (2)", masks=[])
        return tmp / "b", "benign (2).png", ("without a mask", "benign (2)_mask.png")

    def stray_mask(tmp):
        write_case(tmp / "b" / "benign", "benign (1)")
        (tmp / "b" / "benign" / "benign (1).png").rename(tmp / "b" / "benign" / "other.png")
        return tmp / "b", "benign (1)_mask.png", ("Mask without an image",)

    def wrong_size(tmp):
        write_case(tmp / "b" / "benign", "benign (1)")
        write_case(tmp / "b" / "malignant", "malignant (3)", size=(40, 30), mask_size=(41, 30))
        return tmp / "b", "malignant (3)_mask.png", ("another size", "41x30", "40x30")

    def unreadable_image(tmp):
        write_case(tmp / "b" / "benign", "benign (1)")
        write_case(tmp / "b" / "benign", "benign (7)")
        (tmp / "b" / "benign" / "benign (7).png").write_bytes(b"not a png at all")
        return tmp / "b", "benign (7).png", ("Unreadable", "Re-download")

    def truncated_mask(tmp):
        write_case(tmp / "b" / "normal", "normal (1)")
        path = tmp / "b" / "normal" / "normal (1)_mask.png"
        path.write_bytes(path.read_bytes()[:60])
        return tmp / "b", "normal (1)_mask.png", ("Unreadable",)

    return [missing, not_busi, a_file, no_mask, stray_mask, wrong_size, unreadable_image, truncated_mask]


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda f: f.__name__)
def test_bad_input_raises_busidataerror_naming_the_file(tmp_path, case):
    root, named, phrases = case(tmp_path)
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        data.load_busi(root, image_size=16, cache_dir=cache, progress=False)
    message = str(info.value)
    assert named in message
    for phrase in phrases:
        assert phrase in message
    assert isinstance(info.value, ValueError)
    assert npz_files(cache) == []                       # nothing half-written or cached


# --------------------------------------------------------------------------------------------
# Bad settings


@pytest.mark.parametrize("bad", [dict(image_size=4), dict(image_size=(8, 8, 8)), dict(image_size="256"),
                                 dict(max_tumour_fraction=0), dict(max_tumour_fraction=1.5)])
def test_bad_settings(tiny, bad):
    with pytest.raises(ValueError):
        data.load_busi(tiny, cache_dir=False, progress=False, **bad)


# --------------------------------------------------------------------------------------------
# The < 5 % rule


def test_rule_summary():
    meta = pd.DataFrame({"label": ["benign", "benign", "malignant", "normal"],
                         "tumour_fraction": [0.01, 0.06, 0.05, 0.0]})
    table = data.rule_summary(meta, 0.05)
    assert table.loc["benign"].tolist() == [2, 1, 1]
    assert table.loc["malignant"].tolist() == [1, 0, 1]                   # 0.05 is not < 0.05
    assert table.loc["total"].tolist() == [4, 2, 2]


# --------------------------------------------------------------------------------------------
# Real data: the 80-image sample at original resolution, and all 780 at 256×256


@pytest.fixture(scope="module")
def sample():
    return data.load_busi(SAMPLE, max_tumour_fraction=None, cache_dir=False, distance_maps=False,
                          progress=False)


@needs_sample
@needs_busi256
def test_sample_matches_the_independent_busi256_copy_pixel_for_pixel(sample):
    assert sample.class_counts().to_dict() == {"benign": 40, "malignant": 25, "normal": 15}
    for i, row in sample.meta.iterrows():
        image = np.asarray(Image.open(BUSI256 / row.label / f"{row.stem}.png"))
        mask = np.asarray(Image.open(BUSI256 / row.label / f"{row.stem}_mask.png")) > 0
        np.testing.assert_array_equal(sample.images[i], image, err_msg=row.stem)
        np.testing.assert_array_equal(sample.masks[i], mask, err_msg=row.stem)
    manifest = pd.read_csv(BUSI256 / "manifest.csv").set_index("stem").loc[sample.stems]
    assert sample.meta.orig_height.tolist() == manifest.orig_h.tolist()
    assert sample.meta.orig_width.tolist() == manifest.orig_w.tolist()
    assert sample.meta.n_masks.tolist() == manifest.n_masks.tolist()
    assert sample.labels == manifest["class"].tolist()


@needs_sample
def test_sample_quirks(sample):
    meta = sample.meta.set_index("stem")
    # benign (195): three mask files, the mask is their union (more than the first one alone)
    assert meta.loc["benign (195)", "n_masks"] == 3
    i = sample.stems.index("benign (195)")
    parts = []
    for name in ["benign (195)_mask.png", "benign (195)_mask_1.png", "benign (195)_mask_2.png"]:
        part = np.asarray(Image.open(SAMPLE / "benign" / name)) > 0
        parts.append(data._nearest_resize(part, (256, 256)))
        assert part.any() and not (parts[-1] & ~sample.masks[i]).any()    # each inside the union
    np.testing.assert_array_equal(sample.masks[i], np.logical_or.reduce(parts))
    assert sample.masks[i].sum() > max(p.sum() for p in parts)
    # colour overlays load as grey: the stored file is RGB with colour, the result is PIL's luma
    for stem in ["benign (6)", "malignant (65)", "normal (113)"]:
        label = stem.split()[0]
        stored = Image.open(SAMPLE / label / f"{stem}.png")
        rgb = np.asarray(stored.convert("RGB")).astype(int)
        assert stored.mode == "RGB" and (rgb.max(axis=2) - rgb.min(axis=2) > 20).any()
        grey = np.asarray(stored.convert("L").resize((256, 256), Image.BILINEAR))
        np.testing.assert_array_equal(sample.images[sample.stems.index(stem)], grey)
    # RGBA _mask_1 files (opaque alpha): read as their colour channels, not as "all tumour"
    for stem in ["benign (4)", "benign (54)"]:
        second = Image.open(SAMPLE / "benign" / f"{stem}_mask_1.png")
        assert second.mode == "RGBA"
        assert 0 < meta.loc[stem, "tumour_fraction"] < 0.5 and meta.loc[stem, "n_masks"] == 2
    # normal masks: all zero
    normal = sample.meta.label == "normal"
    assert normal.sum() == 15 and not sample.masks[normal.to_numpy()].any()
    assert (sample.meta.tumour_fraction[normal] == 0).all()
    assert (sample.meta.tumour_fraction[~normal] > 0).all()


@pytest.fixture(scope="module")
def busi256(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return data.load_busi(BUSI256, image_size=256, max_tumour_fraction=None, cache_dir=cache,
                          distance_maps=False, progress=False), cache


@needs_busi256
def test_busi256_counts_780_and_the_papers_425(busi256):
    everything, cache = busi256
    assert len(everything) == 780
    assert everything.class_counts().to_dict() == {"benign": 437, "malignant": 210, "normal": 133}
    kept = data.load_busi(BUSI256, image_size=256, max_tumour_fraction=0.05, cache_dir=cache,
                          distance_maps=False, progress=False)
    assert kept.from_cache and len(kept) == 425
    assert kept.class_counts().to_dict() == {"benign": 256, "malignant": 36, "normal": 133}
    table = data.rule_summary(everything.meta, 0.05)
    assert table.loc["total"].tolist() == [780, 425, 355] and table.loc["normal", "dropped"] == 0
    assert data.content_fingerprint(kept) == "9df887104369f351"           # the notebooks' data
    # the fraction is the share of tumour pixels of the stored 256x256 mask
    for stem in ["benign (1)", "malignant (145)", "normal (5)"]:
        label = stem.split()[0]
        mask = np.asarray(Image.open(BUSI256 / label / f"{stem}_mask.png")) > 0
        assert everything.meta.set_index("stem").loc[stem, "tumour_fraction"] == mask.mean()


@needs_sample
@needs_busi256
def test_sample_files_and_busi256_manifest_give_the_same_original_sizes(sample, busi256):
    """The Kaggle files' own sizes (busi_sample) are the sizes busi256's manifest gives its resized copies."""
    everything, _ = busi256
    assert set(sample.meta.size_source) == {"image files"} and set(everything.meta.size_source) == {"manifest.csv"}
    columns = ["label", "orig_height", "orig_width"]
    shared = everything.meta.set_index("stem").loc[sample.stems, columns]
    pd.testing.assert_frame_equal(shared, sample.meta.set_index("stem")[columns])
    assert everything.meta.orig_width.between(190, 1048).all() and everything.meta.orig_height.between(310, 719).all()
    assert len(set(zip(everything.meta.orig_width, everything.meta.orig_height))) > 100     # hundreds of shapes
