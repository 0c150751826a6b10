"""BUSI from disk: reading the Kaggle layout, resizing, the paper's < 5 % rule, the content fingerprint.

Which folder to read (a BUSI folder, Kaggle, the synthetic stand-in) is :mod:`bl_utils.data.source`'s.

The real data
    Al-Dhabyani W, Gomaa M, Khaled H, Fahmy A. *Dataset of breast ultrasound images.* Data in
    Brief 28:104863, 2020. Download the Kaggle "Breast Ultrasound Images Dataset", unpack it, and
    point ``BUSI_DIR`` at the folder ``Dataset_BUSI_with_GT`` (or at its parent). Layout::

        Dataset_BUSI_with_GT/<class>/<class> (<n>).png          the image (stored as 8-bit RGB)
        Dataset_BUSI_with_GT/<class>/<class> (<n>)_mask.png     its tumour mask
        Dataset_BUSI_with_GT/<class>/<class> (<n>)_mask_1.png   a second lesion's mask, if any

Loading (:func:`load_busi`)
    Every class folder is read. An image is converted to 8-bit greyscale whatever its stored mode
    (PIL ``convert("L")``; colour overlays become grey) and resized with PIL bilinear to
    ``image_size``. Its mask is the union of all its mask files (``_mask.png``, ``_mask_1.png``,
    ...), each read as "any value > 0 is tumour" whatever its encoding (1-bit, 0/255, RGB, RGBA:
    the alpha channel is ignored), taken at the original size and resized with nearest-neighbour
    (source pixel ``floor(i / (out / in))``, OpenCV's ``INTER_NEAREST``: this reproduces the masks
    of the preprocessed ``busi256`` copy pixel for pixel), into a :class:`~bl_utils.data.dataset.UltrasoundDataset`.
    Its ``meta`` holds the scanner's sizes: ``manifest.csv``'s if any, else the files' (:mod:`bl_utils.data.manifest`).

The < 5 % rule (the paper's selection)
    ``tumour_fraction`` is the fraction of the *resized* mask's pixels that are tumour. With
    ``max_tumour_fraction=0.05`` an image is kept iff ``tumour_fraction < 0.05`` (strict). Normal
    images have an empty mask, fraction 0, so **all normal images are kept**: on the real BUSI
    data at 256×256 the rule keeps 425 of 780 images — 133 normal, 292 benign or malignant —
    which is the paper's 425 (340 train / 85 validation). ``max_tumour_fraction=None`` keeps all.
    The rule is written once, in :func:`bl_utils.data.dataset.keeps`.

Caching (:mod:`bl_utils.data.cache`)
    The resized arrays and their Φ_G are computed once and kept in ``<project root>/.cache/busi``;
    changing a file or a setting rebuilds them, and nothing is cached from a failed load.

Duplicates and the split live in :mod:`bl_utils.data.duplicates` and :mod:`bl_utils.data.split`.
Every bad input raises :class:`~bl_utils.data.dataset.DataError` (a ``ValueError``) naming the
file and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from .cache import cached_arrays, default_cache_dir
from .dataset import DataError, UltrasoundDataset, keeps
from .manifest import with_original_sizes

__all__ = ["load_busi", "find_layout", "images_per_class", "rule_summary", "content_fingerprint",
           "resize_images", "resize_masks", "PAPER_SIZE", "DOWNLOAD_HINT", "LAYOUT_FOLDER"]

#: The folder level of the Kaggle download; ``load_busi`` accepts the folder itself or its parent.
LAYOUT_FOLDER = "Dataset_BUSI_with_GT"
#: The size at which Odonnat & Pham preprocess BUSI and apply the < 5 % rule. Smaller training
#: profiles downsample these arrays (:func:`resize_images`, :func:`resize_masks`), so every
#: profile sees the same images.
PAPER_SIZE = 256

DOWNLOAD_HINT = (
    "Download the Kaggle dataset \"Breast Ultrasound Images Dataset\" (Al-Dhabyani et al., Data in "
    "Brief 28:104863, 2020), unpack it, and point the report at its folder Dataset_BUSI_with_GT "
    "(or at the folder holding it): set the environment variable BUSI_DIR, e.g. "
    "`export BUSI_DIR=/path/to/Dataset_BUSI_with_GT`, or pass that path as DATA / "
    "resolve_data(path) / load_busi(path). DATA='kaggle' downloads it with kagglehub; "
    "DATA='synthetic' uses the built-in stand-in data."
)

_MASK_RE = re.compile(r"^(?P<stem>.+?)_mask(?:_(?P<k>\d+))?$")
_NUMBER_RE = re.compile(r"\((\d+)\)\s*$")


# --------------------------------------------------------------------------------------------
# Finding the files


@dataclass(frozen=True)
class _Item:
    label: str
    stem: str
    image: Path
    masks: tuple[Path, ...]


def _natural_key(stem: str) -> tuple:
    match = _NUMBER_RE.search(stem)
    return (0, int(match.group(1)), stem) if match else (1, 0, stem)


def _png_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".png"]


def _class_folders(folder: Path) -> list[Path]:
    """Sub-folders of ``folder`` that hold at least one ``*_mask*.png`` file (a BUSI class)."""
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if any(_MASK_RE.match(p.stem) for p in _png_files(sub)):
            found.append(sub)
    return found


def find_layout(root: str | os.PathLike) -> Path:
    """The folder holding BUSI's class folders: ``root`` itself or ``root/Dataset_BUSI_with_GT``.

    Raises :class:`DataError` if ``root`` does not exist (with the download / ``BUSI_DIR``
    hint) or holds no class folder with ``<name>.png`` / ``<name>_mask.png`` files.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"BUSI folder not found: {root}. {DOWNLOAD_HINT}")
    if not root.is_dir():
        raise DataError(f"BUSI root is a file, not a folder: {root}. {DOWNLOAD_HINT}")
    candidates = [root / LAYOUT_FOLDER, root] if (root / LAYOUT_FOLDER).is_dir() else [root]
    for folder in candidates:
        if _class_folders(folder):
            return folder
    raise DataError(
        f"No BUSI layout in {root}: expected class folders (benign/, malignant/, normal/) holding "
        f"'<class> (<n>).png' images and '<class> (<n>)_mask.png' masks, directly or under "
        f"{LAYOUT_FOLDER}/. Point the path at the unpacked {LAYOUT_FOLDER} folder. {DOWNLOAD_HINT}")


