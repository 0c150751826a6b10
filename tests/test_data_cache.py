"""Tests of the BUSI cache (bl_utils.data.cache), through the loader: hits, invalidation by a touched or
added file, Φ_G added later, a failure or a damaged file leaving nothing stale, the default folder, and an
unwritable cache that only warns. The hand-made folder ``tiny``: conftest.py.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from bl_utils.data import busi as data
from bl_utils.data import cache as bl_cache
from helpers import npz_files, write_case


def test_cache_hit_invalidation_and_settings(tiny, tmp_path):
    cache = tmp_path / "cache"
    kw = dict(image_size=(30, 40), max_tumour_fraction=None, cache_dir=cache, progress=False)
    first = data.load_busi(tiny, **kw)
    assert not first.from_cache and len(npz_files(cache)) == 2           # arrays + Φ_G
    second = data.load_busi(tiny, **kw)
    assert second.from_cache
    for name in ("images", "masks", "phis"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    pd.testing.assert_frame_equal(first.meta, second.meta)
    # filtering is applied after the cache: a new threshold reuses it
    assert data.load_busi(tiny, **{**kw, "max_tumour_fraction": 0.05}).from_cache
    # a setting that changes the arrays does not
    assert not data.load_busi(tiny, **{**kw, "image_size": 16}).from_cache
    # touching a file (new mtime) invalidates, and the stale entry of that size is replaced
    path = tiny / "benign" / "benign (1).png"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    third = data.load_busi(tiny, **kw)
    assert not third.from_cache
    assert len([p for p in npz_files(cache) if "30x40" in p.name]) == 2
    # a new file invalidates too
    write_case(tiny / "benign", "benign (3)")
    fourth = data.load_busi(tiny, **kw)
    assert not fourth.from_cache and len(fourth) == 7


def test_cache_without_distance_maps_then_with(tiny, tmp_path):
    cache = tmp_path / "cache"
    kw = dict(image_size=(30, 40), cache_dir=cache, progress=False)
    assert data.load_busi(tiny, distance_maps=False, **kw).phis is None
    assert len(npz_files(cache)) == 1
    with_phi = data.load_busi(tiny, distance_maps=True, **kw)
    assert not with_phi.from_cache and with_phi.phis is not None and len(npz_files(cache)) == 2
    assert data.load_busi(tiny, distance_maps=True, **kw).from_cache


def test_failure_while_building_leaves_no_cache(tiny, tmp_path, monkeypatch):
    cache = tmp_path / "cache"

    def broken(masks):
        raise RuntimeError("disk full while computing Φ_G")

    monkeypatch.setattr(bl_cache, "_compute_phis", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        data.load_busi(tiny, image_size=16, cache_dir=cache, progress=False)
    assert npz_files(cache) == []
    assert not cache.exists() or list(cache.iterdir()) == []


def test_damaged_cache_file_is_rebuilt(tiny, tmp_path):
    cache = tmp_path / "cache"
    data.load_busi(tiny, image_size=16, cache_dir=cache, distance_maps=False, progress=False)
    (entry,) = npz_files(cache)
    entry.write_bytes(b"garbage")
    again = data.load_busi(tiny, image_size=16, cache_dir=cache, distance_maps=False, progress=False)
    assert not again.from_cache and len(again) == 4      # the default 5 % rule
    assert data.load_busi(tiny, image_size=16, cache_dir=cache, distance_maps=False, progress=False).from_cache


def test_default_cache_dir_under_project_root(monkeypatch, tmp_path):
    monkeypatch.delenv("BL_CACHE_DIR", raising=False)
    monkeypatch.setenv("BL_PROJECT_ROOT", str(tmp_path))
    assert bl_cache.default_cache_dir() == tmp_path / ".cache" / "busi"


def test_unwritable_cache_warns_and_still_loads(tiny, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="could not write the BUSI cache"):
        ds = data.load_busi(tiny, image_size=16, cache_dir=blocker / "cache", progress=False)
    assert len(ds) == 4 and ds.phis is not None
