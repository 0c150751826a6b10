"""The BUSI dataset: loading, the paper's < 5 % rule, a cached Φ_G, duplicates and the 80/20 split.

Data source (:func:`resolve_data`)
    ``"synthetic"`` (the built-in default, written once by :mod:`bl_utils.synthetic` to
    ``<project root>/data/synthetic_busi``), a path to the real BUSI folder, or ``None`` (the
    environment variable ``BUSI_DIR`` if set, else synthetic). The returned :class:`DataSource`
    carries a ``description`` that every notebook prints, so no figure is ever mistaken for BUSI.

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
    of the preprocessed ``busi256`` copy pixel for pixel).

The < 5 % rule (the paper's selection)
    ``tumour_fraction`` is the fraction of the *resized* mask's pixels that are tumour. With
    ``max_tumour_fraction=0.05`` an image is kept iff ``tumour_fraction < 0.05`` (strict). Normal
    images have an empty mask, fraction 0, so **all normal images are kept**: on the real BUSI
    data at 256×256 the rule keeps 425 of 780 images — 133 normal, 292 benign or malignant —
    which is the paper's 425 (340 train / 85 validation). ``max_tumour_fraction=None`` keeps all.

Caching
    The resized arrays and their signed distance maps Φ_G (:mod:`bl_utils.distance`, pixels,
    empty masks -> +diagonal) are computed once and kept in ``<project root>/.cache/busi``,
    keyed by the image size, the distance code and the file listing (names, sizes, mtimes):
    touching or replacing a file, or changing a setting, rebuilds them. Cache files are written
    under a temporary name and renamed, and only after everything has been read successfully.

Duplicates and the split
    BUSI contains byte-identical files under two labels (benign (433) = malignant (145)) and many
    near-duplicates (frames of the same lesion). :func:`find_duplicates` finds them with a
    difference hash (dHash, numpy only); :func:`duplicate_groups` turns the pairs into groups that
    :func:`split_train_val` keeps on one side of a seeded, class-stratified 80/20 split;
    :func:`count_leaks` counts the pairs a split puts across train and validation.

Every bad input raises :class:`BusiDataError` (a ``ValueError``) naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError

from .runtime import atomic_write, display_path, project_root, write_json

__all__ = [
    "BusiDataError", "BusiDataset", "DataSource", "Split", "load_busi", "resolve_data", "find_layout",
    "dhash", "hamming_distances", "find_duplicates", "duplicate_groups", "split_train_val",
    "count_leaks", "save_split", "load_split", "rule_summary", "default_cache_dir",
    "content_fingerprint", "resize_images", "resize_masks", "PAPER_SIZE",
    "DOWNLOAD_HINT", "LAYOUT_FOLDER", "META_COLUMNS",
]

#: The folder level of the Kaggle download; ``load_busi`` accepts the folder itself or its parent.
LAYOUT_FOLDER = "Dataset_BUSI_with_GT"
#: The columns of :attr:`BusiDataset.meta`, in order.
META_COLUMNS = ("stem", "label", "orig_height", "orig_width", "n_masks", "tumour_fraction", "file")
#: The size at which Odonnat & Pham preprocess BUSI and apply the < 5 % rule. Smaller training
#: profiles downsample these arrays (:func:`resize_images`, :func:`resize_masks`), so every
#: profile sees the same images.
PAPER_SIZE = 256
#: Bump when what the cache holds changes meaning.
CACHE_VERSION = 2

DOWNLOAD_HINT = (
    "Download the Kaggle dataset \"Breast Ultrasound Images Dataset\" (Al-Dhabyani et al., Data in "
    "Brief 28:104863, 2020), unpack it, and point the report at its folder Dataset_BUSI_with_GT "
    "(or at the folder holding it): set the environment variable BUSI_DIR, e.g. "
    "`export BUSI_DIR=/path/to/Dataset_BUSI_with_GT`, or pass that path as DATA / "
    "resolve_data(path) / load_busi(path). Use DATA='synthetic' for the built-in stand-in data."
)

_MASK_RE = re.compile(r"^(?P<stem>.+?)_mask(?:_(?P<k>\d+))?$")
_NUMBER_RE = re.compile(r"\((\d+)\)\s*$")


class BusiDataError(ValueError):
    """Bad BUSI input: a missing folder, a wrong layout, an image without a mask, a mask of the
    wrong size, an unreadable file. The message names the file and the fix."""


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

    Raises :class:`BusiDataError` if ``root`` does not exist (with the download / ``BUSI_DIR``
    hint) or holds no class folder with ``<name>.png`` / ``<name>_mask.png`` files.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise BusiDataError(f"BUSI folder not found: {root}. {DOWNLOAD_HINT}")
    if not root.is_dir():
        raise BusiDataError(f"BUSI root is a file, not a folder: {root}. {DOWNLOAD_HINT}")
    candidates = [root / LAYOUT_FOLDER, root] if (root / LAYOUT_FOLDER).is_dir() else [root]
    for folder in candidates:
        if _class_folders(folder):
            return folder
    raise BusiDataError(
        f"No BUSI layout in {root}: expected class folders (benign/, malignant/, normal/) holding "
        f"'<class> (<n>).png' images and '<class> (<n>)_mask.png' masks, directly or under "
        f"{LAYOUT_FOLDER}/. Point the path at the unpacked {LAYOUT_FOLDER} folder. {DOWNLOAD_HINT}")


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
                raise BusiDataError(
                    f"Mask without an image: {paths[0][1]} has no '{stem}.png' beside it. Restore the "
                    f"image from the BUSI download or delete the stray mask file(s).")
        for stem in sorted(images, key=_natural_key):
            if stem not in masks:
                raise BusiDataError(
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


def content_fingerprint(dataset: "BusiDataset") -> str:
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


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
        return image
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise BusiDataError(f"Unreadable image file {path}: {error}. Re-download this file from the "
                            f"BUSI dataset or delete it together with its mask(s).") from error


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


def _read_item(item: _Item, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(image uint8 (h, w), mask bool (h, w), original height, original width)``."""
    image = _open(item.image)
    width, height = image.size
    union = np.zeros((height, width), dtype=bool)
    for path in item.masks:
        mask = _open(path)
        if mask.size != image.size:
            raise BusiDataError(
                f"Mask of another size than its image: {path} is {mask.size[0]}x{mask.size[1]} (w x h) "
                f"but {item.image} is {width}x{height}. Re-download both files from BUSI; a mask "
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
# The dataset


class BusiDataset(torch.utils.data.Dataset):
    """Preprocessed BUSI images, masks and Φ_G, ready to count, index, plot and batch.

    Attributes
    ----------
    images : ``uint8 (N, H, W)``, greyscale 0–255.
    masks : ``bool (N, H, W)``, tumour = True (union of all of an image's lesions).
    phis : ``float32 (N, H, W)`` signed distance maps Φ_G in pixels of the resized image
        (negative inside, 0 on the inner boundary, positive outside; empty masks -> +diagonal),
        or ``None`` when loaded with ``distance_maps=False``.
    meta : ``pandas.DataFrame`` with one row per image and the columns ``stem`` (file name without
        ``.png``, e.g. ``"benign (12)"``), ``label`` (class folder), ``orig_height``,
        ``orig_width``, ``n_masks`` (mask files), ``tumour_fraction`` (on the resized mask),
        ``file`` (image path relative to the layout folder); index ``0..N-1``.
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

    def subset(self, indices) -> "BusiDataset":
        """A new dataset holding the rows ``indices`` (an int array/list or a boolean mask)."""
        index = np.asarray(indices)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise ValueError(f"boolean subset mask must have shape ({len(self)},), got {index.shape}")
            index = np.flatnonzero(index)
        index = index.astype(np.int64).reshape(-1)
        return BusiDataset(self.images[index], self.masks[index],
                           None if self.phis is None else self.phis[index],
                           self.meta.iloc[index].reset_index(drop=True), self.settings, self.root,
                           self.from_cache)

    def class_counts(self) -> pd.Series:
        """Number of images per class label."""
        return self.meta.label.value_counts().sort_index().rename("images")

    def __repr__(self) -> str:
        counts = " · ".join(f"{k} {v}" for k, v in self.class_counts().items())
        h, w = self.image_size if len(self) else (0, 0)
        return (f"BusiDataset({len(self)} images {h}×{w}: {counts}; "
                f"Φ_G {'yes' if self.phis is not None else 'no'})")


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


def default_cache_dir() -> Path:
    """``<project root>/.cache/busi`` (``BL_CACHE_DIR`` overrides)."""
    if os.environ.get("BL_CACHE_DIR"):
        return Path(os.environ["BL_CACHE_DIR"]).expanduser()
    return project_root() / ".cache" / "busi"


def _digest(obj: Any, n: int = 16) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:n]


def _distance_code_digest() -> str:
    from . import distance

    return hashlib.sha256(Path(distance.__file__).read_bytes()).hexdigest()[:12]


def _save_npz(path: Path, compressed: bool, **arrays: np.ndarray) -> None:
    with atomic_write(path, "wb") as handle:
        (np.savez_compressed if compressed else np.savez)(handle, **arrays)


def _load_npz(path: Path, names: Iterable[str]) -> dict[str, np.ndarray] | None:
    """The arrays ``names`` of ``path``, or None when the file is absent or damaged (rebuilt then)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in names}
    except Exception:   # damaged or foreign file: ignore it, it will be rewritten
        return None


