"""Fixtures shared by the tests: the trainer's synthetic folder (test_train, test_launch) and closing the
figures a test drew."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> str:
    """A 24-image synthetic BUSI folder (about 19 pass the 5 % rule; the runs use 16)."""
    from bl_utils.data.synthetic import write_synthetic_busi

    root = tmp_path_factory.mktemp("synthetic")
    return str(write_synthetic_busi(root, seed=0, n_benign=12, n_malignant=6, n_normal=6))


@pytest.fixture(autouse=True)
def close_figures():
    """Close every matplotlib figure after each test that loaded pyplot (the plotting tests draw many)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
