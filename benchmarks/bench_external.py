"""Benchmark of the external scoring: one model on every BUS-BRA image, as each run does at its end.

Times :func:`bl_utils.evaluate.evaluate_external` for a quick-profile U-Net (ResNet-18, 128², random
weights: the time does not depend on what the model learnt, except through the number of predicted
pixels the surface metrics visit) in the run's AMP mode: the predictions of the 1,875 images, then
Dice, IoU, HD95, ASSD, NSD and components image by image. Also times reading BUS-BRA (from the cache
after the first time). Needs BUS-BRA (``BUSBRA_DIR`` or ``../shared/data/busbra``). Prints seconds;
asserts nothing.

Usage: ``python benchmarks/bench_external.py [--size 128] [--repeats 1]``. Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import torch

from bl_utils.config import TrainConfig
from bl_utils.data import busbra, busi
from bl_utils.evaluate import evaluate_external, predict_masks
from bl_utils.runtime import get_device, machine_line
from bl_utils.train import build_training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="the models' image size (the study's: 128)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    folder = busbra.resolve_external()
    if folder is None:
        print(f"BUS-BRA not found. {busbra.BUSBRA_HINT}")
        return
    device = get_device()
    print(machine_line(device))
    start = time.perf_counter()
    dataset = busbra.load_busbra(folder, progress=False)
    print(f"reading BUS-BRA (1,875 images at 256²{', cached' if dataset.from_cache else ''}): "
          f"{time.perf_counter() - start:.1f} s")
    size = (args.size, args.size)
    images = torch.from_numpy(busi.resize_images(dataset.images, size)).float().div_(255.0).unsqueeze(1)
    data = SimpleNamespace(external_images=((images - images.mean()) / images.std()).to(device),
                           external_masks=busi.resize_masks(dataset.masks, size),
                           external_meta=dataset.meta[["stem", "label", "patient", "scanner", "birads",
                                                       "tumour_fraction"]].reset_index(drop=True))
    config = TrainConfig(data="synthetic", profile="quick", encoder_weights=None, image_size=args.size).resolve(device)
    model = build_training(config, device, verbose=False)[0]
    for _ in range(args.repeats):
        start = time.perf_counter()
        predict_masks(model, data.external_images, config.amp)
        predicted = time.perf_counter() - start
        start = time.perf_counter()
        evaluate_external(model, data, config.amp)
        print(f"{config.amp}, {args.size}²: predictions {predicted:.1f} s; predictions and every metric "
              f"{time.perf_counter() - start:.1f} s for {len(dataset)} images")


if __name__ == "__main__":
    main()
