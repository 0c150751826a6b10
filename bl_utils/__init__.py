"""bl_utils: the helper package of the boundary-loss-on-BUSI report.

One module per concept, each importable on its own (``from bl_utils import distance``):

* :mod:`~bl_utils.distance`  — signed distance maps Φ_G (negative inside, 0 on the inner boundary);
* :mod:`~bl_utils.losses`    — the boundary loss L_B, regional losses, the strategies' objective;
* :mod:`~bl_utils.schedules` — α(t) schedules and the four strategies as data;
* :mod:`~bl_utils.data`      — the BUSI loader (cache, < 5 % rule, duplicate-aware split);
* :mod:`~bl_utils.synthetic` — the built-in synthetic, ultrasound-like stand-in for BUSI;
* :mod:`~bl_utils.train`     — the U-Net training loop (resumable; quick and paper profiles);
* :mod:`~bl_utils.metrics`   — Dice, IoU, HD95, ASSD, connected components;
* :mod:`~bl_utils.analysis`  — paired comparisons of strategies (bootstrap), case selection;
* :mod:`~bl_utils.plots`     — every figure of the report, and ``save_figure``;
* :mod:`~bl_utils.widgets`   — the computations behind notebook 2's sliders, and the widget;
* :mod:`~bl_utils.runtime`   — device, seeds, atomic writes, run metadata;
* :mod:`~bl_utils.report`    — ``python -m bl_utils.report`` runs the notebooks in order.
"""

__version__ = "0.1.0"
