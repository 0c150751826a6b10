"""The external test: does the study's answer hold on another hospital's images (BUS-BRA)?

Stated in code before the first run (issue 31), and printed by notebook 6 as written here.

**Models.** Each of the four strategies trained on all 425 BUSI tumour images (the study's
selection: tumour fraction < 10 %, no normal image) with the study's settings otherwise (128²,
ResNet-18, random encoder, 20 epochs, shuffled batches, polynomial decay; the final epoch is the
model): the ``external`` protocol (:data:`bl_utils.config.PROTOCOLS`). The seed varies the
initialisation and the batch order; the training set is the same for every run, so the runs of a
strategy are independent draws and no overlap correction applies. The four strategies of a seed
train on one kind of machine (:func:`bl_utils.runs.machine_of`), in bf16 where the CPU has it.

**Endpoint** (:data:`ENDPOINT`). Mean per-image Dice over all 1,875 BUS-BRA images at the final
epoch, each boundary-loss strategy minus CE, paired by seed (same initial weights and batch order,
same machine). The estimand: models trained on these 425 BUSI images, applied to BUS-BRA's
patients; variation of the training set is not covered.

**Interval** (:func:`external_answer`). With ``d[j, i]`` the paired difference of seed ``j`` on
image ``i`` (J seeds, N images of P patients), the estimate is the mean of all ``d``. Every seed is
scored on the same images, so its variance has two terms: the between-seed variance of the
seeds' means over ``J``, and the sampling variance over BUS-BRA patients of the seed-averaged
per-image difference (a patient's images kept together: the cluster-robust variance of a mean),
``se² = s²_seeds / J + V_patients``, with Welch–Satterthwaite degrees of freedom. Tests: TOST
against ± 0.02 and the two-sided test against 0, each over the family of the three comparisons
(:data:`FAMILY`) with Holm's correction, and the study's verdict codes
(:func:`bl_utils.stats.compare_estimates`). A two-level bootstrap over seeds and patients
(:func:`seed_patient_bootstrap`) is a sensitivity check only: over 6 seeds it is anti-conservative.

**Seeds** (:data:`SEEDS_FIRST`, :data:`SEEDS_CAP`). Six seeds first; then the between-seed sd of the
paired differences is re-estimated (without looking at their means) and the final number of seeds
is the one :func:`seeds_needed` gives at Holm's strictest level, capped at :data:`SEEDS_CAP`, and
trained as the budget allows; never stopped by an interim verdict.

**Scoring** (frozen with it): :data:`bl_utils.evaluate.EXTERNAL_SCORING` (NSD tolerance, the HD95
of a missed tumour, the stored predictions, BUSI's normalisation, collapsed runs kept as scored).
Cases shown (:func:`cases_by_rule`): per scanner, the image whose CE Dice is the median of that
scanner's images (seed-averaged), so the cases are neither CE's best nor its worst.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..runs import processor_of
from ..schedules import BASELINE, BOUNDARY_STRATEGIES
from ..stats import compare_estimates

__all__ = ["ENDPOINT", "FAMILY", "SEEDS_FIRST", "SEEDS_CAP", "EXPLORATORY", "paired_matrix", "two_term_se",
           "external_answer", "bootstrap_table", "sizing", "final_seeds", "seed_patient_bootstrap", "seeds_needed",
           "subgroup_differences", "secondary_differences", "domain_gap", "bus_bra_per_run", "cases_by_rule"]

#: The external endpoint, fixed before the first run.
ENDPOINT = dict(metric="dice", images="all", checkpoint="final", baseline=BASELINE, margin=0.02, alpha=0.05)
#: The comparisons one Holm correction covers: each boundary-loss strategy against CE.
FAMILY = tuple(BOUNDARY_STRATEGIES)
#: Seeds trained before the sd is re-estimated, and the most the final number may be.
SEEDS_FIRST, SEEDS_CAP = 6, 16
#: The exploratory measures (intervals, no verdict words): (label, column of the per-image table, lower is better).
EXPLORATORY = (("NSD at 2 px", "nsd", False), ("HD95 px (missed tumour = image diagonal)", "hd95", True),
               ("tumours missed (share)", "pred_empty", True), ("connected components per prediction", "components", True))


def paired_matrix(table: pd.DataFrame, strategy: str, metric: str = "dice", baseline: str = BASELINE
                  ) -> tuple[pd.DataFrame, pd.Series]:
    """The runs × images matrix of ``metric`` differences ``strategy − baseline`` (rows: the runs'
    seeds) and each image's patient. ``table``: long per-image external results with ``strategy,
    seed, fold, machine, stem, patient`` and ``metric`` (:func:`bl_utils.runs.external_images`). A run
    pairs only with CE's of the same seed, fold and machine; images in the order of the table."""
    def wide(name):
        rows = table[table.strategy == name]
        return rows.pivot_table(index=["seed", "fold", "machine"], columns="stem", values=metric, sort=False)

    a, b = wide(strategy), wide(baseline)
    keys = a.index.intersection(b.index)
    stems = [s for s in dict.fromkeys(table.stem) if s in a.columns]
    d = a.loc[keys, stems] - b.loc[keys, stems]
    d.index = [seed for seed, _, _ in keys]
    patients = table.drop_duplicates("stem").set_index("stem").patient.reindex(stems)
    return d, patients


