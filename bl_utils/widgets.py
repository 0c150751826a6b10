"""Notebook 2's loss explorer: the ipywidgets front end of :mod:`bl_utils.explorer`.

:func:`boundary_loss_explorer` returns a :class:`LossExplorer`: sliders that choose an image, a
strategy and α, the threshold δ and a hand-made prediction; on every change it recomputes the view
with :func:`bl_utils.explorer.explore` and redraws it with :func:`bl_utils.plots.maths.plot_loss_explorer`.
The widget code only connects sliders to those functions (imports go ``widgets → plots →
explorer``, never back).

Every slider's label says its unit (pixels for the shifts and the dilation, σ in pixels for the
blur, probabilities for δ and the cap c, α unitless for the Φ_G scale in use); α is greyed out
(disabled) while the strategy is ``ce``, where it changes nothing. The figure's colour scales do
not move with α (:func:`bl_utils.explorer.colour_bounds`), so sliding α visibly changes the maps.
Only ipywidgets APIs common to 7.7.1 (Colab) and 8 are used, with a fallback where they differ.


Without a live kernel (a saved notebook on GitHub, an untrusted notebook) the widget cannot be
drawn; its saved text and HTML say so and point to the static figure,
``plots.maths.plot_loss_explorer(explorer.explore(dataset, index))``.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from .explorer import ALPHA_RANGE, EXPLORER_DEFAULTS, ExplorerState, explore, image_title, summary_text, tumour_index
from .plots.maths import plot_loss_explorer
from .schedules import STRATEGIES

__all__ = ["EXPLORER_NOTE", "REDRAW_DELAY", "LossExplorer", "boundary_loss_explorer"]

#: Seconds of quiet after a slider change before the explorer redraws (the debounce): a redraw
#: takes ~0.5 s on two cores, so without it every key press on a slider queued one, and the figure
#: trailed the slider's readout by seconds. Changes within the delay are merged into one redraw of
#: the latest values.
REDRAW_DELAY = 0.15

#: What a saved notebook shows in place of the widget (its ``text/plain``; kept under ipywidgets'
#: 110-character cut of a widget's text anyway, so that no viewer shows it truncated).
EXPLORER_NOTE = ("Interactive loss explorer: run this cell with a live kernel; "
                 "the static view below shows the same panels.")


def boundary_loss_explorer(dataset, index: int | None = None, **defaults) -> "LossExplorer":
    """An ipywidgets view of L_B on ``dataset``: pick an image, a strategy and α, the threshold δ,
    and shift/dilate/blur a candidate prediction; the figure and the numbers update.

    Returns a :class:`LossExplorer` (an ``ipywidgets.VBox``): display it as the last expression of
    a cell. ``index`` is the first image shown (default: the first with a tumour); ``defaults``
    override :data:`EXPLORER_DEFAULTS` (``TypeError`` on an unknown name). Without a widget front
    end nothing is drawn; use ``plots.maths.plot_loss_explorer(explorer.explore(dataset, index))`` for a static
    figure of the same view.
    """
    return LossExplorer(dataset, index=index, **defaults)


#: Width of the controls' labels: wide enough for "α (unitless, Φ_G in pixels)".
_LABEL_WIDTH = "190px"

#: What hovering over α says (the label has room for its unit only).
_ALPHA_TIP = ("weight of L_B: (w_CE, w_B) = (1, α) for ce+bl and ce+ramp, (1 − α, α) for rebalance; "
              "no effect for ce (greyed out). Unitless, for Φ_G {}")


def _tooltip(widget: W.Widget, text: str) -> W.Widget:
    """Set the hover text: ``tooltip`` in ipywidgets 8, ``description_tooltip`` in 7.x."""
    name = "tooltip" if widget.has_trait("tooltip") else "description_tooltip"
    setattr(widget, name, text)
    return widget


def _slider(kind, value, low, high, description: str, **extra) -> W.Widget:
    """One of the explorer's sliders: labelled (with its unit), 430 px wide, updating on release."""
    return kind(value=value, min=low, max=high, description=description, continuous_update=False,
                style={"description_width": _LABEL_WIDTH}, layout=W.Layout(width="430px"), **extra)


