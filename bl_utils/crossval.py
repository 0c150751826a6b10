"""The study's answer: each boundary-loss strategy against CE under repeated cross-validation.

The primary endpoint, fixed before any result: **per-image Dice on the tumour images at the final
epoch, each boundary-loss strategy minus CE, paired by (seed, fold)**. One run j = (seed, fold)
gives ``d_j``, the mean over that fold's validation images of the paired difference. Runs of
repeated cross-validation share most of their training images, so the J values are not independent:
the interval is Nadeau & Bengio's corrected resampled t (variance × (1/J + n_test/n_train)), the
plain t-interval beside it; verdicts come from :func:`bl_utils.stats.compare_all` (TOST against a
± margin and the two-sided test against 0, each Holm-corrected over the three comparisons).

Everything else — tumours missed, false positives on the normal images never trained on, the
effective boundary weight — is secondary: :func:`secondary_table` gives means and plain intervals,
no verdict.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from . import stats
from .runs import RunResult
from .schedules import BASELINE, BOUNDARY_STRATEGIES, STRATEGIES

__all__ = ["PRIMARY", "per_image_folds", "run_differences", "primary_answer", "sizing", "secondary_table"]

#: The primary endpoint's definition, as the notebook states it before any result.
PRIMARY = dict(metric="dice", images="tumour", checkpoint="final", baseline=BASELINE, margin=0.02, alpha=0.05)


def per_image_folds(results: Iterable[RunResult], checkpoint: str = "final") -> pd.DataFrame:
    """One row per (run, validation image) at ``checkpoint``: ``strategy, seed, fold, stem, label``
    and the metrics of ``val_per_image.csv`` (``fold`` is -1 for runs without folds)."""
    frames = []
    for r in results:
        table = pd.read_csv(r.folder / "val_per_image.csv", dtype={"stem": str, "label": str})
        table = table[table.checkpoint == checkpoint].drop(columns="checkpoint")
        frames.append(table.assign(strategy=r.strategy, seed=r.seed, fold=int(r.settings.get("fold", -1))))
    if not frames:
        return pd.DataFrame(columns=["strategy", "seed", "fold", "stem", "label", "dice", "target_empty"])
    return pd.concat(frames, ignore_index=True)


def run_differences(long: pd.DataFrame, metric: str = "dice", images: str = "tumour",
                    baseline: str = BASELINE) -> pd.DataFrame:
    """``d_j`` of every run j = (seed, fold) and strategy: the mean over the images scored by both
    that strategy and ``baseline`` in run j of ``metric`` (strategy − baseline). ``images``:
    ``"tumour"`` (non-empty targets) or ``"all"``. Columns ``strategy, seed, fold, difference,
    n_images``; runs whose baseline is missing are left out."""
    if images not in ("tumour", "all"):
        raise ValueError(f"images must be 'tumour' or 'all', got {images!r}")
    rows = long if images == "all" else long[~long.target_empty.astype(bool)]
    wide = rows.pivot_table(index=["seed", "fold", "stem"], columns="strategy", values=metric)
    out = []
    for strategy in [s for s in wide.columns if s != baseline]:
        if baseline not in wide:
            break
        paired = (wide[strategy] - wide[baseline]).dropna()
        for (seed, fold), values in paired.groupby(level=["seed", "fold"]):
            out.append({"strategy": strategy, "seed": seed, "fold": fold, "difference": float(values.mean()),
                        "n_images": len(values)})
    return pd.DataFrame(out, columns=["strategy", "seed", "fold", "difference", "n_images"])


def _sizes(results: Sequence[RunResult]) -> tuple[float, float]:
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
    named = {s: differences[differences.strategy == s].difference.to_numpy() for s in BOUNDARY_STRATEGIES}
    named = {s: d for s, d in named.items() if len(d) >= 2}
    if not named:
        return pd.DataFrame()
    n_train, n_test = _sizes(results)
    verdicts = stats.compare_all(named, n_train=n_train, n_test=n_test, margin=margin, alpha=alpha)
    frame = pd.DataFrame([v.as_row() for v in verdicts])
    return frame.assign(sd=[float(np.std(named[v.name], ddof=1)) for v in verdicts])


def sizing(answer: pd.DataFrame, results: Sequence[RunResult], margin: float = PRIMARY["margin"],
           power: float = 0.8) -> pd.DataFrame:
    """Per strategy of ``answer``: the runs a ± ``margin`` equivalence answer would need at
    ``power`` given the measured sd (``None``: unattainable, the corrected half-width's floor is
    above the margin), and that floor."""
    n_train, n_test = _sizes(results)
    rows = []
    for _, row in answer.iterrows():
        rows.append({"strategy": row["name"], "sd": row["sd"], "runs": int(row["n_runs"]),
                     "runs_needed": stats.runs_needed(row["sd"], n_train=n_train, n_test=n_test, margin=margin,
                                                      power=power),
                     "half_width_floor": stats.half_width_floor(row["sd"], n_train=n_train, n_test=n_test)})
    return pd.DataFrame(rows)


def _normal_fp(result: RunResult, checkpoint: str = "final") -> float:
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
                           "normal_fp_rate": _normal_fp(r),
                           "effective_w_boundary": r.final.get("effective_w_boundary", float("nan"))}
                          for r in results]).set_index(["strategy", "seed", "fold"])
    joined = per_run.join(extra)
    table = joined.groupby("strategy").agg(["mean", "std"])
    table.columns = [f"{a} {b}" for a, b in table.columns]
    order = [s for s in STRATEGIES if s in table.index]
    return table.loc[order].assign(runs=joined.groupby("strategy").size().loc[order])
