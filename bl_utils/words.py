"""The report's sentences and tables for reading, composed in one place from the answers' values.

The answers (:mod:`bl_utils.answers`) return frames and dataclasses; the functions here only turn
them into the plain words the notebooks show and the README repeats. **Verdict words** come from one
place: :data:`VERDICT_PHRASES` phrases each code of :data:`bl_utils.stats.VERDICTS` once, and only
answers with a stated test and its correction (the study's primary endpoint, the external test's)
carry a code; every other comparison is written as numbers with their interval. A :class:`Summary`
keeps its paragraphs and its answer apart, so that no notebook has to cut a text back into pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .answers.earlier import interval
from .answers.odonnat_pham import ODONNAT_PHAM_TABLE1
from .runs import RunResult, runs_frame

__all__ = ["GET_BUSI", "VERDICT_PHRASES", "data_statement", "Summary", "difference_sentence", "ablation_sentence",
           "paper_profile_sentence", "earlier_summary", "robustness_summary", "primary_verdict", "primary_summary",
           "exploratory_sentence", "run_scope", "their_noise_sentence", "external_summary",
           "COLUMN_NAMES", "readable", "bottom_line", "answer_cells", "their_cells", "verdict_head",
           "frames_seen_sentence", "settings_sentence"]

#: Every verdict the report publishes, phrased once per code of :data:`bl_utils.stats.VERDICTS`
#: (``{margin}``: the equivalence margin). Only the answers with a stated test and its Holm
#: correction carry a code (:mod:`bl_utils.answers.study`, :mod:`bl_utils.answers.external`).
VERDICT_PHRASES = {"better": "better than CE", "worse": "worse than CE",
                   "equivalent": "equivalent to CE within ± {margin}",
                   "better_within_margin": "better than CE, by less than {margin}",
                   "worse_within_margin": "worse than CE, by less than {margin}",
                   "inconclusive": "inconclusive at ± {margin}"}


#: What a reader without the images does to get them (one line, shown where a cell needs them).
GET_BUSI = ('To see the images, set DATA = "kaggle" (BUSI from Kaggle, credentials needed) or DATA = the '
            'folder of your BUSI download (Dataset_BUSI_with_GT), or set the environment variable BUSI_DIR.')


def data_statement(facts: dict | None, config=None, data_id: str | None = None) -> str:
    """The lines at the top of a notebook: which data (``facts`` of :func:`bl_utils.notebook.data_facts`;
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
    answers the question, recorded with :func:`bl_utils.notebook.write_answer`)."""

    parts: tuple[str, ...]
    answer: str

    @property
    def markdown(self) -> str:
        return "\n\n".join(self.parts)


def difference_sentence(row, what: str, unit: str = "") -> str:
    """One plain sentence about a :func:`bl_utils.answers.paired.paired_difference` result: the
    numbers and their uncorrected two-level bootstrap interval, no verdict."""
    return (f"{row['strategy']} − CE on {what}: {interval(row)}{unit} over {row['seeds']} seed(s) "
            "(two-level bootstrap, uncorrected).")


def ablation_sentence(title: str, table: pd.DataFrame) -> str:
    """One ablation's effect on the final Dice on tumour images, strategy by strategy
    (:func:`bl_utils.answers.earlier.ablation_table`): numbers and intervals, no verdict."""
    parts = [f"{row.strategy} {row['Δ dice [95% CI]']}" for _, row in table.iterrows()]
    return f"**{title}** — change in final Dice on tumour images: " + "; ".join(parts) + "."


def paper_profile_sentence(paper: list[RunResult], floor: float = 0.5) -> str:
    """The paper-profile runs in one sentence: per run, the best-epoch per-image Dice over all images,
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