def two_term_se(d: np.ndarray, patients: Sequence) -> tuple[float, float, float, float]:
    """``(mean, se, df, seed_se)`` of the mean of a seeds × images matrix ``d`` (no NaN):
    ``se² = var(seed means)/J + V_patients`` (:mod:`this module <bl_utils.answers.external>`), ``df`` by
    Welch–Satterthwaite, ``seed_se`` the first term's root alone. ``patients``: one id per column."""
    d = np.asarray(d, dtype=float)
    if d.ndim != 2 or d.shape[0] < 2 or not np.isfinite(d).all():
        raise ValueError(f"d must be a finite seeds × images matrix with at least 2 seeds, got shape {d.shape}.")
    j, n = d.shape
    seed_term = float(d.mean(axis=1).var(ddof=1)) / j
    per_image = d.mean(axis=0)
    mean = float(per_image.mean())
    sums = pd.Series(per_image - mean).groupby(np.asarray(patients)).sum().to_numpy()
    p = len(sums)
    patient_term = float(p / (p - 1) * (sums ** 2).sum() / n ** 2) if p > 1 else 0.0
    se2 = seed_term + patient_term
    denominator = seed_term ** 2 / (j - 1) + (patient_term ** 2 / (p - 1) if p > 1 else 0.0)
    df = se2 ** 2 / denominator if denominator > 0 else float(j - 1)
    return mean, float(np.sqrt(se2)), float(df), float(np.sqrt(seed_term))


def external_answer(table: pd.DataFrame, margin: float = ENDPOINT["margin"], alpha: float = ENDPOINT["alpha"]
                    ) -> pd.DataFrame:
    """The endpoint for every strategy of :data:`FAMILY` found in ``table`` (long per-image results,
    see :func:`paired_matrix`): one row per strategy with the verdict's fields
    (:meth:`bl_utils.stats.Verdict.as_row`: ``mean``, the two-term 95 % interval ``corrected_*``, the
    seeds-only interval ``plain_*``, ``p_diff(_holm)``, ``p_tost(_holm)``, ``verdict``), the seeds
    and the two variance terms' roots ``seed_se`` and ``patient_se``."""
    named, extra = {}, {}
    for name in FAMILY:
        if not (table.strategy == name).any():
            continue
        d, patients = paired_matrix(table, name, ENDPOINT["metric"])
        if len(d) < 2:
            continue
        mean, se, df, seed_se = two_term_se(d.to_numpy(), patients.to_numpy())
        named[name] = (mean, se, df, seed_se, len(d))
        seed_means = d.mean(axis=1)
        extra[name] = {"seeds": len(d), "seed_se": seed_se, "patient_se": float(np.sqrt(max(se ** 2 - seed_se ** 2, 0.0))),
                       "seed_sd": float(seed_means.std(ddof=1)), "runs_below_zero": int((seed_means < 0).sum()),
                       "runs_above_zero": int((seed_means > 0).sum())}
    if not named:
        return pd.DataFrame()
    verdicts = compare_estimates(named, margin=margin, alpha=alpha, method="seeds and patients")
    return pd.DataFrame([{**v.as_row(), **extra[v.name]} for v in verdicts])


