"""Plain helpers shared by several test files, so that no test file imports another (the fixtures built
on them are in conftest.py):

* hand-made BUSI folders (``write_case``, ``npz_files``): the tests of bl_utils.data;
* the tiny training settings (``TINY``, ``tiny_config``, ``cli_args``): test_train, test_cli, test_config;
* ``fake_dataset``, a stand-in for UltrasoundDataset, and its oracle ``authors_sdm``: test_widgets, test_explorer,
  test_plots_maths, test_plots_style (the fixture ``fake_dataset`` of conftest.py returns it); ``authors_sdm``
  and ``random_blobs``, random masks: test_disks, test_explorer;
* ``publish_run``, a published run folder: test_notebook, test_study (with the fixture ``checkout``);
* ``write_study_run``, a cross-validation run folder with per-image rows: test_crossval, test_reproduction;
* the figures' hand-made inputs (``FRACTIONS``, ``LABELS``, ``sizes_meta``, ``cases``, ``components_tables``,
  ``history``, ``runs``): the test_plots_* files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from bl_utils.config import TrainConfig, run_folder
from bl_utils.disks import Disk
from bl_utils.runs import load_run


# --------------------------------------------------------------------------------------------
# BUSI-like folders made by hand (test_data_*)


def npz_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.npz")) if folder.exists() else []


def write_case(folder: Path, stem: str, size=(40, 30), masks=((5, 15, 5, 15),), mask_size=None):
    """An image ``<stem>.png`` (w×h = ``size``) and its masks, rectangles (r0, r1, c0, c1)."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    rng = np.random.default_rng(abs(hash(stem)) % 2**32)
    Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(folder / f"{stem}.png")
    mw, mh = mask_size or size
    for k, (r0, r1, c0, c1) in enumerate(masks):
        mask = np.zeros((mh, mw), np.uint8)
        mask[r0:r1, c0:c1] = 255
        name = f"{stem}_mask.png" if k == 0 else f"{stem}_mask_{k}.png"
        Image.fromarray(mask).save(folder / name)


# --------------------------------------------------------------------------------------------
# Tiny training runs (test_train, test_cli, test_config)


#: The tiny settings shared by every run (and by the command-line runs, see ``cli_args``).
TINY = dict(profile="quick", image_size=32, encoder="resnet18", encoder_weights=None, epochs=2,
            batch_size=8, max_images=16, device="cpu")


def tiny_config(tiny_data, cache_dir, **changes) -> TrainConfig:
    return TrainConfig.of_protocol(**{"protocol": "earlier", **TINY, "strategy": "rebalance", "data": tiny_data,
                                      "cache_dir": cache_dir, **changes})


def cli_args(tiny_data, out, strategy="rebalance", **changes) -> list[str]:
    """The command line equivalent to ``tiny_config(strategy=..., **changes)``."""
    settings = {**TINY, **changes}
    args = ["--strategy", strategy, "--data", tiny_data, "--out", str(out), "--protocol", "earlier"]
    for key, value in settings.items():
        if key == "encoder_weights":
            args += ["--no-imagenet"] if value is None else []
        else:
            args += ["--" + key.replace("_", "-"), str(value)]
    return args


# --------------------------------------------------------------------------------------------
# A stand-in for UltrasoundDataset (test_widgets, test_explorer, test_plots_maths, test_plots_style),
# its oracle and random masks (also test_disks)


def authors_sdm(mask: np.ndarray) -> np.ndarray:
    """Φ_G as in the authors' reference code (boundary pixels inside G are 0): the test's oracle."""
    mask = mask.astype(bool)
    if not mask.any():
        return np.full(mask.shape, math.hypot(*mask.shape))
    return (ndimage.distance_transform_edt(~mask) * ~mask
            - (ndimage.distance_transform_edt(mask) - 1) * mask)