def earlier_summary(table1: list[RunResult], comparisons: pd.DataFrame, ablations: dict,
                    paper: list[RunResult], data_name: str) -> Summary:
    """The appendix's closing paragraphs on the earlier protocol, from computed values only: Table 1's
    spread beside Odonnat & Pham's, each strategy − CE with its uncorrected interval (no verdict),
    tumours missed, the ablations and the paper-profile runs. Its ``answer`` is the second paragraph."""
    frame = runs_frame(table1)
    best = frame.groupby("strategy", sort=False).best_val_dice.mean()
    seeds = frame.groupby("strategy").seed.nunique().min()
    theirs = [ODONNAT_PHAM_TABLE1[k] for k in best.index if k in ODONNAT_PHAM_TABLE1]
    dice = comparisons[comparisons.comparison == "final Dice, tumour images"]
    lines = [f"**Table 1** ({data_name}, {table1[0].settings['profile']} profile, {seeds} seeds per strategy): "
             f"best-epoch per-image Dice over all images from {best.min():.3f} to {best.max():.3f} across the four "
             f"strategies (spread {best.max() - best.min():.3f}); Odonnat & Pham's Table 1 (batch-pooled F1, one run "
             f"each): {min(theirs):.3f}–{max(theirs):.3f} (spread {max(theirs) - min(theirs):.3f})."]
    lines.append("**Each strategy − CE, final Dice on tumour images** (two-level bootstrap over seeds and images, "
                 "uncorrected, so no verdict; the report's answer is the study's): " + "; ".join(
                     f"{row.strategy} {row['difference [95% CI]']}" for _, row in dice.iterrows())
                 + f". Odonnat & Pham's spread of {max(theirs) - min(theirs):.3f} between strategies is far smaller "
                 "than these intervals.")
    missed = frame.groupby("strategy", sort=False).final_tumour_missed.mean()
    lines.append("**Tumours missed** at the final epoch (of the validation tumours, mean per run): " + ", ".join(
        f"{k} {v:.1f}" for k, v in missed.items()) + " — HD95 is measured only on the tumours found, so a strategy "
        "that misses more tumours can show a lower HD95.")
    lines += [ablation_sentence(title, table) for title, table in ablations.items()]
    if paper:
        lines.append(paper_profile_sentence(paper))
    return Summary(tuple(lines), lines[1])


def robustness_summary(test_time: dict) -> Summary:
    """Notebook 5's closing words. ``test_time``: ``{"speckle σ 0.75": table}`` of
    :func:`bl_utils.answers.study.degradation_differences` on the study's runs (exploratory: numbers
    and intervals, no verdict). Its ``answer`` is the last paragraph after "**Answer:**"."""
    lines = [exploratory_sentence(table, f"**Test-time {name}** (the study's final models), Dice kept relative to CE")
             for name, table in test_time.items()]
    kept = "; ".join(f"{name}: " + ", ".join(f"{row.strategy} {_signed(row['mean'])}" for _, row in table.iterrows())
                     for name, table in test_time.items()) or "no runs yet"
    lines.append(f"**Answer:** under test-time degradations, the Dice each boundary-loss strategy keeps relative to CE "
                 f"on the study's runs is {kept} (mean per run; exploratory, so no verdict — the study's one "
                 f"confirmatory question is notebook 3's primary endpoint). Training on jittered contours (the "
                 f"earlier protocol) is in the appendix.")
    return Summary(tuple(lines), lines[-1].split("**Answer:**", 1)[1])


# --------------------------------------------------------------------------------------------
# The study protocol (repeated cross-validation): the primary answer and the exploratory rest


def primary_verdict(row) -> str:
    """The verdict of one row of :func:`bl_utils.answers.study.primary_answer` (or of the external
    test's) in words, from :data:`VERDICT_PHRASES`: "better than CE", "worse than CE", "equivalent to CE
    within ± m", … or, when neither is shown, "inconclusive at ± m" (always the margin stated before
    the runs) followed, in brackets, by whether its 95 % interval excludes 0 before Holm's correction
    (then the corrected p), and how far its 90 % interval before the correction reaches,
    ``b = |mean| + half-width``: where ``b`` is inside the margin, only Holm's correction keeps the
    equivalence from being shown, and the corrected p says so. The head before the bracket is
    :func:`verdict_head`."""
    head = verdict_head(row)
    if row["verdict"] != "inconclusive":
        return head
    notes = []
    low, high = row.get("corrected_low", float("nan")), row.get("corrected_high", float("nan"))
    if low > 0 or high < 0:
        notes.append(f"its 95 % interval excludes 0 before Holm's correction, not after it: p = {row['p_diff_holm']:.3f}")
    if row["bound"] <= row["margin"]:
        notes.append(f"not shown within ± {row['margin']:g} after Holm's correction, p = {row['p_tost_holm']:.3f}; its "
                     f"90 % interval before that correction lies within ± {row['bound']:.3f}, no verdict")
    else:
        notes.append(f"its 90 % interval before Holm's correction reaches ± {row['bound']:.3f}")
    return f"{head} ({'; '.join(notes)})"


