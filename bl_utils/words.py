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

__all__ = ["GET_BUSI", "data_statement", "Summary", "verdict_sentence", "ablation_sentence", "paper_profile_sentence", "study_summary",
           "robustness_summary", "primary_verdict", "primary_summary", "exploratory_sentence", "run_scope",
           "their_noise_sentence"]


#: What a reader without the images does to get them (one line, shown where a cell needs them).
GET_BUSI = ('To see the images, set DATA = "kaggle" (BUSI from Kaggle, credentials needed) or DATA = the '
            'folder of your BUSI download (Dataset_BUSI_with_GT), or set the environment variable BUSI_DIR.')


def data_statement(facts: dict | None, config=None, data_id: str | None = None) -> str:
    """The lines at the top of a notebook: which data (``facts`` of :func:`bl_utils.study.data_facts`;
    None: no images at hand, the published runs of ``data_id`` are shown) and, given ``config`` (a
    resolved :class:`bl_utils.config.TrainConfig`), which profile and encoder initialisation. The
    epochs are the protocol's, so notebook 3 gives them per protocol, not this line."""
    if facts is None:
        line = (f"Data: BUSI is not at hand here; the tables and figures below come from the published runs "
                f"({data_id}). {GET_BUSI}")
    else:
        copy = " — a copy already resized to 256² with one merged mask per image" if facts["resized_copy"] else ""
        line = f"Data: {facts['description'].rstrip('.')}{copy}; content fingerprint {facts['fingerprint']}."
    if config is None:
        return line
    weights = config.encoder_weights or "random initialisation (ImageNet weights cannot be downloaded here)"
    return (line + f"\nProfile: {config.profile} — {config.image_size}², {config.encoder}, batch {config.batch_size}, "
            f"Adam lr {config.lr:g}; encoder: {weights}.")


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


def robustness_summary(test_time: dict, noise_tables: dict, same_masks: pd.DataFrame | None = None) -> Summary:
    """Notebook 5's closing words. ``test_time``: ``{"speckle σ 0.75": table}`` of
    :func:`bl_utils.crossval.degradation_differences` on the study's runs (exploratory: numbers and
    intervals, no verdict); ``noise_tables``: :func:`bl_utils.analysis.annotation_noise_table` per
    jitter strength and ``same_masks``: :func:`bl_utils.analysis.annotation_noise_vs_ce`, both on the
    earlier protocol's runs (two-level bootstrap verdicts, uncorrected). Its ``answer`` is the last
    paragraph after "**Answer:**"."""
    def part(table):
        return "; ".join(f"{row.strategy} {interval(row)} ({row.verdict})" for _, row in table.iterrows())

    lines = [exploratory_sentence(table, f"**Test-time {name}** (the study's final models), Dice kept relative to CE")
             for name, table in test_time.items()]
    lines += [f"**Contours jittered by {k}** (earlier protocol), Dice drop relative to CE's: {part(t)}."
              for k, t in noise_tables.items()]
    same_dice = None if same_masks is None else same_masks[same_masks.comparison == "final Dice, tumour images"]
    if same_dice is not None:
        lines += [f"**Trained on contours jittered by {k}** (earlier protocol), final Dice on tumour images against CE "
                  f"trained on the same masks: {part(g)}." for k, g in same_dice.groupby("jitter", sort=False)]
    if not noise_tables:
        lines.append("**Contour errors in training:** not measured yet — their runs are missing (see above).")
    kept = "; ".join(f"{name}: " + ", ".join(f"{row.strategy} {_signed(row['mean'])}" for _, row in table.iterrows())
                     for name, table in test_time.items()) or "no runs yet"
    found = {verdict: [f"{row.strategy} ({k})" for k, t in noise_tables.items() for _, row in t.iterrows()
                       if row.verdict == verdict] for verdict in ("better", "worse")}
    said = [f"degrades {word} than CE beyond run-to-run noise: {', '.join(found[verdict])}"
            for verdict, word in (("better", "less"), ("worse", "more")) if found[verdict]]
    contours = ("; ".join(said) if said else "no strategy differs from CE beyond run-to-run noise") if noise_tables \
        else "not measured yet"
    lines.append(f"**Answer:** under test-time degradations, the Dice each boundary-loss strategy keeps relative to CE "
                 f"on the study's runs is {kept} (mean per run; exploratory, so no verdict — the study's one "
                 f"confirmatory question is notebook 3's primary endpoint). Trained on jittered contours (earlier "
                 f"protocol, trained with normal images, 3 seeds, uncorrected two-level bootstrap): {contours}.")
    return Summary(tuple(lines), lines[-1].split("**Answer:**", 1)[1])


