"""The data of one training run: the images a run trains and validates on, prepared once.

:func:`prepare_data` turns a resolved :class:`~bl_utils.config.TrainConfig` into
:class:`TrainingData`: BUSI (or the synthetic stand-in) read at 256², the protocol's selection rule,
its split (one seeded 80/20 split, Odonnat & Pham's random draw, or a cross-validation fold), the
annotation noise if any, the images resized to the profile's size and standardised (or /255), Φ_G
scaled as the config says (:func:`scale_phi`), and, for protocols without normal images in
training, the normal images as a second test set. :func:`data_identity` names the data itself
(the fingerprint of every image, before any rule): the data level of every run folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .data import busi as bl_data
from .data.dataset import DataError
from .data.source import DataSource, resolve_data
from . import noise
from .config import TrainConfig, data_id
from .distance import batch_signed_distance_maps, scale_phi
from .data.split import Split, cross_validation_folds, fold_split, random_split, split_train_val, study_folds

__all__ = ["TrainingData", "data_identity", "data_id_of", "prepare_data", "phi_scale_table"]


@dataclass
class TrainingData:
    """Train and validation tensors on the training device, and what identifies them.

    ``*_images``: float32 ``(N, 1, H, W)``, standardised with the train set's ``mean``/``std`` (of
    intensities / 255); ``*_masks``: float32 ``(N, 1, H, W)`` in {0, 1} (train masks carry the
    annotation noise, if any); ``*_phis``: float32 ``(N, 1, H, W)``, Φ_G scaled as the config says.
    ``val_uint8``: uint8 ``(N, H, W)`` validation images before standardisation (for
    :mod:`bl_utils.noise`). ``fingerprint``: :func:`bl_utils.data.busi.content_fingerprint` of the
    images at 256² after the selection rule (a run's ``data_fingerprint``); ``data_fingerprint``:
    that of every image of the data, before any rule (it names the data, :func:`data_identity`);
    ``kind``: ``"busi"`` or ``"synthetic"``. ``normal_images`` ``(M, 1, H, W)`` (standardised like
    the others) and ``normal_stems``: with ``include_normal=False``, the normal images of the data,
    never trained on, a second test set for false positives. ``external_*`` (with ``config.external``,
    or the ``external`` protocol): another hospital's images (BUS-BRA), standardised like the
    others ``(K, 1, H, W)``, their bool masks ``(K, H, W)`` at the run's size, their table (``stem``,
    ``label``, ``patient``, ``scanner``, ``birads``, ``tumour_fraction`` at 256²) and content fingerprint.
    Without a validation split (``val_fraction=0``) the ``val_*`` tensors hold no image. ``val_index``:
    the validation images' indices in the dataset (after the selection rule), in validation order.
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
    normal_images: torch.Tensor | None = None
    normal_stems: list[str] = field(default_factory=list)
    external_images: torch.Tensor | None = None
    external_masks: np.ndarray | None = None
    external_meta: pd.DataFrame | None = None
    external_fingerprint: str | None = None
    val_index: np.ndarray | None = None

    @property
    def data_id(self) -> str:
        """The data level of a run's folder: :func:`bl_utils.config.data_id` of the whole data."""
        return data_id(self.kind, self.data_fingerprint)


def data_identity(data: str, cache_dir: str | None = None) -> tuple[DataSource, str]:
    """The source of ``data`` (as :func:`bl_utils.data.source.resolve_data` reads it) and the content
    fingerprint of *every* image it holds at 256², before any selection rule: what names the data
    in a run's folder (:func:`bl_utils.config.data_id`), whatever rule a protocol applies. Reads
    no image when the resized arrays are cached; computes no Φ_G."""
    source = resolve_data(data)
    everything = bl_data.load_busi(source.root, image_size=bl_data.PAPER_SIZE, max_tumour_fraction=None,
                                   distance_maps=False, cache_dir=cache_dir, progress=False)
    return source, bl_data.content_fingerprint(everything)


