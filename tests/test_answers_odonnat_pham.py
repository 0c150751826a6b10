"""Tests of bl_utils.reproduction: Odonnat & Pham's Table 1 as their code ran it (their batch-pooled
F1 at its best epoch, per-image Dice beside it) and the differences the same runs can measure.
Oracle: scipy's t-interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from bl_utils.answers import odonnat_pham
from helpers import write_study_run


def test_table_as_they_ran_it_reports_their_metric_and_per_image_dice_with_intervals(tmp_path):
    results = []
    for seed, f1 in enumerate((0.70, 0.74, 0.78)):
        run = write_study_run(tmp_path, "rebalance", seed, 0, np.array([0.4, 0.6]) + 0.1 * seed, normal_fp=[True, True, False, False])
        run.best["val_f1_pooled"] = f1
        results.append(run)
    row = odonnat_pham.table_as_they_ran_it(results).iloc[0]
    assert row["Odonnat & Pham"] == 0.801 and row["runs"] == 3
    name = "their metric, best epoch, sorted by class (optimistic)"          # runs without counts: their own order
    assert row[name] == pytest.approx(0.74) and not any("their order" in c for c in row.index)
    low, high = row[f"{name} 95% CI"]
    assert (low, high) == pytest.approx(scipy_stats.t.interval(0.95, 2, loc=0.74, scale=scipy_stats.sem([0.70, 0.74, 0.78])))
    assert row["Dice on tumours, final epoch"] == pytest.approx(0.6)              # means 0.5, 0.6, 0.7
    assert row["FP rate, normal images (final)"] == 0.5


def test_measured_differences_pair_each_run_with_itself(tmp_path):
    """Their metric minus the per-image Dice of the same best epoch, and best minus final Dice, per
    run, then a t-interval over runs (scipy's, an independent oracle)."""
    results, gaps = [], (0.00, 0.02, 0.07)
    for seed, (f1, gap) in enumerate(zip((0.70, 0.74, 0.78), gaps)):
        run = write_study_run(tmp_path, "ce", seed, 0, np.array([0.4, 0.6]) + 0.1 * seed)     # best-epoch means 0.5, 0.6, 0.7
        table = pd.read_csv(run.folder / "val_per_image.csv")
        table.loc[table.checkpoint == "final", "dice"] -= gap * (table.label != "normal")
        table.to_csv(run.folder / "val_per_image.csv", index=False)
        run.best["val_f1_pooled"] = f1
        results.append(run)
    table = odonnat_pham.measured_differences(results).set_index("difference")
    metric, epoch = table.loc["metric"], table.loc["epoch chosen on the scored images"]
    assert metric.strategy == epoch.strategy == "ce" and metric.runs == epoch.runs == 3
    assert metric["mean"] == pytest.approx(0.14)                  # 0.70 − 0.5, 0.74 − 0.6, 0.78 − 0.7
    assert epoch["mean"] == pytest.approx(np.mean(gaps))
    low, high = scipy_stats.t.interval(0.95, 2, loc=np.mean(gaps), scale=scipy_stats.sem(gaps))
    assert (epoch.low, epoch.high) == pytest.approx((low, high))


def _their_run(root, strategy, seed, f1, dice):
    run = write_study_run(root, strategy, seed, -1, np.asarray(dice, dtype=float))
    run.best["val_f1_pooled"] = f1
    return run


def test_differences_from_ce_pair_each_seed_with_its_ce_run(tmp_path):
    """Strategy − CE per seed in their metric and in final per-image tumour Dice; plain interval
    against scipy's, corrected one against Nadeau & Bengio's variance × (1/J + n_test/n_train)."""
    f1 = {"ce": (0.70, 0.72, 0.75), "rebalance": (0.71, 0.75, 0.75)}            # differences 0.01, 0.03, 0.00
    dice = {"ce": (0.5, 0.6, 0.7), "rebalance": (0.55, 0.6, 0.72)}              # differences 0.05, 0.00, 0.02
    results = [_their_run(tmp_path, s, seed, f1[s][seed], [dice[s][seed]] * 2) for s in f1 for seed in range(3)]
    results.append(_their_run(tmp_path, "rebalance", 3, 0.9, [0.9, 0.9]))      # no CE run for seed 3: left out
    table = odonnat_pham.differences_from_ce(results).set_index("measure")
    assert list(table.strategy) == ["rebalance", "rebalance"]
    for measure, d in (("their metric, best epoch, sorted by class", [0.01, 0.03, 0.00]),
                       ("Dice on tumours, final epoch", [0.05, 0.00, 0.02])):
        row = table.loc[measure]
        assert row.n_runs == 3 and row["mean"] == pytest.approx(np.mean(d))
        assert row["Odonnat & Pham"] == pytest.approx(0.801 - 0.798)
        assert (row.plain_low, row.plain_high) == pytest.approx(
            scipy_stats.t.interval(0.95, 2, loc=np.mean(d), scale=scipy_stats.sem(d)))
        half = scipy_stats.t.ppf(0.975, 2) * np.std(d, ddof=1) * np.sqrt(1 / 3 + 3 / 12)   # 12 training, 3 scored images
        assert (row.corrected_low, row.corrected_high) == pytest.approx((np.mean(d) - half, np.mean(d) + half))


def test_differences_from_ce_leave_out_a_run_from_another_machine(tmp_path):
    results = [_their_run(tmp_path, s, seed, 0.7 + 0.01 * seed * (s == "ce+bl"), [0.6, 0.6]) for s in ("ce", "ce+bl")
               for seed in range(3)]
    results[-1].metadata["cpu"] = "another CPU"                                 # ce+bl seed 2
    table = odonnat_pham.differences_from_ce(results).set_index("measure")
    assert list(table.n_runs) == [2, 2]
    assert table.loc["their metric, best epoch, sorted by class", "mean"] == pytest.approx(0.005)


def test_for_reading_writes_each_measure_with_its_interval_in_one_column():
    table = pd.DataFrame({"strategy": ["ce", "rebalance"], "runs": [3, 1], "Odonnat & Pham": [0.798, 0.801],
                          "their metric": [0.69612, 0.7], "their metric 95% CI": [(0.64484, 0.74739), (np.nan, np.nan)],
                          "FP rate": [0.66449, 0.5]})
    shown = odonnat_pham.for_reading(table)
    assert list(shown.columns) == ["strategy", "runs", "Odonnat & Pham", "their metric [95% CI]", "FP rate"]
    assert list(shown["their metric [95% CI]"]) == ["0.696 [0.645, 0.747]", "0.700"]
    assert list(shown["FP rate"]) == [0.664, 0.5]


# ------------------------------------------------------------------ their metric in either order

def _counted_run(root, strategy, seed, n=37, epochs=3, order="drawn", final_epoch_best=False):
    """A run of their protocol that stored each epoch's counts (``val_counts.npz``), validated in the
    order ``index`` (a random permutation of dataset indices for "drawn"); returns it and its masks
    ``(epochs, N, H, W)`` (predictions, truth) in validation order."""
    from bl_utils import metrics

    rng = np.random.default_rng(seed)
    truth = rng.random((n, 12, 12)) > 0.7
    preds = np.stack([truth ^ (rng.random((n, 12, 12)) > 0.85 - 0.03 * e) for e in range(epochs)])
    if final_epoch_best:
        preds = preds[::-1]
    run = write_study_run(root, strategy, seed, -1, np.full(2, 0.5))
    index = rng.permutation(n) + 100 if order == "drawn" else np.arange(n) + 100
    np.savez(run.folder / "val_counts.npz", counts=np.stack([metrics.confusion_counts(p, truth) for p in preds]),
             index=index, stems=np.array([f"s{k}" for k in index]), columns=np.array(["tp", "fp", "fn"]))
    run.metadata["val_order"] = order
    return run, preds, truth, index


def test_their_metric_reads_each_epoch_in_their_order_or_sorted_by_class(tmp_path):
    """Oracle: batch_pooled_f1 (checked against their torchmetrics loop in test_metrics) on the masks
    themselves, read as stored and re-sorted by dataset index."""
    from bl_utils.metrics import batch_pooled_f1

    run, preds, truth, index = _counted_run(tmp_path, "ce", 0)
    sort = np.argsort(index)
    drawn = [batch_pooled_f1(p, truth) for p in preds]
    by_class = [batch_pooled_f1(p[sort], truth[sort]) for p in preds]
    assert odonnat_pham.their_metric(run, "theirs") == pytest.approx(max(drawn), abs=1e-12)
    assert odonnat_pham.their_metric(run, "sorted") == pytest.approx(max(by_class), abs=1e-12)
    assert odonnat_pham.their_metric(run, "theirs", "final") == pytest.approx(drawn[-1], abs=1e-12)
    assert max(drawn) != pytest.approx(max(by_class), abs=1e-6)          # the order moves it
    with pytest.raises(ValueError, match="order"):
        odonnat_pham.their_metric(run, "random")


def test_their_metric_of_runs_without_counts_or_not_in_their_order(tmp_path):
    sorted_run, *_ = _counted_run(tmp_path, "ce", 1, order="sorted")          # e.g. the study's order
    assert np.isnan(odonnat_pham.their_metric(sorted_run, "theirs"))
    old = _their_run(tmp_path, "ce+bl", 0, 0.71, [0.5, 0.5])                   # published before counts: sorted
    assert odonnat_pham.their_metric(old, "sorted") == 0.71 and np.isnan(odonnat_pham.their_metric(old, "theirs"))


def test_tables_read_their_order_first_and_sorted_by_class_beside_it(tmp_path):
    results = [_counted_run(tmp_path / s, s, seed)[0] for s in ("ce", "rebalance") for seed in range(3)]
    table = odonnat_pham.table_as_they_ran_it(results).set_index("strategy")
    for order in ("their order (the split's draw)", "sorted by class"):
        name = f"their metric, best epoch, {order} (optimistic)"
        expected = np.mean([odonnat_pham.their_metric(r, "theirs" if "draw" in order else "sorted")
                            for r in results if r.strategy == "ce"])
        assert table.loc["ce", name] == pytest.approx(expected)
    measures = set(odonnat_pham.differences_from_ce(results).measure)
    assert measures == {"their metric, best epoch, their order (the split's draw)",
                        "their metric, best epoch, sorted by class", "Dice on tumours, final epoch"}


def test_ce_cell_table_reads_their_cell_at_its_final_epoch_beside_this_protocols_ce(tmp_path):
    ce = [_counted_run(tmp_path / "arm", "ce", seed)[0] for seed in range(3)]
    cell = [_counted_run(tmp_path / "cell", "ce", seed + 10, n=20, final_epoch_best=False)[0] for seed in range(3)]
    table = odonnat_pham.ce_cell_table(cell, ce).set_index("reading")
    assert len(table) == 3 and (table["Odonnat & Pham"] == 0.798).all() and (table.runs == 3).all()
    final = table.loc["their CE cell as written, final epoch (what it kept)"]
    values = [odonnat_pham.their_metric(r, "theirs", "final") for r in cell]
    assert final["their metric, their order"] == pytest.approx(np.mean(values))
    assert final["their metric, their order 95% CI"] == pytest.approx(
        scipy_stats.t.interval(0.95, 2, loc=np.mean(values), scale=scipy_stats.sem(values)))
    assert final["images validated"] == 3                                     # write_study_run's stems
    by_seed = [odonnat_pham.their_metric(r, "theirs", "final") for r in sorted(cell, key=lambda r: r.seed)]
    assert final["their metric, their order, per seed"] == " / ".join(f"{v:.3f}" for v in by_seed)
    assert odonnat_pham.ce_cell_table([], ce).reading.tolist() == [
        "CE as the rebalance cell with α = 0 (this protocol's CE), best epoch"]
