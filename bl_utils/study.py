"""The study on BUSI as data: every group of runs the report publishes, and one command to make them.

Odonnat & Pham ran each of their four strategies once. The study here repeats them over seeds on
one fixed split (Table 1), runs the paper's profile, and adds the ablations that explain the
boundary loss and the annotation-noise runs of notebook 5. Each :class:`Experiment` is a profile,
strategies, seeds and the settings it changes; its runs live where :func:`bl_utils.config.run_folder`
puts them, so a notebook finds them from the same definition that made them::

    python -m bl_utils.study --data ../shared/data/busi256 table1 paper phi_pixel   # train (resumable)
    python -m bl_utils.study --list                                                  # what exists

Costs on two CPU cores with native bf16: a quick run ~1.5 min (8 epochs), ~4 min at 20 epochs;
a paper-profile run ~20 min (55–60 s per epoch).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import data as bl_data
from . import launch
from .config import TrainConfig, default_results_dir, run_folder
from .runs import RunResult, load_run
from .runtime import atomic_write, display_path, get_device, write_json
from .schedules import STRATEGIES
from .train import TrainingData, prepare_data, train_all

__all__ = ["Experiment", "EXPERIMENTS", "SEEDS", "ABLATION_SEEDS", "load_experiment", "config_of", "obtain",
           "smoke_version", "find_runs", "run_experiment", "data_statement", "pixel_phis", "tables_dir",
           "validation_images", "write_answer"]

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
    """The :class:`~bl_utils.config.TrainConfig` of experiment ``name`` on ``data`` (strategy and
    seed are set per run); ``changes`` override anything (e.g. ``device``)."""
    experiment = EXPERIMENTS[name]
    return TrainConfig(**{"data": str(data), "profile": experiment.profile, **experiment.settings, **changes})


def load_experiment(name: str, data: str, out: str | Path | None = None, **changes: Any
                    ) -> tuple[list[RunResult], list[Path]]:
    """The complete runs of experiment ``name`` in ``out`` and the folders of those missing."""
    experiment = EXPERIMENTS[name]
    return find_runs(config_of(name, data, **changes), experiment.strategies, experiment.seeds, out)


def smoke_version(name: str) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The settings and seeds of experiment ``name`` in the notebooks' smoke test: the ``tiny``
    profile, at most 3 epochs, two seeds for Table 1 and one elsewhere."""
    experiment = EXPERIMENTS[name]
    changes: dict[str, Any] = {"profile": "tiny"}
    if "epochs" in experiment.settings:
        changes["epochs"] = 3
    return changes, experiment.seeds[:2] if name == "table1" else experiment.seeds[:1]


def obtain(name: str, data: str, out: str | Path | None = None, smoke: bool = False,
           train: bool = False, profile: str | None = None, verbose: bool = False) -> list[RunResult]:
    """The runs of experiment ``name`` for a notebook: trained where missing when ``train`` (or
    ``smoke``), else loaded as they are; prints one line saying what was loaded from where, and
    the command that makes the missing runs. Never fails for lack of runs: returns those found.
    ``profile`` (e.g. ``"auto"``: the paper's settings on a GPU) replaces the experiment's CPU
    profile, except for the ``paper`` experiment."""
    experiment = EXPERIMENTS[name]
    changes, seeds = smoke_version(name) if smoke else ({}, experiment.seeds)
    if profile and not smoke and name != "paper":
        changes["profile"] = profile
    config = config_of(name, data, **changes)
    if train or smoke:
        found = train_all(config, experiment.strategies, seeds, out, verbose=verbose)
        missing = []
    else:
        found, missing = find_runs(config, experiment.strategies, seeds, out)
    where = found[0].folder.parents[1] if found else (missing[0].parents[1] if missing else out)
    line = f"{name}: {len(found)} of {len(found) + len(missing)} runs from {display_path(where)}"
    if missing:
        shown = display_path(data) if Path(data).is_absolute() else data   # relative: from the repository root
        line += f"; {len(missing)} missing — make them with `python -m bl_utils.study --data {shown} {name}`"
    print(line)
    return found


