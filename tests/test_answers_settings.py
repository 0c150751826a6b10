"""The settings arms (bl_utils.answers.settings): each arm against its base and CE, paired within (seed, fold)
blocks, the effective boundary weight and the boundary term's share of the loss, by hand on small run folders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from bl_utils.answers import settings
from bl_utils.runs import RunResult
from helpers import write_study_run

HISTORY = pd.DataFrame({"w_regional": [1.0, 0.5], "w_boundary": [0.0, 0.5], "train_regional": [0.6, 0.2],
                        "train_boundary": [0.4, 0.2]})


def test_boundary_share_is_the_weighted_boundary_term_over_the_weighted_loss():
    run = RunResult(None, {"strategy": "rebalance", "seed": 0}, HISTORY)
    assert settings.boundary_share(run, 1) == 0.0
    assert settings.boundary_share(run, -1) == pytest.approx(0.5 * 0.2 / (0.5 * 0.2 + 0.5 * 0.2))


def test_arm_table_pairs_each_arm_with_its_base_and_with_ce_inside_blocks(tmp_path):
    study, arm = [], []
    gains = {(2, 0): 0.02, (2, 1): -0.01, (3, 0): 0.03, (3, 1): 0.0}       # the arm − ce+bl, per block
    for (seed, fold), gain in gains.items():
        base = np.array([0.5, 0.6, 0.7])
        study.append(write_study_run(tmp_path / "study", "ce", seed, fold, base))
        study.append(write_study_run(tmp_path / "study", "ce+bl", seed, fold, base + 0.05))
        run = write_study_run(tmp_path / "arm", "ce+bl", seed, fold, base + 0.05 + gain, weight=0.8)
        run.history = HISTORY
        arm.append(run)
    label = "α_px = 1 (the papers')"
    row = settings.arm_table(study, {label: arm, "α_px = 0.1": []}).set_index("arm").loc[label]
    d = np.array(list(gains.values()))
    assert row["runs"] == 4 and row["paired with base"] == 4 and row["base"] == "ce+bl"
    assert row["− base"] == pytest.approx(d.mean()) and row["− CE"] == pytest.approx(d.mean() + 0.05)
    se = d.std(ddof=1) * np.sqrt(1 / 4 + 4 / 12)                     # corrected: 4 validation and 12 training images
    half = scipy_stats.t.ppf(0.975, 3) * se
    assert row["− base, 95 % CI"] == pytest.approx((d.mean() - half, d.mean() + half))
    assert row["effective w_B"] == pytest.approx(0.8) and row["L_B share, first epoch"] == 0.0
    assert settings.arm_table(study, {label: []}).empty