def verdict_head(row) -> str:
    """The verdict of a row in the words of :data:`VERDICT_PHRASES` alone, at the stated margin."""
    return VERDICT_PHRASES[row["verdict"]].format(margin=f"{row['margin']:g}")


def run_scope(results) -> str:
    """What a group of runs was (their first run's settings): image size, encoder and its
    initialisation, epochs — the scope an answer is stated for."""
    s = results[0].settings
    weights = s.get("encoder_weights") or "a random"
    return f"{s['image_size']}², {s['encoder']} with {weights} encoder, {s['epochs']} epochs"


def _signed(value: float) -> str:
    return f"{value:+.3f}"


def primary_summary(answer: pd.DataFrame, sizing: pd.DataFrame, runs_done: int, runs_planned: int,
                    what: str, without_frames: pd.DataFrame | None = None) -> Summary:
    """Notebook 3's answer under the study protocol, from :func:`bl_utils.answers.study.primary_answer` and
    :func:`bl_utils.answers.study.sizing`. ``runs_done``/``runs_planned``: the study's runs committed and
    planned; ``what``: what was run (:func:`run_scope`), the scope the answer is stated for;
    ``without_frames``: the sensitivity check :func:`bl_utils.answers.study.without_frames_seen`, said
    after the verdicts (:func:`frames_seen_sentence`). The first part carries a bold title for the
    notebook; ``answer`` is the same text without it (the README gives its own title): the verdicts, the
    sizing, where the campaign stopped and what it does not cover."""
    title = "**Study protocol, primary endpoint:** "
    if answer.empty:
        body = (f"no answer yet — {runs_done} of the {runs_planned} planned runs are done, and the corrected "
                f"interval of the final-epoch Dice on tumour images (strategy − CE, paired by seed and fold) needs "
                f"CE and a strategy on at least two common (seed, fold).")
        return Summary((title + body,), body)
    margin = f"{answer['margin'].iloc[0]:g}"
    parts = [f"{row['name']} {_signed(row['mean'])} [{_signed(row['corrected_low'])}, {_signed(row['corrected_high'])}]"
             f" over {int(row['n_runs'])} runs: **{primary_verdict(row)}**{_beyond_margin(row)}" for _, row in answer.iterrows()]
    verdicts = (f"final-epoch Dice on tumour images, strategy − CE, paired by seed and fold (Nadeau–Bengio 95 % "
                f"interval; tests against 0 and against ± {margin}, each Holm-corrected over the family of the three "
                f"strategies against CE): " + "; ".join(parts) + ".")
    if without_frames is not None and not without_frames.empty:
        verdicts += " " + frames_seen_sentence(answer, without_frames)
    sizing_text = _sizing_sentence(sizing, margin) + (
        f" {runs_done} of the {runs_planned} planned runs are in (a number the budget set, not the sizing); the "
        "campaign continues, and stops by budget, never by an interim verdict." if runs_done < runs_planned else
        f" The campaign ran all {runs_planned} planned runs; more seeds are added while the budget allows, never "
        "stopped by an interim verdict.")
    scope = (f"The answer holds for what was run ({what}); it does not cover Odonnat & Pham's setting (256², "
             "ResNet-34 with an ImageNet encoder) or other data.")
    return Summary((title + verdicts, sizing_text, scope), " ".join((verdicts, sizing_text, scope)))


def frames_seen_sentence(answer: pd.DataFrame, without_frames: pd.DataFrame, level: float = 0.05) -> str:
    """The sensitivity check of the verdicts that show a difference (better or worse than CE): each
    one's mean and Holm-corrected p against 0 once the validation images whose run trained on another
    frame of their lesion are left out (``without_frames``: the first value of
    :func:`bl_utils.answers.study.without_frames_seen`), and whether it stays below ``level``."""
    shown = answer[answer.verdict.isin(["better", "worse"]) | answer.verdict.str.endswith("within_margin")]
    again = without_frames.set_index("name")
    parts = []
    for _, row in shown.iterrows():
        if row["name"] in again.index:
            p = float(again.loc[row["name"], "p_diff_holm"])
            holds = "the verdict holds" if p < level else f"the verdict does not survive it at the {level:g} level"
            parts.append(f"{row['name']} {_signed(again.loc[row['name'], 'mean'])}, Holm p = {p:.3f} against 0 "
                         f"(as run: {float(row['p_diff_holm']):.3f}): {holds}")
    if not parts:
        return ""
    return ("Sensitivity check, not the pre-specified analysis: without the validation images whose run trained on "
            "another frame of their lesion, " + "; ".join(parts) + ".")