def images_per_class(folder: Path) -> dict[str, int]:
    """``{class folder name: number of images}`` of a layout folder (:func:`find_layout`), masks not counted."""
    return {sub.name: sum(1 for p in _png_files(sub) if not _MASK_RE.match(p.stem)) for sub in _class_folders(folder)}


def _list_items(folder: Path) -> list[_Item]:
    items = []
    for sub in _class_folders(folder):
        images: dict[str, Path] = {}
        masks: dict[str, list[tuple[int, Path]]] = {}
        for path in _png_files(sub):
            match = _MASK_RE.match(path.stem)
            if match:
                k = int(match.group("k")) if match.group("k") is not None else 0
                masks.setdefault(match.group("stem"), []).append((k, path))
            else:
                images[path.stem] = path
        for stem, paths in sorted(masks.items()):
            if stem not in images:
                raise DataError(
                    f"Mask without an image: {paths[0][1]} has no '{stem}.png' beside it. Restore the "
                    f"image from the BUSI download or delete the stray mask file(s).")
        for stem in sorted(images, key=_natural_key):
            if stem not in masks:
                raise DataError(
                    f"Image without a mask: {images[stem]} has no '{stem}_mask.png' beside it. Every "
                    f"BUSI image needs a mask (normal images have an all-black one); restore it from "
                    f"the BUSI download or remove the image.")
            items.append(_Item(sub.name, stem, images[stem], tuple(p for _, p in sorted(masks[stem]))))
    return items


def _listing(folder: Path, items: Sequence[_Item]) -> list[tuple[str, int, int]]:
    """``(relative name, size, mtime_ns)`` of every file the dataset is built from."""
    rows = []
    for item in items:
        for path in (item.image, *item.masks):
            stat = path.stat()
            rows.append((path.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns))
    return rows


