"""Tests of the job launcher (bl_utils.launch): the grid of runs as submitit jobs.

The jobs run on submitit's local executor (one process per run on this machine), on the tiny
synthetic dataset of tests/conftest.py (``tiny_data``): 32×32 images, ResNet-18 from random init, 16 images,
1–2 epochs. Slurm is exercised up to ``sbatch`` with stand-in ``srun``/``sbatch`` commands.
Every process runs on one thread (``OMP_NUM_THREADS=1``): on the CPU, results are identical only
for the same seed and the same number of threads.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil   # with ipykernel (requirements.txt)
import pytest
import submitit
import torch

from bl_utils import launch
from bl_utils import cli as bl_cli
from bl_utils import config as bl_config
from bl_utils import train as bl_train
from bl_utils.config import TrainConfig
from bl_utils.runs import RunResult
from bl_utils.training_data import prepare_data

pytestmark = pytest.mark.slow

#: The tiny settings of every run here (the command-line runs too, see ``cli_args``).
TINY = dict(profile="quick", image_size=32, encoder="resnet18", encoder_weights=None, epochs=1,
            batch_size=8, max_images=16, device="cpu")
#: Keys of run.json that must agree between two runs of the same settings (the others are the
#: date, timings, versions and the machine's description).
SAME_METADATA = ("settings", "code_version", "amp", "threads", "data_id", "n_images", "best", "final",
                 "train_stems", "val_stems", "complete")


@pytest.fixture(scope="module", autouse=True)
def one_thread_and_a_private_root(tmp_path_factory):
    """One thread here and in every job (jobs inherit the environment); the data cache in a
    temporary project root instead of the checkout's."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        patch.setenv("BL_PROJECT_ROOT", str(tmp_path_factory.mktemp("root")))
        patch.delenv("BL_DEVICE", raising=False)
        yield
    torch.set_num_threads(threads)


def tiny_config(tiny_data, **changes) -> TrainConfig:
    return TrainConfig.of_protocol(**{"protocol": "earlier", **TINY, "strategy": "rebalance", "data": tiny_data,
                                      **changes})


def cli_args(tiny_data, out, strategy="rebalance", seeds=(0,), **changes) -> list[str]:
    """The command line equivalent to ``tiny_config(...)`` for ``strategy`` × ``seeds``."""
    args = ["--strategy", strategy, "--data", tiny_data, "--out", str(out), "--seeds", *map(str, seeds),
            "--protocol", "earlier"]
    for key, value in {**TINY, **changes}.items():
        if key == "encoder_weights":
            args += ["--no-imagenet"] if value is None else []
        else:
            args += ["--" + key.replace("_", "-"), str(value)]
    return args


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_data) -> RunResult:
    """An uninterrupted 2-epoch rebalance run, trained in this process."""
    return bl_train.train(tiny_config(tiny_data, epochs=2), out=tmp_path_factory.mktemp("reference"),
                          verbose=False)


def submission(text: str) -> tuple[str, int, int]:
    """``(launcher, jobs submitted, complete runs skipped)`` from the line :func:`launch.launch` opens with."""
    found = re.search(r"submitit \((\w+)\)\D*(\d+) job\D*(\d+) complete", text)
    assert found, text
    return found.group(1), int(found.group(2)), int(found.group(3))


def assert_same_run(folder: Path, expected: Path) -> None:
    """The same files; metrics.csv identical but for ``seconds``; per-image, robustness and
    prediction files, the best checkpoint and run.json's results identical."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in expected.iterdir())
    pd.testing.assert_frame_equal(pd.read_csv(folder / "metrics.csv").drop(columns="seconds"),
                                  pd.read_csv(expected / "metrics.csv").drop(columns="seconds"), check_exact=True)
    for name in ("val_per_image.csv", "robustness.csv"):
        assert (folder / name).read_bytes() == (expected / name).read_bytes(), name
    with np.load(folder / "predictions.npz") as a, np.load(expected / "predictions.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    best_a = torch.load(folder / "best.pt", weights_only=True)
    best_b = torch.load(expected / "best.pt", weights_only=True)
    assert best_a.keys() == best_b.keys() and all(torch.equal(best_a[k], best_b[k]) for k in best_b)
    meta_a, meta_b = (json.loads((f / "run.json").read_text()) for f in (folder, expected))
    assert {k: meta_a[k] for k in SAME_METADATA} == {k: meta_b[k] for k in SAME_METADATA}


def task_process(controller_pid: int, timeout: float = 60) -> psutil.Process:
    """The process running the job's function: the child of submitit's local controller."""
    controller = psutil.Process(controller_pid)
    deadline = time.monotonic() + timeout
    while not controller.children():
        assert alive(controller) and time.monotonic() < deadline, "the job's task never started"
        time.sleep(0.05)
    return controller.children()[0]


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for(path: Path, process: psutil.Process, log: Path, timeout: float = 240) -> None:
    """Wait until ``path`` exists while ``process`` still runs (renamed into place: an epoch is done)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert alive(process), f"the job ended early:\n{log.read_text() if log.exists() else ''}"
        assert time.monotonic() < deadline, f"no {path.name} after {timeout} s"
        time.sleep(0.02)
    assert alive(process), "the job finished before it could be interrupted"