def _beyond_margin(row, unit: str = "runs") -> str:
    """For a difference shown (better or worse): how many runs (or seeds: ``unit``) point its way and,
    when its interval crosses the margin, that it is not shown to exceed it."""
    if row["verdict"] not in ("better", "worse"):
        return ""
    side = row.get("runs_below_zero") if row["verdict"] == "worse" else row.get("runs_above_zero")
    runs = f"; {int(side)} of {int(row['n_runs'])} {unit} point that way" if side is not None and not pd.isna(side) else ""
    m = float(row["margin"])
    return runs + (f", and the difference is not shown to exceed {m:g}: its interval crosses "
                   f"{'−' if row['verdict'] == 'worse' else '+'}{m:g}" if _crosses_margin(row) else "")


def _crosses_margin(row) -> bool:
    """Whether a row's corrected interval crosses −margin or +margin."""
    m, low, high = float(row["margin"]), row["corrected_low"], row["corrected_high"]
    return low < -m < high or low < m < high


def _sizing_sentence(sizing: pd.DataFrame, margin: str) -> str:
    """The runs a ± margin answer needs by the verdicts' procedure (:func:`bl_utils.answers.study.sizing`)."""
    def runs(value) -> str:
        return "no number of runs" if value is None or pd.isna(value) else f"{int(value)}"

    need = []
    for _, row in sizing.iterrows():
        at0 = [row.get(f"runs needed, Holm α/{k}, true difference 0") for k in (3, 2)]
        seen = row.get("runs needed, Holm α/3, true difference observed")
        need.append(f"{row['strategy']} {runs(at0[0])} ({runs(at0[1])} at α/2) if the true difference were 0, "
                    f"{runs(seen)} at its observed mean (sd {row['sd']:.3f} over {int(row['runs'])} runs; the half-width "
                    f"TOST uses at α/3 cannot fall below ± {row['half_width_floor']:.3f})")
    return (f"Runs a ± {margin} answer would need at 80 % power, sized by the procedure the verdicts use (TOST at "
            f"Holm's strictest level α/3; checked by simulating the procedure), if the sd measured so far held (an sd "
            f"from a few runs is itself uncertain): " + "; ".join(need) + ". The floor is set by the 425 images "
            "(≈ sd·√(85/340), half the sd): more seeds shrink only the 1/J term of the corrected variance.")


def exploratory_sentence(table: pd.DataFrame, what: str, unit: str = "") -> str:
    """One sentence for a table of :func:`bl_utils.answers.paired.interval_table` (strategy − CE per run,
    corrected interval): the numbers only, labelled exploratory, no verdict."""
    parts = [f"{row.strategy} {_signed(row['mean'])}{unit}"
             + ("" if pd.isna(row.corrected_low) else f" [{_signed(row.corrected_low)}, {_signed(row.corrected_high)}]")
             + f" ({int(row.n_runs)} run{'' if int(row.n_runs) == 1 else 's'})" for _, row in table.iterrows()]
    return f"{what} (exploratory, strategy − CE, corrected 95 % interval): " + ("; ".join(parts) or "no runs yet") + "."


def settings_sentence(shown: pd.DataFrame, planned: int) -> str:
    """The settings arms in one sentence from :func:`bl_utils.answers.settings.answer_table` (``shown``):
    per arm its runs (of ``planned``), its Dice − its base and − CE with the corrected intervals, and
    L_B's share of the loss, first → last epoch. Exploratory: no verdict."""
    parts = [f"{r['setting']}, {r['runs']} of {planned} runs: {r['Dice − its base [95 % CI]']} against {r['against']}, "
             f"{r['Dice − CE [95 % CI]']} against CE, L_B {r['L_B share of the loss, first → last epoch']} of the loss"
             for _, r in shown.iterrows()]
    return ("Final-epoch Dice on tumour images, each settings arm minus its base strategy and minus CE, paired within "
            "(seed, fold) blocks on one machine (95 % intervals corrected for the folds' overlap; exploratory, no "
            "verdict; 128², ResNet-18, random encoder): " + "; ".join(parts) + "." if parts else
            "no arm has run yet — each trains in the study's new (seed, fold) blocks, after the block's four strategies.")


