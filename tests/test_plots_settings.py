"""The settings figure (bl_utils.plots.settings): every run's paired difference and each interval where the
table puts it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection

from bl_utils.plots.settings import plot_settings_arms

TABLE = pd.DataFrame({"arm": ["α_px = 1 (the papers')", "Kervadec et al.'s schedule"], "base": ["ce+bl", "rebalance"],
                      "− base": [-0.04, 0.005], "− base, 95 % CI": [(-0.07, -0.01), (-0.01, 0.02)],
                      "− CE": [-0.03, -0.002], "− CE, 95 % CI": [(-0.06, 0.0), (float("nan"), float("nan"))]})


def _differences():
    rows = []
    for arm, values in (("α_px = 1 (the papers')", (-0.05, -0.03)), ("Kervadec et al.'s schedule", (0.0, 0.01, 0.005))):
        for against in ("base", "CE"):
            rows += [{"arm": arm, "against": against, "difference": v} for v in values]
    return pd.DataFrame(rows)


def test_every_run_and_every_interval_is_drawn_on_its_arms_row():
    fig = plot_settings_arms(_differences(), TABLE, title="t")
    ax = fig.axes[0]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in points) == len(_differences())
    xs = sorted(x for c in points for x, _ in c.get_offsets())
    assert xs == pytest.approx(sorted(_differences().difference))
    segments = [seg for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()]
    horizontal = [(s[0][0], s[1][0], s[0][1]) for s in segments if s[0][1] == s[1][1] and s[0][0] != s[1][0]]
    # three finite intervals (the Kervadec arm's CE interval is undefined): at their arm's row
    assert sorted((lo, hi) for lo, hi, _ in horizontal) == pytest.approx([(-0.07, -0.01), (-0.06, 0.0), (-0.01, 0.02)])
    rows = {round(y): (lo, hi) for lo, hi, y in horizontal if (lo, hi) == pytest.approx((-0.01, 0.02))}
    assert list(rows) == [1]                                         # the second arm's row
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].startswith("α_px = 1") and "base ce+bl" in labels[0]
