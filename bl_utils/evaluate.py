"""Evaluating a trained model: probabilities, thresholded masks, and scores on degraded images.

:func:`predict` runs the model on standardised images under the run's mixed-precision mode;
:func:`evaluate_corruptions` scores it on the validation images degraded by
:data:`bl_utils.noise.TEST_CORRUPTIONS` (each level seeded, so every run sees the same images and
comparisons between strategies are paired), against the clean masks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from . import noise
from .metrics import evaluate_masks

__all__ = ["autocast", "predict", "predict_masks", "evaluate_corruptions"]


def autocast(device: torch.device, amp: str):
    """``torch.autocast`` for ``amp`` (``"off"``: disabled, fp32; ``"bf16"``; ``"fp16"``)."""
    if amp == "off":
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, amp: str = "off",
            batch_size: int = 32) -> torch.Tensor:
    """Sigmoid probabilities ``(N, 1, H, W)`` float32 of ``model`` on standardised ``images``."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        if next(model.parameters()).is_contiguous(memory_format=torch.channels_last):
            chunk = chunk.contiguous(memory_format=torch.channels_last)
        with autocast(chunk.device, amp):
            out.append(torch.sigmoid(model(chunk).float()))
    return torch.cat(out)


def predict_masks(model, images: torch.Tensor, amp: str = "off") -> np.ndarray:
    """bool ``(N, H, W)``: the model's thresholded predictions (probability >= 0.5)."""
    return predict(model, images, amp)[:, 0].cpu().numpy() >= 0.5


def evaluate_corruptions(model: torch.nn.Module, data, amp: str = "off",
                         corruptions: dict[str, tuple[float, ...]] | None = None) -> pd.DataFrame:
    """``model`` on the validation images degraded by each corruption and level of
    :data:`bl_utils.noise.TEST_CORRUPTIONS` (seeded per level, so every run sees the same images).

    Returns one row per corruption, level and image: ``corruption, level`` and the columns of
    :func:`bl_utils.metrics.evaluate_masks` (against the clean masks).
    """
    truth = data.val_masks[:, 0].cpu().numpy() > 0.5
    tables = []
    for kind, levels in (corruptions or noise.TEST_CORRUPTIONS).items():
        for j, level in enumerate(levels):
            degraded = noise.corrupt(data.val_uint8, kind, level, seed=noise.corruption_seed(kind, j))
            images = (torch.from_numpy(degraded).float().div_(255.0).unsqueeze(1) - data.mean) / data.std
            table = evaluate_masks(predict_masks(model, images.to(data.val_images.device), amp), truth,
                                   stems=data.val_stems, labels=data.val_labels)
            tables.append(table.assign(corruption=kind, level=level))
    frame = pd.concat(tables, ignore_index=True)
    return frame[["corruption", "level"] + [c for c in frame.columns if c not in ("corruption", "level")]]
