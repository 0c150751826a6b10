"""The on-disk cache of the loaded BUSI arrays and their Φ_G (used by :func:`bl_utils.data.busi.load_busi`).

Reading 780 PNG files and computing 780 distance maps takes a while; reusing them takes a fraction
of a second. Entries live in ``<project root>/.cache/busi`` (:func:`default_cache_dir`), one pair
of ``.npz`` files per data folder and image size::

    busi-<folder>-<H>x<W>-<key>.npz                   images, masks (bit-packed), stems, labels, ...
    busi-<folder>-<H>x<W>-<key>-phi-<code>.npz        Φ_G of those masks

``<key>`` digests :data:`CACHE_VERSION`, the size and the file listing (names, sizes, mtimes), so
touching, adding or replacing a file rebuilds the entry (and the stale one of that folder and size
is deleted); ``<code>`` digests :mod:`bl_utils.distance`'s source, so a change to Φ_G rebuilds the
maps. Files are written under a temporary name and renamed, and only after everything was read and
computed; a damaged file is ignored and rewritten; a disk that refuses the write costs speed (a
warning), never the result.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ..runtime import atomic_write, project_root

__all__ = ["default_cache_dir", "cached_arrays", "CACHE_VERSION", "ARRAY_NAMES"]

#: Bump when what the cache holds changes meaning.
CACHE_VERSION = 2
#: The arrays of an entry: what :func:`cached_arrays`'s ``read`` returns (``masks`` bool ``(N, H, W)``).
ARRAY_NAMES = ("images", "masks", "stems", "labels", "orig_height", "orig_width", "n_masks", "files")


def default_cache_dir() -> Path:
    """``<project root>/.cache/busi`` (``BL_CACHE_DIR`` overrides)."""
    if os.environ.get("BL_CACHE_DIR"):
        return Path(os.environ["BL_CACHE_DIR"]).expanduser()
    return project_root() / ".cache" / "busi"


def _digest(obj: Any, n: int = 16) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:n]


def _distance_code_digest() -> str:
    from .. import distance

    return hashlib.sha256(Path(distance.__file__).read_bytes()).hexdigest()[:12]


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)


def _load_npz(path: Path, names: Iterable[str]) -> dict[str, np.ndarray] | None:
    """The arrays ``names`` of ``path``, or None when the file is absent or damaged (rebuilt then)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in names}
    except Exception:   # damaged or foreign file: ignore it, it will be rewritten
        return None


def _load_arrays(path: Path, width: int) -> dict[str, np.ndarray] | None:
    """The arrays of ``path`` with the masks unpacked (stored bit-packed along the last axis), or
    None when absent, damaged or inconsistent."""
    arrays = _load_npz(path, ARRAY_NAMES)
    if arrays is not None:
        try:
            arrays["masks"] = np.unpackbits(arrays["masks"], axis=-1, count=width).astype(bool)
            if arrays["masks"].shape != arrays["images"].shape:
                raise ValueError("cached masks and images disagree")
        except (ValueError, TypeError):
            arrays = None
    return arrays


def _drop_stale(cache: Path, prefix: str, current: str) -> None:
    """Delete the entries of one folder and size (``prefix``) other than ``current``."""
    if cache.is_dir():
        for stale in cache.glob(f"{prefix}*.npz"):
            if not stale.name.startswith(current):
                stale.unlink(missing_ok=True)


def _compute_phis(masks: np.ndarray, empty: str = "diagonal") -> np.ndarray:
    """Φ_G ``float32 (N, H, W)`` of bool masks ``(N, H, W)`` (empty masks -> +diagonal)."""
    from ..distance import batch_signed_distance_maps

    if len(masks) == 0:
        return np.zeros(masks.shape, np.float32)
    return batch_signed_distance_maps(masks[:, None], empty=empty)[:, 0]


def cached_arrays(cache: Path | None, folder: Path, listing: list, size: tuple[int, int],
                  read: Callable[[], dict[str, np.ndarray]], distance_maps: bool = True):
    """``(arrays, phis, from_cache)`` of the data ``folder`` at ``size``, from the cache when it holds them.

    ``cache``: the cache folder, or None for no cache. ``listing``: ``(name, size, mtime_ns)`` of
    every file the data is built from (the key). ``read()`` returns the arrays
    (:data:`ARRAY_NAMES`); it is called, and Φ_G (``float32 (N, H, W)``, pixels, empty masks ->
    +diagonal) computed, only when missing. ``distance_maps=False``: no Φ_G (``phis`` is None).
    ``from_cache``: nothing had to be read or computed. Entries are written only after both succeeded.
    """
    compute_phis = _compute_phis if distance_maps else None
    key = _digest({"version": CACHE_VERSION, "size": size, "files": listing})
    prefix = f"busi-{_digest(str(folder.resolve()), 8)}-{size[0]}x{size[1]}-"
    arrays = phis = None
    if cache is not None:
        data_path = cache / f"{prefix}{key}.npz"
        phi_path = cache / f"{prefix}{key}-phi-{_digest([_distance_code_digest(), 'diagonal'], 8)}.npz"
        arrays = _load_arrays(data_path, size[1])
        phis = _load_npz(phi_path, ("phis",)) if compute_phis is not None and arrays is not None else None
    arrays_cached, phis_cached = arrays is not None, phis is not None
    if arrays is None:
        arrays = read()
    if compute_phis is not None and phis is None:
        phis = {"phis": compute_phis(arrays["masks"])}
    if cache is not None:     # written only now, after everything above succeeded
        try:
            if not arrays_cached:
                _drop_stale(cache, prefix, f"{prefix}{key}")
                _save_npz(data_path, **{**arrays, "masks": np.packbits(arrays["masks"], axis=-1)})
            if compute_phis is not None and not phis_cached:
                _save_npz(phi_path, **phis)
        except OSError as error:     # a read-only or full disk costs speed, not the result
            warnings.warn(f"could not write the BUSI cache in {cache}: {error}; continuing without it "
                          f"(pass cache_dir=False to silence this, or another cache_dir)", stacklevel=3)
    from_cache = arrays_cached and (phis_cached or compute_phis is None)
    return arrays, (None if phis is None else phis["phis"]), from_cache
