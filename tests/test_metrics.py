"""Tests of the segmentation metrics against hand-worked values, a brute-force oracle and MONAI.

Oracles:
* MONAI (``compute_dice``, ``compute_hausdorff_distance(percentile=95)``,
  ``compute_average_surface_distance(symmetric=True)``) on random blobs and shifted disks, 2-D and 3-D,
  with and without anisotropic spacing;
* a brute-force surface (a pixel of the mask with a 4/6-neighbour outside it, the array zero-padded)
  and all-pairs distances (``scipy.spatial.distance.cdist``), independent of the erosion + EDT path;
* tiny pictures whose values are worked out by hand in the comments.
"""

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.spatial.distance import cdist

from bl_utils import metrics
from bl_utils.metrics import (assd, batch_dice, count_components, dice, evaluate_masks, hd95, iou,
                              summarize, surface_distances)

monai_metrics = pytest.importorskip("monai.metrics", reason="MONAI is the cross-check oracle")

NAN = float("nan")
BUSI256 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "busi256"


# ------------------------------------------------------------------------------------- pictures
def blob(shape, seed, fraction=0.3, sigma=3.0):
    """A random smooth blob (often several components, often touching the border)."""
    field = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=shape), sigma)
    return field > np.quantile(field, 1 - fraction)


def ball(shape, centre, radius):
    grid = np.indices(shape)
    return sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius ** 2


def box(shape, *slices):
    m = np.zeros(shape, bool)
    m[slices] = True
    return m


PAIRS = {
    "blobs-2d": lambda: (blob((64, 80), 1), blob((64, 80), 2)),
    "blobs-2d-small": lambda: (blob((48, 48), 3, fraction=0.05, sigma=2), blob((48, 48), 4, 0.1, 2)),
    "disks-shifted": lambda: (ball((64, 64), (30, 34), 12), ball((64, 64), (34, 27), 9)),
    "disk-at-border": lambda: (ball((40, 50), (2, 45), 10), ball((40, 50), (5, 40), 12)),
    "disk-in-disk": lambda: (ball((50, 50), (25, 25), 6), ball((50, 50), (25, 25), 15)),
    "full-vs-disk": lambda: (np.ones((30, 30), bool), ball((30, 30), (12, 15), 8)),
    "blobs-3d": lambda: (blob((20, 24, 16), 5, sigma=2), blob((20, 24, 16), 6, sigma=2)),
    "balls-3d-shifted": lambda: (ball((24, 24, 20), (12, 12, 10), 7), ball((24, 24, 20), (10, 14, 8), 5)),
}
SPACINGS = {2: [None, (0.5, 1.5)], 3: [None, (1.0, 0.7, 2.5)]}
MONAI_CASES = [(name, s) for name, make in PAIRS.items() for s in SPACINGS[make()[0].ndim]]