# --------------------------------------------------------------------------------------------
# Flags, planning, Slurm up to sbatch (no training)


def test_flags_default_to_training_here_and_carry_the_slurm_resources(tiny_data, tmp_path):
    _, args = bl_cli._parse_args(cli_args(tiny_data, tmp_path))
    assert args.launcher == "none" and not args.wait
    assert launch.LaunchOptions.from_args(args) is None
    _, args = bl_cli._parse_args([*cli_args(tiny_data, tmp_path), "--launcher", "slurm", "--wait",
                                    "--partition", "gpu", "--gpus-per-job", "2", "--timeout-min", "30",
                                    "--array-parallelism", "3", "--cpus-per-task", "6"])
    assert launch.LaunchOptions.from_args(args) == launch.LaunchOptions("slurm", True, "gpu", 2, 30, 3, 6)
    assert launch.LaunchOptions("slurm") == launch.LaunchOptions("slurm", False, None, 1, 120, 8, 4)


@pytest.mark.parametrize("extra, message", [
    (["--launcher", "local", "--fresh"], "--fresh trains here only"),
    (["--launcher", "pbs"], "invalid choice: 'pbs'"),
])
def test_bad_launcher_requests_are_refused_by_the_parser(tiny_data, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit):
        bl_cli._parse_args([*cli_args(tiny_data, tmp_path), *extra])
    assert message in capsys.readouterr().err


def test_bad_resources_are_refused():
    with pytest.raises(ValueError, match="timeout-min must be positive"):
        launch.LaunchOptions("slurm", timeout_min=0)
    with pytest.raises(ValueError, match="launcher must be 'local' or 'slurm'"):
        launch.LaunchOptions("none")


def test_plan_resolves_the_profile_for_the_jobs_device_and_leaves_amp_to_the_job(tiny_data, tmp_path):
    config = tiny_config(tiny_data, profile="auto", image_size=None, encoder=None, epochs=None, amp="auto",
                         device=None)
    for device_type, profile in (("cuda", "paper"), ("cpu", "quick")):
        runs = launch.plan_runs(config, ("ce", "rebalance"), (0, 1), tmp_path, device_type)
        assert [run.label for run in runs] == ["ce seed0", "rebalance seed0", "ce seed1", "rebalance seed1"]
        for run in runs:
            assert run.config.profile == profile and run.config.amp == "auto" and run.config.device is None
            assert run.folder.parents[1].name == f"{profile}-random+batch_size=8+max_images=16"
            assert not run.complete
    # the folder is the one the in-process trainer uses
    data = prepare_data(runs[0].config.resolve(torch.device("cpu")), torch.device("cpu"), verbose=False)
    assert runs[0].folder == bl_config.run_folder(runs[0].config, tmp_path, data.data_id)


def test_plan_of_a_cross_validation_has_one_run_per_seed_fold_and_strategy(tiny_data, tmp_path):
    config = tiny_config(tiny_data, folds=2, include_normal=False, max_tumour_fraction=0.1)
    runs = launch.plan_runs(config, ("ce", "rebalance"), (0,), tmp_path, "cpu", folds=(0, 1))
    assert [run.label for run in runs] == ["ce seed0 fold0", "rebalance seed0 fold0", "ce seed0 fold1",
                                           "rebalance seed0 fold1"]
    assert [run.folder.name for run in runs] == ["fold0", "fold0", "fold1", "fold1"]
    assert runs[0].folder == bl_config.run_folder(runs[0].config, tmp_path, runs[0].folder.parents[3].name)


