"""Train the paper's U-Net with each of the four strategies: one loop, resumable, reproducible.

The experiment (Kervadec et al. 2021, Table 1, on BUSI): ``smp.Unet`` with a ResNet-34 encoder, one
input channel, **one output channel with a sigmoid** (a binary problem: one logit per pixel is the
same model as a two-channel softmax, with half the output and Φ_G needed for the tumour only),
trained with Adam (lr 1e-3), batch 16, 20 epochs, on 256×256 images, scored by validation Dice.

Profiles (every setting can still be overridden):

* ``paper``: the settings above;
* ``quick``: the same code path, smaller (128², ResNet-18, fewer epochs), so that the four
  strategies train in a few minutes on two CPU cores;
* ``auto``: ``paper`` on CUDA, ``quick`` elsewhere.

Scale of Φ_G. In pixels, Φ_G reaches ~180 at 256², so at initialisation L_B is tens of times
the BCE and an α-weighted boundary term swamps the regional one. By default (``phi_scale="image"``)
Φ_G is divided by the image side, which makes it resolution-independent (the same strategy behaves
the same at 128² and 256²) and of the order of the BCE. ``phi_scale="pixel"`` keeps the raw maps.

Reproducibility and resumption. The data live in tensors on the device; each epoch's batch order
comes from a generator seeded with ``(seed, epoch)``, the model is initialised from ``seed``, and
U-Net has no dropout, so there is no hidden RNG state: a run killed at any moment and started
again continues from its last completed epoch (``last.pt``) and ends with the same metrics as an
uninterrupted run on the CPU. Every file is written under a temporary name and renamed; ``run.json``
is written last, so a run folder with a ``run.json`` is complete. On CUDA, mixed precision
(bf16 where supported, else fp16 with loss scaling) and cuDNN's autotuned kernels make results vary
slightly from run to run; on the CPU, bf16 autocast and channels_last are used where supported and
results are identical for a fixed seed on the same machine.

Command line::

    python -m bl_utils.train --strategy rebalance --profile quick --data synthetic --out results/
    python -m bl_utils.train --strategy all --profile quick          # the four strategies
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import data as bl_data
from .losses import StrategyLoss
from .metrics import batch_dice, evaluate_masks, summarize
from .runtime import atomic_write, display_path, get_device, project_root, run_metadata, seed_everything, write_json
from .schedules import STRATEGIES, make_strategy

#: The settings of each profile; ``auto`` picks ``paper`` on CUDA and ``quick`` elsewhere.
PROFILES: dict[str, dict[str, Any]] = {
    "paper": dict(image_size=256, encoder="resnet34", epochs=20, batch_size=16, lr=1e-3),
    "quick": dict(image_size=128, encoder="resnet18", epochs=8, batch_size=16, lr=1e-3),
}

#: Best validation Dice of the seed study (its Table 1), shown beside ours.
SEED_TABLE1 = {"ce": 0.798, "ce+bl": 0.798, "ce+ramp": 0.796, "rebalance": 0.801}

#: Settings that change what a run computes; a run folder is reused only when all of them match.
RESULT_KEYS = ("strategy", "image_size", "encoder", "encoder_weights", "epochs", "batch_size", "lr",
               "seed", "val_fraction", "max_tumour_fraction", "group_duplicates", "max_images",
               "alpha", "schedule", "ramp_end", "phi_scale", "regional", "amp", "data")


class TrainingError(RuntimeError):
    """A run that cannot go on: a non-finite loss, or a run folder made with other settings."""


def _fast_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast speeds training up on ``device``: CUDA, or a CPU with native bf16
    (AMX or AVX512-BF16); elsewhere the CPU emulates bf16 and a step is 2–3× slower than fp32."""
    if device.type == "cuda":
        return True
    if device.type == "cpu":
        return any(getattr(torch.cpu, name, lambda: False)()
                   for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return False


@dataclass
class TrainConfig:
    """Every setting of one training run. ``resolve()`` fills in the profile's values."""

    strategy: str = "ce"
    profile: str = "auto"
    data: str = "synthetic"             # "synthetic" or the BUSI folder
    image_size: int | None = None       # None: from the profile
    encoder: str | None = None
    encoder_weights: str | None = "imagenet"   # falls back to random init when it can't be fetched
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0
    val_fraction: float = 0.2
    max_tumour_fraction: float | None = 0.05
    group_duplicates: bool = True       # keep (near-)duplicate images on one side of the split
    max_images: int | None = None       # use only this many images (seeded choice), for tests
    alpha: float = 1.0                  # the fixed α of "ce+bl"
    schedule: str = "linear"            # α(t) of "ce+ramp"/"rebalance": "linear" or "kervadec"
    ramp_end: float = 1.0               # α at the end of a linear ramp (the cap of "kervadec")
    phi_scale: str = "image"            # "image": Φ_G / image side; "pixel": raw pixels
    regional: str = "bce"               # the regional loss: "bce", "dice" or "bce+dice"
    amp: str = "auto"                   # "auto" (bf16 on CPU/CUDA where supported), "bf16", "fp16", "off"
    device: str | None = None           # None: get_device()
    cache_dir: str | None = None        # data cache (default .cache/busi in the checkout)

    def resolve(self, device: torch.device | None = None) -> "TrainConfig":
        """A copy with the profile applied (explicit settings win) and ``amp`` made concrete."""
        device = device or get_device(self.device)
        profile = self.profile
        if profile == "auto":
            profile = "paper" if device.type == "cuda" else "quick"
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; choose 'auto', 'quick' or 'paper'")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        values = {key: (getattr(self, key) if getattr(self, key) is not None else default)
                  for key, default in PROFILES[profile].items()}
        amp = self.amp if self.amp != "auto" else ("bf16" if _fast_bf16(device) else "off")
        if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            amp = "fp16"
        return dataclasses.replace(self, profile=profile, amp=amp, **values)

    def result_settings(self) -> dict[str, Any]:
        """The settings that define the result (see ``RESULT_KEYS``); :func:`train` adds the
        data's :func:`~bl_utils.data.fingerprint`, so that changed data means a new run."""
        return {key: getattr(self, key) for key in RESULT_KEYS}