def monai_values(p, t, spacing):
    """MONAI's Dice (empty -> 1), HD95 and symmetric ASSD for one pair of masks."""
    y_pred = torch.as_tensor(p, dtype=torch.float32)[None, None]
    y = torch.as_tensor(t, dtype=torch.float32)[None, None]
    sp = None if spacing is None else list(spacing)
    kw = dict(include_background=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI warns about empty masks
        d = monai_metrics.compute_dice(y_pred, y, ignore_empty=False, **kw).item()
        h = monai_metrics.compute_hausdorff_distance(y_pred, y, percentile=95, spacing=sp, **kw).item()
        a = monai_metrics.compute_average_surface_distance(y_pred, y, symmetric=True, spacing=sp,
                                                           **kw).item()
    return d, h, a


def brute_surface(m):
    """Pixels of ``m`` with a face neighbour (4 in 2-D, 6 in 3-D) outside ``m`` or outside the array."""
    padded = np.pad(m, 1)
    inner = tuple(slice(1, -1) for _ in m.shape)
    interior = m.copy()
    for axis in range(m.ndim):
        for step in (-1, 1):
            interior &= np.roll(padded, step, axis=axis)[inner]
    return m & ~interior


def brute_distances(p, t, spacing=None):
    scale = np.ones(p.ndim) if spacing is None else np.asarray(spacing, float)
    d = cdist(np.argwhere(brute_surface(p)) * scale, np.argwhere(brute_surface(t)) * scale)
    return d.min(axis=1), d.min(axis=0)


# --------------------------------------------------------------------------- MONAI cross-checks
@pytest.mark.parametrize("name, spacing", MONAI_CASES)
def test_dice_hd95_assd_match_monai(name, spacing):
    p, t = PAIRS[name]()
    assert p.any() and t.any() and not np.array_equal(p, t)
    m_dice, m_hd95, m_assd = monai_values(p, t, spacing)
    assert dice(p, t) == pytest.approx(m_dice, rel=1e-6)
    # MONAI works in float32; our distances are float64.
    assert hd95(p, t, spacing=spacing) == pytest.approx(m_hd95, rel=1e-5)
    assert assd(p, t, spacing=spacing) == pytest.approx(m_assd, rel=1e-5)
    # ... and the order of the arguments does not matter (both are symmetric).
    assert hd95(t, p, spacing=spacing) == pytest.approx(hd95(p, t, spacing=spacing), rel=1e-12)
    assert assd(t, p, spacing=spacing) == pytest.approx(assd(p, t, spacing=spacing), rel=1e-12)


@pytest.mark.parametrize("name, spacing", MONAI_CASES)
def test_surface_distances_match_brute_force(name, spacing):
    p, t = PAIRS[name]()
    d_pt, d_tp = surface_distances(p, t, spacing=spacing)
    b_pt, b_tp = brute_distances(p, t, spacing)
    np.testing.assert_allclose(d_pt, b_pt, rtol=1e-12)   # both in C order of the surface pixels
    np.testing.assert_allclose(d_tp, b_tp, rtol=1e-12)
    pooled = np.concatenate([b_pt, b_tp])
    assert hd95(p, t, spacing=spacing, method="pooled") == pytest.approx(np.percentile(pooled, 95))
    assert assd(p, t, spacing=spacing) == pytest.approx(pooled.mean())


@pytest.mark.skipif(not BUSI256.is_dir(), reason="real BUSI data (../shared/data/busi256) is absent")
@pytest.mark.parametrize("stem", ["benign (4)", "benign (195)", "malignant (53)"])
def test_real_busi_masks_match_monai(stem):
    from PIL import Image

    label = stem.split(" ")[0]
    t = np.asarray(Image.open(BUSI256 / label / f"{stem}_mask.png").convert("L")) > 0
    # A plausible prediction: the truth shifted, eroded, plus a false blob in a corner.
    p = ndimage.binary_erosion(np.roll(t, (5, -7), axis=(0, 1)), iterations=3)
    p[230:245, 10:30] = True
    for spacing in (None, (0.4, 0.6)):
        m_dice, m_hd95, m_assd = monai_values(p, t, spacing)
        assert dice(p, t) == pytest.approx(m_dice, rel=1e-6)
        assert hd95(p, t, spacing=spacing) == pytest.approx(m_hd95, rel=1e-5)
        assert assd(p, t, spacing=spacing) == pytest.approx(m_assd, rel=1e-5)


def test_surface_is_mask_minus_erosion_and_includes_the_border():
    m = box((5, 6), slice(0, 3), slice(1, 5))           # touches the top border
    expected = np.array([[0, 1, 1, 1, 1, 0],
                         [0, 1, 0, 0, 1, 0],              # only (1, 2), (1, 3) are interior
                         [0, 1, 1, 1, 1, 0],
                         [0, 0, 0, 0, 0, 0],
                         [0, 0, 0, 0, 0, 0]], bool)
    np.testing.assert_array_equal(metrics.surface(m), expected)
    np.testing.assert_array_equal(metrics.surface(m), brute_surface(m))


# ------------------------------------------------------------------------------ hand-worked cases
@pytest.mark.parametrize("spacing, expected", [(None, 5.0), ((2.0, 0.5), math.sqrt(40.0)),
                                               (3.0, 15.0)])
def test_two_single_pixels_at_a_known_distance(spacing, expected):
    # (2, 3) and (5, 7): 3 rows and 4 columns apart -> 5 pixels; with spacing (2, 0.5): sqrt(6² + 2²).
    p = box((8, 9), 2, 3)
    t = box((8, 9), 5, 7)
    assert hd95(p, t, spacing=spacing) == pytest.approx(expected, rel=1e-12)
    assert hd95(p, t, spacing=spacing, method="pooled") == pytest.approx(expected, rel=1e-12)
    assert assd(p, t, spacing=spacing) == pytest.approx(expected, rel=1e-12)
    assert dice(p, t) == 0.0 and iou(p, t) == 0.0


@pytest.mark.parametrize("shape, slices", [((8, 8), (slice(2, 6), slice(1, 5))),
                                           ((6, 6), (slice(0, 6), slice(0, 6))),         # full
                                           ((7, 7), (3, 3)),                             # one pixel
                                           ((6, 7, 5), (slice(1, 4), slice(2, 6), slice(0, 5)))])
def test_a_mask_against_itself(shape, slices):
    m = box(shape, *slices)
    assert dice(m, m) == 1.0 and iou(m, m) == 1.0
    assert hd95(m, m) == 0.0 and assd(m, m) == 0.0


def test_dice_and_iou_of_half_overlapping_squares():
    # Two 4x4 squares sharing 2 of their 4 columns: |P∩T| = 8, |P| = |T| = 16, |P∪T| = 24.
    p = box((8, 8), slice(2, 6), slice(0, 4))
    t = box((8, 8), slice(2, 6), slice(2, 6))
    assert dice(p, t) == pytest.approx(2 * 8 / 32)      # 0.5
    assert iou(p, t) == pytest.approx(8 / 24)           # 1/3
    assert type(dice(p, t)) is float and type(hd95(p, t)) is float and type(count_components(p)) is int


def test_hd95_and_assd_of_a_square_shifted_by_one():
    # 3x3 squares in columns 0-2 and 1-3: each surface has the 8 non-centre pixels; in each direction
    # 4 surface pixels lie on the other surface (distance 0) and 4 are 1 away. Sorted distances of a
    # direction: [0,0,0,0,1,1,1,1]; P95 at rank 0.95*7 = 6.65 -> 1. ASSD = 8 / 16 = 0.5.
    p = box((7, 8), slice(2, 5), slice(1, 4))
    t = box((7, 8), slice(2, 5), slice(2, 5))
    assert hd95(p, t) == pytest.approx(1.0)
    assert assd(p, t) == pytest.approx(0.5)


def test_hd95_methods_differ_as_worked_by_hand():
    # target: one pixel (5, 5); pred: (5, 5) and (5, 9). d(∂P->∂T) = [0, 4], d(∂T->∂P) = [0].
    # "max" (MONAI): max(P95([0, 4]), P95([0])) = max(0.95*4, 0) = 3.8.
    # "pooled" (medpy): P95([0, 0, 4]) at rank 0.95*2 = 1.9 -> 0 + 0.9*4 = 3.6.
    # ASSD (pooled mean, MONAI): (0 + 4 + 0) / 3 = 4/3 (medpy's mean of means would give 1).
    t = box((11, 12), 5, 5)
    p = t | box((11, 12), 5, 9)
    assert hd95(p, t) == pytest.approx(3.8)
    assert hd95(p, t, method="pooled") == pytest.approx(3.6)
    assert assd(p, t) == pytest.approx(4 / 3)
    assert monai_values(p, t, None)[1:] == pytest.approx((3.8, 4 / 3), rel=1e-6)


# ------------------------------------------------------------------------------------ empty masks
EMPTY = np.zeros((10, 12), bool)
SQUARE = box((10, 12), slice(3, 6), slice(4, 8))


def test_dice_and_iou_when_masks_are_empty():
    assert dice(EMPTY, EMPTY) == 1.0 and iou(EMPTY, EMPTY) == 1.0          # a normal image, right
    assert dice(EMPTY, EMPTY, empty_score=0.0) == 0.0
    assert iou(EMPTY, EMPTY, empty_score=NAN) != iou(EMPTY, EMPTY, empty_score=NAN)  # NaN
    for p, t in [(SQUARE, EMPTY), (EMPTY, SQUARE)]:                          # exactly one empty
        assert dice(p, t) == 0.0 and iou(p, t) == 0.0
        assert dice(p, t, empty_score=0.5) == 0.0


@pytest.mark.parametrize("metric", [hd95, assd])
def test_surface_metrics_when_masks_are_empty(metric):
    assert metric(EMPTY, EMPTY) == 0.0
    assert metric(EMPTY, EMPTY, empty_value=99.0) == 0.0
    for p, t in [(SQUARE, EMPTY), (EMPTY, SQUARE)]:
        assert math.isnan(metric(p, t))
        assert metric(p, t, empty_value=99.0) == 99.0
        assert metric(p, t, empty_value="diagonal") == pytest.approx(math.hypot(10, 12))
        assert metric(p, t, spacing=(2.0, 0.5), empty_value="diagonal") == pytest.approx(math.hypot(20, 6))
    with pytest.raises(ValueError, match="diagonal"):
        metric(SQUARE, EMPTY, empty_value="image")


def test_surface_distances_with_an_empty_mask_are_infinite():
    d_pt, d_tp = surface_distances(SQUARE, EMPTY)
    assert len(d_pt) == 10 and np.all(np.isinf(d_pt)) and len(d_tp) == 0   # 3x4 box: 10 on surface
    assert [len(d) for d in surface_distances(EMPTY, EMPTY)] == [0, 0]


# ------------------------------------------------------------------------------------ components
def test_component_counts_of_known_pictures():
    two = box((10, 10), slice(1, 4), slice(1, 4)) | box((10, 10), slice(6, 9), slice(5, 9))
    assert count_components(two) == 2 and count_components(two, connectivity=1) == 2
    diagonal = box((8, 8), slice(1, 4), slice(1, 4)) | box((8, 8), slice(4, 7), slice(4, 7))
    assert count_components(diagonal) == 1                      # 8-connectivity: corners join
    assert count_components(diagonal, connectivity=1) == 2      # 4-connectivity: they do not
    assert count_components(np.zeros((5, 5), bool)) == 0
    assert count_components(np.ones((5, 5), bool)) == 1
    checker = (np.indices((4, 4)).sum(0) % 2).astype(np.uint8)  # 8 pixels touching by corners
    assert count_components(checker, connectivity=1) == 8 and count_components(checker) == 1


def test_component_counts_in_3d():
    corner = box((6, 6, 6), 1, 1, 1) | box((6, 6, 6), 2, 2, 2)   # share one vertex only
    edge = box((6, 6, 6), 1, 1, 1) | box((6, 6, 6), 2, 2, 1)     # share one edge
    assert [count_components(corner, c) for c in (1, 2, 3)] == [2, 2, 1]
    assert [count_components(edge, c) for c in (1, 2, 3)] == [2, 1, 1]
    with pytest.raises(ValueError, match="connectivity"):
        count_components(corner, connectivity=4)


# ---------------------------------------------------------------------------------- input checks
def test_shape_mismatch_names_both_shapes():
    for f in (dice, iou, hd95, assd):
        with pytest.raises(ValueError, match=r"\(4, 4\).*\(4, 5\)"):
            f(np.zeros((4, 4)), np.zeros((4, 5)))


@pytest.mark.parametrize("bad", [np.full((4, 4), 0.5), np.full((4, 4), 255, np.uint8),
                                 np.full((4, 4), np.nan), np.full((4, 4), -1)])
def test_non_binary_values_are_refused(bad):
    for f in (dice, iou, hd95, assd):
        with pytest.raises(ValueError, match="binary"):
            f(bad, np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="binary"):
        count_components(bad)


@pytest.mark.parametrize("shape", [(16,), (2, 3, 4, 5), (1, 8, 8), (8, 1)])
def test_wrong_dimensions_are_refused(shape):
    with pytest.raises(ValueError, match="shape"):
        hd95(np.zeros(shape, bool), np.zeros(shape, bool))


def test_one_mask_check_shared_with_distance_maps():
    """metrics and distance refuse a bad mask with the same check (bl_utils.distance.check_mask)."""
    from bl_utils.distance import signed_distance_map

    bad = np.array([[0, 255], [0, 0]], np.uint8)
    with pytest.raises(ValueError) as from_metrics:
        count_components(bad)
    with pytest.raises(ValueError) as from_distance:
        signed_distance_map(bad)
    assert str(from_metrics.value) == str(from_distance.value)
    assert "[255]" in str(from_metrics.value) and "mask > 0" in str(from_metrics.value)
    with pytest.raises(TypeError, match="dtype"):
        dice(np.array([["a", "b"], ["c", "d"]]), np.zeros((2, 2), bool))


def test_bad_spacing_and_method_are_refused():
    with pytest.raises(ValueError, match="spacing"):
        hd95(SQUARE, SQUARE, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        assd(SQUARE, SQUARE, spacing=(1.0, 0.0))
    with pytest.raises(ValueError, match="method"):
        hd95(SQUARE, SQUARE, method="mean")


def test_bool_01_and_torch_inputs_agree():
    p, t = PAIRS["disks-shifted"]()
    expected = (dice(p, t), iou(p, t), hd95(p, t), assd(p, t), count_components(p))
    for convert in (lambda m: m.astype(np.uint8), lambda m: m.astype(np.float32), torch.from_numpy,
                    lambda m: torch.from_numpy(m).float()):
        got = (dice(convert(p), convert(t)), iou(convert(p), convert(t)), hd95(convert(p), convert(t)),
               assd(convert(p), convert(t)), count_components(convert(p)))
        assert got == expected


# ------------------------------------------------------------------------- evaluate and summarize
def test_evaluate_masks_matches_the_single_image_functions():
    preds = np.stack([blob((40, 40), s, fraction=0.15) for s in range(5)] + [np.zeros((40, 40), bool)])
    targets = np.stack([blob((40, 40), s + 10, fraction=0.15) for s in range(4)]
                       + [np.zeros((40, 40), bool)] * 2)
    table = evaluate_masks(torch.from_numpy(preds), targets, stems=list("abcdef"), spacing=(0.5, 2.0))
    assert list(table.columns) == list(metrics.COLUMNS) and len(table) == 6
    for row, p, t in zip(table.itertuples(), preds, targets):
        assert row.dice == dice(p, t) and row.iou == iou(p, t)
        np.testing.assert_equal([row.hd95, row.assd],
                                [hd95(p, t, spacing=(0.5, 2.0)), assd(p, t, spacing=(0.5, 2.0))])
        assert row.components == count_components(p)
        assert (row.target_empty, row.pred_empty) == (not t.any(), not p.any())
    assert list(table.stem) == list("abcdef") and table.label.isna().all()


def test_evaluate_and_summarize_a_hand_made_set():
    square = box((12, 12), slice(3, 7), slice(3, 7))
    two = box((12, 12), slice(0, 2), slice(0, 2)) | box((12, 12), slice(8, 10), slice(8, 10))
    empty = np.zeros((12, 12), bool)
    # tumour found exactly, tumour missed, normal left empty, normal with two false blobs
    preds = np.stack([square, empty, empty, two])
    targets = np.stack([square, square, empty, empty])
    table = evaluate_masks(preds, targets, stems=["t1", "t2", "n1", "n2"],
                           labels=["benign", "malignant", "normal", "normal"])
    assert table.dice.tolist() == [1.0, 0.0, 1.0, 0.0]
    np.testing.assert_equal(table.hd95.to_numpy(), [0.0, NAN, 0.0, NAN])
    assert table.components.tolist() == [1, 0, 0, 2]
    summary = summarize(table)
    assert summary == pytest.approx({
        "n_images": 4, "n_tumour": 2, "n_normal": 2,
        "dice_mean": 0.5, "dice_tumour": 0.5, "dice_normal": 0.5, "iou_mean": 0.5, "iou_tumour": 0.5,
        "hd95_mean": 0.0, "hd95_tumour": 0.0, "hd95_nan": 2,
        "assd_mean": 0.0, "assd_tumour": 0.0, "assd_nan": 2,
        "components_mean": 0.75, "tumour_missed": 1, "normal_with_prediction": 1,
        "normal_fp_rate": 0.5})   # one of the two normal images has a predicted pixel
    penalised = summarize(evaluate_masks(preds, targets, empty_value="diagonal"))
    assert penalised["hd95_nan"] == 0
    assert penalised["hd95_tumour"] == pytest.approx(math.hypot(12, 12) / 2)
    only_normal = summarize(table[table.target_empty])
    assert math.isnan(only_normal["dice_tumour"]) and only_normal["n_tumour"] == 0


def test_evaluate_masks_checks_its_inputs():
    with pytest.raises(ValueError, match=r"\(2, 8, 8\).*\(3, 8, 8\)"):
        evaluate_masks(np.zeros((2, 8, 8)), np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="stems"):
        evaluate_masks(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), stems=["a"])
    with pytest.raises(ValueError, match="binary"):
        evaluate_masks(np.full((2, 8, 8), 255), np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="stack"):
        evaluate_masks(np.zeros((8, 8)), np.zeros((8, 8)))


# ------------------------------------------------------------------------------------- batch_dice
def _batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 1, 24, 24, generator=g) * 3
    target = (torch.rand(6, 1, 24, 24, generator=g) > 0.6).float()
    logits[1] = -10.0                    # empty prediction, tumour image
    target[2] = 0.0                      # normal image with a prediction
    logits[3], target[3] = -10.0, 0.0    # normal image, correctly empty
    logits[4, 0, :12] = 0.0              # sigmoid(0) = 0.5 exactly: counts as foreground (>= 0.5)
    return logits, target