# --------------------------------------------------------------------------------------------
# The study protocol (repeated cross-validation): the primary answer and the exploratory rest


def primary_verdict(row) -> str:
    """The verdict of one row of :func:`bl_utils.crossval.primary_answer` in words: "better than
    CE", "worse than CE", "equivalent to CE within ± m", "better than CE, by less than m", or, when
    neither is shown, "inconclusive at ± b" with ``b = |mean| + half-width``, the smallest margin the
    runs could rule on — and where ``b`` is inside the margin, so that only Holm's correction over the
    comparisons keeps the equivalence from being shown, it says so with the corrected p."""
    margin = f"{row['margin']:g}"
    if row["verdict"] == "inconclusive" and row["bound"] <= row["margin"]:
        return (f"inconclusive at ± {margin}: within ± {row['bound']:.3f} uncorrected, not after Holm's correction "
                f"(p = {row['p_tost_holm']:.3f})")
    return {"better": "better than CE", "worse": "worse than CE",
            "equivalent": f"equivalent to CE within ± {margin}",
            "better_within_margin": f"better than CE, by less than {margin}",
            "worse_within_margin": f"worse than CE, by less than {margin}",
            }.get(row["verdict"], f"inconclusive at ± {row['bound']:.3f}")


def run_scope(results) -> str:
    """What a group of runs was (their first run's settings): image size, encoder and its
    initialisation, epochs — the scope an answer is stated for."""
    s = results[0].settings
    weights = s.get("encoder_weights") or "a random"
    return f"{s['image_size']}², {s['encoder']} with {weights} encoder, {s['epochs']} epochs"


def _signed(value: float) -> str:
    return f"{value:+.3f}"


def primary_summary(answer: pd.DataFrame, sizing: pd.DataFrame, runs_done: int, runs_planned: int,
                    what: str) -> Summary:
    """Notebook 3's answer under the study protocol, from :func:`bl_utils.crossval.primary_answer` and
    :func:`bl_utils.crossval.sizing`. ``runs_done``/``runs_planned``: the study's runs committed and
    planned; ``what``: what was run (:func:`run_scope`), the scope the answer is stated for. The first
    part carries a bold title for the notebook; ``answer`` is the same text without it (the README
    gives its own title): the verdicts, the sizing, where the campaign stopped and what it does not cover."""
    title = "**Study protocol, primary endpoint:** "
    if answer.empty:
        body = (f"no answer yet — {runs_done} of the {runs_planned} planned runs are done, and the corrected "
                f"interval of the final-epoch Dice on tumour images (strategy − CE, paired by seed and fold) needs "
                f"CE and a strategy on at least two common (seed, fold).")
        return Summary((title + body,), body)
    margin = f"{answer['margin'].iloc[0]:g}"
    parts = [f"{row['name']} {_signed(row['mean'])} [{_signed(row['corrected_low'])}, {_signed(row['corrected_high'])}]"
             f" over {int(row['n_runs'])} runs: **{primary_verdict(row)}**" for _, row in answer.iterrows()]
    verdicts = (f"final-epoch Dice on tumour images, strategy − CE, paired by seed and fold (Nadeau–Bengio 95 % "
                f"interval; Holm-corrected tests against 0 and against ± {margin}): " + "; ".join(parts) + ".")
    need = []
    for _, row in sizing.iterrows():
        if row["runs_needed"] is None or pd.isna(row["runs_needed"]):
            need.append(f"{row['strategy']} none can (sd {row['sd']:.3f} over {int(row['runs'])} runs: with that sd, "
                        f"the narrowest margin reached at 80 % power, however many runs, is ± {row['power_floor']:.3f})")
        else:
            need.append(f"{row['strategy']} {int(row['runs_needed'])} runs (sd {row['sd']:.3f} over {int(row['runs'])} runs)")
    sizing_text = (f"Runs a ± {margin} answer would need at 80 % power, if the sd measured so far held (an sd from a "
                   "few runs is itself uncertain): " + "; ".join(need)
                   + (f". {runs_done} of the {runs_planned} planned runs are in; the campaign continues, and stops "
                      "by budget, never by an interim verdict." if runs_done < runs_planned else
                      f". The campaign ran all {runs_planned} planned runs; more seeds are added while the budget "
                      "allows, never stopped by an interim verdict."))
    scope = (f"The answer holds for what was run ({what}); it does not cover Odonnat & Pham's setting (256², "
             "ResNet-34 with an ImageNet encoder) or other data.")
    return Summary((title + verdicts, sizing_text, scope), " ".join((verdicts, sizing_text, scope)))