@dataclass
class RunResult:
    """A finished run: where it lives, its settings, its per-epoch history and its best epoch."""

    folder: Path
    settings: dict[str, Any]
    history: pd.DataFrame
    best: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def strategy(self) -> str:
        return self.settings["strategy"]


# --------------------------------------------------------------------------------------------
# The model


_IMAGENET_UNAVAILABLE: str | None = None


def _hub_reachable(host: str = "huggingface.co", timeout: float = 2.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def build_model(encoder: str = "resnet34", encoder_weights: str | None = "imagenet",
                verbose: bool = True) -> tuple[torch.nn.Module, str | None]:
    """``smp.Unet(encoder)`` with 1 input and 1 output channel; returns ``(model, weights_used)``.

    ImageNet weights are fetched when the hub can be reached (or are already cached); offline, the
    model falls back to random initialisation within seconds, says so, and ``weights_used`` is
    ``None``. The caller seeds torch first, so the random initialisation is reproducible.
    """
    import segmentation_models_pytorch as smp

    global _IMAGENET_UNAVAILABLE
    rng_state = torch.get_rng_state()   # smp draws the encoder's init before fetching weights
    if encoder_weights and _IMAGENET_UNAVAILABLE is None:
        offline = not _hub_reachable()
        previous = os.environ.get("HF_HUB_OFFLINE")
        hub_constants = sys.modules.get("huggingface_hub.constants")
        previous_flag = getattr(hub_constants, "HF_HUB_OFFLINE", None)
        if offline:  # only a local cache can help; don't wait for retries
            os.environ["HF_HUB_OFFLINE"] = "1"
            if hub_constants is not None:  # read once at import: the variable alone is too late
                hub_constants.HF_HUB_OFFLINE = True
        try:
            return smp.Unet(encoder, encoder_weights=encoder_weights, in_channels=1, classes=1), encoder_weights
        except Exception as error:  # offline, blocked, or a cache miss
            _IMAGENET_UNAVAILABLE = f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
        finally:
            if offline:
                if previous is None:
                    os.environ.pop("HF_HUB_OFFLINE", None)
                else:
                    os.environ["HF_HUB_OFFLINE"] = previous
                if hub_constants is not None:
                    hub_constants.HF_HUB_OFFLINE = previous_flag
    torch.set_rng_state(rng_state)   # the fallback's initialisation = that of encoder_weights=None
    if encoder_weights and verbose:
        print(f"NOTE: {encoder_weights} weights for {encoder} could not be fetched "
              f"({_IMAGENET_UNAVAILABLE}); training from RANDOM initialisation. The paper "
              "started from ImageNet weights; run with internet access to do the same.")
    return smp.Unet(encoder, encoder_weights=None, in_channels=1, classes=1), None


# --------------------------------------------------------------------------------------------
# Data


@dataclass
class TrainingData:
    """Train and validation tensors, held on the training device.

    ``images``: float32 ``(N, 1, H, W)``, standardised; ``masks``: float32 ``(N, 1, H, W)`` in
    {0, 1}; ``phis``: float32 ``(N, 1, H, W)``, Φ_G scaled as the config says.
    """

    train_images: torch.Tensor
    train_masks: torch.Tensor
    train_phis: torch.Tensor
    val_images: torch.Tensor
    val_masks: torch.Tensor
    val_phis: torch.Tensor
    val_stems: list[str]
    val_labels: list[str]
    train_stems: list[str]
    source: str


def prepare_data(config: TrainConfig, device: torch.device, verbose: bool = True) -> TrainingData:
    """Load the data of ``config`` (cached), split it 80/20 (seeded), and move it to ``device``."""
    source = bl_data.resolve_data(config.data)
    if verbose:
        print(source.description)
    dataset = bl_data.load_busi(source.root, image_size=config.image_size,
                                max_tumour_fraction=config.max_tumour_fraction,
                                cache_dir=config.cache_dir, progress=verbose)
    if config.max_images is not None and config.max_images < len(dataset):
        chosen = np.sort(np.random.default_rng(config.seed).permutation(len(dataset))[:config.max_images])
        dataset = dataset.subset(chosen)
    groups = bl_data.duplicate_groups(dataset) if config.group_duplicates else None
    split = bl_data.split_train_val(dataset, val_fraction=config.val_fraction, seed=config.seed,
                                    groups=groups)
    images = torch.from_numpy(dataset.images).float().div_(255.0).unsqueeze(1)
    mean, std = images[split.train].mean(), images[split.train].std().clamp_min(1e-6)
    images = (images - mean) / std
    masks = torch.from_numpy(dataset.masks.astype(np.float32)).unsqueeze(1)
    phis = torch.from_numpy(dataset.phis).unsqueeze(1)
    if config.phi_scale == "image":
        phis = phis / float(config.image_size)
    elif config.phi_scale != "pixel":
        raise ValueError(f"phi_scale must be 'image' or 'pixel', got {config.phi_scale!r}")

    def take(tensor, index):
        return tensor[torch.as_tensor(index, dtype=torch.long)].to(device).contiguous()

    meta = dataset.meta.reset_index(drop=True)
    return TrainingData(
        take(images, split.train), take(masks, split.train), take(phis, split.train),
        take(images, split.val), take(masks, split.val), take(phis, split.val),
        val_stems=list(meta.stem.iloc[split.val]), val_labels=list(meta.label.iloc[split.val]),
        train_stems=list(meta.stem.iloc[split.train]), source=source.description)


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


def _autocast(device: torch.device, amp: str):
    if amp == "off":
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """The shuffled batches of one epoch, a function of ``(seed, epoch)`` only (last batch may be short)."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=generator)
    return list(order.split(batch_size))


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
        with _autocast(chunk.device, amp):
            out.append(torch.sigmoid(model(chunk).float()))
    return torch.cat(out)


def _checkpoint_state(model, optimizer, scaler, epoch, history, best) -> dict[str, Any]:
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "epoch": epoch, "history": history, "best": best}


def _save_torch(obj, path: Path) -> None:
    with atomic_write(path, "wb") as handle:
        torch.save(obj, handle)


def build_training(config: TrainConfig, device: torch.device, verbose: bool = True):
    """The seeded model on ``device`` (channels_last on CPU/CUDA), its Adam optimizer, and the loss
    scaler (``None`` unless fp16 on CUDA). Returns ``(model, optimizer, scaler, weights_used)``.

    ``config`` must be resolved (:meth:`TrainConfig.resolve`).
    """
    seed_everything(config.seed)
    model, weights_used = build_model(config.encoder, config.encoder_weights, verbose=verbose)
    model = model.to(device)
    if device.type in ("cpu", "cuda"):
        model = model.to(memory_format=torch.channels_last)
    # fused: one kernel for all parameters (on the CPU, 4-5x faster than the default per-tensor loop)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda"))
    scaler = torch.amp.GradScaler("cuda") if config.amp == "fp16" and device.type == "cuda" else None
    return model, optimizer, scaler, weights_used


def run_folder(config: TrainConfig, out: str | os.PathLike) -> Path:
    """``<out>/<data>-<profile>/<strategy>/seed<k>``: where a resolved config's run lives."""
    data_tag = "synthetic" if config.data == "synthetic" else "busi"
    return Path(out) / f"{data_tag}-{config.profile}" / config.strategy.replace("+", "_") / f"seed{config.seed}"


def train(config: TrainConfig, out: str | os.PathLike | None = None, resume: bool = True,
          verbose: bool = True, data: TrainingData | None = None) -> RunResult:
    """Train one strategy; return its :class:`RunResult` (read back when already complete).

    The run lives in :func:`run_folder`. ``resume=True`` continues an interrupted run from its last
    completed epoch and returns a complete one without training; ``resume=False`` starts over.
    A folder holding a run made with other settings raises :class:`TrainingError` naming them.
    ``data`` lets several strategies share one :func:`prepare_data`.
    """
    from tqdm.auto import tqdm

    device = get_device(config.device)
    config = config.resolve(device)
    out = Path(out) if out is not None else project_root() / "results"
    folder = run_folder(config, out)
    settings = dict(config.result_settings(),
                    data_fingerprint=bl_data.fingerprint(bl_data.resolve_data(config.data)))
    if resume and (folder / "run.json").is_file():
        result = load_run(folder)
        _check_settings(folder, result.settings, settings)
        if verbose:
            print(f"{config.strategy}: complete run found in {display_path(folder)}; not retraining.")
        return result

    for stale in folder.glob(".*.tmp"):   # atomic_write's temporary files, left by a killed run
        stale.unlink(missing_ok=True)
    if not resume:   # starting over: the folder no longer holds a complete or resumable run
        for name in ("run.json", "last.pt"):
            (folder / name).unlink(missing_ok=True)
    model, optimizer, scaler, weights_used = build_training(config, device, verbose=verbose)
    channels_last = device.type in ("cpu", "cuda")
    settings_used = dict(settings, encoder_weights_used=weights_used, profile=config.profile)
    data = data or prepare_data(config, device, verbose=verbose)
    strategy = make_strategy(config.strategy, config.epochs, alpha=config.alpha,
                             schedule=config.schedule, ramp_end=config.ramp_end)
    objective = StrategyLoss(strategy, regional=config.regional)

    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"val_dice": -1.0, "epoch": None}
    start_epoch = 0
    last_path = folder / "last.pt"
    if resume and last_path.is_file():
        state = torch.load(last_path, map_location=device, weights_only=True)
        _check_settings(folder, state["history"][0]["settings"] if state["history"] else {}, settings)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state["scaler"] is not None:
            scaler.load_state_dict(state["scaler"])
        history, best, start_epoch = state["history"], state["best"], state["epoch"] + 1
        if verbose:
            print(f"{config.strategy}: resuming {display_path(folder)} after epoch {start_epoch}/{config.epochs}")
    folder.mkdir(parents=True, exist_ok=True)

    n_train = len(data.train_images)
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        batches = batch_order(n_train, config.batch_size, config.seed, epoch)
        model.train()
        sums = torch.zeros(3, device=device)  # total, regional, boundary (weighted by batch size)
        bar = tqdm(batches, desc=f"{config.strategy} epoch {epoch + 1}/{config.epochs}",
                   leave=False, disable=not verbose)
        for step, index in enumerate(bar):
            index = index.to(device)
            images = data.train_images[index]
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with _autocast(device, config.amp):
                logits = model(images)
            try:
                loss, terms = objective(logits.float(), data.train_masks[index], data.train_phis[index],
                                        epoch=float(epoch))
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
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            sums += torch.stack([loss.detach(), terms["regional"], terms["boundary"]]) * len(index)
        probs = predict(model, data.val_images, config.amp)
        dice = batch_dice(probs, data.val_masks, from_logits=False)
        tumour = data.val_masks.flatten(1).amax(1) > 0
        w_regional, w_boundary = strategy.weights(float(epoch))
        mean_loss, mean_regional, mean_boundary = (sums / n_train).tolist()
        row = {"epoch": epoch + 1, "alpha": strategy.alpha(float(epoch)),
               "w_regional": w_regional, "w_boundary": w_boundary, "train_loss": mean_loss,
               "train_regional": mean_regional, "train_boundary": mean_boundary,
               "val_dice": dice.mean().item(),
               "val_dice_tumour": dice[tumour].mean().item() if tumour.any() else float("nan"),
               "val_empty_predictions": int((probs.flatten(1).amax(1) < 0.5).sum()),
               "seconds": time.perf_counter() - started,
               "settings": settings if epoch == 0 else None}
        history.append(row)
        if row["val_dice"] > best["val_dice"]:
            best = {"val_dice": row["val_dice"], "val_dice_tumour": row["val_dice_tumour"],
                    "epoch": epoch + 1}
            _save_torch(model.state_dict(), folder / "best.pt")
        _save_torch(_checkpoint_state(model, optimizer, scaler, epoch, history, best), last_path)
        if verbose:
            print(f"{config.strategy:>9} epoch {epoch + 1:>2}/{config.epochs}: loss {mean_loss:.4f} "
                  f"(regional {mean_regional:.4f}, boundary {mean_boundary:.4f}, α={row['alpha']:.2f}) "
                  f"val Dice {row['val_dice']:.3f} (tumour images {row['val_dice_tumour']:.3f}) "
                  f"[{row['seconds']:.1f} s]")
    return _finish(folder, config, settings_used, model, data, history, best, device)


