"""Train the U-Net with each of the four strategies: one loop, resumable, reproducible.

The experiment is Odonnat & Pham's ("Boundary Loss for Breast Ultrasound Segmentation", Master MVA,
ENS Paris-Saclay; code github.com/AmbroiseOdonnat/BoundaryLoss), who applied the boundary loss of
Kervadec et al. (MedIA 67, 2021) to BUSI: ``smp.Unet`` with a ResNet-34 encoder (ImageNet), one
input channel, **one output channel with a sigmoid** (a binary problem: one logit per pixel is the
same model as a two-channel softmax), Adam (lr 1e-3), batch 16, 20 epochs, 256×256 images, an 80/20
split of the 425 images that pass the < 5 % rule, scored by the best validation Dice.

Profiles, method defaults and the naming of runs are in :mod:`bl_utils.config`.

A run (:func:`train`) = prepare the data → build the model → for each epoch: train, validate,
checkpoint → finish: score the best and the final epoch image by image, evaluate the final model on
degraded images (:mod:`bl_utils.noise`), write the run's files (``config.RUN_FILES``) under temporary
names renamed when complete; ``run.json`` last, so a folder with a ``run.json`` is complete.

Resumption: batch order comes from ``(seed, epoch)``, the model from ``seed``, U-Net has no dropout,
so a run killed at any moment continues from its last completed epoch (``last.pt``) and ends with
the same metrics on the same machine and thread count. A run is never resumed across a change of
the training code (:data:`CODE_VERSION`) or of the AMP mode: it starts over instead.

Command line::

    python -m bl_utils.train --strategy all --seeds 0 1 2 3 4 --data ../shared/data/busi256
    python -m bl_utils.train --strategy rebalance --phi-scale pixel --data "$BUSI_DIR"
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import data as bl_data
from . import model as bl_model
from . import noise
from .config import TrainConfig, data_id, default_results_dir, run_folder
from .distance import batch_signed_distance_maps
from .evaluate import autocast, evaluate_corruptions, predict, predict_masks
from .losses import StrategyLoss
from .metrics import batch_dice, evaluate_masks, summarize
from .model import build_model
from .runs import RunResult, load_run
from .runtime import atomic_write, display_path, get_device, run_metadata, seed_everything, write_json
from .schedules import STRATEGIES, make_strategy
from .split import split_train_val

#: The modules whose code decides a run's numbers; their digest is :data:`CODE_VERSION`.
CODE_MODULES = ("train", "config", "model", "evaluate", "losses", "schedules", "distance", "data", "dataset",
                "cache", "split", "duplicates", "noise", "metrics")


def _code_version() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in CODE_MODULES:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()[:12]


#: Digest of the training code as imported (computed once, so edits after import do not change it).
CODE_VERSION = _code_version()


class TrainingError(RuntimeError):
    """A run that cannot go on: a non-finite loss, or a run folder made with other settings."""


def build_training(config: TrainConfig, device: torch.device, verbose: bool = True):
    """The seeded model on ``device`` (channels_last on CPU/CUDA), its Adam optimizer, and the loss
    scaler (``None`` unless fp16 on CUDA). Returns ``(model, optimizer, scaler)``.

    ``config`` must be resolved (:meth:`TrainConfig.resolve`): its ``encoder_weights`` are loadable.
    """
    seed_everything(config.seed)
    model, used = build_model(config.encoder, config.encoder_weights, verbose=verbose)
    if used != config.encoder_weights:
        raise TrainingError(f"{config.encoder_weights} weights for {config.encoder} became unavailable "
                            f"({bl_model._IMAGENET_UNAVAILABLE}); run again (the run is keyed by its weights).")
    model = model.to(device)
    if device.type in ("cpu", "cuda"):
        model = model.to(memory_format=torch.channels_last)
    # fused: one kernel for all parameters (on the CPU, 4-5x faster than the default per-tensor loop)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda"))
    scaler = torch.amp.GradScaler("cuda") if config.amp == "fp16" and device.type == "cuda" else None
    return model, optimizer, scaler


# --------------------------------------------------------------------------------------------
# Data


@dataclass
class TrainingData:
    """Train and validation tensors on the training device, and what identifies them.

    ``*_images``: float32 ``(N, 1, H, W)``, standardised with the train set's ``mean``/``std`` (of
    intensities / 255); ``*_masks``: float32 ``(N, 1, H, W)`` in {0, 1} (train masks carry the
    annotation noise, if any); ``*_phis``: float32 ``(N, 1, H, W)``, Φ_G scaled as the config says.
    ``val_uint8``: uint8 ``(N, H, W)`` validation images before standardisation (for
    :mod:`bl_utils.noise`). ``fingerprint``: :func:`bl_utils.data.content_fingerprint` of the
    images at 256² after the selection rule (a run's ``data_fingerprint``); ``data_fingerprint``:
    that of every image of the data, before any rule (it names the data, :func:`data_identity`);
    ``kind``: ``"busi"`` or ``"synthetic"``.
    """

    train_images: torch.Tensor
    train_masks: torch.Tensor
    train_phis: torch.Tensor
    val_images: torch.Tensor
    val_masks: torch.Tensor
    val_phis: torch.Tensor
    val_uint8: np.ndarray
    mean: float
    std: float
    train_stems: list[str]
    val_stems: list[str]
    val_labels: list[str]
    source: str
    kind: str
    fingerprint: str
    n_images: int
    data_fingerprint: str

    @property
    def data_id(self) -> str:
        """The data level of a run's folder: :func:`bl_utils.config.data_id` of the whole data."""
        return data_id(self.kind, self.data_fingerprint)


def data_identity(data: str, cache_dir: str | None = None) -> tuple[bl_data.DataSource, str]:
    """The source of ``data`` (as :func:`bl_utils.data.resolve_data` reads it) and the content
    fingerprint of *every* image it holds at 256², before any selection rule: what names the data
    in a run's folder (:func:`bl_utils.config.data_id`), whatever rule a protocol applies. Reads
    no image when the resized arrays are cached; computes no Φ_G."""
    source = bl_data.resolve_data(data)
    everything = bl_data.load_busi(source.root, image_size=bl_data.PAPER_SIZE, max_tumour_fraction=None,
                                   distance_maps=False, cache_dir=cache_dir, progress=False)
    return source, bl_data.content_fingerprint(everything)


def _load_split(config: TrainConfig, verbose: bool):
    """The dataset at 256² after the selection rule (and ``max_images``), its source, the
    fingerprints of the kept images and of the whole data, and the split."""
    source, whole = data_identity(config.data, config.cache_dir)
    if verbose:
        print(source.description)
    dataset = bl_data.load_busi(source.root, image_size=bl_data.PAPER_SIZE, distance_maps=False,
                                max_tumour_fraction=config.max_tumour_fraction,
                                cache_dir=config.cache_dir, progress=verbose)
    fingerprint = bl_data.content_fingerprint(dataset)
    if config.max_images is not None and config.max_images < len(dataset):
        chosen = np.random.default_rng(config.split_seed).permutation(len(dataset))[:config.max_images]
        dataset = dataset.subset(np.sort(chosen))
    split = split_train_val(dataset, val_fraction=config.val_fraction, seed=config.split_seed,
                            groups=None if config.group_duplicates else False)
    return dataset, source, fingerprint, whole, split


def prepare_data(config: TrainConfig, device: torch.device, verbose: bool = True) -> TrainingData:
    """Load the data of a resolved ``config``, split it, degrade the training masks if asked
    (``mask_noise``, seeded by ``seed``), resize to ``image_size``, compute Φ_G, move to ``device``."""
    dataset, source, fingerprint, whole, split = _load_split(config, verbose)
    masks = dataset.masks.copy()
    if config.mask_noise > 0:
        masks[split.train] = noise.jitter_contours(masks[split.train], config.mask_noise, seed=config.seed)
    size = (config.image_size, config.image_size)
    images_u8 = bl_data.resize_images(dataset.images, size)
    masks = bl_data.resize_masks(masks, size)
    phis = batch_signed_distance_maps(masks[:, None], empty=config.phi_empty)[:, 0]
    if config.phi_scale == "image":
        phis = phis / float(config.image_size)
    images = torch.from_numpy(images_u8).float().div_(255.0).unsqueeze(1)
    mean, std = float(images[split.train].mean()), float(images[split.train].std().clamp_min(1e-6))
    images = (images - mean) / std

    def take(array, index):
        tensor = torch.as_tensor(array) if isinstance(array, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(array))
        return tensor.float().reshape(len(array), 1, *size)[torch.as_tensor(index)].to(device).contiguous()

    meta = dataset.meta
    return TrainingData(
        take(images, split.train), take(masks, split.train), take(phis, split.train),
        take(images, split.val), take(masks, split.val), take(phis, split.val),
        val_uint8=images_u8[split.val], mean=mean, std=std,
        train_stems=list(meta.stem.iloc[split.train]), val_stems=list(meta.stem.iloc[split.val]),
        val_labels=list(meta.label.iloc[split.val]), source=source.description, kind=source.kind,
        fingerprint=fingerprint, n_images=len(dataset), data_fingerprint=whole)


def phi_scale_table(phis: np.ndarray, image_size: int) -> pd.DataFrame:
    """Why Φ_G is scaled: for each ``phi_scale``, max |Φ_G| and L_B of the untrained guess s = 0.5
    (``0.5 · mean Φ_G``) beside the BCE of that guess (ln 2). ``phis``: ``(N, H, W)`` in pixels."""
    rows = []
    for scale, divisor in (("pixel", 1.0), ("image", float(image_size))):
        lb = 0.5 * float(np.mean(phis)) / divisor
        rows.append({"phi_scale": scale, "max_abs_phi": float(np.abs(phis).max()) / divisor,
                     "L_B_at_s_half": lb, "ratio_to_bce": lb / math.log(2)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# The loop


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """The shuffled batches of one epoch, a function of ``(seed, epoch)`` only (last batch may be short)."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=generator)
    return list(order.split(batch_size))


@dataclass
class TrainingState:
    """What a run carries from epoch to epoch (and ``last.pt`` holds between sessions)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scaler: Any
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"val_dice": -1.0, "epoch": None})
    start_epoch: int = 0


def _save_torch(obj, path: Path) -> None:
    with atomic_write(path, "wb") as handle:
        torch.save(obj, handle)


def _checkpoint(folder: Path, state: TrainingState, epoch: int, identity: dict[str, Any]) -> None:
    _save_torch({"model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(),
                 "scaler": state.scaler.state_dict() if state.scaler is not None else None,
                 "epoch": epoch, "history": state.history, "best": state.best, **identity},
                folder / "last.pt")


def _start(folder: Path, config: TrainConfig, identity: dict[str, Any], device: torch.device,
           resume: bool, verbose: bool) -> TrainingState:
    """A fresh state, or the one of ``last.pt`` when it was made by the same settings, training
    code and AMP mode (``identity``); otherwise the run starts over, saying why."""
    for stale in folder.glob(".*.tmp"):   # atomic_write's temporary files, left by a killed run
        stale.unlink(missing_ok=True)
    state = TrainingState(*build_training(config, device, verbose=verbose))
    last = folder / "last.pt"
    if not (resume and last.is_file()):
        for name in ("run.json", "last.pt"):
            (folder / name).unlink(missing_ok=True)
        return state
    saved = torch.load(last, map_location=device, weights_only=True)
    changed = [key for key in identity if saved.get(key) != identity[key]]
    if changed:
        if verbose:
            print(f"{config.strategy}: {display_path(last)} was made with another {', '.join(changed)}; "
                  "starting over instead of resuming.")
        last.unlink()
        return state
    state.model.load_state_dict(saved["model"])
    state.optimizer.load_state_dict(saved["optimizer"])
    if state.scaler is not None and saved["scaler"] is not None:
        state.scaler.load_state_dict(saved["scaler"])
    state.history, state.best, state.start_epoch = saved["history"], saved["best"], saved["epoch"] + 1
    if verbose:
        print(f"{config.strategy}: resuming {display_path(folder)} after epoch {state.start_epoch}/{config.epochs}")
    return state


def _objective(objective: StrategyLoss, logits, masks, phis, epoch: int, config: TrainConfig, step: int):
    """The strategy's loss of one batch; a non-finite value stops the run naming epoch and step."""
    try:
        loss, terms = objective(logits.float(), masks, phis, epoch=float(epoch))
    except ValueError as error:   # the losses refuse non-finite logits: the model diverged
        if bool(torch.isfinite(logits).all()):
            raise
        raise TrainingError(
            f"{config.strategy}: the model's outputs became NaN or infinite at epoch {epoch + 1}, "
            f"step {step + 1}; try a smaller lr, phi_scale='image', or amp='off'.") from error
    if not torch.isfinite(loss):
        raise TrainingError(
            f"{config.strategy}: the loss became {loss.item()} at epoch {epoch + 1}, step "
            f"{step + 1} (regional {terms['regional'].item():.4g}, boundary "
            f"{terms['boundary'].item():.4g}); try a smaller lr, phi_scale='image', or amp='off'.")
    return loss, terms


def train_one_epoch(state: TrainingState, objective: StrategyLoss, data: TrainingData,
                    config: TrainConfig, epoch: int, verbose: bool = True) -> list[float]:
    """One pass over the training set in the order of :func:`batch_order`; returns the epoch's
    means ``[total, regional, boundary]`` (unweighted terms, averaged over images)."""
    from tqdm.auto import tqdm

    device = data.train_images.device
    channels_last = device.type in ("cpu", "cuda")
    batches = batch_order(len(data.train_images), config.batch_size, config.seed, epoch)
    state.model.train()
    sums = torch.zeros(3, device=device)
    bar = tqdm(batches, desc=f"{config.strategy} epoch {epoch + 1}/{config.epochs}", leave=False,
               disable=not verbose)
    for step, index in enumerate(bar):
        index = index.to(device)
        images = data.train_images[index]
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast(device, config.amp):
            logits = state.model(images)
        loss, terms = _objective(objective, logits, data.train_masks[index], data.train_phis[index],
                                 epoch, config, step)
        state.optimizer.zero_grad(set_to_none=True)
        if state.scaler is not None:
            state.scaler.scale(loss).backward()
            state.scaler.step(state.optimizer)
            state.scaler.update()
        else:
            loss.backward()
            state.optimizer.step()
        sums += torch.stack([loss.detach(), terms["regional"], terms["boundary"]]) * len(index)
    return (sums / len(data.train_images)).tolist()


def validate(model: torch.nn.Module, data: TrainingData, config: TrainConfig) -> dict[str, float]:
    """Validation Dice after an epoch: mean over all images (Odonnat & Pham's metric: an image
    without tumour scores 1 when predicted empty, else 0), over tumour images, and empty predictions."""
    probs = predict(model, data.val_images, config.amp)
    dice = batch_dice(probs, data.val_masks, from_logits=False)
    tumour = data.val_masks.flatten(1).amax(1) > 0
    return {"val_dice": dice.mean().item(),
            "val_dice_tumour": dice[tumour].mean().item() if tumour.any() else float("nan"),
            "val_empty_predictions": int((probs.flatten(1).amax(1) < 0.5).sum())}


def train(config: TrainConfig, out: str | os.PathLike | None = None, resume: bool = True,
          verbose: bool = True, data: TrainingData | None = None, evaluate_noise: bool = True) -> RunResult:
    """Train one strategy; return its :class:`RunResult` (read back when already complete).

    The run lives in :func:`run_folder` under ``out`` (default :func:`default_results_dir`).
    ``resume=True`` continues an interrupted run from its last completed epoch and returns a
    complete one without training; ``resume=False`` starts over. ``data`` (from
    :func:`prepare_data` with the same data settings) lets several runs share one preparation.
    ``evaluate_noise`` evaluates the final model on degraded validation images (``robustness.csv``).
    """
    device = get_device(config.device)
    config = config.resolve(device)
    data = data or prepare_data(config, device, verbose=verbose)
    folder = run_folder(config, out or default_results_dir(), data.data_id)
    settings = dict(config.result_settings(), profile=config.profile, data_fingerprint=data.fingerprint)
    if resume and (folder / "run.json").is_file():
        result = load_run(folder)
        _check_settings(folder, result.settings, settings)
        if verbose:
            print(f"{config.strategy}: complete run found in {display_path(folder)}; not retraining.")
        return result
    folder.mkdir(parents=True, exist_ok=True)
    identity = {"settings": settings, "code_version": CODE_VERSION, "amp": config.amp}
    state = _start(folder, config, identity, device, resume, verbose)
    strategy = make_strategy(config.strategy, config.epochs, alpha=config.alpha,
                             schedule=config.schedule, ramp_end=config.ramp_end)
    objective = StrategyLoss(strategy, regional=config.regional)
    for epoch in range(state.start_epoch, config.epochs):
        started = time.perf_counter()
        loss, regional, boundary = train_one_epoch(state, objective, data, config, epoch, verbose)
        w_regional, w_boundary = strategy.weights(float(epoch))
        row = {"epoch": epoch + 1, "alpha": strategy.alpha(float(epoch)), "w_regional": w_regional,
               "w_boundary": w_boundary, "train_loss": loss, "train_regional": regional,
               "train_boundary": boundary, **validate(state.model, data, config),
               "seconds": time.perf_counter() - started}
        state.history.append(row)
        if row["val_dice"] > state.best["val_dice"]:
            state.best = {"epoch": epoch + 1, "val_dice": row["val_dice"], "val_dice_tumour": row["val_dice_tumour"]}
            _save_torch(state.model.state_dict(), folder / "best.pt")
        _checkpoint(folder, state, epoch, identity)
        if verbose:
            print(f"{config.strategy:>9} epoch {epoch + 1:>2}/{config.epochs}: loss {loss:.4f} (regional "
                  f"{regional:.4f}, boundary {boundary:.4f}, α={row['alpha']:.2f}) val Dice {row['val_dice']:.3f} "
                  f"(tumour images {row['val_dice_tumour']:.3f}) [{row['seconds']:.1f} s]")
    return _finish(folder, config, settings, state, data, evaluate_noise)


def _check_settings(folder: Path, found: dict[str, Any], wanted: dict[str, Any]) -> None:
    differ = {k: (found.get(k), wanted[k]) for k in wanted if found.get(k) != wanted[k]}
    if differ:
        listed = ", ".join(f"{k}: {a!r} there, {b!r} asked" for k, (a, b) in differ.items())
        raise TrainingError(f"{folder} holds a run with other settings ({listed}). Use another --out "
                            "folder, or start over with resume=False (--fresh).")


# --------------------------------------------------------------------------------------------
# The end of a run: per-image scores, degraded images, the run's files


def _summary(table: pd.DataFrame, epoch: int, val_dice: float) -> dict[str, Any]:
    """An epoch's summary: Odonnat & Pham's Dice, then :func:`bl_utils.metrics.summarize`."""
    plain = {k: (float(v) if isinstance(v, (float, np.floating)) else int(v) if isinstance(v, (int, np.integer)) else v)
             for k, v in summarize(table).items()}
    return {"epoch": int(epoch), "val_dice": float(val_dice), **plain}


def _write_csv(frame: pd.DataFrame, path: Path, float_format: str | None = "%.6g") -> None:
    with atomic_write(path) as handle:
        frame.to_csv(handle, index=False, float_format=float_format)


def _finish(folder: Path, config: TrainConfig, settings: dict[str, Any], state: TrainingState,
            data: TrainingData, evaluate_noise: bool) -> RunResult:
    """Score the final and the best epoch image by image, evaluate the final model on degraded
    images, and write the run's files (``RUN_FILES``), ``run.json`` last."""
    truth = data.val_masks[:, 0].cpu().numpy() > 0.5
    masks = {"final": predict_masks(state.model, data.val_images, config.amp)}
    if evaluate_noise:
        _write_csv(evaluate_corruptions(state.model, data, config.amp), folder / "robustness.csv")
    state.model.load_state_dict(torch.load(folder / "best.pt", map_location=data.val_images.device, weights_only=True))
    masks["best"] = predict_masks(state.model, data.val_images, config.amp)
    tables = {name: evaluate_masks(m, truth, stems=data.val_stems, labels=data.val_labels) for name, m in masks.items()}
    per_image = pd.concat([tables[n].assign(checkpoint=n) for n in ("best", "final")], ignore_index=True)
    history = pd.DataFrame(state.history)
    _write_csv(history, folder / "metrics.csv", float_format=None)
    _write_csv(per_image, folder / "val_per_image.csv")
    with atomic_write(folder / "predictions.npz", "wb") as handle:
        np.savez_compressed(handle, best=np.packbits(masks["best"], axis=-1),
                            final=np.packbits(masks["final"], axis=-1), truth=np.packbits(truth, axis=-1),
                            width=np.int64(truth.shape[-1]), stems=np.array(data.val_stems),
                            labels=np.array(data.val_labels))
    best = _summary(tables["best"], state.best["epoch"], state.best["val_dice"])
    final = _summary(tables["final"], len(history), history.val_dice.iloc[-1])
    metadata = run_metadata(settings, data.val_images.device)
    metadata.update(amp=config.amp, threads=torch.get_num_threads(), code_version=CODE_VERSION,
                    train_seconds=float(history.seconds.sum()), data=data.source, data_id=data.data_id,
                    n_images=data.n_images, best=best, final=final, train_stems=data.train_stems,
                    val_stems=data.val_stems, complete=True)
    write_json(folder / "run.json", metadata)   # last: its presence marks the run complete
    (folder / "last.pt").unlink(missing_ok=True)   # nothing left to resume; best.pt stays
    return RunResult(folder, settings, history, best, metadata)


# --------------------------------------------------------------------------------------------
# Several runs, Table 1, the command line


#: Settings that decide :func:`prepare_data`'s output; runs that share them share one preparation.
DATA_KEYS = ("data", "image_size", "max_tumour_fraction", "split_seed", "max_images", "group_duplicates",
             "val_fraction", "phi_scale", "phi_empty", "mask_noise", "cache_dir")


def _data_key(config: TrainConfig) -> tuple:
    return tuple(getattr(config, k) for k in DATA_KEYS) + ((config.seed,) if config.mask_noise else ())


def train_all(config: TrainConfig, strategies=STRATEGIES, seeds=(0,), out: str | os.PathLike | None = None,
              resume: bool = True, verbose: bool = True, evaluate_noise: bool = True) -> list[RunResult]:
    """Train (or load) every strategy for every seed, preparing the data once per data setting."""
    device = get_device(config.device)
    prepared: dict[tuple, TrainingData] = {}
    results = []
    for seed in seeds:
        for name in strategies:
            run = dataclasses.replace(config, seed=seed, strategy=name).resolve(device)
            key = _data_key(run)
            if key not in prepared:
                prepared = {key: prepare_data(run, device, verbose=verbose)}   # keep one in memory
            results.append(train(run, out=out, resume=resume, verbose=verbose, data=prepared[key],
                                 evaluate_noise=evaluate_noise))
    return results


if __name__ == "__main__":   # the command line lives in bl_utils.cli (it also submits jobs, bl_utils.launch)
    from bl_utils.cli import main

    sys.exit(main())
