"""Tests of the original sizes (bl_utils.data.manifest), through the loader: from the folder's manifest.csv
when it has one, else the image files'; a bad manifest raises DataError naming the fix. The hand-made
folder ``tiny``: conftest.py; the real-data check (busi256's manifest against the Kaggle files' sizes):
test_data_busi.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bl_utils.data import busi as data
from bl_utils.data.dataset import META_COLUMNS, DataError


def _write_manifest(folder: Path, rows, columns=("class", "stem", "orig_h", "orig_w")) -> None:
    pd.DataFrame(rows, columns=list(columns)).to_csv(folder / "manifest.csv", index=False)


TINY_SIZES = {"benign (1)": (471, 562), "benign (2)": (310, 190), "benign (10)": (719, 1048),
              "malignant (1)": (500, 600), "malignant (2)": (333, 444), "normal (1)": (600, 800)}


def test_manifest_gives_the_original_sizes_and_changes_nothing_else(tiny):
    kw = dict(image_size=(30, 40), max_tumour_fraction=None, cache_dir=False, distance_maps=False, progress=False)
    files = data.load_busi(tiny, **kw)
    assert (files.meta.size_source == "image files").all()
    assert (files.meta.orig_height == 30).all() and (files.meta.orig_width == 40).all()
    rows = [(stem.split()[0], stem, h, w) for stem, (h, w) in TINY_SIZES.items()]
    _write_manifest(tiny, rows + [("benign", "benign (99)", 1, 1)])      # a row of no loaded image: ignored
    listed = data.load_busi(tiny, **kw)
    assert list(listed.meta.columns) == list(META_COLUMNS)
    assert (listed.meta.size_source == "manifest.csv").all()
    assert [(r.orig_height, r.orig_width) for r in listed.meta.itertuples()] == [TINY_SIZES[s] for s in listed.stems]
    for name in ("images", "masks"):
        np.testing.assert_array_equal(getattr(listed, name), getattr(files, name))
    pd.testing.assert_frame_equal(listed.meta.drop(columns=["orig_height", "orig_width", "size_source"]),
                                  files.meta.drop(columns=["orig_height", "orig_width", "size_source"]))
    assert data.content_fingerprint(listed) == data.content_fingerprint(files)
    # the other spelling of the columns, without a class column; and the < 5 % rule keeps the sizes
    _write_manifest(tiny, [(s, h, w) for s, (h, w) in TINY_SIZES.items()], ("stem", "orig_height", "orig_width"))
    kept = data.load_busi(tiny, **{**kw, "max_tumour_fraction": 0.05})
    assert [(r.orig_height, r.orig_width) for r in kept.meta.itertuples()] == [TINY_SIZES[s] for s in kept.stems]


def test_manifest_is_read_from_the_layout_folder_with_a_cache(tiny, tmp_path):
    """The sizes are applied after the cache: a manifest written later is used by the cached load."""
    kw = dict(image_size=16, max_tumour_fraction=None, cache_dir=tmp_path / "cache", distance_maps=False,
              progress=False)
    assert (data.load_busi(tiny.parent, **kw).meta.size_source == "image files").all()
    _write_manifest(tiny, [(s.split()[0], s, h, w) for s, (h, w) in TINY_SIZES.items()])
    cached = data.load_busi(tiny.parent, **kw)
    assert cached.from_cache and cached.meta.set_index("stem").loc["benign (10)", "orig_width"] == 1048


@pytest.mark.parametrize("rows, columns, phrases", [
    ([("benign", "benign (1)", 10, 10)], None, ("no row for 5 of the 6 images", "benign/benign (2)", "delete")),
    ([("benign (1)", 10)], ("stem", "orig_h"), ("no column orig_w or orig_width",)),
    ([("benign", "benign (1)", 0, 10)], None, ("orig_h of 'benign (1)' is 0", "positive whole number")),
    ([("benign", "benign (1)", 10.5, 10)], None, ("positive whole number",)),
    ([("benign", "benign (1)", "", 10)], None, ("positive whole number",)),
    ([("benign", "benign (1)", 10, 10)] * 2, None, ("more than once",)),
], ids=["missing-row", "missing-column", "zero", "fraction", "empty", "twice"])
def test_bad_manifest_raises_busidataerror_naming_the_fix(tiny, rows, columns, phrases):
    _write_manifest(tiny, rows, columns or ("class", "stem", "orig_h", "orig_w"))
    with pytest.raises(DataError) as info:
        data.load_busi(tiny, image_size=16, cache_dir=False, distance_maps=False, progress=False)
    message = str(info.value)
    assert "manifest.csv" in message
    for phrase in phrases:
        assert phrase in message


def test_unreadable_manifest(tiny):
    (tiny / "manifest.csv").write_bytes(b"")
    with pytest.raises(DataError, match="Unreadable .*manifest.csv"):
        data.load_busi(tiny, image_size=16, cache_dir=False, distance_maps=False, progress=False)
