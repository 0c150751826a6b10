"""Tests of bl_utils.data.split: sizes, stratification, seeding, duplicate groups kept together, leaks.

Oracles: hand-counted quotas (the paper's 425 images -> 340 / 85), brute-force leak counts, and
the real ``busi256`` copy (skipped when ``../shared/data`` is absent).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bl_utils.data import busi as data
from bl_utils.data import duplicates
from bl_utils.data.dataset import UltrasoundDataset
from bl_utils.data.split import (count_leaks, cross_validation_folds, fold_split, fold_table, random_split,
                            split_train_val)
from helpers import BUSI256, study_images

needs_busi256 = pytest.mark.skipif(not BUSI256.is_dir(), reason=f"preprocessed BUSI not found at {BUSI256}")


def _meta(counts: dict[str, int]) -> pd.DataFrame:
    labels = [label for label, n in counts.items() for _ in range(n)]
    return pd.DataFrame({"stem": [f"{label} ({k})" for k, label in enumerate(labels)], "label": labels})


@pytest.mark.parametrize("counts, n_val", [
    ({"benign": 256, "malignant": 36, "normal": 133}, 85),   # the paper's 425 -> 340 / 85
    ({"benign": 68, "malignant": 29, "normal": 30}, 25),
    ({"a": 3, "b": 2}, 1), ({"a": 1}, 0), ({"a": 10, "b": 10, "c": 10}, 6)])
def test_split_sizes_stratified_and_disjoint(counts, n_val):
    meta = _meta(counts)
    split = split_train_val(meta, val_fraction=0.2, seed=0, groups=False)
    assert len(split.val) == n_val and len(split.train) + len(split.val) == len(meta)
    assert set(split.train).isdisjoint(split.val) and list(split.val) == sorted(split.val)
    for label, n in counts.items():               # each class within one image of its 20 %
        share = np.sum(meta.label.to_numpy()[split.val] == label)
        assert abs(share - 0.2 * n) < 1
    assert split.val_stems == list(meta.stem.iloc[split.val]) and not split.grouped


def test_split_seeded_and_reproducible():
    meta = _meta({"benign": 60, "malignant": 30, "normal": 20})
    a, b = split_train_val(meta, seed=3, groups=False), split_train_val(meta, seed=3, groups=False)
    np.testing.assert_array_equal(a.val, b.val)
    assert not np.array_equal(a.val, split_train_val(meta, seed=4, groups=False).val)
    counts = a.counts(meta)
    assert counts.loc["total"].tolist() == [88, 22] and counts.loc["normal", "val"] == 4


def test_grouped_split_keeps_groups_together_and_counts_leaks():
    meta = _meta({"benign": 50, "malignant": 30})
    groups = np.arange(80) // 2                          # pairs (0,1), (2,3), ... are duplicates
    pairs = pd.DataFrame({"i": np.arange(0, 80, 2), "j": np.arange(1, 80, 2)})
    for seed in range(5):
        split = split_train_val(meta, seed=seed, groups=groups)
        assert split.grouped and len(split.val) == 16
        val = set(split.val.tolist())
        assert all((i in val) == (j in val) for i, j in zip(pairs.i, pairs.j))
        assert count_leaks(pairs, split) == 0
    random = split_train_val(meta, seed=0, groups=False)
    in_val = np.isin(np.arange(80), random.val)
    assert count_leaks(pairs, random) == int(np.sum(in_val[pairs.i] != in_val[pairs.j])) > 0


def _dataset_with_copies(tmp_path) -> UltrasoundDataset:
    """Synthetic images (4 benign, 2 malignant, 4 normal) in which benign (1) is copied to benign (4)
    and malignant (1) to normal (4) — the same file under two labels, as in BUSI."""
    rng = np.random.default_rng(0)
    root = tmp_path / "copies" / data.LAYOUT_FOLDER
    for label, n in (("benign", 4), ("malignant", 2), ("normal", 4)):
        (root / label).mkdir(parents=True)
        for k in range(1, n + 1):
            Image.fromarray(rng.integers(0, 255, (24, 32), dtype=np.uint8)).save(root / label / f"{label} ({k}).png")
            mask = np.zeros((24, 32), np.uint8)
            mask[2:4, 2:4] = 255 if label != "normal" else 0
            Image.fromarray(mask).save(root / label / f"{label} ({k})_mask.png")
    for (src, dst) in ((("benign", 1), ("benign", 4)), (("malignant", 1), ("normal", 4))):
        (root / dst[0] / f"{dst[0]} ({dst[1]}).png").write_bytes((root / src[0] / f"{src[0]} ({src[1]}).png").read_bytes())
    return data.load_busi(root, image_size=(24, 32), max_tumour_fraction=None, cache_dir=False,
                          distance_maps=False, progress=False)


def test_default_split_groups_duplicates_itself(tmp_path):
    ds = _dataset_with_copies(tmp_path)
    pairs = duplicates.find_duplicates(ds, max_distance=0)
    assert sorted(zip(pairs.stem_i, pairs.stem_j)) == [("benign (1)", "benign (4)"), ("malignant (1)", "normal (4)")]
    groups = duplicates.duplicate_groups(ds)
    for seed in range(20):
        default = split_train_val(ds, val_fraction=0.5, seed=seed)
        explicit = split_train_val(ds, val_fraction=0.5, seed=seed, groups=groups)
        np.testing.assert_array_equal(default.val, explicit.val)
        assert default.grouped and count_leaks(pairs, default) == 0
    leaky = [count_leaks(pairs, split_train_val(ds, val_fraction=0.5, seed=s, groups=False)) for s in range(20)]
    assert max(leaky) > 0                             # the ungrouped split does leak copies


def test_bad_arguments():
    meta = _meta({"a": 5, "b": 5})
    with pytest.raises(TypeError, match="groups=False"):       # a meta table has no images to hash
        split_train_val(meta)
    with pytest.raises(TypeError, match="UltrasoundDataset"):
        split_train_val(np.zeros((10, 8, 8)), groups=False)
    with pytest.raises(ValueError, match="val_fraction"):
        split_train_val(meta, val_fraction=1.0, groups=False)
    with pytest.raises(ValueError, match=r"\(10,\)"):
        split_train_val(meta, groups=np.arange(9))


def test_busi256_papers_split_and_leaks(tmp_path):
    everything = data.load_busi(BUSI256, image_size=256, max_tumour_fraction=None, cache_dir=tmp_path,
                                distance_maps=False, progress=False)
    pairs = duplicates.find_duplicates(everything)
    exact = pairs[pairs.identical]
    assert [(a, b) for a, b in zip(exact.stem_i, exact.stem_j)] == [("benign (433)", "malignant (145)")]
    assert count_leaks(pairs, split_train_val(everything, seed=0)) == 0           # grouped: the default
    assert count_leaks(pairs, split_train_val(everything, seed=0, groups=False)) > 0
    kept = data.load_busi(BUSI256, image_size=256, cache_dir=tmp_path, distance_maps=False, progress=False)
    split = split_train_val(kept, val_fraction=0.2, seed=0)
    assert (len(split.train), len(split.val)) == (340, 85) and split.grouped


# ------------------------------------------------------------------------------ cross-validation
def _partition(folds: np.ndarray) -> set:
    return {frozenset(np.flatnonzero(folds == f).tolist()) for f in np.unique(folds)}


@pytest.mark.parametrize("counts", [{"benign": 256, "malignant": 36, "normal": 133},
                                    {"benign": 68, "malignant": 29}, {"a": 7, "b": 3}])
@pytest.mark.parametrize("n_folds", [2, 5])
def test_folds_cover_once_and_are_stratified(counts, n_folds):
    meta = _meta(counts)
    folds = cross_validation_folds(meta, n_folds=n_folds, seed=1, groups=False)
    assert folds.shape == (len(meta),) and folds.dtype == np.int64
    assert sorted(np.unique(folds)) == list(range(n_folds))  # every image in exactly one fold
    for label in counts:
        per_fold = np.bincount(folds[meta.label.to_numpy() == label], minlength=n_folds)
        assert per_fold.max() - per_fold.min() <= 1, (label, per_fold)
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1


@pytest.mark.parametrize("seed", range(4))
def test_folds_keep_groups_whole_and_stay_stratified(seed):
    meta = _meta({"benign": 150, "malignant": 60, "normal": 40})
    rng = np.random.default_rng(seed)
    groups = np.arange(250)
    for a, b in rng.integers(0, 250, size=(40, 2)):      # 40 duplicate pairs, chains and mixed labels
        groups[groups == groups[b]] = groups[a]
    folds = cross_validation_folds(meta, n_folds=5, seed=seed, groups=groups)
    for g in np.unique(groups):
        assert len(np.unique(folds[groups == g])) == 1     # a group never straddles two folds
    for label in ("benign", "malignant", "normal"):
        per_fold = np.bincount(folds[meta.label.to_numpy() == label], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1, (label, per_fold)


def test_folds_reproducible_and_seeded():
    labels = ["benign"] * 40 + ["malignant"] * 20
    a = cross_validation_folds(labels, n_folds=5, seed=3, groups=False)
    np.testing.assert_array_equal(a, cross_validation_folds(labels, n_folds=5, seed=3, groups=False))
    partitions = {frozenset(_partition(cross_validation_folds(labels, 5, seed=s, groups=False)))
                  for s in range(6)}
    assert len(partitions) == 6                              # different seeds, different partitions


def test_folds_of_a_dataset_group_its_duplicates(tmp_path):
    ds = _dataset_with_copies(tmp_path)
    groups = duplicates.duplicate_groups(ds)
    for seed in range(5):
        folds = cross_validation_folds(ds, n_folds=3, seed=seed)
        np.testing.assert_array_equal(folds, cross_validation_folds(ds, n_folds=3, seed=seed, groups=groups))
        stems = list(ds.meta.stem)
        assert folds[stems.index("benign (1)")] == folds[stems.index("benign (4)")]
        assert folds[stems.index("malignant (1)")] == folds[stems.index("normal (4)")]


def test_fold_split_is_a_split():
    meta = _meta({"benign": 30, "malignant": 12})
    folds = cross_validation_folds(meta, n_folds=4, seed=2, groups=np.arange(42) // 3)
    vals = []
    for k in range(4):
        split = fold_split(folds, k, seed=2, stems=meta.stem)
        assert set(split.train).isdisjoint(split.val) and len(split.train) + len(split.val) == 42
        assert list(split.val) == sorted(split.val) and (folds[split.val] == k).all()
        assert split.val_stems == list(meta.stem.iloc[split.val]) and split.grouped and split.seed == 2
        assert split.val_fraction == pytest.approx(len(split.val) / 42)
        vals.extend(split.val.tolist())
    assert sorted(vals) == list(range(42))                   # the validation folds cover every image once
    assert fold_split(folds, 0).val_stems == [str(i) for i in fold_split(folds, 0).val]



def test_fold_table_counts_each_folds_classes_and_its_leaks_by_hand():
    meta = pd.DataFrame({"label": ["benign", "benign", "malignant", "benign", "malignant", "benign"]})
    folds = np.array([0, 0, 1, 1, 2, 2])
    pairs = pd.DataFrame({"i": [0, 1, 3], "j": [1, 2, 5]})   # inside fold 0; folds 0–1; folds 1–2
    table = fold_table(folds, meta, pairs)
    assert table.index.tolist() == [0, 1, 2]
    assert table.benign.tolist() == [2, 1, 1] and table.malignant.tolist() == [0, 1, 1]
    assert table.images.tolist() == [2, 2, 2]
    assert table["pairs across train/val"].tolist() == [1, 2, 1]
    assert "pairs across train/val" not in fold_table(folds, meta).columns

def test_fold_errors():
    meta = _meta({"a": 5, "b": 5})
    with pytest.raises(TypeError, match="groups=False"):
        cross_validation_folds(meta)
    with pytest.raises(ValueError, match="n_folds"):
        cross_validation_folds(meta, n_folds=1, groups=False)
    with pytest.raises(ValueError, match="groups cannot fill"):
        cross_validation_folds(meta, n_folds=4, groups=np.arange(10) // 4)
    with pytest.raises(ValueError, match="not among"):
        fold_split(np.zeros(5, int), 1)
    with pytest.raises(ValueError, match="1-D integer"):
        fold_split(np.zeros(5), 0)


# -------------------------------------------- Odonnat & Pham's split (tests/odonnat_pham_port.py)
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_random_split_is_their_draw(seed):
    """Their np.random.choice(dataset_df.index, int(0.8 * N), replace=False) on the rows kept from a
    larger table (index labels, not positions) picks the same rows as random_split(seed)."""
    port = pytest.importorskip("odonnat_pham_port")
    database = _meta({"benign": 437, "malignant": 210})
    n_tumor = np.random.default_rng(seed).uniform(0, 0.2, len(database))
    dataset_df = database.loc[[port.keep_image(x) for x in n_tumor]]
    train_idx, val_idx = port.split_cell(dataset_df.index, seed)
    split = random_split(dataset_df.reset_index(drop=True), seed=seed)
    np.testing.assert_array_equal(dataset_df.index[split.train], np.sort(train_idx))
    assert set(dataset_df.index[split.val]) == set(val_idx)
    # the validation images in the draw's order: the rest of the permutation choice() took its images from
    drawn = np.random.RandomState(seed).permutation(len(dataset_df))
    np.testing.assert_array_equal(split.val, drawn[len(train_idx):])
    assert not np.all(np.diff(split.val) > 0)                         # not sorted
    assert len(split.train) == int(0.8 * len(dataset_df)) and not split.grouped and not split.stratified


def test_random_split_sizes_against_split_train_val():
    """At N = 425 the sizes agree with split_train_val(stratify=False, groups=False) (340 / 85); at
    N = 426 theirs validates N - int(0.8 N) = 86, split_train_val round(0.2 N) = 85."""
    for n, n_val in ((425, 85), (426, 86)):
        meta = _meta({"benign": n})
        assert len(random_split(meta, seed=0).val) == n_val
    assert len(split_train_val(_meta({"benign": 426}), groups=False, stratify=False).val) == 85
    with pytest.raises(ValueError, match="train_fraction"):
        random_split(_meta({"a": 5}), train_fraction=1.0)


def test_pinned_folds_are_the_partitions_the_published_runs_record():
    """Seeds 0–1 of the study keep the partitions their runs were trained on (read back from run.json), whatever
    the near-duplicate detector now groups; another seed is drawn with the frames of one lesion kept together."""
    import json

    from bl_utils.data.duplicates import frame_groups
    from bl_utils.data.split import pinned_folds

    busi = study_images()
    stems = list(busi.meta.stem)
    results = Path(__file__).resolve().parents[1] / "results" / "busi-ff3294f5" / "study-quick-random" / "ce"
    for seed in (0, 1):
        folds = pinned_folds(data.content_fingerprint(busi), seed, 5)
        for fold in range(5):
            recorded = json.loads((results / f"seed{seed}" / f"fold{fold}" / "run.json").read_text())["val_stems"]
            assert [stems[i] for i in np.flatnonzero(folds == fold)] == recorded
    assert pinned_folds(data.content_fingerprint(busi), 2, 5) is None and pinned_folds("0" * 16, 0, 5) is None
    groups = frame_groups(busi)
    drawn = cross_validation_folds(busi, 5, seed=2, groups=groups)
    assert all(len(set(drawn[groups == g])) == 1 for g in np.unique(groups))


def test_study_folds_are_the_partitions_every_published_study_run_records():
    """The partition notebook 1 shows for a seed (split.study_folds) is the one each published run of the study
    trained on: pinned for seeds 0–1, drawn with the frames of one lesion kept together for the new seeds."""
    import json

    from bl_utils.data.duplicates import frame_groups
    from bl_utils.data.split import study_folds

    busi = study_images()
    stems, fingerprint = np.array(busi.meta.stem), data.content_fingerprint(busi)
    results = Path(__file__).resolve().parents[1] / "results" / "busi-ff3294f5" / "study-quick-random"
    records = sorted(results.glob("*/seed*/fold*/run.json"))
    assert len(records) >= 40
    partitions = {}
    for record in records:
        seed, fold = int(record.parts[-3][4:]), int(record.parts[-2][4:])
        folds = partitions.setdefault(seed, study_folds(busi, 5, seed, fingerprint))
        assert list(stems[folds == fold]) == json.loads(record.read_text())["val_stems"], record
    groups = frame_groups(busi)
    drawn = study_folds(busi, 5, 2, fingerprint)
    assert all(len(set(drawn[groups == g])) == 1 for g in np.unique(groups))