def _check_settings(folder: Path, found: dict[str, Any], wanted: dict[str, Any]) -> None:
    differ = {k: (found.get(k), wanted[k]) for k in wanted if found.get(k) != wanted[k]}
    if differ:
        listed = ", ".join(f"{k}: {a!r} there, {b!r} asked" for k, (a, b) in differ.items())
        raise TrainingError(f"{folder} holds a run with other settings ({listed}). Use another --out "
                            "folder, or start over with resume=False (--fresh).")


def _finish(folder, config, settings, model, data, history, best, device) -> RunResult:
    """Evaluate the best checkpoint on validation, write metrics, predictions and run.json."""
    model.load_state_dict(torch.load(folder / "best.pt", map_location=device, weights_only=True))
    probs = predict(model, data.val_images, config.amp)[:, 0].cpu().numpy()
    truth = data.val_masks[:, 0].cpu().numpy() > 0.5
    table = evaluate_masks(probs >= 0.5, truth, stems=data.val_stems, labels=data.val_labels)
    rows = [{k: v for k, v in row.items() if k != "settings"} for row in history]
    frame = pd.DataFrame(rows)
    with atomic_write(folder / "metrics.csv") as handle:
        frame.to_csv(handle, index=False)
    with atomic_write(folder / "val_per_image.csv") as handle:
        table.to_csv(handle, index=False)
    with atomic_write(folder / "predictions.npz", "wb") as handle:
        np.savez_compressed(handle, probs=np.round(probs * 255).astype(np.uint8), truth=truth,
                            stems=np.array(data.val_stems), labels=np.array(data.val_labels))
    summary = {k: (float(v) if isinstance(v, (float, np.floating, int, np.integer)) else v)
               for k, v in dict(summarize(table)).items()}
    best = dict(best, **{f"best_{k}": v for k, v in summary.items()})
    metadata = run_metadata(settings, device)
    metadata.update(best=best, data=data.source, train_stems=data.train_stems,
                    val_stems=data.val_stems, complete=True)
    write_json(folder / "run.json", metadata)   # last: its presence marks the run complete
    return RunResult(folder, settings, frame, best, metadata)