def test_slurm_array_is_submitted_with_the_resources_asked(tiny_data, tmp_path, monkeypatch, capsys):
    """Stand-in ``srun`` and ``sbatch``: the job array's script and pickled jobs are what Slurm gets."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {tmp_path}/submitted.sh\necho "Submitted batch job 4242"\n')
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    code = bl_cli.main([*cli_args(tiny_data, out, strategy="all", seeds=(0, 1)), "--launcher", "slurm",
                          "--partition", "gpu", "--array-parallelism", "3", "--timeout-min", "30"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert submission(printed) == ("slurm", 8, 0)
    assert "logs in" in printed and f"{launch.LOGS}/<job id>_0_log.out" in printed
    assert re.search(r"ce\+bl seed1 +job 4242_5 ", printed)
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("#SBATCH --array=0-7%3", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --time=30", "#SBATCH --cpus-per-task=4", "#SBATCH --job-name=bl_train"):
        assert line in script, line
    assert str(out / launch.LOGS) in script
    with open(out / launch.LOGS / "4242_5_submitted.pkl", "rb") as handle:
        delayed = pickle.load(handle)
    assert isinstance(delayed.function, launch.TrainJob)
    assert isinstance(delayed.function, submitit.helpers.Checkpointable)
    assert delayed.function.out == str(out)
    (config,) = delayed.args
    assert (config.strategy, config.seed, config.epochs, config.image_size) == ("ce+bl", 1, 1, 32)


def test_slurm_without_slurm_says_where_to_submit_from(tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))    # no srun
    code = bl_cli.main([*cli_args(tiny_data, tmp_path / "out"), "--launcher", "slurm"])
    assert code == 2
    assert 'Could not detect "srun"' in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Local jobs: the same runs as in this process, skipping, kill and pre-emption


def test_local_jobs_make_the_runs_of_the_in_process_grid_and_skip_them_next_time(tiny_data, tmp_path):
    config, strategies, seeds = tiny_config(tiny_data), ("ce", "rebalance"), (0, 1)
    here = bl_train.train_all(config, strategies, seeds, out=tmp_path / "here", verbose=False)
    runs = launch.plan_runs(config, strategies, seeds, tmp_path / "jobs", "cpu")
    lines: list[str] = []
    options = launch.LaunchOptions("local", wait=True, gpus_per_job=0, timeout_min=20)
    assert launch.launch(runs, options, tmp_path / "jobs", echo=lines.append) == 0, "\n".join(lines)
    assert submission(lines[0]) == ("local", 4, 0)

    for result, run in zip(here, runs):
        assert run.complete
        assert run.folder.relative_to(tmp_path / "jobs") == result.folder.relative_to(tmp_path / "here")
        assert_same_run(run.folder, result.folder)
        summary = next(line for line in lines if line.startswith(f"{run.label} "))
        assert f"best val Dice {result.best['val_dice']:.3f} (epoch 1), final {result.final['val_dice']:.3f}" in summary
        assert summary.endswith(run.folder.relative_to(tmp_path).as_posix())
    assert "rebalance" in lines[-1]          # Table 1 of the grid closes the summary

    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "jobs").rglob("*") if "seed" in str(p)}
    again: list[str] = []
    assert launch.launch(runs, options, tmp_path / "jobs", echo=again.append) == 0
    assert submission(again[0]) == ("local", 0, 4)
    assert sum("(complete, skipped)" in line for line in again) == 4
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert len(list((tmp_path / "jobs" / launch.LOGS).glob("*_result.pkl"))) == 4   # no new job


def test_a_killed_job_submitted_again_ends_like_an_uninterrupted_run(reference, tiny_data, tmp_path, capsys):
    """``--launcher local`` without ``--wait``; the job's process gets SIGKILL after epoch 1 of 2;
    the same command with ``--wait`` resumes the run."""
    out = tmp_path / "out"
    command = [*cli_args(tiny_data, out, epochs=2), "--launcher", "local", "--gpus-per-job", "0"]
    folder = out / reference.folder.relative_to(reference.folder.parents[3])
    assert bl_cli.main(command) == 0
    printed = capsys.readouterr().out
    assert submission(printed) == ("local", 1, 0) and "run.json" in printed   # and where its result will be
    job_id = re.search(r"rebalance seed0 +job (\d+) ", printed).group(1)
    log = out / launch.LOGS / f"{job_id}_0_log.out"
    task = task_process(int(job_id))
    wait_for(folder / "last.pt", task, log)
    task.send_signal(signal.SIGKILL)
    psutil.Process(int(job_id)).wait(timeout=60)          # the controller ends: the job failed
    assert not (folder / "run.json").exists() and (folder / "last.pt").exists()
    completed = torch.load(folder / "last.pt", weights_only=True)["epoch"] + 1   # 1, unless the kill came late

    assert bl_cli.main([*command, "--wait"]) == 0
    printed = capsys.readouterr().out
    assert submission(printed) == ("local", 1, 0)
    new_id = re.search(r"rebalance seed0 +job (\d+) ", printed).group(1)
    assert f"rebalance/seed0 after epoch {completed}/2" in (out / launch.LOGS / f"{new_id}_0_log.out").read_text()
    assert re.search(r"rebalance seed0 +best val Dice [0-9.]+ \(epoch [12]\), final [0-9.]+ ", printed)
    assert not (folder / "last.pt").exists()
    assert_same_run(folder, reference.folder)


def test_a_preempted_job_is_requeued_by_submitit_and_resumes(reference, tiny_data, tmp_path):
    """The pre-emption signal (USR2, as Slurm's): submitit checkpoints the job (``TrainJob`` is
    Checkpointable) and requeues it; the requeued job resumes from ``last.pt``."""
    out = tmp_path / "out"
    runs = launch.plan_runs(tiny_config(tiny_data, epochs=2), ("rebalance",), (0,), out, "cpu")
    (job,) = launch.submit(runs, launch.LaunchOptions("local", gpus_per_job=0, timeout_min=20), out)
    task = task_process(int(job.job_id))
    wait_for(runs[0].folder / "last.pt", task, Path(job.paths.stdout))
    task.send_signal(signal.SIGUSR2)
    result = job.result()
    log = Path(job.paths.stdout).read_text() + Path(job.paths.stderr).read_text()
    assert "this job is preempted" in log and "Requeued job" in log
    assert "resuming" in log
    assert result.folder == runs[0].folder
    assert_same_run(runs[0].folder, reference.folder)


@pytest.fixture(autouse=True)
def no_stray_jobs():
    """End any job process a failing test leaves behind (only this test process's children)."""
    yield
    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
