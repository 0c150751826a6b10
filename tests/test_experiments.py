"""The groups of runs the report publishes (bl_utils.study): what each plans, and how the published
runs are found without images (obtain, published_data_id)."""

from __future__ import annotations

import pytest

from bl_utils import experiments
from bl_utils.config import TrainConfig
from bl_utils.schedules import STRATEGIES
from helpers import publish_run as _publish_run


def test_planned_runs_are_strategies_times_seeds_times_folds():
    assert experiments.planned_runs("study") == len(STRATEGIES) * len(experiments.STUDY_SEEDS) * len(experiments.STUDY_FOLDS) == 80
    assert experiments.planned_runs("odonnat_pham") == 4 * 3 and experiments.planned_runs("odonnat_pham_paper") == 4
    assert experiments.planned_runs("table1") == 4 * len(experiments.SEEDS)


def test_planned_runs_of_the_smoke_test_are_those_obtain_trains():
    assert experiments.planned_runs("study", smoke=True) == 4 * 1 * 2     # one seed, two folds
    assert experiments.planned_runs("table1", smoke=True) == 4 * 2


@pytest.mark.parametrize("arm", ["settings_alpha_px1", "settings_alpha_px01", "settings_kervadec"])
def test_each_settings_arm_trains_the_study_seeds_in_the_smoke_test_so_that_it_pairs(arm):
    _, study_seeds = experiments.smoke_version("study")
    _, arm_seeds = experiments.smoke_version(arm)
    assert arm_seeds == study_seeds and experiments.EXPERIMENTS[arm].folds == experiments.EXPERIMENTS["study"].folds
    assert set(experiments.EXPERIMENTS[arm].seeds) <= set(experiments.STUDY_SEEDS)          # the published arms too
    assert experiments.planned_runs(arm, smoke=True) == 1 * len(study_seeds) * 2


