"""The train/validation split: seeded, stratified by class, duplicates kept on one side.

:func:`split_train_val` draws the paper's 80/20 split (BUSI's 425 images -> 340 / 85). By default
it first groups (near-)duplicate images (:func:`bl_utils.data.duplicates.duplicate_groups`) and draws
whole groups, so that no image is validated against a copy of itself seen in training;
:func:`count_leaks` counts the duplicate pairs a split puts across train and validation.
:func:`cross_validation_folds` assigns the images to k folds (grouped and stratified the same
way), :func:`fold_split` makes one fold the validation set and :func:`fold_table` counts each fold. :func:`random_split` is Odonnat &
Pham's own draw (ungrouped, unstratified).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .dataset import UltrasoundDataset
from .duplicates import duplicate_groups, frame_groups

__all__ = ["Split", "split_train_val", "cross_validation_folds", "fold_split", "fold_table", "random_split",
           "count_leaks", "PINNED_FOLDS", "pinned_folds", "study_folds"]

#: The study's published partitions, kept as they were drawn (each image's fold, in the order of the
#: kept images' table), by the content fingerprint of those images and the seed: seeds 0–1 on BUSI were
#: drawn with the hash's groups alone, before :func:`bl_utils.data.duplicates.frame_groups` joined frames
#: of one lesion; a changed detector must not change the runs already trained. Checked against the
#: folds their ``run.json`` records (tests/test_data_split.py).
PINNED_FOLDS = {"20a09509fc96a9cd": {
    0: "22110323014301133342313122003230234013420234330431244024110024443344104240021402411312120202030130330323132300432314441343340311324024140400412023321440040422444321430434022431121412020341233120110230103123143401214211241221234121304400331322004043014414432211032301430302233304122212010420111200420021031332121243201400021441440141243303333334111040220343410110424121230424123200101041142343232120220231411032134400342440034",
    1: "00142423224233232111400310413110340004422220222243131124223143030234402010144114431401231122131341001202110410021211432422131330114221423222444001313003104004400143413422403114222304301300324010343333002032414413320124031240040432233334330403304323014423100014242322423044414124311112443301234112333310300444102331200100021442123224001233333334224111002024431040012024200402134312001114242014211214133033243042012044012343143"}}


@dataclass
class Split:
    """A train/validation split: index arrays into the dataset (sorted, except the validation images of
    :func:`random_split`, in the order drawn), and how it was made."""

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


def _group_ids(data, meta: pd.DataFrame, groups) -> np.ndarray:
    """``(N,)`` ids from the ``groups`` argument of :func:`split_train_val`."""
    n = len(meta)
    if groups is False:
        return np.arange(n)
    if groups is None or groups is True:
        if not isinstance(data, UltrasoundDataset):
            raise TypeError("groups=None finds duplicates in a UltrasoundDataset's images, but got "
                            f"{type(data).__name__}: pass the dataset, or groups=duplicate_groups(dataset), "
                            "or groups=False for a split that ignores duplicates")
        return duplicate_groups(data)
    group_ids = np.asarray(groups)
    if group_ids.shape != (n,):
        raise ValueError(f"groups must have one id per image, shape ({n},), got {group_ids.shape}")
    return group_ids


def _draw_validation(labels: np.ndarray, group_ids: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """Sorted validation indices: per class, shuffled groups taken whole up to the class's quota."""
    n = len(labels)
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
    return np.array(sorted(val), dtype=np.int64)


def split_train_val(data, val_fraction: float = 0.2, seed: int = 0, groups=None,
                    stratify: bool = True) -> Split:
    """A seeded train/validation split, stratified by class, keeping duplicates on one side.

    ``data``: a :class:`~bl_utils.data.dataset.UltrasoundDataset`, or its ``meta`` DataFrame (``label`` and
    ``stem`` columns) when ``groups`` is given. The validation set gets about
    ``round(val_fraction * N)`` images (85 of BUSI's 425), shared among the classes in proportion
    to their sizes (largest remainders). ``groups``:

    * ``None`` (default): :func:`~bl_utils.data.duplicates.duplicate_groups` ``(data)``, so that
      near-duplicate images never straddle train and validation;
    * ``(N,)`` ids: these groups (e.g. duplicates found with other settings);
    * ``False``: every image on its own. **Warning:** this split leaks duplicates — copies of a
      validation image (BUSI has byte-identical ones under two labels) land in training and
      inflate validation scores; use it only to measure that effect (:func:`count_leaks`).

    Whole groups are drawn — a group counts for the class of its first image — until each
    class's quota is reached without overshooting, so the counts can differ from the ungrouped
    ones by a few images. The same ``(data, val_fraction, seed, groups, stratify)`` always gives
    the same split. Raises ``TypeError`` for other ``data`` (or a meta table without ``groups``),
    ``ValueError`` for ``val_fraction`` outside (0, 1) or ``groups`` of the wrong length.
    """
    meta = data.meta if isinstance(data, UltrasoundDataset) else data
    if not isinstance(meta, pd.DataFrame) or "label" not in meta:
        raise TypeError("split_train_val needs a UltrasoundDataset or its meta DataFrame (with a 'label' column)")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = len(meta)
    group_ids = _group_ids(data, meta, groups)
    labels = meta.label.to_numpy().astype(str) if stratify else np.array(["all"] * n)
    val_idx = _draw_validation(labels, group_ids, val_fraction, seed)
    train_idx = np.setdiff1d(np.arange(n), val_idx).astype(np.int64)
    stems = meta.stem.to_numpy().astype(str) if "stem" in meta else np.arange(n).astype(str)
    return Split(train_idx, val_idx, int(seed), float(val_fraction), stems[train_idx].tolist(),
                 stems[val_idx].tolist(), stratified=stratify, grouped=groups is not False)


