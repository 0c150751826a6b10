"""Tests of bl_utils.explorer (through bl_utils.widgets, where the notebooks import it) and of the
explorer widget: the geometry of eqs. 1–2, candidate predictions, per-pixel loss terms, the widget
and what it shows when saved without a kernel, each against an independent oracle (closed forms
worked out by hand, scipy, torch) with a stated tolerance."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import integrate, ndimage

from bl_utils import disks, explorer, widgets
from bl_utils import explorer as bl_explorer
from bl_utils.disks import Disk
from helpers import authors_sdm


def disk_footprint(k: int) -> np.ndarray:
    yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
    return yy ** 2 + xx ** 2 <= k ** 2


# ------------------------------------------------------------------ Disk and eq. 1

@pytest.mark.parametrize("center,radius", [((10, 10), 4), ((9.5, 10.3), 5.2), ((0, 0), 3), ((2, 18), 1)])
def test_disk_mask_matches_brute_force(center, radius):
    shape = (20, 21)
    expected = np.array([[(r - center[0]) ** 2 + (c - center[1]) ** 2 <= radius ** 2 for c in range(shape[1])]
                         for r in range(shape[0])])
    np.testing.assert_array_equal(Disk(center, radius).mask(shape), expected)


@pytest.mark.parametrize("center,radius", [((50, 50), 20), ((40.3, 61.7), 13.2), ((30, 70), 4.5)])
def test_pixel_phi_is_the_exact_distance_plus_less_than_a_pixel(center, radius):
    """The authors' convention (inner-boundary pixels at 0) shifts the exact signed distance of the
    disk up by between 0 and 1 pixel: the pixel map of eq. 2 is biased by about +1/2 pixel."""
    from bl_utils.distance import signed_distance_map

    disk = Disk(center, radius)
    bias = signed_distance_map(disk.mask((100, 100))) - disk.signed_distance((100, 100))
    assert bias.min() >= -1e-6 and bias.max() < 1


def test_disk_rejects_non_positive_radius():
    with pytest.raises(ValueError, match="radius"):
        Disk((0, 0), 0)


def test_correspondences_of_concentric_disks_are_radial():
    g, s = Disk((5.0, -3.0), 10.0), Disk((5.0, -3.0), 13.0)
    p, y = disks.normal_correspondences(g, s, 64)
    np.testing.assert_allclose(np.linalg.norm(p - g.center, axis=1), 10.0)
    np.testing.assert_allclose(y - p, 0.3 * (p - np.array(g.center)), atol=1e-12)


@pytest.mark.parametrize("s", [Disk((50, 57), 30), Disk((44, 50), 25), Disk((53, 46), 36), Disk((50, 50), 30)])
def test_correspondences_are_the_nearest_crossing_along_the_normal(s):
    """Brute force: walk along each normal line in both directions and find where it crosses ∂S first."""
    g = Disk((50, 50), 30)
    p, y = disks.normal_correspondences(g, s, 24)
    _, normals = g.contour(24)
    t = np.linspace(-60, 60, 240001)
    for pk, nk, yk in zip(p, normals, y):
        inside = np.hypot(*(pk[:, None] + t * nk[:, None] - np.array(s.center)[:, None])) <= s.radius
        crossings = t[1:][inside[1:] != inside[:-1]]
        if inside[np.argmin(np.abs(t))] and not len(crossings):
            continue
        nearest = crossings[np.argmin(np.abs(crossings))] if len(crossings) else 0.0
        np.testing.assert_allclose(yk, pk + nearest * nk, atol=1e-3)
        assert abs(np.hypot(*(yk - s.center)) - s.radius) < 1e-9


def test_correspondences_raise_when_a_normal_misses_S():
    with pytest.raises(ValueError, match="miss"):
        disks.normal_correspondences(Disk((0, 0), 10), Disk((40, 0), 5))


@pytest.mark.parametrize("r,big_r", [(40, 46), (40, 34), (12, 12.5), (30, 30)])
def test_contour_distance_of_concentric_disks(r, big_r):
    # every normal has length |R − r|: Dist = 2πr (R − r)²
    assert disks.contour_distance(Disk((0, 0), r), Disk((0, 0), big_r)) == pytest.approx(
        2 * math.pi * r * (big_r - r) ** 2, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("d,phi0,big_r", [(6, 0.0, 40), (3, 0.7, 40), (8, 2.0, 45), (5, -1.2, 36)])
def test_contour_distance_of_a_shifted_disk_matches_quadrature(d, phi0, big_r):
    """Hand derivation: with S centred at c + d·e, the radial ray at angle θ meets ∂S at
    ρ(θ) = d cos(θ − φ0) + sqrt(R² − d² sin²(θ − φ0)), so Dist = ∫ (ρ(θ) − r)² r dθ (scipy quad)."""
    r, c = 40.0, np.array([100.0, 80.0])
    e = np.array([math.sin(phi0), math.cos(phi0)])
    rho = lambda th: d * math.cos(th - phi0) + math.sqrt(big_r ** 2 - (d * math.sin(th - phi0)) ** 2)
    expected, _ = integrate.quad(lambda th: (rho(th) - r) ** 2 * r, 0, 2 * math.pi, limit=200)
    value = disks.contour_distance(Disk(tuple(c), r), Disk(tuple(c + d * e), big_r))
    assert value == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------ eq. 2

@pytest.mark.parametrize("r,big_r", [(40, 46), (40, 34), (20, 30), (25, 24)])
def test_region_integral_of_concentric_disks(r, big_r):
    # 2∫ΔS D_G = 2∫ |ρ − r| 2πρ dρ between r and R = (2π/3)(R − r)²(2R + r), worked out by hand
    expected = 2 * math.pi / 3 * (big_r - r) ** 2 * (2 * big_r + r)
    value = disks.region_distance_integral(Disk((7.3, 9.1), r), Disk((7.3, 9.1), big_r), step=0.0625)
    assert value == pytest.approx(expected, rel=5e-3)


def test_eq2_approaches_eq1_as_the_contours_get_close():
    # the ratio of eq. 2 to eq. 1 for concentric disks is (2R + r) / (3r) -> 1
    g = Disk((0, 0), 40)
    ratios = [disks.region_distance_integral(g, Disk((0, 0), 40 + k), step=0.0625)
              / disks.contour_distance(g, Disk((0, 0), 40 + k)) for k in (8, 4, 2)]
    np.testing.assert_allclose(ratios, [(2 * (40 + k) + 40) / 120 for k in (8, 4, 2)], rtol=2e-2)
    assert ratios[0] > ratios[1] > ratios[2] > 1


def random_blobs(seed: int, shape=(48, 52)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=shape), 4) > 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", ["random", "s empty", "s full", "s = g", "g one pixel"])
def test_region_sum_equals_change_of_boundary_loss(seed, case):
    """eqs. 3–6 on pixels: 2Σ_ΔS |Φ_G| = 2(ΣΦ_G s − ΣΦ_G g) for binary s, any Φ_G with the sign convention."""
    g, s = random_blobs(seed), random_blobs(seed + 10)
    if case == "s empty":
        s = np.zeros_like(g)
    elif case == "s full":
        s = np.ones_like(g)
    elif case == "s = g":
        s = g.copy()
    elif case == "g one pixel":
        g = np.zeros_like(g)
        g[20, 30] = True
    phi = authors_sdm(g)
    region = np.logical_xor(g, s)
    by_hand = 2 * sum(abs(phi[i, j]) for i, j in zip(*np.nonzero(region)))
    assert disks.pixel_region_integral(phi, g, s) == pytest.approx(by_hand, rel=1e-12, abs=1e-12)
    change = 2 * (disks.boundary_loss_sum(phi, s) - disks.boundary_loss_sum(phi, g))
    assert change == pytest.approx(by_hand, rel=1e-9, abs=1e-9)


def test_distance_identities_table():
    g = Disk((128, 128), 40)
    table = disks.distance_identities(g, {"shift": Disk((128, 134), 40), "enlarge": Disk((128, 128), 46)})
    assert list(table.index) == ["shift", "enlarge"]
    eq1, exact, pixels, change = (table[c].to_numpy() for c in table.columns)
    np.testing.assert_allclose(eq1, [disks.contour_distance(g, Disk((128, 134), 40)),
                                     2 * math.pi * 40 * 36], rtol=1e-9)
    np.testing.assert_allclose(exact[1], 2 * math.pi / 3 * 36 * 132, rtol=5e-3)
    np.testing.assert_allclose(pixels, change, rtol=1e-9)
    mask_g, mask_s = g.mask((256, 256)), Disk((128, 128), 46).mask((256, 256))
    assert pixels[1] == pytest.approx(2 * np.abs(authors_sdm(mask_g))[mask_g ^ mask_s].sum(), rel=1e-5)
    # eq. 2 approximates eq. 1: within 10 % for a shift, within 30 % for an enlargement on pixels
    assert abs(pixels[0] / eq1[0] - 1) < 0.1 and abs(pixels[1] / eq1[1] - 1) < 0.3


def test_significant_rounds_to_significant_digits():
    assert explorer.significant(4543.2123) == 4540.0
    assert explorer.significant(-0.000123456, 2) == -0.00012
    assert explorer.significant(0.0) == 0.0
    np.testing.assert_array_equal(explorer.significant(np.array([1.23456, 98765.0])), [1.23, 98800.0])
    frame = explorer.significant(pd.DataFrame({"a": [1.23456, 2.0], "b": [1e-9 + 3.0, 12345.6]}))
    assert frame.to_dict("list") == {"a": [1.23, 2.0], "b": [3.0, 12300.0]}
    assert explorer.significant(pd.Series([0.33333])).tolist() == [0.333]


# ------------------------------------------------------------------ candidate predictions

def test_candidate_prediction_defaults_return_the_mask():
    mask = random_blobs(3)
    out = explorer.candidate_prediction(mask)
    assert out.dtype == np.float32 and out.shape == mask.shape
    np.testing.assert_array_equal(out, mask.astype(np.float32))
    np.testing.assert_array_equal(explorer.candidate_prediction(mask.astype(np.uint8)), out)


@pytest.mark.parametrize("shift", [(1, 0), (0, 2), (-1, 1), (2, -3), (0, 0), (5, 0), (-7, 9)])
def test_candidate_shift_matches_hand_indexing(shift):
    mask = np.zeros((5, 6), bool)
    mask[1:3, 2:5] = True
    mask[4, 0] = True
    dy, dx = shift
    expected = np.zeros_like(mask)
    for r, c in zip(*np.nonzero(mask)):
        if 0 <= r + dy < 5 and 0 <= c + dx < 6:
            expected[r + dy, c + dx] = True
    np.testing.assert_array_equal(explorer.candidate_prediction(mask, shift=shift), expected)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_candidate_dilation_and_erosion_match_scipy_disks(k):
    mask = np.zeros((60, 60), bool)
    mask[20:38, 18:30] = True
    mask[30:42, 25:45] = True
    dilated = ndimage.binary_dilation(mask, structure=disk_footprint(k))
    eroded = ndimage.binary_erosion(mask, structure=disk_footprint(k))
    np.testing.assert_array_equal(explorer.candidate_prediction(mask, dilation=k) > 0.5, dilated)
    np.testing.assert_array_equal(explorer.candidate_prediction(mask, dilation=-k) > 0.5, eroded)


def test_candidate_awkward_masks():
    empty, full = np.zeros((9, 9), bool), np.ones((9, 9), bool)
    assert explorer.candidate_prediction(empty, dilation=3).sum() == 0
    assert explorer.candidate_prediction(empty, dilation=-3, blur=2).sum() == 0
    assert explorer.candidate_prediction(full, dilation=-3).min() == 1      # the border is not background
    border = np.zeros((9, 9), bool)
    border[:, :4] = True                          # touches three borders: eroded from the right only
    np.testing.assert_array_equal(explorer.candidate_prediction(border, dilation=-1) > 0.5,
                                  np.pad(np.ones((9, 3), bool), ((0, 0), (0, 6))))
    one = np.zeros((9, 9), bool)
    one[4, 4] = True
    np.testing.assert_array_equal(explorer.candidate_prediction(one, dilation=1) > 0.5,
                                  ndimage.binary_dilation(one))   # radius 1: the 4-neighbours


@pytest.mark.parametrize("sigma", [0.5, 2.0, 4.0])
def test_candidate_blur_matches_gaussian_filter(sigma):
    mask = random_blobs(4)
    out = explorer.candidate_prediction(mask, blur=sigma)
    np.testing.assert_allclose(out, ndimage.gaussian_filter(mask.astype(float), sigma, mode="nearest"), atol=1e-6)
    assert 0 <= out.min() and out.max() <= 1


def test_candidate_confidence_squeezes_the_range():
    mask = random_blobs(5)
    out = explorer.candidate_prediction(mask, confidence=0.9)
    np.testing.assert_allclose(out, np.where(mask, 0.9, 0.1), atol=1e-7)


@pytest.mark.parametrize("kwargs,message", [
    (dict(mask=np.full((4, 4), 0.5)), "binary"),
    (dict(mask=np.zeros((2, 4, 4))), "2-D"),
    (dict(mask=np.zeros((4, 4)), shift=(0.5, 0)), "integers"),
    (dict(mask=np.zeros((4, 4)), dilation=1.5), "integers"),
    (dict(mask=np.zeros((4, 4)), confidence=0.3), "confidence"),
    (dict(mask=np.zeros((4, 4)), blur=-1), "blur"),
])
def test_candidate_prediction_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        explorer.candidate_prediction(**kwargs)


def test_standard_candidates_and_their_losses():
    mask = Disk((30, 30), 8).mask((64, 64))
    phi = authors_sdm(mask)
    candidates = explorer.standard_candidates(mask, shift=(0, 5), blur=2.0, dilation=3)
    table = explorer.candidate_losses(phi, mask, candidates)
    assert list(table.columns) == ["L_B", "ΣΦ_G s", "1 − Dice"]
    for name, prob in candidates.items():
        assert table.loc[name, "L_B"] == pytest.approx((phi * prob).mean(), rel=1e-6, abs=1e-9)
    assert table.loc["s = 0 (nothing)", "L_B"] == 0
    assert table.loc["s = 1 (everything)", "L_B"] == pytest.approx(phi.mean())
    # s = g minimises L_B among all candidates, and has zero Dice loss
    assert table["L_B"].idxmin() == "s = g (perfect)"
    assert table.loc["s = g (perfect)", "1 − Dice"] == pytest.approx(0)
    assert table.loc["s = 0 (nothing)", "1 − Dice"] == pytest.approx(1)


def test_soft_dice_loss_by_hand():
    g = np.array([[1, 1, 0, 0]])
    s = np.array([[1.0, 0.5, 0.5, 0.0]])
    assert explorer.soft_dice_loss(g, s) == pytest.approx(1 - 2 * 1.5 / (2 + 2))
    assert explorer.soft_dice_loss(np.zeros((2, 2)), np.zeros((2, 2))) == 0


def test_empty_policy_table():
    shape = (30, 40)
    table = explorer.empty_policy_table(shape, policies=("diagonal", "zero", 7.5), blob=Disk((15, 20), 5))
    blob_fraction = Disk((15, 20), 5).mask(shape).mean()
    assert list(table.index) == ["diagonal", "zero", "7.5"]
    np.testing.assert_allclose(table["Φ_G (constant)"], [50.0, 0.0, 7.5], rtol=1e-6)   # diagonal of 30×40
    np.testing.assert_allclose(table["L_B(s = 0)"], 0)
    np.testing.assert_allclose(table["L_B(s = 1)"], [50.0, 0.0, 7.5], rtol=1e-6)
    np.testing.assert_allclose(table.iloc[:, 3], np.array([50.0, 0.0, 7.5]) * blob_fraction, rtol=1e-6)


# ------------------------------------------------------------------ threshold, weights, loss maps

def test_segmentation_at_by_hand():
    prob = np.array([[0.1, 0.6, 0.5],
                     [0.49, 0.9, 1.0]])
    np.testing.assert_array_equal(explorer.segmentation_at(prob, 0.5), [[0, 1, 1], [0, 1, 1]])   # δ is inside
    assert not explorer.segmentation_at(prob, 1.0)[0].any() and explorer.segmentation_at(prob, 1.0)[1, 2]
    assert explorer.segmentation_at(prob, 0.0).all()
    with pytest.raises(ValueError, match="threshold"):
        explorer.segmentation_at(prob, 1.5)


@pytest.mark.parametrize("strategy,alpha,expected", [
    ("ce", 0.3, (1.0, 0.0)), ("ce+bl", 0.3, (1.0, 0.3)), ("ce+ramp", 0.3, (1.0, 0.3)),
    ("rebalance", 0.3, (0.7, 0.3)), ("rebalance", 1.0, (0.0, 1.0)), ("ce+bl", 0.0, (1.0, 0.0)),
])
def test_strategy_weights(strategy, alpha, expected):
    assert explorer.strategy_weights(strategy, alpha) == pytest.approx(expected)


def test_strategy_weights_rejects_unknown():
    with pytest.raises(ValueError, match="unknown strategy"):
        explorer.strategy_weights("dice", 0.5)


@pytest.mark.parametrize("w_ce,w_b", [(1.0, 0.0), (0.7, 0.3), (0.0, 1.0), (1.0, 2.5)])
def test_loss_term_maps_match_torch(w_ce, w_b):
    rng = np.random.default_rng(1)
    mask = random_blobs(6)
    phi = authors_sdm(mask) / 52
    prob = rng.uniform(size=mask.shape)
    prob[0, :5] = [0.0, 1.0, 0.0, 1.0, 0.5]           # exact 0/1: torch clamps log at -100
    mask[0, :4] = [True, True, False, False]
    maps = explorer.loss_term_maps(phi, mask, prob, w_ce, w_b)
    bce = torch.nn.functional.binary_cross_entropy(torch.from_numpy(prob), torch.from_numpy(mask.astype(float)),
                                                   reduction="none").numpy()
    np.testing.assert_allclose(maps["ce"], w_ce * bce, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(maps["ce"][0, :4], w_ce * np.array([100.0, 0.0, 0.0, 100.0]))
    np.testing.assert_allclose(maps["boundary"], w_b * phi * prob, rtol=1e-12)
    np.testing.assert_allclose(maps["total"], maps["ce"] + maps["boundary"])
    assert maps["total"].mean() == pytest.approx(w_ce * bce.mean() + w_b * (phi * prob).mean(), rel=1e-10)


def test_loss_term_maps_total_matches_strategy_loss():
    """Cross-check with the training loss: the mean of the "total" map is StrategyLoss's total."""
    from bl_utils.losses import StrategyLoss
    from bl_utils.schedules import make_strategy

    mask = random_blobs(7)
    phi = (authors_sdm(mask) / 52).astype(np.float32)
    prob = np.clip(explorer.candidate_prediction(mask, shift=(2, 3), blur=2.0), 1e-4, 1 - 1e-4)
    logits = torch.logit(torch.from_numpy(prob).double())[None, None]
    strategy = make_strategy("ce+bl", epochs=10, alpha=0.4)
    total, terms = StrategyLoss(strategy)(logits, torch.from_numpy(mask.astype(np.float64))[None, None],
                                          torch.from_numpy(phi).double()[None, None], epoch=0.0)
    w_ce, w_b = float(terms["w_regional"]), float(terms["w_boundary"])
    maps = explorer.loss_term_maps(phi, mask, prob, w_ce, w_b)
    assert maps["total"].mean() == pytest.approx(float(total), rel=1e-4)
    assert maps["boundary"].mean() == pytest.approx(w_b * float(terms["boundary"]), rel=1e-4, abs=1e-7)


