"""The experiments as data: every group of runs the report publishes, planning, fetching, one command.

Each :class:`Experiment` is a protocol, a profile, strategies, seeds (and folds) and the settings it
changes; its runs live where :func:`bl_utils.config.run_folder` puts them, so a notebook finds them
from the same definition that made them (:func:`obtain`). The groups: the study (repeated 5-fold
cross-validation), the external test (trained on all 425 images, scored on BUS-BRA), Odonnat &
Pham's protocol as their code ran it, and the earlier protocol's Table 1, paper profile, ablations
and annotation-noise runs (the appendix)::

    python -m bl_utils study --data ../shared/data/busi256 study external   # train (resumable)
    python -m bl_utils study --list                                         # what exists
    python -m bl_utils study --data ../shared/data/busi256 --by-block --seeds 3 \
        study settings_alpha_px1 settings_alpha_px01 settings_kervadec      # (seed, fold) blocks in turn
    python -m bl_utils study --publish-runs ../campaign-results             # maintainers: into results/

Costs on two CPU cores with native bf16: a quick run ~1.5 min (8 epochs), ~4 min at 20 epochs;
a paper-profile run ~20 min (55–60 s per epoch).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from . import launch
from .config import PROFILES, PROTOCOLS, TrainConfig, default_results_dir, run_folder
from .runs import GZIPPED_TABLES, RunResult, load_run
from .runtime import display_path, get_device
from .schedules import BASELINE, BOUNDARY_STRATEGIES, RAMP_STRATEGIES, STRATEGIES
from .train import run_order, train_all
from . import training_data

__all__ = ["Experiment", "EXPERIMENTS", "SEEDS", "ABLATION_SEEDS", "STUDY_SEEDS", "STUDY_FOLDS", "EXTERNAL_SEEDS",
           "SETTINGS_SEEDS",
           "load_experiment", "config_of", "obtain", "smoke_version", "planned_runs", "find_runs", "published_data_id",
           "run_experiment", "block_order", "train_blocks", "publish_runs", "runs_markdown"]

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
    smoke_seeds: int = 1      # seeds in the notebooks' smoke test
    smoke_seed_values: tuple[int, ...] = ()   # the smoke test's seeds where not the first smoke_seeds
    scored_externally: bool = False   # new runs also scored on BUS-BRA when it is at hand (not in the runs' names)


#: Seeds of the study's repeated cross-validation (each seed: its own partition in 5 folds); seeds 0–1
#: first, then 2–3 (partitions keeping frames of one lesion together, every run also scored on BUS-BRA).
STUDY_SEEDS = (0, 1, 2, 3)
STUDY_FOLDS = (0, 1, 2, 3, 4)
#: Seeds of the settings arms (:mod:`bl_utils.answers.settings`): the study's new seeds, each (seed, fold) block
#: training the four strategies and then the arms on one machine, so every arm pairs with its base.
SETTINGS_SEEDS = (2, 3)
#: Seeds of the external test: the six first, then up to the final number fixed from their seed sd by the
#: rule stated before the first run (:func:`bl_utils.answers.external.final_seeds`): after seeds 0-5 the
#: comparisons needed 26, 15 and 30 seeds, so the final number is the cap, 16.
EXTERNAL_SEEDS = tuple(range(16))

#: Every group of runs the report publishes, in the order they are trained.
EXPERIMENTS: dict[str, Experiment] = {
    "study": Experiment("The study: 425 tumour images, repeated 5-fold cross-validation, 20 epochs, poly decay",
                        protocol="study", seeds=STUDY_SEEDS, folds=STUDY_FOLDS, scored_externally=True),
    "external": Experiment("The external test: the four strategies trained on all 425 BUSI tumour images, "
                           "scored on BUS-BRA (another hospital)", protocol="external", seeds=EXTERNAL_SEEDS),
    "settings_alpha_px1": Experiment("Settings: ce+bl with α = 1 for Φ_G in pixels (the papers'), α = 128 ÷ side",
                                     strategies=("ce+bl",), protocol="study", seeds=SETTINGS_SEEDS, folds=STUDY_FOLDS,
                                     smoke_seed_values=STUDY_SEEDS[:1],
                                     settings={"alpha": 128.0}),
    "settings_alpha_px01": Experiment("Settings: ce+bl with α = 0.1 for Φ_G in pixels, α = 12.8 ÷ side",
                                      strategies=("ce+bl",), protocol="study", seeds=SETTINGS_SEEDS, folds=STUDY_FOLDS,
                                      smoke_seed_values=STUDY_SEEDS[:1],
                                      settings={"alpha": 12.8}),
    "settings_kervadec": Experiment("Settings: rebalance with Kervadec et al.'s schedule (α = 0.01 + 0.01 per epoch)",
                                    strategies=("rebalance",), protocol="study", seeds=SETTINGS_SEEDS, folds=STUDY_FOLDS,
                                    smoke_seed_values=STUDY_SEEDS[:1],
                                    settings={"schedule": "kervadec"}),
    "odonnat_pham": Experiment("Odonnat & Pham's protocol as their code ran it, CPU profile",
                               protocol="odonnat-pham", seeds=ABLATION_SEEDS),
    "odonnat_pham_paper": Experiment("Odonnat & Pham's protocol at their profile (256², ResNet-34)", profile="paper",
                                     protocol="odonnat-pham", seeds=(0,)),
    "odonnat_pham_ce_cell": Experiment("Their CE cell as written: sigmoid BCE, SGD with momentum 0.9, the < 5 % "
                                       "selection, 30 epochs, CPU profile", strategies=("ce",),
                                       protocol="odonnat-pham", seeds=ABLATION_SEEDS,
                                       settings={"optimizer": "sgd", "regional": "bce", "max_tumour_fraction": 0.05,
                                                 "epochs": 30}),
    "table1": Experiment("Table 1: the four strategies, CPU profile, 5 seeds", smoke_seeds=2),
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
    seed are set per run); ``changes`` override anything (e.g. ``device``). An experiment
    ``scored_externally`` gets the BUS-BRA folder (:func:`bl_utils.data.busbra.resolve_external`) as its
    ``external`` when one is at hand."""
    experiment = EXPERIMENTS[name]
    if experiment.scored_externally and not changes.get("external"):
        from .data.busbra import resolve_external

        folder = resolve_external()
        changes = {**changes, **({"external": str(folder)} if folder else {})}
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
    profile and its epochs (2, whatever the experiment's), the experiment's ``smoke_seeds`` first seeds
    (or its ``smoke_seed_values``: the settings arms train the study's smoke seed, so that they pair)."""
    experiment = EXPERIMENTS[name]
    changes: dict[str, Any] = {"profile": "tiny"}
    if "epochs" in experiment.settings or "epochs" in PROTOCOLS[experiment.protocol]:
        changes["epochs"] = PROFILES["tiny"]["epochs"]
    return changes, experiment.smoke_seed_values or experiment.seeds[:experiment.smoke_seeds]


def obtain(name: str, data: str | None, out: str | Path | None = None, smoke: bool = False,
           train: bool = False, profile: str | None = None, verbose: bool = False,
           data_id: str | None = None, published: str | Path | None = None, external: str | None = None
           ) -> list[RunResult]:
    """The runs of experiment ``name`` for a notebook; prints one line saying which runs it shows.

    Runs are looked for in ``out`` (the reader's own runs), then in ``published`` (default:
    ``results/`` of the checkout). ``train`` (or ``smoke``) trains the missing ones into ``out``
    (needs ``data``, the images). ``profile`` (e.g. ``"auto"``: the paper's settings on a GPU)
    replaces the experiment's CPU profile, except for the ``paper`` experiment. When nothing is
    found for this machine's settings (another profile, ImageNet weights where they can be
    downloaded) and nothing is trained, the published runs of the experiment as it is defined
    (its own profile, random encoder) are shown instead, and the line says so. ``data=None``:
    no images at hand; ``data_id`` names the data of the runs; ``external``: the BUS-BRA folder new runs
    are scored on (default: :func:`bl_utils.data.busbra.resolve_external`'s). Never fails for lack of runs.
    """
    experiment = EXPERIMENTS[name]
    changes, seeds = smoke_version(name) if smoke else ({}, experiment.seeds)
    folds = experiment.folds[:2] if smoke else experiment.folds
    if profile and not smoke and experiment.profile != "paper":
        changes["profile"] = profile
    if external:
        changes["external"] = external
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


def run_experiment(name: str, data: str, out: str | Path | None = None, seeds: Sequence[int] | None = None,
                   **changes: Any) -> list[RunResult]:
    """Train (or load) every run of experiment ``name`` (only ``seeds`` of them, when given); resumable."""
    experiment = EXPERIMENTS[name]
    seeds = experiment.seeds if seeds is None else [s for s in experiment.seeds if s in seeds]
    return train_all(config_of(name, data, **changes), experiment.strategies, seeds, out, folds=experiment.folds)


def block_order(names: Sequence[str], seeds: Sequence[int] | None = None) -> list[tuple[int, int | None, str]]:
    """``(seed, fold, experiment)`` in the order a campaign trains them: seed by seed, fold by fold, and
    within each (seed, fold) block every experiment of ``names`` that has it, in the order given, so that a
    block's runs (the study's four strategies, then its arms) train one after the other on one machine
    and pair there. ``seeds``: only these (default: every seed of the named experiments)."""
    chosen = [(name, EXPERIMENTS[name]) for name in names]
    all_seeds = sorted({s for _, e in chosen for s in e.seeds if seeds is None or s in seeds})
    all_folds = list(dict.fromkeys(f for _, e in chosen for f in e.folds))
    return [(seed, fold, name) for seed in all_seeds for fold in all_folds for name, e in chosen
            if seed in e.seeds and fold in e.folds]


def train_blocks(names: Sequence[str], data: str, out: str | Path | None = None,
                 seeds: Sequence[int] | None = None) -> list[RunResult]:
    """Train (or load) the runs of ``names`` block by block (:func:`block_order`); resumable."""
    results = []
    for seed, fold, name in block_order(names, seeds):
        experiment = EXPERIMENTS[name]
        results += train_all(config_of(name, data), experiment.strategies, [seed], out, folds=[fold])
    return results


def publish_runs(source: str | Path, results: str | Path | None = None) -> list[Path]:
    """Copy every complete run under ``source`` (the results folder a campaign wrote) that ``results``
    (default: ``results/`` of the checkout) lacks: its files without checkpoints (``*.pt``), the
    :data:`bl_utils.runs.GZIPPED_TABLES` gzipped (reproducibly: no name, no time stamp). A run is
    complete when its ``run.json`` says so; each is written under a temporary name and renamed, so
    nothing is half-copied. Returns the new run folders."""
    source, results = Path(source), Path(results) if results else default_results_dir()
    copied = []
    for record in sorted(source.rglob("run.json")):
        target = results / record.parent.relative_to(source)
        if (target / "run.json").is_file() or not json.loads(record.read_text()).get("complete"):
            continue
        staging = target.with_name(target.name + ".copying")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for path in sorted(p for p in record.parent.iterdir() if p.is_file() and p.suffix != ".pt"):
            if path.name not in GZIPPED_TABLES:
                shutil.copyfile(path, staging / path.name)
                continue
            with open(path, "rb") as plain, open(staging / f"{path.name}.gz", "wb") as raw, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
                shutil.copyfileobj(plain, packed)
        shutil.rmtree(target, ignore_errors=True)   # an unfinished copy (no run.json) only
        staging.rename(target)
        copied.append(target)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bl_utils study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="*", help=f"any of {', '.join(EXPERIMENTS)} (default: all)")
    parser.add_argument("--data", help="the BUSI folder (or 'synthetic'); needed except with --publish-runs")
    parser.add_argument("--out", default=None, help="results folder (default: results/ of the checkout)")
    parser.add_argument("--list", action="store_true", help="say which runs exist; train nothing")
    parser.add_argument("--seeds", type=int, nargs="+", help="train only these of each experiment's seeds")
    parser.add_argument("--publish-runs", metavar="DIR", type=Path,
                        help="maintainers: copy the complete runs under DIR into --out (default results/), without "
                             "checkpoints, their large tables gzipped; train nothing")
    parser.add_argument("--by-block", action="store_true",
                        help="train (seed, fold) blocks in turn, each block every named experiment's runs, so that "
                             "the runs of a block pair on one machine (default: experiment by experiment)")

    launch.add_arguments(parser)   # --launcher local/slurm: one submitit job per missing run
    args = parser.parse_args(argv)
    if args.publish_runs:
        copied = publish_runs(args.publish_runs, args.out)
        print(f"{len(copied)} complete runs copied from {display_path(args.publish_runs)}")
        return 0
    if not args.data:
        parser.error("--data is required: the BUSI folder, or 'synthetic'")
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
    if args.by_block and not args.list:
        train_blocks(names, data, args.out, seeds=args.seeds)
        return 0
    for name in names:
        if args.list:
            found, missing = load_experiment(name, data, args.out)
            print(f"{name:>14}: {len(found)} complete, {len(missing)} missing — {EXPERIMENTS[name].title}")
        else:
            run_experiment(name, data, args.out, seeds=args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
