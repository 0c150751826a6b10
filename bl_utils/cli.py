"""The command line of the trainer: ``python -m bl_utils train``.

Trains (or loads) the runs of every strategy and seed asked for, in this process
(:func:`bl_utils.train.train_all`) or, with ``--launcher local|slurm``, as one submitit job per missing run
(:mod:`bl_utils.launch`); prints Table 1 of the runs. Every :class:`~bl_utils.config.TrainConfig` setting
is a flag (``--phi-scale pixel``, ``--mask-noise 4``); a relative ``--data`` is read from where you type it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from .data.dataset import DataError
from . import launch, train
from .config import PROFILES, PROTOCOLS, TrainConfig
from .answers.earlier import table1
from .schedules import STRATEGIES
from .train import TrainingError, train_all

__all__ = ["main"]


def _parse_args(argv: list[str] | None) -> tuple[TrainConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m bl_utils train", description=train.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategy", default="all", help=f"one of {', '.join(STRATEGIES)}, or 'all'")
    parser.add_argument("--profile", default="auto", choices=["auto", *PROFILES])
    parser.add_argument("--data", default=os.environ.get("BUSI_DIR", "synthetic"),
                        help="'synthetic' or the BUSI folder (default: $BUSI_DIR, else synthetic)")
    parser.add_argument("--out", default=None, help="results folder (default: results/ of the checkout)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--protocol", default="study", choices=list(PROTOCOLS),
                        help="the named settings the others override (default: the study's)")
    parser.add_argument("--fold", type=int, help="which fold validates (protocols with folds; default 0)")
    parser.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    parser.add_argument("--no-noise-eval", action="store_true", help="skip the degraded-image evaluation")
    for name in ("image_size", "epochs", "batch_size", "max_images", "split_seed"):
        parser.add_argument("--" + name.replace("_", "-"), type=int)
    for name in ("lr", "alpha", "ramp_end", "mask_noise"):
        parser.add_argument("--" + name.replace("_", "-"), type=float)
    for name in ("encoder", "schedule", "phi_scale", "phi_empty", "regional", "amp", "device"):
        parser.add_argument("--" + name.replace("_", "-"))
    parser.add_argument("--no-imagenet", action="store_true", help="random encoder initialisation")
    launch.add_arguments(parser)   # --launcher {none,local,slurm}, --wait, Slurm resources
    args = parser.parse_args(argv)
    if args.fresh and args.launcher != "none":
        parser.error("--fresh trains here only; to start jobs over, delete their run folders first")
    overrides = {k: v for k, v in vars(args).items()
                 if v is not None and k in {f.name for f in dataclasses.fields(TrainConfig)}
                 and k not in ("strategy", "seeds", "protocol")}
    if args.data != "synthetic" and overrides.get("data"):
        overrides["data"] = str(Path(args.data).expanduser().resolve())   # from where the user typed it
    if args.no_imagenet:
        overrides["encoder_weights"] = None
    return TrainConfig.of_protocol(args.protocol, strategy="ce", **overrides), args


def main(argv: list[str] | None = None) -> int:
    config, args = _parse_args(argv)
    strategies = STRATEGIES if args.strategy == "all" else (args.strategy,)
    try:
        if args.launcher != "none":
            options = launch.LaunchOptions.from_args(args)
            runs = launch.plan_runs(config, strategies, args.seeds, args.out, options.device_type(config))
            return launch.launch(runs, options, args.out, evaluate_noise=not args.no_noise_eval)
        results = train_all(config, strategies=strategies, seeds=tuple(args.seeds), out=args.out,
                            resume=not args.fresh, evaluate_noise=not args.no_noise_eval)
    except (TrainingError, DataError, ValueError, launch.LaunchError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(table1(results).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0