def test_batch_dice_equals_dice_on_each_image():
    logits, target = _batch()
    got = batch_dice(logits, target)
    assert got.shape == (6,) and got.dtype == torch.float32
    probs = torch.sigmoid(logits)
    expected = [dice((probs[i, 0] >= 0.5).numpy(), target[i, 0].numpy()) for i in range(6)]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    assert got[1] == 0.0 and got[2] == 0.0 and got[3] == 1.0
    np.testing.assert_allclose(batch_dice(probs, target.bool(), from_logits=False).numpy(), expected,
                               rtol=1e-6)
    assert batch_dice(logits, target, empty_score=0.0)[3] == 0.0
    high = batch_dice(probs, target, threshold=0.9, from_logits=False)
    np.testing.assert_allclose(high.numpy(), [dice((probs[i, 0] >= 0.9).numpy(), target[i, 0].numpy())
                                              for i in range(6)], rtol=1e-6)


def test_batch_dice_checks_its_inputs():
    logits, target = _batch()
    with pytest.raises(ValueError, match=r"\(6, 1, 24, 24\).*\(6, 24, 24\)"):
        batch_dice(logits, target[:, 0])
    with pytest.raises(ValueError, match="from_logits"):
        batch_dice(logits, target, from_logits=False)
    with pytest.raises(ValueError, match="binary"):
        batch_dice(logits, target * 255)


