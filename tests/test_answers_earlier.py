"""Tests of the study's statistics (bl_utils.analysis) on hand-made run folders and matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bl_utils import runs as bl_runs
from bl_utils.answers import earlier, paired, study as study_answer
from bl_utils.runs import RunResult

STEMS = [f"benign ({i})" for i in range(6)] + ["normal (1)", "normal (2)"]


def fake_run(folder, strategy, seed, dice, hd95=None, components=None, pred_empty=None, checkpoint="final",
             settings=None):
    """A run folder holding only ``val_per_image.csv`` (6 tumour images, 2 normal ones)."""
    n = len(STEMS)
    table = pd.DataFrame({"stem": STEMS, "label": [s.split()[0] for s in STEMS], "dice": dice, "iou": dice,
                          "hd95": hd95 if hd95 is not None else np.zeros(n), "assd": np.zeros(n),
                          "components": components if components is not None else np.ones(n, int),
                          "target_empty": [False] * 6 + [True] * 2,
                          "pred_empty": pred_empty if pred_empty is not None else [False] * n})
    path = folder / f"{strategy}-{seed}"
    path.mkdir()
    pd.concat([table.assign(checkpoint="best"), table.assign(checkpoint="final")]).to_csv(
        path / "val_per_image.csv", index=False)
    return RunResult(path, {"strategy": strategy, "seed": seed, **(settings or {})}, pd.DataFrame(),
                     {"val_dice": float(np.mean(dice))}, {})


def test_two_level_bootstrap_of_a_constant_is_that_constant():
    assert paired.two_level_bootstrap(np.full((3, 10), 0.25)) == pytest.approx((0.25, 0.25))


def test_two_level_bootstrap_with_one_seed_is_the_ordinary_bootstrap():
    d = np.random.default_rng(1).normal(0.1, 0.3, size=(1, 60))
    low, high = paired.two_level_bootstrap(d, n_resamples=5000)
    oracle = stats.bootstrap((d[0],), np.mean, n_resamples=5000, method="percentile", random_state=2).confidence_interval
    width = oracle.high - oracle.low
    assert low == pytest.approx(oracle.low, abs=0.1 * width) and high == pytest.approx(oracle.high, abs=0.1 * width)


def test_two_level_bootstrap_carries_the_seed_to_seed_spread():
    # a strong seed effect (rows offset by ±1) and tiny image noise: the mean's uncertainty is that of the
    # 5 seed offsets, population variance 0.8 -> bootstrap sd sqrt(0.8 / 5) = 0.4 -> 95 % width ≈ 1.57
    rng = np.random.default_rng(0)
    d = np.array([-1, 1, -1, 1, 0])[:, None] + rng.normal(0, 0.01, size=(5, 50))
    low, high = paired.two_level_bootstrap(d, n_resamples=4000)
    assert high - low == pytest.approx(2 * 1.96 * 0.4, rel=0.25)
    # resampling the 250 cells as if independent would claim an interval 10x narrower
    naive = stats.bootstrap((d.ravel(),), np.mean, n_resamples=2000, method="percentile", random_state=0).confidence_interval
    assert (naive.high - naive.low) < (high - low) / 5


def test_two_level_bootstrap_ignores_undefined_pairs():
    d = np.array([[0.5, np.nan], [0.5, 0.5]])
    assert paired.two_level_bootstrap(d) == pytest.approx((0.5, 0.5))
    assert np.isnan(paired.two_level_bootstrap(np.full((2, 2), np.nan))[0])


def test_paired_difference_pairs_by_seed_and_image(tmp_path):
    rng = np.random.default_rng(0)
    runs = []
    for seed in (0, 1, 2):
        base = rng.uniform(0.3, 0.9, len(STEMS))
        runs.append(fake_run(tmp_path, "ce", seed, base))
        runs.append(fake_run(tmp_path, "ce+bl", seed, base + 0.05))          # exactly +0.05 everywhere
    long = bl_runs.per_image(runs)
    row = paired.paired_difference(long, "dice", "ce+bl", images="tumour")
    assert row["seeds"] == 3 and row["n_images"] == 6 and row["n_excluded"] == 0
    assert row["mean_difference"] == pytest.approx(0.05)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.05, 0.05))
    assert row["per_seed"] == [0.05] * 3 and "verdict" not in row     # uncorrected: numbers, no verdict
    worse = paired.paired_difference(long, "dice", "ce", baseline="ce+bl")
    assert worse["ci_high"] == pytest.approx(-0.05)


def test_hd95_of_a_missed_tumour_is_excluded_and_counted_and_lower_is_better(tmp_path):
    hd = np.array([4.0] * 6 + [0, 0])
    missed = hd.copy()
    missed[0] = np.nan
    runs = [fake_run(tmp_path, "ce", 0, np.ones(8), hd95=hd),
            fake_run(tmp_path, "rebalance", 0, np.ones(8), hd95=missed - 1)]
    row = paired.paired_difference(bl_runs.per_image(runs), "hd95", "rebalance", images="tumour")
    assert row["n_excluded"] == 1 and row["mean_difference"] == pytest.approx(-1.0)
    assert row["ci_high"] < 0                                   # lower HD95: a negative difference


def test_false_positive_rate_on_normal_images(tmp_path):
    runs = [fake_run(tmp_path, "ce", 0, np.ones(8), pred_empty=[False] * 6 + [False, True]),
            fake_run(tmp_path, "ce+bl", 0, np.ones(8), pred_empty=[False] * 6 + [True, True])]
    summary = earlier.normal_image_summary(bl_runs.per_image(runs)).set_index("strategy")
    assert summary.loc["ce", "false_positive_rate"] == "0.50" and summary.loc["ce+bl", "false_positive_rate"] == "0.00"
    assert summary.loc["ce", "normal_images"] == 2


def test_select_cases_takes_the_largest_gains_then_losses():
    base = pd.DataFrame({"stem": list("abcde"), "label": "benign", "target_empty": [False] * 4 + [True],
                         "dice": [0.5, 0.5, 0.5, 0.5, 1.0]})
    other = base.assign(dice=[0.9, 0.6, 0.1, 0.45, 0.0])
    cases = paired.select_cases(base, other, n_cases=3)
    assert cases.stem.tolist() == ["a", "b", "c"]                    # +0.4, +0.1, then -0.4 (e: normal, left out)
    assert cases.side.tolist() == ["other better", "other better", "baseline better"]


def test_ablation_table_compares_the_same_seeds(tmp_path):
    default = [fake_run(tmp_path, "ce+bl", s, np.full(8, 0.6)) for s in (0, 1, 2, 3, 4)]
    (tmp_path / "v").mkdir()
    variant = [fake_run(tmp_path / "v", "ce+bl", s, np.full(8, 0.4)) for s in (0, 1, 2)]
    table = earlier.ablation_table(default, variant, "pixels")
    row = table.iloc[0]
    assert row.seeds == 3 and row["dice (tumour) default"] == "0.600 ± 0.000"
    assert row["Δ dice [95% CI]"] == "-0.200 [-0.200, -0.200]" and not any("verdict" in c for c in table.columns)


def test_robustness_curves_take_each_seed_and_fold_as_one_run():
    # one seed, two folds with different images: each fold is a run, the curve the mean of the two runs
    rows = [{"strategy": "ce", "seed": 0, "fold": fold, "corruption": "gain", "level": 0.5, "stem": f"{fold}-{i}",
             "label": "benign", "target_empty": False, "pred_empty": i == 0 and fold == 1, "pred_any": 1.0,
             "dice": dice, "hd95": 2.0, "components": 1}
            for fold, dice in ((0, 0.8), (1, 0.4)) for i in range(4)]
    curve = study_answer.robustness_curves(pd.DataFrame(rows)).iloc[0]
    assert curve.dice_mean == pytest.approx(0.6) and (curve.dice_min, curve.dice_max) == (0.4, 0.8)
    assert curve.missed_share_mean == pytest.approx((0 + 0.25) / 2) and curve.missed_max == 1
    assert np.isnan(curve.fp_rate_mean)                                   # no normal image was scored


def _noise_runs(folder, dice_by_strategy, seeds=(0, 1, 2)):
    folder.mkdir()
    return [fake_run(folder, name, s, np.full(8, dice)) for name, dice in dice_by_strategy.items() for s in seeds]


def test_annotation_noise_table_compares_each_strategys_drop_with_ces(tmp_path):
    clean = _noise_runs(tmp_path / "clean", {"ce": 0.6, "ce+bl": 0.6}, seeds=(0, 1, 2, 3, 4))
    noisy = _noise_runs(tmp_path / "noisy", {"ce": 0.4, "ce+bl": 0.5})   # CE drops 0.2, ce+bl 0.1
    row = earlier.annotation_noise_table(clean, noisy).iloc[0]
    assert row.strategy == "ce+bl" and row.seeds == 3 and row.n_images == 6   # tumour images, seeds 0-2 only
    assert row.mean_difference == pytest.approx(0.1) and "verdict" not in row


def test_annotation_noise_vs_ce_needs_no_clean_run(tmp_path):
    noisy = {"4 px": _noise_runs(tmp_path / "n4", {"ce": 0.4, "ce+bl": 0.3}), "8 px": []}
    table = earlier.annotation_noise_vs_ce(noisy)
    assert set(table.jitter) == {"4 px"}
    dice = table[table.comparison == "final Dice, tumour images"].iloc[0]
    assert dice.mean_difference == pytest.approx(-0.1) and "verdict" not in table.columns
    assert "final false positives, normal images" in set(table.comparison)
    assert earlier.annotation_noise_vs_ce({"4 px": []}).empty
