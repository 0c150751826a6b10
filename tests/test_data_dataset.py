"""Tests of the dataset (bl_utils.data.dataset) the loader returns: without the normal images, a subset
keeps its images in the order asked, by index or by mask, and its items have no Φ_G when none was computed.
The hand-made folder ``tiny``: conftest.py; the items of a whole folder: test_data_busi.py.
"""

from __future__ import annotations

import numpy as np

from bl_utils.data import busi as data


def test_include_normal_false_and_subset(tiny):
    ds = data.load_busi(tiny, image_size=(30, 40), max_tumour_fraction=None, include_normal=False,
                        cache_dir=False, distance_maps=False, progress=False)
    assert "normal" not in set(ds.labels) and len(ds) == 5
    sub = ds.subset([3, 0])
    assert sub.stems == ["malignant (1)", "benign (1)"] and list(sub.meta.index) == [0, 1]
    np.testing.assert_array_equal(sub.images[0], ds.images[3])
    assert ds.subset(np.array([True, False, False, False, True])).stems == ["benign (1)", "malignant (2)"]
    assert sub.phis is None and "phi" not in sub[0]