# ------------------------------------- Odonnat & Pham's validation F1 (tests/odonnat_pham_port.py)
def _their_batches(pred: np.ndarray, true: np.ndarray, batch_size: int):
    """(output, mask) per validation batch as their loop saw them: 2-channel maps whose argmax is the mask."""
    def two_channel(m):
        return torch.as_tensor(np.stack([~m, m], 1), dtype=torch.float32)
    return [(two_channel(pred[i:i + batch_size]), two_channel(true[i:i + batch_size]))
            for i in range(0, len(pred), batch_size)]


def _f1_masks(n=37, seed=0, empty_batch=None, batch_size=16):
    rng = np.random.default_rng(seed)
    true = np.zeros((n, 16, 16), bool)
    pred = np.zeros((n, 16, 16), bool)
    for k in range(n):
        r, c, h = rng.integers(0, 10), rng.integers(0, 10), rng.integers(1, 7)
        true[k, r:r + h, c:c + h] = True
        dr, dc, dh = rng.integers(-2, 3, size=3)
        pred[k, max(r + dr, 0):r + dr + h + dh, max(c + dc, 0):c + dc + h + dh] = rng.random() > 0.1
    if empty_batch is not None:
        true[empty_batch * batch_size:(empty_batch + 1) * batch_size] = False
        pred[empty_batch * batch_size:(empty_batch + 1) * batch_size] = False
    return pred, true


