"""The boundary loss, Dice and the strategies' objective, against independent oracles.

Oracles: the paper's identity Σ Φ_G (s − g) ≈ ∫_ΔS D_G (eqs. 2–6) computed semi-analytically for
disks, autograd, hand-worked Dice/BCE values, MONAI's DiceLoss, plain numpy.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bl_utils.distance import batch_signed_distance_maps, signed_distance_map
from bl_utils.losses import WBCE_FACTOR, BoundaryLoss, DiceLoss, StrategyLoss
from bl_utils.schedules import make_strategy


def t32(x):
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


# ---------------------------------------------------------------------- the paper's identity
R, N_PIX, CENTRE = 30.0, 101, np.array([50.2, 49.7])
THETA = np.linspace(0, 2 * np.pi, 8192, endpoint=False)


def ray_to_circle(shift, radius):
    """ρ_S(θ): distance from G's centre to ∂S along each ray (S contains G's centre)."""
    u = np.stack([np.cos(THETA), np.sin(THETA)], 1)
    b = u @ np.asarray(shift, float)
    return b + np.sqrt(b ** 2 - np.dot(shift, shift) + radius ** 2)


def integral_over_delta_s(shift, radius):
    """∫_ΔS D_G exactly along each ray (D_G = |ρ − R|), then the mean over θ times 2π."""
    rho = ray_to_circle(shift, radius)
    per_ray = np.abs((rho ** 3 - R ** 3) / 3 - R * (rho ** 2 - R ** 2) / 2)
    return per_ray.mean() * 2 * np.pi


def disk(centre, radius):
    yy, xx = np.mgrid[:N_PIX, :N_PIX]
    return np.hypot(yy - centre[0], xx - centre[1]) <= radius


@pytest.mark.parametrize("shift,radius", [((5, 0), 30.0), ((3, -4), 30.0), ((0, 0), 35.0),
                                          ((0, 0), 25.0), ((2, -3), 33.0)])
def test_boundary_term_approximates_the_integral_over_delta_s(shift, radius):
    """Σ_q Φ_G(q)(s(q) − g(q)) ≈ ∫_ΔS D_G(q) dq (paper eq. 5–6), within 8 %.

    The reference convention places Φ_G's zero level on the inner pixel centres, about half a pixel
    inside the continuous contour: Φ_G ≈ D_G + ½ outside and −(D_G − ½) inside. We remove that
    half pixel (½ · (|S \\ G| − |G \\ S|), 0 for a pure shift) before comparing.
    """
    g = disk(CENTRE, R)
    s = disk(CENTRE + shift, radius)
    phi = signed_distance_map(g).astype(np.float64)
    pixel_sum = float((phi * (s.astype(float) - g)).sum())
    corrected = pixel_sum - 0.5 * (np.sum(s & ~g) - np.sum(g & ~s))
    exact = integral_over_delta_s(shift, radius)
    assert corrected == pytest.approx(exact, rel=0.08)
    # and the loss is that sum divided by the number of pixels: L_B(S) − L_B(G) = Σ Φ (s − g) / N
    loss = BoundaryLoss(activation=None)
    shape = (1, 1, N_PIX, N_PIX)
    diff = loss(t32(s).reshape(shape), t32(phi).reshape(shape)) - loss(t32(g).reshape(shape), t32(phi).reshape(shape))
    assert float(diff) * N_PIX ** 2 == pytest.approx(pixel_sum, rel=1e-4)


@pytest.mark.parametrize("shift", [(5, 0), (3, -4)])
def test_integral_is_half_the_squared_distance_contour_integral(shift):
    """Dist(∂G, ∂S) = ∫_∂G ‖y_∂S(p) − p‖² dp ≈ 2 ∫_ΔS D_G (paper eq. 2–4), within 2 % here."""
    t = ray_to_circle(shift, R) - R  # normal displacement of ∂S at each point of ∂G
    contour = (t ** 2).mean() * 2 * np.pi * R
    assert 2 * integral_over_delta_s(shift, R) == pytest.approx(contour, rel=0.02)
    g, s = disk(CENTRE, R), disk(CENTRE + shift, R)
    pixel_sum = float((signed_distance_map(g) * (s.astype(np.float32) - g)).sum())
    assert 2 * pixel_sum == pytest.approx(contour, rel=0.08)


# ------------------------------------------------------------------------------ BoundaryLoss
def test_gradient_is_phi_over_n():
    torch.manual_seed(0)
    s = torch.rand(2, 1, 6, 7, requires_grad=True)
    phi = torch.randn(2, 1, 6, 7)
    BoundaryLoss(activation=None)(s, phi).backward()
    torch.testing.assert_close(s.grad, phi / phi.numel())


def test_sigmoid_logits_value_and_gradient():
    torch.manual_seed(1)
    x = torch.randn(3, 1, 5, 4, requires_grad=True)
    phi = torch.randn(3, 1, 5, 4)
    loss = BoundaryLoss()(x, phi)
    p = 1 / (1 + np.exp(-x.detach().numpy()))
    assert float(loss.detach()) == pytest.approx(float((phi.numpy() * p).mean()), rel=1e-5)
    loss.backward()
    torch.testing.assert_close(x.grad, phi * torch.tensor(p * (1 - p)) / phi.numel())


def test_softmax_default_skips_background_and_classes_select():
    torch.manual_seed(2)
    x = torch.randn(2, 3, 4, 5)
    phi = torch.randn(2, 3, 4, 5)
    p = torch.softmax(x, 1)
    assert float(BoundaryLoss(activation="softmax")(x, phi)) == pytest.approx(float((phi[:, 1:] * p[:, 1:]).mean()))
    assert float(BoundaryLoss(classes=[2], activation="softmax")(x, phi)) == pytest.approx(float((phi[:, 2] * p[:, 2]).mean()))
    assert float(BoundaryLoss(classes=0, activation=None)(p, phi)) == pytest.approx(float((phi[:, 0] * p[:, 0]).mean()))


def test_perfect_prediction_has_lowest_loss_on_real_maps():
    """On a mask, the ground truth itself minimises L_B over binary predictions (Φ < 0 only inside)."""
    m = np.zeros((1, 1, 24, 24), bool)
    m[0, 0, 6:15, 8:20] = True
    phi = t32(batch_signed_distance_maps(m))
    loss = BoundaryLoss(activation=None)
    best = float(loss(t32(m), phi))
    for shift in (1, 3):
        assert float(loss(torch.roll(t32(m), shift, dims=-1), phi)) > best
    grown = t32(np.pad(m[0, 0], 1)[:-2, :-2] | m[0, 0])[None, None]
    assert float(loss(grown, phi)) > best


def test_3d_input_works():
    rng = np.random.default_rng(0)
    vol = rng.random((2, 1, 5, 6, 7)) < 0.3
    phi = batch_signed_distance_maps(vol, spacing=(2.0, 1.0, 1.0))
    x = torch.randn(2, 1, 5, 6, 7, requires_grad=True)
    loss = BoundaryLoss()(x, t32(phi))
    assert float(loss.detach()) == pytest.approx(float((phi * torch.sigmoid(x).detach().numpy()).mean()), rel=1e-5)
    loss.backward()
    assert x.grad.shape == x.shape


def test_autocast_bf16_on_cpu_computes_in_float32():
    torch.manual_seed(3)
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)
    img, phi = torch.randn(2, 1, 16, 16), torch.randn(2, 1, 16, 16) * 50
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = conv(img)
        loss = BoundaryLoss()(logits, phi)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    expected = (phi * torch.sigmoid(logits.float())).mean()
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    loss.backward()
    assert conv.weight.grad is not None and torch.isfinite(conv.weight.grad).all()


@pytest.mark.parametrize("pred,phi,kwargs,error,match", [
    (torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5), {}, ValueError, "same shape"),
    (torch.zeros(2, 4, 4), torch.zeros(2, 1, 4, 4), {}, ValueError, r"phi\[:, None\]|same shape"),
    (torch.zeros(2, 1, 4, 4, dtype=torch.long), torch.zeros(2, 1, 4, 4), {}, TypeError, r"pred.float\(\)"),
    (torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4, dtype=torch.int32), {}, TypeError, r"phi.float\(\)"),
    (torch.zeros(2, 1, 4, 4), np.zeros((2, 1, 4, 4)), {}, TypeError, "torch.as_tensor"),
    (torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), float("nan")), {}, ValueError, "phi contains NaN"),
    (torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), float("inf")), {}, ValueError, "phi contains NaN"),
    (torch.full((2, 1, 4, 4), float("nan")), torch.zeros(2, 1, 4, 4), {}, ValueError, "pred contains NaN"),
    (torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4), {"activation": "softmax"}, ValueError, "at least 2 channels"),
    (torch.zeros(2, 2, 4, 4), torch.zeros(2, 2, 4, 4), {"classes": [2]}, ValueError, "out of range"),
    (torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), {"activation": "relu"}, ValueError, "activation"),
])
def test_boundary_loss_errors(pred, phi, kwargs, error, match):
    with pytest.raises(error, match=match):
        BoundaryLoss(**kwargs)(pred, phi)


def test_device_mismatch_is_reported():
    other = "cuda" if torch.cuda.is_available() else "meta"  # the meta device exists on every build
    with pytest.raises(ValueError, match="same device"):
        BoundaryLoss()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4, device=other))


# ---------------------------------------------------------------------------------- Dice, BCE
def test_dice_hand_worked():
    logits = torch.zeros(1, 1, 2, 2)  # s = 0.5 everywhere
    target = torch.ones(1, 1, 2, 2)
    # 1 - (2 * 2 + 1) / (2 + 4 + 1)
    assert float(DiceLoss()(logits, target)) == pytest.approx(2 / 7)
    big = torch.full((2, 1, 3, 3), -30.0)  # predicts empty on empty targets: no loss
    assert float(DiceLoss()(big, torch.zeros(2, 1, 3, 3))) == pytest.approx(0.0, abs=1e-6)


def test_dice_matches_monai_batchwise():
    monai_losses = pytest.importorskip("monai.losses")
    torch.manual_seed(4)
    logits = torch.randn(4, 2, 8, 9)
    target = (torch.rand(4, 2, 8, 9) > 0.7).float()
    target[1] = 0  # an empty image inside the batch
    oracle = monai_losses.DiceLoss(sigmoid=True, batch=True, smooth_nr=1.0, smooth_dr=1.0)
    assert float(DiceLoss()(logits, target)) == pytest.approx(float(oracle(logits, target)), rel=1e-5)


def _bce_numpy(x, g):
    x, g = x.numpy().astype(np.float64), g.numpy().astype(np.float64)
    return float(np.mean(np.logaddexp(0, x) - g * x))


# ------------------------------------------------------------------------------ StrategyLoss
@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 1, 20, 20), bool)
    masks[0, 0, 5:11, 4:9] = True
    masks[2, 0, 12:18, 10:19] = True  # masks[1] is a normal image
    torch.manual_seed(5)
    logits = torch.randn(3, 1, 20, 20, requires_grad=True)
    return logits, t32(masks), t32(batch_signed_distance_maps(masks)), rng


@pytest.mark.parametrize("name,epoch,weights", [
    ("ce", 0, (1, 0)), ("ce", 19, (1, 0)), ("ce+bl", 5, (1, 1)), ("ce+ramp", 0, (1, 0)),
    ("ce+ramp", 19, (1, 1)), ("rebalance", 9.5, (0.5, 0.5)), ("rebalance", 19, (0, 1)),
])
def test_strategy_total_is_weighted_sum(batch, name, epoch, weights):
    logits, target, phi, _ = batch
    loss = StrategyLoss(make_strategy(name, epochs=20))
    total, terms = loss(logits, target, phi, epoch)
    assert set(terms) == {"regional", "boundary", "w_regional", "w_boundary"}
    assert all(v.ndim == 0 and not v.requires_grad for v in terms.values())
    assert (float(terms["w_regional"]), float(terms["w_boundary"])) == pytest.approx(weights)
    bce = _bce_numpy(logits.detach(), target)
    bl = float((phi * torch.sigmoid(logits.detach())).mean())
    assert float(terms["regional"]) == pytest.approx(bce, rel=1e-5)
    assert float(terms["boundary"]) == pytest.approx(bl, rel=1e-5)  # logged even when its weight is 0
    assert float(total.detach()) == pytest.approx(weights[0] * bce + weights[1] * bl, rel=1e-5, abs=1e-6)
    total.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_ce_gradient_ignores_the_boundary_term(batch):
    logits, target, phi, _ = batch
    total, _ = StrategyLoss("ce", epochs=20)(logits, target, phi, 3)
    (grad,) = torch.autograd.grad(total, logits)
    (expected,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(logits, target), logits)
    torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize("regional", ["dice", "bce+dice"])
def test_regional_options(batch, regional):
    logits, target, phi, _ = batch
    _, terms = StrategyLoss("ce+bl", regional=regional, epochs=5)(logits, target, phi, 0)
    dice = float(DiceLoss()(logits.detach(), target))
    expected = dice if regional == "dice" else dice + _bce_numpy(logits.detach(), target)
    assert float(terms["regional"]) == pytest.approx(expected, rel=1e-5)


def test_strategy_loss_under_autocast(batch):
    logits, target, phi, _ = batch
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, terms = StrategyLoss("rebalance", epochs=10)(logits.bfloat16(), target, phi, 4.5)
    assert total.dtype == torch.float32 and terms["boundary"].dtype == torch.float32


def test_strategy_loss_errors(batch):
    logits, target, phi, _ = batch
    with pytest.raises(ValueError, match="epochs"):
        StrategyLoss("ce+ramp")
    with pytest.raises(ValueError, match="valid names"):
        StrategyLoss("focal", epochs=3)
    with pytest.raises(ValueError, match="bce, dice, bce\\+dice"):
        StrategyLoss("ce", regional="ce", epochs=3)
    with pytest.raises(ValueError, match="1-channel"):
        StrategyLoss("ce", epochs=3)(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), 0)
    with pytest.raises(ValueError, match="same shape"):
        StrategyLoss("ce", epochs=3)(logits, target[:, :, :10], phi, 0)
    with pytest.raises(ValueError, match="phi contains NaN"):
        StrategyLoss("ce", epochs=3)(logits, target, phi * float("nan"), 0)
    assert math.isfinite(float(StrategyLoss("ce", epochs=3)(logits, target, phi, 0)[0].detach()))


# ------------------------------------------- Odonnat & Pham's loss cell (tests/odonnat_pham_port.py)
def _their_inputs(masks: np.ndarray, d: torch.Tensor):
    """Their model output (softmax of the logits [0, d]), one-hot target and one_hot2dist maps."""
    port = pytest.importorskip("odonnat_pham_port")
    output = port.model_head(torch.stack([torch.zeros_like(d), d], 1))
    one_hot = np.stack([~masks, masks], 1).astype(np.float32)
    dist = np.stack([port.one_hot2dist(o, resolution=[1, 1]) for o in one_hot])
    return port, output, torch.as_tensor(one_hot, dtype=d.dtype), torch.as_tensor(dist)


def _masks(kind: str) -> np.ndarray:
    m = np.zeros((4, 24, 20), bool)
    if kind == "full":
        m[:] = True
    elif kind == "mixed":
        m[0, 5:11, 4:9] = True
        m[1, 0:6, 14:20] = True          # touches the border
        m[2, 12:20, 2:7] = m[2, 3, 15] = True  # two objects, one a single pixel; masks[3] is empty
    return m


@pytest.mark.parametrize("kind", ["mixed", "empty", "full"])
@pytest.mark.parametrize("seed", [0, 1])
def test_wbce_is_their_weighted_bce_on_the_two_channel_softmax(kind, seed):
    """50.5 · BCE(sigmoid(d)) = their (BCELoss(output, mask) * weight).mean(), weight[mask == 1] = 100,
    on output = softmax([0, d]): per pixel 100 ℓ (true-class channel) + 1 ℓ (the other), mean over
    2 channels. Their side in float64, |d| <= 8 (their BCELoss clamps log at -100, never reached
    here); the factor to rel 1e-10, the package's float32 loss to rel 1e-6."""
    masks = _masks(kind)
    d = torch.as_tensor(np.random.default_rng(seed).uniform(-8, 8, masks.shape), dtype=torch.float64)
    port, output, one_hot, _ = _their_inputs(masks, d)
    theirs, _ = port.loss_terms(output, one_hot, torch.zeros_like(output))
    plain = F.binary_cross_entropy_with_logits(d, torch.as_tensor(masks, dtype=torch.float64))
    assert float(theirs) / float(plain) == pytest.approx(WBCE_FACTOR, rel=1e-10) and WBCE_FACTOR == 50.5
    loss = StrategyLoss("ce", regional="wbce", epochs=20)
    total, terms = loss(d[:, None].float(), t32(masks[:, None]), torch.zeros(masks.shape)[:, None], 0)
    assert float(terms["regional"]) == float(total) == pytest.approx(float(theirs), rel=1e-6)


