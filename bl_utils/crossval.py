"""The study's answer: each boundary-loss strategy against CE under repeated cross-validation.

The primary endpoint, fixed before any result: **per-image Dice on the tumour images at the final
epoch, each boundary-loss strategy minus CE, paired by (seed, fold)**. One run j = (seed, fold)
gives ``d_j``, the mean over that fold's validation images of the paired difference; a strategy's
run pairs with CE's only when both trained on one kind of machine (:func:`bl_utils.runs.machine_of`:
the same seed gives another trajectory on another CPU or in another precision). Runs of
repeated cross-validation share most of their training images, so the J values are not independent:
the interval is Nadeau & Bengio's corrected resampled t (variance × (1/J + n_test/n_train)), the
plain t-interval beside it; verdicts come from :func:`bl_utils.stats.compare_all` (TOST against a
± margin and the two-sided test against 0, each Holm-corrected over the three comparisons).

Everything else — HD95 (a missed tumour counted at :func:`hd95_penalty`), tumours missed,
components, false positives on the normal images never trained on, the Dice drop under test-time
degradations, the effective boundary weight — is secondary and exploratory:
:func:`secondary_table` gives means and sd over runs, :func:`secondary_differences` and
:func:`degradation_differences` the paired differences with the same two intervals and **no
verdict**.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from . import stats
from .analysis import robustness_long
from .runs import RunResult, run_keys
from .schedules import BASELINE, BOUNDARY_STRATEGIES, STRATEGIES

__all__ = ["PRIMARY", "SECONDARY", "hd95_penalty", "per_image_folds", "run_differences", "mean_sizes", "primary_answer",
           "sizing", "normal_fp_rate", "secondary_table", "interval_table", "differences_by_strategy",
           "secondary_differences", "degradation_differences", "paired_runs", "components_table"]

#: The primary endpoint's definition, as the notebook states it before any result.
PRIMARY = dict(metric="dice", images="tumour", checkpoint="final", baseline=BASELINE, margin=0.02, alpha=0.05)


def hd95_penalty(side: int) -> float:
    """The HD95 counted for a tumour the model missed (an empty prediction, where HD95 is undefined):
    the diagonal of the scored ``side`` × ``side`` image, in its pixels — the largest distance two of
    its pixels can be apart, so a missed tumour never scores better than a found one."""
    return float(side) * math.sqrt(2.0)


def _with_fold(table: pd.DataFrame, r: RunResult) -> pd.DataFrame:
    """``table`` with the run's keys (:func:`bl_utils.runs.run_keys`: ``strategy, seed, fold, machine``)
    and ``hd95_penalised``: HD95, or :func:`hd95_penalty` of the run's image size for a missed tumour."""
    missed = ~table.target_empty.astype(bool) & table.pred_empty.astype(bool)
    penalised = table.hd95.where(~missed, hd95_penalty(r.settings.get("image_size", 0))) if "hd95" in table else np.nan
    return table.assign(**run_keys(r), hd95_penalised=penalised)


def per_image_folds(results: Iterable[RunResult], checkpoint: str = "final") -> pd.DataFrame:
    """One row per (run, validation image) at ``checkpoint``: ``strategy, seed, fold, machine, stem, label``,
    the metrics of ``val_per_image.csv`` and ``hd95_penalised`` (see :func:`_with_fold`)."""
    frames = []
    for r in results:
        table = pd.read_csv(r.folder / "val_per_image.csv", dtype={"stem": str, "label": str})
        frames.append(_with_fold(table[table.checkpoint == checkpoint].drop(columns="checkpoint"), r))
    if not frames:
        return pd.DataFrame(columns=["strategy", "seed", "fold", "machine", "stem", "label", "dice", "target_empty"])
    return pd.concat(frames, ignore_index=True)


