"""The study's primary endpoint from run folders: paired differences per (seed, fold), the corrected
interval and the verdicts, the sizing and the secondary table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from bl_utils import runs, stats
from bl_utils.answers import paired, study as study_answer
from helpers import write_study_run


@pytest.fixture
def study(tmp_path):
    """2 seeds × 2 folds: ce+bl beats CE by a known amount per run; rebalance equals CE."""
    gains = {(0, 0): 0.10, (0, 1): 0.06, (1, 0): 0.08, (1, 1): 0.12}
    results = []
    for (seed, fold), gain in gains.items():
        base = np.array([0.5, 0.6, 0.0])
        results.append(write_study_run(tmp_path, "ce", seed, fold, base, normal_fp=[True, False, False, False]))
        results.append(write_study_run(tmp_path, "ce+bl", seed, fold, base + gain, weight=1.0))
        results.append(write_study_run(tmp_path, "rebalance", seed, fold, base, normal_fp=[False] * 4, weight=0.4))
    return results, gains


def test_run_differences_are_the_mean_paired_difference_on_tumour_images(study):
    results, gains = study
    long = runs.per_image(results)
    assert set(long.fold) == {0, 1} and len(long) == 12 * 4
    d = paired.run_differences(long).set_index(["strategy", "seed", "fold"])
    for (seed, fold), gain in gains.items():
        assert d.loc[("ce+bl", seed, fold), "difference"] == pytest.approx(gain)   # the normal image is left out
        assert d.loc[("ce+bl", seed, fold), "n_images"] == 3
        assert d.loc[("rebalance", seed, fold), "difference"] == 0


def test_primary_answer_uses_the_nadeau_bengio_interval(study):
    results, gains = study
    answer = study_answer.primary_answer(results).set_index("name")
    d = np.array(list(gains.values()))
    # by hand: se = sd · sqrt(1/J + n_test/n_train), n_test = 4 validation images, n_train = 12
    se = d.std(ddof=1) * np.sqrt(1 / 4 + 4 / 12)
    t = scipy_stats.t.ppf(0.975, 3)
    row = answer.loc["ce+bl"]
    assert row["corrected_low"] == pytest.approx(d.mean() - t * se) and row["corrected_high"] == pytest.approx(d.mean() + t * se)
    assert row["plain_high"] - row["plain_low"] < row["corrected_high"] - row["corrected_low"]
    assert row["sd"] == pytest.approx(d.std(ddof=1)) and row["n_runs"] == 4
    assert answer.loc["rebalance", "verdict"] == "equivalent"      # identical to CE in every run: sd 0
    sizing = study_answer.sizing(answer.reset_index(), results).set_index("strategy")
    assert set(sizing.index) == {"ce+bl", "rebalance"}
    for level, alpha in (("Holm α/3", 0.05 / 3), ("Holm α/2", 0.025), ("unadjusted α", 0.05)):   # the verdicts' levels
        expected = stats.runs_needed(row["sd"], n_train=12, n_test=4, alpha=alpha)
        got = sizing.loc["ce+bl", f"runs needed, {level}, true difference 0"]
        assert (pd.isna(got) and expected is None) or got == expected
    assert answer.loc["ce+bl", "runs_below_zero"] + answer.loc["ce+bl", "runs_above_zero"] <= 4


def test_too_few_runs_give_no_answer(study):
    results, _ = study
    assert study_answer.primary_answer([r for r in results if r.seed == 0 and r.settings["fold"] == 0]).empty


def test_secondary_table_counts_missed_tumours_and_normal_false_positives(study):
    results, _ = study
    table = study_answer.secondary_table(results)
    assert list(table.index) == ["ce", "ce+bl", "rebalance"]
    assert table.loc["ce", "missed mean"] == 1 and table.loc["ce+bl", "missed mean"] == 0
    assert table.loc["ce", "normal_fp_rate mean"] == 0.25 and table.loc["rebalance", "normal_fp_rate mean"] == 0
    assert np.isnan(table.loc["ce+bl", "normal_fp_rate mean"])          # no normal_images.csv
    assert table.loc["rebalance", "effective_w_boundary mean"] == 0.4 and (table.runs == 4).all()


def _scored_run(root, strategy, seed, fold, hd95, found, components, normal_fp, drops):
    """A 128² run with three tumour images: HD95 (NaN where ``found`` is False: a missed tumour),
    components, the normal images' false positives, and ``robustness.csv`` whose speckle level 0.5
    takes ``drops`` off the clean Dice of each image."""
    folder = root / strategy / f"seed{seed}" / f"fold{fold}"
    folder.mkdir(parents=True)
    stems = ["t0", "t1", "t2"]
    rows = [{"stem": s, "label": "benign", "dice": 0.8 if f else 0.0, "hd95": h if f else np.nan, "components": c,
             "target_empty": False, "pred_empty": not f, "checkpoint": k}
            for k in ("best", "final") for s, h, f, c in zip(stems, hd95, found, components)]
    pd.DataFrame(rows).to_csv(folder / "val_per_image.csv", index=False)
    pd.DataFrame({"stem": ["a", "b", "c", "d"], "false_positive": normal_fp,
                  "checkpoint": ["final"] * 4}).to_csv(folder / "normal_images.csv", index=False)
    degraded = [{"corruption": "speckle", "level": level, "stem": s, "label": "benign", "dice": 0.8 - level * d / 0.5,
                 "hd95": 1.0, "components": 1, "target_empty": False, "pred_empty": False}
                for level in (0.0, 0.5) for s, d in zip(stems, drops)]
    pd.DataFrame(degraded).to_csv(folder / "robustness.csv", index=False)
    pd.DataFrame({"epoch": [1]}).to_csv(folder / "metrics.csv", index=False)
    meta = {"settings": {"strategy": strategy, "seed": seed, "fold": fold, "image_size": 128}, "best": {},
            "final": {}, "train_stems": ["x"] * 12, "val_stems": stems}
    (folder / "run.json").write_text(json.dumps(meta))
    return runs.load_run(folder)


@pytest.fixture
def scored(tmp_path):
    """3 runs (seed 0, folds 0–2) of CE and ce+bl; ce+bl misses t2 in fold 1, CE never misses."""
    results = []
    for fold in range(3):
        results.append(_scored_run(tmp_path, "ce", 0, fold, [4, 6, 8], [True] * 3, [1, 2, 1],
                                   [True, True, False, False], drops=[0.2, 0.2, 0.2]))
        found = [True, True, fold != 1]
        results.append(_scored_run(tmp_path, "ce+bl", 0, fold, [2, 6, 8 - fold], found, [1, 1, 1],
                                   [True, False, False, False], drops=[0.1, 0.1, 0.1 + 0.1 * fold]))
    return results


def test_a_missed_tumour_counts_the_image_diagonal_in_hd95(scored):
    long = runs.per_image(scored).set_index(["strategy", "fold", "stem"])
    assert long.loc[("ce+bl", 1, "t2"), "hd95_penalised"] == pytest.approx(128 * 2 ** 0.5)
    assert np.isnan(long.loc[("ce+bl", 1, "t2"), "hd95"])                       # the raw value stays undefined
    assert long.loc[("ce+bl", 2, "t2"), "hd95_penalised"] == 6
    assert runs.hd95_penalty(256) == pytest.approx(np.hypot(256, 256))


def test_secondary_differences_are_paired_by_run_with_the_corrected_interval_and_no_verdict(scored):
    table = study_answer.secondary_differences(scored).set_index("endpoint")
    assert "verdict" not in table.columns and (table.strategy == "ce+bl").all() and (table.n_runs == 3).all()
    # HD95 per run, ce+bl − CE over the three images: fold 0: (−2 + 0 + 0)/3; fold 1: (−2 + 0 + (181.02 − 8))/3; fold 2: (−2 + 0 − 2)/3
    d = np.array([-2 / 3, (-2 + 128 * 2 ** 0.5 - 8) / 3, -4 / 3])
    hd = table.loc["HD95 px (missed tumour = image diagonal)"]
    assert hd["mean"] == pytest.approx(d.mean())
    half = scipy_stats.t.ppf(0.975, 2) * d.std(ddof=1) * np.sqrt(1 / 3 + 3 / 12)   # n_test 3, n_train 12
    assert (hd["corrected_low"], hd["corrected_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    plain = scipy_stats.t.interval(0.95, 2, loc=d.mean(), scale=scipy_stats.sem(d))
    assert (hd["plain_low"], hd["plain_high"]) == pytest.approx(plain)
    assert table.loc["tumours missed (share)", "mean"] == pytest.approx((0 + 1 / 3 + 0) / 3)
    assert table.loc["connected components per prediction", "mean"] == pytest.approx(-1 / 3)
    fp = table.loc["false positives, normal images (share)"]
    assert fp["mean"] == pytest.approx(0.25 - 0.5)                               # the same in every run: sd 0
    assert fp["corrected_low"] == pytest.approx(-0.25) and fp["corrected_high"] == pytest.approx(-0.25)


def test_degradation_differences_compare_each_strategys_drop_with_ces(scored):
    table = study_answer.degradation_differences(scored, "speckle", 0.5, clean_level=0.0).set_index("strategy")
    # CE loses 0.2 on every image; ce+bl loses 0.1, 0.1, 0.1 + 0.1·fold: keeps 0.1, 0.1 − 0.1·fold/3 more per run
    d = np.array([0.1, 0.1 - 0.1 / 3, 0.1 - 0.2 / 3])
    assert table.loc["ce+bl", "mean"] == pytest.approx(d.mean()) and table.loc["ce+bl", "n_runs"] == 3
    assert table.loc["ce+bl", "corrected_low"] < d.mean() < table.loc["ce+bl", "corrected_high"]


def test_interval_table_leaves_bounds_undefined_below_two_runs():
    table = paired.interval_table({"ce+bl": [0.03]}, n_train=340, n_test=85).iloc[0]
    assert table["mean"] == 0.03 and np.isnan(table["corrected_low"]) and np.isnan(table["plain_high"])


def test_paired_runs_keep_the_seed_and_fold_every_strategy_has(study):
    results, _ = study
    partial = [r for r in results if not (r.strategy == "rebalance" and r.seed == 1 and r.settings["fold"] == 0)]
    kept = {(r.strategy, r.seed, r.settings["fold"]) for r in paired.paired_runs(partial)}
    assert len(kept) == 9 and not any(seed == 1 and fold == 0 for _, seed, fold in kept)


def test_components_table_counts_missed_single_and_fragmented_predictions(scored):
    table = study_answer.components_table(scored)
    # CE: components 1, 2, 1 on the three images of each of 3 runs; ce+bl: 1, 1, 1 (one of them a missed tumour's 1)
    assert table.loc["ce", "runs"] == 3 and table.loc["ce", "predictions"] == 9
    assert table.loc["ce", "mean_components"] == pytest.approx(4 / 3)
    assert table.loc["ce", "two_or_more"] == pytest.approx(1 / 3) and table.loc["ce", "one"] == pytest.approx(2 / 3)
    assert table.loc["ce+bl", "two_or_more"] == 0 and table.loc["ce", "none"] == 0


def _moved_to(result, cpu, amp):
    """``result`` as if it had trained on ``cpu`` in ``amp`` (its run.json rewritten)."""
    meta = json.loads((result.folder / "run.json").read_text())
    meta.update(cpu=cpu, amp=amp, device="cpu (2 threads)")
    (result.folder / "run.json").write_text(json.dumps(meta))
    return runs.load_run(result.folder)


def test_runs_pair_with_ce_only_on_the_same_kind_of_machine(study):
    results, gains = study
    # seed 0 fold 1: ce+bl moved to another CPU; its CE and rebalance stay on the machine of the rest
    moved = [_moved_to(r, "AMD EPYC · AVX512", "bf16") if (r.strategy, r.seed, r.settings["fold"]) == ("ce+bl", 0, 1)
             else r for r in results]
    d = paired.run_differences(runs.per_image(moved))
    kept = {(s, seed, fold) for s, seed, fold in zip(d.strategy, d.seed, d.fold)}
    assert ("ce+bl", 0, 1) not in kept and ("rebalance", 0, 1) in kept and len(kept) == 7
    answer = study_answer.primary_answer(moved).set_index("name")
    assert answer.loc["ce+bl", "n_runs"] == 3
    assert answer.loc["ce+bl", "mean"] == pytest.approx(np.mean([g for k, g in gains.items() if k != (0, 1)]))
    # the whole (seed, fold) on the other machine pairs again, and figures show it
    group = [_moved_to(r, "AMD EPYC · AVX512", "bf16") if (r.seed, r.settings["fold"]) == (0, 1) else r for r in results]
    assert len(paired.run_differences(runs.per_image(group))) == 8
    assert len(paired.paired_runs(group)) == 12 and len(paired.paired_runs(moved)) == 9


def test_secondary_and_degradation_differences_pair_only_on_one_machine(scored):
    # fold 2's ce+bl moved to another CPU: it leaves every paired table; folds 0-1 stay
    moved = [_moved_to(r, "AMD EPYC · AVX512", "bf16") if (r.strategy, r.settings["fold"]) == ("ce+bl", 2) else r
             for r in scored]
    for table in (study_answer.secondary_differences(scored), study_answer.secondary_differences(moved)):
        assert set(table.strategy) == {"ce+bl"}
    assert (study_answer.secondary_differences(scored).n_runs == 3).all()
    assert (study_answer.secondary_differences(moved).n_runs == 2).all()
    before = study_answer.degradation_differences(scored, "speckle", 0.5, clean_level=0.0).iloc[0]
    after = study_answer.degradation_differences(moved, "speckle", 0.5, clean_level=0.0).iloc[0]
    # per-run drops differ from CE's by +0.1, +0.067, +0.033 (folds 0, 1, 2): fold 2 leaves the mean
    assert before.n_runs == 3 and after.n_runs == 2
    assert after["mean"] == pytest.approx(np.mean([0.1, 0.1 - 0.1 / 3]))


def test_without_frames_seen_drops_what_a_run_trained_another_frame_of(study):
    """Every run trained on the stems "x": put t0 in the group of "x" and t0 leaves every run's scores; ce+bl's
    gain then comes from t1 alone (t2 is predicted empty in both), and the answer is recomputed on what is left."""
    results, gains = study
    groups = pd.Series({"x": 7, "t0": 7, "t1": 1, "t2": 2, "n0": 3})
    answer, dropped = study_answer.without_frames_seen(results, groups)
    assert (dropped["images dropped"] == 1).all() and len(dropped) == 4
    full = study_answer.primary_answer(results).set_index("name")
    left = answer.set_index("name")
    assert left.loc["ce+bl", "mean"] == pytest.approx(full.loc["ce+bl", "mean"])   # a constant gain per run
    assert left.loc["ce+bl", "n_runs"] == 4
    nothing = study_answer.without_frames_seen(results, pd.Series({"x": 9, "t0": 0, "t1": 1, "t2": 2, "n0": 3}))
    assert (nothing[1]["images dropped"] == 0).all()
    pd.testing.assert_frame_equal(nothing[0], study_answer.primary_answer(results))
