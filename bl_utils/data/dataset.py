"""A loaded ultrasound dataset: images, masks, Φ_G and a per-image table, ready to batch.

One concept, two readers: :func:`bl_utils.data.busi.load_busi` (BUSI, and the synthetic stand-in in
its layout) and :func:`bl_utils.data.busbra.load_busbra` (BUS-BRA, a second hospital) both return a
:class:`UltrasoundDataset`, resized by the same rule and named by the same content fingerprint; :mod:`bl_utils.data.duplicates` and
:mod:`bl_utils.data.split` take one. ``dataset[i]`` is what a ``torch.utils.data.DataLoader`` batches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

__all__ = ["DataError", "UltrasoundDataset", "META_COLUMNS", "keeps", "selection_counts"]


class DataError(ValueError):
    """Bad input data (BUSI or BUS-BRA): a missing folder, a wrong layout, an image without a mask, a mask of the
    wrong size, an unreadable file, a bad manifest. The message names the file and the fix."""

#: The columns of :attr:`UltrasoundDataset.meta`, in order.
META_COLUMNS = ("stem", "label", "orig_height", "orig_width", "size_source", "n_masks", "tumour_fraction", "file")


class UltrasoundDataset(torch.utils.data.Dataset):
    """Preprocessed ultrasound images (BUSI or BUS-BRA), masks and Φ_G, ready to count, index, plot and batch.

    Attributes
    ----------
    images : ``uint8 (N, H, W)``, greyscale 0–255.
    masks : ``bool (N, H, W)``, tumour = True (union of all of an image's lesions).
    phis : ``float32 (N, H, W)`` signed distance maps Φ_G in pixels of the resized image
        (negative inside, 0 on the inner boundary, positive outside; empty masks -> +diagonal),
        or ``None`` when loaded with ``distance_maps=False``.
    meta : ``pandas.DataFrame`` with one row per image and the columns ``stem`` (file name without
        ``.png``, e.g. ``"benign (12)"``), ``label`` (class folder), ``orig_height`` and
        ``orig_width`` (the image's size as the scanner stored it, in pixels), ``size_source``
        (where those come from: ``"manifest.csv"``, the folder's manifest, for a copy already
        resized such as ``busi256``; ``"image files"`` for the Kaggle download, whose files are the
        originals; :mod:`bl_utils.data.manifest`), ``n_masks`` (mask files), ``tumour_fraction`` (on the
        resized mask), ``file`` (image path relative to the layout folder); index ``0..N-1``.
        BUS-BRA adds ``patient``, ``histology``, ``birads``, ``scanner`` and ``side``
        (:data:`bl_utils.data.busbra.EXTRA_COLUMNS`); its ``label`` is the pathology.
    settings : the settings it was loaded with; ``root``: the layout folder;
    from_cache : whether the arrays came from the on-disk cache.

    ``dataset[i]`` is a dict of float32 tensors ``image`` ``(1, H, W)`` in [0, 1], ``mask``
    ``(1, H, W)`` in {0, 1} and (when available) ``phi`` ``(1, H, W)``; a ``DataLoader`` batches
    them to ``(B, 1, H, W)``. ``dataset.subset(indices)`` (ints or a boolean mask) returns a new
    dataset with those rows.
    """

    def __init__(self, images: np.ndarray, masks: np.ndarray, phis: np.ndarray | None,
                 meta: pd.DataFrame, settings: dict[str, Any] | None = None, root: Path | None = None,
                 from_cache: bool = False):
        n = len(meta)
        if images.shape[0] != n or masks.shape != images.shape or (phis is not None and phis.shape != images.shape):
            raise ValueError(f"inconsistent shapes: images {images.shape}, masks {masks.shape}, "
                             f"phis {None if phis is None else phis.shape}, meta {n} rows")
        self.images = images
        self.masks = masks
        self.phis = phis
        self.meta = meta.reset_index(drop=True)
        self.settings = dict(settings or {})
        self.root = root
        self.from_cache = from_cache

    def __len__(self) -> int:
        return len(self.meta)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {"image": torch.from_numpy(self.images[index][None].astype(np.float32) / 255.0),
                "mask": torch.from_numpy(self.masks[index][None].astype(np.float32))}
        if self.phis is not None:
            item["phi"] = torch.from_numpy(np.ascontiguousarray(self.phis[index][None]))
        return item

    @property
    def stems(self) -> list[str]:
        return list(self.meta.stem)

    @property
    def labels(self) -> list[str]:
        return list(self.meta.label)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.images.shape[1:])

    def subset(self, indices) -> "UltrasoundDataset":
        """A new dataset holding the rows ``indices`` (an int array/list or a boolean mask)."""
        index = np.asarray(indices)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise ValueError(f"boolean subset mask must have shape ({len(self)},), got {index.shape}")
            index = np.flatnonzero(index)
        index = index.astype(np.int64).reshape(-1)
        return UltrasoundDataset(self.images[index], self.masks[index],
                           None if self.phis is None else self.phis[index],
                           self.meta.iloc[index].reset_index(drop=True), self.settings, self.root,
                           self.from_cache)

    def class_counts(self) -> pd.Series:
        """Number of images per class label."""
        return self.meta.label.value_counts().sort_index().rename("images")

    def __repr__(self) -> str:
        counts = " · ".join(f"{k} {v}" for k, v in self.class_counts().items())
        h, w = self.image_size if len(self) else (0, 0)
        return (f"UltrasoundDataset({len(self)} images {h}×{w}: {counts}; "
                f"Φ_G {'yes' if self.phis is not None else 'no'})")


def keeps(meta: pd.DataFrame, max_tumour_fraction: float | None = None, include_normal: bool = True) -> np.ndarray:
    """The selection rule, written once: ``bool (N,)``, True for the rows of ``meta`` a run keeps.

    ``meta``: a dataset's table (``label``, ``tumour_fraction``: tumour pixels / image pixels of the
    resized mask, in [0, 1]). A row is kept iff ``tumour_fraction < max_tumour_fraction``
    (strict; ``None``: no cut) and, with ``include_normal=False``, its label is not ``"normal"``.
    Normal images have fraction 0, so a cut alone keeps them all. Example: the paper's text is
    ``keeps(meta, 0.05)``, their code ``keeps(meta, 0.10, include_normal=False)``.
    """
    keep = np.ones(len(meta), dtype=bool)
    if max_tumour_fraction is not None:
        keep &= meta.tumour_fraction.to_numpy() < float(max_tumour_fraction)
    if not include_normal:
        keep &= meta.label.to_numpy() != "normal"
    return keep


def selection_counts(meta: pd.DataFrame, text_cut: float = 0.05, code_cut: float = 0.10) -> pd.DataFrame:
    """The images each reading of Odonnat & Pham's selection keeps, by class: their text's rule
    (tumour < ``text_cut`` of the image, read over every image, normal ones included: what this
    report's earlier protocol did), the same cut on tumour images only, and their code's rule
    (tumour images only, tumour < ``code_cut``). ``meta``: a dataset's ``meta`` (``label``,
    ``tumour_fraction``) before any rule; each reading is :func:`keeps`. On BUSI at 256² these keep
    425, 292 and 425 images."""
    rules = {f"their text, every image: tumour < {text_cut:.0%}": keeps(meta, text_cut),
             f"tumour images only: tumour < {text_cut:.0%}": keeps(meta, text_cut, include_normal=False),
             f"their code, tumour images only: tumour < {code_cut:.0%}": keeps(meta, code_cut, include_normal=False)}
    rows = {name: meta.label[kept].value_counts().reindex(sorted(meta.label.unique()), fill_value=0)
            for name, kept in rules.items()}
    table = pd.DataFrame(rows).T
    return table.assign(images=table.sum(axis=1))
