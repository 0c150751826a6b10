"""The study on BUSI as data: every group of runs the report publishes, and one command to make them.

Odonnat & Pham ran each of their four strategies once. The study here repeats them over seeds on
one fixed split (Table 1), runs the paper's profile, and adds the ablations that explain the
boundary loss and the annotation-noise runs of notebook 5. Each :class:`Experiment` is a profile,
strategies, seeds and the settings it changes; its runs live where :func:`bl_utils.train.run_folder`
puts them, so a notebook finds them from the same definition that made them::

    python -m bl_utils.study --data ../shared/data/busi256 table1 paper phi_pixel   # train (resumable)
    python -m bl_utils.study --list                                                  # what exists

Costs on two CPU cores with native bf16: a quick run ~1.5 min (8 epochs), ~4 min at 20 epochs;
a paper-profile run ~15 min.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schedules import STRATEGIES
from .runs import RunResult, load_run
from .runtime import get_device
from .train import TrainConfig, TrainingData, default_results_dir, prepare_data, run_folder, train_all

__all__ = ["Experiment", "EXPERIMENTS", "SEEDS", "ABLATION_SEEDS", "load_experiment", "config_of"]

#: Seeds of Table 1 (initialisation and batch order; the split is the same for all).
SEEDS = (0, 1, 2, 3, 4)
#: Seeds of each ablation and of the annotation-noise runs.
ABLATION_SEEDS = (0, 1, 2)
BOUNDARY = ("ce+bl", "ce+ramp", "rebalance")


@dataclass(frozen=True)
class Experiment:
    """A group of runs: ``strategies`` × ``seeds`` at ``profile`` with ``settings`` changed."""

    title: str
    profile: str = "quick"
    strategies: tuple[str, ...] = STRATEGIES
    seeds: tuple[int, ...] = SEEDS
    settings: dict[str, Any] = field(default_factory=dict)


#: Every group of runs the report publishes, in the order they are trained.
EXPERIMENTS: dict[str, Experiment] = {
    "table1": Experiment("Table 1: the four strategies, CPU profile, 5 seeds"),
    "paper": Experiment("Table 1 at Odonnat & Pham's profile (256², ResNet-34, 20 epochs)",
                        profile="paper", seeds=(0,)),
    "phi_pixel": Experiment("Ablation: Φ_G in pixels (the papers' units) instead of / image side",
                            strategies=BOUNDARY, seeds=ABLATION_SEEDS, settings={"phi_scale": "pixel"}),
    "phi_diagonal": Experiment("Ablation: Φ_G = +diagonal on normal images instead of 0",
                               strategies=BOUNDARY, seeds=ABLATION_SEEDS, settings={"phi_empty": "diagonal"}),
    "mask_noise_4": Experiment("Annotation noise: contours jittered by 4 px (at 256²)",
                               seeds=ABLATION_SEEDS, settings={"mask_noise": 4.0}),
    "mask_noise_8": Experiment("Annotation noise: contours jittered by 8 px (at 256²)",
                               seeds=ABLATION_SEEDS, settings={"mask_noise": 8.0}),
    "linear_20": Experiment("Ablation: linear 0 → 1 ramp over 20 epochs (with CE for reference)",
                            strategies=("ce", "ce+ramp", "rebalance"), seeds=ABLATION_SEEDS,
                            settings={"epochs": 20}),
    "kervadec_20": Experiment("Ablation: Kervadec et al.'s schedule over 20 epochs",
                              strategies=("ce+ramp", "rebalance"), seeds=ABLATION_SEEDS,
                              settings={"epochs": 20, "schedule": "kervadec"}),
}


def find_runs(config: TrainConfig, strategies=STRATEGIES, seeds=(0,), out: str | os.PathLike | None = None,
              data: TrainingData | None = None) -> tuple[list[RunResult], list[Path]]:
    """The complete runs of ``config`` for ``strategies`` × ``seeds`` in ``out``, without training:
    ``(found, missing folders)``. ``data``: a prepared :class:`TrainingData` (else prepared here)."""
    device = get_device(config.device)
    found, missing = [], []
    for seed in seeds:
        for name in strategies:
            run = dataclasses.replace(config, seed=seed, strategy=name).resolve(device)
            data = data or prepare_data(run, device, verbose=False)
            folder = run_folder(run, out or default_results_dir(), data.data_id)
            (found.append(load_run(folder)) if (folder / "run.json").is_file() else missing.append(folder))
    return found, missing


def config_of(name: str, data: str, **changes: Any) -> TrainConfig:
    """The :class:`~bl_utils.train.TrainConfig` of experiment ``name`` on ``data`` (strategy and
    seed are set per run); ``changes`` override anything (e.g. ``device``)."""
    experiment = EXPERIMENTS[name]
    return TrainConfig(data=str(data), profile=experiment.profile, **{**experiment.settings, **changes})


def load_experiment(name: str, data: str, out: str | Path | None = None, **changes: Any
                    ) -> tuple[list[RunResult], list[Path]]:
    """The complete runs of experiment ``name`` in ``out`` and the folders of those missing."""
    experiment = EXPERIMENTS[name]
    return find_runs(config_of(name, data, **changes), experiment.strategies, experiment.seeds, out)


def run_experiment(name: str, data: str, out: str | Path | None = None, **changes: Any) -> list[RunResult]:
    """Train (or load) every run of experiment ``name``; resumable."""
    experiment = EXPERIMENTS[name]
    return train_all(config_of(name, data, **changes), experiment.strategies, experiment.seeds, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bl_utils.study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="*", help=f"any of {', '.join(EXPERIMENTS)} (default: all)")
    parser.add_argument("--data", required=True, help="the BUSI folder (or 'synthetic')")
    parser.add_argument("--out", default=None, help="results folder (default: results/ of the checkout)")
    parser.add_argument("--list", action="store_true", help="say which runs exist; train nothing")
    args = parser.parse_args(argv)
    names = args.experiments or list(EXPERIMENTS)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment(s) {unknown}; choose from {', '.join(EXPERIMENTS)}")
    data = args.data if args.data == "synthetic" else str(Path(args.data).expanduser().resolve())
    for name in names:
        if args.list:
            found, missing = load_experiment(name, data, args.out)
            print(f"{name:>14}: {len(found)} complete, {len(missing)} missing — {EXPERIMENTS[name].title}")
        else:
            run_experiment(name, data, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