def _compute_phis(masks: np.ndarray, empty: str = "diagonal") -> np.ndarray:
    from .distance import batch_signed_distance_maps

    if len(masks) == 0:
        return np.zeros(masks.shape, np.float32)
    return batch_signed_distance_maps(masks[:, None], empty=empty)[:, 0]


def load_busi(root, image_size: int | tuple[int, int] = 256, max_tumour_fraction: float | None = 0.05,
              include_normal: bool = True, cache_dir: str | os.PathLike | bool | None = None,
              distance_maps: bool = True, progress: bool = True) -> BusiDataset:
    """Load BUSI (or the synthetic stand-in) from ``root``, resized, filtered and with Φ_G.

    Parameters
    ----------
    root:
        The ``Dataset_BUSI_with_GT`` folder, the folder holding it, a folder with the class
        folders directly (e.g. ``busi256/``), or a :class:`DataSource`.
    image_size:
        Output size, an int (square) or ``(height, width)``; images are resized with PIL bilinear
        (smooth), masks with nearest-neighbour.
    max_tumour_fraction:
        Keep the images whose tumour covers *strictly less* than this fraction of the resized
        image (the paper: 0.05, which keeps 425 of BUSI's 780 images at 256×256 — every normal
        image, whose mask is empty, plus 292 benign/malignant ones). ``None`` keeps every image.
    include_normal:
        ``False`` drops the normal class (images without tumour).
    cache_dir:
        Where preprocessed arrays and Φ_G are cached: ``None`` = :func:`default_cache_dir`,
        a folder, or ``False`` for no cache. Reusing a cache takes a fraction of a second.
    distance_maps:
        Compute (or load) Φ_G into ``dataset.phis``; ``False`` leaves ``phis`` None (faster).
    progress:
        Show a progress bar (stderr) while reading files and print one line saying whether the
        arrays came from the cache and how long it took (this line varies between runs: pass
        ``progress=False`` in notebook cells whose output is compared, or mark them
        ``# NBVAL_IGNORE_OUTPUT``).

    Returns
    -------
    :class:`BusiDataset`, ordered by class folder then by the number in ``"(n)"``.

    Raises
    ------
    BusiDataError: missing root (with the download / ``BUSI_DIR`` hint), no BUSI layout, an image
    without a mask (or a mask without an image), a mask of another size than its image, an
    unreadable file. Nothing is written to the cache unless everything was read successfully.
    """
    if isinstance(root, DataSource):
        root = root.root
    if max_tumour_fraction is not None and not 0 < float(max_tumour_fraction) <= 1:
        raise ValueError(f"max_tumour_fraction must be in (0, 1] or None, got {max_tumour_fraction!r}")
    size = _size_2d(image_size)
    folder = find_layout(root)
    items = _list_items(folder)
    start = time.perf_counter()
    settings = {"image_size": list(size), "max_tumour_fraction": max_tumour_fraction,
                "include_normal": include_normal, "distance_maps": distance_maps}

    use_cache = cache_dir is not False
    cache = Path(cache_dir) if use_cache and cache_dir not in (None, True) else default_cache_dir()
    listing = _listing(folder, items)
    key = _digest({"version": CACHE_VERSION, "size": size, "files": listing})
    prefix = f"busi-{_digest(str(folder.resolve()), 8)}-{size[0]}x{size[1]}-"
    data_path = cache / f"{prefix}{key}.npz"
    phi_path = cache / f"{prefix}{key}-phi-{_digest([_distance_code_digest(), 'diagonal'], 8)}.npz"
    names = ("images", "masks", "stems", "labels", "orig_height", "orig_width", "n_masks", "files")

    arrays = _load_npz(data_path, names) if use_cache else None
    if arrays is not None:    # masks are stored bit-packed along the last axis
        try:
            arrays["masks"] = np.unpackbits(arrays["masks"], axis=-1, count=size[1]).astype(bool)
            if arrays["masks"].shape != arrays["images"].shape:
                raise ValueError("cached masks and images disagree")
        except (ValueError, TypeError):
            arrays = None
    phis = _load_npz(phi_path, ("phis",)) if use_cache and distance_maps and arrays is not None else None
    arrays_cached, phis_cached = arrays is not None, phis is not None
    from_cache = arrays_cached and (phis_cached or not distance_maps)
    if arrays is None:
        arrays = _read_all(folder, items, size, progress)
    if distance_maps and phis is None:
        phis = {"phis": _compute_phis(arrays["masks"])}
    if use_cache:     # written only now, after everything above succeeded
        try:
            if not arrays_cached:
                if cache.is_dir():   # older versions of this folder's cache at this size
                    for stale in cache.glob(f"{prefix}*.npz"):
                        if not stale.name.startswith(f"{prefix}{key}"):
                            stale.unlink(missing_ok=True)
                packed = {**arrays, "masks": np.packbits(arrays["masks"], axis=-1)}
                _save_npz(data_path, False, **packed)
            if distance_maps and not phis_cached:
                _save_npz(phi_path, False, **phis)
        except OSError as error:     # a read-only or full disk costs speed, not the result
            warnings.warn(f"could not write the BUSI cache in {cache}: {error}; continuing without it "
                          f"(pass cache_dir=False to silence this, or another cache_dir)", stacklevel=2)

    masks = arrays["masks"]
    fraction = masks.reshape(len(masks), -1).mean(axis=1) if len(masks) else np.zeros(0)
    meta = pd.DataFrame({"stem": arrays["stems"].astype(str), "label": arrays["labels"].astype(str),
                         "orig_height": arrays["orig_height"].astype(int),
                         "orig_width": arrays["orig_width"].astype(int),
                         "n_masks": arrays["n_masks"].astype(int), "tumour_fraction": fraction,
                         "file": arrays["files"].astype(str)})
    keep = np.ones(len(meta), dtype=bool)
    if max_tumour_fraction is not None:
        keep &= fraction < float(max_tumour_fraction)
    if not include_normal:
        keep &= meta.label.to_numpy() != "normal"
    index = np.flatnonzero(keep)
    dataset = BusiDataset(arrays["images"][index], masks[index],
                          None if not distance_maps else phis["phis"][index],
                          meta.iloc[index], settings, folder, from_cache)
    if progress:   # varies between runs (cache hit or not, timing): not for compared notebook output
        how = "from the cache" if from_cache else "from the image files"
        print(f"{len(items)} images read {how} in {time.perf_counter() - start:.1f} s; {len(dataset)} kept")
    return dataset


