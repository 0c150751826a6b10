"""Benchmark of the maths: distance maps and the cost of the boundary term in a training step.

Prints numbers measured side by side in one run (no assertions; timings depend on the machine
and on what else runs on it):

1. Φ_G for 425 masks of 256×256 like BUSI's (292 random ellipses covering 0.5–5 % of the image,
   133 empty masks): ``bl_utils.distance.batch_signed_distance_maps`` versus the plain per-image
   reference formula (``edt(~m) * ~m - (edt(m) - 1) * m``, zeros for an empty mask as in
   ``one_hot2dist``). Target: ratio ours/baseline <= 1.0.
2. One training step of the report's model (``smp.Unet("resnet34", encoder_weights=None,
   in_channels=1, classes=1)``, batch 16, Adam lr 1e-3, channels_last, bf16 autocast on the CPU)
   with strategy ``ce`` versus ``ce+bl``, A/B interleaved, medians. Target: ratio <= 1.02.

Usage: ``python benchmarks/bench_maths.py [--image-size 256] [--steps 5] [--warmup 3]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from bl_utils.distance import batch_signed_distance_maps
from bl_utils.losses import StrategyLoss


def busi_like_masks(n_tumour: int = 292, n_empty: int = 133, size: int = 256, seed: int = 0) -> np.ndarray:
    """Random rotated ellipses covering 0.5–5 % of the image, then empty masks, shuffled: (N, H, W) bool."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    masks = np.zeros((n_tumour + n_empty, size, size), bool)
    for i in range(n_tumour):
        area = rng.uniform(0.005, 0.05) * size * size
        ratio = rng.uniform(1.0, 2.5)
        a = np.sqrt(area * ratio / np.pi)
        b = area / (np.pi * a)
        cy, cx = rng.uniform(0.2, 0.8, 2) * size
        th = rng.uniform(0, np.pi)
        u = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
        v = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
        masks[i] = (u / a) ** 2 + (v / b) ** 2 <= 1
    return masks[rng.permutation(len(masks))]


def baseline_maps(masks: np.ndarray) -> np.ndarray:
    """The reference formula applied image by image (one_hot2dist's loop, empty -> zeros)."""
    out = np.zeros(masks.shape, np.float32)
    for i, m in enumerate(masks):
        if m.any():
            out[i] = distance_transform_edt(~m) * ~m - (distance_transform_edt(m) - 1) * m
    return out


def bench_distance(repeats: int, size: int) -> None:
    masks = busi_like_masks(size=size)
    n_empty = int((~masks.any(axis=(1, 2))).sum())
    frac = masks.mean(axis=(1, 2))
    print(f"[1] distance maps: {len(masks)} masks {size}x{size} ({n_empty} empty; tumour fraction "
          f"{frac[frac > 0].min():.3%}-{frac.max():.3%}), {repeats} interleaved repeats, median")
    ours_t, base_t = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        ours = batch_signed_distance_maps(masks[:, None], empty="zero")[:, 0]
        ours_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        base = baseline_maps(masks)
        base_t.append(time.perf_counter() - t)
    same = np.array_equal(ours, base)
    o, b = statistics.median(ours_t), statistics.median(base_t)
    print(f"    ours     batch_signed_distance_maps : {o:7.3f} s  ({o / len(masks) * 1e3:.2f} ms/mask)")
    print(f"    baseline per-image scipy reference  : {b:7.3f} s  ({b / len(masks) * 1e3:.2f} ms/mask)")
    print(f"    ratio ours/baseline = {o / b:.3f}  (target <= 1.0); identical maps (empty='zero'): {same}")


def bench_training(size: int, steps: int, warmup: int, batch: int = 16) -> None:
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    model = smp.Unet("resnet34", encoder_weights=None, in_channels=1, classes=1)
    model = model.to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    masks = busi_like_masks(n_tumour=batch - 2, n_empty=2, size=size, seed=1)
    x = torch.rand(batch, 1, size, size).to(memory_format=torch.channels_last)
    y = torch.from_numpy(masks[:, None].astype(np.float32))
    phi = torch.from_numpy(batch_signed_distance_maps(masks[:, None]))
    losses = {name: StrategyLoss(name, epochs=20) for name in ("ce", "ce+bl")}

    def step(name: str) -> float:
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x)
            total, _ = losses[name](logits, y, phi, epoch=5)
        total.backward()
        opt.step()
        return time.perf_counter() - t

    print(f"[2] training step: smp.Unet(resnet34), batch {batch}, 1x{size}x{size}, Adam 1e-3, "
          f"channels_last + bf16 autocast, CPU threads {torch.get_num_threads()}; "
          f"{warmup} warm + {steps} timed steps each, A/B alternated, median")
    times: dict[str, list[float]] = {"ce": [], "ce+bl": []}
    for i in range(warmup + steps):
        order = ("ce", "ce+bl") if i % 2 == 0 else ("ce+bl", "ce")  # ABBA: no order bias
        for name in order:
            dt = step(name)
            if i >= warmup:
                times[name].append(dt)
    a, b = statistics.median(times["ce"]), statistics.median(times["ce+bl"])
    print(f"    ce    : {a:7.3f} s/step  (all: {', '.join(f'{t:.2f}' for t in times['ce'])})")
    print(f"    ce+bl : {b:7.3f} s/step  (all: {', '.join(f'{t:.2f}' for t in times['ce+bl'])})")
    print(f"    ratio ce+bl/ce = {b / a:.3f}  (target <= 1.02)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per strategy")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps per strategy")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the distance-map benchmark")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"torch {torch.__version__}, numpy {np.__version__}")
    bench_distance(args.repeats, args.image_size)
    if not args.skip_training:
        bench_training(args.image_size, args.steps, args.warmup)


if __name__ == "__main__":
    main()
