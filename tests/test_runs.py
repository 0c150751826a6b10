"""Reading finished runs: where each group of runs was trained (bl_utils.runs.machines_table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bl_utils.runs import RunResult, machines_table


def run_on(cpu, seconds, seed=0):
    metadata = {"cpu": cpu} if cpu else {}
    return RunResult(Path(f"seed{seed}"), {"strategy": "ce", "seed": seed}, pd.DataFrame({"seconds": seconds}),
                     {}, metadata)


def test_machines_table_counts_runs_per_cpu_and_takes_median_epoch_seconds():
    groups = {"table1": [run_on(None, [10.0, 12.0, 30.0]), run_on(None, [9.0, 11.0], seed=1)],
              "ablation": [run_on("cpu A", [20.0, 24.0]), run_on("cpu B", [50.0]), run_on("cpu A", [26.0], seed=1)],
              "missing": []}
    table = machines_table(groups).set_index(["runs", "cpu"])
    assert list(table.index) == [("table1", "not recorded"), ("ablation", "cpu A"), ("ablation", "cpu B")]
    assert table.n_runs.tolist() == [2, 2, 1]
    # medians per run (12, 10 | 22, 26 | 50), then the median of those per group and CPU
    assert table["s per epoch (median)"].tolist() == [11.0, 24.0, 50.0]


def test_machines_table_of_no_runs_is_empty_with_its_columns():
    assert machines_table({}).empty
    assert "cpu" in machines_table({"x": []}).columns
