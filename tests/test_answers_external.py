"""Tests of bl_utils.answers.external: the external test's endpoint on BUS-BRA, stated before its runs.

Oracles:
* statsmodels: the patient term is the cluster-robust variance of the mean of the seed-averaged
  per-image differences, ``OLS(y, 1).fit(cov_type="cluster", groups=patient)`` with statsmodels'
  default small-sample correction (``use_correction=True``: ``G/(G−1) · (N−1)/(N−K)``, which with one
  parameter is the module's ``P/(P−1)``; ``use_correction=False`` is smaller by ``(P−1)/P``); the seed
  term is the ordinary OLS variance of the mean of the J seed means (``s²/J``);
* Welch–Satterthwaite's degrees of freedom and the t quantiles (scipy) written out by hand;
* ``statsmodels.stats.multitest.multipletests(method="holm")`` for the Holm families;
* simulations with a known truth (the shift of each strategy; the true mean of the bootstrap), and a
  brute-force search over J of :func:`seeds_needed`'s own stated inequality.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from bl_utils.answers import external
from bl_utils.answers.external import (ENDPOINT, FAMILY, SEEDS_CAP, SEEDS_FIRST, cases_by_rule, external_answer, final_seeds,
                                       paired_matrix, seed_patient_bootstrap, seeds_needed, sizing, two_term_se)

sm = pytest.importorskip("statsmodels.api", reason="statsmodels is the variance oracle")
multitest = pytest.importorskip("statsmodels.stats.multitest")


def clustered(rng, seeds=6, patients=25, seed_sd=0.01, patient_sd=0.02, noise_sd=0.03, mean=0.0):
    """A seeds × images matrix of differences: seed effects, patient effects (1–3 images each), noise."""
    per_patient = rng.integers(1, 4, patients)
    g = np.repeat(np.arange(patients), per_patient)
    d = (mean + rng.normal(0, seed_sd, (seeds, 1)) + rng.normal(0, patient_sd, patients)[g]
         + rng.normal(0, noise_sd, (seeds, len(g))))
    return d, g


# --------------------------------------------------------------------------------------------
# two_term_se


@pytest.mark.parametrize("seed, seeds, patients", [(0, 6, 25), (1, 2, 5), (2, 16, 40), (3, 4, 3)])
def test_two_term_se_is_seed_variance_plus_cluster_robust_patient_variance(seed, seeds, patients):
    d, g = clustered(np.random.default_rng(seed), seeds, patients)
    g = np.array([f"patient {k}" for k in g])                     # any hashable ids
    mean, se, df, seed_se = two_term_se(d, g)
    j, n = d.shape
    assert mean == pytest.approx(d.mean(), abs=1e-15)
    seed_term = sm.OLS(d.mean(axis=1), np.ones(j)).fit().bse[0] ** 2
    assert seed_se ** 2 == pytest.approx(seed_term, rel=1e-10)
    robust = sm.OLS(d.mean(axis=0), np.ones(n)).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(g)[0]})
    patient_term = robust.bse[0] ** 2
    assert se ** 2 == pytest.approx(seed_term + patient_term, rel=1e-10)   # the module's P/(P-1) = statsmodels' default
    uncorrected = sm.OLS(d.mean(axis=0), np.ones(n)).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(g)[0], "use_correction": False}).bse[0] ** 2
    assert patient_term == pytest.approx(uncorrected * patients / (patients - 1), rel=1e-10)
    assert se ** 2 != pytest.approx(seed_term + uncorrected, rel=1e-6)
    welch = (seed_term + patient_term) ** 2 / (seed_term ** 2 / (j - 1) + patient_term ** 2 / (patients - 1))
    assert df == pytest.approx(welch, rel=1e-10)
    assert min(j - 1, patients - 1) <= df <= (j - 1) + (patients - 1)    # Welch–Satterthwaite's bounds


def test_two_term_se_with_one_image_per_patient_is_the_iid_standard_error():
    d, _ = clustered(np.random.default_rng(5), 5, 30)
    n = d.shape[1]
    mean, se, df, seed_se = two_term_se(d, np.arange(n))
    per_image = d.mean(axis=0)
    # one image each: P/(P-1) · Σ(x - x̄)² / N² = s² / N
    assert se ** 2 - seed_se ** 2 == pytest.approx(per_image.var(ddof=1) / n, rel=1e-10)


def test_two_term_se_edge_cases():
    rng = np.random.default_rng(7)
    d = rng.normal(size=(4, 6))
    # one patient: no patient term, the seeds' J - 1 degrees of freedom
    mean, se, df, seed_se = two_term_se(d, np.zeros(6))
    assert se == seed_se == pytest.approx(d.mean(axis=1).std(ddof=1) / 2) and df == 3.0
    # identical seeds: no seed term, the patients' P - 1 degrees of freedom
    same = np.tile(rng.normal(size=6), (3, 1))
    mean, se, df, seed_se = two_term_se(same, [0, 0, 1, 1, 2, 3])
    assert seed_se == 0.0 and df == pytest.approx(3.0) and se > 0
    # no variation at all: se 0, and df J - 1 (nothing to estimate)
    assert two_term_se(np.full((3, 4), 0.25), [0, 1, 2, 3]) == (0.25, 0.0, 2.0, 0.0)


@pytest.mark.parametrize("bad", [np.zeros((1, 5)), np.zeros(5), np.array([[0.1, np.nan], [0.2, 0.3]]),
                                 np.array([[0.1, np.inf], [0.2, 0.3]])])
def test_two_term_se_refuses_a_bad_matrix(bad):
    with pytest.raises(ValueError, match="seeds × images"):
        two_term_se(bad, np.arange(bad.shape[-1]))


# --------------------------------------------------------------------------------------------
# external_answer on a synthetic long table


SHIFTS = {"ce+bl": 0.08, "ce+ramp": -0.08, "rebalance": 0.0}


def long_table(seed=0, seeds=6, images=60, patients=25, shifts=SHIFTS, noise=None, machines=None, folds=None):
    """Per-image external results of the four strategies (as :func:`bl_utils.runs.external_images` reads
    them): CE's Dice (image difficulty + seed + noise) and each strategy = CE + its true shift + its own
    noise. ``machines`` / ``folds``: ``{(strategy, seed): value}`` override the machine "m1" / the fold -1
    (a run without folds)."""
    rng = np.random.default_rng(seed)
    noise = noise or {"ce+bl": 0.03, "ce+ramp": 0.03, "rebalance": 0.0005}
    patient = np.sort(rng.integers(0, patients, images))
    stems = [f"bus_{k:04d}-l" for k in range(images)]
    difficulty = rng.uniform(0.4, 0.9, images)
    rows = []
    for s in range(seeds):
        ce = np.clip(difficulty + rng.normal(0, 0.05) + rng.normal(0, 0.05, images), 0, 1)
        values = {"ce": ce, **{name: ce + shift + rng.normal(0, noise[name], images) for name, shift in shifts.items()}}
        for name, dice in values.items():
            machine = (machines or {}).get((name, s), "m1")
            fold = (folds or {}).get((name, s), -1)
            rows += [{"strategy": name, "seed": s, "fold": fold, "machine": machine, "stem": stem, "patient": p, "dice": v,
                      "scanner": "GE" if k % 3 else "Toshiba"}
                     for k, (stem, p, v) in enumerate(zip(stems, patient, dice))]
    return pd.DataFrame(rows)


def matrix(table, name, seeds):
    """The seeds × images differences name − ce, built here by plain indexing (not paired_matrix)."""
    a = table[table.strategy == name].set_index(["seed", "stem"]).dice
    b = table[table.strategy == "ce"].set_index(["seed", "stem"]).dice
    stems = list(dict.fromkeys(table.stem))
    return np.array([[a[s, x] - b[s, x] for x in stems] for s in seeds])


def test_external_answer_calls_a_big_shift_better_or_worse_and_no_shift_equivalent():
    table = long_table()
    answer = external_answer(table).set_index("name")
    assert list(answer.index) == list(FAMILY)
    assert answer.verdict.to_dict() == {"ce+bl": "better", "ce+ramp": "worse", "rebalance": "equivalent"}
    assert (answer.seeds == 6).all()
    patients = table.drop_duplicates("stem").patient.to_numpy()
    for name, shift in SHIFTS.items():
        d = matrix(table, name, range(6))
        mean, se, df, seed_se = two_term_se(d, patients)
        row = answer.loc[name]
        assert row["mean"] == pytest.approx(d.mean(), abs=1e-12) == pytest.approx(mean, abs=1e-12)
        assert abs(row["mean"] - shift) < 0.01
        assert row.seed_se == pytest.approx(seed_se) and row.patient_se == pytest.approx(np.sqrt(se ** 2 - seed_se ** 2))
        assert row.seed_sd == pytest.approx(d.mean(axis=1).std(ddof=1))
        assert (row.runs_below_zero, row.runs_above_zero) == ((d.mean(axis=1) < 0).sum(), (d.mean(axis=1) > 0).sum())
        half = st.t.ppf(0.975, df) * se
        assert (row.corrected_low, row.corrected_high) == pytest.approx((mean - half, mean + half))
        assert row.p_diff == pytest.approx(min(1.0, 2 * st.t.sf(abs(mean) / se, df)))
        tost = max(st.t.sf((mean + ENDPOINT["margin"]) / se, df), st.t.sf((ENDPOINT["margin"] - mean) / se, df))
        assert row.p_tost == pytest.approx(tost)
        plain = st.t.ppf(0.975, 5) * seed_se                     # the seeds-only interval, J - 1 df
        assert (row.plain_low, row.plain_high) == pytest.approx((mean - plain, mean + plain))
    for column in ("p_diff", "p_tost"):                          # one Holm family of three, per test
        expected = multitest.multipletests(answer[column].to_numpy(), method="holm")[1]
        np.testing.assert_allclose(answer[f"{column}_holm"].to_numpy(), expected, rtol=1e-12)
        assert (answer[f"{column}_holm"] >= answer[column]).all()


def test_holm_family_of_three_decides_a_borderline_verdict():
    """A small true shift (0.006) whose raw two-sided p is below 0.05 but whose Holm-adjusted p (three
    comparisons) is not: within the margin, so "equivalent", not "better_within_margin"."""
    table = long_table(seed=1, shifts={"ce+bl": 0.006, "ce+ramp": 0.0, "rebalance": 0.0},
                       noise={"ce+bl": 0.03, "ce+ramp": 0.03, "rebalance": 0.03})
    answer = external_answer(table).set_index("name")
    expected = multitest.multipletests(answer.p_diff.to_numpy(), method="holm")
    np.testing.assert_allclose(answer.p_diff_holm.to_numpy(), expected[1], rtol=1e-12)
    row = answer.loc["ce+bl"]
    assert row.p_diff < 0.05 <= row.p_diff_holm == pytest.approx(3 * row.p_diff)     # the smallest of three p's
    assert row.p_tost_holm < 0.05 and row.verdict == "equivalent"
    assert not expected[0].any() and answer.verdict.tolist() == ["equivalent"] * 3


@pytest.mark.parametrize("key, other", [("machines", "m2"), ("folds", 0)])
def test_a_seed_trained_on_two_machines_drops_out_of_that_comparison(key, other):
    table = long_table(**{key: {("rebalance", 5): other}})       # its CE ran on m1, without folds
    answer = external_answer(table).set_index("name")
    assert answer.seeds.to_dict() == {"ce+bl": 6, "ce+ramp": 6, "rebalance": 5}
    d = matrix(table, "rebalance", range(5))
    assert answer.loc["rebalance", "mean"] == pytest.approx(d.mean(), abs=1e-12)
    mean, se, df, seed_se = two_term_se(d, table.drop_duplicates("stem").patient.to_numpy())
    assert answer.loc["rebalance", "seed_se"] == pytest.approx(seed_se)
    # both runs of a seed moved pair again (and the others of that seed no longer do)
    both = long_table(**{key: {("rebalance", 5): other, ("ce", 5): other}})
    assert external_answer(both).set_index("name").seeds.to_dict() == {"ce+bl": 5, "ce+ramp": 5, "rebalance": 6}


def test_external_answer_leaves_out_missing_strategies_and_single_seeds():
    table = long_table(seeds=3)
    assert list(external_answer(table[table.strategy != "ce+ramp"]).name) == ["ce+bl", "rebalance"]
    one_seed = table[(table.strategy == "ce") | (table.seed == 0)]   # the others have one paired seed
    assert external_answer(one_seed).empty
    assert external_answer(table[table.strategy == "ce"]).empty


def test_paired_matrix_orders_seeds_and_images_and_names_their_patients():
    table = long_table(seeds=3, images=8, patients=4)
    shuffled = table.sample(frac=1, random_state=0)             # rows in any order
    d, patients = paired_matrix(shuffled, "ce+bl")
    stems = list(dict.fromkeys(shuffled.stem))                  # images in the order of the table
    assert list(d.columns) == stems and sorted(d.index) == [0, 1, 2]
    expected = matrix(table, "ce+bl", list(d.index))
    np.testing.assert_allclose(d.to_numpy(), expected[:, [list(dict.fromkeys(table.stem)).index(s) for s in stems]])
    truth = table.drop_duplicates("stem").set_index("stem").patient
    assert patients.to_dict() == truth.loc[stems].to_dict()


# --------------------------------------------------------------------------------------------
# The bootstrap (a sensitivity check)


def test_seed_patient_bootstrap_covers_the_true_mean():
    rng = np.random.default_rng(11)
    truth, covered, widths = 0.03, 0, []
    for k in range(40):
        d, g = clustered(rng, seeds=8, patients=30, mean=truth)
        low, high = seed_patient_bootstrap(d, g, n_resamples=400, seed=k)
        assert low <= d.mean() <= high
        covered += low <= truth <= high
        widths.append(high - low)
    assert covered >= 32                                         # nominal 95 %, anti-conservative: >= 80 % of 40
    assert np.std(widths) < np.mean(widths)                      # a stable width, not a lucky one


def test_seed_patient_bootstrap_moves_a_patients_images_together():
    rng = np.random.default_rng(4)
    patients = np.repeat(np.arange(20), 5)                      # 20 patients of 5 images
    values = rng.normal(0, 0.05, 20)[patients]                  # all variation between patients
    d = np.tile(values, (4, 1))                                  # the same for every seed
    low, high = seed_patient_bootstrap(d, patients, n_resamples=2000)
    scrambled = rng.permutation(patients)                       # the same values, patients mixed
    s_low, s_high = seed_patient_bootstrap(d, scrambled, n_resamples=2000)
    assert high - low > 1.8 * (s_high - s_low)                   # ~sqrt(5) wider when patients move as one
    assert low <= values.mean() <= high and s_low <= values.mean() <= s_high
    # nothing varies: a point
    assert seed_patient_bootstrap(np.full((3, 6), 0.25), np.arange(6), n_resamples=50) == pytest.approx((0.25, 0.25))


def test_seed_patient_bootstrap_is_seeded():
    d, g = clustered(np.random.default_rng(2))
    assert seed_patient_bootstrap(d, g, 300, seed=1) == seed_patient_bootstrap(d, g, 300, seed=1)
    assert seed_patient_bootstrap(d, g, 300, seed=1) != seed_patient_bootstrap(d, g, 300, seed=2)
    wide, narrow = seed_patient_bootstrap(d, g, 2000, 0.99), seed_patient_bootstrap(d, g, 2000, 0.8)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


# --------------------------------------------------------------------------------------------
# seeds_needed


def brute_seeds(seed_sd, patient_se, margin, alpha, power, true_difference, cap):
    """The first J in 2..cap with margin − |δ| ≥ (t_{1−α} + t_{1−β(/2 if δ = 0)}) · sqrt(sd²/J + se_p²), J − 1 df."""
    beta = 1 - power
    for j in range(2, cap + 1):
        t_beta = st.t.ppf(1 - beta / 2 if true_difference == 0 else 1 - beta, j - 1)
        if margin - abs(true_difference) >= (st.t.ppf(1 - alpha, j - 1) + t_beta) * np.sqrt(seed_sd ** 2 / j + patient_se ** 2):
            return j
    return None


@pytest.mark.parametrize("seed_sd, patient_se, margin, alpha, power, delta", [
    (0.01, 0.002, 0.02, 0.05 / 3, 0.8, 0.0), (0.02, 0.003, 0.02, 0.05 / 3, 0.8, 0.0),
    (0.03, 0.001, 0.02, 0.05 / 3, 0.9, 0.005), (0.005, 0.0, 0.02, 0.05, 0.8, -0.01),
    (0.05, 0.004, 0.03, 0.025, 0.8, 0.0), (0.001, 0.0049, 0.02, 0.05 / 3, 0.8, 0.0),
    (0.2, 0.0, 0.02, 0.05 / 3, 0.8, 0.0)])
def test_seeds_needed_is_the_first_j_of_its_inequality(seed_sd, patient_se, margin, alpha, power, delta):
    got = seeds_needed(seed_sd, patient_se, margin=margin, alpha=alpha, power=power, true_difference=delta, cap=400)
    assert got == brute_seeds(seed_sd, patient_se, margin, alpha, power, delta, 400)


def test_seeds_needed_defaults_are_holms_strictest_level_and_the_margin():
    assert seeds_needed(0.02, 0.003) == brute_seeds(0.02, 0.003, ENDPOINT["margin"], ENDPOINT["alpha"] / 3, 0.8, 0.0, 1000)
    assert len(FAMILY) == 3 and external.SEEDS_FIRST <= external.SEEDS_CAP


def test_seeds_needed_falls_with_the_seed_sd():
    needed = [seeds_needed(sd, 0.002) for sd in (0.04, 0.03, 0.02, 0.01, 0.005, 0.001)]
    assert all(n is not None for n in needed)
    assert needed == sorted(needed, reverse=True) and needed[0] > needed[-1]


@pytest.mark.parametrize("patient_se, delta", [(0.01, 0.0), (0.006, 0.0), (0.0, 0.02), (0.0, -0.03), (0.001, 0.025)])
def test_seeds_needed_none_when_patients_alone_or_the_true_difference_rule_it_out(patient_se, delta):
    assert seeds_needed(0.001, patient_se, true_difference=delta) is None
    if delta == 0:     # the patient term alone needs more than the margin: (z_{1−α/3} + z_{0.9}) · se_p > 0.02
        assert (st.norm.ppf(1 - 0.05 / 3) + st.norm.ppf(0.9)) * patient_se > 0.02


def test_seeds_needed_none_beyond_the_cap():
    needed = seeds_needed(0.1, 0.0)
    assert needed is not None and needed > 10
    assert seeds_needed(0.1, 0.0, cap=needed - 1) is None and seeds_needed(0.1, 0.0, cap=needed) == needed


# --------------------------------------------------------------------------------------------
# The cases shown


def test_cases_by_rule_picks_the_median_ce_dice_image_per_scanner():
    # scanner A: 5 images; seed-averaged CE Dice a0..a4 = 0.5, 0.1, 0.9, 0.3, 0.7 -> median 0.5 (a0),
    # although seed 0 alone would pick another; scanner B: 4 images 0.2, 0.8, 0.4, 0.6 -> the lower
    # middle one, 0.4 (b2). Other strategies' Dice must not matter.
    seeds = {"a0": (0.45, 0.55), "a1": (0.0, 0.2), "a2": (0.9, 0.9), "a3": (0.5, 0.1), "a4": (0.8, 0.6),
             "b0": (0.2, 0.2), "b1": (0.7, 0.9), "b2": (0.4, 0.4), "b3": (0.6, 0.6)}
    rows = []
    for stem, values in seeds.items():
        for seed, value in enumerate(values):
            rows.append({"strategy": "ce", "seed": seed, "scanner": "A" if stem[0] == "a" else "B", "stem": stem,
                         "dice": value})
            rows.append({"strategy": "ce+bl", "seed": seed, "scanner": "A" if stem[0] == "a" else "B", "stem": stem,
                         "dice": 1 - value})
    cases = cases_by_rule(pd.DataFrame(rows))
    assert cases.scanner.tolist() == ["A", "B"] and cases.stem.tolist() == ["a0", "b2"]
    assert cases.dice.tolist() == pytest.approx([0.5, 0.4])
    # seed 0 alone: A's median is 0.5 (a3), not a0 (0.45)
    alone = cases_by_rule(pd.DataFrame([r for r in rows if r["seed"] == 0]))
    assert alone.stem.tolist() == ["a3", "b2"]


# ------------------------------------------------------------------ the final number of seeds

def _sizing_rows(needed, seeds=6):
    return pd.DataFrame({"strategy": list(FAMILY)[:len(needed)], "seeds": seeds, "seed_sd": 0.02, "patient_se": 0.003,
                         "seeds_needed": needed, "seeds_needed_at_observed": None, "cap": SEEDS_CAP})


@pytest.mark.parametrize("needed, final", [((9, 13, 11), 13),      # the most any comparison needs
                                           ((3, 4, 5), 6),          # never fewer than the first six
                                           ((13, 23, 18), 16),      # at most the cap
                                           ((9, None, 11), 16)])    # a comparison no number sizes: the cap
def test_final_seeds_by_the_rule_stated_before_the_runs(needed, final):
    assert final_seeds(_sizing_rows(needed)) == final


def test_final_seeds_waits_for_the_first_six_and_reads_no_mean():
    assert final_seeds(_sizing_rows((9, 13, 11), seeds=5)) is None
    assert final_seeds(pd.DataFrame()) is None
    table = long_table(seeds=6)
    sized = sizing(external_answer(table))
    shifted = long_table(seeds=6, shifts={name: 0.0 for name in SHIFTS})   # other means, same noise draws
    assert final_seeds(sized) == final_seeds(sizing(external_answer(shifted)))
    expected = min(max(6, *[seeds_needed(r.seed_sd, r.patient_se) or SEEDS_CAP for r in sized.itertuples()]), SEEDS_CAP)
    assert final_seeds(sized) == expected


def test_the_final_number_of_seeds_is_the_rule_applied_to_the_six_first_published_seeds():
    """experiments.EXTERNAL_SEEDS holds the number final_seeds gives on the committed seeds 0-5 (their sd only)."""
    from pathlib import Path

    from bl_utils import experiments, runs

    root = Path(__file__).resolve().parents[1] / "results" / "busi-ff3294f5" / "external-quick-random"
    folders = [root / s / f"seed{k}" for s in ("ce", "ce_bl", "ce_ramp", "rebalance") for k in range(SEEDS_FIRST)]
    assert all((f / "run.json").is_file() for f in folders), "the six first external seeds are committed"
    table = runs.external_images([runs.load_run(f) for f in folders])
    assert final_seeds(sizing(external_answer(table))) == len(experiments.EXTERNAL_SEEDS) == 16
    assert experiments.EXTERNAL_SEEDS[:SEEDS_FIRST] == tuple(range(SEEDS_FIRST))


def test_domain_gap_averages_runs_and_pairs_the_study_runs_scored_on_both_hospitals():
    from bl_utils.schedules import STRATEGIES

    def rows(strategy, seed, fold, dices, **extra):
        return [{"strategy": strategy, "seed": seed, "fold": fold, "machine": "m", "dice": d, **extra} for d in dices]

    busi = pd.DataFrame(rows("ce", 0, 0, [0.6, 0.8], target_empty=False) + rows("ce", 0, 0, [0.0], target_empty=True)
                        + rows("ce", 2, 1, [0.9], target_empty=False) + rows("ce+bl", 2, 1, [0.5], target_empty=False))
    bra = pd.DataFrame(rows("ce", 0, -1, [0.4, 0.6, 0.8]) + rows("ce", 1, -1, [0.2]))
    study_bra = pd.DataFrame(rows("ce", 2, 1, [0.3, 0.5]) + rows("ce+bl", 3, 0, [0.7]))   # ce+bl (3, 0): not on BUSI
    gap = external.domain_gap(busi, bra, study_bra).set_index("strategy")
    assert list(gap.index) == list(STRATEGIES)
    ce = gap.loc["ce"]
    assert ce["BUSI (cross-validated, 340 training images)"] == pytest.approx((0.7 + 0.9) / 2)   # normal image left out
    assert ce["BUS-BRA (trained on all 425)"] == pytest.approx((0.6 + 0.2) / 2)                 # each run counts once
    assert ce["BUS-BRA (the study's runs, 340 training images)"] == pytest.approx(0.4)
    assert ce["gap on those runs (BUS-BRA − BUSI)"] == pytest.approx(0.4 - 0.9)                 # the (2, 1) run only
    assert ce["runs"] == "2 / 2 / 1"
    assert np.isnan(gap.loc["ce+bl", "gap on those runs (BUS-BRA − BUSI)"])                      # no run on both
    assert gap.loc["ce+bl", "runs"] == "1 / 0 / 1" and np.isnan(gap.loc["rebalance", "BUS-BRA (trained on all 425)"])
    assert np.isnan(external.domain_gap(busi, bra).loc[0, "BUS-BRA (the study's runs, 340 training images)"])


def test_bus_bra_per_run_counts_each_run_once_in_its_set():
    def rows(strategy, seed, fold, dices):
        return [{"strategy": strategy, "seed": seed, "fold": fold, "machine": "m", "dice": d, "pred_empty": d == 0}
                for d in dices]

    bra = pd.DataFrame(rows("ce", 0, -1, [0.4, 0.6, 0.8]) + rows("ce", 1, -1, [0.2]) + rows("ce", 1, -1, [0.0]))
    study_bra = pd.DataFrame(rows("ce", 2, 1, [0.3, 0.5]) + rows("ce+bl", 2, 1, [0.7]))
    per_run = external.bus_bra_per_run(bra, study_bra)
    assert len(per_run) == 4
    got = {(r.runs, r.strategy, r.seed, r.fold): r.dice for r in per_run.itertuples()}
    first, study = external.RUN_SETS
    assert got == pytest.approx({(first, "ce", 0, -1): 0.6, (first, "ce", 1, -1): 0.1,
                                 (study, "ce", 2, 1): 0.4, (study, "ce+bl", 2, 1): 0.7})
    missed = {(r.runs, r.seed): r.missed for r in per_run.itertuples() if r.strategy == "ce"}
    assert missed == pytest.approx({(first, 0): 0.0, (first, 1): 0.5, (study, 2): 0.0})   # one of seed 1's two
    assert set(per_run.processor) == {"m"}                               # the machine names no kernels here
    assert set(external.bus_bra_per_run(bra).runs) == {first}            # no study run scored yet
    assert external.bus_bra_per_run(bra.iloc[:0], None).empty
