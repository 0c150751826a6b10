"""Reading finished runs: the kind of machine a run trained on (bl_utils.runs.machine_of, run_keys) and
where each group of runs was trained (machines_table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bl_utils.runs import RunResult, machine_of, machines_table, processor_of, run_keys


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


def _recorded(**metadata):
    return RunResult(Path("run"), {"strategy": "ce+bl", "seed": 3, "fold": 2}, pd.DataFrame(), {}, metadata)


def test_machine_of_tells_apart_what_changes_a_runs_numbers_and_nothing_else():
    epyc = dict(cpu="AMD EPYC · AVX512", cpu_bf16="AVX512-BF16", device="cpu (2 threads)", amp="bf16", threads=2)
    assert machine_of(_recorded(**epyc)) == "AMD EPYC · AVX512 · bf16 AVX512-BF16 · cpu · amp bf16 · threads 2"
    assert machine_of(_recorded(**{**epyc, "device": "cpu (16 threads)"})) == machine_of(_recorded(**epyc))
    for changed in (dict(cpu_bf16="AMX"), dict(amp="off"), dict(cpu="AMD EPYC · AVX2"),
                    dict(device="cuda (NVIDIA H200)"), dict(threads=1)):   # the thread count changes bf16 sums
        assert machine_of(_recorded(**{**epyc, **changed})) != machine_of(_recorded(**epyc))
    assert "cuda (NVIDIA H200)" in machine_of(_recorded(**{**epyc, "device": "cuda (NVIDIA H200)"}))
    assert machine_of(_recorded()) == ("not recorded · bf16 not recorded · device not recorded · amp not recorded"
                                       " · threads not recorded")


def test_processor_of_gives_back_the_processor_a_machine_string_was_made_from():
    for cpu in ("AMD EPYC · AVX512", "Intel(R) Xeon(R) Processor · AVX512", "not recorded"):
        recorded = dict(cpu=cpu, cpu_bf16="AVX512-BF16", device="cpu (2 threads)", amp="bf16", threads=2)
        assert processor_of(machine_of(_recorded(**recorded))) == cpu
    assert processor_of(machine_of(_recorded())) == "not recorded"


def test_run_keys_name_the_strategy_seed_fold_and_machine():
    keys = run_keys(_recorded(cpu="x"))
    assert keys == {"strategy": "ce+bl", "seed": 3, "fold": 2, "machine": machine_of(_recorded(cpu="x"))}
    no_fold = RunResult(Path("run"), {"strategy": "ce", "seed": 0}, pd.DataFrame(), {}, {})
    assert run_keys(no_fold)["fold"] == -1


def test_gzipped_tables_of_a_published_run_read_back_as_the_plain_ones(tmp_path):
    import gzip
    import shutil

    from bl_utils.runs import GZIPPED_TABLES, external_images, normal_fp_rate, per_image, robustness

    row = {"stem": "benign (1)", "label": "benign", "dice": 0.5, "hd95": 3.0, "target_empty": False, "pred_empty": False}
    pd.DataFrame([{"corruption": "speckle", "level": 0.5, **row}]).to_csv(tmp_path / "robustness.csv", index=False)
    pd.DataFrame([{**row, "patient": "p1", "scanner": "s", "birads": "4"}]).to_csv(tmp_path / "external_images.csv",
                                                                                    index=False)
    pd.DataFrame([{**row, "checkpoint": c} for c in ("best", "final")]).to_csv(tmp_path / "val_per_image.csv",
                                                                                  index=False)
    pd.DataFrame({"stem": ["normal (1)", "normal (2)"], "false_positive": [True, False],
                  "checkpoint": ["final", "final"]}).to_csv(tmp_path / "normal_images.csv", index=False)
    run = RunResult(tmp_path, {"strategy": "ce", "seed": 0, "image_size": 128}, pd.DataFrame(), {}, {})
    plain = robustness([run]), external_images([run]), per_image([run])
    assert normal_fp_rate(run) == 0.5 and len(plain[2]) == 1
    assert sorted(GZIPPED_TABLES) == sorted(p.name for p in tmp_path.iterdir())   # every table a run reads
    for name in GZIPPED_TABLES:
        with open(tmp_path / name, "rb") as source, gzip.open(tmp_path / f"{name}.gz", "wb") as target:
            shutil.copyfileobj(source, target)
        (tmp_path / name).unlink()
    pd.testing.assert_frame_equal(robustness([run]), plain[0])
    pd.testing.assert_frame_equal(external_images([run]), plain[1])
    pd.testing.assert_frame_equal(per_image([run]), plain[2])
    assert normal_fp_rate(run) == 0.5
    assert len(plain[1]) == 1 and plain[0].level.tolist() == [0.5]
    (tmp_path / "external_images.csv.gz").unlink()
    assert external_images([run]).empty                     # a run without the table is skipped
