"""The boundary loss L_B, the regional losses, and the strategies' combined objective.

* :class:`BoundaryLoss` — ``L_B = mean_q Φ_G(q) · s_θ(q)`` (Kervadec et al. 2021, eq. 5), ``Φ_G``
  from :mod:`bl_utils.distance` (negative inside the object, positive outside).
* :class:`DiceLoss` — soft Dice on sigmoid probabilities, batch-wise, with smoothing.
* :class:`StrategyLoss` — ``w_R(t) · L_R + w_B(t) · L_B`` for one of the strategies of
  :mod:`bl_utils.schedules`, with ``L_R`` = BCE (torch's ``binary_cross_entropy_with_logits``),
  Dice, their sum, or Odonnat & Pham's weighted BCE (``"wbce"`` = :data:`WBCE_FACTOR` × BCE).

All losses take **logits** by default and compute in float32, also under ``torch.autocast``.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .schedules import Strategy, make_strategy

__all__ = ["BoundaryLoss", "DiceLoss", "StrategyLoss", "REGIONAL", "WBCE_FACTOR"]

#: Regional losses :class:`StrategyLoss` knows.
REGIONAL = ("bce", "dice", "bce+dice", "wbce")
#: Odonnat & Pham's weighted BCE divided by the plain BCE: ``(pos_weight + 1) / 2``, ``pos_weight = 100``.
WBCE_FACTOR = 50.5
_ACTIVATIONS = ("sigmoid", "softmax", None)


def _no_autocast(device: torch.device):
    """Disable autocast for ``device`` (compute in float32); a no-op where autocast is unknown."""
    try:
        return torch.autocast(device_type=device.type, enabled=False)
    except (RuntimeError, ValueError):  # pragma: no cover - exotic device types
        return contextlib.nullcontext()


def _check_tensor(name: str, x, fix: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}; {fix}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}; use `{name}.float()`.")


def _check_pair(a_name: str, a: Tensor, b_name: str, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{a_name} {tuple(a.shape)} and {b_name} {tuple(b.shape)} must have the same "
                         f"shape (B, C, *spatial); e.g. add the channel axis with `{b_name}[:, None]`.")
    if a.ndim < 3:
        raise ValueError(f"{a_name} must have shape (B, C, *spatial) with at least one spatial axis, "
                         f"got {tuple(a.shape)}.")
    if a.device != b.device:
        raise ValueError(f"{a_name} is on {a.device} but {b_name} is on {b.device}; move them to the "
                         f"same device, e.g. `{b_name}.to({a_name}.device)`.")


def _check_finite(name: str, x: Tensor, fix: str) -> None:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values; {fix}")


class BoundaryLoss(nn.Module):
    """Boundary loss ``L_B = mean over batch, selected channels and pixels of Φ_G · s_θ``.

    Parameters
    ----------
    classes:
        Channels to include (an int or a sequence of ints). Default: all channels for
        ``"sigmoid"`` and ``None``; all but channel 0 (the background) for ``"softmax"``.
    activation:
        How ``pred`` becomes probabilities ``s_θ``: ``"sigmoid"`` (default; ``pred`` are logits of
        a 1-channel or multi-label output), ``"softmax"`` (logits of a K-channel output, softmax
        over channel axis 1, K >= 2) or ``None`` (``pred`` already are probabilities in [0, 1]).

    ``forward(pred, phi)`` takes ``pred`` ``(B, C, *spatial)`` (2-D or 3-D, any float dtype) and
    ``phi`` of the same shape (float, finite; from :func:`bl_utils.distance.batch_signed_distance_maps`)
    and returns a 0-d float32 tensor. The product and the mean are computed in float32 with
    autocast disabled. It can be negative (probability inside the object is rewarded); its
    gradient with respect to ``s`` is ``Φ_G / N`` with ``N`` the number of summed elements.

    Raises ``TypeError`` for non-tensors or non-float tensors, ``ValueError`` for shape or device
    mismatch, non-finite ``phi``/``pred`` (``check_finite=True``), or bad ``classes``.
    """

    def __init__(self, classes: int | Sequence[int] | None = None, activation: str | None = "sigmoid",
                 check_finite: bool = True):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be 'sigmoid', 'softmax' or None, got {activation!r}.")
        if classes is not None:
            classes = [classes] if isinstance(classes, int) else list(classes)
            if not classes or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
                                      for c in classes):
                raise ValueError(f"classes must be a non-empty list of channel indices >= 0, got {classes!r}.")
        self.classes = classes
        self.activation = activation
        self.check_finite = check_finite

    def extra_repr(self) -> str:
        return f"classes={self.classes}, activation={self.activation!r}"

    def _channels(self, n: int) -> list[int] | None:
        if self.classes is None:
            if self.activation == "softmax":
                if n < 2:
                    raise ValueError("activation='softmax' needs at least 2 channels (background + "
                                     "object); for a 1-channel output use activation='sigmoid'.")
                return list(range(1, n))
            return None  # all channels
        if max(self.classes) >= n:
            raise ValueError(f"classes {self.classes} out of range for {n} channel(s).")
        return self.classes

    def forward(self, pred: Tensor, phi: Tensor) -> Tensor:
        _check_tensor("pred", pred, "pass the model's output.")
        _check_tensor("phi", phi, "convert it with `torch.as_tensor(phi, dtype=torch.float32)`.")
        _check_pair("pred", pred, "phi", phi)
        channels = self._channels(pred.shape[1])
        if self.check_finite:
            _check_finite("phi", phi, "recompute it with bl_utils.distance (check the empty-mask policy).")
            _check_finite("pred", pred, "the model diverged; lower the learning rate or check the inputs.")
        with _no_autocast(pred.device):
            x = pred.float()
            if self.activation == "sigmoid":
                s = torch.sigmoid(x)
            elif self.activation == "softmax":
                s = torch.softmax(x, dim=1)
            else:
                s = x
            p = phi.float()
            if channels is not None:
                s, p = s[:, channels], p[:, channels]
            return (p * s).mean()


class DiceLoss(nn.Module):
    """Soft Dice loss on sigmoid probabilities, batch-wise, with smoothing.

    For each channel ``c``, with ``s = sigmoid(logits)`` (or ``logits`` themselves when
    ``activation=None``) and target ``g`` in {0, 1}, sums run over the batch *and* the pixels::

        L_c = 1 - (2 Σ s·g + smooth) / (Σ s + Σ g + smooth)

    and the loss is the mean over channels (0-d float32). Batch-wise sums keep the loss defined on
    images with an empty mask; ``smooth`` (default 1) makes an empty target predicted empty cost 0.
    Matches MONAI's ``DiceLoss(sigmoid=True, batch=True, smooth_nr=smooth, smooth_dr=smooth)``.
    """

    def __init__(self, smooth: float = 1.0, activation: str | None = "sigmoid"):
        super().__init__()
        if activation not in ("sigmoid", None):
            raise ValueError(f"activation must be 'sigmoid' or None, got {activation!r}.")
        if not smooth >= 0:
            raise ValueError(f"smooth must be >= 0, got {smooth!r}.")
        self.smooth = float(smooth)
        self.activation = activation

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        _check_tensor("logits", logits, "pass the model's output.")
        if not isinstance(target, Tensor):
            raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}.")
        _check_pair("logits", logits, "target", target)
        with _no_autocast(logits.device):
            s = torch.sigmoid(logits.float()) if self.activation == "sigmoid" else logits.float()
            g = target.float()
            dims = [0, *range(2, s.ndim)]
            inter = (s * g).sum(dims)
            denom = s.sum(dims) + g.sum(dims)
            return (1.0 - (2.0 * inter + self.smooth) / (denom + self.smooth)).mean()


class StrategyLoss(nn.Module):
    """``total = w_R(t) · L_R + w_B(t) · L_B`` for one training strategy, on a 1-channel sigmoid output.

    Parameters
    ----------
    strategy:
        A :class:`bl_utils.schedules.Strategy`, or one of its names (``"ce"``, ``"ce+bl"``,
        ``"ce+ramp"``, ``"rebalance"``) together with ``epochs`` (and optionally ``alpha``,
        ``schedule``, ``ramp_end``) passed on to :func:`bl_utils.schedules.make_strategy`.
    regional:
        ``"bce"`` (torch's ``binary_cross_entropy_with_logits``, mean over pixels), ``"dice"``
        (:class:`DiceLoss`), ``"bce+dice"`` (their sum) or ``"wbce"``: Odonnat & Pham's weighted BCE,
        ``WBCE_FACTOR · BCE = 50.5 · BCE``. Their model ends in a 2-channel softmax ``(p0, p1)`` (the
        same foreground probability as ``sigmoid(z1 − z0)``), their target is one-hot, and they compute
        ``(BCELoss(reduction='none')(output, mask) * weight).mean()`` with ``weight[mask == 1] = 100``.
        Both channels' BCE equal the pixel's BCE ``ℓ = −g log p1 − (1 − g) log(1 − p1)``, and
        ``mask == 1`` marks each pixel's *true-class* channel, background pixels included: every
        pixel costs ``(100 + 1) ℓ`` over 2 channels, ``50.5 ℓ`` on average. The weight is therefore
        the same for tumour and background — not a class weight (``w+ = w−``) — but a scale of ``L_R``
        against ``L_B``: in ``rebalance`` the boundary term's share is ``α / (50.5 (1 − α) + α)``, not
        ``α``. (Their ``BCELoss`` clamps ``log`` at −100; the logits form here never saturates.)

    ``forward(logits, target, phi, epoch)`` takes logits ``(B, 1, *spatial)``, the binary target and
    ``Φ_G`` of the same shape, and the 0-based (possibly fractional) epoch, and returns
    ``(total, terms)``: ``total`` a 0-d float32 tensor to backpropagate, ``terms`` a dict of
    detached 0-d float32 tensors ``"regional"``, ``"boundary"``, ``"w_regional"``, ``"w_boundary"``.
    The boundary term is always computed (so it can be logged when its weight is 0); a term whose
    weight is 0 is computed without autograd and left out of ``total``.
    """

    def __init__(self, strategy: Strategy | str, regional: str = "bce", *, epochs: int | None = None,
                 **strategy_kwargs):
        super().__init__()
        if isinstance(strategy, str):
            if epochs is None:
                raise ValueError(f"StrategyLoss({strategy!r}) needs epochs=... to build the schedule, "
                                 "or pass a Strategy from bl_utils.schedules.make_strategy.")
            strategy = make_strategy(strategy, epochs, **strategy_kwargs)
        elif not isinstance(strategy, Strategy):
            raise TypeError(f"strategy must be a Strategy or a strategy name, got {type(strategy).__name__}.")
        if regional not in REGIONAL:
            raise ValueError(f"unknown regional loss {regional!r}; valid: {', '.join(REGIONAL)}.")
        self.strategy = strategy
        self.regional = regional
        self.boundary_loss = BoundaryLoss(activation="sigmoid")
        self.dice_loss = DiceLoss()

    def extra_repr(self) -> str:
        return f"strategy={self.strategy.name!r}, regional={self.regional!r}"

    def _regional(self, logits: Tensor, target: Tensor) -> Tensor:
        with _no_autocast(logits.device):
            x, g = logits.float(), target.float()
            terms = []
            for name in self.regional.split("+"):
                if name == "dice":
                    terms.append(self.dice_loss(x, g))
                else:
                    bce = F.binary_cross_entropy_with_logits(x, g)
                    terms.append(WBCE_FACTOR * bce if name == "wbce" else bce)
            return sum(terms[1:], terms[0])

    def forward(self, logits: Tensor, target: Tensor, phi: Tensor, epoch: float):
        _check_tensor("logits", logits, "pass the model's output.")
        if not isinstance(target, Tensor):
            raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}.")
        _check_pair("logits", logits, "target", target)
        if logits.shape[1] != 1:
            raise ValueError(f"StrategyLoss expects a 1-channel sigmoid output (B, 1, *spatial), got "
                             f"{logits.shape[1]} channels; use BoundaryLoss(activation='softmax') for K classes.")
        w_r, w_b = self.strategy.weights(epoch)
        with torch.set_grad_enabled(torch.is_grad_enabled() and w_r != 0):
            regional = self._regional(logits, target)
        with torch.set_grad_enabled(torch.is_grad_enabled() and w_b != 0):
            boundary = self.boundary_loss(logits, phi)
        parts = [w * t for w, t in ((w_r, regional), (w_b, boundary)) if w != 0]
        total = sum(parts[1:], parts[0]) if parts else 0.0 * regional
        dev = logits.device
        terms = {
            "regional": regional.detach(),
            "boundary": boundary.detach(),
            "w_regional": torch.tensor(w_r, dtype=torch.float32, device=dev),
            "w_boundary": torch.tensor(w_b, dtype=torch.float32, device=dev),
        }
        return total, terms
