"""Tests of bl_utils.data.busbra (BUS-BRA, the external test's data, read by BUSI's rule).

Oracles: PIL itself (bilinear greyscale images, the files' own sizes), the nearest-neighbour rule
written out here (``floor(i · n_in / n_out)``, OpenCV's ``INTER_NEAREST``), pandas reading
``bus_data.csv``, and the published description of BUS-BRA (Gómez-Flores et al., Medical Physics
2024: 1,875 images of 1,064 patients, four scanners, 1,268 benign / 607 malignant). Hand-made
folders in BUS-BRA's layout (``write_busbra``) hold a few tiny images of two patients and two
scanners. The real data (``../shared/data/busbra``) is read once per module; its tests skip when it
is absent, except in CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bl_utils.data import busbra
from bl_utils.data import busi
from bl_utils.data.dataset import META_COLUMNS, DataError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_BUSBRA = SHARED / "busbra"
BUSI256 = SHARED / "busi256"

CSV_COLUMNS = ["ID", "Case", "Histology", "Pathology", "BIRADS", "Device", "Width", "Height", "Side", "BBOX"]

#: ``(ID, Case, Histology, Pathology, BIRADS, Device, Side, (w, h), lesion (r0, r1, c0, c1))`` in the
#: CSV's order, which is deliberately not the files' sorted order. Pathology as the CSV may spell it.
ROWS = [
    ("bus_0002-l", 2, "invasive ductal carcinoma", "Malignant", "5", "Toshiba Aplio 300", "left", (36, 28), (3, 20, 4, 30)),
    ("bus_0001-r", 1, "fibroadenoma", "benign", "3", "GE Logiq 7", "right", (40, 30), (0, 6, 10, 19)),
    ("bus_0001-l", 1, "fibroadenoma", " benign ", "4a", "GE Logiq 7", "left", (40, 30), (10, 25, 5, 12)),
    ("bus_0002-r", 2, "cyst", "BENIGN", "2", "GE Logiq 7", "right", (33, 41), (20, 41, 0, 1)),
]


def mask_of(size, lesion) -> np.ndarray:
    w, h = size
    r0, r1, c0, c1 = lesion
    mask = np.zeros((h, w), bool)
    mask[r0:r1, c0:c1] = True
    return mask


def image_of(stem: str, size) -> np.ndarray:
    w, h = size
    return np.random.default_rng(sum(map(ord, stem))).integers(0, 256, (h, w), dtype=np.uint8)


def write_busbra(parent: Path, rows=ROWS, csv_heights: dict | None = None) -> Path:
    """A BUS-BRA-layout folder ``parent/BUSBRA``: 8-bit greyscale images (mode L), 1-bit masks (mode
    "1") of the same size, and ``bus_data.csv``. ``csv_heights``: wrong heights the CSV states."""
    folder = parent / busbra.LAYOUT_FOLDER
    (folder / "Images").mkdir(parents=True)
    (folder / "Masks").mkdir()
    records = []
    for stem, case, histology, pathology, birads, device, side, size, lesion in rows:
        image = Image.fromarray(image_of(stem, size))
        assert image.mode == "L"
        image.save(folder / "Images" / f"{stem}.png")
        mask = Image.fromarray(mask_of(size, lesion))
        assert mask.mode == "1"
        mask.save(folder / "Masks" / f"mask_{stem[4:]}.png")
        height = (csv_heights or {}).get(stem, size[1])
        records.append([stem, case, histology, pathology, birads, device, size[0], height, side, "[1,2,3,4]"])
    pd.DataFrame(records, columns=CSV_COLUMNS).to_csv(folder / "bus_data.csv", index=False)
    return folder


def nearest(mask: np.ndarray, size) -> np.ndarray:
    """The nearest-neighbour rule, written out: output pixel i takes source pixel floor(i · n_in / n_out)."""
    rows = [min(int(np.floor(i * (1.0 / (size[0] / mask.shape[0])))), mask.shape[0] - 1) for i in range(size[0])]
    cols = [min(int(np.floor(j * (1.0 / (size[1] / mask.shape[1])))), mask.shape[1] - 1) for j in range(size[1])]
    return mask[np.ix_(rows, cols)]


def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_busbra(tmp_path / "release", csv_heights={"bus_0001-l": 999})


# --------------------------------------------------------------------------------------------
# Loading a hand-made folder


def test_loads_in_csv_order_with_labels_meta_and_sizes_from_the_files(folder):
    ds = busbra.load_busbra(folder, image_size=(20, 24), cache_dir=False, progress=False)
    assert len(ds) == len(ROWS)
    assert ds.stems == [r[0] for r in ROWS]                                   # the CSV's order, not sorted
    assert ds.labels == ["malignant", "benign", "benign", "benign"]           # stripped, lowercased
    assert list(ds.meta.columns) == list(META_COLUMNS) + list(busbra.EXTRA_COLUMNS)
    assert ds.meta.patient.tolist() == [2, 1, 1, 2] and ds.meta.patient.nunique() == 2
    assert ds.meta.scanner.tolist() == [r[5] for r in ROWS]
    assert ds.meta.birads.tolist() == ["5", "3", "4a", "2"]
    assert ds.meta.histology.tolist() == [r[2] for r in ROWS]
    assert ds.meta.side.tolist() == ["left", "right", "left", "right"]
    # sizes from the files: bus_0001-l is 30 high whatever the CSV's Height (999) says
    assert ds.meta.orig_height.tolist() == [r[7][1] for r in ROWS]
    assert ds.meta.orig_width.tolist() == [r[7][0] for r in ROWS]
    assert pd.read_csv(folder / "bus_data.csv").set_index("ID").loc["bus_0001-l", "Height"] == 999
    assert set(ds.meta.size_source) == {"image files"} and (ds.meta.n_masks == 1).all()
    assert ds.meta.file.tolist() == [f"Images/{r[0]}.png" for r in ROWS]
    assert ds.phis is None and ds.images.shape == (4, 20, 24) and ds.masks.shape == (4, 20, 24)
    expected = [nearest(mask_of(r[7], r[8]), (20, 24)).mean() for r in ROWS]
    np.testing.assert_allclose(ds.meta.tumour_fraction, expected, rtol=0, atol=0)


@pytest.mark.parametrize("image_size", [(20, 24), 16, (60, 50)])        # down, square, up
def test_resized_by_busis_rule_bilinear_images_nearest_masks(folder, image_size):
    ds = busbra.load_busbra(folder, image_size=image_size, cache_dir=False, progress=False)
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    for i, (stem, *_, file_size, lesion) in enumerate(ROWS):
        source = Image.open(folder / "Images" / f"{stem}.png")
        expected = np.asarray(source.convert("L").resize((size[1], size[0]), Image.BILINEAR))
        np.testing.assert_array_equal(ds.images[i], expected, err_msg=stem)
        np.testing.assert_array_equal(ds.masks[i], nearest(mask_of(file_size, lesion), size), err_msg=stem)
        # ... which is BUSI's reader, item for item
        item = busi._Item(ds.labels[i], stem, folder / "Images" / f"{stem}.png",
                          (folder / "Masks" / f"mask_{stem[4:]}.png",))
        image, mask, height, width = busi._read_item(item, size)
        np.testing.assert_array_equal(ds.images[i], image)
        np.testing.assert_array_equal(ds.masks[i], mask)
        assert (height, width) == (file_size[1], file_size[0])


def test_root_is_the_busbra_folder_or_its_parent(folder):
    assert busbra.find_busbra(folder) == folder == busbra.find_busbra(folder.parent)
    inner = busbra.load_busbra(folder, image_size=16, cache_dir=False, progress=False)
    outer = busbra.load_busbra(folder.parent, image_size=16, cache_dir=False, progress=False)
    assert inner.stems == outer.stems
    assert busi.content_fingerprint(inner) == busi.content_fingerprint(outer)


def test_the_cache_follows_the_files(folder, tmp_path):
    cache = tmp_path / "cache"
    first = busbra.load_busbra(folder, image_size=16, cache_dir=cache, progress=False)
    again = busbra.load_busbra(folder.parent, image_size=16, cache_dir=cache, progress=False)
    assert not first.from_cache and again.from_cache and cache_files(cache)
    assert busi.content_fingerprint(again) == busi.content_fingerprint(first)
    np.testing.assert_array_equal(again.images, first.images)
    pd.testing.assert_frame_equal(again.meta, first.meta)
    # one mask pixel more where the resize to 16² keeps it (source row 0, column 0)
    path = folder / "Masks" / "mask_0001-r.png"
    mask = np.asarray(Image.open(path)).copy()
    assert not mask[0, 0]
    mask[0, 0] = True
    Image.fromarray(mask).save(path)
    changed = busbra.load_busbra(folder, image_size=16, cache_dir=cache, progress=False)
    assert not changed.from_cache                          # the changed file rebuilt the entry
    assert changed.masks[1, 0, 0] and not first.masks[1, 0, 0] and (changed.masks != first.masks).sum() == 1
    assert busi.content_fingerprint(changed) != busi.content_fingerprint(first)


def test_fingerprint_changes_with_one_mask_pixel(tmp_path):
    a = write_busbra(tmp_path / "a")
    b = write_busbra(tmp_path / "b")
    loaded = [busbra.load_busbra(f, image_size=(30, 40), cache_dir=False, progress=False) for f in (a, b)]
    assert busi.content_fingerprint(loaded[0]) == busi.content_fingerprint(loaded[1])
    path = b / "Masks" / "mask_0001-r.png"                 # 40 x 30: read at its own size, every pixel counts
    mask = np.asarray(Image.open(path)).copy()
    mask[29, 39] = ~mask[29, 39]
    Image.fromarray(mask).save(path)
    changed = busbra.load_busbra(b, image_size=(30, 40), cache_dir=False, progress=False)
    assert (changed.masks != loaded[0].masks).sum() == 1
    assert busi.content_fingerprint(changed) != busi.content_fingerprint(loaded[0])


# --------------------------------------------------------------------------------------------
# Bad input: DataError naming the file and the fix, nothing cached


def _bad_cases():
    def missing_folder(tmp):
        return tmp / "nowhere", ["nowhere", "not found", "BUSBRA_DIR", "Zenodo"]

    def missing_images(tmp):
        folder = write_busbra(tmp / "r")
        for p in (folder / "Images").iterdir():
            p.unlink()
        (folder / "Images").rmdir()
        return folder, [str(folder), "Images", "missing", "BUSBRA_DIR"]

    def missing_masks(tmp):
        folder = write_busbra(tmp / "r")
        for p in (folder / "Masks").iterdir():
            p.unlink()
        (folder / "Masks").rmdir()
        return folder.parent, [str(folder), "Masks", "missing", "BUSBRA_DIR"]

    def missing_csv(tmp):
        folder = write_busbra(tmp / "r")
        (folder / "bus_data.csv").unlink()
        return folder, [str(folder), "bus_data.csv", "missing", "BUSBRA_DIR"]

    def missing_mask(tmp):
        folder = write_busbra(tmp / "r")
        (folder / "Masks" / "mask_0001-r.png").unlink()
        return folder, [str(folder / "Images" / "bus_0001-r.png"), "mask_0001-r.png", "without a mask", "Restore"]

    def mask_of_another_size(tmp):
        folder = write_busbra(tmp / "r")
        Image.fromarray(np.zeros((30, 41), bool)).save(folder / "Masks" / "mask_0001-l.png")
        return folder, [str(folder / "Masks" / "mask_0001-l.png"), "another size", "41x30", "40x30", "Re-download"]

    def row_without_image(tmp):
        folder = write_busbra(tmp / "r")
        (folder / "Images" / "bus_0002-r.png").unlink()
        (folder / "Masks" / "mask_0002-r.png").unlink()
        return folder, ["bus_0002-r", "Row without an image", "Restore the image"]

    def image_without_row(tmp):
        folder = write_busbra(tmp / "r")
        Image.fromarray(image_of("x", (40, 30))).save(folder / "Images" / "bus_0003-l.png")
        Image.fromarray(np.zeros((30, 40), bool)).save(folder / "Masks" / "mask_0003-l.png")
        return folder, [str(folder / "Images" / "bus_0003-l.png"), "without a row in bus_data.csv", "delete the stray image"]

    def stray_mask(tmp):
        folder = write_busbra(tmp / "r")
        Image.fromarray(np.zeros((30, 40), bool)).save(folder / "Masks" / "mask_0009-l.png")
        return folder, [str(folder / "Masks" / "mask_0009-l.png"), "Mask without an image", "delete the stray mask"]

    def unreadable_image(tmp):
        folder = write_busbra(tmp / "r")
        (folder / "Images" / "bus_0001-l.png").write_bytes(b"not a png at all")
        return folder, [str(folder / "Images" / "bus_0001-l.png"), "Unreadable", "BUS-BRA"]

    def unreadable_mask(tmp):
        folder = write_busbra(tmp / "r")
        path = folder / "Masks" / "mask_0002-l.png"
        path.write_bytes(path.read_bytes()[:40])
        return folder, [str(path), "Unreadable", "BUS-BRA"]

    def csv_without_a_column(tmp):
        folder = write_busbra(tmp / "r")
        table = pd.read_csv(folder / "bus_data.csv").drop(columns="Device")
        table.to_csv(folder / "bus_data.csv", index=False)
        return folder, [str(folder / "bus_data.csv"), "Device", "Restore bus_data.csv"]

    def duplicated_id(tmp):
        folder = write_busbra(tmp / "r")
        table = pd.read_csv(folder / "bus_data.csv")
        pd.concat([table, table.iloc[[1]]]).to_csv(folder / "bus_data.csv", index=False)
        return folder, [str(folder / "bus_data.csv"), "'bus_0001-r' twice", "Restore bus_data.csv"]

    return [missing_folder, missing_images, missing_masks, missing_csv, missing_mask, mask_of_another_size,
            row_without_image, image_without_row, stray_mask, unreadable_image, unreadable_mask,
            csv_without_a_column, duplicated_id]


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda f: f.__name__)
def test_bad_input_raises_dataerror_naming_the_file_and_caches_nothing(tmp_path, case):
    root, phrases = case(tmp_path)
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        busbra.load_busbra(root, image_size=16, cache_dir=cache, progress=False)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, (phrase, message)
    assert cache_files(cache) == []


# --------------------------------------------------------------------------------------------
# Where a user's copy is


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """A checkout with nothing beside it (no ../shared/data/busbra) and no BUSBRA_DIR."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.delenv(busbra.ENV_VAR, raising=False)
    monkeypatch.setenv("BL_PROJECT_ROOT", str(checkout))
    return checkout


