"""The report's sentences (bl_utils.words): each names what the values say — which strategy, which
setting, which verdict — and keeps its answer apart from its paragraphs. The tests check those
facts in the words, not the wording of whole sentences."""

from __future__ import annotations

import re

import pandas as pd

from bl_utils import notebook, stats, words
from bl_utils.runs import RunResult


def _kept(**means):
    return pd.DataFrame([{"strategy": k.replace("_", "+"), "n_runs": 5, "mean": m, "corrected_low": m - 0.1,
                          "corrected_high": m + 0.1} for k, m in means.items()])


def test_robustness_summary_gives_numbers_for_each_degradation_and_no_verdict():
    test_time = {"speckle σ 0.75": _kept(ce_bl=0.03), "gain 0.25": _kept(ce_bl=-0.01)}
    summary = words.robustness_summary(test_time)
    assert summary.answer in summary.parts[-1] and summary.markdown.endswith(summary.answer)
    assert "speckle σ 0.75: ce+bl +0.030" in summary.answer and "gain 0.25: ce+bl -0.010" in summary.answer
    assert not re.search(r"better|worse|beyond|noise", summary.answer)      # exploratory: numbers, no verdict
    assert "no runs yet" in words.robustness_summary({}).answer


def _run_with_best(folder, strategy, seed, **best):
    path = folder / f"{strategy}-{seed}"
    path.mkdir()
    return RunResult(path, {"strategy": strategy, "seed": seed}, pd.DataFrame(), best, {})


def test_paper_profile_sentence_flags_a_run_that_stops_predicting_tumours(tmp_path):
    # 26 normal images predicted empty score 1 each: 0.35 over all images hides a tumour Dice of 0.05
    runs = [_run_with_best(tmp_path, "ce", 0, val_dice=0.70, dice_tumour=0.57, tumour_missed=14, n_tumour=59),
            _run_with_best(tmp_path, "rebalance", 0, val_dice=0.35, dice_tumour=0.05, tumour_missed=55, n_tumour=59)]
    sentence = words.paper_profile_sentence(runs)
    assert "ce 0.700 (0.570; 14 of 59 missed)" in sentence
    flagged = sentence.split("Below 0.5")[1]
    assert "rebalance seed 0 (0.050)" in flagged and not re.search(r"\bce seed", flagged)
    healthy = words.paper_profile_sentence(runs[:1])
    assert "1 seed;" in healthy and "Below 0.5" not in healthy and "No run falls below 0.5" in healthy


def test_difference_sentence_gives_the_interval_and_no_verdict():
    row = {"strategy": "ce+bl", "seeds": 3, "mean_difference": 0.02, "ci_low": 0.01, "ci_high": 0.05}
    said = words.difference_sentence(row, "final Dice")
    assert said.startswith("ce+bl − CE on final Dice: +0.020 [+0.010, +0.050] over 3 seed(s)")
    assert "uncorrected" in said and not any(p.split(" ")[0] in said for p in words.VERDICT_PHRASES.values())


def _answer():
    """Three comparisons judged by bl_utils.stats: one clearly better, one equal to CE in every run,
    one too noisy to say (12 runs of 5-fold CV on 340/85 images)."""
    import numpy as np

    rng = np.random.default_rng(0)
    named = {"ce+bl": 0.10 + 0.01 * rng.standard_normal(12), "ce+ramp": np.zeros(12),
             "rebalance": 0.2 * rng.standard_normal(12)}
    verdicts = stats.compare_all(named, n_train=340, n_test=85)
    answer = pd.DataFrame([v.as_row() for v in verdicts]).assign(sd=[np.std(named[v.name], ddof=1) for v in verdicts])
    def need(d, level, delta):
        return stats.runs_needed(np.std(d, ddof=1), n_train=340, n_test=85, alpha=level, true_difference=delta)

    sizing = pd.DataFrame([{"strategy": k, "sd": np.std(d, ddof=1), "runs": len(d),
                            **{f"runs needed, Holm α/{m}, true difference {at}": need(d, 0.05 / m, delta)
                               for m in (3, 2) for at, delta in (("0", 0.0), ("observed", float(d.mean())))},
                            "half_width_floor": stats.half_width_floor(np.std(d, ddof=1), n_train=340, n_test=85),
                            "power_floor": stats.power_floor(np.std(d, ddof=1), n_train=340, n_test=85)}
                           for k, d in named.items()])
    return answer, sizing