def run_differences(long: pd.DataFrame, metric: str = "dice", images: str = "tumour",
                    baseline: str = BASELINE) -> pd.DataFrame:
    """``d_j`` of every run j = (seed, fold) and strategy: the mean over the images scored by both
    that strategy and ``baseline`` in run j of ``metric`` (strategy − baseline). ``long``: rows keyed
    by ``seed, fold, machine, stem`` (:func:`per_image_folds`). ``images``: ``"tumour"`` (non-empty
    targets) or ``"all"``. Columns ``strategy, seed, fold, machine, difference, n_images``; runs whose
    baseline is missing, or trained on another kind of machine, are left out."""
    if images not in ("tumour", "all"):
        raise ValueError(f"images must be 'tumour' or 'all', got {images!r}")
    rows = long if images == "all" else long[~long.target_empty.astype(bool)]
    keys = ["seed", "fold", "machine"]
    wide = rows.pivot_table(index=keys + ["stem"], columns="strategy", values=metric)
    out = []
    for strategy in [s for s in wide.columns if s != baseline]:
        if baseline not in wide:
            break
        paired = (wide[strategy] - wide[baseline]).dropna()
        for (seed, fold, machine), values in paired.groupby(level=keys):
            out.append({"strategy": strategy, "seed": seed, "fold": fold, "machine": machine,
                        "difference": float(values.mean()), "n_images": len(values)})
    return pd.DataFrame(out, columns=["strategy", "seed", "fold", "machine", "difference", "n_images"])


def mean_sizes(results: Sequence[RunResult]) -> tuple[float, float]:
    """Mean numbers of training and validation images per run."""
    return (float(np.mean([len(r.metadata["train_stems"]) for r in results])),
            float(np.mean([len(r.metadata["val_stems"]) for r in results])))


def primary_answer(results: Sequence[RunResult], margin: float = PRIMARY["margin"],
                   alpha: float = PRIMARY["alpha"]) -> pd.DataFrame:
    """The primary endpoint over ``results`` (runs of one protocol): one row per boundary-loss
    strategy with at least two paired runs, the columns of :meth:`bl_utils.stats.Verdict.as_row`
    plus ``sd`` (between-run sd of d_j). Empty when there are not enough runs."""
    differences = run_differences(per_image_folds(results, PRIMARY["checkpoint"]), PRIMARY["metric"],
                                  PRIMARY["images"], PRIMARY["baseline"])
    named = {s: d for s, d in differences_by_strategy(differences).items() if len(d) >= 2}
    if not named:
        return pd.DataFrame()
    n_train, n_test = mean_sizes(results)
    verdicts = stats.compare_all(named, n_train=n_train, n_test=n_test, margin=margin, alpha=alpha)
    frame = pd.DataFrame([v.as_row() for v in verdicts])
    return frame.assign(sd=[float(np.std(named[v.name], ddof=1)) for v in verdicts])


def sizing(answer: pd.DataFrame, results: Sequence[RunResult], margin: float = PRIMARY["margin"],
           power: float = 0.8) -> pd.DataFrame:
    """Per strategy of ``answer``: the runs a ± ``margin`` equivalence answer would need at
    ``power`` given the measured sd (``None``: unattainable), the floor of the corrected 95 %
    half-width (:func:`bl_utils.stats.half_width_floor`) and the narrowest margin reachable at
    ``power`` however many runs (:func:`bl_utils.stats.power_floor`; at or above the margin: ``None``)."""
    n_train, n_test = mean_sizes(results)
    rows = []
    for _, row in answer.iterrows():
        rows.append({"strategy": row["name"], "sd": row["sd"], "runs": int(row["n_runs"]),
                     "runs_needed": stats.runs_needed(row["sd"], n_train=n_train, n_test=n_test, margin=margin,
                                                      power=power),
                     "half_width_floor": stats.half_width_floor(row["sd"], n_train=n_train, n_test=n_test),
                     "power_floor": stats.power_floor(row["sd"], n_train=n_train, n_test=n_test, power=power)})
    return pd.DataFrame(rows)


def normal_fp_rate(result: RunResult, checkpoint: str = "final") -> float:
    """The share of the normal images (``normal_images.csv``, never trained on) on which ``result``'s
    model at ``checkpoint`` predicts any tumour pixel; nan when the run has no such file."""
    path = result.folder / "normal_images.csv"
    if not path.is_file():
        return float("nan")
    table = pd.read_csv(path, dtype={"stem": str})
    return float(table[table.checkpoint == checkpoint].false_positive.astype(bool).mean())