def _read_all(folder: Path, items: Sequence[_Item], size: tuple[int, int], progress: bool) -> dict[str, np.ndarray]:
    n = len(items)
    images = np.empty((n, *size), dtype=np.uint8)
    masks = np.empty((n, *size), dtype=bool)
    orig = np.empty((n, 2), dtype=np.int64)
    iterator: Iterable = enumerate(items)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=n, desc="reading images", leave=False, file=sys.stderr)
    for i, item in iterator:
        images[i], masks[i], orig[i, 0], orig[i, 1] = _read_item(item, size)
    return {"images": images, "masks": masks, "stems": np.array([it.stem for it in items], dtype=str),
            "labels": np.array([it.label for it in items], dtype=str),
            "orig_height": orig[:, 0], "orig_width": orig[:, 1],
            "n_masks": np.array([len(it.masks) for it in items], dtype=np.int64),
            "files": np.array([it.image.relative_to(folder).as_posix() for it in items], dtype=str)}


def rule_summary(meta: pd.DataFrame, max_tumour_fraction: float = 0.05) -> pd.DataFrame:
    """Per class: images, how many the ``tumour_fraction < max_tumour_fraction`` rule keeps and drops.

    ``meta`` is :attr:`BusiDataset.meta` of a dataset loaded with ``max_tumour_fraction=None``.
    Returns a DataFrame indexed by class with the columns ``images, kept, dropped`` and a
    ``total`` row.
    """
    kept = meta.tumour_fraction < max_tumour_fraction
    table = pd.DataFrame({"images": meta.groupby("label").size(),
                          "kept": kept.groupby(meta.label).sum(),
                          "dropped": (~kept).groupby(meta.label).sum()}).astype(int)
    table.loc["total"] = table.sum()
    table.index.name = "class"
    return table