def test_resolve_external_explicit_path_then_environment_then_beside_the_checkout(elsewhere, tmp_path, monkeypatch):
    assert busbra.resolve_external() is None
    given = write_busbra(tmp_path / "given")
    assert busbra.resolve_external(given.parent) == given
    assert busbra.resolve_external(str(given)) == given
    from_env = write_busbra(tmp_path / "env")
    monkeypatch.setenv("BUSBRA_DIR", str(from_env.parent))
    assert busbra.resolve_external() == from_env
    assert busbra.resolve_external(given) == given                     # an explicit path wins
    monkeypatch.delenv("BUSBRA_DIR")
    beside = write_busbra(tmp_path / "shared" / "data" / "busbra")     # <checkout>/../shared/data/busbra
    assert busbra.resolve_external() == beside


@pytest.mark.parametrize("how", ["argument", "environment"])
@pytest.mark.parametrize("kind", ["not a layout", "absent"])
def test_resolve_external_refuses_a_wrong_path(elsewhere, tmp_path, monkeypatch, how, kind):
    wrong = tmp_path / "not-busbra"
    if kind == "not a layout":
        (wrong / "Images").mkdir(parents=True)
    if how == "environment":
        monkeypatch.setenv("BUSBRA_DIR", str(wrong))
    with pytest.raises(DataError) as info:
        busbra.resolve_external(wrong if how == "argument" else None)
    message = str(info.value)
    assert str(wrong) in message and "BUSBRA_DIR" in message
    assert ("Masks, bus_data.csv missing" if kind == "not a layout" else "not found") in message


