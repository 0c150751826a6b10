"""Benchmark of the training loop: time per step, per epoch and per run, and where a step goes.

For each profile of :mod:`bl_utils.train` (``quick``: 128², ResNet-18; ``paper``: 256², ResNet-34),
at batch 16 (``--batch-size``), this runs a loop that mirrors ``train()`` line for line on random
BUSI-like tensors of the right shape (ellipse masks covering 0.5–5 % of the image, a third of them
empty, Φ_G from :mod:`bl_utils.distance` scaled by the image side) and times each phase with
``time.perf_counter`` (synchronising the GPU when there is one):

* per step: ``batch`` (batch indexing, channels_last copy), ``forward`` (the model, under the
  run's autocast), ``loss`` (``StrategyLoss``: BCE + boundary term + input checks, and the
  trainer's finiteness check), ``backward``, ``optimizer`` (``zero_grad`` + Adam step),
  ``bookkeeping`` (the running loss sums);
* per epoch: ``val forward`` (``predict`` on the validation images), ``val metrics``
  (``batch_dice``, tumour Dice, empty predictions) and ``checkpoints`` (``best.pt`` and
  ``last.pt``, written atomically: the worst case of an epoch that improves the best Dice).

The strategy is ``rebalance`` at the middle of its ramp, where both the regional and the boundary
terms carry gradients (the most expensive case). Projections use the paper's split of BUSI
(340 training / 85 validation images, 20 epochs for ``paper``, 8 for ``quick``): time per epoch,
per run of one strategy and per run of the four. The target: less than 5 % of the time outside
the model's forward and backward passes (batch indexing, loss, optimizer, validation metrics,
checkpoints). Prints numbers; asserts nothing (timings depend on the machine and its load).

Usage: ``python benchmarks/bench_training.py [--profiles quick paper] [--steps 5] [--warmup 1]
[--batch-size 16] [--amp auto|off|bf16|fp16] [--val-images 32] [--threads N]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench_maths import busi_like_masks
from bl_utils.distance import batch_signed_distance_maps
from bl_utils.losses import StrategyLoss
from bl_utils.metrics import batch_dice
from bl_utils.runtime import describe_device, get_device
from bl_utils.schedules import make_strategy
from bl_utils.train import (PROFILES, TrainConfig, _autocast, _checkpoint_state, _save_torch, batch_order,
                            build_training, predict)

#: The paper's split of the 425 BUSI images kept by the 5 % rule.
N_TRAIN, N_VAL = 340, 85
STEP_PHASES = ("batch", "forward", "loss", "backward", "optimizer", "bookkeeping")
MODEL_PHASES = ("forward", "backward")


def busi_like(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(images, masks, phis)`` float32 ``(n, 1, size, size)``: standardised images, ellipse masks
    covering 0.5–5 % of the image (a third of them empty) and Φ_G / size."""
    masks = busi_like_masks(n - n // 3, n // 3, size, seed)[:, None]   # a third of them empty
    rng = np.random.default_rng(seed + 1)
    images = (rng.normal(0.0, 1.0, masks.shape) - 1.5 * masks).astype(np.float32)
    phis = (batch_signed_distance_maps(masks) / float(size)).astype(np.float32)
    return torch.from_numpy(images), torch.from_numpy(masks.astype(np.float32)), torch.from_numpy(phis)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def bench_profile(name: str, args: argparse.Namespace, device: torch.device) -> None:
    config = TrainConfig(profile=name, batch_size=args.batch_size, amp=args.amp, encoder_weights=None,
                         device=str(device)).resolve(device)
    size, bs = config.image_size, config.batch_size
    n_steps = args.warmup + args.steps
    n_val = min(args.val_images, N_VAL)
    print(f"\n== profile {name}: {size}×{size}, {config.encoder}, batch {bs}, amp {config.amp}, "
          f"{config.epochs} epochs; {args.warmup} warm-up + {args.steps} timed steps ==")

    images, masks, phis = (t.to(device) for t in busi_like(bs * n_steps + n_val, size))
    train_images, train_masks, train_phis = images[:-n_val], masks[:-n_val], phis[:-n_val]
    val_images, val_masks = images[-n_val:].contiguous(), masks[-n_val:].contiguous()

    # --- as in train(): model, optimizer, scaler, objective
    model, optimizer, scaler, _ = build_training(dataclasses.replace(config, seed=0, encoder_weights=None),
                                                 device, verbose=False)
    channels_last = device.type in ("cpu", "cuda")
    strategy = make_strategy("rebalance", config.epochs)
    objective = StrategyLoss(strategy, regional=config.regional)
    epoch = (config.epochs - 1) // 2          # mid-ramp: both terms have a non-zero weight
    assert all(w > 0 for w in strategy.weights(float(epoch)))

    times: dict[str, list[float]] = {phase: [] for phase in STEP_PHASES}
    batches = batch_order(len(train_images), bs, seed=0, epoch=epoch)
    sums = torch.zeros(3, device=device)
    model.train()
    for step, index in enumerate(batches[:n_steps]):
        _sync(device)
        marks = [time.perf_counter()]

        def mark():
            _sync(device)
            marks.append(time.perf_counter())

        index = index.to(device)
        batch_images = train_images[index]
        if channels_last:
            batch_images = batch_images.contiguous(memory_format=torch.channels_last)
        batch_masks, batch_phis = train_masks[index], train_phis[index]
        mark()
        with _autocast(device, config.amp):
            logits = model(batch_images)
        mark()
        loss, terms = objective(logits.float(), batch_masks, batch_phis, epoch=float(epoch))
        if not torch.isfinite(loss):
            raise RuntimeError(f"non-finite loss at step {step + 1}")
        mark()
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
        else:
            loss.backward()
        mark()
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        mark()
        sums += torch.stack([loss.detach(), terms["regional"], terms["boundary"]]) * len(index)
        mark()
        if step >= args.warmup:
            for phase, start, stop in zip(STEP_PHASES, marks, marks[1:]):
                times[phase].append(stop - start)

    # --- once per epoch: validation and checkpoints
    _sync(device)
    start = time.perf_counter()
    probs = predict(model, val_images, config.amp)
    _sync(device)
    val_forward = (time.perf_counter() - start) * N_VAL / n_val
    start = time.perf_counter()
    dice = batch_dice(probs, val_masks, from_logits=False)
    tumour = val_masks.flatten(1).amax(1) > 0
    _ = (dice.mean().item(), dice[tumour].mean().item() if tumour.any() else float("nan"),
         int((probs.flatten(1).amax(1) < 0.5).sum()))
    val_metrics = (time.perf_counter() - start) * N_VAL / n_val
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        start = time.perf_counter()
        _save_torch(model.state_dict(), Path(tmp) / "best.pt")
        _save_torch(_checkpoint_state(model, optimizer, scaler, epoch, [], {}), Path(tmp) / "last.pt")
        checkpoints = time.perf_counter() - start
        checkpoint_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20

    # --- report
    medians = {phase: statistics.median(values) for phase, values in times.items()}
    step = statistics.median([sum(values) for values in zip(*times.values())])
    steps_per_epoch = math.ceil(N_TRAIN / bs)
    per_epoch = {phase: medians[phase] * steps_per_epoch for phase in STEP_PHASES}
    per_epoch.update({"val forward": val_forward, "val metrics": val_metrics, "checkpoints": checkpoints})
    epoch_seconds = sum(per_epoch.values())
    print(f"step: median {step * 1000:.0f} ms (min {min(map(sum, zip(*times.values()))) * 1000:.0f}, "
          f"max {max(map(sum, zip(*times.values()))) * 1000:.0f}) over {args.steps} steps")
    print(f"{'phase':<13}{'per step ms':>12}{'per epoch s':>13}{'share':>8}")
    for phase, seconds in per_epoch.items():
        per_step = f"{medians[phase] * 1000:12.1f}" if phase in medians else f"{'—':>12}"
        print(f"{phase:<13}{per_step}{seconds:13.2f}{seconds / epoch_seconds:8.1%}")
    model_seconds = sum(per_epoch[p] for p in (*MODEL_PHASES, "val forward"))
    outside = epoch_seconds - model_seconds
    share = outside / epoch_seconds
    print(f"checkpoints: {checkpoint_mb:.0f} MB per epoch (best.pt + last.pt)")
    print(f"outside the model's forward/backward: {outside:.2f} s of {epoch_seconds:.2f} s per epoch = "
          f"{share:.1%} (target < 5 %: {'met' if share < 0.05 else 'NOT met'}); "
          f"optimizer alone {per_epoch['optimizer'] / epoch_seconds:.1%}, "
          f"loss alone {per_epoch['loss'] / epoch_seconds:.1%}")
    run = epoch_seconds * config.epochs
    print(f"projected on this machine ({N_TRAIN} train / {N_VAL} val images, {steps_per_epoch} steps per "
          f"epoch): {epoch_seconds:.0f} s per epoch, {run / 60:.1f} min per strategy "
          f"({config.epochs} epochs), {4 * run / 60:.1f} min for the four strategies")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="+", default=["quick", "paper"], choices=sorted(PROFILES))
    parser.add_argument("--steps", type=int, default=5, help="timed steps per profile")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--amp", default="auto", choices=["auto", "off", "bf16", "fp16"])
    parser.add_argument("--val-images", type=int, default=32,
                        help=f"validation images timed (scaled to {N_VAL})")
    parser.add_argument("--device", default=None, help="default: get_device()")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's, one per core); on a CPU shared with "
                             "other jobs, 1 thread can be much faster than 2")
    parser.add_argument("--tmp", default=None, help="folder for the checkpoint timing (default: system temp)")
    args = parser.parse_args(argv)
    device = get_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    load = " · load average %.1f %.1f %.1f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    print(f"torch {torch.__version__} · {describe_device(device)} · {os.cpu_count()} CPUs · "
          f"{platform.processor() or platform.machine()}{load}")
    for name in args.profiles:
        bench_profile(name, args, device)


if __name__ == "__main__":
    main()
