"""Tests of bl_utils.analysis: the paired bootstrap against independent oracles (a seeded brute-force
resample, scipy.stats.bootstrap, the exact bootstrap distribution of a tiny sample), the case-selection
and best-strategy rules on hand-made tables, and loading runs from a hand-written results folder."""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bl_utils import analysis
from bl_utils.metrics import evaluate_masks
from bl_utils.schedules import STRATEGIES


# ------------------------------------------------------------------------------------ bootstrap
def brute_force_ci(values, n_resamples, confidence, seed):
    """One resample at a time in a Python loop, from the documented generator and draws."""
    rng = np.random.default_rng(seed)
    x = np.asarray(values, float)
    means = []
    for _ in range(n_resamples):
        index = rng.integers(0, len(x), size=len(x))
        means.append(sum(x[i] for i in index) / len(x))
    return tuple(np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2]))


@pytest.mark.parametrize("values", [[3.0, -1.0], [0, 1, 1, 2, 5], list(np.linspace(-2, 7, 37)),
                                    [0, 0, 0, 0, -1, 0, 0, 2]])
@pytest.mark.parametrize("confidence", [0.8, 0.95])
@pytest.mark.parametrize("seed", [0, 11])
def test_bootstrap_matches_a_seeded_brute_force_resample(values, confidence, seed):
    got = analysis.bootstrap_mean_ci(values, n_resamples=300, confidence=confidence, seed=seed)
    want = brute_force_ci(values, 300, confidence, seed)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n, shape", [(15, "normal"), (40, "skewed"), (80, "integers")])
def test_bootstrap_agrees_with_scipy_percentile_interval(n, shape):
    rng = np.random.default_rng(n)
    x = {"normal": rng.normal(0.3, 1.0, n), "skewed": rng.exponential(2.0, n),
         "integers": rng.integers(-3, 4, n).astype(float)}[shape]
    low, high = analysis.bootstrap_mean_ci(x, n_resamples=20000, confidence=0.95, seed=1)
    ref = stats.bootstrap((x,), np.mean, n_resamples=20000, confidence_level=0.95, method="percentile",
                          random_state=np.random.default_rng(2)).confidence_interval
    se = x.std(ddof=0) / np.sqrt(n)
    # Two independent Monte Carlo estimates of one interval: they differ by ~0.03 SE; allow 0.15 SE.
    assert abs(low - ref.low) < 0.15 * se and abs(high - ref.high) < 0.15 * se
    assert low < x.mean() < high


def test_bootstrap_matches_the_exact_bootstrap_distribution_of_a_tiny_sample():
    x = np.array([0.0, 1.0, 3.0, 7.0])
    # all 4^4 equally likely resamples: the exact bootstrap distribution of the mean
    exact = np.sort([np.mean(x[list(i)]) for i in itertools.product(range(4), repeat=4)])

    def quantile(q):  # smallest atom whose CDF reaches q
        return exact[int(np.ceil(q * len(exact))) - 1]

    low, high = analysis.bootstrap_mean_ci(x, n_resamples=50000, confidence=0.9, seed=3)
    assert quantile(0.05 - 0.01) <= low <= quantile(0.05 + 0.01)
    assert quantile(0.95 - 0.01) <= high <= quantile(0.95 + 0.01)


@pytest.mark.parametrize("values, want", [([2.5], (2.5, 2.5)), ([-1, -1, -1], (-1, -1))])
def test_bootstrap_degenerate_samples(values, want):
    assert analysis.bootstrap_mean_ci(values, n_resamples=50) == pytest.approx(want)


def test_bootstrap_of_nothing_is_nan():
    assert all(np.isnan(analysis.bootstrap_mean_ci([], n_resamples=10)))


@pytest.mark.parametrize("kwargs", [dict(values=[1, np.nan]), dict(values=[1, np.inf]),
                                    dict(values=[1, 2], confidence=1.0), dict(values=[1, 2], confidence=0),
                                    dict(values=[1, 2], n_resamples=0), dict(values=[1, 2], n_resamples=2.5)])
def test_bootstrap_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        analysis.bootstrap_mean_ci(**kwargs)