# --------------------------------------------------------------------------------------------
# The real data


def real_folder(folder: Path) -> Path:
    """``folder``, or a skip (a failure in CI, which has the data) when it is absent."""
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI has the real data, but {folder} is absent", pytrace=False)
        pytest.skip(f"real data not found at {folder}")
    return folder


@pytest.fixture(scope="module")
def real_busbra(tmp_path_factory):
    folder = real_folder(REAL_BUSBRA)
    return folder, busbra.load_busbra(folder, image_size=256, cache_dir=tmp_path_factory.mktemp("cache"),
                                      progress=False)


def test_real_busbra_counts_patients_scanners_and_pathology(real_busbra):
    folder, ds = real_busbra
    assert ds.root == folder / "BUSBRA"
    table = pd.read_csv(folder / "BUSBRA" / "bus_data.csv")
    assert len(ds) == 1875 and ds.stems == table.ID.tolist()
    assert ds.meta.patient.nunique() == 1064
    assert ds.meta.scanner.value_counts().to_dict() == {
        "GE Logiq 7 @10-14MHz": 902, "GE Logiq 5 @10-12MHz": 809, "Toshiba Aplio 300 @12-14 MHz": 139,
        "U-Systems @10-14MHz": 25}
    assert ds.meta.label.value_counts().to_dict() == {"benign": 1268, "malignant": 607}
    assert ds.images.shape == ds.masks.shape == (1875, 256, 256)
    assert (ds.meta.tumour_fraction > 0).all()                # one lesion in every image, none lost at 256²