@pytest.mark.parametrize("n,batch_size,empty_batch", [(37, 16, None), (85, 16, None), (40, 16, 1),
                                                      (37, 16, 2), (10, 3, 0), (7, 16, None)])
def test_batch_pooled_f1_is_their_torchmetrics_loop(n, batch_size, empty_batch):
    """torchmetrics F1Score(task='binary') per batch of argmax masks (pixels pooled), mean over batches
    (the short last batch counts as one); an all-empty batch scores 0 (zero_division=0). rel 1e-6."""
    port = pytest.importorskip("odonnat_pham_port")
    pred, true = _f1_masks(n, seed=n, empty_batch=empty_batch, batch_size=batch_size)
    theirs = float(port.validation_f1(_their_batches(pred, true, batch_size)))
    ours = metrics.batch_pooled_f1(pred, true, batch_size=batch_size)
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert metrics.batch_pooled_f1(torch.as_tensor(pred), torch.as_tensor(true.astype(np.uint8)),
                                   batch_size) == pytest.approx(ours)
    per_image = np.mean([dice(p, t) for p, t in zip(pred, true)])
    pooled = dice(pred, true)
    assert abs(ours - per_image) > 1e-3                         # not the per-image mean Dice
    if n > batch_size:                                          # nor, with several batches, the pooled Dice
        assert abs(ours - pooled) > 1e-3
    else:
        assert ours == pytest.approx(pooled)