# ------------------------------------------------------------------------------ paired comparison
def test_paired_bootstrap_counts_and_drops_nan_pairs():
    base = [1, 2, 3, np.nan, 5, 4]
    other = [0, 2, 4, 1, np.nan, 2]
    r = analysis.paired_bootstrap(base, other, n_resamples=500, seed=4)
    # kept pairs: (1,0) (2,2) (3,4) (4,2): differences -1, 0, +1, -2
    assert (r.n, r.n_excluded) == (4, 2)
    assert (r.improved, r.worsened, r.tied) == (2, 1, 1)
    assert r.mean_baseline == pytest.approx(2.5) and r.mean_other == pytest.approx(2.0)
    assert r.mean_difference == pytest.approx(-0.5)
    assert (r.ci_low, r.ci_high) == analysis.bootstrap_mean_ci([-1, 0, 1, -2], 500, 0.95, seed=4)
    assert r.ci_low <= r.mean_difference <= r.ci_high
    flipped = analysis.paired_bootstrap(base, other, lower_is_better=False, n_resamples=500, seed=4)
    assert (flipped.improved, flipped.worsened, flipped.tied) == (1, 2, 1)


@pytest.mark.parametrize("diffs, lower_is_better, verdict", [
    ([-1, -2, -1, -3], True, "better"), ([-1, -2, -1, -3], False, "worse"),
    ([1, 2, 1, 1], True, "worse"), ([1, 2, 1, 1], False, "better"),
    ([-1, 1, -1, 1], True, "unclear"), ([], True, "unclear")])
def test_verdict_follows_the_interval(diffs, lower_is_better, verdict):
    base = np.zeros(len(diffs))
    r = analysis.paired_bootstrap(base, base + np.array(diffs, float), lower_is_better=lower_is_better,
                                  n_resamples=200)
    assert r.verdict == verdict


@pytest.mark.parametrize("a, b", [([1, 2], [1, 2, 3]), ([1, np.inf], [1, 2])])
def test_paired_bootstrap_rejects_bad_input(a, b):
    with pytest.raises(ValueError):
        analysis.paired_bootstrap(a, b)


def long_table():
    """Five images (two normal), three strategies, as per_image_table would give."""
    rows = []
    values = {"ce": [3, 1, 4, 0, 2], "ce+bl": [1, 1, 2, 0, 1], "rebalance": [3, 2, 6, 1, 2]}
    hd95 = {"ce": [10, 5, np.nan, 0, 8], "ce+bl": [6, 5, 7, 0, np.nan], "rebalance": [12, 9, 8, 3, 8]}
    for name in values:
        for i in range(5):
            rows.append({"strategy": name, "stem": f"img ({i})", "label": "normal" if i >= 3 else "benign",
                         "components": values[name][i], "hd95": hd95[name][i], "target_empty": i >= 3,
                         "pred_empty": values[name][i] == 0, "pred_area": 10 * values[name][i],
                         "pred_fraction": 10 * values[name][i] / 400})
    return pd.DataFrame(rows)


def test_compare_to_baseline_is_paired_bootstrap_per_strategy():
    long = long_table()
    table = analysis.compare_to_baseline(long, "components", others=("ce+bl", "rebalance"), n_resamples=300)
    assert list(table.strategy) == ["ce+bl", "rebalance"]
    bl = table.set_index("strategy").loc["ce+bl"]
    want = analysis.paired_bootstrap([3, 1, 4, 0, 2], [1, 1, 2, 0, 1], n_resamples=300)
    assert bl["mean_difference"] == pytest.approx(want.mean_difference)
    assert (bl["ci_low"], bl["ci_high"]) == (want.ci_low, want.ci_high)
    assert (bl["improved"], bl["worsened"], bl["tied"]) == (3, 0, 2)
    tumour = analysis.compare_to_baseline(long, "hd95", others=("ce+bl", "rebalance"), images="tumour",
                                          n_resamples=300).set_index("strategy")
    # tumour images 0..2; ce's image 2 has NaN HD95, so ce+bl keeps images 0, 1 and rebalance 0, 1
    assert (tumour.loc["ce+bl", "n"], tumour.loc["ce+bl", "n_excluded"]) == (2, 1)
    assert tumour.loc["rebalance", "mean_difference"] == pytest.approx(((12 - 10) + (9 - 5)) / 2)
    normal = analysis.compare_to_baseline(long, "components", others=("rebalance",), images="normal",
                                          n_resamples=300)
    assert normal.loc[0, "n"] == 2 and normal.loc[0, "worsened"] == 1


