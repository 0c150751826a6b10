"""Every figure of the report, one module per part of it (each notebook imports its own).

* :mod:`~bl_utils.plots.style`       — ``save_figure``, the strategies' colours and markers, legible titles;
* :mod:`~bl_utils.plots.data`        — notebook 1: examples, Figure 3 with the selection cuts, image sizes, duplicates;
* :mod:`~bl_utils.plots.maths`       — notebook 2: Kervadec et al.'s Figure 1, the loss explorer's static view;
* :mod:`~bl_utils.plots.training`    — notebook 3: learning curves, Table 1 seed by seed, the ablations;
* :mod:`~bl_utils.plots.settings`    — notebook 3: the settings arms against their base and CE;
* :mod:`~bl_utils.plots.qualitative` — notebook 4: Figure 4;
* :mod:`~bl_utils.plots.robustness`  — notebook 5: degradations, degraded-image curves, jittered contours;
* :mod:`~bl_utils.plots.external`    — notebook 6: BUSI beside BUS-BRA, the differences per subgroup.
"""
