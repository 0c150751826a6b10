"""The study's primary endpoint from run folders: paired differences per (seed, fold), the corrected
interval and the verdicts, the sizing and the secondary table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from bl_utils import crossval, runs


def _run(root, strategy, seed, fold, dice, normal_fp=None, weight=0.0):
    """A run folder with ``val_per_image.csv`` (tumour images t0…, one normal image) and ``run.json``."""
    folder = root / strategy / f"seed{seed}" / f"fold{fold}"
    folder.mkdir(parents=True)
    stems = [f"t{k}" for k in range(len(dice))] + ["n0"]
    rows = [{"stem": s, "label": "benign", "dice": d, "target_empty": False, "pred_empty": d == 0, "checkpoint": c}
            for c in ("best", "final") for s, d in zip(stems, dice)]
    rows += [{"stem": "n0", "label": "normal", "dice": 1.0, "target_empty": True, "pred_empty": True, "checkpoint": c}
             for c in ("best", "final")]
    pd.DataFrame(rows).to_csv(folder / "val_per_image.csv", index=False)
    pd.DataFrame({"epoch": [1]}).to_csv(folder / "metrics.csv", index=False)
    if normal_fp is not None:
        pd.DataFrame({"stem": ["a", "b", "c", "d"] * 2, "false_positive": normal_fp * 2,
                      "checkpoint": ["best"] * 4 + ["final"] * 4}).to_csv(folder / "normal_images.csv", index=False)
    meta = {"settings": {"strategy": strategy, "seed": seed, "fold": fold}, "best": {}, "final":
            {"effective_w_boundary": weight}, "train_stems": ["x"] * 12, "val_stems": stems}
    (folder / "run.json").write_text(json.dumps(meta))
    return runs.load_run(folder)


@pytest.fixture
def study(tmp_path):
    """2 seeds × 2 folds: ce+bl beats CE by a known amount per run; rebalance equals CE."""
    gains = {(0, 0): 0.10, (0, 1): 0.06, (1, 0): 0.08, (1, 1): 0.12}
    results = []
    for (seed, fold), gain in gains.items():
        base = np.array([0.5, 0.6, 0.0])
        results.append(_run(tmp_path, "ce", seed, fold, base, normal_fp=[True, False, False, False]))
        results.append(_run(tmp_path, "ce+bl", seed, fold, base + gain, weight=1.0))
        results.append(_run(tmp_path, "rebalance", seed, fold, base, normal_fp=[False] * 4, weight=0.4))
    return results, gains


def test_run_differences_are_the_mean_paired_difference_on_tumour_images(study):
    results, gains = study
    long = crossval.per_image_folds(results)
    assert set(long.fold) == {0, 1} and len(long) == 12 * 4
    d = crossval.run_differences(long).set_index(["strategy", "seed", "fold"])
    for (seed, fold), gain in gains.items():
        assert d.loc[("ce+bl", seed, fold), "difference"] == pytest.approx(gain)   # the normal image is left out
        assert d.loc[("ce+bl", seed, fold), "n_images"] == 3
        assert d.loc[("rebalance", seed, fold), "difference"] == 0


def test_primary_answer_uses_the_nadeau_bengio_interval(study):
    results, gains = study
    answer = crossval.primary_answer(results).set_index("name")
    d = np.array(list(gains.values()))
    # by hand: se = sd · sqrt(1/J + n_test/n_train), n_test = 4 validation images, n_train = 12
    se = d.std(ddof=1) * np.sqrt(1 / 4 + 4 / 12)
    t = scipy_stats.t.ppf(0.975, 3)
    row = answer.loc["ce+bl"]
    assert row["corrected_low"] == pytest.approx(d.mean() - t * se) and row["corrected_high"] == pytest.approx(d.mean() + t * se)
    assert row["plain_high"] - row["plain_low"] < row["corrected_high"] - row["corrected_low"]
    assert row["sd"] == pytest.approx(d.std(ddof=1)) and row["n_runs"] == 4
    assert answer.loc["rebalance", "verdict"] == "equivalent"      # identical to CE in every run: sd 0
    sizing = crossval.sizing(answer.reset_index(), results)
    assert set(sizing.strategy) == {"ce+bl", "rebalance"}


def test_too_few_runs_give_no_answer(study):
    results, _ = study
    assert crossval.primary_answer([r for r in results if r.seed == 0 and r.settings["fold"] == 0]).empty


def test_secondary_table_counts_missed_tumours_and_normal_false_positives(study):
    results, _ = study
    table = crossval.secondary_table(results)
    assert list(table.index) == ["ce", "ce+bl", "rebalance"]
    assert table.loc["ce", "missed mean"] == 1 and table.loc["ce+bl", "missed mean"] == 0
    assert table.loc["ce", "normal_fp_rate mean"] == 0.25 and table.loc["rebalance", "normal_fp_rate mean"] == 0
    assert np.isnan(table.loc["ce+bl", "normal_fp_rate mean"])          # no normal_images.csv
    assert table.loc["rebalance", "effective_w_boundary mean"] == 0.4 and (table.runs == 4).all()


def test_table_as_they_ran_it_reports_their_metric_and_per_image_dice_with_intervals(tmp_path):
    from bl_utils import reproduction

    results = []
    for seed, f1 in enumerate((0.70, 0.74, 0.78)):
        run = _run(tmp_path, "rebalance", seed, 0, np.array([0.4, 0.6]) + 0.1 * seed, normal_fp=[True, True, False, False])
        run.best["val_f1_pooled"] = f1
        results.append(run)
    row = reproduction.table_as_they_ran_it(results).iloc[0]
    assert row["Odonnat & Pham"] == 0.801 and row["runs"] == 3
    assert row["their metric, best epoch (optimistic)"] == pytest.approx(0.74)
    low, high = row["their metric, best epoch (optimistic) 95% CI"]
    assert (low, high) == pytest.approx(scipy_stats.t.interval(0.95, 2, loc=0.74, scale=scipy_stats.sem([0.70, 0.74, 0.78])))
    assert row["Dice on tumours, final epoch"] == pytest.approx(0.6)              # means 0.5, 0.6, 0.7
    assert row["FP rate, normal images (final)"] == 0.5