def exploratory_sentence(table: pd.DataFrame, what: str, unit: str = "") -> str:
    """One sentence for a table of :func:`bl_utils.crossval.interval_table` (strategy − CE per run,
    corrected interval): the numbers only, labelled exploratory, no verdict."""
    parts = [f"{row.strategy} {_signed(row['mean'])}{unit}"
             + ("" if pd.isna(row.corrected_low) else f" [{_signed(row.corrected_low)}, {_signed(row.corrected_high)}]")
             + f" ({int(row.n_runs)} run{'' if int(row.n_runs) == 1 else 's'})" for _, row in table.iterrows()]
    return f"{what} (exploratory, strategy − CE, corrected 95 % interval): " + ("; ".join(parts) or "no runs yet") + "."


def their_noise_sentence(table: pd.DataFrame) -> str:
    """What :func:`bl_utils.reproduction.differences_from_ce` says of their Table 1: each strategy −
    CE in their metric over the seeds of their protocol (corrected 95 % interval), against their
    Table 1's differences (one run each). Whether one run per strategy can order the strategies is
    read from the narrowest interval's half-width: if their largest difference is smaller, it cannot.
    A sentence without a title: the notebook and the README put their own before it."""
    rows = table[table.measure == "their metric, best epoch"] if not table.empty else table
    if rows.empty or rows.corrected_low.isna().all():
        return "intervals need each strategy and CE on at least two seeds; not yet run."
    parts = [f"{row.strategy} {_signed(row['mean'])} [{_signed(row.corrected_low)}, {_signed(row.corrected_high)}]"
             f" over {int(row.n_runs)} seeds" for _, row in rows.iterrows()]
    theirs = " / ".join(_signed(v) for v in rows["Odonnat & Pham"])
    half = float(((rows.corrected_high - rows.corrected_low) / 2).min())
    largest = float(rows["Odonnat & Pham"].abs().max())
    reading = (f"the narrowest interval is ± {half:.3f} wide, more than their largest difference ({largest:.3f}): "
               "at the seed-to-seed noise of their own protocol, one run per strategy cannot order the four strategies"
               if largest < half else
               f"their largest difference ({largest:.3f}) exceeds the narrowest half-width here (± {half:.3f}), so "
               "that difference is larger than this protocol's seed-to-seed noise")
    return (f"each strategy − CE in their metric (best epoch, paired by seed, corrected 95 % "
            f"interval): {'; '.join(parts)}. Their Table 1's differences, one run each: {theirs}. At this profile "
            f"(random encoder), {reading} (an sd from {int(rows.n_runs.min())} seeds is itself uncertain).")
