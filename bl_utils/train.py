"""Train the U-Net with each of the four strategies: one loop, resumable, reproducible.

The experiment is Odonnat & Pham's ("Boundary Loss for Breast Ultrasound Segmentation", Master MVA,
ENS Paris-Saclay; code github.com/ambroiseodt/BoundaryLoss), who applied the boundary loss of
Kervadec et al. (MedIA 67, 2021) to BUSI: ``smp.Unet`` with a ResNet-34 encoder (ImageNet), one
input channel, **one output channel with a sigmoid** (a binary problem: one logit per pixel is the
same model as a two-channel softmax), Adam (lr 1e-3), batch 16, 20 epochs, 256×256 images, an 80/20
split of the 425 images that pass the < 5 % rule, scored by their batch-pooled F1 at its best epoch.

Profiles, method defaults and the naming of runs are in :mod:`bl_utils.config`.

A run (:func:`train`) = prepare the data → build the model → for each epoch: train, validate,
checkpoint → finish: score the best and the final epoch image by image, evaluate the final model on
degraded images (:mod:`bl_utils.noise`), write the run's files (``config.RUN_FILES``) under temporary
names renamed when complete; ``run.json`` last, so a folder with a ``run.json`` is complete.

Resumption: batch order comes from ``(seed, epoch)``, the model from ``seed``, U-Net has no dropout,
so a run killed at any moment continues from its last completed epoch (``last.pt``) and ends with
the same metrics on the same machine and thread count. A run is never resumed across a change of
the training code (:data:`CODE_VERSION`) or of the AMP mode: it starts over instead.

Command line (:mod:`bl_utils.cli`)::

    python -m bl_utils train --strategy all --seeds 0 1 2 3 4 --data ../shared/data/busi256
    python -m bl_utils train --strategy rebalance --phi-scale pixel --data "$BUSI_DIR"
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import model as bl_model
from .config import TrainConfig, default_results_dir, run_folder
from .evaluate import EXTERNAL_SCORING, autocast, evaluate_corruptions, evaluate_external, predict, predict_masks
from .losses import StrategyLoss
from .metrics import batch_dice, batch_pooled_f1, confusion_counts, evaluate_masks, summarize
from .model import build_model
from .runs import RunResult, load_run
from .runtime import atomic_write, display_path, get_device, run_metadata, seed_everything, write_json
from .schedules import STRATEGIES, make_strategy
from .threads import claim_cores
from .training_data import TrainingData, prepare_data

#: The modules whose code decides a run's numbers; their digest is :data:`CODE_VERSION`.
CODE_MODULES = ("train", "training_data", "config", "model", "evaluate", "losses", "schedules", "distance",
                "data/busi", "data/busbra", "data/dataset", "data/manifest", "data/cache", "data/split", "data/duplicates", "noise",
                "metrics")


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
    """The seeded model on ``device`` (channels_last on CPU/CUDA), its optimizer (Adam, or SGD with
    momentum 0.9 for ``optimizer="sgd"``), and the loss
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
    if config.optimizer == "sgd":   # their CE cell: optim.SGD(model.parameters(), lr=LR, momentum=0.9)
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)
    else:   # fused: one kernel for all parameters (on the CPU, 4-5x faster than the per-tensor loop)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda"))
    scaler = torch.amp.GradScaler("cuda") if config.amp == "fp16" and device.type == "cuda" else None
    return model, optimizer, scaler


# --------------------------------------------------------------------------------------------
# The loop


def batch_order(n: int, batch_size: int, seed: int, epoch: int, fixed: bool = False) -> list[torch.Tensor]:
    """The shuffled batches of one epoch, a function of ``(seed, epoch)`` only (last batch may be
    short); ``fixed``: the order of epoch 0 for every epoch (one random order, as an unshuffled
    loader over a randomly drawn training set gives)."""
    generator = torch.Generator().manual_seed(seed * 100_003 + (0 if fixed else epoch))
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
    val_counts: list[np.ndarray] = field(default_factory=list)   # per epoch: int64 (N, 3) TP, FP, FN per image


