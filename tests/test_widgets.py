"""Tests of bl_utils.widgets: the loss explorer's widget (boundary_loss_explorer): its sliders and what
they change, their units and tooltips, and what it shows when saved without a kernel. What it computes
(bl_utils.explorer) is tested in test_explorer.py."""

from __future__ import annotations

import pytest

from bl_utils import explorer as bl_explorer
from bl_utils import widgets


# ------------------------------------------------------------------ the widget

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


# ------------------------------------------------------------------ redraws in a live kernel

def test_a_burst_of_slider_changes_in_a_live_kernel_redraws_once_with_the_latest_value():
    """What a front end does: slider changes arrive as comm messages while the kernel is busy (a redraw
    in progress, here a sleep). A real IPython kernel, driven through jupyter_client: the ten queued
    changes must give one redraw, of the last value, not ten (the queue that made the figure trail
    the readout by seconds)."""
    manager_module = pytest.importorskip("jupyter_client.manager")
    from pathlib import Path

    manager, client = manager_module.start_new_kernel(kernel_name="python3")
    try:
        def run(code: str) -> str:
            reply = client.execute_interactive(code, timeout=120, output_hook=lambda msg: seen.append(msg))
            assert reply["content"]["status"] == "ok", reply["content"]
            return "".join(m["content"].get("text", "") for m in seen if m["msg_type"] == "stream")

        seen: list = []
        model_id = run(f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                       "import helpers\nfrom bl_utils import widgets\n"
                       "ex = widgets.boundary_loss_explorer(helpers.fake_dataset(size=64), strategy='rebalance')\n"
                       "draws = []\nfirst = ex.update\n"
                       "ex.update = lambda: draws.append(ex.controls['alpha'].value) or first()\n"
                       "print(ex.controls['alpha'].model_id, end='')").strip()
        client.execute("import time; time.sleep(1.5)")          # the kernel is busy: the changes queue
        values = [round(0.05 * k, 2) for k in range(1, 11)]
        for value in values:
            message = client.session.msg("comm_msg", {"comm_id": model_id, "data": {
                "method": "update", "state": {"value": value}, "buffer_paths": []}})
            client.shell_channel.send(message)
        import time

        time.sleep(1.5 + 3 * widgets.REDRAW_DELAY + 2.0)        # the sleep, the queue, one delay and a redraw
        seen.clear()
        printed = run("print(draws, ex._pending is None, ex.state.settings['alpha'], end='')")
        assert printed == f"[{values[-1]}] True {values[-1]}", printed
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