def test_batch_pooled_f1_hand_worked_and_torchmetrics_zero_division():
    from torchmetrics.classification import BinaryF1Score

    z = torch.zeros(2, 4, 4, dtype=torch.long)
    assert float(BinaryF1Score()(z, z)) == 0.0                 # nothing predicted, nothing there: 0
    true = np.zeros((3, 2, 2), bool)
    true[0, 0, 0] = true[1] = True
    pred = true.copy()
    pred[1, 1, 1] = False
    # batch 1 (images 0, 1): TP 4, FN 1 -> 8/9; batch 2 (image 2, empty and predicted empty) -> 0
    assert metrics.batch_pooled_f1(pred, true, batch_size=2) == pytest.approx((8 / 9 + 0) / 2)
    assert metrics.batch_pooled_f1(pred, true, batch_size=3) == pytest.approx(8 / 9)


@pytest.mark.parametrize("n,batch_size,empty_batch", [(37, 16, None), (85, 16, None), (40, 16, 1), (10, 3, 0)])
def test_pooled_f1_from_counts_in_any_order_is_their_loop_on_the_reordered_masks(n, batch_size, empty_batch):
    """Oracle: their torchmetrics loop (tests/odonnat_pham_port.py) on the masks read in that order."""
    port = pytest.importorskip("odonnat_pham_port")
    pred, true = _f1_masks(n, seed=n, empty_batch=empty_batch, batch_size=batch_size)
    counts = metrics.confusion_counts(pred, true)
    assert counts.shape == (n, 3) and counts.dtype == np.int64
    np.testing.assert_array_equal(counts[:, 0], (pred & true).sum(axis=(1, 2)))
    np.testing.assert_array_equal(counts[:, 1] + counts[:, 2], (pred ^ true).sum(axis=(1, 2)))
    for order in (None, np.random.default_rng(n).permutation(n), np.arange(n)[::-1]):
        p, t = (pred, true) if order is None else (pred[order], true[order])
        theirs = float(port.validation_f1(_their_batches(p, t, batch_size)))
        assert metrics.pooled_f1_from_counts(counts, order, batch_size) == pytest.approx(theirs, rel=1e-6)


def test_pooled_f1_from_counts_errors():
    with pytest.raises(ValueError, match="permutation"):
        metrics.pooled_f1_from_counts(np.ones((4, 3), int), [0, 1, 1, 2])
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        metrics.pooled_f1_from_counts(np.ones((4, 2), int))
    with pytest.raises(ValueError, match="one shape"):
        metrics.confusion_counts(np.zeros((2, 3, 3), bool), np.zeros((2, 3, 4), bool))