def _save_torch(obj, path: Path) -> None:
    with atomic_write(path, "wb") as handle:
        torch.save(obj, handle)


def _checkpoint(folder: Path, state: TrainingState, epoch: int, identity: dict[str, Any]) -> None:
    _save_torch({"model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(),
                 "scaler": state.scaler.state_dict() if state.scaler is not None else None,
                 "epoch": epoch, "history": state.history, "best": state.best,
                 "val_counts": torch.from_numpy(np.stack(state.val_counts)) if state.val_counts else None, **identity},
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
    if saved.get("val_counts") is not None:
        state.val_counts = list(saved["val_counts"].numpy())
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


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total_steps``: ``lr`` itself
    (``lr_schedule="constant"``), or nnU-Net's polynomial decay ``lr · (1 − step / total_steps)^0.9``
    (``"poly"``, Isensee et al. 2021), which falls to ~0 at the last step."""
    if config.lr_schedule == "poly":
        return config.lr * (1.0 - step / total_steps) ** 0.9
    return config.lr


def train_one_epoch(state: TrainingState, objective: StrategyLoss, data: TrainingData,
                    config: TrainConfig, epoch: int, verbose: bool = True) -> list[float]:
    """One pass over the training set in the order of :func:`batch_order`; returns the epoch's
    means ``[total, regional, boundary]`` (unweighted terms, averaged over images) and the sum of
    the learning rates of its steps."""
    from tqdm.auto import tqdm

    device = data.train_images.device
    channels_last = device.type in ("cpu", "cuda")
    batches = batch_order(len(data.train_images), config.batch_size, config.seed, epoch,
                          fixed=config.batch_order == "fixed")
    total_steps = len(batches) * config.epochs
    lr_sum = 0.0
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
        lr = learning_rate(config, epoch * len(batches) + step, total_steps)
        for group in state.optimizer.param_groups:
            group["lr"] = lr
        lr_sum += lr
        if state.scaler is not None:
            state.scaler.scale(loss).backward()
            state.scaler.step(state.optimizer)
            state.scaler.update()
        else:
            loss.backward()
            state.optimizer.step()
        sums += torch.stack([loss.detach(), terms["regional"], terms["boundary"]]) * len(index)
    return (sums / len(data.train_images)).tolist() + [lr_sum]


def validate(model: torch.nn.Module, data: TrainingData, config: TrainConfig
             ) -> tuple[dict[str, float], np.ndarray | None]:
    """Validation scores after an epoch: Dice averaged over all images (an image without tumour
    scores 1 when predicted empty, else 0) and over tumour images, the empty predictions, and
    Odonnat & Pham's metric as their code computed it (:func:`bl_utils.metrics.batch_pooled_f1`,
    batches of 16 in the validation order); and each image's TP, FP, FN (int64 ``(N, 3)``,
    :func:`bl_utils.metrics.confusion_counts`), which score the epoch in any order later. Without
    validation images: NaN scores and ``None``."""
    if len(data.val_images) == 0:
        return {"val_dice": float("nan"), "val_dice_tumour": float("nan"), "val_empty_predictions": 0,
                "val_f1_pooled": float("nan")}, None
    probs = predict(model, data.val_images, config.amp)
    dice = batch_dice(probs, data.val_masks, from_logits=False)
    tumour = data.val_masks.flatten(1).amax(1) > 0
    predicted, truth = probs[:, 0].cpu().numpy() >= 0.5, data.val_masks[:, 0].cpu().numpy() > 0.5
    return {"val_dice": dice.mean().item(),
            "val_dice_tumour": dice[tumour].mean().item() if tumour.any() else float("nan"),
            "val_empty_predictions": int((probs.flatten(1).amax(1) < 0.5).sum()),
            "val_f1_pooled": batch_pooled_f1(predicted, truth, batch_size=16)}, confusion_counts(predicted, truth)


def train(config: TrainConfig, out: str | os.PathLike | None = None, resume: bool = True,
          verbose: bool = True, data: TrainingData | None = None, evaluate_noise: bool = True) -> RunResult:
    """Train one strategy; return its :class:`RunResult` (read back when already complete).

    The run lives in :func:`run_folder` under ``out`` (default :func:`default_results_dir`).
    ``resume=True`` continues an interrupted run from its last completed epoch and returns a
    complete one without training; ``resume=False`` starts over. ``data`` (from
    :func:`prepare_data` with the same data settings) lets several runs share one preparation.
    ``evaluate_noise`` evaluates the final model on degraded validation images (``robustness.csv``).
    Training computes with :func:`bl_utils.threads.training_threads` threads whatever else runs.
    """
    with claim_cores():
        return _train(config, out, resume, verbose, data, evaluate_noise)


def _train(config: TrainConfig, out, resume: bool, verbose: bool, data: TrainingData | None,
           evaluate_noise: bool) -> RunResult:
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
        loss, regional, boundary, lr_sum = train_one_epoch(state, objective, data, config, epoch, verbose)
        w_regional, w_boundary = strategy.weights(float(epoch))
        scores, counts = validate(state.model, data, config)
        row = {"epoch": epoch + 1, "alpha": strategy.alpha(float(epoch)), "w_regional": w_regional,
               "w_boundary": w_boundary, "lr_sum": lr_sum, "train_loss": loss, "train_regional": regional,
               "train_boundary": boundary, **scores, "seconds": time.perf_counter() - started}
        state.history.append(row)
        if counts is not None:
            state.val_counts.append(counts)
        if not data.val_stems:   # no validation images: the final epoch is the only model
            state.best = {"epoch": epoch + 1, **{k: row[k] for k in ("val_dice", "val_dice_tumour", "val_f1_pooled")}}
        elif row[config.best_metric] > state.best.get(config.best_metric, -1.0):
            state.best = {"epoch": epoch + 1, **{k: row[k] for k in ("val_dice", "val_dice_tumour", "val_f1_pooled")}}
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


def normal_image_table(masks: np.ndarray, stems: list[str]) -> pd.DataFrame:
    """One row per normal image: ``stem``, ``predicted_pixels`` and ``false_positive`` (any pixel
    predicted), from bool ``masks`` ``(M, H, W)``."""
    pixels = masks.reshape(len(masks), -1).sum(axis=1)
    return pd.DataFrame({"stem": stems, "predicted_pixels": pixels.astype(int), "false_positive": pixels > 0})


def _summary(table: pd.DataFrame, epoch: int, val_dice: float) -> dict[str, Any]:
    """An epoch's summary: Odonnat & Pham's Dice, then :func:`bl_utils.metrics.summarize`."""
    plain = {k: (float(v) if isinstance(v, (float, np.floating)) else int(v) if isinstance(v, (int, np.integer)) else v)
             for k, v in summarize(table).items()}
    return {"epoch": int(epoch), "val_dice": float(val_dice), **plain}


def _write_csv(frame: pd.DataFrame, path: Path, float_format: str | None = "%.6g") -> None:
    with atomic_write(path) as handle:
        frame.to_csv(handle, index=False, float_format=float_format)


def _score_external(folder: Path, model, data: TrainingData, config: TrainConfig) -> pd.DataFrame:
    """The final model on the external images: ``external_images.csv`` and ``external_predictions.npz``."""
    external, masks = evaluate_external(model, data, config.amp)
    _write_csv(external, folder / "external_images.csv")
    with atomic_write(folder / "external_predictions.npz", "wb") as handle:
        np.savez_compressed(handle, final=np.packbits(masks, axis=-1), width=np.int64(masks.shape[-1]),
                            stems=np.array(external.stem, dtype=str))
    return external


def _validation_files(folder: Path, masks: dict[str, np.ndarray], truth: np.ndarray, data: TrainingData,
                      counts: list[np.ndarray]) -> dict[str, pd.DataFrame]:
    """Per-image scores of the best and final models (``val_per_image.csv``), their predictions
    (``predictions.npz``) and every epoch's counts (``val_counts.npz``, :func:`_write_counts`);
    returns the score tables by checkpoint."""
    tables = {name: evaluate_masks(m, truth, stems=data.val_stems, labels=data.val_labels) for name, m in masks.items()}
    _write_csv(pd.concat([tables[n].assign(checkpoint=n) for n in ("best", "final")], ignore_index=True),
               folder / "val_per_image.csv")
    with atomic_write(folder / "predictions.npz", "wb") as handle:
        np.savez_compressed(handle, best=np.packbits(masks["best"], axis=-1),
                            final=np.packbits(masks["final"], axis=-1), truth=np.packbits(truth, axis=-1),
                            width=np.int64(truth.shape[-1]), stems=np.array(data.val_stems),
                            labels=np.array(data.val_labels))
    _write_counts(folder, counts, data)
    return tables


def _write_counts(folder: Path, counts: list[np.ndarray], data: TrainingData) -> None:
    """``val_counts.npz``: every epoch's per-image TP, FP, FN (``counts`` int32 ``(epochs, N, 3)``),
    the images' ``stems`` and dataset ``index`` in validation order."""
    index = data.val_index if data.val_index is not None else np.arange(len(data.val_stems))
    with atomic_write(folder / "val_counts.npz", "wb") as handle:
        np.savez_compressed(handle, counts=np.stack(counts).astype(np.int32), stems=np.array(data.val_stems),
                            index=np.asarray(index, dtype=np.int64), columns=np.array(["tp", "fp", "fn"]))


