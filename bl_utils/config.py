"""What a training run is: the profiles, every setting, and where a run's files live.

Profiles (every setting can still be overridden):

* ``paper``: the settings above;
* ``quick``: the same code path, smaller (128², ResNet-18, 8 epochs), so that the four strategies
  train in minutes on two CPU cores. Images are always read at 256² (where the < 5 % rule is
  applied) and downsampled, so both profiles see the same images;
* ``auto``: ``paper`` on CUDA, ``quick`` elsewhere.

Method defaults (deviations are ablations, see notebook 3):

* Φ_G on images without a tumour is 0 (``phi_empty="zero"``), as in Kervadec et al.'s code, which
  Odonnat & Pham used: L_B ignores normal images. ``"diagonal"`` puts +D (the image diagonal)
  everywhere instead, a large penalty on any prediction in a normal image.
* Φ_G is divided by the image side (``phi_scale="image"``): an α here is α/256 in the papers'
  pixel units at 256² (:func:`alpha_in_pixel_units`). ``"pixel"`` keeps the papers' units; with
  them the boundary term is tens of times the BCE at initialisation (:func:`phi_scale_table`).
* α(t) of ``ce+ramp`` and ``rebalance`` rises linearly 0 → 1 (Odonnat & Pham); ``schedule=
  "kervadec"`` is Kervadec et al.'s (0.01, +0.01 per epoch; see :mod:`bl_utils.schedules`).
* One split for every run (``split_seed``), so all strategies and seeds are scored on the same
  validation images; ``seed`` varies the initialisation and the batch order.

Protocols (:data:`PROTOCOLS`, ``protocol=``) are named sets of these settings, each spelled out in
full; ``TrainConfig()`` is the study's:

* ``earlier``: the < 5 % rule over all images, normal ones included, one grouped split, the
  profile's epochs (8 at ``quick``) at a constant rate (the runs published first; the appendix);
* ``odonnat-pham``: Odonnat & Pham's notebook as it ran (``main.ipynb``): the tumour images with a
  tumour fraction < 10 % (425 on BUSI), no normal image; their weighted BCE (``regional="wbce"``),
  Φ_G in pixels of the 256² image (``phi_scale="pixel256"``), α = max(0, t/T − 0.05) for ce+ramp and
  rebalance and α = 1 for ce+bl, images /255 without standardisation, one random batch order kept
  for every epoch, a random ungrouped 80/20 split drawn from the run's seed (the validation images
  read in the draw's order, :func:`bl_utils.data.split.random_split`), 20 epochs, and the best epoch
  chosen on their batch-pooled F1 (:func:`bl_utils.metrics.batch_pooled_f1`); their CE cell as written
  (SGD, sigmoid BCE, the < 5 % rule, 30 epochs) is this protocol with ``optimizer="sgd"`` and those
  settings (the ``odonnat_pham_ce_cell`` experiment);
* ``study``: the same 425 tumour images, repeated 5-fold cross-validation (each seed its own
  partition, grouped by near-duplicates and stratified by class), 20 epochs with shuffled batches
  and a polynomial learning-rate decay to 0 (nnU-Net's), so that the final epoch is the model.
* ``external``: the study's settings trained on **all** 425 tumour images (no validation split,
  ``val_fraction=0``; the final epoch is the model), to be scored on another hospital's images
  (BUS-BRA, ``external``): the seed varies the initialisation and the batch order only.

With ``external`` set to a BUS-BRA folder (:func:`bl_utils.data.busbra.resolve_external`; the
``external`` protocol requires one), the final model is scored on its images at the end of the run
(``external_images.csv``, :data:`bl_utils.evaluate.EXTERNAL_SCORING`); this changes nothing of the run
itself, so it is not part of the run's name.

With ``include_normal=False`` the normal images the run never trained on are a second test set:
the final (and best) model's false positives on each are written to ``normal_images.csv``.

A run's folder is a function of every setting that changes its result (:func:`run_folder`):
``<out>/<data>-<fingerprint>/[<protocol>-]<profile>-<weights>[+changed settings]/<strategy>/seed<k>[/fold<f>]``;
the machine (device, threads, AMP mode) is recorded in ``run.json`` but does not name the run.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .distance import PHI_SCALES, scale_phi
from .model import encoder_weights_available
from .runtime import get_device, project_root, select_amp
from .schedules import STRATEGIES

__all__ = ["PROFILES", "PROTOCOLS", "resolve_profile", "RESULT_KEYS", "RUN_FILES", "TrainConfig", "alpha_in_pixel_units", "variant_name",
           "data_id", "run_folder", "default_results_dir"]

#: The settings of each profile; ``auto`` picks ``paper`` on CUDA and ``quick`` elsewhere.
PROFILES: dict[str, dict[str, Any]] = {
    "paper": dict(image_size=256, encoder="resnet34", epochs=20, batch_size=16, lr=1e-3),
    "quick": dict(image_size=128, encoder="resnet18", epochs=8, batch_size=16, lr=1e-3),
    # the notebooks' smoke test (tests, the built-in synthetic data): seconds per run, numbers meaningless
    "tiny": dict(image_size=64, encoder="resnet18", epochs=2, batch_size=8, lr=1e-3, max_images=48),
}

#: Settings that change what a run computes, besides its strategy, seed and data; a run folder's
#: name lists those that differ from the profile's defaults (:func:`run_folder`).
RESULT_KEYS = ("image_size", "encoder", "encoder_weights", "epochs", "batch_size", "lr", "val_fraction",
               "split_seed", "max_tumour_fraction", "group_duplicates", "max_images", "alpha", "schedule",
               "ramp_end", "phi_scale", "phi_empty", "regional", "mask_noise", "include_normal", "folds",
               "lr_schedule", "batch_order", "normalise", "best_metric", "optimizer")

#: The settings in which the protocols differ, each protocol spelled out in full (``epochs=None``:
#: the profile's). :class:`TrainConfig`'s defaults are the ``study`` protocol's.
PROTOCOL_KEYS = ("max_tumour_fraction", "include_normal", "folds", "val_fraction", "epochs", "lr_schedule",
                 "regional", "phi_scale", "schedule", "alpha", "normalise", "batch_order", "group_duplicates",
                 "split_seed", "best_metric")
_STUDY = dict(max_tumour_fraction=0.10, include_normal=False, folds=5, val_fraction=0.2, epochs=20, lr_schedule="poly",
              regional="bce", phi_scale="image", schedule="linear", alpha=1.0, normalise=True, batch_order="shuffle",
              group_duplicates=True, split_seed=0, best_metric="val_dice")
#: The named protocols: every setting of :data:`PROTOCOL_KEYS` for each.
PROTOCOLS: dict[str, dict[str, Any]] = {
    "study": dict(_STUDY),
    "external": {**_STUDY, "folds": None, "val_fraction": 0.0},
    "odonnat-pham": {**_STUDY, "folds": None, "lr_schedule": "constant", "regional": "wbce", "phi_scale": "pixel256",
                     "schedule": "odonnat-pham", "normalise": False, "batch_order": "fixed", "group_duplicates": False,
                     "split_seed": None, "best_metric": "val_f1_pooled"},
    "earlier": {**_STUDY, "max_tumour_fraction": 0.05, "include_normal": True, "folds": None, "epochs": None,
                "lr_schedule": "constant"},
}

#: The files of a complete run folder (checkpoints ``best.pt``/``last.pt`` are never published).
RUN_FILES = {
    "run.json": "settings, versions, git commit, code version, device, wall time, summaries at the "
                "best and the final epoch, the split (written last: marks the run complete)",
    "metrics.csv": "one row per epoch: α, loss weights, train losses, validation Dice",
    "val_per_image.csv": "per validation image and checkpoint (best, final): Dice, IoU, HD95, ASSD, "
                         "components, empty target / prediction",
    "predictions.npz": "thresholded validation predictions of both checkpoints, bit-packed "
                       "(np.unpackbits(..., axis=-1, count=W)), with stems and labels",
    "val_counts.npz": "every epoch's true positives, false positives and false negatives per validation "
                      "image (epochs × images × 3), with stems and dataset indices in validation order: "
                      "Odonnat & Pham's batch-pooled F1 in any order of the images",
    "robustness.csv": "per corruption, level and validation image: the final model's metrics on "
                      "degraded images (bl_utils.noise.TEST_CORRUPTIONS)",
    "normal_images.csv": "(include_normal=False) per normal image never trained on and checkpoint: "
                         "predicted pixels, whether any (a false positive)",
    "external_images.csv": "(with external data) per external image: the final model's metrics, NSD, "
                           "predicted pixels, with the image's patient, pathology, scanner, BI-RADS "
                           "(published gzipped: external_images.csv.gz)",
    "external_predictions.npz": "(with external data) the final model's thresholded predictions of every "
                                "external image, bit-packed, with stems",
}

def alpha_in_pixel_units(alpha: float, phi_scale: str, image_size: int) -> float:
    """α expressed for Φ_G in pixels of the training image (the papers' units): α times the factor
    :func:`bl_utils.distance.scale_phi` applies to Φ_G — ``alpha / image_size`` for ``"image"``,
    ``alpha`` for ``"pixel"``, ``alpha · 256 / image_size`` for ``"pixel256"``."""
    return alpha * float(scale_phi(np.float64(1.0), phi_scale, image_size))


@dataclass
class TrainConfig:
    """Every setting of one training run. ``resolve()`` fills in the profile's values."""

    strategy: str = "ce"
    profile: str = "auto"
    data: str = "synthetic"             # "synthetic" or the BUSI folder
    image_size: int | None = None       # None: from the profile
    encoder: str | None = None
    encoder_weights: str | None = "imagenet"   # resolve(): None where they cannot be fetched
    epochs: int | None = 20             # None: from the profile
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0                       # initialisation, batch order (and the folds, annotation noise)
    protocol: str = "study"             # a name of PROTOCOLS; the defaults below are the study's
    split_seed: int | None = 0          # one split's seed (protocols without folds); None: seed
    val_fraction: float = 0.2           # 0: train on every image (the external protocol)
    max_tumour_fraction: float | None = 0.10
    group_duplicates: bool = True       # keep (near-)duplicate images on one side of the split
    max_images: int | None = None       # use only this many images (chosen with split_seed), for tests
    alpha: float = 1.0                  # the fixed α of "ce+bl" (for Φ_G scaled by the image side)
    schedule: str = "linear"            # α(t) of "ce+ramp"/"rebalance": "linear" or "kervadec"
    ramp_end: float = 1.0               # α at the end of a linear ramp (the cap of "kervadec")
    phi_scale: str = "image"            # "image": Φ_G / image side; "pixel": the papers' units
    phi_empty: str = "zero"             # Φ_G on images without tumour: "zero" (authors) or "diagonal"
    regional: str = "bce"               # the regional loss: "bce", "dice" or "bce+dice"
    mask_noise: float = 0.0             # contour jitter of the training masks, pixels at 256²
    include_normal: bool = False        # True: normal images in training and validation
    folds: int | None = 5               # k-fold cross-validation (partition drawn from seed); None: one split
    fold: int = 0                       # which fold validates (with folds)
    lr_schedule: str = "poly"           # "constant", or "poly": lr · (1 − step / steps)^0.9 (nnU-Net)
    batch_order: str = "shuffle"        # "shuffle": a new order each epoch; "fixed": one order for all
    normalise: bool = True              # standardise with the training images' mean and sd (else /255)
    best_metric: str = "val_dice"       # the epoch kept as "best": "val_dice" or "val_f1_pooled"
    optimizer: str = "adam"             # "adam", or "sgd": SGD with momentum 0.9 (their CE cell)
    amp: str = "auto"                   # "auto", "bf16", "fp16", "off" (see select_amp)
    device: str | None = None           # None: get_device()
    cache_dir: str | None = None        # data cache (default .cache/busi in the checkout)
    external: str | None = None         # BUS-BRA folder: score the final model on it (not in the run's name)

    @classmethod
    def of_protocol(cls, protocol: str = "study", **settings: Any) -> "TrainConfig":
        """A config with ``protocol``'s settings (:data:`PROTOCOLS`), then ``settings`` over them."""
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        return cls(**{**PROTOCOLS[protocol], **settings, "protocol": protocol})

    def resolve(self, device: torch.device | None = None) -> "TrainConfig":
        """A copy with the profile applied (explicit settings win), ``amp`` made concrete and
        ``encoder_weights`` set to what can actually be loaded here (``None`` offline)."""
        device = device or get_device(self.device)
        profile = resolve_profile(self.profile, device.type)
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        for name, allowed in (("phi_scale", PHI_SCALES), ("phi_empty", ("zero", "diagonal")),
                              ("protocol", tuple(PROTOCOLS)), ("lr_schedule", ("constant", "poly")),
                              ("batch_order", ("shuffle", "fixed")), ("best_metric", ("val_dice", "val_f1_pooled")),
                              ("optimizer", OPTIMIZERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not 0 <= self.val_fraction < 1 or (self.val_fraction == 0 and self.folds is not None):
            raise ValueError(f"val_fraction must be in [0, 1) (0: train on every image, without folds), "
                             f"got {self.val_fraction}")
        if self.protocol == "external" and self.folds is not None:
            raise ValueError("the external protocol trains on every image: folds must be None")
        if self.folds is not None and not 0 <= self.fold < self.folds:
            raise ValueError(f"fold must be in 0 … {self.folds - 1} with folds={self.folds}, got {self.fold}")
        values = {key: (getattr(self, key) if getattr(self, key) is not None else default)
                  for key, default in PROFILES[profile].items()}
        weights = self.encoder_weights
        if weights and not encoder_weights_available(values["encoder"], weights):
            weights = None
        return dataclasses.replace(self, profile=profile, amp=select_amp(device, self.amp),
                                   encoder_weights=weights, **values)

    def result_settings(self) -> dict[str, Any]:
        """Strategy, seed (and fold) and the settings of ``RESULT_KEYS`` (of a resolved config);
        the protocol is named when it is not ``earlier`` (whose runs were keyed before protocols)."""
        settings = {"strategy": self.strategy, "seed": self.seed, **{key: getattr(self, key) for key in RESULT_KEYS}}
        if self.protocol != "earlier":
            settings["protocol"] = self.protocol
        if self.folds is not None:
            settings["fold"] = self.fold
        if self.protocol == "earlier":   # its runs were recorded before these settings existed
            settings = {k: v for k, v in settings.items() if k not in _ADDED_KEYS or v != _ADDED_KEYS[k]}
        return {k: v for k, v in settings.items() if k not in _LATER_KEYS or v != _LATER_KEYS[k]}


#: Settings added after the first runs were published, with the value those runs had: a run of
#: the ``earlier`` protocol records them only when it differs, so that its settings still match
#: the published runs'; every other protocol records them all.
_ADDED_KEYS = {"include_normal": True, "folds": None, "lr_schedule": "constant", "batch_order": "shuffle",
               "normalise": True, "best_metric": "val_dice"}
#: Settings added after runs of every protocol were published, with the value all those runs had:
#: recorded in a run's settings only when they differ from it.
_LATER_KEYS = {"optimizer": "adam"}

#: The optimisers: Adam (every protocol), or SGD with momentum 0.9 (Odonnat & Pham's CE cell).
OPTIMIZERS = ("adam", "sgd")


def resolve_profile(profile: str, device_type: str) -> str:
    """The profile a run gets on a ``device_type`` (``"cuda"``, ``"cpu"``, ``"mps"``): ``auto`` is
    ``paper`` on CUDA and ``quick`` elsewhere. ``ValueError`` for an unknown profile."""
    if profile == "auto":
        profile = "paper" if device_type == "cuda" else "quick"
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose 'auto', {', '.join(map(repr, PROFILES))}")
    return profile


def variant_name(config: TrainConfig) -> str:
    """``[<protocol>-]<profile>-<imagenet|random>`` plus ``+key=value`` for every ``RESULT_KEYS``
    setting of a resolved ``config`` that differs from its protocol's, its profile's and
    :class:`TrainConfig`'s defaults, e.g. ``quick-random+phi_scale=pixel`` (protocol ``earlier``,
    not named) or ``study-quick-random``."""
    protocol = {k: v for k, v in PROTOCOLS[config.protocol].items() if not (v is None and k in PROFILES[config.profile])}
    defaults = {**{f.name: f.default for f in dataclasses.fields(TrainConfig)}, **PROFILES[config.profile], **protocol}
    name = f"{config.profile}-{config.encoder_weights or 'random'}"
    if config.protocol != "earlier":
        name = f"{config.protocol}-{name}"
    for key in RESULT_KEYS:
        value = getattr(config, key)
        if key != "encoder_weights" and value != defaults[key]:
            name += f"+{key}={value:g}" if isinstance(value, float) else f"+{key}={value}"
    return name


def data_id(kind: str, fingerprint: str) -> str:
    """The data level of a run's folder: ``<kind>-<first 8 hex of the fingerprint>``, e.g.
    ``busi-1a2b3c4d``; ``fingerprint`` is that of every image of the data before any selection
    rule (:func:`bl_utils.training_data.data_identity`), so runs of every protocol on one copy of BUSI
    share it and the selection is part of the run's settings instead."""
    return f"{kind}-{fingerprint[:8]}"


def run_folder(config: TrainConfig, out: str | os.PathLike, data_id: str) -> Path:
    """``<out>/<data_id>/<variant_name>/<strategy>/seed<k>`` for a resolved ``config``."""
    folder = Path(out) / data_id / variant_name(config) / config.strategy.replace("+", "_") / f"seed{config.seed}"
    return folder / f"fold{config.fold}" if config.folds is not None else folder


def default_results_dir() -> Path:
    """``results/`` of the checkout (``BL_RESULTS_DIR`` overrides)."""
    return Path(os.environ.get("BL_RESULTS_DIR") or project_root() / "results")
