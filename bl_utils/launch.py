"""Run a grid of training runs as jobs through submitit: on this machine (``local``) or on Slurm.

The trainer stays the one of :mod:`bl_utils.train`; this module only decides which runs are
missing and hands each to submitit (github.com/facebookincubator/submitit), which schedules,
requeues and logs them. Nothing here is a scheduler of its own:

1. every (strategy, seed) run of the grid is resolved as the job will resolve it (the profile
   ``auto`` becomes ``paper`` on a GPU job, ``quick`` on a CPU one) and located with
   :func:`bl_utils.config.run_folder`; a run whose folder holds ``run.json`` is complete and skipped;
2. each missing run becomes one job, ``TrainJob()(config)`` = ``train(config, out, resume=True)``,
   submitted as one job array (``executor.map_array``); submitit's logs go to
   ``<out>/submitit_logs/<job id>_0_log.{out,err}``;
3. a job that is killed leaves ``last.pt``: submitting the grid again resumes it from its last
   completed epoch. :class:`TrainJob` is a ``submitit.helpers.Checkpointable``, so on Slurm a
   pre-empted or timed-out job is requeued by submitit itself (up to 3 time-outs) and resumes the
   same way.

Command line (the flags are added to ``python -m bl_utils train`` and ``python -m bl_utils study``
by :func:`add_arguments`)::

    python -m bl_utils train --strategy all --seeds 0 1 2 --launcher local --wait
    python -m bl_utils study --data /shared/busi256 --launcher slurm --partition gpu --out /shared/results

Notes:

* the local executor starts every job at once (it has no array parallelism) and gives each the
  first ``--gpus-per-job`` GPUs of the machine; jobs inherit the environment (``OMP_NUM_THREADS``
  decides CPU threads, and on the CPU results are identical only for the same thread count);
* on Slurm, ``--out`` and the Python environment must be on a filesystem the compute nodes share,
  and ImageNet weights must be loadable there (cached or online), otherwise the job trains from a
  random initialisation into another folder (the summary then warns);
* submitting the same grid again while its jobs are still queued or running trains those runs
  twice, into the same folders: wait for them (``--wait``, or ``squeue``) first.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

from . import train as bl_train
from .config import default_results_dir, resolve_profile, run_folder
from .answers.earlier import table1
from .runs import load_run
from .runtime import display_path, get_device
from .training_data import data_id_of

try:
    from submitit.helpers import Checkpointable
except ImportError:   # submitit is needed only to submit jobs; _submitit() says how to install it
    Checkpointable = object

__all__ = ["LAUNCHERS", "LaunchError", "LaunchOptions", "PlannedRun", "TrainJob", "add_arguments",
           "plan_runs", "make_executor", "submit", "launch"]

#: ``none`` trains in this process (:func:`bl_utils.train.train_all`); the others submit jobs.
LAUNCHERS = ("none", "local", "slurm")
#: Where submitit writes each job's pickles and logs, under ``out``.
LOGS = "submitit_logs"


class LaunchError(RuntimeError):
    """Jobs cannot be submitted from here: submitit is missing, Slurm is not installed, or the
    cluster refused the submission (sbatch's message is included)."""


def _submitit():
    try:
        import submitit
    except ImportError as error:
        raise LaunchError("--launcher local/slurm needs submitit: pip install 'submitit>=1.5'") from error
    return submitit


@dataclass(frozen=True)
class LaunchOptions:
    """How to submit: ``launcher`` (``"local"`` or ``"slurm"``), whether to ``wait`` for the jobs,
    and the Slurm resources of each job (``partition`` None: the cluster's default). On the local
    executor only ``gpus_per_job`` and ``timeout_min`` apply."""

    launcher: str = "local"
    wait: bool = False
    partition: str | None = None
    gpus_per_job: int = 1
    timeout_min: int = 120
    array_parallelism: int = 8
    cpus_per_task: int = 4

    def __post_init__(self):
        if self.launcher not in LAUNCHERS[1:]:
            raise ValueError(f"launcher must be 'local' or 'slurm', got {self.launcher!r}")
        for name in ("gpus_per_job", "timeout_min", "array_parallelism", "cpus_per_task"):
            value = getattr(self, name)
            if value < (0 if name == "gpus_per_job" else 1):
                raise ValueError(f"{name.replace('_', '-')} must be positive, got {value}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "LaunchOptions | None":
        """The options of parsed :func:`add_arguments` flags; ``None`` for ``--launcher none``."""
        if args.launcher == "none":
            return None
        return cls(args.launcher, args.wait, args.partition, args.gpus_per_job, args.timeout_min,
                   args.array_parallelism, args.cpus_per_task)

    def device_type(self, config) -> str:
        """The device type a job will train ``config`` on: ``config.device`` or ``BL_DEVICE`` when
        set; on Slurm ``"cuda"`` when jobs have GPUs, else ``"cpu"``; locally what
        :func:`bl_utils.runtime.get_device` finds here (``"cpu"`` instead of CUDA without GPUs)."""
        chosen = config.device or os.environ.get("BL_DEVICE")
        if chosen:
            return torch.device(chosen).type
        if self.launcher == "slurm":
            return "cuda" if self.gpus_per_job > 0 else "cpu"
        kind = get_device().type
        return "cpu" if kind == "cuda" and self.gpus_per_job == 0 else kind


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--launcher {none,local,slurm}``, ``--wait`` and the Slurm flags to ``parser``."""
    defaults = LaunchOptions()
    group = parser.add_argument_group("jobs (submitit; see bl_utils.launch)")
    group.add_argument("--launcher", choices=LAUNCHERS, default="none",
                       help="none: train here, one run after another (default); local: one job per "
                            "missing run on this machine; slurm: one Slurm job per missing run")
    group.add_argument("--wait", action="store_true",
                       help="wait for the jobs and print one line per run (else submit and return)")
    group.add_argument("--partition", default=None, help="Slurm partition (default: the cluster's)")
    group.add_argument("--gpus-per-job", type=int, default=defaults.gpus_per_job,
                       help=f"GPUs of each job (default {defaults.gpus_per_job}; 0: train on the CPU)")
    group.add_argument("--timeout-min", type=int, default=defaults.timeout_min,
                       help=f"time limit of each job in minutes (default {defaults.timeout_min}); "
                            "a job that reaches it is requeued and resumes")
    group.add_argument("--array-parallelism", type=int, default=defaults.array_parallelism,
                       help=f"Slurm jobs of the array running at once (default {defaults.array_parallelism})")
    group.add_argument("--cpus-per-task", type=int, default=defaults.cpus_per_task,
                       help=f"CPUs of each Slurm job (default {defaults.cpus_per_task})")


# --------------------------------------------------------------------------------------------
# The job


class TrainJob(Checkpointable):
    """One run as a submitit job: ``TrainJob(out)(config)`` is ``train(config, out=out, resume=True)``
    and returns its :class:`~bl_utils.runs.RunResult`.

    A ``submitit.helpers.Checkpointable``: when Slurm pre-empts the job or its time runs out,
    submitit calls :meth:`checkpoint` (which resubmits the same call) and requeues it; the trainer
    resumes from the run's ``last.pt``, i.e. from its last completed epoch.
    """

    def __init__(self, out: str | os.PathLike, evaluate_noise: bool = True):
        self.out = str(out)
        self.evaluate_noise = evaluate_noise

    def __call__(self, config):
        return bl_train.train(config, out=self.out, resume=True, verbose=True, evaluate_noise=self.evaluate_noise)


# --------------------------------------------------------------------------------------------
# Which runs are missing


@dataclass
class PlannedRun:
    """A run of the grid: its ``config`` (resolved, except ``amp`` and ``device``, which the job
    chooses on its own machine), its ``folder``, and whether that folder holds a complete run."""

    config: Any
    folder: Path

    @property
    def complete(self) -> bool:
        return (self.folder / "run.json").is_file()

    @property
    def label(self) -> str:
        fold = f" fold{self.config.fold}" if getattr(self.config, "folds", None) is not None else ""
        return f"{self.config.strategy} seed{self.config.seed}{fold}"


def plan_runs(config, strategies: Iterable[str], seeds: Iterable[int], out: str | os.PathLike | None = None,
              device_type: str = "cpu", folds: Iterable[int | None] = (None,)) -> list[PlannedRun]:
    """Every ``strategies`` × ``seeds`` (× ``folds``; ``None``: the config's split) run of
    ``config`` (a :class:`~bl_utils.config.TrainConfig`), in the trainer's order (the strategies of
    one (seed, fold) together), resolved for a job training on ``device_type``, with its folder
    under ``out`` (default :func:`bl_utils.config.default_results_dir`). Reads the data once per
    data setting."""
    profile = resolve_profile(config.profile, device_type)   # as TrainConfig.resolve does on the job's device
    out = Path(out or default_results_dir())
    data_ids: dict[tuple, str] = {}
    runs = []
    for seed, fold, strategy in bl_train.run_order(tuple(strategies), tuple(seeds), tuple(folds)):
        changes = {"strategy": strategy, "seed": seed, "profile": profile, **({} if fold is None else {"fold": fold})}
        changed = dataclasses.replace(config, **changes)
        # every setting that names the folder is device-independent once the profile is chosen;
        # amp and device are left for the job to choose where it runs
        resolved = dataclasses.replace(changed.resolve(torch.device("cpu")), amp=config.amp, device=config.device)
        key = (resolved.data, resolved.cache_dir)
        if key not in data_ids:
            data_ids[key] = data_id_of(resolved.data, resolved.cache_dir)
        runs.append(PlannedRun(resolved, run_folder(resolved, out, data_ids[key])))
    return runs


# --------------------------------------------------------------------------------------------
# Submitting, waiting


def make_executor(options: LaunchOptions, out: str | os.PathLike):
    """A ``submitit.AutoExecutor`` writing to ``<out>/submitit_logs`` with ``options``' resources."""
    submitit = _submitit()
    try:
        executor = submitit.AutoExecutor(folder=Path(out) / LOGS, cluster=options.launcher)
    except RuntimeError as error:   # SlurmExecutor: no srun on PATH
        raise LaunchError(f"{error} --launcher slurm submits from a machine of the cluster (its login "
                          "node); --launcher local runs the jobs on this machine.") from error
    executor.update_parameters(name="bl_train", timeout_min=options.timeout_min, gpus_per_node=options.gpus_per_job)
    if options.launcher == "slurm":
        executor.update_parameters(slurm_partition=options.partition, cpus_per_task=options.cpus_per_task,
                                   slurm_array_parallelism=options.array_parallelism)
    return executor


def submit(runs: Sequence[PlannedRun], options: LaunchOptions, out: str | os.PathLike,
           evaluate_noise: bool = True) -> list:
    """Submit the incomplete ``runs`` as one job array; returns their submitit jobs, in order."""
    todo = [run for run in runs if not run.complete]
    if not todo:
        return []
    submitit = _submitit()
    executor = make_executor(options, out)
    try:
        return executor.map_array(TrainJob(out, evaluate_noise), [run.config for run in todo])
    except submitit.core.utils.FailedSubmissionError as error:   # e.g. sbatch: invalid partition
        raise LaunchError(f"the {options.launcher} submission failed: {error}") from error


def _summary_line(label: str, result, note: str = "") -> str:
    best, final = result.best, result.final
    return (f"{label:<16} best val Dice {best['val_dice']:.3f} (epoch {best['epoch']}), final "
            f"{final.get('val_dice', float('nan')):.3f}  {display_path(result.folder)}{note}")


def launch(runs: Sequence[PlannedRun], options: LaunchOptions, out: str | os.PathLike | None = None,
           evaluate_noise: bool = True, echo: Callable[[str], Any] = print) -> int:
    """Submit the missing ``runs``, say which jobs run where and where their logs are; with
    ``options.wait``, wait for them and print one line per run, then Table 1's summary of the grid.
    Returns 0, or 1 when a job failed (its log is named)."""
    out = Path(out or default_results_dir())
    runs = list({run.folder: run for run in runs}.values())   # a run asked twice is trained once
    jobs = submit(runs, options, out, evaluate_noise)
    logs = out / LOGS
    todo = [run for run in runs if not run.complete]
    echo(f"submitit ({options.launcher}): {len(jobs)} job(s) submitted, {len(runs) - len(todo)} complete "
         f"run(s) skipped; logs in {display_path(logs)}/<job id>_0_log.out (and .err)")
    for run, job in zip(todo, jobs):
        echo(f"  {run.label:<16} job {job.job_id:<12} {display_path(run.folder)}")
    if not options.wait:
        if jobs:
            echo("Each run folder gets its run.json when its job finishes; submit again (or add --wait) "
                 "once the jobs have ended to see the summary and resubmit any that was killed.")
        return 0
    submitit = _submitit()
    status, results = 0, []
    job_of = {id(run): job for run, job in zip(todo, jobs)}
    for run in runs:
        job = job_of.get(id(run))
        if job is None:
            results.append(load_run(run.folder))
            echo(_summary_line(run.label, results[-1], "  (complete, skipped)"))
            continue
        try:
            result = job.result()
        except submitit.core.utils.UncompletedJobError as error:
            status = 1
            last = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            echo(f"{run.label:<16} FAILED (job {job.job_id}): {last}\n{'':<17}log: {display_path(job.paths.stderr)}")
            continue
        results.append(result)
        note = "" if Path(result.folder) == run.folder else f"  (expected {display_path(run.folder)})"
        echo(_summary_line(run.label, result, note))
    if results:
        echo(table1(results).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return status