def _assign_folds(labels: np.ndarray, group_ids: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Each image's fold: groups, largest first (random order among equal sizes), each to the fold
    holding the fewest images of its classes, then the smallest fold, then a seeded fold order."""
    _, y = np.unique(labels, return_inverse=True)
    _, unit = np.unique(group_ids, return_inverse=True)
    counts = np.zeros((unit.max() + 1, y.max() + 1), dtype=np.int64)
    np.add.at(counts, (unit, y), 1)
    if len(counts) < n_folds:
        raise ValueError(f"{len(counts)} groups cannot fill {n_folds} folds; use n_folds <= {len(counts)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(counts))
    order = order[np.argsort(-counts[order].sum(1), kind="stable")]
    tie = rng.permutation(n_folds)
    per_fold = np.zeros((n_folds, counts.shape[1]), dtype=np.int64)
    unit_fold = np.empty(len(counts), dtype=np.int64)
    for u in order:
        f = np.lexsort((tie, per_fold.sum(1), per_fold @ counts[u]))[0]  # last key sorts first
        unit_fold[u] = f
        per_fold[f] += counts[u]
    return unit_fold[unit]


def cross_validation_folds(data_or_labels, n_folds: int = 5, seed: int = 0, groups=None) -> np.ndarray:
    """Assign each image to one of ``n_folds`` folds, grouped and stratified by class: ``int64 (N,)``.

    ``data_or_labels``: a :class:`~bl_utils.data.dataset.UltrasoundDataset`, its ``meta`` DataFrame (``label``
    column) or a sequence of ``N`` labels. ``groups`` as in :func:`split_train_val`: ``None`` finds
    near-duplicates in a dataset's images (a meta table or labels then need explicit ``groups``),
    ``(N,)`` ids, or ``False`` (every image alone). A group never straddles two folds; a group
    counts for every class among its images. Groups are placed largest first, each in the fold
    with the fewest images of its classes, so each class's count per fold is within ±1 of equal
    unless large groups prevent it. The same ``(labels, n_folds, seed, groups)`` always gives the
    same folds; another ``seed`` gives another partition. :func:`fold_split` turns fold ``k`` into a
    :class:`Split`. Raises ``ValueError`` for ``n_folds < 2`` or more folds than groups,
    ``TypeError`` as :func:`split_train_val`.
    """
    if isinstance(data_or_labels, UltrasoundDataset):
        meta = data_or_labels.meta
    elif isinstance(data_or_labels, pd.DataFrame):
        if "label" not in data_or_labels:
            raise TypeError("cross_validation_folds needs a meta DataFrame with a 'label' column")
        meta = data_or_labels
    else:
        meta = pd.DataFrame({"label": np.asarray(data_or_labels).reshape(-1)})
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2, got {n_folds!r}")
    group_ids = _group_ids(data_or_labels, meta, groups)
    return _assign_folds(meta.label.to_numpy().astype(str), group_ids, int(n_folds), seed)


def fold_split(folds, fold: int, *, seed: int = 0, stems=None, grouped: bool = True) -> Split:
    """The :class:`Split` of cross-validation fold ``fold``: train = the other folds, val = this one.

    ``folds``: the ``(N,)`` fold numbers of :func:`cross_validation_folds`; ``seed``, ``grouped``
    record how they were drawn and ``stems`` (``N`` names) name the images (default: their
    indices). Raises ``ValueError`` for a ``folds`` that is not a 1-D integer array or a ``fold``
    absent from it.
    """
    folds = np.asarray(folds)
    if folds.ndim != 1 or not np.issubdtype(folds.dtype, np.integer):
        raise ValueError(f"folds must be a 1-D integer array (cross_validation_folds), got {folds.dtype} "
                         f"of shape {folds.shape}")
    if not np.any(folds == fold):
        raise ValueError(f"fold {fold!r} is not among the folds {np.unique(folds).tolist()}")
    val, train = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
    names = np.arange(len(folds)).astype(str) if stems is None else np.asarray(stems).astype(str)
    return Split(train.astype(np.int64), val.astype(np.int64), int(seed), len(val) / len(folds),
                 names[train].tolist(), names[val].tolist(), stratified=True, grouped=grouped)


def fold_table(folds, meta: pd.DataFrame, pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per fold of ``folds`` (:func:`cross_validation_folds`): its images per class of
    ``meta`` (the dataset's meta, ``label`` column) and in all, and, given the duplicate ``pairs``
    (:func:`bl_utils.data.duplicates.find_duplicates`), how many of them the fold's split puts
    across train and validation (:func:`count_leaks`)."""
    folds = np.asarray(folds)
    labels = meta.label.to_numpy().astype(str)
    table = pd.crosstab(pd.Series(folds, name="fold"), pd.Series(labels, name="class"))
    table["images"] = table.sum(axis=1)
    if pairs is not None:
        table["pairs across train/val"] = [count_leaks(pairs, fold_split(folds, int(k))) for k in table.index]
    table.columns.name = None
    return table


def random_split(data, seed: int = 0, train_fraction: float = 0.8) -> Split:
    """Odonnat & Pham's split: ``int(train_fraction * N)`` images drawn for training, the rest validate.

    Their notebook: ``train_idx = np.random.choice(dataset_df.index, size=int(0.8*len(dataset_df)),
    replace=False)``, ``val_idx = list(set(dataset_df.index) - set(train_idx))`` with numpy's global
    (legacy) generator, unseeded. Here it is ``np.random.RandomState(seed)``, the draw their line
    makes after ``np.random.seed(seed)``. Neither stratified nor grouped: duplicates leak (see
    :func:`split_train_val`'s warning). For BUSI's 425 images it has the size of
    ``split_train_val(..., groups=False, stratify=False)`` (340 / 85), but another draw, and in
    general ``N − int(0.8 N)`` validation images, not ``round(0.2 N)``.

    Order. The training indices are sorted (the batch order is drawn apart, ``batch_order="fixed"``).
    The validation indices come in the draw's own order: legacy ``choice(N, n, replace=False)`` is
    ``permutation(N)[:n]``, and the validation images are ``permutation(N)[n:]``. Their loader (no
    shuffle) read the validation images in ``set`` order of their table's index labels, which follow
    their ``glob`` listing, so in an order unrelated to the class; their metric
    (:func:`bl_utils.metrics.batch_pooled_f1`) depends on it. The runs published before this rule
    read them sorted by index (benign, then malignant): ``run.json``'s ``val_stems`` record each
    run's order. ``data``: a :class:`~bl_utils.data.dataset.UltrasoundDataset` or its ``meta`` DataFrame.
    """
    meta = data.meta if isinstance(data, UltrasoundDataset) else data
    if not isinstance(meta, pd.DataFrame):
        raise TypeError(f"random_split needs a UltrasoundDataset or its meta DataFrame, got {type(data).__name__}")
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    n = len(meta)
    drawn = np.random.RandomState(seed).permutation(n)     # choice(n, size, replace=False) is drawn[:size]
    size = int(train_fraction * n)
    train, val = np.sort(drawn[:size]), drawn[size:]
    stems = meta.stem.to_numpy().astype(str) if "stem" in meta else np.arange(n).astype(str)
    return Split(train.astype(np.int64), val.astype(np.int64), int(seed), round(1 - train_fraction, 12),
                 stems[train].tolist(), stems[val].tolist(), stratified=False, grouped=False)


def count_leaks(pairs: pd.DataFrame, split: Split) -> int:
    """How many duplicate ``pairs`` (:func:`bl_utils.data.duplicates.find_duplicates`) have one image in
    train and the other in validation."""
    in_val = np.zeros(int(max(split.train.max(initial=-1), split.val.max(initial=-1))) + 1, dtype=bool)
    in_val[split.val] = True
    return int(np.sum(in_val[pairs.i.to_numpy()] != in_val[pairs.j.to_numpy()]))


def pinned_folds(fingerprint: str, seed: int, n_folds: int) -> np.ndarray | None:
    """The published partition of ``seed`` for the images of content ``fingerprint``
    (:data:`PINNED_FOLDS`), ``int64 (N,)``, or ``None`` when none is pinned (or for another ``n_folds``)."""
    folds = PINNED_FOLDS.get(fingerprint, {}).get(int(seed))
    if folds is None or len(set(folds)) != n_folds:
        return None
    return np.array([int(c) for c in folds], dtype=np.int64)


def study_folds(data: UltrasoundDataset, n_folds: int, seed: int, fingerprint: str) -> np.ndarray:
    """The study's partition of ``seed`` into ``n_folds`` folds, ``int64 (N,)``: the published one where it
    is pinned (:func:`pinned_folds`, by the images' content ``fingerprint``), else the one
    :func:`cross_validation_folds` draws keeping near-duplicates and frames of one lesion in one fold
    (:func:`bl_utils.data.duplicates.frame_groups`). What the study's runs train on and notebook 1 shows."""
    folds = pinned_folds(fingerprint, seed, n_folds)
    return folds if folds is not None else cross_validation_folds(data, n_folds, seed=seed, groups=frame_groups(data))
