"""The groups of runs the report publishes (bl_utils.study): what each plans."""

from __future__ import annotations

from bl_utils import study
from bl_utils.schedules import STRATEGIES


def test_planned_runs_are_strategies_times_seeds_times_folds():
    assert study.planned_runs("study") == len(STRATEGIES) * len(study.STUDY_SEEDS) * len(study.STUDY_FOLDS) == 40
    assert study.planned_runs("odonnat_pham") == 4 * 3 and study.planned_runs("odonnat_pham_paper") == 2
    assert study.planned_runs("table1") == 4 * len(study.SEEDS)
