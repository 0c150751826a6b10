"""The study's answer: each boundary-loss strategy against CE under repeated cross-validation.

The primary endpoint (:data:`PRIMARY`), fixed before any result: **per-image Dice on the tumour
images at the final epoch, each boundary-loss strategy minus CE, paired by (seed, fold)**. One run
j = (seed, fold) gives ``d_j``, the mean over that fold's validation images of the paired
difference (:func:`bl_utils.answers.paired.run_differences`); a strategy's run pairs with CE's only
when both trained on one kind of machine (:func:`bl_utils.runs.machine_of`). Runs of repeated
cross-validation share most of their training images, so the interval is Nadeau & Bengio's
corrected resampled t (variance × (1/J + n_test/n_train)), the plain t-interval beside it; verdicts
come from :func:`bl_utils.stats.compare_all`: TOST against ± 0.02 and the two-sided test against 0,
each Holm-corrected over the **family** :data:`FAMILY` (the three boundary-loss strategies against
CE on the primary endpoint; nothing else in the report draws a verdict from the study's runs).

Everything else — HD95 (a missed tumour counted at :func:`bl_utils.runs.hd95_penalty`), tumours
missed, components, false positives on the normal images never trained on, the Dice drop under
test-time degradations, the effective boundary weight — is secondary and exploratory:
:func:`secondary_table` gives means and sd over runs, :func:`secondary_differences` and
:func:`degradation_differences` the paired differences with the same two intervals and **no
verdict**.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .. import stats
from ..runs import RunResult, normal_fp_rate, per_image, robustness, run_keys
from ..schedules import BASELINE, BOUNDARY_STRATEGIES, STRATEGIES
from .paired import images_subset, differences_by_strategy, interval_table, mean_sizes, run_differences

__all__ = ["PRIMARY", "FAMILY", "SECONDARY", "primary_answer", "without_frames_seen", "sizing", "secondary_table", "secondary_differences",
           "degradation_differences", "components_table", "robustness_curves"]

#: The primary endpoint's definition, as the notebook states it before any result.
PRIMARY = dict(metric="dice", images="tumour", checkpoint="final", baseline=BASELINE, margin=0.02, alpha=0.05)
#: The family one Holm correction covers: each boundary-loss strategy against CE, on the primary endpoint.
FAMILY = tuple(BOUNDARY_STRATEGIES)


def primary_answer(results: Sequence[RunResult], margin: float = PRIMARY["margin"],
                   alpha: float = PRIMARY["alpha"], long: pd.DataFrame | None = None) -> pd.DataFrame:
    """The primary endpoint over ``results`` (runs of one protocol): one row per boundary-loss
    strategy with at least two paired runs, the columns of :meth:`bl_utils.stats.Verdict.as_row`
    plus ``sd`` (between-run sd of d_j) and how many runs fall below and above 0 (the direction's
    robustness). Empty when there are not enough runs. ``long``: the runs' per-image rows to use
    (default: all of them, :func:`bl_utils.runs.per_image` at the endpoint's checkpoint)."""
    long = per_image(results, PRIMARY["checkpoint"]) if long is None else long
    differences = run_differences(long, PRIMARY["metric"], PRIMARY["images"], PRIMARY["baseline"])
    named = {s: d for s, d in differences_by_strategy(differences, FAMILY).items() if len(d) >= 2}
    if not named:
        return pd.DataFrame()
    n_train, n_test = mean_sizes(results)
    verdicts = stats.compare_all(named, n_train=n_train, n_test=n_test, margin=margin, alpha=alpha)
    frame = pd.DataFrame([v.as_row() for v in verdicts])
    return frame.assign(sd=[float(np.std(named[v.name], ddof=1)) for v in verdicts],
                        runs_below_zero=[int((named[v.name] < 0).sum()) for v in verdicts],
                        runs_above_zero=[int((named[v.name] > 0).sum()) for v in verdicts])


def without_frames_seen(results: Sequence[RunResult], groups: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The primary endpoint re-scored without the validation images a run saw another frame of:
    ``groups`` maps each stem to its group of near-duplicates and frames of one lesion
    (:func:`bl_utils.data.duplicates.frame_groups`); an image is dropped from a run's scores when a
    member of its group is among that run's training images. Returns ``(answer, dropped)``: the
    :func:`primary_answer` on the images left, and per run (``seed, fold``) how many were dropped."""
    long = per_image(results, PRIMARY["checkpoint"])
    seen = {(r.seed, int(r.settings.get("fold", -1))): {groups.get(s) for s in r.metadata["train_stems"]} for r in results}
    leaked = [groups.get(stem) in seen[(seed, fold)] for stem, seed, fold in zip(long.stem, long.seed, long.fold)]
    long = long.assign(leaked=leaked)
    dropped = long[long.strategy == BASELINE].groupby(["seed", "fold"]).leaked.sum().rename("images dropped").reset_index()
    return primary_answer(results, long=long[~long.leaked]), dropped


def sizing(answer: pd.DataFrame, results: Sequence[RunResult], margin: float = PRIMARY["margin"],
           power: float = 0.8) -> pd.DataFrame:
    """Per strategy of ``answer``: the runs a ± ``margin`` equivalence answer would need at ``power``
    with the measured sd, by the procedure the verdicts use — TOST at Holm's levels over :data:`FAMILY`
    (:func:`bl_utils.stats.holm_levels`: ``alpha/3`` when it is tested first, ``alpha/2`` second) — both
    if the true difference were 0 and if it were the observed mean (``None``: no number of runs is
    enough), beside the unadjusted level; then, at Holm's strictest level, the floor of the corrected
    ``1 − 2·alpha/3`` half-width TOST uses (:func:`bl_utils.stats.half_width_floor`), which the 425 images
    set: more runs shrink only the 1/J term of the corrected variance, and the narrowest margin reachable
    at ``power`` however many runs (:func:`bl_utils.stats.power_floor`)."""
    n_train, n_test = mean_sizes(results)
    strictest, second, plain = stats.holm_levels(PRIMARY["alpha"], len(FAMILY))
    rows = []
    for _, row in answer.iterrows():
        need = {}
        for label, level in (("Holm α/3", strictest), ("Holm α/2", second), ("unadjusted α", plain)):
            for at, delta in (("0", 0.0), ("observed", float(row["mean"]))):
                need[f"runs needed, {label}, true difference {at}"] = stats.runs_needed(
                    row["sd"], n_train=n_train, n_test=n_test, margin=margin, alpha=level, power=power,
                    true_difference=delta)
        rows.append({"strategy": row["name"], "sd": row["sd"], "runs": int(row["n_runs"]), **need,
                     "half_width_floor": stats.half_width_floor(row["sd"], n_train=n_train, n_test=n_test,
                                                                alpha=strictest),
                     "power_floor": stats.power_floor(row["sd"], n_train=n_train, n_test=n_test, alpha=strictest,
                                                      power=power)})
    return pd.DataFrame(rows)


def secondary_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Exploratory, per strategy (mean ± sd over runs, no verdict): final Dice on tumour images,
    tumours missed per run, false-positive rate on the normal images never trained on, and the
    effective boundary weight Σ lr·w_B / Σ lr."""
    long = per_image(results, "final")
    tumour = long[~long.target_empty.astype(bool)]
    per_run = tumour.groupby(["strategy", "seed", "fold"]).agg(dice=("dice", "mean"),
                                                               missed=("pred_empty", lambda s: int(s.astype(bool).sum())))
    extra = pd.DataFrame([{"strategy": r.strategy, "seed": r.seed, "fold": int(r.settings.get("fold", -1)),
                           "normal_fp_rate": normal_fp_rate(r),
                           "effective_w_boundary": r.final.get("effective_w_boundary", float("nan"))}
                          for r in results]).set_index(["strategy", "seed", "fold"])
    joined = per_run.join(extra)
    table = joined.groupby("strategy").agg(["mean", "std"])
    table.columns = [f"{a} {b}" for a, b in table.columns]
    order = [s for s in STRATEGIES if s in table.index]
    return table.loc[order].assign(runs=joined.groupby("strategy").size().loc[order])


# --------------------------------------------------------------------------------------------
# Secondary, exploratory: paired differences with intervals, no verdict


#: The secondary endpoints against CE, at the final epoch on the tumour images:
#: (label, column of :func:`bl_utils.runs.per_image`). Lower is better for every one of them.
SECONDARY = (("HD95 px (missed tumour = image diagonal)", "hd95_penalised"),
             ("tumours missed (share)", "pred_empty"),
             ("connected components per prediction", "components"))


def secondary_differences(results: Sequence[RunResult]) -> pd.DataFrame:
    """Each boundary-loss strategy minus CE, paired by (seed, fold) on one kind of machine, on every
    :data:`SECONDARY` endpoint and on the false-positive rate on the normal images never trained on
    (one rate per run): the columns of :func:`interval_table` plus ``endpoint``. Exploratory: intervals, no verdict."""
    if not results:
        return interval_table({}, 1, 1).assign(endpoint=[])
    n_train, n_test = mean_sizes(results)
    long = per_image(results, "final")
    long["pred_empty"] = long.pred_empty.astype(float)
    frames = [interval_table(differences_by_strategy(run_differences(long, column, "tumour")), n_train, n_test).assign(endpoint=label)
              for label, column in SECONDARY]
    fp = pd.DataFrame([{**run_keys(r), "stem": "normal images", "fp": normal_fp_rate(r), "target_empty": False}
                       for r in results])
    frames.append(interval_table(differences_by_strategy(run_differences(fp.dropna(subset=["fp"]), "fp", "all")), n_train, n_test)
                  .assign(endpoint="false positives, normal images (share)"))
    table = pd.concat(frames, ignore_index=True)
    return table[["endpoint"] + [c for c in table.columns if c != "endpoint"]]


def degradation_differences(results: Sequence[RunResult], corruption: str, level: float,
                            clean_level: float) -> pd.DataFrame:
    """How much more Dice each boundary-loss strategy keeps than CE when the validation images are
    degraded by ``corruption`` at ``level``: per run and tumour image the drop
    ``dice(level) - dice(clean_level)``, then the strategy's drop minus CE's, paired by (seed, fold, machine)
    (positive: it degrades less than CE). The columns of :func:`interval_table`; exploratory."""
    rob = robustness(results)
    rob = rob[rob.corruption == corruption]
    keys = ["strategy", "seed", "fold", "machine", "stem"]
    clean = rob[rob.level == clean_level].set_index(keys).dice
    at = rob[rob.level == level].set_index(keys)
    long = at[["target_empty"]].assign(drop=at.dice - clean.reindex(at.index)).reset_index()
    n_train, n_test = mean_sizes(results)
    return interval_table(differences_by_strategy(run_differences(long, "drop", "tumour")), n_train, n_test)


def components_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Per strategy, over every (run, tumour image) at the final epoch: the mean number of connected
    components of the prediction and the shares of predictions with 0 (a missed tumour), 1 and 2 or
    more components. A BUSI tumour is one region: 2 or more means spurious blobs or a fragmented
    tumour. Exploratory: a description, no verdict."""
    long = per_image(results, "final")
    tumour = long[~long.target_empty.astype(bool)]
    table = tumour.groupby("strategy").agg(
        predictions=("components", "size"), mean_components=("components", "mean"),
        none=("components", lambda c: float((c == 0).mean())), one=("components", lambda c: float((c == 1).mean())),
        two_or_more=("components", lambda c: float((c >= 2).mean())))
    table.insert(0, "runs", tumour[["strategy", "seed", "fold"]].drop_duplicates().groupby("strategy").size())
    return table.loc[[s for s in STRATEGIES if s in table.index]]


def robustness_curves(rob: pd.DataFrame) -> pd.DataFrame:
    """Per strategy, corruption and level, over runs (mean, min, max of the per-run values; a run is a
    seed, or a (seed, fold)): Dice on tumour images, HD95 on the tumour images found, the share of
    tumours missed, components per prediction, and the false-positive rate on normal images (NaN
    where the runs scored none)."""
    tumour, normal = images_subset(rob, "tumour"), images_subset(rob, "normal")
    keys = ["strategy", "corruption", "level", "seed", "fold"]
    per_run = tumour.groupby(keys).agg(dice=("dice", "mean"), hd95=("hd95", "mean"),
                                       missed=("pred_empty", "sum"), missed_share=("pred_empty", "mean"),
                                       components=("components", "mean"))
    per_run["fp_rate"] = normal.groupby(keys).pred_any.mean()
    grouped = per_run.groupby(keys[:-2])
    out = grouped.mean().add_suffix("_mean").join(grouped.min().add_suffix("_min")).join(grouped.max().add_suffix("_max"))
    return out.reset_index()
