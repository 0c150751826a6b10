"""The study on BUSI as data: every group of runs the report publishes, and one command to make them.

Odonnat & Pham ran each of their four strategies once. The study here repeats them over seeds on
one fixed split (Table 1), runs the paper's profile, and adds the ablations that explain the
boundary loss and the annotation-noise runs of notebook 5. Each :class:`Experiment` is a profile,
strategies, seeds and the settings it changes; its runs live where :func:`bl_utils.config.run_folder`
puts them, so a notebook finds them from the same definition that made them::

    python -m bl_utils study --data ../shared/data/busi256 table1 paper phi_pixel   # train (resumable)
    python -m bl_utils study --list                                                  # what exists

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
from typing import Any, Sequence

import numpy as np

from .data import busi as bl_data
from .data.source import resolve_data
from . import launch
from .config import PROTOCOLS, TrainConfig, default_results_dir, run_folder
from .runs import RunResult, load_run
from .runtime import atomic_write, display_path, get_device, write_json
from .schedules import BASELINE, BOUNDARY_STRATEGIES, RAMP_STRATEGIES, STRATEGIES
from .train import run_order, train_all
from . import training_data

__all__ = ["Experiment", "EXPERIMENTS", "SEEDS", "ABLATION_SEEDS", "load_experiment", "config_of", "obtain",
           "smoke_version", "planned_runs", "find_runs", "published_data_id", "run_experiment", "data_facts", "profile_config", "pixel_phis", "tables_dir",
           "validation_images", "case_predictions", "write_answer", "runs_markdown"]

#: Seeds of Table 1 (initialisation and batch order; the split is the same for all).
SEEDS = (0, 1, 2, 3, 4)
#: Seeds of each ablation and of the annotation-noise runs.
ABLATION_SEEDS = (0, 1, 2)
@dataclass(frozen=True)
class Experiment:
    """A group of runs: ``strategies`` × ``seeds`` (× ``folds``) of ``protocol`` at ``profile``
    with ``settings`` changed (:data:`bl_utils.config.PROTOCOLS`)."""

    title: str
    profile: str = "quick"
    strategies: tuple[str, ...] = STRATEGIES
    seeds: tuple[int, ...] = SEEDS
    settings: dict[str, Any] = field(default_factory=dict)
    protocol: str = "earlier"
    folds: tuple[int | None, ...] = (None,)


#: Seeds of the study's repeated cross-validation (each seed: its own partition in 5 folds).
STUDY_SEEDS = (0, 1)
STUDY_FOLDS = (0, 1, 2, 3, 4)
#: Seeds of the external test trained so far (the first six; the final number is fixed from their sd,
#: :mod:`bl_utils.answers.external`).
EXTERNAL_SEEDS = (0, 1, 2, 3, 4, 5)

#: Every group of runs the report publishes, in the order they are trained.
EXPERIMENTS: dict[str, Experiment] = {
    "study": Experiment("The study: 425 tumour images, repeated 5-fold cross-validation, 20 epochs, poly decay",
                        protocol="study", seeds=STUDY_SEEDS, folds=STUDY_FOLDS),
    "external": Experiment("The external test: the four strategies trained on all 425 BUSI tumour images, "
                           "scored on BUS-BRA (another hospital)", protocol="external", seeds=EXTERNAL_SEEDS),
    "odonnat_pham": Experiment("Odonnat & Pham's protocol as their code ran it, CPU profile",
                               protocol="odonnat-pham", seeds=ABLATION_SEEDS),
    "odonnat_pham_paper": Experiment("Odonnat & Pham's protocol at their profile (256², ResNet-34)", profile="paper",
                                     protocol="odonnat-pham", seeds=(0,)),
    "table1": Experiment("Table 1: the four strategies, CPU profile, 5 seeds"),
    "paper": Experiment("Table 1 at Odonnat & Pham's profile (256², ResNet-34, 20 epochs)",
                        profile="paper", seeds=(0,)),
    "phi_pixel": Experiment("Ablation: Φ_G in pixels (the papers' units) instead of / image side",
                            strategies=BOUNDARY_STRATEGIES, seeds=ABLATION_SEEDS, settings={"phi_scale": "pixel"}),
    "phi_diagonal": Experiment("Ablation: Φ_G = +diagonal on normal images instead of 0",
                               strategies=BOUNDARY_STRATEGIES, seeds=ABLATION_SEEDS, settings={"phi_empty": "diagonal"}),
    "mask_noise_4": Experiment("Annotation noise: contours jittered by 4 px (at 256²)",
                               seeds=ABLATION_SEEDS, settings={"mask_noise": 4.0}),
    "mask_noise_8": Experiment("Annotation noise: contours jittered by 8 px (at 256²)",
                               seeds=ABLATION_SEEDS, settings={"mask_noise": 8.0}),
    "linear_20": Experiment("Ablation: linear 0 → 1 ramp over 20 epochs (with CE for reference)",
                            strategies=(BASELINE, *RAMP_STRATEGIES), seeds=ABLATION_SEEDS,
                            settings={"epochs": 20}),
    "kervadec_20": Experiment("Ablation: Kervadec et al.'s schedule over 20 epochs",
                              strategies=RAMP_STRATEGIES, seeds=ABLATION_SEEDS,
                              settings={"epochs": 20, "schedule": "kervadec"}),
}


def planned_runs(name: str, smoke: bool = False) -> int:
    """How many runs experiment ``name`` plans: strategies × seeds × folds (``smoke``: in the
    notebooks' smoke test, as :func:`obtain` trains them)."""
    experiment = EXPERIMENTS[name]
    seeds = smoke_version(name)[1] if smoke else experiment.seeds
    folds = experiment.folds[:2] if smoke else experiment.folds
    return len(experiment.strategies) * len(seeds) * len(folds)


def published_data_id(results_dir: str | os.PathLike | None = None) -> str | None:
    """The data id of the runs published in ``results_dir`` (default: ``results/`` of the checkout):
    the one ``busi-*`` folder there that holds complete runs, read from the runs themselves, so
    that notebooks show them without the images. ``None`` when there is none; ``ValueError`` when
    runs on several copies of BUSI are published (say which with ``DATA``)."""
    folder = Path(results_dir) if results_dir else default_results_dir()
    found = sorted(p.name for p in folder.glob("busi-*") if p.is_dir() and next(p.rglob("run.json"), None))
    if len(found) > 1:
        raise ValueError(f"{display_path(folder)} holds runs on several data ({', '.join(found)}): set DATA "
                         "to the BUSI folder whose runs you want")
    return found[0] if found else None


def find_runs(config: TrainConfig, strategies=STRATEGIES, seeds=(0,), out: str | os.PathLike | None = None,
              data_id: str | None = None, also: Sequence[str | os.PathLike] = (), folds=(None,)
              ) -> tuple[list[RunResult], list[Path]]:
    """The complete runs of ``config`` for ``strategies`` × ``seeds``, without training:
    ``(found, missing folders)``. A run is looked for in ``out`` (default: ``results/``), then in
    each folder of ``also``; a missing one is reported at its place in ``out``. ``data_id``: the
    data level of the folders (default: :func:`bl_utils.training_data.data_id_of` ``config.data``, which reads the data)."""
    device = get_device(config.device)
    data_id = data_id or training_data.data_id_of(config.data)
    places = [Path(out or default_results_dir()), *map(Path, also)]
    found, missing = [], []
    for seed, fold, name in run_order(strategies, seeds, folds):
        changes = {"seed": seed, "strategy": name, **({} if fold is None else {"fold": fold})}
        run = dataclasses.replace(config, **changes).resolve(device)
        folders = [run_folder(run, place, data_id) for place in places]
        complete = next((f for f in folders if (f / "run.json").is_file()), None)
        (found.append(load_run(complete)) if complete else missing.append(folders[0]))
    return found, missing


def config_of(name: str, data: str, **changes: Any) -> TrainConfig:
    """The :class:`~bl_utils.config.TrainConfig` of experiment ``name`` on ``data`` (strategy and
    seed are set per run); ``changes`` override anything (e.g. ``device``)."""
    experiment = EXPERIMENTS[name]
    return TrainConfig.of_protocol(experiment.protocol, **{"data": str(data), "profile": experiment.profile,
                                                           **experiment.settings, **changes})


def load_experiment(name: str, data: str, out: str | Path | None = None, **changes: Any
                    ) -> tuple[list[RunResult], list[Path]]:
    """The complete runs of experiment ``name`` in ``out`` and the folders of those missing."""
    experiment = EXPERIMENTS[name]
    return find_runs(config_of(name, data, **changes), experiment.strategies, experiment.seeds, out,
                     folds=experiment.folds)


def smoke_version(name: str) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The settings and seeds of experiment ``name`` in the notebooks' smoke test: the ``tiny``
    profile, at most 3 epochs, two seeds for Table 1 and one elsewhere."""
    experiment = EXPERIMENTS[name]
    changes: dict[str, Any] = {"profile": "tiny"}
    if "epochs" in experiment.settings or "epochs" in PROTOCOLS[experiment.protocol]:
        changes["epochs"] = 3
    return changes, experiment.seeds[:2] if name == "table1" else experiment.seeds[:1]


def obtain(name: str, data: str | None, out: str | Path | None = None, smoke: bool = False,
           train: bool = False, profile: str | None = None, verbose: bool = False,
           data_id: str | None = None, published: str | Path | None = None) -> list[RunResult]:
    """The runs of experiment ``name`` for a notebook; prints one line saying which runs it shows.

    Runs are looked for in ``out`` (the reader's own runs), then in ``published`` (default:
    ``results/`` of the checkout). ``train`` (or ``smoke``) trains the missing ones into ``out``
    (needs ``data``, the images). ``profile`` (e.g. ``"auto"``: the paper's settings on a GPU)
    replaces the experiment's CPU profile, except for the ``paper`` experiment. When nothing is
    found for this machine's settings (another profile, ImageNet weights where they can be
    downloaded) and nothing is trained, the published runs of the experiment as it is defined
    (its own profile, random encoder) are shown instead, and the line says so. ``data=None``:
    no images at hand; ``data_id`` names the data of the runs. Never fails for lack of runs.
    """
    experiment = EXPERIMENTS[name]
    changes, seeds = smoke_version(name) if smoke else ({}, experiment.seeds)
    folds = experiment.folds[:2] if smoke else experiment.folds
    if profile and not smoke and experiment.profile != "paper":
        changes["profile"] = profile
    config = config_of(name, data or "synthetic", **changes)
    published = Path(published) if published else default_results_dir()
    also = [published] if out and Path(out).resolve() != published.resolve() else []
    data_id = data_id or training_data.data_id_of(data)
    note = ""
    if (train or smoke) and data is not None:
        found, missing = train_all(config, experiment.strategies, seeds, out, verbose=verbose, folds=folds), []
    else:
        found, missing = find_runs(config, experiment.strategies, seeds, out, data_id, also, folds)
        if not found:
            as_defined = config_of(name, data or "synthetic", encoder_weights=None)
            shown, absent = find_runs(as_defined, experiment.strategies, experiment.seeds, published, data_id,
                                      folds=experiment.folds)
            if shown:
                resolved = config.resolve()
                note = (f" (the published runs; this machine's settings, {resolved.profile} profile with "
                        f"{resolved.encoder_weights or 'a random'} encoder, have none"
                        + ("" if data is None else ": TRAIN = True trains them") + ")")
                found, missing = shown, absent
    variant = lambda folder: folder.parents[2] if folder.name.startswith("fold") else folder.parents[1]
    where = f"from {display_path(variant(found[0].folder))}" if found else f"({variant(missing[0]).name})" if missing else ""
    print(f"{name}: {len(found)} of {len(found) + len(missing)} runs {where}{note}")
    return found


def data_facts(data: str) -> dict[str, Any]:
    """What a notebook says about its data, without its folder (a published notebook holds no
    machine's path): ``description`` (name and classes), ``fingerprint`` (of the content) and
    ``resized_copy`` (True for a BUSI copy already at 256² with one merged mask per image)."""
    source, fingerprint = training_data.data_identity(data)
    resized_copy = False
    if source.kind == "busi":
        meta = bl_data.load_busi(source.root, image_size=bl_data.PAPER_SIZE, max_tumour_fraction=None,
                                 distance_maps=False, progress=False).meta
        resized = (meta.orig_height == bl_data.PAPER_SIZE) & (meta.orig_width == bl_data.PAPER_SIZE)
        resized_copy = bool(((meta.size_source == "manifest.csv") | resized).all())
    return {"description": source.description, "fingerprint": fingerprint, "resized_copy": resized_copy}


def profile_config(profile: str, smoke: bool = False) -> TrainConfig:
    """The resolved settings of ``profile`` on this machine (``tiny`` in the smoke test)."""
    return TrainConfig(data="synthetic", profile="tiny" if smoke else profile).resolve()


def pixel_phis(data: str) -> np.ndarray:
    """Φ_G in pixels at 256² of the images with a tumour that pass the < 5 % rule, ``(N, 256, 256)``."""
    dataset = bl_data.load_busi(resolve_data(data).root, image_size=bl_data.PAPER_SIZE, progress=False)
    return dataset.phis[dataset.masks.reshape(len(dataset), -1).any(axis=1)]


def validation_images(data: str, run: RunResult) -> np.ndarray:
    """uint8 ``(N, H, W)`` validation images of ``run`` (its order, its image size), read from ``data``.
    Raises ``ValueError`` when ``data`` is not the data the run was trained on (other fingerprint)."""
    dataset = bl_data.load_busi(resolve_data(data).root, image_size=bl_data.PAPER_SIZE,
                                max_tumour_fraction=run.settings["max_tumour_fraction"],
                                include_normal=run.settings.get("include_normal", True),
                                distance_maps=False, progress=False)
    if bl_data.content_fingerprint(dataset) != run.settings["data_fingerprint"]:
        raise ValueError(f"{data} is not the data {display_path(run.folder)} was trained on; point DATA at it.")
    where = {stem: i for i, stem in enumerate(dataset.meta.stem)}
    images = dataset.images[[where[s] for s in run.metadata["val_stems"]]]
    size = run.settings["image_size"]
    return bl_data.resize_images(images, (size, size))


def case_predictions(data: str, runs_by_strategy: dict[str, Sequence[RunResult]], stems: Sequence[str],
                     checkpoint: str = "final") -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The validation images ``stems``, each from the run (the fold) that scored it: uint8 images
    ``(N, H, W)`` read from ``data``, bool ground truths ``(N, H, W)``, and per strategy its bool
    predictions ``(N, H, W)`` at ``checkpoint``. ``runs_by_strategy``: every strategy's runs of one
    seed (its folds); the first strategy's runs give the images. Raises ``KeyError`` naming a stem
    no run of a strategy scored."""
    from .runs import load_predictions

    def scored(runs):
        table = {}
        for r in runs:
            predictions = load_predictions(r.folder)
            table.update({stem: (r, predictions, k) for k, stem in enumerate(predictions["stems"])})
        return table

    by_strategy = {name: scored(runs) for name, runs in runs_by_strategy.items()}
    for name, table in by_strategy.items():
        missing = [s for s in stems if s not in table]
        if missing:
            raise KeyError(f"no run of {name} scored {missing}: give the runs of the folds that hold them.")
    first = by_strategy[next(iter(by_strategy))]
    images = {}
    for run in {id(first[s][0]): first[s][0] for s in stems}.values():
        images.update(zip(run.metadata["val_stems"], validation_images(data, run)))
    truths = np.stack([first[s][1]["truth"][first[s][2]] for s in stems])
    predictions = {name: np.stack([table[s][1][checkpoint][table[s][2]] for s in stems])
                   for name, table in by_strategy.items()}
    return np.stack([images[s] for s in stems]), truths, predictions


def runs_markdown(results_dir: str | Path | None = None) -> str:
    """A Markdown table of every experiment's committed runs in ``results_dir`` (default
    ``results/``): complete and planned, counted from the run folders (no images needed)."""
    folder = Path(results_dir) if results_dir else default_results_dir()
    data_id = published_data_id(folder)
    if data_id is None:
        return "No published runs."
    rows = ["| group of runs | protocol | profile | complete | planned |", "|---|---|---|---|---|"]
    for name, experiment in EXPERIMENTS.items():
        found, missing = find_runs(config_of(name, "synthetic", encoder_weights=None), experiment.strategies,
                                   experiment.seeds, folder, data_id, folds=experiment.folds)
        rows.append(f"| {experiment.title} | {experiment.protocol} | {experiment.profile} | {len(found)} | "
                    f"{len(found) + len(missing)} |")
    return "\n".join(rows)


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


def run_experiment(name: str, data: str, out: str | Path | None = None, seeds: Sequence[int] | None = None,
                   **changes: Any) -> list[RunResult]:
    """Train (or load) every run of experiment ``name`` (only ``seeds`` of them, when given); resumable."""
    experiment = EXPERIMENTS[name]
    seeds = experiment.seeds if seeds is None else [s for s in experiment.seeds if s in seeds]
    return train_all(config_of(name, data, **changes), experiment.strategies, seeds, out, folds=experiment.folds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bl_utils study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="*", help=f"any of {', '.join(EXPERIMENTS)} (default: all)")
    parser.add_argument("--data", required=True, help="the BUSI folder (or 'synthetic')")
    parser.add_argument("--out", default=None, help="results folder (default: results/ of the checkout)")
    parser.add_argument("--list", action="store_true", help="say which runs exist; train nothing")
    parser.add_argument("--seeds", type=int, nargs="+", help="train only these of each experiment's seeds")

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
                                         args.out, options.device_type(config), folds=EXPERIMENTS[name].folds)
            return launch.launch(runs, options, args.out)
        except (ValueError, launch.LaunchError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    for name in names:
        if args.list:
            found, missing = load_experiment(name, data, args.out)
            print(f"{name:>14}: {len(found)} complete, {len(missing)} missing — {EXPERIMENTS[name].title}")
        else:
            run_experiment(name, data, args.out, seeds=args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