def test_primary_summary_gives_each_verdict_its_interval_and_the_runs_needed():
    answer, sizing = _answer()
    by_name = answer.set_index("name")
    assert [words.primary_verdict(row) for _, row in answer.iterrows()][:2] == [
        "better than CE", "equivalent to CE within ± 0.02"]
    bound = by_name.loc["rebalance", "bound"]
    assert by_name.loc["rebalance", "verdict"] == "inconclusive"
    summary = words.primary_summary(answer, sizing, runs_done=36, runs_planned=40, what="128², ResNet-18")
    first, second, scope = summary.parts
    assert first.startswith("**Study protocol") and summary.answer.startswith("final-epoch Dice")
    assert summary.answer.endswith(scope) and "128², ResNet-18" in scope and "ImageNet" in scope
    low, high = by_name.loc["ce+bl", ["corrected_low", "corrected_high"]]
    assert f"[{low:+.3f}, {high:+.3f}]" in first.split("ce+bl")[1].split(";")[0]
    assert f"inconclusive at ± 0.02 (its 90 % interval before Holm's correction reaches ± {bound:.3f})" in first
    assert ("rebalance no number of runs (no number of runs at α/2) if the true difference were 0"
            in second)                                                     # sd 0.2: floor above the margin
    assert "36 of the 40 planned runs are in (a number the budget set" in second and "Holm's strictest level α/3" in second
    floor = sizing.set_index("strategy").loc["rebalance", "half_width_floor"]
    assert f"TOST uses at α/3 cannot fall below ± {floor:.3f}" in second.split("rebalance no number")[1]
    done = words.primary_summary(answer, sizing, runs_done=40, runs_planned=40, what="x").parts[1]
    assert "ran all 40 planned runs" in done and "are in" not in done
    ramp = sizing.set_index("strategy").loc["ce+ramp"]
    assert (f"ce+ramp {int(ramp['runs needed, Holm α/3, true difference 0'])} "
            f"({int(ramp['runs needed, Holm α/2, true difference 0'])} at α/2)") in second


def test_primary_summary_without_enough_runs_says_how_many_are_done():
    summary = words.primary_summary(pd.DataFrame(), pd.DataFrame(), runs_done=3, runs_planned=40, what="x")
    assert "no answer yet" in summary.answer and "3 of the 40" in summary.answer


def test_exploratory_sentence_gives_numbers_and_no_verdict():
    table = pd.DataFrame([{"strategy": "ce+bl", "n_runs": 10, "mean": -0.5, "corrected_low": -1.0, "corrected_high": 0.1},
                          {"strategy": "rebalance", "n_runs": 1, "mean": 0.2, "corrected_low": float("nan"),
                           "corrected_high": float("nan")}])
    sentence = words.exploratory_sentence(table, "HD95", " px")
    assert "ce+bl -0.500 px [-1.000, +0.100] (10 runs)" in sentence and "rebalance +0.200 px (1 run)" in sentence
    assert "exploratory" in sentence and not re.search(r"better|worse|equivalent", sentence)


def test_run_scope_names_size_encoder_initialisation_and_epochs(tmp_path):
    run = RunResult(tmp_path, {"image_size": 128, "encoder": "resnet18", "encoder_weights": None, "epochs": 20},
                    pd.DataFrame(), {}, {})
    assert words.run_scope([run]) == "128², resnet18 with a random encoder, 20 epochs"
    run.settings["encoder_weights"] = "imagenet"
    assert "an imagenet" not in words.run_scope([run]) and "imagenet encoder" in words.run_scope([run])


def test_data_statement_names_the_data_without_a_path_and_the_profile_without_epochs():
    facts = {"description": "BUSI (real data): 780 images.", "fingerprint": "ff3294f5", "resized_copy": True}
    text = words.data_statement(facts, notebook.profile_config("quick"))
    first, second = text.split("\n")
    assert "780 images — a copy already resized to 256²" in first and first.endswith("fingerprint ff3294f5.")
    assert second.startswith("Profile: quick — 128², resnet18") and "epochs" not in second
    assert "random initialisation" in second
    missing = words.data_statement(None, data_id="busi-ff3294f5")
    assert "published runs (busi-ff3294f5)" in missing and words.GET_BUSI in missing and "Profile" not in missing