def seed_patient_bootstrap(d: np.ndarray, patients: Sequence, n_resamples: int = 2000, confidence: float = 0.95,
                           seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean of a seeds × images matrix ``d``, resampling seeds and then
    patients (a patient's images together), each with replacement. A sensitivity check only."""
    d = np.asarray(d, dtype=float)
    codes, index = np.unique(np.asarray(patients), return_inverse=True)
    sums = np.zeros((d.shape[0], len(codes)))
    np.add.at(sums.T, index, d.T)
    counts = np.bincount(index, minlength=len(codes)).astype(float)
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for k in range(n_resamples):
        rows = rng.integers(0, d.shape[0], d.shape[0])
        cols = rng.integers(0, len(codes), len(codes))
        means[k] = sums[np.ix_(rows, cols)].sum() / (len(rows) * counts[cols].sum())
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def seeds_needed(seed_sd: float, patient_se: float, margin: float = ENDPOINT["margin"],
                 alpha: float = ENDPOINT["alpha"] / len(FAMILY), power: float = 0.8, true_difference: float = 0.0,
                 cap: int = 1000) -> int | None:
    """The fewest seeds at which TOST within ``± margin`` at level ``alpha`` (default: Holm's strictest,
    alpha/3) succeeds with probability ``power`` when the true difference is ``true_difference``:
    ``margin − |δ| ≥ (t_{1−α} + t_{1−β(/2 if δ = 0)}) · sqrt(seed_sd²/J + patient_se²)`` with ``J − 1``
    df (conservative). ``None`` when no number up to ``cap`` suffices."""
    gap = margin - abs(true_difference)
    if gap <= 0:
        return None
    runs = np.arange(2, cap + 1)
    beta = 1 - power
    t_beta = _st.t.ppf(1 - beta / 2 if true_difference == 0 else 1 - beta, runs - 1)
    need = (_st.t.ppf(1 - alpha, runs - 1) + t_beta) * np.sqrt(seed_sd ** 2 / runs + patient_se ** 2)
    ok = need <= gap
    return int(runs[np.argmax(ok)]) if ok.any() else None


def cases_by_rule(table: pd.DataFrame) -> pd.DataFrame:
    """The cases notebook 6 shows, by the rule stated before the runs: per scanner, the image whose
    seed-averaged CE Dice is that scanner's median (the lower middle one for an even count).
    ``table``: long per-image results (``strategy, scanner, stem, dice``). One row per scanner."""
    ce = table[table.strategy == BASELINE].groupby(["scanner", "stem"], sort=False).dice.mean().reset_index()
    rows = []
    for scanner, group in ce.groupby("scanner", sort=True):
        ordered = group.sort_values(["dice", "stem"]).reset_index(drop=True)
        rows.append(ordered.iloc[(len(ordered) - 1) // 2])
    return pd.DataFrame(rows).reset_index(drop=True)


def _interval(d: np.ndarray, patients, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)`` of the two-term interval of a seeds × images matrix (NaN bounds for one seed)."""
    if d.shape[0] < 2:
        return float(np.nanmean(d)) if d.size else float("nan"), float("nan"), float("nan")
    mean, se, df, _ = two_term_se(d, patients)
    half = float(_st.t.ppf((1 + confidence) / 2, df)) * se
    return mean, mean - half, mean + half


def bootstrap_table(table: pd.DataFrame, n_resamples: int = 2000) -> pd.DataFrame:
    """The sensitivity check beside :func:`external_answer`: per strategy of :data:`FAMILY`, the
    percentile interval of :func:`seed_patient_bootstrap` (anti-conservative over few seeds)."""
    rows = []
    for name in FAMILY:
        if (table.strategy == name).any():
            d, patients = paired_matrix(table, name, ENDPOINT["metric"])
            if len(d):
                low, high = seed_patient_bootstrap(d.to_numpy(), patients.to_numpy(), n_resamples)
                rows.append({"strategy": name, "seeds": len(d), "mean": float(d.to_numpy().mean()),
                             "bootstrap_low": low, "bootstrap_high": high})
    return pd.DataFrame(rows, columns=["strategy", "seeds", "mean", "bootstrap_low", "bootstrap_high"])


def sizing(answer: pd.DataFrame, margin: float = ENDPOINT["margin"], power: float = 0.8) -> pd.DataFrame:
    """Per strategy of ``answer``: the seeds TOST at Holm's strictest level needs at ``power``
    (:func:`seeds_needed`) with the measured seed sd and patient se, at a true difference of 0 and
    at the observed one (``None``: none can), and :data:`SEEDS_CAP`, the most the plan allows."""
    rows = []
    for _, row in answer.iterrows():
        rows.append({"strategy": row["name"], "seeds": int(row["seeds"]), "seed_sd": row["seed_sd"],
                     "patient_se": row["patient_se"],
                     "seeds_needed": seeds_needed(row["seed_sd"], row["patient_se"], margin, power=power),
                     "seeds_needed_at_observed": seeds_needed(row["seed_sd"], row["patient_se"], margin, power=power,
                                                              true_difference=row["mean"]),
                     "cap": SEEDS_CAP})
    return pd.DataFrame(rows)


def subgroup_differences(table: pd.DataFrame, by: str, metric: str = "dice") -> pd.DataFrame:
    """Exploratory: each strategy − CE on ``metric`` within each value of column ``by`` (``scanner``,
    ``label``, or any column of the per-image table), with the two-term 95 % interval; no verdict.
    Columns ``by, strategy, seeds, n_images, mean, low, high``."""
    rows = []
    for value, group in table.groupby(by, sort=True):
        for name in FAMILY:
            if (group.strategy == name).any():
                d, patients = paired_matrix(group, name, metric)
                if d.size:
                    mean, low, high = _interval(d.to_numpy(dtype=float), patients.to_numpy())
                    rows.append({by: value, "strategy": name, "seeds": len(d), "n_images": d.shape[1],
                                 "mean": mean, "low": low, "high": high})
    return pd.DataFrame(rows, columns=[by, "strategy", "seeds", "n_images", "mean", "low", "high"])


def secondary_differences(table: pd.DataFrame) -> pd.DataFrame:
    """Exploratory: each strategy − CE on every measure of :data:`EXPLORATORY` over all images, with the
    two-term 95 % interval; no verdict. Columns ``measure, strategy, seeds, mean, low, high, lower_is_better``."""
    long = table.assign(pred_empty=table.pred_empty.astype(float))
    rows = []
    for label, column, lower in EXPLORATORY:
        for name in FAMILY:
            if (long.strategy == name).any():
                d, patients = paired_matrix(long, name, column)
                if d.size:
                    mean, low, high = _interval(d.to_numpy(dtype=float), patients.to_numpy())
                    rows.append({"measure": label, "strategy": name, "seeds": len(d), "mean": mean, "low": low,
                                 "high": high, "lower_is_better": lower})
    return pd.DataFrame(rows, columns=["measure", "strategy", "seeds", "mean", "low", "high", "lower_is_better"])


def domain_gap(in_domain: pd.DataFrame, external: pd.DataFrame, study_external: pd.DataFrame | None = None
               ) -> pd.DataFrame:
    """Per strategy of :data:`bl_utils.schedules.STRATEGIES`: how much Dice the models lose on another
    hospital. ``in_domain``: :func:`bl_utils.runs.per_image` of the study's runs (cross-validated on
    BUSI, 340 training images a run; tumour images only are scored); ``external``:
    :func:`bl_utils.runs.external_images` of the external runs (all 425 images, one run per seed);
    ``study_external``: the same of the study's runs that were also scored on BUS-BRA (``None`` or
    empty: none yet). Each run counts once (its mean Dice over images), then runs are averaged.

    Columns: BUSI Dice of all the study's runs; BUS-BRA Dice of the external runs; BUS-BRA Dice of the
    study's runs scored there (equal training size); the gap on those same runs, BUS-BRA − BUSI,
    paired by (seed, fold, machine); ``runs``, the runs behind the three means ("a / b / c"). NaN where
    no run is scored."""
    from ..schedules import STRATEGIES

    keys = ["seed", "fold", "machine"]
    tumour = in_domain[~in_domain.target_empty.astype(bool)]
    study_external = study_external if study_external is not None else pd.DataFrame(columns=external.columns)
    rows = []
    for name in STRATEGIES:
        busi = tumour[tumour.strategy == name].groupby(keys).dice.mean()
        bra = external[external.strategy == name].groupby(keys).dice.mean()
        equal = study_external[study_external.strategy == name].groupby(keys).dice.mean()
        same = pd.concat({"bra": equal, "busi": busi}, axis=1, join="inner")
        rows.append({"strategy": name, "BUSI (cross-validated, 340 training images)": busi.mean(),
                     "BUS-BRA (trained on all 425)": bra.mean(),
                     "BUS-BRA (the study's runs, 340 training images)": equal.mean() if len(equal) else float("nan"),
                     "gap on those runs (BUS-BRA − BUSI)": (same.bra - same.busi).mean() if len(same) else float("nan"),
                     "runs": f"{len(busi)} / {len(bra)} / {len(equal)}"})
    return pd.DataFrame(rows)


#: The two sets of runs scored on BUS-BRA, as :func:`bus_bra_per_run` names them.
RUN_SETS = ("trained on all 425 (the external test)", "the study's, 340 training images")


def bus_bra_per_run(external: pd.DataFrame, study_external: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per run scored on BUS-BRA: ``strategy``, ``runs`` (which of :data:`RUN_SETS`), ``seed``,
    ``fold`` (-1 for the external runs), ``machine``, ``processor`` (:func:`bl_utils.runs.processor_of`),
    ``dice``, the run's mean Dice over the images, and ``missed``, the share of its images predicted empty
    (every BUS-BRA image holds a tumour).
    ``external`` and ``study_external``: :func:`bl_utils.runs.external_images` of the external test's runs
    and of the study's runs scored there (``None`` or empty: none yet). The spread the domain gap's means
    hide: the two sets differ in their training set (all 425 images against 340 of them) and, run by
    run, in the processor they trained on."""
    keys = ["strategy", "seed", "fold", "machine"]
    columns = ["strategy", "runs", "seed", "fold", "machine", "processor", "dice", "missed"]
    frames = [table.assign(missed=table.pred_empty.astype(float)).groupby(keys, sort=False)[["dice", "missed"]]
              .mean().reset_index().assign(runs=name, processor=lambda t: t.machine.map(processor_of))
              for name, table in zip(RUN_SETS, (external, study_external)) if table is not None and len(table)]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def final_seeds(sizing_table: pd.DataFrame) -> int | None:
    """The final number of seeds, by the rule stated before the first run: once the
    :data:`SEEDS_FIRST` first seeds are in, the most seeds any comparison of the family needs at a
    true difference of 0 (``seeds_needed`` of :func:`sizing`: the sd only, never the means), at least
    :data:`SEEDS_FIRST` and at most :data:`SEEDS_CAP` (a comparison that no number of seeds sizes
    takes the cap). ``None`` before the first seeds are in (or with no comparison)."""
    if sizing_table.empty or int(sizing_table["seeds"].min()) < SEEDS_FIRST:
        return None
    needed = [SEEDS_CAP if n is None or pd.isna(n) else int(n) for n in sizing_table["seeds_needed"]]
    return int(min(max(SEEDS_FIRST, *needed), SEEDS_CAP))
