"""Tests of the trainer's data (bl_utils.training_data): the Φ_G scale table, worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bl_utils import training_data


def test_phi_scale_table_by_hand():
    phis = np.array([[[-2.0, 6.0], [10.0, 2.0]]])          # mean 4, max |Φ| 10
    table = training_data.phi_scale_table(phis, image_size=4).set_index("phi_scale")
    assert table.loc["pixel", "L_B_at_s_half"] == pytest.approx(2.0)
    assert table.loc["image", "max_abs_phi"] == pytest.approx(2.5)
    assert table.loc["image", "ratio_to_bce"] == pytest.approx(0.5 / np.log(2))