def data_statement(data: str, profile: str | None = "quick", smoke: bool = False) -> str:
    """Two lines for the top of a notebook: which data (name, images kept by the < 5 % rule, content
    fingerprint) and which training profile, with the encoder's initialisation."""
    source = bl_data.resolve_data(data)
    dataset = bl_data.load_busi(source.root, image_size=bl_data.PAPER_SIZE, distance_maps=False, progress=False)
    meta = dataset.meta
    copy = ((meta.orig_height == bl_data.PAPER_SIZE) & (meta.orig_width == bl_data.PAPER_SIZE)).all()
    line = (f"Data: {source.description.rstrip('.')}" + (" — a copy already resized to 256² with one merged mask per image"
                                             if copy and source.kind == "busi" else "")
            + f". {len(dataset)} images kept by the < 5 % rule; content fingerprint "
            f"{bl_data.content_fingerprint(dataset)}.")
    if profile is None:
        return line
    config = TrainConfig(data=str(data), profile="tiny" if smoke else profile).resolve()
    weights = config.encoder_weights or "random initialisation (ImageNet weights cannot be downloaded here)"
    return (line + f"\nProfile: {config.profile} — {config.image_size}², {config.encoder}, {config.epochs} epochs, "
            f"batch {config.batch_size}, Adam lr {config.lr:g}; encoder: {weights}.")


def pixel_phis(data: str) -> np.ndarray:
    """Φ_G in pixels at 256² of the images with a tumour that pass the < 5 % rule, ``(N, 256, 256)``."""
    dataset = bl_data.load_busi(bl_data.resolve_data(data).root, image_size=bl_data.PAPER_SIZE, progress=False)
    return dataset.phis[dataset.masks.reshape(len(dataset), -1).any(axis=1)]


def validation_images(data: str, run: RunResult) -> np.ndarray:
    """uint8 ``(N, H, W)`` validation images of ``run`` (its order, its image size), read from ``data``.
    Raises ``ValueError`` when ``data`` is not the data the run was trained on (other fingerprint)."""
    dataset = bl_data.load_busi(bl_data.resolve_data(data).root, image_size=bl_data.PAPER_SIZE,
                                max_tumour_fraction=run.settings["max_tumour_fraction"],
                                distance_maps=False, progress=False)
    if bl_data.content_fingerprint(dataset) != run.settings["data_fingerprint"]:
        raise ValueError(f"{data} is not the data {display_path(run.folder)} was trained on; point DATA at it.")
    where = {stem: i for i, stem in enumerate(dataset.meta.stem)}
    images = dataset.images[[where[s] for s in run.metadata["val_stems"]]]
    size = run.settings["image_size"]
    return bl_data.resize_images(images, (size, size))


def tables_dir(results_dir: str | Path | None = None) -> Path:
    """Where a notebook writes its tables: ``results_dir`` or :func:`bl_utils.config.default_results_dir`."""
    folder = Path(results_dir) if results_dir else default_results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_answer(folder: str | Path | None, name: str, markdown: str) -> Path:
    """Record a notebook's answer in plain words: ``<folder>/answers.json`` keeps one entry per
    ``name`` (a later call replaces it), and ``answers.md`` lists them all, which the report copies
    into the README. Returns the Markdown file's path."""
    folder = tables_dir(folder)
    store = folder / "answers.json"
    answers = json.loads(store.read_text()) if store.is_file() else {}
    text = markdown.strip()
    answers[name] = text[:1].upper() + text[1:]
    write_json(store, dict(sorted(answers.items())))
    with atomic_write(folder / "answers.md") as handle:
        handle.write("\n\n".join(f"**{title}** {body}" for title, body in sorted(answers.items())) + "\n")
    return folder / "answers.md"


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

    launch.add_arguments(parser)   # --launcher local/slurm: one submitit job per missing run
    args = parser.parse_args(argv)
    names = args.experiments or list(EXPERIMENTS)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment(s) {unknown}; choose from {', '.join(EXPERIMENTS)}")
    data = args.data if args.data == "synthetic" else str(Path(args.data).expanduser().resolve())
    if args.launcher != "none" and not args.list:   # every missing run of every experiment, one job array
        try:
            options, runs = launch.LaunchOptions.from_args(args), []
            for name in names:
                config = config_of(name, data)
                runs += launch.plan_runs(config, EXPERIMENTS[name].strategies, EXPERIMENTS[name].seeds,
                                         args.out, options.device_type(config))
            return launch.launch(runs, options, args.out)
        except (ValueError, launch.LaunchError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    for name in names:
        if args.list:
            found, missing = load_experiment(name, data, args.out)
            print(f"{name:>14}: {len(found)} complete, {len(missing)} missing — {EXPERIMENTS[name].title}")
        else:
            run_experiment(name, data, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
