"""Tests of the trainer's command line (bl_utils.cli) on the tiny synthetic dataset, on the CPU:
``python -m bl_utils train --strategy all`` trains the four strategies (the reference run, conftest.py's, is
read back) and prints Table 1 of their runs, the table train_all and results_table make. The launcher's
flags: test_launch.py.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from bl_utils import cli as bl_cli
from bl_utils.answers import earlier, odonnat_pham
from bl_utils import train as bl_train
from bl_utils.schedules import STRATEGIES, make_strategy
from helpers import cli_args, tiny_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

#: Columns of results_table, in order (its docstring).
TABLE_COLUMNS = ["strategy", "runs", "best_dice", "best_dice_sd", "final_dice", "final_dice_sd",
                 "final_dice_tumour", "final_dice_tumour_sd", "final_normal_fp_rate", "final_hd95",
                 "final_hd95_failures", "final_components", "best_epoch", "odonnat_pham_dice"]


def test_cli_all_trains_four_strategies_and_results_table(reference, tiny_data, cache_dir, capsys,
                                                          monkeypatch):
    out = reference.folder.parents[3]        # rebalance is already there: it is read back
    monkeypatch.setenv("BL_PROJECT_ROOT", str(out))
    assert bl_cli.main(cli_args(tiny_data, out, strategy="all")) == 0
    printed = capsys.readouterr().out
    assert "rebalance: complete run found" in printed
    table_lines = printed.strip().splitlines()[-5:]
    assert table_lines[0].split() == TABLE_COLUMNS
    assert [line.split()[0] for line in table_lines[1:]] == list(STRATEGIES)

    # train_all reads the four complete runs back (no training) and results_table makes Table 1
    start = time.perf_counter()
    results = bl_train.train_all(tiny_config(tiny_data, cache_dir), out=out, verbose=False)
    assert time.perf_counter() - start < 10
    assert [r.strategy for r in results] == list(STRATEGIES)
    table = earlier.table1(results)
    assert list(table.columns) == TABLE_COLUMNS
    assert table.strategy.tolist() == list(STRATEGIES)
    assert table.runs.tolist() == [1, 1, 1, 1]
    assert table.best_dice_sd.isna().all()                        # one seed: no spread
    assert table.odonnat_pham_dice.tolist() == [odonnat_pham.ODONNAT_PHAM_TABLE1[s] for s in STRATEGIES]
    for row, result in zip(table.itertuples(), results):
        history = result.history
        assert row.best_dice == history.val_dice.max()
        assert row.final_dice == history.val_dice.iloc[-1]
        assert row.best_epoch == history.epoch[history.val_dice.to_numpy().argmax()]
        per_image = pd.read_csv(result.folder / "val_per_image.csv")
        final = per_image[per_image.checkpoint == "final"]
        assert row.final_components == pytest.approx(final.components.mean())
        tumour = final[~final.target_empty]
        assert row.final_dice_tumour == pytest.approx(tumour.dice.mean())
        assert row.final_hd95_failures == tumour.pred_empty.sum()

    for result in results:
        history = result.history
        strategy = make_strategy(result.strategy, 2)
        expected = np.array([strategy.weights(float(e)) for e in range(2)])
        np.testing.assert_array_equal(history[["w_regional", "w_boundary"]].to_numpy(), expected)
        np.testing.assert_array_equal(history.alpha.to_numpy(), [strategy.alpha(float(e)) for e in range(2)])
        losses = history[["train_loss", "train_regional", "train_boundary"]].to_numpy()
        assert np.isfinite(losses).all()
        # the logged total is the weighted sum of the logged terms (weights are constant in an epoch)
        weighted = expected[:, 0] * losses[:, 1] + expected[:, 1] * losses[:, 2]
        np.testing.assert_allclose(losses[:, 0], weighted, rtol=1e-5, atol=1e-7)
    by_name = {r.strategy: r.history for r in results}
    assert (by_name["ce"].w_boundary == 0).all()
    assert (by_name["ce+bl"].w_boundary == 1).all() and (by_name["ce+bl"].w_regional == 1).all()
    assert by_name["ce+ramp"].w_boundary.tolist() == [0.0, 1.0]
    assert by_name["rebalance"].w_regional.tolist() == [1.0, 0.0]      # 0 at the last epoch
    # the same seed and data: ce and rebalance share epoch 1 exactly (both are pure BCE there)
    pd.testing.assert_series_equal(by_name["ce"].train_loss.iloc[:1],
                                   by_name["rebalance"].train_loss.iloc[:1])
