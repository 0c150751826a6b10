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


def test_boundary_share_stays_a_share_when_the_boundary_loss_turns_negative():
    # L_B = mean(Φ_G·s) < 0 once the prediction lies inside the tumour: as at the end of an α_px = 1 run
    # (w_B = 128, L_B = -0.00042, L_R = 0.0312), where the signed ratio reads 2.4
    late = pd.DataFrame({"w_regional": [1.0], "w_boundary": [128.0], "train_regional": [0.0312],
                         "train_boundary": [-0.00042]})
    share = settings.boundary_share(RunResult(None, {"strategy": "ce+bl", "seed": 0}, late), -1)
    assert share == pytest.approx(0.05376 / (0.0312 + 0.05376))
    assert 0 <= share <= 1


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



def _two_arms(tmp_path):
    study, arms = [], {"α_px = 1 (the papers')": [], "Kervadec et al.'s schedule": []}
    for seed, fold in ((2, 0), (2, 1), (3, 0)):
        base = np.array([0.5, 0.6, 0.7]) + 0.01 * seed
        study.append(write_study_run(tmp_path / "study", "ce", seed, fold, base))
        study.append(write_study_run(tmp_path / "study", "ce+bl", seed, fold, base + 0.02))
        study.append(write_study_run(tmp_path / "study", "rebalance", seed, fold, base - 0.01))
        for label, (strategy, gain) in zip(arms, (("ce+bl", -0.03 * (fold + 1)), ("rebalance", 0.01 * fold))):
            run = write_study_run(tmp_path / label, strategy, seed, fold, base + gain, weight=0.5)
            run.history = HISTORY
            arms[label].append(run)
    return study, arms


def test_arm_differences_are_the_runs_behind_the_table(tmp_path):
    study, arms = _two_arms(tmp_path)
    long = settings.arm_differences(study, arms)
    assert len(long) == 2 * 2 * 3 and set(long.against) == {"base", "CE"}
    papers = long[(long.arm == "α_px = 1 (the papers')") & (long.against == "base")].sort_values(["seed", "fold"])
    np.testing.assert_allclose(papers.difference, [-0.05, -0.08, -0.05])      # gain − ce+bl's +0.02, by hand
    kervadec = long[(long.arm == "Kervadec et al.'s schedule") & (long.against == "CE")].sort_values(["seed", "fold"])
    np.testing.assert_allclose(kervadec.difference, [0.0, 0.01, 0.0])
    table = settings.arm_table(study, arms).set_index("arm")
    for arm, group in long.groupby(["arm", "against"]):
        column = "− base" if arm[1] == "base" else "− CE"
        assert table.loc[arm[0], column] == pytest.approx(group.difference.mean())
    assert settings.arm_differences(study, {"α_px = 0.1": []}).empty


def test_answer_table_writes_each_difference_with_its_interval(tmp_path):
    study, arms = _two_arms(tmp_path)
    table = settings.arm_table(study, arms)
    shown = settings.answer_table(table).set_index("setting")
    row = table.set_index("arm").loc["α_px = 1 (the papers')"]
    low, high = row["− base, 95 % CI"]
    assert shown.loc["α_px = 1 (the papers')", "Dice − its base [95 % CI]"] == \
        f"{row['− base']:+.3f} [{low:+.3f}, {high:+.3f}]"
    assert shown.loc["Kervadec et al.'s schedule", "against"] == "rebalance"
    assert shown.loc["Kervadec et al.'s schedule", "L_B share of the loss, first → last epoch"] == "0% → 50%"