def test_real_busbra_sizes_are_the_files_where_the_csv_disagrees(real_busbra):
    folder, ds = real_busbra
    root = folder / "BUSBRA"
    table = pd.read_csv(root / "bus_data.csv").set_index("ID")
    sizes = {stem: Image.open(root / "Images" / f"{stem}.png").size for stem in ds.stems}    # (w, h), header only
    meta = ds.meta.set_index("stem")
    assert meta.orig_width.to_dict() == {stem: w for stem, (w, h) in sizes.items()}
    assert meta.orig_height.to_dict() == {stem: h for stem, (w, h) in sizes.items()}
    disagree = sorted(s for s, (w, h) in sizes.items() if (table.Width[s], table.Height[s]) != (w, h))
    assert disagree == ["bus_0856-l", "bus_0857-r", "bus_0912-l", "bus_0990-l"]
    for stem in disagree:
        assert table.Height[stem] != meta.orig_height[stem] == sizes[stem][1]
        assert Image.open(root / "Masks" / f"mask_{stem[4:]}.png").size == sizes[stem]   # the mask agrees with the file


def test_busi256_fingerprint_is_pinned(tmp_path):
    """BUS-BRA and BUSI share the reading rule and the fingerprint: BUSI's is pinned so that a change to
    either shows up (all 780 images at 256², no selection)."""
    folder = real_folder(BUSI256)
    ds = busi.load_busi(folder, image_size=256, max_tumour_fraction=None, distance_maps=False, progress=False,
                        cache_dir=tmp_path)
    assert len(ds) == 780
    assert busi.content_fingerprint(ds).startswith("ff3294f5")