def secondary_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Exploratory, per strategy (mean ± sd over runs, no verdict): final Dice on tumour images,
    tumours missed per run, false-positive rate on the normal images never trained on, and the
    effective boundary weight Σ lr·w_B / Σ lr."""
    long = per_image_folds(results, "final")
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
#: (label, column of :func:`per_image_folds`). Lower is better for every one of them.
SECONDARY = (("HD95 px (missed tumour = image diagonal)", "hd95_penalised"),
             ("tumours missed (share)", "pred_empty"),
             ("connected components per prediction", "components"))


def interval_table(named_differences: dict, n_train: float, n_test: float) -> pd.DataFrame:
    """Per name: ``n_runs, mean`` and the 95 % corrected (Nadeau–Bengio) and plain t-intervals of
    the per-run differences ``d`` (shape ``(J,)``); NaN bounds where fewer than two runs. No verdict:
    this is the table of the secondary, exploratory comparisons."""
    rows = []
    for name, d in named_differences.items():
        d = np.asarray(d, dtype=float)
        row = {"strategy": name, "n_runs": len(d), "mean": float(d.mean()) if len(d) else float("nan")}
        for key, make in (("corrected", lambda: stats.corrected_t_interval(d, n_train, n_test)),
                          ("plain", lambda: stats.t_interval(d))):
            ci = make() if len(d) >= 2 else None
            row[f"{key}_low"], row[f"{key}_high"] = (ci.low, ci.high) if ci else (float("nan"), float("nan"))
        rows.append(row)
    return pd.DataFrame(rows, columns=["strategy", "n_runs", "mean", "corrected_low", "corrected_high",
                                       "plain_low", "plain_high"])


def differences_by_strategy(differences: pd.DataFrame) -> dict[str, np.ndarray]:
    """The per-run differences ``d`` of :func:`run_differences` as ``{strategy: d}`` (shape ``(J,)``),
    for each boundary-loss strategy that has any: what :func:`interval_table` takes."""
    return {s: differences[differences.strategy == s].difference.to_numpy()
            for s in BOUNDARY_STRATEGIES if (differences.strategy == s).any()}


def secondary_differences(results: Sequence[RunResult]) -> pd.DataFrame:
    """Each boundary-loss strategy minus CE, paired by (seed, fold) on one kind of machine, on every
    :data:`SECONDARY` endpoint and on the false-positive rate on the normal images never trained on
    (one rate per run): the columns of :func:`interval_table` plus ``endpoint``. Exploratory: intervals, no verdict."""
    if not results:
        return interval_table({}, 1, 1).assign(endpoint=[])
    n_train, n_test = mean_sizes(results)
    long = per_image_folds(results, "final")
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
    rob = robustness_long(results)
    rob = rob[rob.corruption == corruption]
    keys = ["strategy", "seed", "fold", "machine", "stem"]
    clean = rob[rob.level == clean_level].set_index(keys).dice
    at = rob[rob.level == level].set_index(keys)
    long = at[["target_empty"]].assign(drop=at.dice - clean.reindex(at.index)).reset_index()
    n_train, n_test = mean_sizes(results)
    return interval_table(differences_by_strategy(run_differences(long, "drop", "tumour")), n_train, n_test)


def paired_runs(results: Sequence[RunResult]) -> list[RunResult]:
    """The runs of the (seed, fold) for which every strategy among ``results`` has a run, all on one
    kind of machine (:func:`bl_utils.runs.machine_of`): the ones a figure can show side by side,
    image by image."""
    def key(r: RunResult) -> tuple[int, int, str]:
        keys = run_keys(r)
        return keys["seed"], keys["fold"], keys["machine"]

    strategies = {r.strategy for r in results}
    groups: dict[tuple[int, int, str], set] = {}
    for r in results:
        groups.setdefault(key(r), set()).add(r.strategy)
    complete = {k for k, present in groups.items() if present == strategies}
    return [r for r in results if key(r) in complete]


def components_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Per strategy, over every (run, tumour image) at the final epoch: the mean number of connected
    components of the prediction and the shares of predictions with 0 (a missed tumour), 1 and 2 or
    more components. A BUSI tumour is one region: 2 or more means spurious blobs or a fragmented
    tumour. Exploratory: a description, no verdict."""
    long = per_image_folds(results, "final")
    tumour = long[~long.target_empty.astype(bool)]
    table = tumour.groupby("strategy").agg(
        predictions=("components", "size"), mean_components=("components", "mean"),
        none=("components", lambda c: float((c == 0).mean())), one=("components", lambda c: float((c == 1).mean())),
        two_or_more=("components", lambda c: float((c >= 2).mean())))
    table.insert(0, "runs", tumour[["strategy", "seed", "fold"]].drop_duplicates().groupby("strategy").size())
    return table.loc[[s for s in STRATEGIES if s in table.index]]