def test_their_distance_maps_are_the_packages_then_truncated_to_integers():
    """one_hot2dist on a float one-hot is bl_utils.distance's map (same sign and zero level: 0 on the
    inner boundary, negative inside, pixels); their SliceSet path (int32 one-hot -> np.zeros_like) stores
    it in int32, i.e. truncated toward zero (√2 -> 1); an empty tumour channel is 0 (empty='zero')."""
    port = pytest.importorskip("odonnat_pham_port")
    masks = _masks("mixed")
    ours = batch_signed_distance_maps(masks[:, None], empty="zero")[:, 0]
    for m, phi in zip(masks, ours):
        one_hot = np.stack([~m, m]).astype(np.float32)
        np.testing.assert_array_equal(port.one_hot2dist(one_hot, resolution=[1, 1])[1], phi)
        _, dist_map = port.slice_set_targets(m.astype(np.float32))
        np.testing.assert_array_equal(dist_map[1].numpy(), np.trunc(phi))
    assert batch_signed_distance_maps(masks[3:, None])[0, 0, 0, 0] == pytest.approx(math.hypot(24, 20))


def test_their_distance_map_object_is_the_resized_mask_equal_to_one():
    """SliceSet builds the target from mask > 0.5 but the distance map from int64(mask): a resized
    pixel at 0.7 is tumour in the target and background (Φ = +1) in their map."""
    port = pytest.importorskip("odonnat_pham_port")
    m = np.zeros((7, 7), np.float32)
    m[1:6, 1:6] = 1.0
    m[3, 0] = 0.7
    one_hot, dist_map = port.slice_set_targets(m)
    assert one_hot[1, 3, 0] == 1 and dist_map[1, 3, 0] == 1
    np.testing.assert_array_equal(dist_map[1].numpy(), np.trunc(signed_distance_map(m == 1)))