def content_fingerprint(dataset: UltrasoundDataset) -> str:
    """A 16-hex digest of what a dataset *holds*: stems, labels, image pixels and mask pixels.

    Two copies of BUSI that load to the same arrays have the same fingerprint whatever their
    files look like (the Kaggle download read at 256² and the preprocessed ``busi256`` copy do);
    training runs record it, so a run on other data is never taken for a finished one.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([list(dataset.stems), list(dataset.labels), list(dataset.image_size)]).encode())
    digest.update(np.ascontiguousarray(dataset.images, dtype=np.uint8).tobytes())
    digest.update(np.packbits(np.asarray(dataset.masks, dtype=bool)).tobytes())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Reading one image


def _open(path: Path, dataset: str = "BUSI") -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
        return image
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DataError(f"Unreadable image file {path}: {error}. Re-download this file from the "
                        f"{dataset} dataset or delete it together with its mask(s).") from error


def _mask_array(image: Image.Image) -> np.ndarray:
    """``bool (H, W)``: any value > 0 in any colour channel (alpha ignored)."""
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGB" if image.mode != "LA" else "L")
    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = arr.any(axis=2)
    return arr > 0


def _size_2d(image_size) -> tuple[int, int]:
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    elif isinstance(image_size, (tuple, list)) and len(image_size) == 2:
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise ValueError(f"image_size must be an int or a (height, width) pair, got {image_size!r}")
    if min(size) < 8:
        raise ValueError(f"image_size must be at least 8 pixels a side, got {image_size!r}")
    return size


def _read_item(item: _Item, size: tuple[int, int], dataset: str = "BUSI") -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(image uint8 (h, w), mask bool (h, w), original height, original width)`` of one image of
    ``dataset`` (named in the errors); every reader of the package resizes through here."""
    image = _open(item.image, dataset)
    width, height = image.size
    union = np.zeros((height, width), dtype=bool)
    for path in item.masks:
        mask = _open(path, dataset)
        if mask.size != image.size:
            raise DataError(
                f"Mask of another size than its image: {path} is {mask.size[0]}x{mask.size[1]} (w x h) "
                f"but {item.image} is {width}x{height}. Re-download both files from {dataset}; a mask "
                f"must cover its image pixel for pixel.")
        union |= _mask_array(mask)
    h, w = size
    grey = image.convert("L").resize((w, h), Image.BILINEAR)
    return np.asarray(grey, dtype=np.uint8), _nearest_resize(union, size), height, width


def _nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    """Source index of each output index: ``floor(i / (n_out / n_in))`` in float64, OpenCV's
    ``INTER_NEAREST`` convention (which produced the masks of the preprocessed busi256 copy)."""
    inverse = 1.0 / (n_out / n_in)
    index = np.floor(np.arange(n_out, dtype=np.float64) * inverse).astype(np.int64)
    return np.minimum(index, n_in - 1)


def _nearest_resize(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a 2-D mask to ``size`` (the convention that produced busi256)."""
    rows = _nearest_indices(mask.shape[0], size[0])
    cols = _nearest_indices(mask.shape[1], size[1])
    return mask[np.ix_(rows, cols)]


# --------------------------------------------------------------------------------------------
# Resizing and loading


def resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 ``(N, H, W)`` -> uint8 ``(N, *size)`` with PIL bilinear (the loader's rule); a copy
    when the size already matches."""
    if tuple(images.shape[1:]) == tuple(size):
        return images.copy()
    out = np.empty((len(images), *size), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.BILINEAR), dtype=np.uint8)
    return out


def resize_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool ``(N, H, W)`` -> bool ``(N, *size)`` with the loader's nearest-neighbour rule."""
    out = np.empty((len(masks), *size), dtype=bool)
    for i, mask in enumerate(masks):
        out[i] = _nearest_resize(mask, tuple(size))
    return out


def load_busi(root, image_size: int | tuple[int, int] = 256, max_tumour_fraction: float | None = 0.05,
              include_normal: bool = True, cache_dir: str | os.PathLike | bool | None = None,
              distance_maps: bool = True, progress: bool = True) -> UltrasoundDataset:
    """Load BUSI (or the synthetic stand-in) from ``root``, resized, filtered and with Φ_G.

    * ``root``: the ``Dataset_BUSI_with_GT`` folder, the folder holding it, a folder with the
      class folders directly (e.g. ``busi256/``), or a :class:`~bl_utils.data.source.DataSource`
      (path-like: its ``root``).
    * ``image_size``: an int (square) or ``(height, width)``; images are resized with PIL
      bilinear (smooth), masks with nearest-neighbour.
    * ``max_tumour_fraction``: keep the images whose tumour covers *strictly less* than this
      fraction of the resized image (the paper: 0.05, which keeps 425 of BUSI's 780 images at
      256×256 — every normal image, whose mask is empty, plus 292 benign/malignant ones);
      ``None`` keeps every image. ``include_normal=False`` drops the normal class.
    * ``cache_dir``: where arrays and Φ_G are cached (:mod:`bl_utils.data.cache`): ``None`` =
      ``<project root>/.cache/busi``, a folder, or ``False`` for no cache. Reusing a cache takes a
      fraction of a second.
    * ``distance_maps``: compute (or load) Φ_G into ``dataset.phis``; ``False`` leaves it None.
    * ``progress``: a progress bar (stderr) while reading files and one line saying whether the
      arrays came from the cache and how long it took (it varies between runs: pass
      ``progress=False`` in notebook cells whose output is compared, or mark them
      ``# NBVAL_IGNORE_OUTPUT``).

    Returns a :class:`~bl_utils.data.dataset.UltrasoundDataset`, ordered by class folder then by the number
    in ``"(n)"``. Raises :class:`~bl_utils.data.dataset.DataError` for a missing root (with the download /
    ``BUSI_DIR`` hint), no BUSI layout, an image without a mask (or a mask without an image), a
    mask of another size than its image or an unreadable file, and ``ValueError`` for bad
    settings. Nothing is written to the cache unless everything was read successfully.
    """
    if max_tumour_fraction is not None and not 0 < float(max_tumour_fraction) <= 1:
        raise ValueError(f"max_tumour_fraction must be in (0, 1] or None, got {max_tumour_fraction!r}")
    size = _size_2d(image_size)
    folder = find_layout(root)
    items = _list_items(folder)
    start = time.perf_counter()
    settings = {"image_size": list(size), "max_tumour_fraction": max_tumour_fraction,
                "include_normal": include_normal, "distance_maps": distance_maps}
    cache = None if cache_dir is False else (Path(cache_dir) if cache_dir not in (None, True) else default_cache_dir())
    arrays, phis, from_cache = cached_arrays(cache, folder, _listing(folder, items), size,
                                             lambda: _read_all(folder, items, size, progress), distance_maps)
    dataset = _select(arrays, phis, max_tumour_fraction, include_normal, settings, folder, from_cache)
    if progress:   # varies between runs (cache hit or not, timing): not for compared notebook output
        how = "from the cache" if from_cache else "from the image files"
        print(f"{len(items)} images read {how} in {time.perf_counter() - start:.1f} s; {len(dataset)} kept")
    return dataset