# --------------------------------------------------------------------------------------------
# Where the data comes from


@dataclass(frozen=True)
class DataSource:
    """Which data a notebook runs on. ``kind``: ``"synthetic"`` or ``"busi"``; ``root``: the folder
    to give :func:`load_busi`; ``description``: one line that says loudly what the data is."""

    root: Path
    kind: str
    description: str

    def __str__(self) -> str:
        return self.description


def _count_by_class(folder: Path) -> dict[str, int]:
    counts = {}
    for sub in _class_folders(folder):
        counts[sub.name] = sum(1 for p in _png_files(sub) if not _MASK_RE.match(p.stem))
    return counts


def resolve_data(source: "str | os.PathLike | DataSource | None" = "synthetic") -> DataSource:
    """Turn the ``DATA`` parameter into a :class:`DataSource`.

    * ``"synthetic"``: the built-in synthetic stand-in (:func:`bl_utils.synthetic.write_synthetic_busi`,
      seed 0), written once to ``<project root>/data/synthetic_busi`` (into a temporary folder,
      renamed when complete; reused afterwards). Its description starts with "SYNTHETIC".
    * a path: the real BUSI folder (``Dataset_BUSI_with_GT`` or its parent), validated now.
    * ``None`` or ``""``: the environment variable ``BUSI_DIR`` if set, else ``"synthetic"``.

    Raises :class:`BusiDataError` for a path that does not exist or holds no BUSI layout (the
    message says where to download BUSI and how to set ``BUSI_DIR``).
    """
    if isinstance(source, DataSource):
        return source
    if source is None or str(source).strip() == "":
        source = os.environ.get("BUSI_DIR") or "synthetic"
    from . import synthetic

    if str(source).strip().lower() == "synthetic":
        folder = synthetic.ensure_synthetic_busi(project_root() / "data" / "synthetic_busi", verbose=False)
    else:
        folder = find_layout(source)
    counts = _count_by_class(folder)
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    if (folder.parent / synthetic._MARKER).is_file():   # the generator's folder, however it is named
        description = (f"SYNTHETIC ultrasound-like data (not BUSI): {sum(counts.values())} generated images "
                       f"({summary}; bl_utils.synthetic) in {display_path(folder.parent)}/. Numbers and figures "
                       f"are NOT the paper's: set DATA or BUSI_DIR to the BUSI folder for real results.")
        return DataSource(folder.parent, "synthetic", description)
    description = (f"BUSI (real data, Al-Dhabyani et al. 2020): {sum(counts.values())} images ({summary}) "
                   f"in {display_path(folder)}")
    return DataSource(folder, "busi", description)