def data_id_of(data: str, cache_dir: str | None = None) -> str:
    """The data level of the run folders of ``data`` (a BUSI folder or ``"synthetic"``):
    :func:`bl_utils.config.data_id` of its content fingerprint (:func:`data_identity`). The one
    function every caller uses (the trainer's :attr:`TrainingData.data_id` gives the same id)."""
    source, fingerprint = data_identity(data, cache_dir)
    return data_id(source.kind, fingerprint)


def _load_split(config: TrainConfig, verbose: bool):
    """The dataset at 256² after the selection rule (and ``max_images``), its source, the
    fingerprints of the kept images and of the whole data, and the split."""
    source, whole = data_identity(config.data, config.cache_dir)
    if verbose:
        print(source.description)
    dataset = bl_data.load_busi(source.root, image_size=bl_data.PAPER_SIZE, distance_maps=False,
                                max_tumour_fraction=config.max_tumour_fraction, include_normal=config.include_normal,
                                cache_dir=config.cache_dir, progress=verbose)
    fingerprint = bl_data.content_fingerprint(dataset)
    split_seed = config.seed if config.split_seed is None else config.split_seed
    if config.max_images is not None and config.max_images < len(dataset):
        chosen = np.random.default_rng(split_seed).permutation(len(dataset))[:config.max_images]
        dataset = dataset.subset(np.sort(chosen))
    return dataset, source, fingerprint, whole, _split(config, dataset, split_seed, fingerprint)


def _split(config: TrainConfig, dataset, split_seed: int, fingerprint: str):
    """The run's :class:`~bl_utils.data.split.Split`: fold ``fold`` of a ``folds``-fold partition drawn
    from ``seed`` (grouped by near-duplicates and frames of one lesion unless ``group_duplicates=False``,
    stratified; a published partition is kept as it was drawn, :data:`bl_utils.data.split.PINNED_FOLDS`),
    Odonnat & Pham's random draw (their protocol), or the seeded 80/20 split of ``split_seed``."""
    groups = None if config.group_duplicates else False
    if config.val_fraction == 0:   # every image trains (the external protocol)
        every = np.arange(len(dataset))
        return Split(every, every[:0], split_seed, 0.0, list(dataset.meta.stem), [], stratified=False)
    if config.folds is not None:
        folds = (study_folds(dataset, config.folds, config.seed, fingerprint) if config.group_duplicates else
                 cross_validation_folds(dataset, config.folds, seed=config.seed, groups=False))
        return fold_split(folds, config.fold, seed=config.seed, stems=list(dataset.meta.stem),
                          grouped=config.group_duplicates)
    if config.protocol == "odonnat-pham":
        return random_split(dataset, seed=split_seed, train_fraction=1 - config.val_fraction)
    return split_train_val(dataset, val_fraction=config.val_fraction, seed=split_seed, groups=groups)


def _normal_images(config: TrainConfig, source) -> tuple[np.ndarray, list[str]]:
    """uint8 ``(M, 256, 256)`` normal images of the data and their stems (none unless ``include_normal=False``)."""
    if config.include_normal:
        return np.zeros((0, bl_data.PAPER_SIZE, bl_data.PAPER_SIZE), np.uint8), []
    everything = bl_data.load_busi(source.root, image_size=bl_data.PAPER_SIZE, max_tumour_fraction=None,
                                   distance_maps=False, cache_dir=config.cache_dir, progress=False)
    normal = np.flatnonzero(everything.meta.label.to_numpy() == "normal")
    return everything.images[normal], list(everything.meta.stem.iloc[normal])


