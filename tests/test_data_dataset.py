"""Tests of the dataset (bl_utils.data.dataset) the loader returns: without the normal images, a subset
keeps its images in the order asked, by index or by mask, and its items have no Φ_G when none was computed;
the selection rule (keeps) and the counts of its readings, on a table worked out by hand.
The hand-made folder ``tiny``: conftest.py; the items of a whole folder: test_data_busi.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bl_utils.data import busi as data
from bl_utils.data.dataset import keeps, selection_counts


def test_include_normal_false_and_subset(tiny):
    ds = data.load_busi(tiny, image_size=(30, 40), max_tumour_fraction=None, include_normal=False,
                        cache_dir=False, distance_maps=False, progress=False)
    assert "normal" not in set(ds.labels) and len(ds) == 5
    sub = ds.subset([3, 0])
    assert sub.stems == ["malignant (1)", "benign (1)"] and list(sub.meta.index) == [0, 1]
    np.testing.assert_array_equal(sub.images[0], ds.images[3])
    assert ds.subset(np.array([True, False, False, False, True])).stems == ["benign (1)", "malignant (2)"]
    assert sub.phis is None and "phi" not in sub[0]


META = pd.DataFrame({"label": ["benign", "benign", "malignant", "malignant", "normal"],
                     "tumour_fraction": [0.01, 0.07, 0.05, 0.12, 0.0]})


@pytest.mark.parametrize("cut, include_normal, kept", [
    (None, True, [1, 1, 1, 1, 1]), (None, False, [1, 1, 1, 1, 0]),
    (0.05, True, [1, 0, 0, 0, 1]),            # strict: 0.05 is not < 0.05; normal (fraction 0) kept
    (0.05, False, [1, 0, 0, 0, 0]), (0.10, False, [1, 1, 1, 0, 0]), (1.0, True, [1, 1, 1, 1, 1])])
def test_keeps_is_the_rule_worked_out_by_hand(cut, include_normal, kept):
    mask = keeps(META, cut, include_normal)
    assert mask.dtype == bool and mask.tolist() == [bool(k) for k in kept]
    assert keeps(META.iloc[:0], cut, include_normal).shape == (0,)


def test_selection_counts_are_the_three_readings_of_keeps():
    table = selection_counts(META, 0.05, 0.10)
    assert table["images"].tolist() == [2, 1, 3]
    assert table.iloc[0].tolist() == [1, 0, 1, 2] and table.iloc[2].tolist() == [2, 1, 0, 3]


def test_the_loader_keeps_what_keeps_keeps(tiny):
    everything = data.load_busi(tiny, image_size=(30, 40), max_tumour_fraction=None, cache_dir=False,
                                distance_maps=False, progress=False)
    for cut, include_normal in [(0.05, True), (0.2, False), (None, False)]:
        kept = data.load_busi(tiny, image_size=(30, 40), max_tumour_fraction=cut, include_normal=include_normal,
                              cache_dir=False, distance_maps=False, progress=False)
        assert kept.stems == list(everything.meta.stem[keeps(everything.meta, cut, include_normal)])