def test_case_predictions_take_each_image_from_the_fold_that_scored_it(tiny_data, tmp_path):
    import json

    import numpy as np
    import pandas as pd
    import pytest

    from bl_utils import runs
    from bl_utils.data import busi

    dataset = busi.load_busi(tiny_data, image_size=256, max_tumour_fraction=0.1, include_normal=False,
                             distance_maps=False, progress=False)
    stems = list(dataset.meta.stem)
    folds = {0: stems[: len(stems) // 2], 1: stems[len(stems) // 2:]}
    rng = np.random.default_rng(0)
    written = {}
    by_strategy = {}
    for strategy in ("ce", "ce+bl"):
        for fold, val in folds.items():
            folder = tmp_path / strategy / f"fold{fold}"
            folder.mkdir(parents=True)
            masks = {k: rng.random((len(val), 32, 32)) > 0.5 for k in ("best", "final", "truth")}
            np.savez_compressed(folder / "predictions.npz", width=32, stems=np.array(val), labels=np.array(["benign"] * len(val)),
                                **{k: np.packbits(v, axis=-1) for k, v in masks.items()})
            written.update({(strategy, s): (masks["final"][i], masks["truth"][i]) for i, s in enumerate(val)})
            pd.DataFrame({"epoch": [1]}).to_csv(folder / "metrics.csv", index=False)
            settings = {"strategy": strategy, "seed": 0, "fold": fold, "image_size": 32, "max_tumour_fraction": 0.1,
                        "include_normal": False, "data_fingerprint": busi.content_fingerprint(dataset)}
            (folder / "run.json").write_text(json.dumps({"settings": settings, "best": {}, "final": {}, "val_stems": val}))
            by_strategy.setdefault(strategy, []).append(runs.load_run(folder))
    cases = [folds[1][0], folds[0][1]]
    images, truths, predictions = runs.case_predictions(tiny_data, by_strategy, cases)
    expected = busi.resize_images(dataset.images[[stems.index(s) for s in cases]], (32, 32))
    np.testing.assert_array_equal(images, expected)
    for k, stem in enumerate(cases):
        np.testing.assert_array_equal(truths[k], written[("ce", stem)][1])
        for strategy in by_strategy:
            np.testing.assert_array_equal(predictions[strategy][k], written[(strategy, stem)][0])
    with pytest.raises(KeyError, match="no run of ce scored"):
        runs.case_predictions(tiny_data, {"ce": by_strategy["ce"][:1]}, [folds[1][0]])


# ------------------------------------------------------------------ published runs, found without images

def test_the_published_runs_are_shown_when_this_machine_has_none(checkout, monkeypatch, capsys):
    results = checkout / "results"
    for seed in experiments.EXPERIMENTS["paper"].seeds:
        for strategy in experiments.EXPERIMENTS["paper"].strategies:
            _publish_run(results, "busi-1234abcd", "paper", strategy, seed)
    # as on a GPU with internet: ImageNet weights and the paper profile, whose runs are not committed
    monkeypatch.setattr(TrainConfig, "resolve", lambda self, device=None: _resolved(self, "imagenet"))
    found = experiments.obtain("paper", None, checkout / "reports" / "runs", data_id="busi-1234abcd", published=results)
    line = capsys.readouterr().out
    assert len(found) == 4 and "4 of 4 runs from results/busi-1234abcd/paper-random" in line
    assert "the published runs; this machine's settings" in line and "make them" not in line


_ORIGINAL_RESOLVE = TrainConfig.resolve


def _resolved(config: TrainConfig, weights: str):
    """``resolve()`` as on a machine where ``weights`` can be downloaded (None keeps them off)."""
    import dataclasses

    resolved = _ORIGINAL_RESOLVE(dataclasses.replace(config, encoder_weights=None))
    return dataclasses.replace(resolved, encoder_weights=weights if config.encoder_weights else None)


def test_runs_on_several_copies_of_busi_must_be_told_apart(checkout):
    assert experiments.published_data_id(checkout / "results") is None
    _publish_run(checkout / "results", "busi-1234abcd", "table1", "ce", 0)
    _publish_run(checkout / "results", "busi-99999999", "table1", "ce", 0)
    with pytest.raises(ValueError, match="several data"):
        experiments.published_data_id(checkout / "results")


def test_the_study_scores_its_new_runs_on_bus_bra_when_it_is_at_hand(tmp_path, monkeypatch):
    from bl_utils.data import busbra

    monkeypatch.setattr(busbra, "resolve_external", lambda path=None: tmp_path)
    assert experiments.config_of("study", "synthetic").external == str(tmp_path)
    assert experiments.config_of("table1", "synthetic").external is None          # only the study's
    monkeypatch.setattr(busbra, "resolve_external", lambda path=None: None)
    assert experiments.config_of("study", "synthetic").external is None


def test_blocks_train_every_named_experiment_of_a_seed_and_fold_before_the_next_fold():
    order = experiments.block_order(["study", "settings_kervadec", "settings_alpha_px1"])
    assert order[:5] == [(0, fold, "study") for fold in range(5)]          # the arms have no seed 0
    block = [name for seed, fold, name in order if (seed, fold) == (2, 0)]
    assert block == ["study", "settings_kervadec", "settings_alpha_px1"]  # the order given
    assert [(s, f) for s, f, _ in order] == sorted((s, f) for s, f, _ in order)
    assert len(order) == 4 * 5 + 2 * 2 * 5
    assert experiments.block_order(["study"], seeds=[3, 9]) == [(3, fold, "study") for fold in range(5)]


def test_the_command_trains_block_by_block(monkeypatch):
    calls = []
    monkeypatch.setattr(experiments, "train_all", lambda config, strategies, seeds, out, folds: calls.append(
        (config.schedule, tuple(strategies), tuple(seeds), tuple(folds))) or [])
    assert experiments.main(["study", "settings_kervadec", "--data", "synthetic", "--seeds", "3", "--by-block"]) == 0
    assert [c[2:] for c in calls] == [((3,), (f,)) for f in range(5) for _ in range(2)]
    assert calls[0][1] == experiments.EXPERIMENTS["study"].strategies
    assert calls[1] == ("kervadec", ("rebalance",), (3,), (0,))


def test_publish_runs_copies_complete_runs_without_checkpoints_and_gzips_the_large_tables(tmp_path):
    import gzip
    import json

    campaign, results = tmp_path / "campaign", tmp_path / "results"
    def run(name, complete, files=("metrics.csv", "robustness.csv", "best.pt")):
        folder = campaign / "busi-x" / "study-quick-random" / "ce" / name
        folder.mkdir(parents=True)
        for file in files:
            (folder / file).write_text(f"{name} {file}\n")
        (folder / "run.json").write_text(json.dumps({"complete": complete}))
        return folder

    done, unfinished, already = run("seed2/fold0", True), run("seed2/fold1", False), run("seed2/fold2", True)
    (results / "busi-x" / "study-quick-random" / "ce" / "seed2" / "fold2").mkdir(parents=True)
    (results / "busi-x" / "study-quick-random" / "ce" / "seed2" / "fold2" / "run.json").write_text("{}")
    copied = experiments.publish_runs(campaign, results)
    target = results / "busi-x" / "study-quick-random" / "ce" / "seed2" / "fold0"
    assert copied == [target]
    assert sorted(p.name for p in target.iterdir()) == ["metrics.csv", "robustness.csv.gz", "run.json"]
    assert gzip.decompress((target / "robustness.csv.gz").read_bytes()) == (done / "robustness.csv").read_bytes()
    assert (target / "metrics.csv").read_bytes() == (done / "metrics.csv").read_bytes()
    assert not (results / "busi-x" / "study-quick-random" / "ce" / "seed2" / "fold1").exists()   # not complete
    assert (results / "busi-x" / "study-quick-random" / "ce" / "seed2" / "fold2" / "run.json").read_text() == "{}"
    first = (target / "robustness.csv.gz").read_bytes()
    (target / "run.json").unlink()                                    # an unfinished copy is replaced, identically
    assert experiments.publish_runs(campaign, results) == [target]
    assert (target / "robustness.csv.gz").read_bytes() == first
    assert experiments.publish_runs(campaign, results) == []          # nothing new
    assert not list(results.rglob("*.copying"))
