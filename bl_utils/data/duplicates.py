"""Near-duplicate images: a difference hash (dHash, numpy only), pairs and groups of duplicates.

BUSI contains byte-identical files under two labels (benign (433) = malignant (145)) and many
near-duplicates (re-saved or re-cropped copies, other frames of the same lesion). A train/validation
split that puts one copy on each side measures memory, not segmentation:

* :func:`dhash` hashes each image into ``hash_size**2`` bits; similar images have hashes a few
  bits apart (:func:`hamming_distances`);
* :func:`find_duplicates` lists the pairs within ``max_distance`` bits;
* :func:`duplicate_groups` joins chains of pairs into groups, which
  :func:`bl_utils.data.split.split_train_val` keeps on one side of the split (its default).

Example::

    >>> import numpy as np
    >>> ramp = np.tile(np.arange(90, dtype=np.uint8), (80, 1))   # brighter to the right
    >>> bool(dhash(ramp).all()), dhash(ramp).shape
    (True, (64,))
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .dataset import UltrasoundDataset

__all__ = ["dhash", "hamming_distances", "find_duplicates", "duplicate_groups"]


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

    ``images``: ``(H, W)`` or ``(N, H, W)``, any numeric dtype. Each image is area-averaged to
    ``hash_size`` rows × ``hash_size + 1`` columns, and each bit says whether a cell is brighter
    than its left neighbour. Similar images (re-encoded, slightly resized or re-contrasted) have
    hashes a few bits apart (Hamming distance); identical images have distance 0. Raises
    ``ValueError`` for another number of axes or images smaller than the hash grid.
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

    ``data``: a :class:`~bl_utils.data.dataset.UltrasoundDataset` (its preprocessed images) or a
    ``(N, H, W)`` array. Returns a DataFrame, one row per pair ``i < j`` sorted by distance then
    index, with the columns ``i, j, distance, identical`` (the preprocessed pixels are equal) and,
    for a dataset, ``stem_i, label_i, stem_j, label_j, same_label``. On the real BUSI data the
    byte-identical benign (433) / malignant (145) pair has distance 0.

    Threshold. The default, a 16×16 hash (256 bits) and ``max_distance=64`` (a quarter of the
    bits), was read off BUSI at 256×256: unrelated images differ in ~128 bits and almost no pair
    of different scenes comes below ~72, while pairs up to ~64 are, on inspection, the same
    scene (re-saved, re-cropped or another frame of the same lesion). Scale the threshold with
    the number of bits (``hash_size**2``) when changing ``hash_size``.
    """
    images = data.images if isinstance(data, UltrasoundDataset) else np.asarray(data)
    if max_distance < 0:
        raise ValueError(f"max_distance must be >= 0, got {max_distance}")
    bits = dhash(images, hash_size)
    dist = hamming_distances(bits)
    i, j = np.nonzero(np.triu(dist <= max_distance, k=1))
    table = pd.DataFrame({"i": i.astype(int), "j": j.astype(int), "distance": dist[i, j].astype(int)})
    table["identical"] = [bool(np.array_equal(images[a], images[b])) for a, b in zip(i, j)]
    if isinstance(data, UltrasoundDataset):
        stems, labels = data.meta.stem.to_numpy(), data.meta.label.to_numpy()
        table["stem_i"], table["label_i"] = stems[i], labels[i]
        table["stem_j"], table["label_j"] = stems[j], labels[j]
        table["same_label"] = table.label_i == table.label_j
    return table.sort_values(["distance", "i", "j"], kind="stable").reset_index(drop=True)


def duplicate_groups(data, max_distance: int = 64, hash_size: int = 16,
                     pairs: pd.DataFrame | None = None) -> np.ndarray:
    """``int (N,)`` group ids: images linked by a chain of duplicate pairs share an id.

    ``pairs`` defaults to :func:`find_duplicates` ``(data, max_distance, hash_size)``; ids are
    ``0..G-1`` numbered by each group's first image. :func:`bl_utils.data.split.split_train_val`
    computes these groups itself (with the defaults) and keeps each group on one side of the split;
    pass them as its ``groups=`` when they are already at hand or made with other settings.
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