def _external(config: TrainConfig, size: tuple[int, int], mean: float, std: float, device: torch.device):
    """``(images (K, 1, H, W) standardised on device, masks bool (K, H, W), table, fingerprint)`` of
    the external data (``max_images`` of them, a fixed random sample, where ``max_images`` is set:
    the notebooks' smoke test), or four ``None`` without it. Raises :class:`~bl_utils.data.dataset.DataError`
    when the ``external`` protocol finds no BUS-BRA (the message says where to get it)."""
    from .data import busbra

    folder = busbra.resolve_external(config.external)
    if folder is None:
        if config.protocol == "external":
            raise DataError(f"The external protocol needs BUS-BRA and none was found. {busbra.BUSBRA_HINT}")
        return None, None, None, None
    dataset = busbra.load_busbra(folder, image_size=bl_data.PAPER_SIZE, cache_dir=config.cache_dir, progress=False)
    if config.max_images is not None and config.max_images < len(dataset):   # the smoke test: a sample, not 1,875
        dataset = dataset.subset(np.sort(np.random.default_rng(0).permutation(len(dataset))[:config.max_images]))
    images = torch.from_numpy(bl_data.resize_images(dataset.images, size)).float().div_(255.0).unsqueeze(1)
    table = dataset.meta[["stem", "label", "patient", "scanner", "birads", "tumour_fraction"]].reset_index(drop=True)
    return (((images - mean) / std).to(device), bl_data.resize_masks(dataset.masks, size), table,
            bl_data.content_fingerprint(dataset))


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
    phis = scale_phi(batch_signed_distance_maps(masks[:, None], empty=config.phi_empty)[:, 0], config.phi_scale,
                     config.image_size)
    images = torch.from_numpy(images_u8).float().div_(255.0).unsqueeze(1)
    mean, std = 0.0, 1.0
    if config.normalise:
        mean, std = float(images[split.train].mean()), float(images[split.train].std().clamp_min(1e-6))
    images = (images - mean) / std
    normal_u8, normal_stems = _normal_images(config, source)
    normal = torch.from_numpy(bl_data.resize_images(normal_u8, size)).float().div_(255.0).unsqueeze(1)
    normal = ((normal - mean) / std).to(device) if len(normal_stems) else None

    def take(array, index):
        tensor = torch.as_tensor(array) if isinstance(array, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(array))
        return tensor.float().reshape(len(array), 1, *size)[torch.as_tensor(index)].to(device).contiguous()

    external = _external(config, size, mean, std, device) if config.external or config.protocol == "external" \
        else (None, None, None, None)
    meta = dataset.meta
    return TrainingData(
        take(images, split.train), take(masks, split.train), take(phis, split.train),
        take(images, split.val), take(masks, split.val), take(phis, split.val),
        val_uint8=images_u8[split.val], mean=mean, std=std,
        train_stems=list(meta.stem.iloc[split.train]), val_stems=list(meta.stem.iloc[split.val]),
        val_labels=list(meta.label.iloc[split.val]), source=source.description, kind=source.kind,
        fingerprint=fingerprint, n_images=len(dataset), data_fingerprint=whole, normal_images=normal,
        normal_stems=normal_stems, external_images=external[0], external_masks=external[1],
        external_meta=external[2], external_fingerprint=external[3], val_index=np.asarray(split.val, dtype=np.int64))


def phi_scale_table(phis: np.ndarray, image_size: int) -> pd.DataFrame:
    """Why Φ_G is scaled: for each ``phi_scale``, max |Φ_G| and L_B of the untrained guess s = 0.5
    (``0.5 · mean Φ_G``) beside the BCE of that guess (ln 2). ``phis``: ``(N, H, W)`` in pixels."""
    rows = []
    for scale in ("pixel", "image"):
        scaled = scale_phi(phis, scale, image_size)
        lb = 0.5 * float(np.mean(scaled))
        rows.append({"phi_scale": scale, "max_abs_phi": float(np.abs(scaled).max()),
                     "L_B_at_s_half": lb, "ratio_to_bce": lb / math.log(2)})
    return pd.DataFrame(rows)