def _select(arrays: dict[str, np.ndarray], phis: np.ndarray | None, max_tumour_fraction: float | None,
            include_normal: bool, settings: dict[str, Any], folder: Path, from_cache: bool) -> UltrasoundDataset:
    """The dataset of the images that pass the < 5 % rule (and ``include_normal``)."""
    masks = arrays["masks"]
    fraction = masks.reshape(len(masks), -1).mean(axis=1) if len(masks) else np.zeros(0)
    meta = with_original_sizes(pd.DataFrame({   # the scanner's sizes: from manifest.csv, else the files'
        "stem": arrays["stems"].astype(str), "label": arrays["labels"].astype(str),
        "orig_height": arrays["orig_height"].astype(int), "orig_width": arrays["orig_width"].astype(int),
        "n_masks": arrays["n_masks"].astype(int), "tumour_fraction": fraction,
        "file": arrays["files"].astype(str)}), folder)
    index = np.flatnonzero(keeps(meta, max_tumour_fraction, include_normal))
    return UltrasoundDataset(arrays["images"][index], masks[index], None if phis is None else phis[index],
                       meta.iloc[index], settings, folder, from_cache)


def _read_all(folder: Path, items: Sequence[_Item], size: tuple[int, int], progress: bool,
              dataset: str = "BUSI") -> dict[str, np.ndarray]:
    """The arrays of :data:`bl_utils.data.cache.ARRAY_NAMES` for ``items``, each read by :func:`_read_item`
    (``dataset`` names the data in its errors and progress bar); every reader of the package reads through here."""
    n = len(items)
    images = np.empty((n, *size), dtype=np.uint8)
    masks = np.empty((n, *size), dtype=bool)
    orig = np.empty((n, 2), dtype=np.int64)
    iterator: Iterable = enumerate(items)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=n, desc=f"reading {dataset} images", leave=False, file=sys.stderr)
    for i, item in iterator:
        images[i], masks[i], orig[i, 0], orig[i, 1] = _read_item(item, size, dataset)
    return {"images": images, "masks": masks, "stems": np.array([it.stem for it in items], dtype=str),
            "labels": np.array([it.label for it in items], dtype=str),
            "orig_height": orig[:, 0], "orig_width": orig[:, 1],
            "n_masks": np.array([len(it.masks) for it in items], dtype=np.int64),
            "files": np.array([it.image.relative_to(folder).as_posix() for it in items], dtype=str)}


def rule_summary(meta: pd.DataFrame, max_tumour_fraction: float = 0.05) -> pd.DataFrame:
    """Per class: images, how many the ``tumour_fraction < max_tumour_fraction`` rule
    (:func:`~bl_utils.data.dataset.keeps`, normal images included) keeps and drops.

    ``meta`` is :attr:`UltrasoundDataset.meta` of a dataset loaded with ``max_tumour_fraction=None``.
    Returns a DataFrame indexed by class with the columns ``images, kept, dropped`` and a
    ``total`` row.
    """
    kept = pd.Series(keeps(meta, max_tumour_fraction), index=meta.index)
    table = pd.DataFrame({"images": meta.groupby("label").size(),
                          "kept": kept.groupby(meta.label).sum(),
                          "dropped": (~kept).groupby(meta.label).sum()}).astype(int)
    table.loc["total"] = table.sum()
    table.index.name = "class"
    return table