def test_primary_verdict_says_every_verdict_code_of_stats_apart():
    rows = [{"verdict": code, "margin": 0.02, "bound": 0.031} for code in stats.VERDICTS]
    said = [words.primary_verdict(row) for row in rows]
    assert len(set(said)) == len(stats.VERDICTS)                       # no two codes read alike
    assert said[stats.VERDICTS.index("inconclusive")] == ("inconclusive at ± 0.02 (its 90 % interval before Holm's "
                                                          "correction reaches ± 0.031)")   # the stated margin, always
    assert all("inconclusive" not in s for code, s in zip(stats.VERDICTS, said) if code != "inconclusive")
    assert all("0.02" in s for code, s in zip(stats.VERDICTS, said) if code.endswith("within_margin") or code == "equivalent")


def test_an_equivalence_lost_only_to_holms_correction_is_said_so():
    row = {"verdict": "inconclusive", "margin": 0.02, "bound": 0.017, "p_tost_holm": 0.0681}
    said = words.primary_verdict(row)
    assert said.startswith("inconclusive at ± 0.02 (not shown within ± 0.02 after Holm's correction, p = 0.068")
    assert "lies within ± 0.017, no verdict)" in said
    assert words.primary_verdict({**row, "bound": 0.031}).endswith("reaches ± 0.031)")
    assert words.verdict_head({**row, "bound": 0.031}) == "inconclusive at ± 0.02"
    apart = {**row, "bound": 0.031, "corrected_low": -0.037, "corrected_high": -0.003, "p_diff_holm": 0.0712}
    assert words.primary_verdict(apart) == ("inconclusive at ± 0.02 (its 95 % interval excludes 0 before Holm's "
                                            "correction, not after it: p = 0.071; its 90 % interval before Holm's "
                                            "correction reaches ± 0.031)")


def _their_differences(low, high, theirs, order="sorted by class"):
    return pd.DataFrame({"measure": f"their metric, best epoch, {order}", "strategy": ["ce+bl", "rebalance"],
                         "Odonnat & Pham": theirs, "n_runs": 3, "mean": [(l + h) / 2 for l, h in zip(low, high)],
                         "corrected_low": low, "corrected_high": high})


def test_their_noise_sentence_reads_the_narrowest_interval_against_their_largest_difference():
    wide = words.their_noise_sentence(_their_differences([-0.03, -0.02], [0.03, 0.04], [0.000, 0.003]))
    assert "± 0.030" in wide and "cannot order" in wide and "+0.000 / +0.003" in wide
    narrow = words.their_noise_sentence(_their_differences([-0.001, 0.0], [0.001, 0.002], [0.000, 0.003]))
    assert "exceeds" in narrow and "± 0.001" in narrow and "cannot order" not in narrow
    empty = _their_differences([float("nan")] * 2, [float("nan")] * 2, [0.0, 0.003])
    assert "not yet run" in words.their_noise_sentence(empty) and "not yet run" in words.their_noise_sentence(pd.DataFrame())
    assert "sorted-order reading until" in wide


def test_their_order_is_read_first_and_the_sorted_order_beside_it():
    theirs = _their_differences([-0.03, -0.02], [0.03, 0.04], [0.000, 0.003], order="their order (the split's draw)")
    both = pd.concat([theirs, _their_differences([-0.01, -0.05], [0.01, 0.01], [0.000, 0.003])], ignore_index=True)
    said = words.their_noise_sentence(both)
    first, sensitivity = said.split("Sensitivity line, sorted by class")
    assert "the order their split draws them" in first and "ce+bl +0.000 [-0.030, +0.030]" in first
    assert "ce+bl +0.000 [-0.010, +0.010]" in sensitivity and "sorted-order reading until" not in said
    assert words.their_cells(both)["rebalance"] == "+0.010 [-0.020, +0.040]"
    assert words.their_cells(_their_differences([-0.01, -0.05], [0.01, 0.01], [0.0, 0.003]))["rebalance"] == \
        "-0.020 [-0.050, +0.010]"


#: Verdict words the report once wrote from uncorrected or unpaired comparisons; none may be published now.
RETIRED_VERDICTS = ("no clear difference", "beyond run-to-run noise", "stands out from the noise",
                    "distinguishable from run-to-run noise", "degrades less than CE", "degrades more than CE")


def _published_texts():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    yield "README.md", (root / "README.md").read_text()
    answers = root / "results" / "answers.md"
    if answers.is_file():
        yield "results/answers.md", answers.read_text()
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        outputs = [o for c in cells for o in c.get("outputs", [])]
        yield path.name, "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/markdown", ""))
                                   + "".join(o.get("data", {}).get("text/plain", "")) for o in outputs)