def _their_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows of :func:`bl_utils.answers.odonnat_pham.differences_from_ce` in their metric to read
    first: in their order where the runs have it, else sorted by class; and that order's name."""
    from .answers.odonnat_pham import ORDERS

    for order in ("theirs", "sorted"):
        rows = table[table.measure == f"their metric, best epoch, {ORDERS[order]}"] if not table.empty else table
        if not rows.empty:
            return rows, order
    return (table.iloc[0:0] if not table.empty else table), "theirs"


def their_noise_sentence(table: pd.DataFrame) -> str:
    """What :func:`bl_utils.answers.odonnat_pham.differences_from_ce` says of their Table 1: each strategy −
    CE in their metric over the seeds of their protocol (corrected 95 % interval), against their
    Table 1's differences (one run each), read in their order (the split's draw) where the runs have
    it, with the class-sorted order as a sensitivity line. Whether one run per strategy can order the
    strategies is read from the narrowest interval's half-width: if their largest difference is
    smaller, it cannot. A sentence without a title: the notebook and the README put their own before it."""
    from .answers.odonnat_pham import ORDERS

    rows, order = _their_rows(table)
    if rows.empty or rows.corrected_low.isna().all():
        return "intervals need each strategy and CE on at least two seeds; not yet run."

    def listed(frame: pd.DataFrame) -> str:
        return "; ".join(f"{row.strategy} {_signed(row['mean'])} [{_signed(row.corrected_low)}, "
                         f"{_signed(row.corrected_high)}] over {int(row.n_runs)} seeds" for _, row in frame.iterrows())

    theirs = " / ".join(_signed(v) for v in rows["Odonnat & Pham"])
    half = float(((rows.corrected_high - rows.corrected_low) / 2).min())
    largest = float(rows["Odonnat & Pham"].abs().max())
    reading = (f"the narrowest interval's half-width is ± {half:.3f}, more than their largest difference ({largest:.3f}): "
               "at the seed-to-seed noise of their own protocol, one run per strategy cannot order the four strategies"
               if largest < half else
               f"their largest difference ({largest:.3f}) exceeds the narrowest half-width here (± {half:.3f}), so "
               "that difference is larger than this protocol's seed-to-seed noise")
    where = ("validation images in the order their split draws them, as their unshuffled loader read them"
             if order == "theirs" else "validation images sorted by class")
    text = (f"each strategy − CE in their batch-pooled F1 (best epoch, {where}; paired by seed, 95 % interval "
            f"corrected for the splits' overlap, no multiplicity correction, no verdict): {listed(rows)}. Their "
            f"Table 1's differences, one run each: {theirs}. At this profile (random encoder), {reading} (an sd "
            f"from {int(rows.n_runs.min())} seeds is itself uncertain).")
    if order == "theirs":
        sorted_rows = table[table.measure == f"their metric, best epoch, {ORDERS['sorted']}"]
        if not sorted_rows.empty:
            text += (" Sensitivity line, sorted by class (the order of the runs published before; their metric pools "
                     f"pixels within each batch of 16, so the order moves it): {listed(sorted_rows)}.")
    else:
        text += (" These runs read the validation images sorted by class, not in their random order; their metric "
                 "pools pixels within each batch, so the order moves it (sd ≈ 0.02): the numbers are a sorted-order "
                 "reading until the runs are re-scored in their order.")
    return text


#: The names a reader sees for the answers' column names (:func:`readable`).
COLUMN_NAMES = {"name": "strategy", "n_runs": "runs", "mean": "mean difference (strategy − CE)",
                "corrected_low": "95 % CI, low", "corrected_high": "95 % CI, high",
                "plain_low": "plain t CI, low", "plain_high": "plain t CI, high", "sd": "sd between runs",
                "p_diff_holm": "p, differs from 0 (Holm)", "p_tost_holm": "p, within ± 0.02 (Holm)",
                "verdict": "verdict", "half_width": "90 % half-width", "runs": "runs so far",
                "runs_needed": "runs a ± 0.02 answer needs", "half_width_floor": "half-width floor (TOST at α/3)",
                "power_floor": "narrowest margin at 80 % power (α/3)", "seed_se": "se from seeds",
                "patient_se": "se from patients", "seeds": "seeds", "endpoint": "endpoint", "strategy": "strategy"}


