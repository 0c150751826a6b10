"""The report's sentences, composed in one place from the values the analyses return.

The analyses (:mod:`bl_utils.analysis`, :mod:`bl_utils.crossval`, :mod:`bl_utils.reproduction`)
return frames and dataclasses; the functions here turn them into the plain words the notebooks show
and the README repeats. A :class:`Summary` keeps its paragraphs and its answer apart, so that no
notebook has to cut a text back into pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .analysis import interval
from .runs import ODONNAT_PHAM_TABLE1, RunResult, runs_frame

__all__ = ["Summary", "verdict_sentence", "ablation_sentence", "paper_profile_sentence", "study_summary",
           "robustness_summary"]


@dataclass(frozen=True)
class Summary:
    """A notebook's closing words: ``parts`` (Markdown paragraphs) and ``answer`` (the part that
    answers the question, recorded with :func:`bl_utils.study.write_answer`)."""

    parts: tuple[str, ...]
    answer: str

    @property
    def markdown(self) -> str:
        return "\n\n".join(self.parts)


def verdict_sentence(row, what: str, unit: str = "") -> str:
    """One plain sentence about a :func:`paired_difference` result."""
    name, seeds = row["strategy"], row["seeds"]
    diff = f"{interval(row)}{unit}"
    if row["verdict"] == "no clear difference":
        return (f"{name} vs CE on {what}: {diff} over {seeds} seed(s) — the interval includes 0: "
                "not distinguishable from run-to-run noise.")
    return f"{name} vs CE on {what}: {diff} over {seeds} seed(s) — {row['verdict']} than CE, the interval excludes 0."


def ablation_sentence(title: str, table: pd.DataFrame) -> str:
    """One ablation's effect on the final Dice on tumour images, strategy by strategy (:func:`bl_utils.analysis.ablation_table`)."""
    verdicts = {row.strategy: (row["Δ dice [95% CI]"], row["verdict (dice)"]) for _, row in table.iterrows()}
    parts = [f"{name} {diff} ({verdict})" for name, (diff, verdict) in verdicts.items()]
    return f"**{title}** — change in final Dice on tumour images: " + "; ".join(parts) + "."


def paper_profile_sentence(paper: list[RunResult], floor: float = 0.5) -> str:
    """The paper-profile runs in one sentence: per run, the best-epoch Dice (Odonnat & Pham's metric),
    the Dice on tumour images at that epoch and the tumours missed there, then which runs (if any) fall
    below ``floor`` Dice on tumour images at their best epoch — a run that stops predicting tumours
    can still score well on the normal images, so the all-image metric alone hides a collapse."""
    frame = runs_frame(paper)
    seeds = frame.seed.nunique()
    parts = [f"{row.strategy}{'' if seeds == 1 else f' seed {row.seed}'} {row.best_val_dice:.3f} "
             f"({row.best_dice_tumour:.3f}; {row.best_tumour_missed:.0f} of {row.best_n_tumour:.0f} missed)"
             for row in frame.itertuples()]
    low = frame[frame.best_dice_tumour < floor]
    verdict = (f"No run falls below {floor} Dice on tumour images at its best epoch." if low.empty else
               f"Below {floor} Dice on tumour images at the best epoch: "
               + ", ".join(f"{row.strategy} seed {row.seed} ({row.best_dice_tumour:.3f})" for row in low.itertuples())
               + ".")
    return (f"**Paper profile** ({seeds} seed{'s' if seeds > 1 else ''}; best-epoch Dice, and in brackets the Dice "
            f"on tumour images at that epoch and the tumours missed): " + ", ".join(parts) + ". " + verdict)