def _finish(folder: Path, config: TrainConfig, settings: dict[str, Any], state: TrainingState,
            data: TrainingData, evaluate_noise: bool) -> RunResult:
    """Score the final and the best epoch image by image, evaluate the final model on degraded
    images and on the external images, and write the run's files (``RUN_FILES``), ``run.json`` last.
    Without validation images (``val_fraction=0``) the final model is the only one: no validation
    files, no ``best.pt``."""
    validated = bool(data.val_stems)
    checkpoints = ("best", "final") if validated else ("final",)
    truth = data.val_masks[:, 0].cpu().numpy() > 0.5
    masks = {"final": predict_masks(state.model, data.val_images, config.amp)} if validated else {}
    if evaluate_noise and validated:
        _write_csv(evaluate_corruptions(state.model, data, config.amp), folder / "robustness.csv")
    normal = {"final": predict_masks(state.model, data.normal_images, config.amp)} if data.normal_stems else {}
    external = _score_external(folder, state.model, data, config) if data.external_images is not None else None
    if validated:
        state.model.load_state_dict(torch.load(folder / "best.pt", map_location=data.val_images.device, weights_only=True))
        masks["best"] = predict_masks(state.model, data.val_images, config.amp)
        if data.normal_stems:
            normal["best"] = predict_masks(state.model, data.normal_images, config.amp)
    if data.normal_stems:
        _write_csv(pd.concat([normal_image_table(normal[n], data.normal_stems).assign(checkpoint=n)
                              for n in checkpoints], ignore_index=True), folder / "normal_images.csv")
    history = pd.DataFrame(state.history)
    _write_csv(history, folder / "metrics.csv", float_format=None)
    if validated:   # else the final model is the only one
        tables = _validation_files(folder, masks, truth, data, state.val_counts)
        best = _summary(tables["best"], state.best["epoch"], state.best["val_dice"])
        final = _summary(tables["final"], len(history), history.val_dice.iloc[-1])
        for summary, row in ((best, history.iloc[state.best["epoch"] - 1]), (final, history.iloc[-1])):
            summary["val_f1_pooled"] = float(row["val_f1_pooled"])
    best, final = (best, final) if validated else ({"epoch": len(history)}, {"epoch": len(history)})
    for name, found in normal.items():   # without validation, the final model is also "best"
        rate = float((found.reshape(len(found), -1).any(1)).mean())
        for summary in ((best, final) if not validated else (best,) if name == "best" else (final,)):
            summary["normal_fp_rate"] = rate
    if "lr_sum" in history:   # Σ lr · w_B / Σ lr: the boundary weight the optimiser actually applied
        final["effective_w_boundary"] = float((history.lr_sum * history.w_boundary).sum() / history.lr_sum.sum())
    metadata = run_metadata(settings, data.val_images.device)
    metadata.update(protocol=config.protocol, amp=config.amp, threads=torch.get_num_threads(), code_version=CODE_VERSION,
                    train_seconds=float(history.seconds.sum()), data=data.source, data_id=data.data_id,
                    n_images=data.n_images, best=best, final=final, train_stems=data.train_stems,
                    val_stems=data.val_stems, complete=True,
                    val_order="drawn" if config.protocol == "odonnat-pham" else "sorted")
    if external is not None:   # the external data named by its content, and its summary
        final.update(external_dice=float(external.dice.mean()), external_nsd=float(external.nsd.mean()))
        metadata.update(external_fingerprint=data.external_fingerprint, external_images=len(external),
                        external_scoring=EXTERNAL_SCORING)
    write_json(folder / "run.json", metadata)   # last: its presence marks the run complete
    (folder / "last.pt").unlink(missing_ok=True)   # nothing left to resume; best.pt stays
    return RunResult(folder, settings, history, best, metadata)