def test_batch_pooled_f1_errors():
    m = np.zeros((4, 3, 3), bool)
    with pytest.raises(ValueError, match="same shape"):
        metrics.batch_pooled_f1(m, m[:3])
    with pytest.raises(ValueError, match="batch_size"):
        metrics.batch_pooled_f1(m, m, batch_size=0)
    with pytest.raises(ValueError, match="non-empty stack"):
        metrics.batch_pooled_f1(m[:0], m[:0])
    with pytest.raises(ValueError, match="binary"):
        metrics.batch_pooled_f1(m * 0.5 + 0.5, m)


# ------------------------------------------------------------------------- surface_dice (NSD)
def random_shape(shape, rng, centre=None, half=None):
    """A random axis-aligned rectangle or ellipse (2-D), box or ellipsoid (3-D), possibly cut by the border."""
    centre = rng.uniform(0, shape) if centre is None else centre
    half = rng.uniform(2, np.array(shape) / 3) if half is None else half
    grid = np.indices(shape)
    if rng.random() < 0.5:
        return np.logical_and.reduce([abs(g - c) <= h for g, c, h in zip(grid, centre, half)])
    return sum(((g - c) / h) ** 2 for g, c, h in zip(grid, centre, half)) <= 1


def random_pair(shape, rng):
    """Two overlapping or nearby random shapes: a 'truth' and a 'prediction' a few pixels off."""
    centre, half = rng.uniform(np.array(shape) / 4, 3 * np.array(shape) / 4), rng.uniform(3, np.array(shape) / 3)
    return (random_shape(shape, rng, centre, half),
            random_shape(shape, rng, centre + rng.normal(0, 2.5, len(shape)), half * rng.uniform(0.6, 1.4, len(shape))))


