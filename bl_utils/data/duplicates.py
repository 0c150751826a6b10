"""Near-duplicate images: a difference hash (dHash, numpy only), pairs and groups of duplicates.

BUSI contains byte-identical files under two labels (benign (433) = malignant (145)) and many
near-duplicates (re-saved or re-cropped copies, other frames of the same lesion). A train/validation
split that puts one copy on each side measures memory, not segmentation:

* :func:`dhash` hashes each image into ``hash_size**2`` bits; similar images have hashes a few
  bits apart (:func:`hamming_distances`);
* :func:`find_duplicates` lists the pairs within ``max_distance`` bits;
* :func:`duplicate_groups` joins chains of pairs into groups, which
  :func:`bl_utils.data.split.split_train_val` keeps on one side of the split (its default);
* :func:`lesion_frames` finds what the hash misses: other frames of one lesion (the probe moved, calipers
  drawn), whose whole images differ in more bits than the hash allows. Two images are frames of one
  lesion when their scenes correlate (blurred 32² thumbnails, best over small shifts), their lesions
  lie at nearly the same place with nearly the same area, and the neighbourhoods of their lesions
  correlate (:data:`FRAME_RULE`). On BUSI it joins benign (433) with benign (435) (one cyst, one frame
  with calipers) and malignant (3)–(9) (one region in seven frames), which the hash keeps apart.

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

__all__ = ["dhash", "hamming_distances", "find_duplicates", "duplicate_groups", "FRAME_RULE", "lesion_frames",
           "frame_groups"]

#: When two images are frames of one lesion (:func:`lesion_frames`), read off BUSI's 425 tumour images by
#: looking at every pair it adds to the hash's (notebook 1 shows them): ``scene`` — the correlation of the
#: blurred thumbnails, at least; ``lesion`` — the correlation of the lesions' neighbourhoods, at least,
#: with their centroids at most ``shift`` pixels apart (at 256²), or at least ``close_lesion`` with the
#: centroids at most ``close_shift`` apart; ``area_ratio`` — the larger lesion at most this many times
#: the smaller. Pairs just below these (a flat lesion beside a round cyst 36 px away, two lesions at
#: opposite sides) were other lesions.
FRAME_RULE = {"scene": 0.85, "lesion": 0.87, "shift": 40.0, "close_lesion": 0.85, "close_shift": 10.0,
              "area_ratio": 2.5}


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


def _correlations(stack: np.ndarray, shift: int) -> np.ndarray:
    """``float (N, N)``: the best normalised correlation of every pair of ``(N, S, S)`` arrays over
    shifts of up to ``shift`` pixels each way (the centre of one against the shifted other), symmetric."""
    def unit(x):
        x = x - x.mean(axis=(1, 2), keepdims=True)
        return (x / (np.sqrt((x ** 2).sum(axis=(1, 2), keepdims=True)) + 1e-6)).reshape(len(x), -1)

    size = stack.shape[1]
    centre = unit(stack[:, shift:size - shift, shift:size - shift])
    best = np.full((len(stack), len(stack)), -1.0)
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            moved = unit(stack[:, shift + dy:size - shift + dy, shift + dx:size - shift + dx])
            best = np.maximum(best, centre @ moved.T)
    return np.maximum(best, best.T)


def _lesion_crops(images: np.ndarray, masks: np.ndarray, size: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each lesion's neighbourhood (a square twice its extent, at least 64 px, centred on its centroid,
    blurred and resized to ``size``²), its centroid ``(N, 2)`` and its area ``(N,)`` in pixels."""
    from scipy import ndimage

    crops, centres, areas = [], [], []
    for image, mask in zip(images.astype(np.float64), masks):
        ys, xs = np.nonzero(mask)
        cy, cx = ys.mean(), xs.mean()
        half = max(32, int(max(np.ptp(ys), np.ptp(xs))))
        padded = np.pad(image, half, mode="edge")
        window = padded[int(cy):int(cy) + 2 * half, int(cx):int(cx) + 2 * half]
        crop = ndimage.zoom(ndimage.gaussian_filter(window, 1.5), size / window.shape[0], order=1)[:size, :size]
        crops.append(crop)
        centres.append((cy, cx))
        areas.append(float(mask.sum()))
    return np.stack(crops), np.array(centres), np.array(areas)


def lesion_frames(data, rule: dict | None = None) -> pd.DataFrame:
    """Pairs of images that are frames of one lesion (:data:`FRAME_RULE`), among the images of ``data``
    (a :class:`~bl_utils.data.dataset.UltrasoundDataset` at 256²) that hold a tumour. Returns one row per
    pair ``i < j``: ``i, j, scene, lesion, shift, area_ratio`` (the measures of the rule),
    ``stem_i, stem_j``, sorted by ``i, j``. Images without a tumour are never paired."""
    from scipy import ndimage

    rule = {**FRAME_RULE, **(rule or {})}
    tumour = np.flatnonzero(data.masks.reshape(len(data), -1).any(axis=1))
    columns = ["i", "j", "scene", "lesion", "shift", "area_ratio", "stem_i", "stem_j"]
    if len(tumour) < 2:
        return pd.DataFrame(columns=columns)
    images = data.images[tumour].astype(np.float64)
    thumbs = np.stack([ndimage.zoom(ndimage.gaussian_filter(im, 2.0), 32 / im.shape[0], order=1)[:32, :32]
                       for im in images])
    scene = _correlations(thumbs, 4)
    crops, centres, areas = _lesion_crops(images, data.masks[tumour])
    lesion = _correlations(crops, 3)
    shift = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    ratio = np.maximum.outer(areas, areas) / np.minimum.outer(areas, areas)
    alike = (scene >= rule["scene"]) & (ratio <= rule["area_ratio"]) & (
        ((lesion >= rule["lesion"]) & (shift <= rule["shift"]))
        | ((lesion >= rule["close_lesion"]) & (shift <= rule["close_shift"])))
    a, b = np.nonzero(np.triu(alike, k=1))
    stems = data.meta.stem.to_numpy()
    return pd.DataFrame({"i": tumour[a], "j": tumour[b], "scene": scene[a, b], "lesion": lesion[a, b],
                         "shift": shift[a, b], "area_ratio": ratio[a, b], "stem_i": stems[tumour[a]],
                         "stem_j": stems[tumour[b]]}, columns=columns).reset_index(drop=True)


def frame_groups(data) -> np.ndarray:
    """``int (N,)`` group ids joining the hash's near-duplicates (:func:`find_duplicates`) and the frames
    of one lesion (:func:`lesion_frames`): what the study's cross-validation keeps inside one fold."""
    pairs = pd.concat([find_duplicates(data)[["i", "j"]], lesion_frames(data)[["i", "j"]]], ignore_index=True)
    return duplicate_groups(data, pairs=pairs)
