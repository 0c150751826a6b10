"""Tests of bl_utils.data.source: where the data comes from (a folder, $BUSI_DIR, Kaggle through
kagglehub, the synthetic stand-in) and the errors that name the fix. The hand-made folder ``tiny``:
conftest.py; the loader itself: test_data_busi.py."""

from __future__ import annotations

import os
import sys
import types

import pytest

from bl_utils.data import busi as data
from bl_utils.data import synthetic
from bl_utils.data.dataset import DataError
from bl_utils.data.source import KAGGLE_DATASET, resolve_data


def test_resolve_data_path_errors_and_success(tmp_path, tiny):
    with pytest.raises(DataError, match="BUSI_DIR"):
        resolve_data(tmp_path / "missing")
    source = resolve_data(tiny.parent)
    assert source.kind == "busi" and source.root == tiny
    assert "6 images" in source.description and "benign 3" in source.description
    assert resolve_data(source) is source
    assert os.fspath(source) == str(tiny) and str(source) == source.description    # path-like: its root
    read = data.load_busi(source, image_size=16, max_tumour_fraction=None, cache_dir=False, distance_maps=False,
                          progress=False)
    assert len(read) == 6 and read.root == tiny


def test_resolve_data_none_uses_busi_dir(monkeypatch, tiny):
    monkeypatch.setenv("BUSI_DIR", str(tiny))
    assert resolve_data(None).kind == "busi"
    assert resolve_data("").root == tiny


def test_resolve_data_relative_path_from_cwd_then_project_root(monkeypatch, tmp_path, tiny):
    """A notebook's working directory is notebooks/: a path relative to the repository root works there."""
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "data").mkdir()
    tiny.parent.rename(project / "data" / "busi")
    monkeypatch.setenv("BL_PROJECT_ROOT", str(project))
    monkeypatch.chdir(project / "notebooks")
    source = resolve_data("data/busi")                     # not in notebooks/: from the root
    assert source.kind == "busi" and source.root.resolve() == project / "data" / "busi" / data.LAYOUT_FOLDER
    assert resolve_data("../data/busi").root.resolve() == source.root.resolve()   # from the cwd
    (project / "notebooks" / "data" / "busi").mkdir(parents=True)     # the cwd wins when it exists...
    with pytest.raises(DataError, match="No BUSI layout"):   # ...even when it is not BUSI
        resolve_data("data/busi")
    monkeypatch.setenv("BUSI_DIR", "../data/busi")               # BUSI_DIR is resolved the same way
    assert resolve_data(None).root.resolve() == source.root.resolve()
    with pytest.raises(DataError) as info:
        resolve_data("nowhere/busi")
    message = str(info.value)
    assert "nowhere" in message and str(project) in message and "BUSI_DIR" in message


def _fake_kagglehub(monkeypatch, download):
    module = types.ModuleType("kagglehub")
    module.dataset_download = download
    monkeypatch.setitem(sys.modules, "kagglehub", module)


def test_resolve_data_kaggle_downloads_with_kagglehub(monkeypatch, tiny):
    asked = []

    def download(handle):
        asked.append(handle)
        return str(tiny.parent)          # kagglehub returns the folder holding Dataset_BUSI_with_GT

    _fake_kagglehub(monkeypatch, download)
    source = resolve_data("kaggle")
    assert asked == ["aryashah2k/breast-ultrasound-images-dataset"] == [KAGGLE_DATASET]
    assert source.kind == "busi" and source.root == tiny and "6 images" in source.description


def test_resolve_data_kaggle_offline_names_the_fixes(monkeypatch):
    def offline(handle):
        raise ConnectionError("Failed to resolve 'www.kaggle.com'")

    _fake_kagglehub(monkeypatch, offline)
    with pytest.raises(DataError) as info:
        resolve_data("kaggle")
    message = str(info.value)
    for phrase in ("ConnectionError", "www.kaggle.com", "credentials", "KAGGLE_KEY", "BUSI_DIR"):
        assert phrase in message
    assert isinstance(info.value.__cause__, ConnectionError)


def test_resolve_data_kaggle_without_kagglehub(monkeypatch):
    monkeypatch.setitem(sys.modules, "kagglehub", None)          # `import kagglehub` fails
    with pytest.raises(DataError, match="pip install kagglehub") as info:
        resolve_data("Kaggle")
    assert "BUSI_DIR" in str(info.value)


def test_resolve_data_synthetic_written_once(monkeypatch, tmp_path):
    monkeypatch.setenv("BL_PROJECT_ROOT", str(tmp_path))
    monkeypatch.delenv("BUSI_DIR", raising=False)
    monkeypatch.setattr(synthetic, "DEFAULT_COUNTS", {"benign": 2, "malignant": 1, "normal": 1})
    source = resolve_data(None)
    assert source.kind == "synthetic" and source.root == tmp_path / "data" / "synthetic_busi"
    assert source.description.startswith("SYNTHETIC") and "not BUSI" in source.description
    marker = source.root / "synthetic_busi.json"
    stamp = marker.stat().st_mtime_ns
    again = resolve_data("synthetic")
    assert again == source and marker.stat().st_mtime_ns == stamp          # reused, not rewritten
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["synthetic_busi"]   # no temp left
    ds = data.load_busi(source.root, max_tumour_fraction=None, cache_dir=False, distance_maps=False,
                        progress=False)
    assert ds.class_counts().to_dict() == {"benign": 2, "malignant": 1, "normal": 1}