def readable(table: pd.DataFrame, verdicts: bool = True) -> pd.DataFrame:
    """``table`` with the column names of :data:`COLUMN_NAMES` (others kept) and, where it holds a
    ``verdict`` code, that code in words (:func:`primary_verdict`); a copy."""
    out = table.copy()
    if verdicts and {"verdict", "margin", "bound"} <= set(out.columns):
        out["verdict"] = [primary_verdict(row) for _, row in table.iterrows()]
    return out.rename(columns=COLUMN_NAMES)


def external_summary(answer: pd.DataFrame, bootstrap: pd.DataFrame, sizing: pd.DataFrame, seeds_first: int,
                     what: str, final: int | None = None, cap: int = 16) -> Summary:
    """Notebook 6's answer, in the study's words, from :func:`bl_utils.answers.external.external_answer`,
    its bootstrap sensitivity check and its sizing; ``seeds_first``: the seeds planned before the sd is
    re-estimated; ``what``: what was run (:func:`run_scope`); ``final``: the final number of seeds
    (:func:`bl_utils.answers.external.final_seeds`, ``None`` before the first seeds are in) under
    ``cap``. The first part carries a bold title."""
    title = "**Another hospital (BUS-BRA), external endpoint:** "
    if answer.empty:
        body = ("no answer yet — the external test needs CE and a boundary-loss strategy trained with at least two "
                "common seeds, and scored on BUS-BRA.")
        return Summary((title + body,), body)
    margin = f"{answer['margin'].iloc[0]:g}"
    boot = bootstrap.set_index("strategy") if not bootstrap.empty else None
    parts = []
    for _, row in answer.iterrows():
        extra = ""
        if boot is not None and row["name"] in boot.index:
            b = boot.loc[row["name"]]
            extra = (f" (sensitivity check, no verdict: seed-and-patient bootstrap [{_signed(b.bootstrap_low)}, "
                     f"{_signed(b.bootstrap_high)}], anti-conservative over {int(row['n_runs'])} seeds)")
        parts.append(f"{row['name']} {_signed(row['mean'])} [{_signed(row['corrected_low'])}, "
                     f"{_signed(row['corrected_high'])}] over {int(row['n_runs'])} seeds: **{primary_verdict(row)}**"
                     f"{_beyond_margin(row, 'seeds')}{extra}")
    verdicts = (f"mean per-image Dice over the 1,875 BUS-BRA images at the final epoch, strategy − CE, paired by seed "
                f"(models trained on the 425 BUSI tumour images; 95 % interval over seeds and BUS-BRA patients; "
                f"Holm-corrected tests against 0 and against ± {margin}): " + "; ".join(parts) + ".")
    sizing_text = _external_sizing_sentence(sizing, margin, int(answer.n_runs.min()), seeds_first, final, cap)
    scope = (f"The answer holds for models trained on these 425 BUSI images ({what}) applied to BUS-BRA's patients: "
             "its interval covers the seeds and BUS-BRA's patients, not the variation from drawing another training "
             "set; it does not cover Odonnat & Pham's setting or other hospitals.")
    return Summary((title + verdicts, sizing_text, scope), " ".join((verdicts, sizing_text, scope)))


