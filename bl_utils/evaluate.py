"""Evaluating a trained model: probabilities, thresholded masks, and scores on degraded images.

:func:`predict` runs the model on standardised images under the run's mixed-precision mode;
:func:`evaluate_corruptions` scores it on the validation images degraded by
:data:`bl_utils.noise.TEST_CORRUPTIONS` (each level seeded, so every run sees the same images and
comparisons between strategies are paired), against the clean masks; :func:`evaluate_external`
scores it on another hospital's images (BUS-BRA, :mod:`bl_utils.data.busbra`), by the rules of
:data:`EXTERNAL_SCORING`, fixed before the external test's first run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from . import noise
from .metrics import evaluate_masks

__all__ = ["autocast", "predict", "predict_masks", "evaluate_corruptions", "EXTERNAL_SCORING", "evaluate_external"]

#: How every run scores its final model on the external images, fixed before the first external run
#: (no checkpoint is published, so none of it can be re-decided later):
#: ``nsd_tolerance``: NSD's tolerance in pixels of the scored image (the model's size: 2 px at 128² is
#: 4 px of BUS-BRA at 256², about 0.5–1 mm on these crops); ``hd95_missed``: the HD95 of a missed
#: tumour (empty prediction), the scored image's diagonal; ``stored``: every image's final
#: prediction, bit-packed (``external_predictions.npz``), so that the cases a notebook shows are chosen
#: afterwards by a stated rule, from stored predictions; ``normalisation``: the images standardised
#: with the BUSI training images' mean and sd (the run's own); ``collapse``: a run whose model
#: predicts nothing on most images is kept and scored as it is (its missed tumours score Dice 0 and
#: the HD95 penalty), never dropped or retrained.
EXTERNAL_SCORING = {"checkpoint": "final", "nsd_tolerance": 2.0, "hd95_missed": "diagonal",
                    "stored": "final predictions of every image", "normalisation": "BUSI training mean and sd",
                    "collapse": "kept as scored"}


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


def evaluate_external(model: torch.nn.Module, data, amp: str = "off") -> tuple[pd.DataFrame, np.ndarray]:
    """``model`` on the external images of ``data`` (a :class:`~bl_utils.training_data.TrainingData`
    with ``external_images``), scored by :data:`EXTERNAL_SCORING` against their masks.

    Returns ``(table, masks)``: one row per image with the external table's columns (``stem``,
    ``patient``, ``label``: the pathology, ``scanner``, ``birads``, ``tumour_fraction`` at 256²), the
    columns of :func:`bl_utils.metrics.evaluate_masks` (HD95 of a missed tumour = the image's
    diagonal) with ``nsd``, and ``predicted_pixels``; and the bool predictions ``(N, H, W)``.
    """
    masks = predict_masks(model, data.external_images, amp)
    scores = evaluate_masks(masks, data.external_masks, stems=list(data.external_meta.stem),
                            labels=list(data.external_meta.label), empty_value=EXTERNAL_SCORING["hd95_missed"],
                            nsd_tolerance=EXTERNAL_SCORING["nsd_tolerance"])
    extra = data.external_meta.drop(columns=["stem", "label"]).reset_index(drop=True)
    table = pd.concat([scores[["stem", "label"]], extra, scores.drop(columns=["stem", "label"])], axis=1)
    table["predicted_pixels"] = masks.reshape(len(masks), -1).sum(axis=1)
    return table, masks