def test_no_published_verdict_comes_from_an_uncorrected_comparison():
    """Every verdict word comes from words.VERDICT_PHRASES (the study's and the external test's answers, Holm over
    their family); the retired phrases of uncorrected comparisons appear nowhere in what is published."""
    for name, text in _published_texts():
        found = [phrase for phrase in RETIRED_VERDICTS if phrase in text]
        assert not found, f"{name} publishes {found}"


def test_verdict_phrases_are_each_code_once():
    assert set(words.VERDICT_PHRASES) == set(stats.VERDICTS)
    assert len(set(words.VERDICT_PHRASES.values())) == len(stats.VERDICTS)


def test_bottom_line_sorts_each_strategy_by_its_verdict():
    answer, _ = _answer()        # ce+bl better, ce+ramp equivalent, rebalance inconclusive
    line = words.bottom_line("On BUSI", answer)
    assert line.startswith("On BUSI, over 12 runs per comparison, a boundary-loss strategy is shown better than CE")
    better, rest = line.split("is better than CE")
    assert "ce+bl" in better and "ce+ramp" in rest.split("shown to be within ± 0.02")[0]
    assert "rebalance" in rest.split("neither shown to differ from CE")[0].split(";")[-1]
    assert line.endswith("(Holm over the 3 strategies against CE).") and "not shown beyond" not in line
    worse = answer.assign(verdict=["worse", "inconclusive", "inconclusive"], corrected_low=[-0.03, -0.1, -0.1],
                          corrected_high=[-0.01, 0.1, 0.1])                 # its interval crosses −0.02
    said = words.bottom_line("On X", worse, unit="seeds", planned=16)
    assert said.startswith("On X, over 12 of 16 seeds per comparison, no boundary-loss strategy is shown better")
    assert "; not shown beyond 0.02) is worse than CE" in said
    assert words.bottom_line("On X", worse, unit="seeds", planned=12).startswith("On X, over all 12 planned seeds per")
    assert words.bottom_line("On X", pd.DataFrame()) == "On X, no answer yet."


def test_answer_cells_give_each_strategy_its_interval_and_verdict_and_ce_is_the_reference():
    answer, _ = _answer()
    cells = words.answer_cells(answer)
    row = answer.set_index("name").loc["ce+bl"]
    assert cells["ce"] == "reference"
    assert cells["ce+bl"] == f"{row['mean']:+.3f} [{row['corrected_low']:+.3f}, {row['corrected_high']:+.3f}] better than CE"


def test_readable_renames_columns_and_phrases_the_verdict_code():
    answer, _ = _answer()
    shown = words.readable(answer[["name", "mean", "verdict", "margin", "bound", "p_tost_holm"]])
    assert list(shown.columns[:3]) == ["strategy", "mean difference (strategy − CE)", "verdict"]
    assert shown.verdict.iloc[0] == "better than CE" and "p, within ± 0.02 (Holm)" in shown.columns


def test_external_summary_names_the_interval_the_bootstrap_and_the_seeds():
    answer, _ = _answer()
    answer = answer.assign(seeds=answer.n_runs)
    boot = pd.DataFrame({"strategy": ["ce+bl"], "seeds": [12], "mean": [0.1], "bootstrap_low": [0.09],
                         "bootstrap_high": [0.11]})
    sizing = pd.DataFrame({"strategy": ["ce+bl"], "seeds": [12], "seed_sd": [0.01], "patient_se": [0.004],
                           "seeds_needed": [None], "seeds_needed_at_observed": [None], "cap": [16]})
    summary = words.external_summary(answer, boot, sizing, seeds_first=6, what="128²")
    first, second, scope = summary.parts
    assert first.startswith("**Another hospital (BUS-BRA)")
    verdict, check = first.split("ce+bl")[1].split(";")[0].split(" (sensitivity check")
    assert verdict.endswith("**better than CE**")                          # the verdict follows the interval
    assert check.startswith(", no verdict: seed-and-patient bootstrap [+0.090, +0.110], anti-conservative over 12")
    assert "if the true difference were 0, ce+bl no number of seeds (seed sd 0.010, patient se 0.004)" in second
    assert "at the observed mean, ce+bl no number of seeds" in second and "cap of 16" in second
    fixed = words.external_summary(answer, boot, sizing, seeds_first=6, what="128²", final=14).parts[1]
    assert "at most 16): 14 seeds" in fixed and "12 are in" in fixed
    assert "The cap binds: at 14 seeds, ce+bl would stay below 80 % power if its sd held" in fixed
    two = pd.concat([sizing, sizing.assign(strategy="rebalance")], ignore_index=True)
    assert "ce+bl and rebalance would stay below 80 % power if their sd held" in words.external_summary(
        answer, boot, two, 6, "128²", final=14).parts[1]
    enough = sizing.assign(seeds_needed=[9])
    assert "cap binds" not in words.external_summary(answer, boot, enough, 6, "128²", final=14).parts[1]
    assert "All 12 are in" in words.external_summary(answer, boot, sizing, 6, "128²", final=12).parts[1]
    assert "425 BUSI images (128²)" in scope and summary.answer.endswith(scope)
    assert "no answer yet" in words.external_summary(pd.DataFrame(), boot, sizing, 6, "x").answer