def fake_dataset(n: int = 3, size: int = 40) -> SimpleNamespace:
    """A tiny stand-in for UltrasoundDataset: disks of radius 6 + 2i, and one empty (normal) image."""
    rng = np.random.default_rng(0)
    masks = np.stack([Disk((size / 2 + i, size / 2 - i), 6 + 2 * i).mask((size, size)) for i in range(n)]
                     + [np.zeros((size, size), bool)])
    images = rng.integers(0, 255, masks.shape, dtype=np.uint8)
    phis = np.stack([authors_sdm(m) for m in masks]).astype(np.float32)
    meta = pd.DataFrame({"stem": [f"benign ({i})" for i in range(n)] + ["normal (1)"],
                         "label": ["benign"] * n + ["normal"],
                         "tumour_fraction": masks.reshape(len(masks), -1).mean(axis=1)})
    return SimpleNamespace(images=images, masks=masks, phis=phis, meta=meta)


def random_blobs(seed: int, shape=(48, 52)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=shape), 4) > 0.05


# --------------------------------------------------------------------------------------------
# Published runs (test_notebook, test_experiments; the fixture ``checkout`` of conftest.py)


def publish_run(results: Path, data_id: str, experiment: str, strategy: str, seed: int) -> Path:
    """A complete (minimal) run folder of ``experiment`` as it is defined, under ``results``."""
    from bl_utils import experiments

    config = experiments.config_of(experiment, "synthetic", encoder_weights=None, strategy=strategy, seed=seed).resolve()
    folder = run_folder(config, results, data_id)
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"settings": {"strategy": strategy, "seed": seed}, "best": {}}))
    (folder / "metrics.csv").write_text("epoch\n1\n")
    return folder


# --------------------------------------------------------------------------------------------
# Inputs of the figures (test_plots_data, test_plots_qualitative, test_plots_training, test_plots_style)


#: Ten images: two without tumour, and tumours on both sides of, and exactly at, 5 % and 10 %.
FRACTIONS = np.array([0.0, 0.0, 0.01, 0.0499, 0.05, 0.07, 0.0999, 0.10, 0.30, 0.55])
LABELS = ["normal", "normal", "benign", "benign", "malignant", "benign", "malignant", "benign", "malignant",
          "malignant"]
# by hand, strict "<": below 5 %: 0.01, 0.0499 (2 of 8); below 10 %: also 0.05, 0.07, 0.0999 (5 of 8)


def sizes_meta(source, widths=(562, 190, 1048), heights=(471, 310, 719)) -> pd.DataFrame:
    meta = pd.DataFrame({"stem": ["benign (1)", "malignant (1)", "normal (1)"],
                         "label": ["benign", "malignant", "normal"], "orig_height": heights, "orig_width": widths})
    return meta if source is None else meta.assign(size_source=source)


def cases():
    """Two 24×24 images: a 4×4 tumour, and a normal image (empty truth)."""
    images = np.stack([np.arange(576).reshape(24, 24) % 7, np.full((24, 24), 3)]).astype(np.uint8)
    truths = np.zeros((2, 24, 24), bool)
    truths[0, 4:8, 4:8] = True
    two = np.zeros((2, 24, 24), bool)
    two[0, 4:8, 6:10] = True            # overlaps the tumour on 8 of 16 pixels
    two[0, 15:17, 15:17] = True         # and a separate blob: |P| = 20, Dice = 16 / 36
    two[1, 2:4, 2:4] = True             # two squares touching at a corner: one 8-connected component
    two[1, 4:6, 4:6] = True
    empty = np.zeros_like(two)
    return images, truths, {"ce": two, "ce+bl": empty}