def monai_nsd(p, t, tolerance, spacing=None):
    """MONAI's ``compute_surface_dice`` of one pair: one-hot (background, tumour), background left out."""
    one_hot = [torch.as_tensor(np.stack([~m, m]), dtype=torch.float32)[None] for m in (p, t)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = monai_metrics.compute_surface_dice(*one_hot, class_thresholds=[tolerance], include_background=False,
                                                   spacing=None if spacing is None else list(spacing))
    assert value.shape == (1, 1)
    return value.item()


NSD_TOLERANCES = [0.0, 1.0, 1.5, 2.0, 3.7, 10.0]


@pytest.mark.parametrize("seed, shape, spacing", [(s, (48, 56), None) for s in range(6)]
                         + [(6, (48, 56), (0.5, 1.5)), (7, (40, 40), (2.0, 0.7)),
                            (8, (20, 24, 16), None), (9, (20, 24, 16), (1.0, 0.7, 2.5))])
def test_surface_dice_matches_monai_on_random_rectangles_and_ellipses(seed, shape, spacing):
    p, t = random_pair(shape, np.random.default_rng(seed))
    assert p.any() and t.any() and not np.array_equal(p, t)
    values = []
    for tolerance in NSD_TOLERANCES:
        ours = metrics.surface_dice(p, t, tolerance, spacing=spacing)
        theirs = monai_nsd(p, t, tolerance, spacing)
        # MONAI stores the ratio of its two (integer) counts as float32, ours is float64: the float32
        # rounding of ours equals MONAI's exactly (which, for surfaces of < 2**23 pixels, means the counts agree)
        assert np.float32(ours) == np.float32(theirs), (tolerance, ours, theirs)
        assert ours == pytest.approx(theirs, abs=1e-7)
        assert metrics.surface_dice(t, p, tolerance, spacing=spacing) == pytest.approx(ours, abs=1e-12)   # symmetric
        values.append(ours)
    assert values == sorted(values) and 0 <= values[0] and values[-1] <= 1        # grows with the tolerance
    assert values[0] < 1 and values[-1] > 0 and len(set(values)) >= 3                 # an informative pair
    # and it is its definition on the brute-force distances (all pairs): within 1e-9
    b_pt, b_tp = brute_distances(p, t, spacing)
    for tolerance in NSD_TOLERANCES:
        expected = (np.sum(b_pt <= tolerance + 1e-12) + np.sum(b_tp <= tolerance + 1e-12)) / (len(b_pt) + len(b_tp))
        assert metrics.surface_dice(p, t, tolerance, spacing=spacing) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("shape, slices", [((12, 12), (slice(3, 8), slice(2, 9))),
                                           ((10, 10), (slice(0, 10), slice(0, 4))),     # touching the border
                                           ((5, 6), (slice(2, 3), slice(3, 4))),        # one pixel
                                           ((8, 9, 7), (slice(1, 5), slice(2, 8), slice(0, 3)))])
@pytest.mark.parametrize("tolerance", [0.0, 1.0, 4.5])
def test_surface_dice_of_a_mask_with_itself_is_one(shape, slices, tolerance):
    m = box(shape, *slices)
    assert metrics.surface_dice(m, m, tolerance) == 1.0


def test_surface_dice_of_a_square_shifted_by_one_worked_by_hand():
    # 4x4 squares, columns 0-3 and 1-4: each surface has 12 pixels; 6 of each (rows 0 and 3, columns
    # 1-3) lie on the other surface (distance 0), the other 6 at distance 1
    p = box((6, 7), slice(1, 5), slice(0, 4))
    t = box((6, 7), slice(1, 5), slice(1, 5))
    assert metrics.surface_dice(p, t, 0.0) == 0.5
    assert metrics.surface_dice(p, t, 0.99) == 0.5
    assert metrics.surface_dice(p, t, 1.0) == 1.0


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("axis", [0, 1])
def test_surface_dice_of_a_square_shifted_by_k_pixels(k, axis):
    p = box((30, 30), slice(8, 18), slice(8, 18))
    t = np.roll(p, k, axis=axis)
    for tolerance in (k, k + 0.5, 2 * k + 1):
        assert metrics.surface_dice(p, t, tolerance) == 1.0
    assert metrics.surface_dice(p, t, k - 0.01) < 1.0          # the side edges are exactly k apart
    # with spacing 0.5 along the shift, the shift is k/2 long
    spacing = (0.5, 1.0) if axis == 0 else (1.0, 0.5)
    assert metrics.surface_dice(p, t, k / 2, spacing=spacing) == 1.0
    assert metrics.surface_dice(p, t, k / 2 - 0.01, spacing=spacing) < 1.0


def test_surface_dice_of_far_apart_masks_is_zero():
    p = box((40, 40), slice(2, 8), slice(2, 8))
    t = box((40, 40), slice(30, 36), slice(30, 36))       # nearest surface pixels: (7, 7) and (30, 30)
    gap = math.hypot(23, 23)
    assert metrics.surface_dice(p, t, 0.0) == 0.0
    assert metrics.surface_dice(p, t, gap - 0.01) == 0.0
    assert 0.0 < metrics.surface_dice(p, t, gap) < 1.0       # the two facing corners
    assert metrics.surface_dice(p, t, 100.0) == 1.0


@pytest.mark.parametrize("p_empty, t_empty, expected", [(True, True, 1.0), (True, False, 0.0), (False, True, 0.0)])
@pytest.mark.parametrize("tolerance", [0.0, 2.0, 1e6])
def test_surface_dice_when_masks_are_empty(p_empty, t_empty, expected, tolerance):
    square = box((10, 10), slice(2, 6), slice(3, 7))
    empty = np.zeros((10, 10), bool)
    p, t = (empty if p_empty else square), (empty if t_empty else square)
    assert metrics.surface_dice(p, t, tolerance) == expected
    if p_empty != t_empty:                                   # MONAI agrees where it gives a number (both empty: NaN)
        assert monai_nsd(p, t, tolerance) == expected
    else:
        assert math.isnan(monai_nsd(p, t, tolerance))


@pytest.mark.parametrize("tolerance", [-1.0, -1e-9, float("nan"), float("inf"), -float("inf")])
def test_surface_dice_refuses_a_negative_or_non_finite_tolerance(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        metrics.surface_dice(SQUARE, SQUARE, tolerance)


def test_surface_dice_checks_its_masks():
    with pytest.raises(ValueError, match="same shape"):
        metrics.surface_dice(np.zeros((8, 8)), np.zeros((8, 9)), 1.0)
    with pytest.raises(ValueError, match="binary"):
        metrics.surface_dice(np.full((8, 8), 0.5), np.zeros((8, 8)), 1.0)


@pytest.mark.parametrize("tolerance", [0.0, 2.0, 5.5])
def test_evaluate_masks_nsd_column_is_surface_dice_per_image(tolerance):
    rng = np.random.default_rng(3)
    pairs = [random_pair((32, 36), rng) for _ in range(5)]
    empty = np.zeros((32, 36), bool)
    preds = np.stack([p for p, _ in pairs[:4]] + [pairs[4][0], empty, empty])
    targets = np.stack([t for _, t in pairs[:4]] + [empty, pairs[4][1], empty])
    spacing = (0.5, 1.5)
    table = evaluate_masks(preds, targets, spacing=spacing, nsd_tolerance=tolerance)
    assert list(table.columns) == list(metrics.COLUMNS) + ["nsd"]
    expected = [metrics.surface_dice(p, t, tolerance, spacing=spacing) for p, t in zip(preds, targets)]
    assert table.nsd.tolist() == expected
    assert expected[4] == expected[5] == 0.0 and expected[6] == 1.0          # one empty / both empty
    assert len(set(expected[:4])) > 1
    assert "nsd" not in evaluate_masks(preds, targets).columns
