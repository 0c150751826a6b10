"""Wall time of one full training run per profile on this machine: one epoch timed, then extrapolated.

For each profile (default ``quick`` and ``paper``) this runs :func:`bl_utils.train.train` itself
for ``--epochs`` epochs (default 1) of strategy ``rebalance`` (both loss terms active) in a
temporary results folder, on the built-in synthetic data by default or on BUSI with ``--data``,
and splits the wall time into:

* preparing the data (:func:`bl_utils.training_data.prepare_data`: loading, the split, resizing, Φ_G;
  done once per data setting and shared by the runs of ``train_all``);
* one epoch (training and validation: the run's per-epoch ``seconds``);
* the rest of the run (building the model, checkpoints, and the end-of-run evaluation: the best
  and final epochs scored image by image, the degraded-image evaluation, the run's files).

A full run is projected as ``rest + epochs × epoch`` with the profile's epochs (checkpoints are
counted once, so this slightly underestimates long runs); four strategies add the data
preparation once. ``--max-images`` limits the data (and then the times are for that data, not for
BUSI's 425 images). Prints numbers; asserts nothing (timings depend on the machine and its load).

Usage: ``python benchmarks/bench_run.py [--profiles quick paper] [--data synthetic|PATH|kaggle]
[--epochs 1] [--max-images N] [--weights none|imagenet] [--amp auto] [--threads N] [--device D]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from bl_utils import train as bl_train
from bl_utils.config import PROFILES, TrainConfig
from bl_utils.data.source import resolve_data
from bl_utils.runtime import get_device, machine_line
from bl_utils.training_data import prepare_data


def time_run(name: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """Seconds to prepare the data, per epoch and for the rest of a run of profile ``name``, and
    the projection of a full run; prints them."""
    weights = None if args.weights == "none" else args.weights
    config = TrainConfig(profile=name, strategy="rebalance", data=args.data, epochs=args.epochs,
                                  max_images=args.max_images, encoder_weights=weights, amp=args.amp,
                                  device=str(device)).resolve(device)
    start = time.perf_counter()
    data = prepare_data(config, device, verbose=False)
    prepare = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="bench_run-") as out:
        start = time.perf_counter()
        result = bl_train.train(config, out=out, resume=False, verbose=False, data=data)
        total = time.perf_counter() - start
    epoch = float(result.history.seconds.mean())
    rest = total - float(result.history.seconds.sum())
    epochs = PROFILES[name]["epochs"]
    run = rest + epochs * epoch
    print(f"\n== {name}: {config.image_size}×{config.image_size}, {config.encoder} "
          f"({config.encoder_weights or 'random init'}), batch {config.batch_size}, amp {config.amp}; "
          f"{config.epochs} of {epochs} epochs timed on {len(data.train_stems)} train / "
          f"{len(data.val_stems)} validation images ==")
    print(f"prepare the data (load, split, resize, Φ_G), once per data setting: {prepare:8.1f} s")
    print(f"one epoch (train + validate):                                      {epoch:8.1f} s")
    print(f"rest of a run (model, checkpoints, end-of-run evaluation, files):  {rest:8.1f} s")
    print(f"one full run ({epochs} epochs): {run / 60:.1f} min; the four strategies: "
          f"{(prepare + 4 * run) / 60:.1f} min")
    return {"prepare": prepare, "epoch": epoch, "rest": rest, "run": run}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="+", default=["quick", "paper"], choices=sorted(PROFILES))
    parser.add_argument("--data", default="synthetic",
                        help="'synthetic' (default), the BUSI folder, or 'kaggle' (bl_utils.data.source.resolve_data)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs actually trained (default 1)")
    parser.add_argument("--max-images", type=int, default=None, help="use only this many images")
    parser.add_argument("--weights", default="none", choices=["none", "imagenet"],
                        help="encoder initialisation (default none: no download; the time per epoch is the same)")
    parser.add_argument("--amp", default="auto", choices=["auto", "off", "bf16", "fp16"])
    parser.add_argument("--device", default=None, help="default: get_device()")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    device = get_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine_line(device))
    print(f"data: {resolve_data(args.data).description}")
    for name in args.profiles:
        time_run(name, args, device)


if __name__ == "__main__":
    main()