def test_full_mask_reference_map_is_scipys_no_background_artefact():
    """A full tumour channel (never in their data: < 10 % tumour) gets -(edt(all True) - 1) from
    one_hot2dist, scipy's distances to a phantom pixel above the corner; the package gives -D or 0."""
    port = pytest.importorskip("odonnat_pham_port")
    ref = port.one_hot2dist(np.stack([np.zeros((4, 4)), np.ones((4, 4))]).astype(np.float32))[1]
    assert ref[0, 0] == 0 and ref[3, 0] == -3 and ref.min() < -3
    assert (signed_distance_map(np.ones((4, 4)), empty="zero") == 0).all()


@pytest.mark.parametrize("kind", ["mixed", "empty"])
def test_boundary_term_is_their_boundary_loss_idc_1(kind):
    """BoundaryLoss(sigmoid) on d with bl_utils.distance maps (empty='zero' for an empty tumour) =
    their BoundaryLoss(idc=[1]) on softmax([0, d]) with one_hot2dist maps (float32, rel 1e-6)."""
    masks = _masks(kind)
    d = torch.as_tensor(np.random.default_rng(3).normal(0, 3, masks.shape), dtype=torch.float32)
    port, output, _, dist = _their_inputs(masks, d)
    theirs = port.BoundaryLoss(idc=[1])(output, dist)
    phi = t32(batch_signed_distance_maps(masks[:, None], empty="zero"))
    ours = BoundaryLoss(activation="sigmoid")(d[:, None], phi)
    assert float(ours) == pytest.approx(float(theirs), rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("name,rebalance,alpha", [
    ("ce", True, lambda e: 0), ("ce+bl", False, lambda e: 1),
    ("ce+ramp", False, None), ("rebalance", True, None)])
def test_strategy_loss_wbce_is_their_loss_line(name, rebalance, alpha):
    """Table 1's four objectives with regional='wbce' and schedule='odonnat-pham' equal their loss
    line — the active rebalance line or the commented-out ``ce + alpha * bl`` — at every epoch
    (package t = their epoch - 1), float32, rel 1e-5."""
    masks = _masks("mixed")
    d = torch.as_tensor(np.random.default_rng(4).normal(0, 2, masks.shape), dtype=torch.float32)
    port, output, one_hot, dist = _their_inputs(masks, d)
    phi = t32(batch_signed_distance_maps(masks[:, None], empty="zero"))
    loss = StrategyLoss(name, regional="wbce", epochs=20, schedule="odonnat-pham")
    for t in (0, 1, 7, 19):
        a = port.alpha_at(t + 1, 20) if alpha is None else alpha(t + 1)
        theirs = port.loss_cell(output, one_hot, dist, a, rebalance=rebalance)
        total, _ = loss(d[:, None], t32(masks[:, None]), phi, t)
        assert float(total) == pytest.approx(float(theirs), rel=1e-5), t


def test_softmax_head_implicit_dim_is_the_channel_axis():
    """Their ``nn.Softmax()`` (no dim) on (B, 2, H, W) is the softmax over dim 1."""
    x = torch.randn(2, 2, 3, 3)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        implicit = torch.nn.Softmax()(x)
    torch.testing.assert_close(implicit, torch.softmax(x, 1))