def load_run(folder: str | os.PathLike) -> RunResult:
    """Read a complete run folder written by :func:`train`."""
    import json

    folder = Path(folder)
    metadata = json.loads((folder / "run.json").read_text())
    history = pd.read_csv(folder / "metrics.csv")
    return RunResult(folder, metadata["settings"], history, metadata["best"], metadata)


def train_all(config: TrainConfig, strategies=STRATEGIES, seeds=(0,),
              out: str | os.PathLike | None = None, resume: bool = True,
              verbose: bool = True) -> list[RunResult]:
    """Train (or load) every strategy for every seed, sharing the prepared data per seed."""
    device = get_device(config.device)
    results = []
    for seed in seeds:
        base = dataclasses.replace(config, seed=seed).resolve(device)
        data = None
        for name in strategies:
            run = dataclasses.replace(base, strategy=name)
            if not (resume and (run_folder(run, out or project_root() / "results") / "run.json").is_file()):
                data = data or prepare_data(run, device, verbose=verbose)
            results.append(train(run, out=out, resume=resume, verbose=verbose, data=data))
    return results


def results_table(results: list[RunResult]) -> pd.DataFrame:
    """Table 1: best validation Dice per strategy (mean ± std over seeds) beside the seed study's.

    Columns: ``strategy, runs, best_dice, best_dice_std, seed_study_dice, dice_tumour_images,
    hd95, assd, components, best_epoch``. HD95/ASSD/components are those of the best checkpoint's
    thresholded predictions on the validation images (means over images; see ``metrics``).
    """
    rows = []
    for result in results:
        best = result.best
        rows.append({"strategy": result.strategy, "best_dice": best["val_dice"],
                     "dice_tumour_images": best.get("val_dice_tumour"),
                     "hd95": best.get("best_hd95_mean"), "assd": best.get("best_assd_mean"),
                     "components": best.get("best_components_mean"), "best_epoch": best["epoch"]})
    frame = pd.DataFrame(rows)
    grouped = frame.groupby("strategy", sort=False)
    table = grouped.mean(numeric_only=True)
    table.insert(0, "runs", grouped.size())
    table.insert(2, "best_dice_std", grouped.best_dice.std(ddof=1) if len(frame) > len(table) else np.nan)
    table.insert(3, "seed_study_dice", [SEED_TABLE1.get(name, np.nan) for name in table.index])
    return table.reset_index()


