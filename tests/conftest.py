"""Fixtures shared by the trainer's tests (test_train, test_launch)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> str:
    """A 24-image synthetic BUSI folder (about 19 pass the 5 % rule; the runs use 16)."""
    from bl_utils.synthetic import write_synthetic_busi

    root = tmp_path_factory.mktemp("synthetic")
    return str(write_synthetic_busi(root, seed=0, n_benign=12, n_malignant=6, n_normal=6))