def test_wide_refuses_strategies_on_different_images():
    long = long_table()
    assert list(analysis.wide(long, "components").columns) == ["ce", "ce+bl", "rebalance"]
    assert list(analysis.wide(long, "components").index) == [f"img ({i})" for i in range(5)]
    with pytest.raises(ValueError, match="same"):
        analysis.wide(long.drop(index=7), "components")
    with pytest.raises(ValueError, match="no rows"):
        analysis.wide(long, "components", ["ce", "ce+ramp"])
    with pytest.raises(ValueError):
        analysis.compare_to_baseline(long, "components", images="benign")


def test_normal_image_summary_on_a_hand_made_table():
    summary = analysis.normal_image_summary(long_table()).set_index("strategy")
    # normal images are 3 and 4: ce predicts 0 and 2 components (areas 0, 20)
    assert summary.loc["ce", "normal_images"] == 2
    assert summary.loc["ce", "empty_predictions"] == 1 and summary.loc["ce", "with_prediction"] == 1
    assert summary.loc["ce", "mean_area"] == pytest.approx(10.0)
    assert summary.loc["ce", "mean_area_when_predicted"] == pytest.approx(20.0)
    assert summary.loc["rebalance", "empty_predictions"] == 0
    assert summary.loc["rebalance", "mean_components"] == pytest.approx(1.5)
    assert summary.loc["rebalance", "mean_area_fraction"] == pytest.approx(15 / 400)


# ----------------------------------------------------------------------------------------- rules
def runs_with(**dice):
    return {name.replace("_", "+"): SimpleNamespace(best={"val_dice": value}) for name, value in dice.items()}


@pytest.mark.parametrize("runs, want", [
    (runs_with(ce=0.9, ce_bl=0.5, ce_ramp=0.7, rebalance=0.6), "ce+ramp"),   # CE is never a candidate
    (runs_with(ce=0.1, ce_bl=0.6, ce_ramp=0.6, rebalance=0.6), "ce+bl"),      # tie: candidate order
    (runs_with(ce=0.1, ce_ramp=0.6, rebalance=0.7), "rebalance"),            # a strategy missing
    (runs_with(ce=0.1, ce_bl=0.2, rebalance=0.2), "ce+bl"),
])
def test_best_boundary_strategy(runs, want):
    assert analysis.best_boundary_strategy(runs) == want


def test_best_boundary_strategy_needs_a_candidate():
    with pytest.raises(ValueError, match="none of"):
        analysis.best_boundary_strategy(runs_with(ce=0.5))


def case_tables():
    """Eight images: two normal ones with the largest |Dice differences|, and a tie in the middle."""
    stems = [f"s{i}" for i in range(8)]
    base = [0.2, 0.9, 0.5, 0.6, 0.4, 0.7, 1.0, 0.0]
    other = [0.8, 0.3, 0.6, 0.6, 0.9, 0.6, 0.0, 1.0]   # d = +.6 -.6 +.1 0 +.5 -.1 (-1 +1 normal)
    empty = [False] * 6 + [True, True]

    def table(dice, components):
        return pd.DataFrame({"stem": stems, "label": ["benign"] * 6 + ["normal"] * 2, "dice": dice,
                             "components": components, "target_empty": empty})

    return table(base, [1, 2, 3, 4, 5, 6, 0, 1]), table(other, [1, 1, 1, 1, 1, 1, 1, 0])


@pytest.mark.parametrize("n_cases, want", [
    (4, ["s0", "s4", "s1", "s5"]),                 # two largest gains, then two largest losses
    (3, ["s0", "s4", "s1"]),                       # ceil(3/2) gains, floor(3/2) losses
    (1, ["s0"]),
    (6, ["s0", "s4", "s2", "s1", "s5", "s3"]),     # every tumour image, once
    (10, ["s0", "s4", "s2", "s3", "s5", "s1"]),    # more asked than there are: all, gains first
])
def test_select_cases_rule(n_cases, want):
    base, other = case_tables()
    cases = analysis.select_cases(base, other, n_cases=n_cases)
    assert list(cases.stem) == want
    np.testing.assert_allclose(cases.difference, cases.dice_other - cases.dice_baseline)
    assert set(cases.side) <= {"other better", "baseline better", "tie"}
    assert list(cases.side) == ["other better" if d > 0 else "baseline better" if d < 0 else "tie"
                                for d in cases.difference]


def test_select_cases_breaks_ties_by_stem_and_keeps_components():
    base, other = case_tables()
    other.loc[other.stem == "s4", "dice"] = 1.0          # d(s4) = +0.6, the same as d(s0)
    cases = analysis.select_cases(base, other, n_cases=2)
    assert list(cases.stem) == ["s0", "s1"]
    assert list(cases.components_baseline) == [1, 2] and list(cases.components_other) == [1, 1]