def table_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """``table`` as a GitHub Markdown table (floats rounded to ``digits``, NaN shown as ``–``)."""
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            if math.isnan(value):
                return "–"
            return str(int(value)) if float(value).is_integer() and abs(value) < 1e6 else f"{value:.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, folder: str | os.PathLike, name: str = "table1",
                caption: str | None = None) -> tuple[Path, Path]:
    """Write ``table`` as ``<folder>/<name>.csv`` and ``<name>.md`` (atomically); return both paths.

    ``caption`` (e.g. which data and profile) becomes the Markdown file's first paragraph.
    """
    folder = Path(folder)
    with atomic_write(folder / f"{name}.csv") as handle:
        table.to_csv(handle, index=False)
    with atomic_write(folder / f"{name}.md") as handle:
        handle.write((caption + "\n\n" if caption else "") + table_markdown(table))
    return folder / f"{name}.csv", folder / f"{name}.md"


def collapsed(result: RunResult, min_tumour_dice: float = 0.1) -> bool:
    """True when a run ended predicting (almost) nothing on tumour images: its last epoch's mean
    validation Dice over images with a tumour is below ``min_tumour_dice``. This is the failure
    seen with Φ_G in pixels and α ramped to 1 (see the module docstring)."""
    last = result.history.iloc[-1]
    return not (last.val_dice_tumour >= min_tumour_dice)