def _make_controls(dataset, index: int, settings: dict[str, Any]) -> dict[str, W.Widget]:
    """The explorer's controls, keyed by name, at ``settings`` (:data:`EXPLORER_DEFAULTS` keys).

    Each slider's description ends with its unit in parentheses: pixels (shifts, dilation),
    σ in pixels (blur), probability (δ, c); α is unitless, and its effect depends on the scale of
    Φ_G (``settings["phi_scale"]``: divided by the image side, or in pixels), which it names.
    """
    h, w = np.asarray(dataset.masks[0]).shape
    titles = [(image_title(dataset, i), i) for i in range(len(dataset.masks))]
    image_scale = settings["phi_scale"] == "image"
    phi_unit = "Φ_G ÷ side" if image_scale else "Φ_G in pixels"
    alpha_tip = _ALPHA_TIP.format("divided by the image side, as in training" if image_scale else "in pixels")
    label = {"style": {"description_width": _LABEL_WIDTH}}
    return {
        "index": W.Dropdown(options=titles, value=index, description="image",
                            layout=W.Layout(width="560px"), **label),
        "strategy": W.Dropdown(options=list(STRATEGIES), value=settings["strategy"], description="strategy",
                               layout=W.Layout(width="430px"), **label),
        "alpha": _tooltip(_slider(W.FloatSlider, settings["alpha"], *ALPHA_RANGE, f"α (unitless, {phi_unit})",
                                  step=0.01), alpha_tip),
        "delta": _slider(W.FloatSlider, settings["delta"], 0.01, 0.99, "threshold δ (probability)", step=0.01),
        "dy": _slider(W.IntSlider, settings["shift"][0], -h // 4, h // 4, "shift dy (pixels)"),
        "dx": _slider(W.IntSlider, settings["shift"][1], -w // 4, w // 4, "shift dx (pixels)"),
        "dilation": _slider(W.IntSlider, settings["dilation"], -15, 15, "dilate, −erode (pixels)"),
        "blur": _slider(W.FloatSlider, settings["blur"], 0.0, 10.0, "blur (σ in pixels)", step=0.5),
        "confidence": _slider(W.FloatSlider, settings["confidence"], 0.9, 1.0, "max prob c (probability)",
                              step=0.001, readout_format=".3f"),
    }


class LossExplorer(W.VBox):
    """The explorer: ``.controls`` (name -> widget), ``.state`` (the last :class:`ExplorerState`),
    ``.summary`` (an ``HTML`` widget with the numbers), ``.figure`` (an ``Image`` widget holding the
    figure as PNG: no ``Output`` widget, whose captured ``clear_output``/``display`` messages made
    headless executions (papermill, nbval) hang at random).

    Redraws are debounced: inside a running event loop (a live kernel) a change schedules one
    redraw :data:`REDRAW_DELAY` seconds later, and a newer change replaces it, so that a burst of
    key presses costs one redraw, of the latest values, never a queue. Reading :attr:`state`
    first applies a pending change, so code that sets a slider and reads the state sees the new
    setting; without an event loop (a script, the tests) every change redraws at once.

    Shown live, it is the widget; saved without a kernel, its ``text/plain`` and ``text/html`` are
    :data:`EXPLORER_NOTE`, not ipywidgets' ``LossExplorer(children=(Dropdown(...``.
    """

    def __init__(self, dataset, index: int | None = None, **defaults):
        unknown = set(defaults) - set(EXPLORER_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown explorer setting(s) {sorted(unknown)}; known: {sorted(EXPLORER_DEFAULTS)}")
        settings = {**EXPLORER_DEFAULTS, **defaults}
        self.dataset = dataset
        index = tumour_index(dataset) if index is None else int(index)
        self.controls = _make_controls(dataset, index, settings)
        self._fixed = {"phi_scale": settings["phi_scale"]}
        self.summary = W.HTML()
        self.figure = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self._state: ExplorerState | None = None
        self._pending = None          # the scheduled redraw (an asyncio TimerHandle), if any
        column = [self.controls[k] for k in ("strategy", "alpha", "delta", "confidence")]
        column2 = [self.controls[k] for k in ("dy", "dx", "dilation", "blur")]
        super().__init__([self.controls["index"], W.HBox([W.VBox(column), W.VBox(column2)]),
                          self.summary, self.figure])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.update()

    def __repr__(self) -> str:
        return EXPLORER_NOTE

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(EXPLORER_NOTE)

    def _repr_html_(self) -> str:
        return f"<p><em>{EXPLORER_NOTE}</em></p>"

    def _repr_mimebundle_(self, **kwargs) -> dict[str, Any]:
        """ipywidgets' bundle (the live widget view) with the note as its text and HTML fallbacks.

        ipywidgets 7.x has no ``Widget._repr_mimebundle_`` (it displays through
        ``_ipython_display_``, whose text is ``repr``, the note): the view is then built here."""
        parent = getattr(super(), "_repr_mimebundle_", None)
        bundle = (parent(**kwargs) if parent else None) or {"application/vnd.jupyter.widget-view+json": {
            "version_major": 2, "version_minor": 0, "model_id": self.model_id}}
        return {**bundle, "text/plain": EXPLORER_NOTE, "text/html": self._repr_html_()}

    def settings(self) -> dict[str, Any]:
        """The current control values, as keyword arguments of :func:`explore`."""
        c = self.controls
        return dict(index=c["index"].value, strategy=c["strategy"].value, alpha=c["alpha"].value,
                    delta=c["delta"].value, shift=(c["dy"].value, c["dx"].value),
                    dilation=c["dilation"].value, blur=c["blur"].value, confidence=c["confidence"].value,
                    **self._fixed)

    @property
    def state(self) -> ExplorerState:
        """The :class:`ExplorerState` of the current slider values (a pending redraw is done first)."""
        if self._pending is not None:
            self.update()
        return self._state

    def _on_change(self, change) -> None:
        """Grey out α for ``ce`` (enable it for the other strategies) at once; redraw now without an
        event loop, else :data:`REDRAW_DELAY` seconds after the last change."""
        self.controls["alpha"].disabled = self.controls["strategy"].value == "ce"   # α changes nothing there
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:          # no event loop: nothing could run a scheduled redraw
            self.update()
            return
        if self._pending is not None:
            self._pending.cancel()
        self._pending = loop.call_later(REDRAW_DELAY, self._redraw_pending)

    def _redraw_pending(self) -> None:
        if self._pending is not None:
            self.update()

    def update(self) -> ExplorerState:
        """Recompute :attr:`state` from the controls, refresh the numbers and redraw the figure now
        (a scheduled redraw is cancelled: this one shows the latest values)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._state = state = explore(self.dataset, **self.settings())
        self.controls["alpha"].disabled = self.controls["strategy"].value == "ce"   # α changes nothing there
        self.summary.value = f"<code>{summary_text(state)}</code>"
        fig = plot_loss_explorer(state)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        self.figure.value = buffer.getvalue()
        return state