def _external_sizing_sentence(sizing: pd.DataFrame, margin: str, seeds: int, seeds_first: int, final: int | None,
                              cap: int) -> str:
    """The seeds a ± margin answer needs (:func:`bl_utils.answers.external.sizing`) at a true difference of
    0 and at the observed one, and where the plan stands: ``seeds`` in, of the ``seeds_first`` first or of
    the ``final`` number fixed under ``cap`` (and whether the cap binds)."""
    def count(value) -> str:
        return "no number of seeds" if value is None or pd.isna(value) else f"{int(value)} seeds"

    need = [f"{row['strategy']} {count(row['seeds_needed'])} (seed sd {row['seed_sd']:.3f}, patient se "
            f"{row['patient_se']:.3f})" for _, row in sizing.iterrows()]
    observed = [f"{row['strategy']} {count(row.get('seeds_needed_at_observed'))}" for _, row in sizing.iterrows()]
    if final is None:
        progress = (f"{seeds} of the {seeds_first} first seeds are in; then the final number is fixed from their sd "
                    f"under a cap of {cap}. The campaign stops by budget, never by an interim verdict.")
    else:
        short = [row["strategy"] for _, row in sizing.iterrows()
                 if row["seeds_needed"] is None or pd.isna(row["seeds_needed"]) or int(row["seeds_needed"]) > final]
        whose = "its" if len(short) == 1 else "their"
        named = " and ".join([", ".join(short[:-1]), short[-1]] if len(short) > 1 else short)
        binds = (f" The cap binds: at {final} seeds, {named} would stay below 80 % power if {whose} sd "
                 "held." if short else "")
        progress = (f"Fixed after the {seeds_first} first seeds from their sd (not their means), by the rule stated "
                    f"before the first run (the most any comparison needs, at most {cap}): {final} seeds.{binds} "
                    + (f"All {final} are in." if seeds >= final else
                       f"{seeds} are in; the rest train as the budget allows, and the answer is re-read at each seed "
                       "with the same rule, never stopped by an interim verdict."))
    return (f"Seeds a ± {margin} answer needs at Holm's strictest level and 80 % power, if the measured sd held: "
            f"if the true difference were 0, " + "; ".join(need) + "; at the observed mean, " + "; ".join(observed)
            + ". " + progress)


def answer_cells(answer: pd.DataFrame) -> dict[str, str]:
    """One cell per strategy of a verdict table (the study's or the external test's): ``"-0.017 [-0.029,
    -0.004] worse than CE"``; CE itself is the reference."""
    cells = {row["name"]: f"{_signed(row['mean'])} [{_signed(row['corrected_low'])}, {_signed(row['corrected_high'])}] "
                          f"{verdict_head(row)}" for _, row in answer.iterrows()}
    return {"ce": "reference", **cells}


def bottom_line(where: str, answer: pd.DataFrame, unit: str = "runs", planned: int | None = None) -> str:
    """The answer in one plain sentence from a verdict table: which strategies are better, worse,
    equivalent to CE within the margin, or not decided, over how many runs (or seeds: ``unit``; of
    ``planned`` where given), and the family of the correction (``where``: e.g. "On BUSI"). A shown
    difference whose interval crosses the margin says that it is not shown beyond it."""
    if answer.empty:
        return f"{where}, no answer yet."
    groups: dict[str, list[str]] = {}
    margin = f"{answer['margin'].iloc[0]:g}"
    for _, row in answer.iterrows():
        code = row["verdict"]
        word = ("better" if code.startswith("better") else "worse" if code.startswith("worse") else
                "equivalent" if code == "equivalent" else "undecided")
        crosses = code in ("better", "worse") and _crosses_margin(row)
        groups.setdefault(word, []).append(f"{row['name']} ({_signed(row['mean'])} Dice"
                                           + (f"; not shown beyond {margin})" if crosses else ")"))
    said = [f"{', '.join(v)} {'is' if len(v) == 1 else 'are'} {text}" for k, v in groups.items() for text in
            [{"better": "better than CE", "worse": "worse than CE",
              "equivalent": f"shown to be within ± {margin} Dice of CE",
              "undecided": f"neither shown to differ from CE nor shown within ± {margin} of it"}[k]]]
    low, high = int(answer.n_runs.min()), int(answer.n_runs.max())
    count = f"{low}" if low == high else f"{low}–{high}"
    over = (f"over all {count} planned {unit} per comparison" if planned is not None and low == planned else
            f"over {count}{'' if planned is None else f' of {planned}'} {unit} per comparison")
    better = "better" in groups
    return (f"{where}, {over}, {'a' if better else 'no'} boundary-loss strategy is shown better than CE: "
            + "; ".join(said) + f" (Holm over the {len(answer)} strategies against CE).")


def their_cells(differences: pd.DataFrame) -> dict[str, str]:
    """One cell per strategy of :func:`bl_utils.answers.odonnat_pham.differences_from_ce` in their metric
    (in their order where the runs have it, else sorted by class): ``"-0.007 [-0.024, +0.011]"``
    (corrected interval, no verdict: their protocol states no margin)."""
    rows, _ = _their_rows(differences)
    cells = {row.strategy: f"{_signed(row['mean'])}" + ("" if pd.isna(row.corrected_low) else
                                                        f" [{_signed(row.corrected_low)}, {_signed(row.corrected_high)}]")
             for _, row in rows.iterrows()}
    return {"ce": "reference", **cells}
