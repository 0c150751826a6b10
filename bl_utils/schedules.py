"""Weight schedules α(t) and the four training strategies of the report, as data.

Kervadec et al. train with a regional loss ``L_R`` (cross-entropy here; Dice as an option) and the
boundary loss ``L_B``. The four strategies compared in the report differ only in two weights,
``(w_R, w_B)``, as functions of the (0-based, possibly fractional) epoch ``t``:

=============  ====================================  ===========================================
name           objective                             α(t)
=============  ====================================  ===========================================
``ce``         ``L_R``                               ``0`` (the boundary term is still logged)
``ce+bl``      ``L_R + α L_B``                       constant ``alpha`` (default 1)
``ce+ramp``    ``L_R + α(t) L_B``                    ramp from 0 (or 0.01) up to ``ramp_end``
``rebalance``  ``(1 - α(t)) L_R + α(t) L_B``         same ramp (the paper's scheme)
=============  ====================================  ===========================================

Ramps (``schedule=``):

* ``"linear"``: ``α(t) = ramp_end · min(t / T, 1)`` with ``T = max(epochs - 1, 1)``, so α is 0 at
  the first epoch (t = 0) and reaches ``ramp_end`` at the last one (t = epochs - 1). Passing a
  fractional epoch (``epoch + step / steps_per_epoch``) gives per-step granularity.
* ``"kervadec"``: Kervadec et al.'s code (LIVIAETS/boundary-loss), ``α(t) = min(0.01 + 0.01 · ⌊t⌋,
  ramp_end)``: start at 0.01 and add 0.01 every epoch. In ``rebalance`` their scheduler
  (``StealWeight``) moves 0.01 from the regional to the boundary weight each epoch and never lets the
  regional weight fall below 0.1: ``(w_R, w_B) = (max(0.1, 1 − 0.01·⌊t⌋), α(t))``.
* ``"odonnat-pham"``: Odonnat & Pham's notebook (ambroiseodt/BoundaryLoss, ``main.ipynb``),
  ``alpha = max(0, epoch/EPOCHS - 0.05)`` with their 1-based ``epoch = ⌊t⌋ + 1`` and
  ``T = EPOCHS = epochs``: ``α(t) = max(0, (⌊t⌋ + 1)/T − 0.05)``, 0, 0.05, …, 0.95 for T = 20 (never
  1; the paper's text says "from 0 to 1"). See :class:`OdonnatPhamSchedule`.

Who used which: the four strategies and the linear 0 → 1 ramp of ``ce+ramp`` and ``rebalance`` are
Odonnat & Pham's ("Boundary Loss for Breast Ultrasound Segmentation") as their paper states them,
``"odonnat-pham"`` is what their code ran; the boundary loss and the ``kervadec`` schedule are
Kervadec et al.'s (MedIA 67, 2021).

>>> s = make_strategy("rebalance", epochs=20)
>>> s.weights(0), s.weights(19)
((1.0, 0.0), (0.0, 1.0))
>>> make_strategy("ce+ramp", epochs=20, schedule="kervadec").alpha(3)
0.04
>>> make_strategy("rebalance", epochs=20, schedule="odonnat-pham").weights(19)
(0.050000000000000044, 0.95)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Callable

__all__ = [
    "ConstantSchedule", "LinearSchedule", "StepSchedule", "OdonnatPhamSchedule", "Strategy", "STRATEGIES", "BASELINE",
    "BOUNDARY_STRATEGIES", "RAMP_STRATEGIES", "SCHEDULES", "make_strategy",
]

#: The four strategies of the report, in the order the report compares them.
STRATEGIES = ("ce", "ce+bl", "ce+ramp", "rebalance")
#: The strategy every other one is compared with, and the three that use the boundary loss.
BASELINE = "ce"
BOUNDARY_STRATEGIES = ("ce+bl", "ce+ramp", "rebalance")
#: The strategies whose α follows a schedule (``schedule=``), so that ablations of the ramp train only these.
RAMP_STRATEGIES = ("ce+ramp", "rebalance")
#: The ramps :func:`make_strategy` knows for :data:`RAMP_STRATEGIES`.
SCHEDULES = ("linear", "kervadec", "odonnat-pham")


def _epoch(epoch) -> float:
    if isinstance(epoch, bool) or not isinstance(epoch, Real):
        try:  # 0-d numpy / torch scalars
            epoch = float(epoch)
        except (TypeError, ValueError):
            raise TypeError(f"epoch must be a number (0-based, may be fractional), got {epoch!r}.") from None
    epoch = float(epoch)
    if not math.isfinite(epoch):
        raise ValueError(f"epoch must be finite, got {epoch}.")
    return epoch


def _finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class ConstantSchedule:
    """``α(t) = value`` for every epoch ``t``."""

    value: float

    def __post_init__(self):
        object.__setattr__(self, "value", _finite("value", self.value))

    def __call__(self, epoch: float) -> float:
        _epoch(epoch)
        return self.value

    @property
    def formula(self) -> str:
        return f"α = {_fmt(self.value)}"


@dataclass(frozen=True)
class LinearSchedule:
    """``α(t) = start + (end - start) · clip(t / duration, 0, 1)``.

    ``α(0) = start``, ``α(duration) = end``, constant outside ``[0, duration]``. ``duration > 0``
    is in epochs; a fractional ``t`` gives per-step granularity.
    """

    start: float
    end: float
    duration: float

    def __post_init__(self):
        for name in ("start", "end", "duration"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        if self.duration <= 0:
            raise ValueError(f"duration must be > 0 epochs, got {self.duration}.")

    def __call__(self, epoch: float) -> float:
        frac = min(max(_epoch(epoch) / self.duration, 0.0), 1.0)
        if frac == 1.0:
            return self.end
        return self.start + (self.end - self.start) * frac

    @property
    def formula(self) -> str:
        return (f"α(t) = {_fmt(self.start)} + {_fmt(self.end - self.start)}·min(t/{_fmt(self.duration)}, 1)"
                if self.start else f"α(t) = {_fmt(self.end)}·min(t/{_fmt(self.duration)}, 1)")


@dataclass(frozen=True)
class StepSchedule:
    """The authors' schedule: ``α(t) = min(start + step · ⌊t⌋, maximum)`` (``t < 0`` counts as 0).

    Defaults (0.01, +0.01 per epoch) are those of LIVIAETS/boundary-loss; α changes once per epoch
    even when ``t`` is fractional.
    """

    start: float = 0.01
    step: float = 0.01
    maximum: float = 1.0
    minimum: float = -math.inf

    def __post_init__(self):
        for name in ("start", "step", "maximum"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))

    def __call__(self, epoch: float) -> float:
        k = max(math.floor(_epoch(epoch)), 0)
        # round() removes binary noise (0.01 + 3 * 0.01 = 0.04, not 0.04000000000000001)
        return max(min(round(self.start + self.step * k, 12), self.maximum), self.minimum)

    @property
    def formula(self) -> str:
        if self.step < 0:
            return f"max({_fmt(self.start)} − {_fmt(-self.step)}·⌊t⌋, {_fmt(self.minimum)})"
        return f"α(t) = min({_fmt(self.start)} + {_fmt(self.step)}·⌊t⌋, {_fmt(self.maximum)})"


@dataclass(frozen=True)
class OdonnatPhamSchedule:
    """Odonnat & Pham's code: ``α(t) = scale · max(0, (⌊t⌋ + 1) / epochs − offset)``.

    Their notebook (ambroiseodt/BoundaryLoss, ``main.ipynb``, the "Using Boundary Loss" cell) runs
    ``for epoch in range(1, EPOCHS + 1)`` and, at the start of ``train(epoch)``, sets ``alpha =
    max(0, epoch/EPOCHS - 0.05)``, once per epoch. With the package's 0-based ``t`` their ``epoch`` is
    ``⌊t⌋ + 1``, so ``α`` is the same float their loop computed (for ``EPOCHS = 20``: 0, 0.05,
    0.09999999999999999, …, 0.95; ``0.05`` is a constant, not ``1/EPOCHS``). ``α`` stays constant within
    an epoch (fractional ``t`` is floored); ``t < 0`` counts as epoch 0 and ``t >= epochs`` as the last
    epoch, which their loop never reached. ``scale`` (``ramp_end``; 1 in their code) multiplies it.
    """

    epochs: int
    offset: float = 0.05
    scale: float = 1.0

    def __post_init__(self):
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1, got {self.epochs!r}.")
        for name in ("offset", "scale"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))

    def __call__(self, epoch: float) -> float:
        k = min(max(math.floor(_epoch(epoch)), 0), self.epochs - 1) + 1  # their 1-based epoch
        alpha = max(0.0, k / self.epochs - self.offset)
        return alpha if self.scale == 1.0 else self.scale * alpha

    @property
    def formula(self) -> str:
        head = "" if self.scale == 1.0 else f"{_fmt(self.scale)}·"
        return f"α(t) = {head}max(0, (⌊t⌋ + 1)/{self.epochs} − {_fmt(self.offset)})"


@dataclass(frozen=True)
class Strategy:
    """A training objective ``w_R(t) · L_R + w_B(t) · L_B`` described by a name, α and a flag.

    ``weights(t)`` is ``(1, α(t))`` or, with ``rebalance=True``, ``(1 - α(t), α(t))``; a
    ``regional`` schedule, when given, sets ``w_R(t)`` itself (Kervadec et al.'s rebalance).
    """

    name: str
    alpha: Callable[[float], float]
    rebalance: bool = False
    regional: Callable[[float], float] | None = None

    def weights(self, epoch: float) -> tuple[float, float]:
        """``(w_regional, w_boundary)`` at the 0-based (possibly fractional) ``epoch``."""
        a = float(self.alpha(epoch))
        if self.regional is not None:
            return float(self.regional(epoch)), a
        return ((1.0 - a) if self.rebalance else 1.0), a

    @property
    def formula(self) -> str:
        """A one-line human description, e.g. ``L = (1 − α(t))·L_R + α(t)·L_B, α(t) = …``."""
        alpha = getattr(self.alpha, "formula", "α(t)")
        if self.regional is not None:
            return f"L = w_R(t)·L_R + α(t)·L_B, w_R(t) = {getattr(self.regional, 'formula', 'w_R(t)')}, {alpha}"
        if isinstance(self.alpha, ConstantSchedule):
            if self.alpha.value == 0 and not self.rebalance:
                return "L = L_R"
            return (f"L = (1 − α)·L_R + α·L_B, {alpha}" if self.rebalance
                    else f"L = L_R + α·L_B, {alpha}")
        return (f"L = (1 − α(t))·L_R + α(t)·L_B, {alpha}" if self.rebalance
                else f"L = L_R + α(t)·L_B, {alpha}")


def make_strategy(name: str, epochs: int, alpha: float = 1.0, schedule: str = "linear",
                  ramp_end: float = 1.0) -> Strategy:
    """Build one of :data:`STRATEGIES` for a run of ``epochs`` epochs.

    * ``"ce"``: ``Strategy("ce", ConstantSchedule(0))`` -> weights ``(1, 0)``;
    * ``"ce+bl"``: ``(1, alpha)`` at every epoch;
    * ``"ce+ramp"``: ``(1, α(t))``; ``"rebalance"``: ``(1 - α(t), α(t))``, where α(t) is
      ``LinearSchedule(0, ramp_end, max(epochs - 1, 1))`` for ``schedule="linear"`` (α reaches
      ``ramp_end`` at the last epoch; Odonnat & Pham) or ``StepSchedule(0.01, 0.01, maximum=ramp_end)``
      for ``schedule="kervadec"`` (Kervadec et al.), whose rebalance has the regional weight
      ``StepSchedule(1, -0.01, minimum=0.1)``, or ``OdonnatPhamSchedule(epochs, scale=ramp_end)`` for
      ``schedule="odonnat-pham"`` (their code; rebalance weights ``(1 − α(t), α(t))``).

    Raises ``ValueError`` for an unknown name or schedule (listing the valid ones), ``epochs < 1``,
    a negative ``alpha``/``ramp_end``, or ``ramp_end > 1`` with ``rebalance`` (negative ``w_R``).
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; valid names: {', '.join(STRATEGIES)}.")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}.")
    alpha = _finite("alpha", alpha)
    ramp_end = _finite("ramp_end", ramp_end)
    if alpha < 0 or ramp_end < 0:
        raise ValueError(f"alpha and ramp_end must be >= 0, got alpha={alpha}, ramp_end={ramp_end}.")
    if name == "ce":
        return Strategy("ce", ConstantSchedule(0.0), rebalance=False)
    if name == "ce+bl":
        return Strategy("ce+bl", ConstantSchedule(alpha), rebalance=False)
    if schedule == "linear":
        ramp = LinearSchedule(0.0, ramp_end, duration=max(epochs - 1, 1))
    elif schedule == "kervadec":
        ramp = StepSchedule(0.01, 0.01, maximum=ramp_end)
    elif schedule == "odonnat-pham":
        ramp = OdonnatPhamSchedule(epochs, scale=ramp_end)
    else:
        raise ValueError(f"unknown schedule {schedule!r}; valid schedules: {', '.join(SCHEDULES)}.")
    rebalance = name == "rebalance"
    if rebalance and ramp_end > 1:
        raise ValueError(f"rebalance needs ramp_end <= 1 (the regional weight is 1 - α), got {ramp_end}.")
    regional = StepSchedule(1.0, -0.01, maximum=1.0, minimum=0.1) if rebalance and schedule == "kervadec" else None
    return Strategy(name, ramp, rebalance=rebalance, regional=regional)