def test_select_cases_can_include_normal_images_and_when_all_gain():
    base, other = case_tables()
    cases = analysis.select_cases(base, other, n_cases=2, tumour_only=False)
    assert list(cases.stem) == ["s7", "s6"]
    all_gain = other.assign(dice=base.dice + np.arange(8) / 100 + 0.01)
    cases = analysis.select_cases(base, all_gain, n_cases=4)
    assert list(cases.stem) == ["s5", "s4", "s0", "s1"]  # the "losses" are the smallest gains
    assert (cases.side == "other better").all()


def test_select_cases_rejects_bad_input():
    base, other = case_tables()
    with pytest.raises(ValueError, match="same images"):
        analysis.select_cases(base, other.iloc[1:])
    with pytest.raises(ValueError, match="n_cases"):
        analysis.select_cases(base, other, n_cases=0)


# ------------------------------------------------------------------------------- loading the runs
SIZE = 16


def write_fake_run(folder, strategy, probs, truth, stems, labels, best_dice):
    """A run folder with the files bl_utils.train writes (run.json last)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = evaluate_masks(probs >= 128, truth, stems=stems, labels=labels)
    table.to_csv(folder / "val_per_image.csv", index=False)
    pd.DataFrame({"epoch": [1, 2], "val_dice": [best_dice / 2, best_dice]}).to_csv(folder / "metrics.csv",
                                                                                   index=False)
    np.savez_compressed(folder / "predictions.npz", probs=probs, truth=truth, stems=np.array(stems),
                        labels=np.array(labels))
    settings = {"strategy": strategy, "image_size": SIZE, "encoder": "resnet18", "epochs": 2,
                "max_tumour_fraction": 0.05, "data": "synthetic", "profile": "quick"}
    best = {"val_dice": best_dice, "val_dice_tumour": best_dice, "epoch": 2, "best_hd95_mean": 3.0,
            "best_assd_mean": 1.0, "best_components_mean": 1.0}
    (folder / "run.json").write_text(json.dumps({"settings": settings, "best": best, "data": "FAKE data"}))


@pytest.fixture
def fake_results(tmp_path):
    rng = np.random.default_rng(0)
    n = 6
    truth = np.zeros((n, SIZE, SIZE), bool)
    truth[:4, 4:10, 5:11] = True                       # images 4 and 5 are normal
    stems = [f"benign ({i})" for i in range(4)] + ["normal (1)", "normal (2)"]
    labels = ["benign"] * 4 + ["normal"] * 2
    for k, name in enumerate(STRATEGIES):
        probs = rng.integers(0, 256, (n, SIZE, SIZE)).astype(np.uint8)
        probs[:, :, :2] = 127 + k % 2                 # a column pair at the threshold's edge
        folder = tmp_path / "synthetic-quick" / name.replace("+", "_") / "seed0"
        write_fake_run(folder, name, probs, truth, stems, labels, best_dice=0.5 + 0.1 * k)
    return tmp_path


def test_load_runs_aligns_the_four_strategies(fake_results):
    runset = analysis.load_runs("synthetic", "quick", 0, fake_results)
    assert runset.strategies == list(STRATEGIES) and runset.profile == "quick" and not runset.fallback
    assert runset.stems[-1] == "normal (2)" and runset.truth.shape == (6, SIZE, SIZE)
    for name in STRATEGIES:
        masks = runset.masks(name)
        assert masks[:, :, 0].all() == bool(STRATEGIES.index(name) % 2)   # 128 is tumour, 127 is not
        np.testing.assert_array_equal(runset.tables[name].pred_area, masks.reshape(6, -1).sum(1))
        np.testing.assert_allclose(runset.tables[name].pred_fraction, masks.reshape(6, -1).mean(1))
    long = analysis.per_image_table(runset)
    assert len(long) == 4 * 6 and list(long.columns[:2]) == ["strategy", "stem"]
    assert analysis.best_boundary_strategy(runset.runs) == "rebalance"
    table = analysis.dice_table(runset).set_index("strategy")
    assert table.loc["rebalance", "rank"] == 1 and table.loc["ce", "rank"] == 4
    assert table.loc["rebalance", "seed_study_rank"] == 1


def test_summary_is_written_from_the_values(fake_results):
    runset = analysis.load_runs("synthetic", "quick", 0, fake_results)
    long = analysis.per_image_table(runset)
    best = analysis.best_boundary_strategy(runset.runs)
    comp = analysis.compare_to_baseline(long, "components", n_resamples=100)
    hd = analysis.compare_to_baseline(long, "hd95", images="tumour", n_resamples=100)
    cases = analysis.select_cases(runset.tables["ce"], runset.tables[best], n_cases=2)
    text = analysis.summary_markdown(runset, best, analysis.dice_table(runset), comp, hd,
                                     analysis.normal_image_summary(long), cases)
    row = comp.set_index("strategy").loc[best]
    assert "SYNTHETIC" in text and "profile **quick**" in text and "6 validation images" in text
    assert f"{row['mean_difference']:+.2f} [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]" in text
    assert f"{best}, 0.800 against 0.500" in text
    assert "nan" not in text.lower()


def test_missing_runs_name_the_command(fake_results):
    import shutil

    shutil.rmtree(fake_results / "synthetic-quick" / "ce_ramp")
    with pytest.raises(analysis.MissingRunsError) as error:
        analysis.load_runs("synthetic", "quick", 0, fake_results)
    message = str(error.value)
    assert "ce+ramp" in message and "bl_utils.report --only 03" in message
    assert "python -m bl_utils.train --strategy all --profile quick --data synthetic --seeds 0" in message
    with pytest.raises(analysis.MissingRunsError):
        analysis.load_runs("synthetic", "paper", 0, fake_results)


def test_runs_on_different_images_are_refused(fake_results):
    folder = fake_results / "synthetic-quick" / "rebalance" / "seed0"
    with np.load(folder / "predictions.npz") as npz:
        arrays = dict(npz)
    table = pd.read_csv(folder / "val_per_image.csv")
    stems = list(arrays["stems"])
    stems[0] = "benign (99)"
    table["stem"] = stems
    table.to_csv(folder / "val_per_image.csv", index=False)
    np.savez_compressed(folder / "predictions.npz", **dict(arrays, stems=np.array(stems)))
    with pytest.raises(ValueError, match="different images"):
        analysis.load_runs("synthetic", "quick", 0, fake_results)


def test_missing_paper_runs_fall_back_to_the_quick_runs_loudly(fake_results, capsys):
    runset = analysis.load_runs("synthetic", "paper", 0, fake_results, train_if_missing=True)
    assert runset.profile == "quick" and runset.fallback
    out = capsys.readouterr().out
    assert "NOTE: no complete run" in out and "Using the QUICK profile's runs" in out


def test_missing_runs_are_trained_with_the_quick_profile_when_asked(fake_results, monkeypatch, capsys):
    import shutil

    from bl_utils import train

    folder = fake_results / "synthetic-quick" / "ce_ramp" / "seed0"
    saved = fake_results / "saved"
    shutil.move(folder, saved)
    calls = []

    def fake_train_all(config, strategies, seeds, out, verbose):
        calls.append((config.profile, config.data, tuple(strategies), tuple(seeds), out))
        shutil.move(saved, folder)

    monkeypatch.setattr(train, "train_all", fake_train_all)
    runset = analysis.load_runs("synthetic", "quick", 0, fake_results, train_if_missing=True)
    assert calls == [("quick", "synthetic", ("ce+ramp",), (0,), fake_results)]
    assert runset.fallback and runset.strategies == list(STRATEGIES)
    assert "Training the QUICK profile now (1 run(s)" in capsys.readouterr().out


def test_auto_profile_resolves_to_quick_on_the_cpu(fake_results, monkeypatch):
    from bl_utils import train

    monkeypatch.setattr(train, "get_device", lambda prefer=None: __import__("torch").device("cpu"))
    runset = analysis.load_runs("synthetic", "auto", 0, fake_results)
    assert runset.profile == "quick" and not runset.fallback


def test_training_command_quotes_paths():
    command = analysis.training_command("/data/my BUSI", "paper", 3, "/srv/res")
    assert command == ("python -m bl_utils.train --strategy all --profile paper --data '/data/my BUSI' "
                       "--seeds 3 --out /srv/res")


@pytest.mark.parametrize("value, digits, want", [(-0.0004, 3, "+0.000"), (-0.0006, 3, "-0.001"),
                                                 (2.25, 1, "+2.2"), (-3.0, 2, "-3.00")])
def test_signed_numbers_in_the_summary_never_read_minus_zero(value, digits, want):
    assert analysis._signed(value, digits) == want
