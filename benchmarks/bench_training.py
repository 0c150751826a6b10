"""Benchmark of the training step: the trainer's own step, per epoch and per run, and what it adds to the model.

For each profile of :mod:`bl_utils.train` (``quick``: 128², ResNet-18; ``paper``: 256², ResNet-34),
at batch 16 (``--batch-size``), this times :func:`bl_utils.train.train_one_epoch` — the step that
``train()`` runs: batch indexing, forward under the run's autocast, ``StrategyLoss`` and its
finiteness check, backward, optimizer, running sums — one batch per call, on random BUSI-like
tensors of the right shape (ellipse masks covering 0.5–5 % of the image, a third of them empty,
Φ_G from :mod:`bl_utils.distance` divided by the image side). It also times
:func:`bl_utils.train.validate` (once per epoch) and, as a reference, the model's forward and
backward alone on the same batches: the difference is what the trainer adds (batch, loss,
optimizer, bookkeeping). Wall-clock ``time.perf_counter``, synchronising the GPU when there is one.

The strategy is ``rebalance`` at the middle of its ramp, where both the regional and the boundary
terms carry gradients (the most expensive case). Projections use the paper's split of BUSI
(340 training / 85 validation images; 20 epochs for ``paper``, 8 for ``quick``). The target: less
than 5 % of the time outside the model's forward and backward passes. Checkpoints and the
end-of-run evaluation are not included: ``benchmarks/bench_run.py`` times whole runs. Prints
numbers; asserts nothing (timings depend on the machine and its load).

Usage: ``python benchmarks/bench_training.py [--profiles quick paper] [--steps 5] [--warmup 1]
[--batch-size 16] [--amp auto|off|bf16|fp16] [--val-images 32] [--threads N]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import time

import numpy as np
import torch

from bench_maths import busi_like_masks
from bl_utils.distance import batch_signed_distance_maps
from bl_utils.losses import StrategyLoss
from bl_utils.runtime import get_device, machine_line
from bl_utils.schedules import make_strategy
from bl_utils.config import PROFILES, TrainConfig
from bl_utils.train import TrainingState, build_training, train_one_epoch, validate
from bl_utils.training_data import TrainingData

#: The paper's split of the 425 BUSI images kept by the 5 % rule.
N_TRAIN, N_VAL = 340, 85


def busi_like(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(images, masks, phis)`` float32 ``(n, 1, size, size)``: standardised images, ellipse masks
    covering 0.5–5 % of the image (a third of them empty) and Φ_G / size."""
    masks = busi_like_masks(n - n // 3, n // 3, size, seed)[:, None]   # a third of them empty
    rng = np.random.default_rng(seed + 1)
    images = (rng.normal(0.0, 1.0, masks.shape) - 1.5 * masks).astype(np.float32)
    phis = (batch_signed_distance_maps(masks) / float(size)).astype(np.float32)
    return torch.from_numpy(images), torch.from_numpy(masks.astype(np.float32)), torch.from_numpy(phis)


def training_data(n_train: int, n_val: int, size: int, device: torch.device) -> TrainingData:
    """A :class:`~bl_utils.training_data.TrainingData` of BUSI-like tensors on ``device``."""
    images, masks, phis = (t.to(device) for t in busi_like(n_train + n_val, size))
    stems = [f"image ({k})" for k in range(n_train + n_val)]
    return TrainingData(images[:n_train], masks[:n_train], phis[:n_train],
                        images[n_train:].contiguous(), masks[n_train:].contiguous(), phis[n_train:].contiguous(),
                        val_uint8=np.zeros((n_val, size, size), np.uint8), mean=0.0, std=1.0,
                        train_stems=stems[:n_train], val_stems=stems[n_train:], val_labels=["benign"] * n_val,
                        source="BUSI-like random tensors (bench_training)", kind="synthetic",
                        fingerprint="0" * 16, n_images=n_train + n_val, data_fingerprint="0" * 16)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _timed(function, device: torch.device) -> float:
    """Seconds that ``function()`` takes, the device synchronised before and after."""
    _sync(device)
    start = time.perf_counter()
    function()
    _sync(device)
    return time.perf_counter() - start


def _model_alone(state: TrainingState, images: torch.Tensor, config: TrainConfig) -> None:
    """The model's forward (under the run's autocast) and backward, without loss or optimizer."""
    dtype = torch.bfloat16 if config.amp == "bf16" else torch.float16
    if images.device.type in ("cpu", "cuda"):       # as the trainer does
        images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast(images.device.type, dtype=dtype, enabled=config.amp != "off"):
        logits = state.model(images)
    logits.float().mean().backward()
    state.optimizer.zero_grad(set_to_none=True)


def bench_profile(name: str, args: argparse.Namespace, device: torch.device) -> None:
    """Time the trainer's step, the model alone and validation for one profile, and print them."""
    config = TrainConfig(profile=name, strategy="rebalance", batch_size=args.batch_size, amp=args.amp,
                         encoder_weights=None, device=str(device)).resolve(device)
    bs, n_steps, n_val = config.batch_size, args.warmup + args.steps, min(args.val_images, N_VAL)
    print(f"\n== profile {name}: {config.image_size}×{config.image_size}, {config.encoder}, batch {bs}, "
          f"amp {config.amp}, {config.epochs} epochs; {args.warmup} warm-up + {args.steps} timed steps ==")
    data = training_data(bs * n_steps, n_val, config.image_size, device)
    state = TrainingState(*build_training(config, device, verbose=False))
    strategy = make_strategy(config.strategy, config.epochs)
    objective = StrategyLoss(strategy, regional=config.regional)
    epoch = (config.epochs - 1) // 2          # mid-ramp: both terms have a non-zero weight
    assert all(w > 0 for w in strategy.weights(float(epoch)))
    steps, model = [], []
    for k in range(n_steps):
        batch = slice(k * bs, (k + 1) * bs)
        one_batch = dataclasses.replace(data, train_images=data.train_images[batch],
                                        train_masks=data.train_masks[batch], train_phis=data.train_phis[batch])
        step = _timed(lambda: train_one_epoch(state, objective, one_batch, config, epoch, verbose=False), device)
        alone = _timed(lambda: _model_alone(state, data.train_images[batch], config), device)
        if k >= args.warmup:
            steps.append(step)
            model.append(alone)
    val = _timed(lambda: validate(state.model, data, config), device) * N_VAL / n_val
    _report(config, steps, model, val)


def _report(config: TrainConfig, steps: list[float], model: list[float], val: float) -> None:
    step, alone = statistics.median(steps), statistics.median(model)
    steps_per_epoch = math.ceil(N_TRAIN / config.batch_size)
    epoch_seconds = step * steps_per_epoch + val
    outside = max(step - alone, 0.0) * steps_per_epoch
    print(f"train_one_epoch, one batch: median {step * 1000:.0f} ms (min {min(steps) * 1000:.0f}, "
          f"max {max(steps) * 1000:.0f}) over {len(steps)} steps")
    print(f"model forward + backward alone: median {alone * 1000:.0f} ms; the trainer adds "
          f"{(step - alone) * 1000:.0f} ms per step (batch, loss, optimizer, bookkeeping)")
    print(f"validate ({N_VAL} images): {val:.2f} s per epoch")
    share = outside / epoch_seconds
    print(f"outside the model's forward/backward: {outside:.2f} s of {epoch_seconds:.2f} s per epoch = "
          f"{share:.1%} (target < 5 %: {'met' if share < 0.05 else 'NOT met'})")
    run = epoch_seconds * config.epochs
    print(f"projected on this machine ({N_TRAIN} train / {N_VAL} val images, {steps_per_epoch} steps per "
          f"epoch): {epoch_seconds:.0f} s per epoch, {run / 60:.1f} min per strategy "
          f"({config.epochs} epochs, without checkpoints and the final evaluation), "
          f"{4 * run / 60:.1f} min for the four strategies")


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
    args = parser.parse_args(argv)
    device = get_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine_line(device))
    for name in args.profiles:
        bench_profile(name, args, device)


if __name__ == "__main__":
    main()
