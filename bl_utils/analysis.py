"""Analysis of trained runs for notebook 4: loading them, paired bootstrap comparisons, case selection.

The paper's qualitative claim (Kervadec et al. 2021, section 4 and Figure 4 there) is that on hard
validation cases the boundary loss segments better and that "the segmented regions have often less
connected components when using the boundary loss". This module turns the per-image results that
:mod:`bl_utils.train` writes (``val_per_image.csv``, ``predictions.npz``) into the numbers that test
it, without retraining anything:

* :func:`load_runs` finds the four strategies' runs of one ``(data, profile, seed)`` in a results
  folder (or says which command produces them), into a :class:`RunSet`;
* :func:`per_image_table` / :func:`wide` give one row per validation image and strategy / per image;
* :func:`bootstrap_mean_ci` and :func:`paired_bootstrap` compare two strategies image by image:
  the mean difference ``other - baseline`` with a percentile-bootstrap confidence interval, and how
  many images improve, worsen or tie; :func:`compare_to_baseline` does it for several strategies;
* :func:`best_boundary_strategy` and :func:`select_cases` are the stated rules behind Figure 4;
* :func:`normal_image_summary` says what each strategy predicts on images without a tumour;
* :func:`summary_markdown` writes the closing paragraph from computed values only.

Differences are always ``other - baseline`` (e.g. ``ce+bl - ce``): for components and HD95, where
lower is better, a negative difference is an improvement.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .runtime import display_path
from .schedules import STRATEGIES

__all__ = [
    "BOUNDARY_STRATEGIES", "BASELINE", "MissingRunsError", "RunSet", "expected_run_folders",
    "training_command", "load_runs", "load_images", "per_image_table", "wide",
    "bootstrap_mean_ci", "PairedComparison", "paired_bootstrap", "compare_to_baseline",
    "best_boundary_strategy", "select_cases", "figure4_inputs", "COMPARISON_COLUMNS", "normal_image_summary", "dice_table",
    "summary_markdown",
]

#: The strategies that use the boundary loss, candidates for "the best boundary-loss strategy".
BOUNDARY_STRATEGIES = ("ce+bl", "ce+ramp", "rebalance")
#: The baseline every comparison is made against: cross-entropy alone.
BASELINE = "ce"
#: A pixel is predicted tumour where its probability is >= 0.5; ``predictions.npz`` stores
#: ``round(255 p)`` as uint8 (halves to even), and ``round(255 p) >= 128`` exactly when
#: ``255 p >= 127.5``, i.e. ``p >= 0.5``: the masks are those that ``val_per_image.csv`` scored.
UINT8_THRESHOLD = 128


class MissingRunsError(FileNotFoundError):
    """Some strategies have no complete run (no ``run.json``) in the results folder."""


# --------------------------------------------------------------------------------------------
# Loading the runs of notebook 3


@dataclass
class RunSet:
    """The runs of the four strategies for one ``(data, profile, seed)``, aligned image by image.

    Attributes:
        data: the ``DATA`` parameter the runs were looked up with.
        profile: the resolved profile (``"quick"`` or ``"paper"``) of the runs.
        seed: the training seed.
        source: the description of the data the runs were trained on (from ``run.json``).
        runs: strategy -> :class:`bl_utils.train.RunResult`.
        tables: strategy -> the run's ``val_per_image.csv`` plus ``pred_area`` (predicted pixels)
            and ``pred_fraction``, rows in the order of ``stems``.
        probs: strategy -> uint8 ``(N, H, W)`` sigmoid probabilities ×255 of the best checkpoint.
        truth: bool ``(N, H, W)`` ground truth of the validation images.
        stems, labels: the validation images' names and classes (length N, same order everywhere).
        settings: the settings of the baseline run (``image_size``, ``epochs``, ...).
        fallback: True when the runs asked for were missing and :func:`load_runs` fell back to the
            quick profile's (training them if needed).
    """

    data: str
    profile: str
    seed: int
    source: str
    runs: dict
    tables: dict
    probs: dict
    truth: np.ndarray
    stems: list
    labels: list
    settings: dict
    fallback: bool = False
    folders: dict = field(default_factory=dict)

    @property
    def strategies(self) -> list[str]:
        return list(self.runs)

    def index(self, stems: Iterable[str]) -> np.ndarray:
        """Positions of ``stems`` among the validation images (raises ``KeyError`` for an unknown one)."""
        where = {stem: i for i, stem in enumerate(self.stems)}
        return np.array([where[str(stem)] for stem in stems], dtype=int)

    def masks(self, strategy: str) -> np.ndarray:
        """Bool ``(N, H, W)`` predicted masks of ``strategy`` (probability >= 0.5)."""
        return self.probs[strategy] >= UINT8_THRESHOLD


def _resolve(data: str, profile: str, seed: int, strategy: str = "ce"):
    from .train import TrainConfig

    return TrainConfig(strategy=strategy, data=str(data), profile=profile, seed=seed).resolve()


def expected_run_folders(data: str, profile: str, seed: int, out: str | os.PathLike,
                         strategies: Sequence[str] = STRATEGIES) -> dict[str, Path]:
    """strategy -> the folder where :func:`bl_utils.train.train` writes that run (``profile="auto"``
    resolved on this machine's device)."""
    from .train import run_folder

    return {name: run_folder(_resolve(data, profile, seed, name), out) for name in strategies}


def training_command(data: str, profile: str, seed: int, out: str | os.PathLike) -> str:
    """The shell command that trains the four strategies into ``out``."""
    return (f"python -m bl_utils.train --strategy all --profile {profile} --data {shlex.quote(str(data))} "
            f"--seeds {seed} --out {shlex.quote(str(out))}")


def load_runs(data: str, profile: str, seed: int, out: str | os.PathLike,
              strategies: Sequence[str] = STRATEGIES, train_if_missing: bool = False,
              verbose: bool = True) -> RunSet:
    """Load the complete runs of ``strategies`` for ``(data, profile, seed)`` from ``out``.

    Nothing is retrained when the runs are there. When some are missing:
    ``train_if_missing=False`` raises :class:`MissingRunsError` naming the missing folders and the
    commands that produce them; ``True`` prints a loud note and trains them with the **quick**
    profile (minutes on a CPU), whatever ``profile`` asked, then loads those.

    Raises ``ValueError`` when the runs disagree on their validation images or image size (they
    were not trained on the same split, so an image-by-image comparison would be meaningless).
    """
    from .train import TrainConfig, load_run, train_all

    out = Path(out)
    profile = _resolve(data, profile, seed).profile          # "auto" -> "paper" on CUDA, else "quick"
    folders = expected_run_folders(data, profile, seed, out, strategies)
    missing = [name for name, folder in folders.items() if not (folder / "run.json").is_file()]
    fallback = False
    if missing:
        quick = expected_run_folders(data, "quick", seed, out, strategies)
        quick_missing = [n for n, f in quick.items() if not (f / "run.json").is_file()]
        listed = ", ".join(f"{name} ({folders[name]})" for name in missing)
        if not train_if_missing:
            raise MissingRunsError(
                f"No complete run for {listed}. Notebook 4 never retrains: produce the runs with "
                f"notebook 3 (`python -m bl_utils.report --only 03`) or with "
                f"`{training_command(data, profile, seed, out)}`, "
                "or set TRAIN_IF_MISSING = True to train the quick profile here.")
        bar = "!" * 100
        doing = (f"Training the QUICK profile now ({len(quick_missing)} run(s); minutes on a CPU)."
                 if quick_missing else f"Using the QUICK profile's runs in {display_path(quick[strategies[0]].parent.parent)}.")
        print(f"{bar}\nNOTE: no complete run for {listed}.\n{doing} These are NOT the results of notebook 3 "
              f"or of the paper's settings: run `python -m bl_utils.report --only 03` (or "
              f"`{training_command(data, 'paper', seed, out)}` on a GPU) for those.\n{bar}")
        if quick_missing:
            train_all(TrainConfig(data=str(data), profile="quick"), strategies=tuple(quick_missing),
                      seeds=(seed,), out=out, verbose=verbose)
        folders, profile, fallback = quick, "quick", True

    runs = {name: load_run(folder) for name, folder in folders.items()}
    tables, probs = {}, {}
    reference = None
    for name, folder in folders.items():
        with np.load(folder / "predictions.npz") as npz:
            arrays = {key: npz[key] for key in ("probs", "truth", "stems", "labels")}
        stems = [str(s) for s in arrays["stems"]]
        table = pd.read_csv(folder / "val_per_image.csv", dtype={"stem": str, "label": str})
        if list(table.stem) != stems:
            raise ValueError(f"{folder}: val_per_image.csv and predictions.npz list different images.")
        if reference is None:
            reference = (stems, [str(s) for s in arrays["labels"]], arrays["truth"].astype(bool), name)
        elif stems != reference[0] or arrays["truth"].shape != reference[2].shape:
            raise ValueError(f"The runs of {reference[3]} and {name} were validated on different images "
                             f"(or sizes): they cannot be compared image by image. Retrain them together "
                             f"with `{training_command(data, profile, seed, out)} --fresh`.")
        area = (arrays["probs"] >= UINT8_THRESHOLD).reshape(len(stems), -1).sum(axis=1)
        table["pred_area"] = area.astype(int)
        table["pred_fraction"] = area / float(np.prod(arrays["probs"].shape[1:]))
        tables[name], probs[name] = table, arrays["probs"]
    base = runs[strategies[0]]
    return RunSet(data=str(data), profile=profile, seed=seed,
                  source=str(base.metadata.get("data", data)), runs=runs, tables=tables, probs=probs,
                  truth=reference[2], stems=reference[0], labels=reference[1],
                  settings=dict(base.settings), fallback=fallback, folders=folders)


def load_images(runset: RunSet) -> np.ndarray:
    """uint8 ``(N, H, W)`` validation images of ``runset``, in its order, reloaded from the data.

    Uses :func:`bl_utils.data.load_busi` with the runs' image size (cached, fast) and matches by
    stem. Raises ``ValueError`` when an image is missing or its mask differs from the runs' truth
    (the data changed since training).
    """
    from .data import load_busi, resolve_data

    settings = runset.settings
    dataset = load_busi(resolve_data(runset.data).root, image_size=settings["image_size"],
                        max_tumour_fraction=settings.get("max_tumour_fraction"),
                        distance_maps=False, progress=False)
    where = {stem: i for i, stem in enumerate(dataset.meta.stem)}
    absent = [s for s in runset.stems if s not in where]
    if absent:
        raise ValueError(f"{len(absent)} validation image(s) of the runs are not in the data "
                         f"{runset.data!r} (e.g. {absent[:3]}): the runs were trained on other data.")
    index = np.array([where[s] for s in runset.stems], dtype=int)
    if not np.array_equal(dataset.masks[index], runset.truth):
        raise ValueError(f"The masks of {runset.data!r} differ from those the runs were validated on: "
                         "the data changed since training; retrain (notebook 3).")
    return dataset.images[index]


def per_image_table(runset: RunSet) -> pd.DataFrame:
    """Long table: one row per (validation image, strategy), columns ``strategy`` then those of
    ``val_per_image.csv`` (``stem, label, dice, iou, hd95, assd, components, target_empty,
    pred_empty``) and ``pred_area, pred_fraction``."""
    frames = [table.assign(strategy=name) for name, table in runset.tables.items()]
    long = pd.concat(frames, ignore_index=True)
    return long[["strategy"] + [c for c in long.columns if c != "strategy"]]


def wide(long: pd.DataFrame, metric: str, strategies: Sequence[str] | None = None) -> pd.DataFrame:
    """``metric`` as one row per image (index ``stem``) and one column per strategy.

    Raises ``ValueError`` when the strategies were not evaluated on the same images.
    """
    strategies = list(strategies) if strategies is not None else list(dict.fromkeys(long.strategy))
    stems = {name: list(long.stem[long.strategy == name]) for name in strategies}
    first = stems[strategies[0]]
    for name, listed in stems.items():
        if not listed:
            raise ValueError(f"no rows for strategy {name!r}; the table has {sorted(set(long.strategy))}.")
        if len(set(listed)) != len(listed) or sorted(listed) != sorted(first):
            raise ValueError(f"The strategies {strategies[0]} and {name} were not evaluated on the same "
                             "images (once each): they cannot be compared image by image.")
    table = long[long.strategy.isin(strategies)].pivot(index="stem", columns="strategy", values=metric)
    return table.loc[first, strategies]


# --------------------------------------------------------------------------------------------
# Paired bootstrap


def bootstrap_mean_ci(values, n_resamples: int = 2000, confidence: float = 0.95,
                      seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean of ``values`` (1-D, finite).

    Draws ``n_resamples`` samples of size ``n`` with replacement, as
    ``numpy.random.default_rng(seed).integers(0, n, size=(n_resamples, n))`` (so the same seed gives
    the same interval), takes each sample's mean, and returns the ``(1 - confidence) / 2`` and
    ``(1 + confidence) / 2`` quantiles of those means (linear interpolation, ``numpy.quantile``'s
    default; ``scipy.stats.bootstrap(..., method="percentile")`` computes the same interval with
    its own random draws). One value gives ``(v, v)``; no value gives ``(nan, nan)``.
    Raises ``ValueError`` on non-finite values, ``n_resamples < 1`` or ``confidence`` outside (0, 1).
    """
    x = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(x)):
        raise ValueError("bootstrap_mean_ci needs finite values; drop NaN/inf first (paired_bootstrap "
                         "does, and counts them).")
    if not (isinstance(n_resamples, (int, np.integer)) and n_resamples >= 1):
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence!r}")
    n = len(x)
    if n == 0:
        return float("nan"), float("nan")
    index = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    means = x[index].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


#: The columns of :func:`compare_to_baseline` worth showing in a table.
COMPARISON_COLUMNS = ["strategy", "n", "n_excluded", "mean_baseline", "mean_other", "mean_difference",
                      "ci_low", "ci_high", "improved", "worsened", "tied", "verdict"]


@dataclass(frozen=True)
class PairedComparison:
    """``other`` against ``baseline`` on the same images (differences ``other - baseline``).

    ``n``: images compared (both values finite); ``n_excluded``: images left out because a value was
    NaN (e.g. HD95 when exactly one mask is empty). ``improved`` / ``worsened`` / ``tied``: images
    where ``other`` is better / worse / equal, with "better" meaning lower when
    ``lower_is_better``. ``ci_low, ci_high``: the bootstrap interval of ``mean_difference``.
    """

    n: int
    n_excluded: int
    mean_baseline: float
    mean_other: float
    mean_difference: float
    ci_low: float
    ci_high: float
    improved: int
    worsened: int
    tied: int
    lower_is_better: bool
    confidence: float
    n_resamples: int

    @property
    def verdict(self) -> str:
        """``"better"`` / ``"worse"`` when the interval excludes 0 on one side, else ``"unclear"``."""
        if self.n == 0 or not (self.ci_high < 0 or self.ci_low > 0):
            return "unclear"
        lower = self.ci_high < 0
        return "better" if lower == self.lower_is_better else "worse"

    def as_dict(self) -> dict:
        return dict(dataclasses.asdict(self), verdict=self.verdict)


def paired_bootstrap(baseline, other, lower_is_better: bool = True, n_resamples: int = 2000,
                     confidence: float = 0.95, seed: int = 0) -> PairedComparison:
    """Compare two strategies' per-image values (same images, same order; 1-D of equal length).

    Pairs where either value is NaN are dropped and counted in ``n_excluded``; the interval is
    :func:`bootstrap_mean_ci` of the remaining differences ``other - baseline`` (resampling images,
    so the pairing is kept). Raises ``ValueError`` on different lengths or infinite values.
    """
    a = np.asarray(baseline, dtype=float).ravel()
    b = np.asarray(other, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap needs one value per image for both, got {a.size} and {b.size}.")
    if np.isinf(a).any() or np.isinf(b).any():
        raise ValueError("paired_bootstrap: infinite values; use NaN for undefined ones.")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    d = b - a
    low, high = bootstrap_mean_ci(d, n_resamples=n_resamples, confidence=confidence, seed=seed)
    better = d < 0 if lower_is_better else d > 0
    worse = d > 0 if lower_is_better else d < 0
    nan = float("nan")
    return PairedComparison(
        n=int(d.size), n_excluded=int((~keep).sum()),
        mean_baseline=float(a.mean()) if a.size else nan, mean_other=float(b.mean()) if b.size else nan,
        mean_difference=float(d.mean()) if d.size else nan, ci_low=low, ci_high=high,
        improved=int(better.sum()), worsened=int(worse.sum()), tied=int((d == 0).sum()),
        lower_is_better=lower_is_better, confidence=confidence, n_resamples=n_resamples)


def compare_to_baseline(long: pd.DataFrame, metric: str, baseline: str = BASELINE,
                        others: Sequence[str] = BOUNDARY_STRATEGIES, images: str = "all",
                        lower_is_better: bool = True, n_resamples: int = 2000,
                        confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """:func:`paired_bootstrap` of each of ``others`` against ``baseline`` on ``metric``.

    ``long``: a :func:`per_image_table`. ``images``: ``"all"``, ``"tumour"`` (ground truth not empty)
    or ``"normal"`` (empty ground truth). Returns one row per strategy with the columns of
    :class:`PairedComparison` plus ``strategy, metric, images, verdict``.
    """
    if images not in ("all", "tumour", "normal"):
        raise ValueError(f"images must be 'all', 'tumour' or 'normal', got {images!r}")
    table = wide(long, metric, [baseline, *others])
    empty = wide(long, "target_empty", [baseline]).iloc[:, 0].astype(bool)
    if images != "all":
        table = table[~empty] if images == "tumour" else table[empty]
    rows = []
    for name in others:
        result = paired_bootstrap(table[baseline], table[name], lower_is_better=lower_is_better,
                                  n_resamples=n_resamples, confidence=confidence, seed=seed)
        rows.append(dict(strategy=name, metric=metric, images=images, **result.as_dict()))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Rules behind Figure 4


def best_boundary_strategy(runs: dict, candidates: Sequence[str] = BOUNDARY_STRATEGIES) -> str:
    """The candidate with the highest best validation Dice (``run.best["val_dice"]``).

    ``runs``: strategy -> :class:`bl_utils.train.RunResult` (or anything with a ``best`` dict).
    Ties go to the first in ``candidates`` order. Raises ``ValueError`` when no candidate is in ``runs``.
    """
    present = [name for name in candidates if name in runs]
    if not present:
        raise ValueError(f"none of the boundary-loss strategies {tuple(candidates)} is among the runs "
                         f"{tuple(runs)}.")
    return max(present, key=lambda name: (runs[name].best["val_dice"], -present.index(name)))


def select_cases(baseline: pd.DataFrame, other: pd.DataFrame, n_cases: int = 4, metric: str = "dice",
                 tumour_only: bool = True) -> pd.DataFrame:
    """The images with the largest differences in ``metric`` both ways (a rule, not a hand pick).

    ``baseline`` and ``other`` are per-image tables of the same images (``val_per_image.csv``: at
    least ``stem, label, target_empty`` and ``metric``; higher ``metric`` is better). With
    ``d = other - baseline``: the ``ceil(n_cases / 2)`` images with the largest ``d`` (where ``other``
    gains most) and then the ``floor(n_cases / 2)`` with the smallest ``d`` (where ``baseline``
    gains most), never the same image twice; ties are broken by stem. ``tumour_only`` keeps the
    images whose ground truth is not empty (Dice on a normal image is only 0 or 1).

    Returns a DataFrame (one row per case, in that order) with ``stem, label, <metric>_baseline,
    <metric>_other, difference, side`` (``"other better"``, ``"baseline better"`` or ``"tie"``) and,
    when present, ``components_baseline, components_other``. Fewer rows when fewer images qualify.
    Raises ``ValueError`` when the tables hold different images, or ``n_cases < 1``.
    """
    if not (isinstance(n_cases, (int, np.integer)) and n_cases >= 1):
        raise ValueError(f"n_cases must be a positive integer, got {n_cases!r}")
    if sorted(baseline.stem) != sorted(other.stem) or baseline.stem.duplicated().any():
        raise ValueError("select_cases: the two tables must hold the same images, once each.")
    columns = ["stem", "label", "target_empty", metric] + (["components"] if "components" in baseline
                                                             and "components" in other else [])
    table = baseline[columns].merge(other[["stem", metric] + columns[4:]], on="stem",
                                    suffixes=("_baseline", "_other"))
    if tumour_only:
        table = table[~table.target_empty.astype(bool)]
    table = table.assign(difference=table[f"{metric}_other"] - table[f"{metric}_baseline"])
    table = table[table.difference.notna()]
    n_top = min(math.ceil(n_cases / 2), len(table))
    top = table.sort_values(["difference", "stem"], ascending=[False, True], kind="mergesort").head(n_top)
    rest = table.drop(top.index)
    bottom = rest.sort_values(["difference", "stem"], ascending=[True, True], kind="mergesort")
    chosen = pd.concat([top, bottom.head(min(n_cases - n_top, len(rest)))])
    chosen = chosen.assign(side=np.select([chosen.difference > 0, chosen.difference < 0],
                                          ["other better", "baseline better"], "tie"))
    keep = ["stem", "label", f"{metric}_baseline", f"{metric}_other", "difference", "side"]
    keep += [c for c in ("components_baseline", "components_other") if c in chosen]
    return chosen[keep].reset_index(drop=True)


def figure4_inputs(runset: RunSet, cases: pd.DataFrame, strategies: Sequence[str],
                   images: np.ndarray | None = None) -> dict:
    """The arguments of :func:`bl_utils.plots.plot_qualitative_cases` for the rows of ``cases``.

    ``cases``: :func:`select_cases`; ``strategies``: the prediction columns (e.g. ``("ce", best)``);
    ``images``: :func:`load_images` of ``runset`` (loaded when ``None``). Row titles give the stem,
    the class and the Dice difference (``other - baseline``).
    """
    images = load_images(runset) if images is None else images
    rows = runset.index(cases.stem)
    titles = [f"{stem}{'' if str(label) in str(stem) else f' ({label})'}\nΔDice {d:+.2f}"
              for stem, label, d in zip(cases.stem, cases.label, cases.difference)]
    return {"images": images[rows], "truths": runset.truth[rows],
            "predictions": {name: runset.masks(name)[rows] for name in strategies}, "row_titles": titles}


# --------------------------------------------------------------------------------------------
# Normal images and Table 1


def normal_image_summary(long: pd.DataFrame, strategies: Sequence[str] | None = None) -> pd.DataFrame:
    """What each strategy predicts on the images without a tumour (empty ground truth).

    Columns: ``strategy, normal_images, empty_predictions`` (nothing predicted: the right answer),
    ``with_prediction``, ``mean_area`` (predicted pixels per image, all normal images),
    ``mean_area_fraction``, ``mean_area_when_predicted`` (over the images with a prediction; NaN
    when none) and ``mean_components``.
    """
    strategies = list(strategies) if strategies is not None else list(dict.fromkeys(long.strategy))
    rows = []
    for name in strategies:
        normal = long[(long.strategy == name) & long.target_empty.astype(bool)]
        predicted = normal[~normal.pred_empty.astype(bool)]
        rows.append({
            "strategy": name, "normal_images": len(normal),
            "empty_predictions": int(normal.pred_empty.astype(bool).sum()),
            "with_prediction": len(predicted),
            "mean_area": float(normal.pred_area.mean()) if len(normal) else float("nan"),
            "mean_area_fraction": float(normal.pred_fraction.mean()) if len(normal) else float("nan"),
            "mean_area_when_predicted": float(predicted.pred_area.mean()) if len(predicted) else float("nan"),
            "mean_components": float(normal.components.mean()) if len(normal) else float("nan"),
        })
    return pd.DataFrame(rows)


def dice_table(runset: RunSet) -> pd.DataFrame:
    """Table 1 of this report beside the seed study's: :func:`bl_utils.train.results_table` of the
    runs plus ``rank`` (1 = best validation Dice here) and ``seed_study_rank``."""
    from .train import results_table

    table = results_table(list(runset.runs.values()))
    if (table.best_epoch % 1 == 0).all():    # one seed: an epoch number, not a mean
        table["best_epoch"] = table.best_epoch.astype(int)
    table["rank"] = table.best_dice.rank(ascending=False, method="min").astype(int)
    table["seed_study_rank"] = table.seed_study_dice.rank(ascending=False, method="min").astype(int)
    return table


# --------------------------------------------------------------------------------------------
# The closing summary


def _signed(value: float, digits: int) -> str:
    """``value`` with a sign, and no "-0.000" for a difference that rounds to zero."""
    return f"{(round(float(value), digits) + 0.0):+.{digits}f}"


def _images(count) -> str:
    return f"{int(count)} image{'' if int(count) == 1 else 's'}"


def _interval(row, digits: int = 2) -> str:
    return (f"{_signed(row['mean_difference'], digits)} "
            f"[{_signed(row['ci_low'], digits)}, {_signed(row['ci_high'], digits)}]")


def _difference(verdict: str, name: str) -> str:
    return {"better": f"{name} is better (the interval excludes 0)",
            "worse": f"{name} is worse (the interval excludes 0)",
            "unclear": "no clear difference (the interval includes 0)"}[verdict]


def _claim(verdict: str) -> str:
    return {"better": "supports", "worse": "contradicts", "unclear": "neither supports nor contradicts"}[verdict]


def summary_markdown(runset: RunSet, best: str, table: pd.DataFrame, components: pd.DataFrame,
                     hd95: pd.DataFrame, normal: pd.DataFrame, cases: pd.DataFrame | None = None) -> str:
    """The closing paragraph of notebook 4, as Markdown, written from computed values only.

    ``table``: :func:`dice_table`; ``components`` / ``hd95``: :func:`compare_to_baseline` on all /
    tumour images; ``normal``: :func:`normal_image_summary`; ``cases``: :func:`select_cases`.
    """
    s = runset.settings
    n = len(runset.stems)
    n_normal = int(sum(runset.tables[BASELINE].target_empty.astype(bool)))
    synthetic = str(runset.data).strip().lower() == "synthetic"
    kind = "SYNTHETIC data (not BUSI; the numbers say nothing about the paper)" if synthetic \
        else "The real BUSI data"
    dice = table.set_index("strategy")
    ce, bl = dice.loc[BASELINE], dice.loc[best]
    comp = components.set_index("strategy").loc[best]
    h = hd95.set_index("strategy").loc[best]
    norm = normal.set_index("strategy")
    seed_best = max(dice.index, key=lambda k: dice.loc[k, "seed_study_dice"])
    our_best = dice.best_dice.idxmax()
    lines = [
        f"**Data and runs.** {kind}: {n} validation images ({n - n_normal} with a tumour, {n_normal} "
        f"normal), profile **{runset.profile}** ({s['image_size']}×{s['image_size']}, {s['encoder']}, "
        f"{s['epochs']} epochs), seed {runset.seed}"
        + (" — the QUICK profile's runs, used (and trained if needed) by this notebook because the runs "
           "asked for were missing." if runset.fallback else "."),
        "**Table 1.** Best validation Dice: "
        + ", ".join(f"{k} {dice.loc[k, 'best_dice']:.3f} (seed study {dice.loc[k, 'seed_study_dice']:.3f})"
                    for k in dice.index)
        + f". Best here: {our_best}; best in the seed study: {seed_best}; the spread between strategies is "
        f"{dice.best_dice.max() - dice.best_dice.min():.3f} here and "
        f"{dice.seed_study_dice.max() - dice.seed_study_dice.min():.3f} in the seed study.",
        f"**Best boundary-loss strategy** (highest best validation Dice among "
        f"{', '.join(BOUNDARY_STRATEGIES)}): {best}, {bl['best_dice']:.3f} against {ce['best_dice']:.3f} "
        f"for CE ({_signed(bl['best_dice'] - ce['best_dice'], 3)}).",
    ]
    if cases is not None and len(cases):
        wins = int((cases.side == "other better").sum())
        lines.append(f"**Figure 4** shows the {wins} tumour image(s) where {best} gains the most Dice over CE "
                     f"(up to {_signed(cases.difference.max(), 2)}) and the {len(cases) - wins} where it loses the most "
                     f"(down to {_signed(cases.difference.min(), 2)}).")
    lines += [
        f"**Connected components** ({best} − CE, all {comp['n']} images, mean [{comp['confidence']:.0%} "
        f"bootstrap CI]): {_interval(comp)}; fewer components on {_images(comp['improved'])}, more on "
        f"{comp['worsened']}, equal on {comp['tied']}. This {_claim(comp['verdict'])} the paper's remark "
        "that the boundary loss gives fewer connected components.",
        f"**HD95** ({best} − CE, the {h['n']} tumour images where both predictions are non-empty; "
        f"{h['n_excluded']} left out): {_interval(h, 1)} pixels; better on {h['improved']}, worse on "
        f"{h['worsened']}: {_difference(h['verdict'], best)}.",
        "**All boundary-loss strategies − CE** (mean [CI], verdict). Components: " + "; ".join(
            f"{row['strategy']} {_interval(row)} ({row['verdict']})" for _, row in components.iterrows())
        + ". HD95 on tumour images: " + "; ".join(
            f"{row['strategy']} {_interval(row, 1)} ({row['verdict']})" for _, row in hd95.iterrows()) + ".",
        f"**Normal images** ({int(norm.loc[BASELINE, 'normal_images'])}): empty predictions "
        + ", ".join(f"{k} {int(norm.loc[k, 'empty_predictions'])}" for k in norm.index)
        + "; mean predicted area "
        + ", ".join(f"{k} {norm.loc[k, 'mean_area']:.0f} px" for k in norm.index) + ".",
    ]
    fewer = [row["strategy"] for _, row in components.iterrows() if row["verdict"] == "better"]
    more = [row["strategy"] for _, row in components.iterrows() if row["verdict"] == "worse"]
    lines.append(
        f"**Conclusion.** On {'this synthetic stand-in' if synthetic else 'BUSI'} with the {runset.profile} "
        f"profile, the boundary loss gives clearly fewer components than CE for "
        f"{', '.join(fewer) if fewer else 'no strategy'} and clearly more for {', '.join(more) if more else 'none'}; "
        f"the best boundary-loss strategy's best Dice differs from CE's by {_signed(bl['best_dice'] - ce['best_dice'], 3)} "
        f"(seed study: {_signed(dice.loc[best, 'seed_study_dice'] - dice.loc[BASELINE, 'seed_study_dice'], 3)}), and "
        f"its HD95 difference is {_signed(h['mean_difference'], 1)} pixels ({h['verdict']})."
        + f" All runs use one seed ({runset.seed}): differences in best Dice of this size may change with it.")
    return "\n\n".join(lines)
