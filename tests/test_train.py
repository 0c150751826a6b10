"""Tests of the trainer (bl_utils.train) on a tiny synthetic dataset, on the CPU.

Every run here is tiny (32×32 images, ResNet-18 from random init, 16 images, 1–2 epochs) so that the
whole file takes about half a minute on two cores; the behaviour tested is the real one: the same loop,
files, resumption and command line as a full run. The dataset, the reference run and the one thread are
conftest.py's fixtures, the tiny settings helpers.py's; ``python -m bl_utils train --strategy all``:
test_cli.py; the configuration: test_config.py; ImageNet weights offline: test_model.py.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bl_utils import config as bl_config
from bl_utils import model as bl_model
from bl_utils import runs as bl_runs
from bl_utils import train as bl_train
from bl_utils import training_data
from bl_utils.config import TrainConfig
from bl_utils.evaluate import predict
from bl_utils.losses import StrategyLoss
from bl_utils.metrics import batch_dice, confusion_counts, pooled_f1_from_counts
from bl_utils.train import TrainingError
from helpers import TINY, cli_args, tiny_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

#: Columns of metrics.csv, in order.
METRIC_COLUMNS = ["epoch", "alpha", "w_regional", "w_boundary", "lr_sum", "train_loss", "train_regional",
                  "train_boundary", "val_dice", "val_dice_tumour", "val_empty_predictions", "val_f1_pooled", "seconds"]


def without_seconds(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="seconds")


def tmp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------------------------
# One run: its files


def test_run_writes_metrics_checkpoints_and_run_json(reference, tiny_data):
    folder = reference.folder
    assert folder.name == "seed0" and folder.parent.name == "rebalance"
    assert sorted(p.name for p in folder.iterdir()) == [
        "best.pt", "metrics.csv", "predictions.npz", "robustness.csv", "run.json", "val_counts.npz", "val_per_image.csv"]
    optional = {"normal_images.csv", "external_images.csv", "external_predictions.npz"}   # include_normal, external
    assert set(bl_config.RUN_FILES) - optional <= {p.name for p in folder.iterdir()}

    metrics = pd.read_csv(folder / "metrics.csv")
    assert list(metrics.columns) == METRIC_COLUMNS
    assert metrics.epoch.tolist() == [1, 2]
    assert np.isfinite(metrics.drop(columns="val_dice_tumour").to_numpy(float)).all()
    pd.testing.assert_frame_equal(metrics, reference.history)

    meta = json.loads((folder / "run.json").read_text())
    assert meta["complete"] is True
    for key in ("settings", "versions", "git_commit", "device", "platform", "created", "best", "final",
                "data", "train_stems", "val_stems", "code_version", "amp", "threads", "train_seconds"):
        assert key in meta, key
    settings = meta["settings"]
    assert set(bl_config.RESULT_KEYS) - set(bl_config._ADDED_KEYS) - set(bl_config._LATER_KEYS) <= set(settings)   # earlier protocol
    assert settings["seed"] == 0 and settings["epochs"] == 2 and settings["image_size"] == 32
    assert settings["encoder_weights"] is None and settings["profile"] == "quick"
    assert settings["phi_empty"] == "zero" and settings["split_seed"] == 0
    assert meta["code_version"] == bl_train.CODE_VERSION
    # the folder names the data by content and every setting that differs from the profile's
    whole = training_data.data_identity(tiny_data, reference.settings.get("cache_dir"))[1]   # every image, no rule
    assert folder.parents[2].name == meta["data_id"] == "synthetic-" + whole[:8] != "synthetic-" + settings["data_fingerprint"][:8]
    assert training_data.data_id_of(tiny_data, reference.settings.get("cache_dir")) == meta["data_id"]   # the one rule
    assert folder.parents[1].name == "quick-random+image_size=32+epochs=2+batch_size=8+max_images=16"
    assert meta["versions"]["torch"] == importlib.metadata.version("torch")
    assert meta["device"].startswith("cpu")
    # a generated folder given by path is still announced as synthetic data, with its folder
    assert meta["data"].startswith("SYNTHETIC") and str(Path(tiny_data).parent) in meta["data"]
    assert len(meta["train_stems"]) + len(meta["val_stems"]) == 16
    assert not set(meta["train_stems"]) & set(meta["val_stems"])

    # the best checkpoint is the epoch of the highest validation Dice (first one on ties)
    best_epoch = int(metrics.epoch[metrics.val_dice.to_numpy().argmax()])
    assert reference.best["epoch"] == meta["best"]["epoch"] == best_epoch
    assert reference.best["val_dice"] == metrics.val_dice.max()
    assert meta["final"]["epoch"] == 2 and meta["final"]["val_dice"] == metrics.val_dice.iloc[-1]


def test_checkpoints_load_with_weights_only_and_reproduce_the_best_dice(reference, tiny_data, cache_dir):
    folder = reference.folder
    assert not (folder / "last.pt").exists()                   # a complete run has nothing to resume
    best_state = torch.load(folder / "best.pt", weights_only=True)

    # the best checkpoint, evaluated afresh, gives the val Dice recorded for its epoch
    config = tiny_config(tiny_data, cache_dir).resolve(torch.device("cpu"))
    data = training_data.prepare_data(config, torch.device("cpu"), verbose=False)
    model, _ = bl_model.build_model("resnet18", None, verbose=False)
    model.load_state_dict(best_state)
    model = model.to(memory_format=torch.channels_last)       # as in training
    probs = predict(model, data.val_images, config.amp)
    dice = batch_dice(probs, data.val_masks, from_logits=False).mean().item()
    assert dice == pytest.approx(reference.best["val_dice"], abs=1e-6)

    # and the run's per-image table holds the same Dice for the same images
    table = pd.read_csv(folder / "val_per_image.csv")
    best = table[table.checkpoint == "best"]
    assert best.stem.tolist() == data.val_stems and len(table) == 2 * len(data.val_stems)
    assert best.dice.mean() == pytest.approx(reference.best["val_dice"], abs=1e-5)
    # and the bit-packed predictions are those masks
    predictions = bl_runs.load_predictions(folder)
    assert predictions["stems"] == data.val_stems
    np.testing.assert_array_equal(predictions["best"], probs[:, 0].numpy() >= 0.5)
    np.testing.assert_array_equal(predictions["truth"], data.val_masks[:, 0].numpy() > 0.5)


def test_complete_run_is_read_back_not_retrained(reference, tiny_data, cache_dir, capsys):
    folder = reference.folder
    stamp = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = bl_train.train(tiny_config(tiny_data, cache_dir), out=folder.parents[3], verbose=True)
    assert "not retraining" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamp
    pd.testing.assert_frame_equal(again.history, reference.history)
    assert again.best == reference.best


# --------------------------------------------------------------------------------------------
# Reproducibility and resumption


def test_same_seed_gives_identical_metrics_on_cpu(reference, tiny_data, cache_dir, tmp_path):
    again = bl_train.train(tiny_config(tiny_data, cache_dir), out=tmp_path, verbose=False)
    assert again.folder != reference.folder
    pd.testing.assert_frame_equal(without_seconds(again.history), without_seconds(reference.history),
                                  check_exact=True)
    best_a = torch.load(again.folder / "best.pt", weights_only=True)
    best_b = torch.load(reference.folder / "best.pt", weights_only=True)
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_b)


def test_kill_9_then_rerun_ends_like_an_uninterrupted_run(reference, tiny_data, tmp_path):
    """``python -m bl_utils train`` killed with SIGKILL after epoch 1, then rerun as is."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "bl_utils", "train", *cli_args(tiny_data, out)]
    # BL_PROJECT_ROOT: the default data cache goes to tmp_path, not into the checkout;
    # OMP_NUM_THREADS: the same number of threads as the reference run in this process
    env = dict(os.environ, BL_PROJECT_ROOT=str(tmp_path), OMP_NUM_THREADS=str(torch.get_num_threads()))
    folder = out / reference.folder.relative_to(reference.folder.parents[3])
    log = tmp_path / "killed.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 240
            while not (folder / "last.pt").exists():      # renamed into place: epoch 1 is complete
                assert process.poll() is None, f"the run ended early:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"no last.pt after 240 s:\n{log.read_text()}"
                time.sleep(0.02)
            assert process.poll() is None, "the run finished before it could be killed"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == -signal.SIGKILL

    # a killed run is not complete, and what it left is loadable (or a temporary file)
    assert not (folder / "run.json").exists()
    assert not (folder / "metrics.csv").exists()
    state = torch.load(folder / "last.pt", weights_only=True)
    completed = state["epoch"] + 1                 # 1, unless the kill came late
    assert [row["epoch"] for row in state["history"]] == list(range(1, completed + 1))
    torch.load(folder / "best.pt", weights_only=True)
    leftovers = tmp_files(folder)
    assert all(name.startswith((".last.pt.", ".best.pt.")) for name in leftovers), leftovers
    # a temporary file as a kill mid-write leaves it: the rerun must clean it up
    (folder / ".metrics.csv.killed.tmp").write_text("epoch,alp")

    rerun = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"rebalance/seed0 after epoch {completed}/2" in rerun.stdout and "resuming" in rerun.stdout
    assert "rebalance" in rerun.stdout.splitlines()[-1]          # the printed results table

    assert (folder / "run.json").is_file() and tmp_files(folder) == []
    assert not (folder / "last.pt").exists()
    resumed = pd.read_csv(folder / "metrics.csv")
    pd.testing.assert_frame_equal(without_seconds(resumed), without_seconds(reference.history),
                                  check_exact=True)
    best_a = torch.load(folder / "best.pt", weights_only=True)
    best_b = torch.load(reference.folder / "best.pt", weights_only=True)
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_b)
    pd.testing.assert_frame_equal(pd.read_csv(folder / "val_per_image.csv"),
                                  pd.read_csv(reference.folder / "val_per_image.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(folder / "robustness.csv"),
                                  pd.read_csv(reference.folder / "robustness.csv"))
    with np.load(folder / "val_counts.npz") as a, np.load(reference.folder / "val_counts.npz") as b:   # every epoch's
        assert a["counts"].shape[0] == 2 and all(np.array_equal(a[k], b[k]) for k in b.files)


def test_changing_a_setting_makes_a_new_run_and_leaves_the_old_one(reference, tiny_data, cache_dir,
                                                                    tmp_path):
    out = tmp_path / "out"
    copy = out / reference.folder.relative_to(reference.folder.parents[3])
    shutil.copytree(reference.folder, copy)
    stamp = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    other = bl_train.train(tiny_config(tiny_data, cache_dir, epochs=1, lr=2e-3), out=out, verbose=False)
    assert other.folder.parents[1].name == "quick-random+image_size=32+epochs=1+batch_size=8+lr=0.002+max_images=16"
    assert other.folder.parents[2] == copy.parents[2]          # same data
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == stamp
    assert other.history.epoch.tolist() == [1]


def test_a_folder_holding_other_settings_is_refused(reference, tiny_data, cache_dir, tmp_path):
    out = tmp_path / "out"
    folder = out / reference.folder.relative_to(reference.folder.parents[3])
    shutil.copytree(reference.folder, folder)
    meta = json.loads((folder / "run.json").read_text())
    meta["settings"]["alpha"] = 0.5                            # as if written by another version
    (folder / "run.json").write_text(json.dumps(meta))
    with pytest.raises(TrainingError, match=r"alpha: 0\.5 there, 1\.0 asked"):
        bl_train.train(tiny_config(tiny_data, cache_dir), out=out, verbose=False)


def test_a_run_is_not_resumed_across_a_change_of_training_code(reference, tiny_data, cache_dir,
                                                              tmp_path, monkeypatch, capsys):
    config = tiny_config(tiny_data, cache_dir, epochs=1)
    first = bl_train.train(config, out=tmp_path, verbose=False)
    state = torch.load(first.folder / "best.pt", weights_only=True)
    (first.folder / "run.json").unlink()                       # as if killed after epoch 1 ...
    bl_train._save_torch({"model": state, "optimizer": {}, "scaler": None, "epoch": 0, "history": [],
                          "best": {}, "settings": first.settings, "code_version": "older0code00",
                          "amp": "off"}, first.folder / "last.pt")
    again = bl_train.train(config, out=tmp_path, verbose=True)   # ... by other code: starts over
    assert "made with another code_version" in capsys.readouterr().out
    pd.testing.assert_frame_equal(without_seconds(again.history), without_seconds(first.history))


def test_a_run_on_other_data_is_not_taken_for_a_finished_one(reference, tiny_data, cache_dir, tmp_path):
    out = tmp_path / "out"
    folder = out / reference.folder.relative_to(reference.folder.parents[3])
    shutil.copytree(reference.folder, folder)
    config = tiny_config(tiny_data, cache_dir, epochs=1)
    device = torch.device("cpu")
    before = training_data.prepare_data(config.resolve(device), device, verbose=False)
    masks = sorted(Path(tiny_data).glob("*/*_mask.png"))
    originals = {m: m.read_bytes() for m in masks}
    try:
        for m in masks:          # the same file names, every mask shifted by one pixel
            from PIL import Image
            array = np.roll(np.asarray(Image.open(m)), 1, axis=1)
            Image.fromarray(array).save(m)
        after = training_data.prepare_data(config.resolve(device), device, verbose=False)
        assert after.fingerprint != before.fingerprint and after.data_id != before.data_id
        run = bl_train.train(config, out=out, verbose=False)
        assert run.folder.parents[2].name == after.data_id and run.settings["data_fingerprint"] == after.fingerprint
    finally:
        for m, content in originals.items():
            m.write_bytes(content)


# --------------------------------------------------------------------------------------------
# Divergence


class _NaNFromSecondStep(StrategyLoss):
    """The real objective, except that its total is NaN from its second call on."""

    def forward(self, logits, target, phi, epoch):
        total, terms = super().forward(logits, target, phi, epoch)
        self.calls = getattr(self, "calls", 0) + 1
        return (total * float("nan") if self.calls >= 2 else total), terms


def test_nan_loss_stops_the_run_naming_epoch_and_step(reference, tiny_data, cache_dir, tmp_path, monkeypatch):
    # start over (resume=False) in a folder holding a complete run: it must stop looking complete
    out = tmp_path / "out"
    folder = out / reference.folder.relative_to(reference.folder.parents[3])
    shutil.copytree(reference.folder, folder)
    monkeypatch.setattr(bl_train, "StrategyLoss", _NaNFromSecondStep)
    with pytest.raises(TrainingError, match=r"rebalance: the loss became nan at epoch 1, step 2 \(regional"):
        bl_train.train(tiny_config(tiny_data, cache_dir), out=out, resume=False, verbose=False)
    # neither the old run's run.json nor its last.pt survive: nothing looks complete or resumable
    assert not (folder / "run.json").exists() and not (folder / "last.pt").exists()
    assert tmp_files(folder) == []


def test_diverging_model_raises_training_error_not_epochs_of_nan(tiny_data, cache_dir, tmp_path):
    config = tiny_config(tiny_data, cache_dir, strategy="ce", lr=1e30, epochs=2)
    with pytest.raises(TrainingError, match=r"ce: the (loss|model's outputs) became .* at epoch 1, step 2"):
        bl_train.train(config, out=tmp_path, verbose=False)
    assert not list(tmp_path.rglob("run.json"))


# --------------------------------------------------------------------------------------------
# The protocols: Odonnat & Pham's as their code ran, and the study's cross-validation


def test_odonnat_pham_protocol_trains_on_tumour_images_and_tests_on_the_normal_ones(tiny_data, cache_dir, tmp_path):
    config = TrainConfig.of_protocol("odonnat-pham", **{**TINY, "max_images": None, "epochs": 3}, strategy="rebalance",
                                     data=tiny_data, cache_dir=cache_dir, seed=1, max_tumour_fraction=0.5)
    result = bl_train.train(config, out=tmp_path, verbose=False)
    assert result.folder.relative_to(tmp_path).parts[1:] == (
        "odonnat-pham-quick-random+image_size=32+epochs=3+batch_size=8+max_tumour_fraction=0.5", "rebalance", "seed1")
    meta, history = result.metadata, result.history
    assert meta["protocol"] == "odonnat-pham" and result.settings["regional"] == "wbce"
    stems = meta["train_stems"] + meta["val_stems"]
    assert not any(stem.startswith("normal") for stem in stems)              # no normal image trained or scored
    normal = pd.read_csv(result.folder / "normal_images.csv")
    assert set(normal.checkpoint) == {"best", "final"} and normal.stem.str.startswith("normal").all()
    assert len(normal) == 2 * 6                                              # the 6 normal images, both checkpoints
    final = normal[normal.checkpoint == "final"]
    assert meta["final"]["normal_fp_rate"] == pytest.approx(final.false_positive.mean())
    # α = max(0, t/T − 0.05) for t = 1 … T, T = 3; rebalance weights (1 − α, α)
    assert history.alpha.tolist() == pytest.approx([1 / 3 - 0.05, 2 / 3 - 0.05, 1 - 0.05])
    assert (history.w_regional + history.w_boundary).tolist() == pytest.approx([1, 1, 1])
    # the best epoch is the one with the best batch-pooled F1, their metric
    assert meta["best"]["epoch"] == int(history.val_f1_pooled.idxmax()) + 1
    # their split: a random ungrouped draw from the run's seed, N - int(0.8 N) validation images,
    # validated in the draw's order, which the run records
    n = len(stems)
    assert len(meta["val_stems"]) == n - int(0.8 * n) and meta["val_order"] == "drawn"
    with np.load(result.folder / "val_counts.npz") as saved:
        counts, index = saved["counts"], saved["index"]
        assert list(saved["stems"]) == meta["val_stems"] and counts.shape == (3, len(meta["val_stems"]), 3)
    data = training_data.prepare_data(config.resolve(torch.device("cpu")), torch.device("cpu"), verbose=False)
    np.testing.assert_array_equal(index, data.val_index)
    # each epoch's stored counts give the F1 the run computed from its masks, in the run's order
    for epoch in range(3):
        assert pooled_f1_from_counts(counts[epoch]) == pytest.approx(history.val_f1_pooled.iloc[epoch], abs=1e-12)
    # the final epoch's counts are those of the final predictions
    with np.load(result.folder / "predictions.npz") as saved:
        width = int(saved["width"])
        final = np.unpackbits(saved["final"], axis=-1, count=width).astype(bool)
        truth = np.unpackbits(saved["truth"], axis=-1, count=width).astype(bool)
    np.testing.assert_array_equal(counts[-1], confusion_counts(final, truth))


def test_study_protocol_is_a_cross_validation_fold_with_a_decaying_rate(tiny_data, cache_dir, tmp_path):
    base = {**TINY, "max_images": None, "epochs": 3}
    folds = [bl_train.train(TrainConfig.of_protocol("study", **base, strategy="ce", data=tiny_data, cache_dir=cache_dir,
                                                    seed=0, fold=k, max_tumour_fraction=0.5), out=tmp_path, verbose=False)
             for k in (0, 1)]
    assert [r.folder.name for r in folds] == ["fold0", "fold1"]
    val = [set(r.metadata["val_stems"]) for r in folds]
    assert not val[0] & val[1]                                               # folds do not overlap
    assert set(folds[0].metadata["train_stems"]) >= val[1]                   # fold 1 trains fold 0's model
    steps = math.ceil(len(folds[0].metadata["train_stems"]) / TINY["batch_size"])
    lr = [1e-3 * (1 - s / (3 * steps)) ** 0.9 for s in range(3 * steps)]
    expected = [sum(lr[e * steps:(e + 1) * steps]) for e in range(3)]
    assert folds[0].history.lr_sum.tolist() == pytest.approx(expected)      # nnU-Net's poly decay, per step
    assert folds[0].metadata["final"]["effective_w_boundary"] == 0.0           # CE: no boundary weight


def test_effective_boundary_weight_is_the_learning_rate_weighted_mean():
    config = TrainConfig.of_protocol("earlier", strategy="rebalance", lr=1.0, lr_schedule="poly", epochs=4)
    rates = [bl_train.learning_rate(config, step, 8) for step in range(8)]
    assert rates[0] == 1.0 and rates[-1] == pytest.approx((1 / 8) ** 0.9) and rates == sorted(rates, reverse=True)
    assert bl_train.learning_rate(dataclasses.replace(config, lr_schedule="constant"), 7, 8) == 1.0


# --------------------------------------------------------------------------------------------
# The external test: the final model scored on a BUS-BRA folder at the end of a run


#: A tiny BUS-BRA release: (ID, Case, Pathology, BIRADS, Device, lesion (r0, r1, c0, c1)) of 32×32 images
#: (the runs' size, so the masks the run scores against are the files' own: 32 -> 256 -> 32 by the
#: nearest-neighbour rule gives back every pixel).
EXTERNAL_ROWS = [("bus_0003-r", 3, "malignant", "5", "GE Logiq 5", (4, 20, 6, 26)),
                 ("bus_0001-l", 1, "benign", "3", "GE Logiq 7", (10, 14, 12, 17)),
                 ("bus_0001-r", 1, "benign", "4", "GE Logiq 7", (0, 32, 0, 9)),
                 ("bus_0002-l", 2, "malignant", "4", "GE Logiq 5", (16, 30, 16, 30)),
                 ("bus_0003-l", 3, "benign", "2", "GE Logiq 5", (2, 3, 2, 3))]
EXTERNAL_COLUMNS = ["stem", "label", "patient", "scanner", "birads", "tumour_fraction", "dice", "iou", "hd95", "assd",
                    "components", "target_empty", "pred_empty", "nsd", "predicted_pixels"]


def external_mask(lesion, shape=(32, 32)) -> np.ndarray:
    r0, r1, c0, c1 = lesion
    mask = np.zeros(shape, bool)
    mask[r0:r1, c0:c1] = True
    return mask


def write_tiny_busbra(parent: Path) -> Path:
    """``parent/BUSBRA`` in the release's layout: Images/ (mode L), Masks/ (mode "1"), bus_data.csv."""
    from PIL import Image

    folder = parent / "BUSBRA"
    (folder / "Images").mkdir(parents=True)
    (folder / "Masks").mkdir()
    rng = np.random.default_rng(0)
    records = []
    for stem, case, pathology, birads, device, lesion in EXTERNAL_ROWS:
        mask = external_mask(lesion)
        image = np.clip(rng.normal(110, 25, mask.shape) - 70 * mask, 0, 255).astype(np.uint8)   # dark lesions
        Image.fromarray(image).save(folder / "Images" / f"{stem}.png")          # mode L
        Image.fromarray(mask).save(folder / "Masks" / f"mask_{stem[4:]}.png")
        records.append([stem, case, "histology", pathology, birads, device, 32, 32, "left", "[0,0,1,1]"])
    pd.DataFrame(records, columns=["ID", "Case", "Histology", "Pathology", "BIRADS", "Device", "Width", "Height",
                                   "Side", "BBOX"]).to_csv(folder / "bus_data.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def external_run(tmp_path_factory, tiny_data, cache_dir):
    """The reference run's settings with a tiny BUS-BRA folder as ``external``: ``(folder, result)``."""
    folder = write_tiny_busbra(tmp_path_factory.mktemp("busbra"))
    out = tmp_path_factory.mktemp("external")
    return folder, bl_train.train(tiny_config(tiny_data, cache_dir, external=str(folder)), out=out, verbose=False)


def test_a_run_with_external_data_scores_its_final_model_on_every_external_image(reference, external_run):
    from bl_utils.data.busbra import load_busbra
    from bl_utils.data.busi import content_fingerprint
    from bl_utils.evaluate import EXTERNAL_SCORING
    from bl_utils.metrics import assd, dice, hd95, iou, surface_dice

    folder, result = external_run
    # the external data changes nothing of the run itself: its name, its epochs
    assert result.folder.parts[-4:] == reference.folder.parts[-4:]
    pd.testing.assert_frame_equal(without_seconds(result.history), without_seconds(reference.history), check_exact=True)
    files = {p.name for p in result.folder.iterdir()}
    assert files == {p.name for p in reference.folder.iterdir()} | {"external_images.csv", "external_predictions.npz"}

    table = pd.read_csv(result.folder / "external_images.csv")
    assert list(table.columns) == EXTERNAL_COLUMNS
    assert table.stem.tolist() == [r[0] for r in EXTERNAL_ROWS]                 # one row per image, the CSV's order
    assert table.label.tolist() == [r[2] for r in EXTERNAL_ROWS]
    assert table.patient.tolist() == [r[1] for r in EXTERNAL_ROWS]
    assert table.scanner.tolist() == [r[4] for r in EXTERNAL_ROWS]
    assert table.birads.astype(str).tolist() == [r[3] for r in EXTERNAL_ROWS]
    truths = [external_mask(r[5]) for r in EXTERNAL_ROWS]
    # at 256² (8× each 32² pixel) the fraction is the file's
    np.testing.assert_allclose(table.tumour_fraction, [m.mean() for m in truths], rtol=1e-5)
    assert not table.target_empty.any()

    with np.load(result.folder / "external_predictions.npz") as stored:
        assert int(stored["width"]) == 32
        predictions = np.unpackbits(stored["final"], axis=-1, count=int(stored["width"])).astype(bool)
    assert predictions.shape == (len(EXTERNAL_ROWS), 32, 32)
    diagonal = math.hypot(32, 32)
    for row, pred, truth in zip(table.itertuples(), predictions, truths):
        assert row.dice == pytest.approx(dice(pred, truth), abs=1e-5)            # the CSV keeps 6 digits
        assert row.iou == pytest.approx(iou(pred, truth), abs=1e-5)
        assert row.nsd == pytest.approx(surface_dice(pred, truth, EXTERNAL_SCORING["nsd_tolerance"]), abs=1e-5)
        assert row.predicted_pixels == pred.sum() and row.pred_empty == (not pred.any())
        if pred.any():
            assert row.hd95 == pytest.approx(hd95(pred, truth), rel=1e-5)
            assert row.assd == pytest.approx(assd(pred, truth), rel=1e-5)
        else:                                                                   # a missed tumour: the diagonal
            assert row.hd95 == row.assd == pytest.approx(diagonal, rel=1e-5) and row.dice == 0
    meta = json.loads((result.folder / "run.json").read_text())
    assert meta["external_fingerprint"] == content_fingerprint(load_busbra(folder, 256, cache_dir=False, progress=False))
    assert meta["external_images"] == len(EXTERNAL_ROWS)
    assert meta["external_scoring"] == json.loads(json.dumps(EXTERNAL_SCORING))
    assert meta["final"]["external_dice"] == pytest.approx(table.dice.mean(), abs=1e-5)
    assert meta["final"]["external_nsd"] == pytest.approx(table.nsd.mean(), abs=1e-5)
    assert "external_dice" not in meta["best"] and "external_fingerprint" not in reference.metadata


def test_external_predictions_read_back_with_their_stems(external_run):
    """``external_predictions.npz`` read as every other .npz of a run is (``np.load`` without pickle),
    through the package's own reader: the predictions in the order of ``external_images.csv``."""
    _, result = external_run
    table = pd.read_csv(result.folder / "external_images.csv")
    with np.load(result.folder / "external_predictions.npz") as stored:
        assert stored["stems"].tolist() == table.stem.tolist()
    stored = bl_runs.external_predictions(result.folder)
    assert stored["stems"] == table.stem.tolist()
    assert stored["final"].shape == (len(table), 32, 32)
    assert stored["final"].reshape(len(table), -1).sum(axis=1).tolist() == table.predicted_pixels.tolist()


class _Threshold(torch.nn.Module):
    """A stand-in model: logits ``scale · (image − 0.5)`` (so on images in {0, 1}: the image itself, or
    nothing at all with ``scale=0`` and a negative bias)."""

    def __init__(self, scale: float, bias: float):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1)
        torch.nn.init.constant_(self.conv.weight, scale)
        torch.nn.init.constant_(self.conv.bias, bias)

    def forward(self, x):
        return self.conv(x)


def test_external_scoring_rules_a_missed_tumour_scores_the_diagonal():
    """EXTERNAL_SCORING on stand-in models: a missed tumour's HD95 (and ASSD) is the scored image's
    diagonal, its Dice and NSD 0; a perfect prediction scores 1, 0 and 1."""
    from types import SimpleNamespace

    from bl_utils.evaluate import evaluate_external

    masks = np.stack([external_mask((2, 9, 3, 30), (24, 40)), external_mask((0, 24, 0, 1), (24, 40)),
                      external_mask((10, 11, 39, 40), (24, 40))])
    meta = pd.DataFrame({"stem": ["a", "b", "c"], "label": ["benign", "malignant", "benign"], "patient": [1, 1, 2],
                         "scanner": ["x", "y", "x"], "birads": ["3", "4", "5"], "tumour_fraction": masks.mean(axis=(1, 2))})
    data = SimpleNamespace(external_images=torch.from_numpy(masks.astype(np.float32))[:, None], external_masks=masks,
                           external_meta=meta)
    missed, predictions = evaluate_external(_Threshold(0.0, -10.0), data)
    assert list(missed.columns) == EXTERNAL_COLUMNS and missed.stem.tolist() == ["a", "b", "c"]
    assert not predictions.any() and predictions.shape == masks.shape
    assert missed.hd95.tolist() == missed.assd.tolist() == [math.hypot(24, 40)] * 3
    assert missed.dice.tolist() == missed.nsd.tolist() == [0.0] * 3 and missed.pred_empty.all()
    assert missed.predicted_pixels.tolist() == [0, 0, 0]
    pd.testing.assert_frame_equal(missed[["patient", "scanner", "birads", "tumour_fraction"]],
                                  meta[["patient", "scanner", "birads", "tumour_fraction"]])
    perfect, predictions = evaluate_external(_Threshold(20.0, -10.0), data)
    np.testing.assert_array_equal(predictions, masks)
    assert perfect.dice.tolist() == perfect.nsd.tolist() == [1.0] * 3 and perfect.hd95.tolist() == [0.0] * 3
    assert perfect.predicted_pixels.tolist() == masks.sum(axis=(1, 2)).tolist()


def test_the_external_protocol_without_busbra_names_busbra_dir(tiny_data, cache_dir, tmp_path, monkeypatch):
    from bl_utils.data import busbra
    from bl_utils.data.dataset import DataError

    monkeypatch.delenv("BUSBRA_DIR", raising=False)
    monkeypatch.setattr(busbra, "resolve_external", lambda path=None: None)   # as where ../shared/data has none
    config = TrainConfig.of_protocol("external", **{**TINY, "max_images": None, "epochs": 1}, strategy="ce",
                                     data=tiny_data, cache_dir=cache_dir)
    with pytest.raises(DataError, match="BUSBRA_DIR") as info:
        bl_train.train(config, out=tmp_path, verbose=False)
    assert "external protocol needs BUS-BRA" in str(info.value)
    assert not list(tmp_path.rglob("*"))                               # nothing written


def test_the_external_protocol_trains_on_every_image_and_scores_busbra(tiny_data, cache_dir, tmp_path, monkeypatch):
    from bl_utils.data import busi

    folder = write_tiny_busbra(tmp_path / "busbra")
    monkeypatch.setenv("BUSBRA_DIR", str(folder.parent))                 # found through the environment
    config = TrainConfig.of_protocol("external", **{**TINY, "max_images": None, "epochs": 1}, strategy="ce",
                                     data=tiny_data, cache_dir=cache_dir)
    result = bl_train.train(config, out=tmp_path / "runs", verbose=False)
    meta = result.metadata
    # the protocol's selection (tumour images, fraction < 10 %), read here by the loader itself
    selected = busi.load_busi(tiny_data, image_size=256, max_tumour_fraction=0.10, include_normal=False,
                              cache_dir=False, distance_maps=False, progress=False)
    assert meta["protocol"] == "external" and meta["val_stems"] == []
    assert sorted(meta["train_stems"]) == sorted(selected.stems) and meta["n_images"] == len(selected)
    files = {p.name for p in result.folder.iterdir()}
    assert not files & {"val_per_image.csv", "predictions.npz", "robustness.csv", "best.pt", "last.pt"}
    assert {"run.json", "metrics.csv", "external_images.csv", "external_predictions.npz"} <= files
    history = pd.read_csv(result.folder / "metrics.csv")
    assert history.val_dice.isna().all() and len(history) == 1
    assert len(pd.read_csv(result.folder / "external_images.csv")) == len(EXTERNAL_ROWS)
    assert meta["external_images"] == len(EXTERNAL_ROWS) and np.isfinite(meta["final"]["external_dice"])


def test_their_ce_cell_optimiser_is_sgd_with_momentum_and_named_in_the_run(tiny_data, cache_dir):
    """optimizer="sgd": their CE cell's optim.SGD(lr=LR, momentum=0.9); the setting names the run only
    where it differs from Adam, which every run published before it used (their settings unchanged)."""
    config = tiny_config(tiny_data, cache_dir, optimizer="sgd").resolve(torch.device("cpu"))
    _, optimizer, _ = bl_train.build_training(config, torch.device("cpu"), verbose=False)
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["momentum"] == 0.9 and optimizer.defaults["lr"] == config.lr
    assert config.result_settings()["optimizer"] == "sgd" and "+optimizer=sgd" in bl_config.variant_name(config)
    adam = tiny_config(tiny_data, cache_dir).resolve(torch.device("cpu"))
    assert isinstance(bl_train.build_training(adam, torch.device("cpu"), verbose=False)[1], torch.optim.Adam)
    assert "optimizer" not in adam.result_settings() and "optimizer" not in bl_config.variant_name(adam)
    with pytest.raises(ValueError, match="optimizer"):
        tiny_config(tiny_data, cache_dir, optimizer="rmsprop").resolve(torch.device("cpu"))


def test_the_smoke_test_scores_a_fixed_sample_of_the_external_images(tmp_path, tiny_data, cache_dir):
    """``max_images`` (the notebooks' tiny profile) caps the external images too: a fixed random sample, in
    the CSV's order, so that a smoke run does not score all 1,875 BUS-BRA images; without it, all."""
    folder = write_tiny_busbra(tmp_path / "busbra")
    cpu = torch.device("cpu")
    tables = [training_data._external(tiny_config(tiny_data, cache_dir, external=str(folder), max_images=cap)
                                      .resolve(cpu), (32, 32), 0.5, 0.2, cpu)[2] for cap in (3, 3, None)]
    order = [r[0] for r in EXTERNAL_ROWS]
    assert len(tables[0]) == 3 and tables[0].stem.tolist() == tables[1].stem.tolist()
    assert tables[0].stem.tolist() == [s for s in order if s in set(tables[0].stem)]
    assert tables[2].stem.tolist() == order