def components_tables():
    counts = pd.DataFrame({"ce": [1, 3, 0, 7, 2], "ce+bl": [1, 1, 0, 5, 2], "rebalance": [2, 4, 1, 9, 1]},
                          index=[f"s{i}" for i in range(5)])
    comparison = pd.DataFrame({"strategy": ["ce+bl", "rebalance"], "mean_difference": [-0.8, 0.8],
                               "ci_low": [-1.6, -0.2], "ci_high": [0.0, 1.4], "improved": [2, 1],
                               "worsened": [0, 4], "confidence": [0.9, 0.9]})
    hd95 = pd.DataFrame({"ce": [4.0, np.nan, 6.0], "ce+bl": [3.0, 2.0, 6.5], "rebalance": [5.0, 1.0, np.nan]})
    hd95_comparison = pd.DataFrame({"strategy": ["ce+bl", "rebalance"], "mean_difference": [-0.25, 1.0],
                                    "ci_low": [-1.0, 1.0], "ci_high": [0.5, 1.0], "improved": [1, 0],
                                    "worsened": [1, 1], "confidence": [0.9, 0.9]})
    return counts, comparison, hd95, hd95_comparison


def history(seed: int, epochs: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    epoch = np.arange(1, epochs + 1)
    alpha = epoch / epochs
    return pd.DataFrame({"epoch": epoch, "alpha": alpha, "w_regional": 1 - alpha / 2, "w_boundary": alpha / 2,
                         "train_loss": rng.random(epochs), "train_regional": rng.random(epochs),
                         "train_boundary": -rng.random(epochs), "val_dice": rng.random(epochs),
                         "val_dice_tumour": rng.random(epochs)})


def runs():
    """Three seeds of ce (with ``.seed``), one rebalance run known only by its settings, one older
    ce+bl run with no seed at all (seed 0)."""
    ce = [SimpleNamespace(strategy="ce", seed=s, settings={"seed": s}, history=history(s)) for s in (0, 1, 2)]
    rebalance = SimpleNamespace(strategy="rebalance", settings={"seed": 4}, history=history(4))
    old = SimpleNamespace(strategy="ce+bl", settings={}, history=history(7))
    return ce, rebalance, old


def write_study_run(root, strategy, seed, fold, dice, normal_fp=None, weight=0.0):
    """A cross-validation run folder under ``root``, read back: ``val_per_image.csv`` (tumour images
    t0… with Dice ``dice``, one normal image n0), ``metrics.csv``, ``run.json`` and, with
    ``normal_fp`` (4 booleans), ``normal_images.csv``."""
    folder = root / strategy / f"seed{seed}" / f"fold{fold}"
    folder.mkdir(parents=True)
    stems = [f"t{k}" for k in range(len(dice))] + ["n0"]
    rows = [{"stem": s, "label": "benign", "dice": d, "target_empty": False, "pred_empty": d == 0, "checkpoint": c}
            for c in ("best", "final") for s, d in zip(stems, dice)]
    rows += [{"stem": "n0", "label": "normal", "dice": 1.0, "target_empty": True, "pred_empty": True, "checkpoint": c}
             for c in ("best", "final")]
    pd.DataFrame(rows).to_csv(folder / "val_per_image.csv", index=False)
    pd.DataFrame({"epoch": [1]}).to_csv(folder / "metrics.csv", index=False)
    if normal_fp is not None:
        pd.DataFrame({"stem": ["a", "b", "c", "d"] * 2, "false_positive": normal_fp * 2,
                      "checkpoint": ["best"] * 4 + ["final"] * 4}).to_csv(folder / "normal_images.csv", index=False)
    meta = {"settings": {"strategy": strategy, "seed": seed, "fold": fold}, "best": {}, "final":
            {"effective_w_boundary": weight}, "train_stems": ["x"] * 12, "val_stems": stems}
    (folder / "run.json").write_text(json.dumps(meta))
    return load_run(folder)


#: BUSI at 256² beside the checkout (``../shared/data/busi256``), as CI has it.
BUSI256 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "busi256"


def study_images():
    """The study's 425 BUSI tumour images at 256² (:data:`BUSI256`); a skip where the shared copy is absent,
    a failure in CI (which has it)."""
    import os

    import pytest

    from bl_utils.data import busi

    if not BUSI256.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI has BUSI beside the checkout, but {BUSI256} is missing")
        pytest.skip(f"real BUSI not found at {BUSI256}")
    return busi.load_busi(BUSI256, image_size=256, max_tumour_fraction=0.10, include_normal=False,
                          distance_maps=False, progress=False)