def test_external_summary_says_a_shown_drop_is_not_shown_beyond_the_margin():
    """A worse verdict whose interval crosses −0.02: the seeds that point that way, and the clause."""
    row = {"name": "rebalance", "mean": -0.041, "corrected_low": -0.067, "corrected_high": -0.016, "n_runs": 6,
           "verdict": "worse", "margin": 0.02, "bound": 0.02, "runs_below_zero": 6, "runs_above_zero": 0,
           "p_diff_holm": 0.01, "p_tost_holm": 0.9, "seeds": 6}
    answer = pd.DataFrame([row])
    sizing = pd.DataFrame({"strategy": ["rebalance"], "seeds": [6], "seed_sd": [0.02], "patient_se": [0.003],
                           "seeds_needed": [13], "seeds_needed_at_observed": [None], "cap": [16]})
    first = words.external_summary(answer, pd.DataFrame(), sizing, 6, "128²", final=13).parts[0]
    assert "6 of 6 seeds point that way" in first
    assert "not shown to exceed 0.02: its interval crosses −0.02" in first
    inside = pd.DataFrame([{**row, "corrected_low": -0.06, "corrected_high": -0.03}])
    assert "not shown to exceed" not in words.external_summary(inside, pd.DataFrame(), sizing, 6, "x").parts[0]


def test_frames_seen_sentence_says_whether_a_shown_difference_survives_the_sensitivity_check():
    answer, sizing = _answer()                                           # ce+bl better, the others not shown
    again = answer.assign(mean=answer["mean"] - 0.001, p_diff_holm=[0.053, 1.0, 1.0])
    said = words.frames_seen_sentence(answer, again)
    assert said.startswith("Sensitivity check, not the pre-specified analysis")
    assert f"ce+bl {answer['mean'].iloc[0] - 0.001:+.3f}, Holm p = 0.053 against 0" in said
    assert "the verdict does not survive it at the 0.05 level" in said and "ce+ramp" not in said
    assert "the verdict holds" in words.frames_seen_sentence(answer, again.assign(p_diff_holm=0.01))
    assert words.frames_seen_sentence(answer.assign(verdict="inconclusive"), again) == ""
    summary = words.primary_summary(answer, sizing, 36, 40, "x", without_frames=again)
    assert said in summary.parts[0] and said in summary.answer


def test_settings_sentence_gives_each_arm_its_intervals_and_no_verdict(tmp_path):
    import numpy as np
    import pandas as pd

    from bl_utils.answers import settings
    from helpers import write_study_run

    history = pd.DataFrame({"w_regional": [1.0, 0.5], "w_boundary": [0.0, 0.5], "train_regional": [0.6, 0.2],
                            "train_boundary": [0.4, 0.2]})
    study, arm = [], []
    for fold, gain in enumerate((0.02, -0.01, 0.03)):
        base = np.array([0.5, 0.6, 0.7])
        study.append(write_study_run(tmp_path / "study", "ce", 2, fold, base))
        study.append(write_study_run(tmp_path / "study", "ce+bl", 2, fold, base + 0.05))
        run = write_study_run(tmp_path / "arm", "ce+bl", 2, fold, base + 0.05 + gain, weight=0.8)
        run.history = history
        arm.append(run)
    shown = settings.answer_table(settings.arm_table(study, {"α_px = 0.1": arm}))
    said = words.settings_sentence(shown, planned=10)
    row = shown.iloc[0]
    assert f"α_px = 0.1, 3 of 10 runs: {row['Dice − its base [95 % CI]']} against ce+bl" in said
    assert row["Dice − its base [95 % CI]"].startswith("+0.013 [") and "0% → 50% of the loss" in said
    assert "no verdict" in said and not any(p.split(" ")[0] in said for p in words.VERDICT_PHRASES.values())
    assert words.settings_sentence(shown.iloc[:0], planned=10).startswith("no arm has run yet")
