"""Fixtures shared by several test files (the plain helpers they use: helpers.py):

* ``tiny_data``, the trainer's synthetic folder: test_train, test_cli, test_config, test_launch; its
  ``cache_dir`` and ``reference``, a 2-epoch run: test_train, test_cli (test_launch trains its own);
  ``one_thread``: test_train, test_cli, test_model;
* ``offline_hub``, ImageNet weights without network: test_model, test_config;
* ``tiny``, a BUSI-like folder made by hand: test_data_busi, test_data_cache, test_data_manifest,
  test_data_dataset, test_plots_data;
* ``fake_dataset``, a stand-in for UltrasoundDataset: test_widgets, test_explorer, test_plots_maths;
* ``checkout``, an empty checkout without BUSI_DIR or publication: test_notebook, test_study;
* closing the figures a test drew (every test).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bl_utils.runs import RunResult


# --------------------------------------------------------------------------------------------
# The trainer's tiny runs (test_train, test_cli, test_config, test_model, test_launch)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> str:
    """A 24-image synthetic BUSI folder (about 19 pass the 5 % rule; the runs use 16)."""
    from bl_utils.data.synthetic import write_synthetic_busi

    root = tmp_path_factory.mktemp("synthetic")
    return str(write_synthetic_busi(root, seed=0, n_benign=12, n_malignant=6, n_normal=6))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_data, cache_dir) -> RunResult:
    """An uninterrupted 2-epoch rebalance run, made through the API."""
    from bl_utils import train as bl_train
    from helpers import tiny_config

    out = tmp_path_factory.mktemp("reference")
    return bl_train.train(tiny_config(tiny_data, cache_dir), out=out, verbose=False)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and threads that spin on a shared machine cost a lot.

    Every run of the files that ask for it (``pytestmark``; and the command-line runs, through
    OMP_NUM_THREADS) uses this one thread: on the CPU, results are identical for the same seed *and the same number of threads*.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """No network and an empty hub cache (so that a user's cached weights don't change the test)."""
    import huggingface_hub.constants

    from bl_utils import model as bl_model

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(bl_model, "_hub_reachable", lambda *a, **k: False)
    monkeypatch.setattr(bl_model, "_IMAGENET_UNAVAILABLE", None)
    monkeypatch.setattr(bl_model, "_WEIGHTS_AVAILABLE", {})


# --------------------------------------------------------------------------------------------
# Hand-made data (test_data_*, test_plots_data; test_widgets, test_explorer, test_plots_maths)


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A hand-made BUSI-like folder: 3 benign, 2 malignant, 1 normal, known masks."""
    from bl_utils.data import busi as data
    from helpers import write_case

    root = tmp_path / "tiny" / data.LAYOUT_FOLDER
    write_case(root / "benign", "benign (1)", masks=[(0, 2, 0, 3)])                       # 6 px
    write_case(root / "benign", "benign (2)", masks=[(0, 10, 0, 10), (20, 30, 20, 30)])  # 200 px, 2 masks
    write_case(root / "benign", "benign (10)", masks=[(0, 4, 0, 5)])                      # 20 px
    write_case(root / "malignant", "malignant (1)", masks=[(0, 20, 0, 30)])               # 600 px
    write_case(root / "malignant", "malignant (2)", masks=[(0, 1, 0, 1)])                 # 1 px
    write_case(root / "normal", "normal (1)", masks=[(0, 0, 0, 0)])                       # empty
    return root


@pytest.fixture
def fake_dataset():
    """:func:`helpers.fake_dataset`, a tiny stand-in for UltrasoundDataset: call it (``fake_dataset(size=64)``)."""
    import helpers

    return helpers.fake_dataset


# --------------------------------------------------------------------------------------------
# An empty checkout (test_notebook, test_study)


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """An empty checkout (pyproject.toml, bl_utils/, results/) with no BUSI_DIR and no publication."""
    (tmp_path / "bl_utils").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "results").mkdir()
    for name in ("BUSI_DIR", "BL_PUBLISH", "BL_PROJECT_ROOT", "BL_RESULTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BL_PROJECT_ROOT", str(tmp_path))
    return tmp_path


# --------------------------------------------------------------------------------------------
# Every test


@pytest.fixture(autouse=True)
def close_figures():
    """Close every matplotlib figure after each test that loaded pyplot (the plotting tests draw many)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