# --------------------------------------------------------------------------------------------
# Several runs, Table 1, the command line


#: Settings that decide :func:`prepare_data`'s output; runs that share them share one preparation.
DATA_KEYS = ("data", "image_size", "max_tumour_fraction", "split_seed", "max_images", "group_duplicates",
             "val_fraction", "phi_scale", "phi_empty", "mask_noise", "cache_dir", "include_normal", "folds",
             "fold", "normalise", "protocol", "external")


def run_order(strategies=STRATEGIES, seeds=(0,), folds=(None,)) -> list[tuple[int, int | None, str]]:
    """``(seed, fold, strategy)`` of every run, the strategies of one (seed, fold) together, so
    that a campaign trains them one after the other on one machine."""
    return [(seed, fold, name) for seed in seeds for fold in folds for name in strategies]


def _data_key(config: TrainConfig) -> tuple:
    seeded = config.mask_noise or config.folds is not None or config.split_seed is None   # the seed draws the data
    return tuple(getattr(config, k) for k in DATA_KEYS) + ((config.seed,) if seeded else ())


def train_all(config: TrainConfig, strategies=STRATEGIES, seeds=(0,), out: str | os.PathLike | None = None,
              resume: bool = True, verbose: bool = True, evaluate_noise: bool = True, folds=(None,)) -> list[RunResult]:
    """Train (or load) every strategy for every seed (and fold of ``folds``; ``None``: the
    config's split), the four strategies of one (seed, fold) in a row, preparing the data once
    per data setting."""
    device = get_device(config.device)
    prepared: dict[tuple, TrainingData] = {}
    results = []
    for seed, fold, name in run_order(strategies, seeds, folds):
        changes = {"seed": seed, "strategy": name, **({} if fold is None else {"fold": fold})}
        run = dataclasses.replace(config, **changes).resolve(device)
        key = _data_key(run)
        if key not in prepared:
            prepared = {key: prepare_data(run, device, verbose=verbose)}   # keep one in memory
        results.append(train(run, out=out, resume=resume, verbose=verbose, data=prepared[key],
                             evaluate_noise=evaluate_noise))
    return results