# --------------------------------------------------------------------------------------------
# Duplicates: a difference hash in numpy


def _box_resize(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Area-average ``(N, H, W)`` down to ``(N, rows, cols)`` over near-equal pixel blocks."""
    n, h, w = images.shape
    if h < rows or w < cols:
        raise ValueError(f"images of {h}x{w} are smaller than the {rows}x{cols} hash grid")
    r = np.linspace(0, h, rows + 1).round().astype(int)
    c = np.linspace(0, w, cols + 1).round().astype(int)
    summed = np.add.reduceat(np.add.reduceat(images.astype(np.float64), r[:-1], axis=1), c[:-1], axis=2)
    return summed / np.outer(np.diff(r), np.diff(c))[None]


def dhash(images, hash_size: int = 8) -> np.ndarray:
    """Difference hash of greyscale images: ``bool (N, hash_size**2)`` (or ``(hash_size**2,)``).

    Each image is area-averaged to ``hash_size`` rows × ``hash_size + 1`` columns, and each bit
    says whether a cell is brighter than its left neighbour. Similar images (re-encoded, slightly
    resized or re-contrasted) have hashes a few bits apart (Hamming distance); identical images
    have distance 0.
    """
    arr = np.asarray(images)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"images must be (H, W) or (N, H, W), got shape {arr.shape}")
    small = _box_resize(arr, hash_size, hash_size + 1)
    bits = (small[:, :, 1:] > small[:, :, :-1]).reshape(len(arr), -1)
    return bits[0] if single else bits


def hamming_distances(bits: np.ndarray) -> np.ndarray:
    """``int (N, N)`` pairwise Hamming distances between the rows of a boolean ``(N, B)`` array."""
    b = np.asarray(bits, dtype=np.float32)
    return np.rint(b @ (1 - b).T + (1 - b) @ b.T).astype(np.int64)


def find_duplicates(data, max_distance: int = 64, hash_size: int = 16) -> pd.DataFrame:
    """Pairs of (near-)duplicate images: dHash Hamming distance ``<= max_distance``.

    ``data``: a :class:`BusiDataset` (its preprocessed images) or a ``(N, H, W)`` array. Returns a
    DataFrame, one row per pair ``i < j`` sorted by distance then index, with the columns ``i, j,
    distance, identical`` (the preprocessed pixels are equal) and, for a dataset, ``stem_i,
    label_i, stem_j, label_j, same_label``. On the real BUSI data the byte-identical benign (433)
    / malignant (145) pair has distance 0.

    Threshold. The default, a 16×16 hash (256 bits) and ``max_distance=64`` (a quarter of the
    bits), was read off BUSI at 256×256: unrelated images differ in ~128 bits and almost no pair
    of different scenes comes below ~72, while pairs up to ~64 are, on inspection, the same
    scene (re-saved, re-cropped or another frame of the same lesion). Scale the threshold with
    the number of bits (``hash_size**2``) when changing ``hash_size``.
    """
    images = data.images if isinstance(data, BusiDataset) else np.asarray(data)
    if max_distance < 0:
        raise ValueError(f"max_distance must be >= 0, got {max_distance}")
    bits = dhash(images, hash_size)
    dist = hamming_distances(bits)
    i, j = np.nonzero(np.triu(dist <= max_distance, k=1))
    table = pd.DataFrame({"i": i.astype(int), "j": j.astype(int), "distance": dist[i, j].astype(int)})
    table["identical"] = [bool(np.array_equal(images[a], images[b])) for a, b in zip(i, j)]
    if isinstance(data, BusiDataset):
        stems, labels = data.meta.stem.to_numpy(), data.meta.label.to_numpy()
        table["stem_i"], table["label_i"] = stems[i], labels[i]
        table["stem_j"], table["label_j"] = stems[j], labels[j]
        table["same_label"] = table.label_i == table.label_j
    return table.sort_values(["distance", "i", "j"], kind="stable").reset_index(drop=True)


def duplicate_groups(data, max_distance: int = 64, hash_size: int = 16, pairs: pd.DataFrame | None = None) -> np.ndarray:
    """``int (N,)`` group ids: images linked by a chain of duplicate pairs share an id.

    ``pairs`` defaults to :func:`find_duplicates` ``(data, max_distance, hash_size)``; ids are
    ``0..G-1`` numbered by each group's first image. Pass the result as ``groups=`` to
    :func:`split_train_val` so that duplicates never straddle train and validation.
    """
    n = len(data)
    if pairs is None:
        pairs = find_duplicates(data, max_distance, hash_size)
    parent = np.arange(n)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in zip(pairs.i, pairs.j):
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(a) for a in range(n)], dtype=np.int64)
    _, ids = np.unique(roots, return_inverse=True)
    return ids.astype(np.int64)


# --------------------------------------------------------------------------------------------
# The split


@dataclass
class Split:
    """A train/validation split: sorted index arrays into the dataset, and how it was made."""

    train: np.ndarray
    val: np.ndarray
    seed: int
    val_fraction: float
    train_stems: list[str] = field(default_factory=list)
    val_stems: list[str] = field(default_factory=list)
    stratified: bool = True
    grouped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"seed": int(self.seed), "val_fraction": float(self.val_fraction),
                "stratified": bool(self.stratified), "grouped": bool(self.grouped),
                "n_train": int(len(self.train)), "n_val": int(len(self.val)),
                "train": [int(i) for i in self.train], "val": [int(i) for i in self.val],
                "train_stems": list(self.train_stems), "val_stems": list(self.val_stems)}

    def counts(self, meta: pd.DataFrame) -> pd.DataFrame:
        """Images per class in train and validation (``meta``: the dataset's meta)."""
        labels = meta.label.to_numpy()
        table = pd.DataFrame({"train": pd.Series(labels[self.train]).value_counts(),
                              "val": pd.Series(labels[self.val]).value_counts()}).fillna(0).astype(int)
        table = table.sort_index()
        table.loc["total"] = table.sum()
        table.index.name = "class"
        return table


def _largest_remainder(sizes: dict[str, int], total: int, fraction: float) -> dict[str, int]:
    quota = {k: fraction * v for k, v in sizes.items()}
    counts = {k: int(np.floor(q)) for k, q in quota.items()}
    rest = total - sum(counts.values())
    for k in sorted(quota, key=lambda k: (-(quota[k] - counts[k]), k))[:max(rest, 0)]:
        counts[k] += 1
    return counts


def split_train_val(data, val_fraction: float = 0.2, seed: int = 0, groups=None,
                    stratify: bool = True) -> Split:
    """A seeded train/validation split, stratified by class, optionally keeping groups together.

    ``data``: a :class:`BusiDataset` or its ``meta`` DataFrame (``label`` and ``stem`` columns).
    The validation set gets ``round(val_fraction * N)`` images (85 of BUSI's 425), shared among the
    classes in proportion to their sizes (largest remainders). With ``groups`` (``(N,)`` ids, e.g.
    :func:`duplicate_groups`) whole groups are drawn — a group counts for the class of its first
    image — until each class's quota is reached without overshooting, so the counts can differ
    from the ungrouped ones by a few images. The same ``(data, val_fraction, seed, groups)`` always
    gives the same split.
    """
    meta = data.meta if isinstance(data, BusiDataset) else data
    if not isinstance(meta, pd.DataFrame) or "label" not in meta:
        raise TypeError("split_train_val needs a BusiDataset or its meta DataFrame (with a 'label' column)")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = len(meta)
    labels = meta.label.to_numpy().astype(str) if stratify else np.array(["all"] * n)
    group_ids = np.arange(n) if groups is None else np.asarray(groups)
    if group_ids.shape != (n,):
        raise ValueError(f"groups must have one id per image, shape ({n},), got {group_ids.shape}")
    rng = np.random.default_rng(seed)
    # units: groups, each with its members and the class of its first member
    _, first, inverse = np.unique(group_ids, return_index=True, return_inverse=True)
    members = [np.flatnonzero(inverse == u) for u in range(len(first))]
    unit_class = labels[first]
    sizes = {c: int(sum(len(members[u]) for u in np.flatnonzero(unit_class == c))) for c in np.unique(unit_class)}
    quota = _largest_remainder(sizes, int(round(val_fraction * n)), val_fraction)
    val: list[int] = []
    for c in sorted(sizes):
        units = np.flatnonzero(unit_class == c)
        units = units[rng.permutation(len(units))]
        taken = 0
        for u in units:
            if taken >= quota[c]:
                break
            if taken + len(members[u]) <= quota[c]:
                val.extend(members[u].tolist())
                taken += len(members[u])
    val_idx = np.array(sorted(val), dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(n), val_idx).astype(np.int64)
    stems = meta.stem.to_numpy().astype(str) if "stem" in meta else np.arange(n).astype(str)
    return Split(train_idx, val_idx, int(seed), float(val_fraction), stems[train_idx].tolist(),
                 stems[val_idx].tolist(), stratified=stratify, grouped=groups is not None)


def count_leaks(pairs: pd.DataFrame, split: Split) -> int:
    """How many duplicate ``pairs`` (:func:`find_duplicates`) have one image in train, one in val."""
    in_val = np.zeros(int(max(split.train.max(initial=-1), split.val.max(initial=-1))) + 1, dtype=bool)
    in_val[split.val] = True
    return int(np.sum(in_val[pairs.i.to_numpy()] != in_val[pairs.j.to_numpy()]))


def save_split(split: Split, path: str | os.PathLike, **extra: Any) -> Path:
    """Write ``split`` (seed, fraction, indices, stems; plus ``extra`` keys) as JSON, atomically."""
    return write_json(path, {**split.to_dict(), **extra})


def load_split(path: str | os.PathLike) -> Split:
    """Read a split written by :func:`save_split`."""
    raw = json.loads(Path(path).read_text())
    return Split(np.array(raw["train"], dtype=np.int64), np.array(raw["val"], dtype=np.int64),
                 int(raw["seed"]), float(raw["val_fraction"]), list(raw["train_stems"]),
                 list(raw["val_stems"]), bool(raw.get("stratified", True)), bool(raw.get("grouped", False)))