def study_summary(table1: list[RunResult], comparisons: pd.DataFrame, ablations: dict,
                  paper: list[RunResult], data_name: str) -> Summary:
    """The closing paragraphs of notebook 3, written from computed values only; its ``answer`` is
    the verdict against CE and what it means (the second and third paragraphs)."""
    frame = runs_frame(table1)
    best = frame.groupby("strategy", sort=False).best_val_dice.mean()
    seeds = frame.groupby("strategy").seed.nunique().min()
    theirs = [ODONNAT_PHAM_TABLE1[k] for k in best.index if k in ODONNAT_PHAM_TABLE1]
    dice = comparisons[comparisons.comparison == "final Dice, tumour images"]
    clear = dice[dice.verdict != "no clear difference"]
    lines = [f"**Table 1** ({data_name}, {table1[0].settings['profile']} profile, {seeds} seeds per strategy): "
             f"best-epoch Dice from {best.min():.3f} to {best.max():.3f} across the four strategies (spread "
             f"{best.max() - best.min():.3f}); Odonnat & Pham: {min(theirs):.3f}–{max(theirs):.3f} (spread "
             f"{max(theirs) - min(theirs):.3f}), one run each."]
    lines.append("**Against CE, final Dice on tumour images:** " + "; ".join(
        f"{row.strategy} {row['difference [95% CI]']} ({row.verdict})" for _, row in dice.iterrows()) + ".")
    if clear.empty:
        lines.append("No boundary-loss strategy differs from CE by more than run-to-run noise, which agrees with "
                     "Odonnat & Pham's conclusion that the boundary loss brings no significant gain on BUSI — and "
                     "their 0.005 spread between strategies is far inside the seed-to-seed spread measured here.")
    else:
        lines.append("Distinguishable from run-to-run noise: " + ", ".join(
            f"{row.strategy} ({row.verdict})" for _, row in clear.iterrows())
            + "; Odonnat & Pham, with one run per strategy, could not have seen such a difference either way.")
    other = comparisons[(comparisons.comparison != "final Dice, tumour images") & (comparisons.metric != "dice")
                        & (comparisons.verdict != "no clear difference")]
    if not other.empty:
        missed = frame.groupby("strategy", sort=False).final_tumour_missed.mean()
        lines.append("**Beyond Dice**, differences from CE that stand out from the noise: " + "; ".join(
            f"{row.strategy}, {row.comparison}: {row['difference [95% CI]']} ({row.verdict})" for _, row in other.iterrows())
            + ". Tumours missed at the final epoch (of the validation tumours, mean per run): " + ", ".join(
            f"{k} {v:.1f}" for k, v in missed.items()) + " — HD95 is measured only on the tumours found.")
    lines += [ablation_sentence(title, table) for title, table in ablations.items()]
    if paper:
        lines.append(paper_profile_sentence(paper))
    return Summary(tuple(lines), " ".join(lines[1:3]))


def robustness_summary(speckle: pd.DataFrame, gain: pd.DataFrame, noise_tables: dict,
                       same_masks: pd.DataFrame | None = None) -> Summary:
    """Notebook 5's answer in plain words, from :func:`degradation_vs_baseline` at the strongest
    levels, :func:`annotation_noise_table` per jitter strength (the verdicts) and, if given,
    :func:`annotation_noise_vs_ce` (Dice against CE trained on the same jittered masks); its
    ``answer`` is the last paragraph after "**Answer:**"."""
    def part(table):
        return "; ".join(f"{row.strategy} {interval(row)} ({row.verdict})" for _, row in table.iterrows())

    settings = {"test-time speckle": speckle, "a test-time gain error": gain,
                **{f"contours jittered by {k} in training": t for k, t in noise_tables.items()}}
    lines = [f"**Speckle** (strongest level), Dice drop relative to CE's: {part(speckle)}.",
             f"**Gain** (strongest level), Dice drop relative to CE's: {part(gain)}."]
    lines += [f"**Contours jittered by {k}**, Dice drop relative to CE's: {part(t)}." for k, t in noise_tables.items()]
    same_dice = None if same_masks is None else same_masks[same_masks.comparison == "final Dice, tumour images"]
    if same_dice is not None:
        lines += [f"**Trained on contours jittered by {k}**, final Dice on tumour images against CE trained on the "
                  f"same masks: {part(g)}." for k, g in same_dice.groupby("jitter", sort=False)]
    if not noise_tables:
        lines.append("**Contour errors in training:** not measured yet — their runs are missing (see above).")
    found = {verdict: [f"{row.strategy} ({name})" for name, t in settings.items() for _, row in t.iterrows()
                       if row.verdict == verdict] for verdict in ("better", "worse")}
    if not found["better"] and not found["worse"]:
        lines.append(f"**Answer:** no measurable difference — no boundary-loss strategy degrades less (or more) than "
                     f"CE beyond run-to-run noise, under {', '.join(list(settings)[:-1])} or {list(settings)[-1]}.")
    else:
        said = [f"Degrades {word} than CE beyond run-to-run noise: {', '.join(found[verdict])}."
                for verdict, word in (("better", "less"), ("worse", "more")) if found[verdict]]
        lines.append("**Answer:** " + " ".join(said + ["Elsewhere the differences stay within run-to-run noise."]))
    if same_dice is not None and not same_dice.empty:
        clear = [f"{row.strategy} {row.verdict} ({row.jitter})" for _, row in same_dice.iterrows()
                 if row.verdict != "no clear difference"]
        lines[-1] += (" Against CE trained on the same jittered masks (no clean run, no pairing across machines), final "
                      f"Dice on tumour images differs beyond noise for: {', '.join(clear) or 'none'}.")
    return Summary(tuple(lines), lines[-1].split("**Answer:**", 1)[1])