def _parse_args(argv: list[str] | None) -> tuple[TrainConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m bl_utils.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategy", default="all", help=f"one of {', '.join(STRATEGIES)}, or 'all'")
    parser.add_argument("--profile", default="auto", choices=["auto", "quick", "paper"])
    parser.add_argument("--data", default=os.environ.get("BUSI_DIR", "synthetic"),
                        help="'synthetic' or the BUSI folder (default: $BUSI_DIR, else synthetic)")
    parser.add_argument("--out", default=None, help="results folder (default: results/ of the checkout)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    parser.add_argument("--resume", action="store_true", help="resume (the default; kept for clarity)")
    for name in ("image_size", "epochs", "batch_size", "max_images"):
        parser.add_argument("--" + name.replace("_", "-"), type=int)
    for name in ("lr", "alpha", "ramp_end"):
        parser.add_argument("--" + name.replace("_", "-"), type=float)
    for name in ("encoder", "schedule", "phi_scale", "regional", "amp", "device"):
        parser.add_argument("--" + name.replace("_", "-"))
    parser.add_argument("--no-imagenet", action="store_true", help="random encoder initialisation")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items()
                 if v is not None and k in {f.name for f in dataclasses.fields(TrainConfig)}
                 and k not in ("strategy", "seeds")}
    if args.no_imagenet:
        overrides["encoder_weights"] = None
    config = TrainConfig(strategy="ce", **overrides)
    return config, args


def main(argv: list[str] | None = None) -> int:
    config, args = _parse_args(argv)
    strategies = STRATEGIES if args.strategy == "all" else (args.strategy,)
    try:
        results = train_all(config, strategies=strategies, seeds=tuple(args.seeds), out=args.out,
                            resume=not args.fresh)
    except (TrainingError, bl_data.BusiDataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(results_table(results).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