@pytest.mark.parametrize("kwargs,message", [
    (dict(prob=np.full((4, 4), 1.5)), r"\[0, 1\]"),
    (dict(prob=np.zeros((4, 5))), "shape"),
    (dict(image_phi=np.zeros((5, 4))), "shape"),
])
def test_loss_term_maps_rejects_bad_input(kwargs, message):
    args = dict(image_phi=np.zeros((4, 4)), mask=np.zeros((4, 4), bool), prob=np.zeros((4, 4)), w_ce=1, w_b=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        explorer.loss_term_maps(**args)


# ------------------------------------------------------------------ explore() and the widget

def test_tumour_index_skips_empty_masks(fake_dataset):
    ds = fake_dataset()
    ds.masks = ds.masks[::-1].copy()          # the empty mask first
    assert explorer.tumour_index(ds, 0) == 1
    assert explorer.tumour_index(ds, 2) == 3
    with pytest.raises(ValueError, match="tumour images"):
        explorer.tumour_index(ds, 3)
    with pytest.raises(ValueError, match="no image with a tumour"):
        explorer.tumour_index(SimpleNamespace(masks=np.zeros((2, 4, 4), bool)), 0)


@pytest.mark.parametrize("phi_scale,divisor", [("image", 40.0), ("pixel", 1.0)])
def test_explore_numbers(fake_dataset, phi_scale, divisor):
    ds = fake_dataset()
    state = explorer.explore(ds, 1, strategy="rebalance", alpha=0.25, delta=0.4, shift=(2, -3), dilation=1,
                            blur=1.5, confidence=0.98, phi_scale=phi_scale)
    prob = explorer.candidate_prediction(ds.masks[1], shift=(2, -3), dilation=1, blur=1.5, confidence=0.98)
    phi = ds.phis[1].astype(float) / divisor
    np.testing.assert_allclose(state.prob, prob)
    np.testing.assert_allclose(state.phi, phi, rtol=1e-6)
    bce = torch.nn.functional.binary_cross_entropy(torch.from_numpy(prob.astype(float)),
                                                   torch.from_numpy(ds.masks[1].astype(float))).item()
    n = state.numbers
    assert (n["w_ce"], n["w_b"]) == pytest.approx((0.75, 0.25))
    assert n["CE"] == pytest.approx(bce, rel=1e-6)
    assert n["L_B"] == pytest.approx((phi * prob).mean(), rel=1e-5)
    assert n["L_B(g)"] == pytest.approx((phi * ds.masks[1]).mean(), rel=1e-5)
    assert n["total"] == pytest.approx(0.75 * bce + 0.25 * n["L_B"], rel=1e-5)
    seg = prob >= 0.4
    assert n["dice"] == pytest.approx(2 * (seg & ds.masks[1]).sum() / (seg.sum() + ds.masks[1].sum()))
    assert state.title == "1: benign (1) (benign, tumour %.1f%%)" % (100 * ds.meta.tumour_fraction[1])
    assert "L_B = " in explorer.summary_text(state)


def test_explore_on_an_image_without_tumour(fake_dataset):
    ds = fake_dataset()
    state = explorer.explore(ds, 3, shift=(0, 0), blur=0.0, confidence=1.0, phi_scale="pixel")
    assert state.numbers["L_B"] == 0 and state.numbers["L_B(g)"] == 0 and state.numbers["CE"] == 0
    assert state.numbers["dice"] == 1.0


def test_explorer_sliders_update_the_loss(fake_dataset):
    ds = fake_dataset()
    explorer = widgets.boundary_loss_explorer(ds)
    import ipywidgets

    assert isinstance(explorer, ipywidgets.VBox)
    controls = explorer.controls
    assert controls["index"].value == 0 and controls["strategy"].options == ("ce", "ce+bl", "ce+ramp", "rebalance")
    assert explorer.state.settings["shift"] == bl_explorer.EXPLORER_DEFAULTS["shift"]
    before = explorer.state.numbers["L_B"]

    controls["dx"].value = 0                       # the default shift (0, 8) moves back onto the tumour
    controls["blur"].value = 0.0
    after = explorer.state.numbers["L_B"]
    assert after < before
    expected = bl_explorer.explore(ds, 0, **{**bl_explorer.EXPLORER_DEFAULTS, "shift": (0, 0), "blur": 0.0})
    assert after == pytest.approx(expected.numbers["L_B"])
    assert f"L_B = {after:.4g}" in explorer.summary.value

    controls["dilation"].value = 4                 # a larger prediction costs more
    assert explorer.state.numbers["L_B"] > after

    controls["strategy"].value = "ce"              # w_B = 0: the total is the CE
    assert explorer.state.numbers["w_b"] == 0
    assert explorer.state.numbers["total"] == pytest.approx(explorer.state.numbers["CE"])
    controls["strategy"].value = "rebalance"
    controls["alpha"].value = 1.0                  # w_CE = 0: the total is L_B
    assert explorer.state.numbers["total"] == pytest.approx(explorer.state.numbers["L_B"])

    area = explorer.state.numbers["area"]
    controls["delta"].value = 0.9                  # a higher threshold shrinks S_θ, L_B is unchanged
    assert explorer.state.numbers["area"] <= area
    controls["index"].value = 2
    assert explorer.state.index == 2 and explorer.state.title.startswith("2: ")


def test_explorer_rejects_unknown_settings(fake_dataset):
    with pytest.raises(TypeError, match="unknown explorer setting"):
        widgets.boundary_loss_explorer(fake_dataset(), colour="red")


@pytest.mark.parametrize("phi_scale,alpha_scale", [("image", "Φ_G ÷ side"), ("pixel", "Φ_G in pixels")])
def test_every_slider_says_its_unit(fake_dataset, phi_scale, alpha_scale):
    import ipywidgets

    from bl_utils.explorer import ALPHA_RANGE

    controls = widgets.boundary_loss_explorer(fake_dataset(), phi_scale=phi_scale).controls
    sliders = {k: c for k, c in controls.items() if isinstance(c, (ipywidgets.FloatSlider, ipywidgets.IntSlider))}
    assert set(sliders) == {"alpha", "delta", "dy", "dx", "dilation", "blur", "confidence"}
    units = {"dy": "(pixels)", "dx": "(pixels)", "dilation": "(pixels)", "blur": "(σ in pixels)",
             "delta": "(probability)", "confidence": "(probability)", "alpha": f"(unitless, {alpha_scale})"}
    for key, slider in sliders.items():
        assert slider.description.endswith(units[key]), (key, slider.description)
    assert sliders["blur"].description.startswith("blur") and "δ" in sliders["delta"].description
    assert (sliders["alpha"].min, sliders["alpha"].max) == ALPHA_RANGE         # the range colour_bounds holds
    width = int(sliders["alpha"].style.description_width.removesuffix("px"))
    assert all(7 * len(s.description) <= width for s in sliders.values())      # at ~7 px a character: not cut


def test_alpha_is_disabled_exactly_when_the_strategy_is_ce(fake_dataset):
    ds = fake_dataset()
    explorer = widgets.boundary_loss_explorer(ds)
    alpha, strategy = explorer.controls["alpha"], explorer.controls["strategy"]
    assert not alpha.disabled                                     # rebalance, the default
    strategy.value = "ce"
    assert alpha.disabled
    total = explorer.state.numbers["total"]
    alpha.value = 0.9                                             # still settable, and changes nothing
    assert explorer.state.numbers["total"] == pytest.approx(total)
    for name in ("ce+bl", "ce+ramp", "rebalance"):
        strategy.value = name
        assert not alpha.disabled, name
    assert widgets.boundary_loss_explorer(ds, strategy="ce").controls["alpha"].disabled   # from the start


def test_alpha_tooltip_with_ipywidgets_7_and_8(fake_dataset):
    """ipywidgets 8 calls the hover text ``tooltip``, 7.x (Colab's 7.7.1) ``description_tooltip``."""
    import traitlets

    class Seven(traitlets.HasTraits):             # a 7.x description widget: no ``tooltip`` trait
        description_tooltip = traitlets.Unicode(allow_none=True)

    assert widgets._tooltip(Seven(), "hover").description_tooltip == "hover"
    alpha = widgets.boundary_loss_explorer(fake_dataset()).controls["alpha"]
    tip = alpha.tooltip if alpha.has_trait("tooltip") else alpha.description_tooltip
    assert "no effect for ce" in tip and "divided by the image side" in tip


def test_explorer_saved_without_a_kernel_says_what_it_is_and_what_to_do(fake_dataset, monkeypatch):
    from IPython.core.formatters import DisplayFormatter
    from IPython.lib.pretty import pretty

    explorer = widgets.boundary_loss_explorer(fake_dataset())
    note = widgets.EXPLORER_NOTE
    assert "live kernel" in note and "static view" in note and len(note) <= 110
    assert repr(explorer) == note and pretty(explorer) == note
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"] == note                      # what a static viewer shows
    assert note in bundle["text/html"]
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.model_id
    # what IPython puts in the saved output of the cell
    import ipywidgets

    if hasattr(ipywidgets.Widget, "_repr_mimebundle_"):      # ipywidgets 8: IPython asks for the bundle
        data, _ = DisplayFormatter().format(explorer)
    else:                                                    # 7.x (Colab's 7.7.1): _ipython_display_ sends it
        shown = []
        monkeypatch.setattr(ipywidgets.widgets.widget, "display", lambda data, raw: shown.append(data))
        explorer._ipython_display_()
        data = shown[0]
    assert data["text/plain"] == note and "Dropdown" not in data["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in data


def test_summary_lines_are_the_summary_text(fake_dataset):
    state = explorer.explore(fake_dataset(), 1)
    lines = explorer.summary_lines(state)
    assert explorer.summary_text(state) == "  ·  ".join(lines)
    assert lines[2] == f"L_B = {state.numbers['L_B']:.4g}" and lines[-1].startswith("Dice(S_θ, G) = ")
