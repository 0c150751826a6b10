"""Tests of bl_utils.plots.style: every figure of the report titles its panels and itself at least at
the size of its axis labels (legible_titles, applied by name_figure, which every figure function ends
with), under matplotlib's default rcParams and under larger labels; and save_figure's files depend on
their pixels only (no text chunks, the same bytes whatever the thread count, not rewritten when the
pixels are unchanged)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.font_manager import FontProperties
from PIL import Image, PngImagePlugin

from bl_utils.plots import data as data_plots, maths, qualitative, robustness, style, training
from bl_utils.explorer import Disk
from bl_utils.plots.style import figure_titles
# fake_dataset itself, not conftest.py's fixture of that name: FIGURES is built when this file is imported
from helpers import FRACTIONS, LABELS, cases, components_tables, fake_dataset, runs, sizes_meta

ROOT = Path(__file__).resolve().parents[1]


def study_frames():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame([{"strategy": s, "seed": k, "best_val_dice": rng.random(), "final_dice_tumour": rng.random(),
                           "mask_noise": m, "final_hd95_tumour": rng.random(), "final_tumour_missed": 1}
                          for s in ("ce", "rebalance") for k in range(2) for m in (0.0, 4.0)])
    curves = pd.DataFrame([{"corruption": c, "level": lv, "strategy": s, **{f"{q}_{a}": rng.random()
                           for q in ("dice", "fp_rate") for a in ("mean", "min", "max")}}
                           for c in ("speckle", "gain") for lv in (0.5, 1.0) for s in ("ce", "rebalance")])
    return frame, curves


def _figures():
    """``name -> builder`` of every figure function that ends with name_figure."""
    images, truths, predictions = cases()
    counts, comparison, hd95, hd95_comparison = components_tables()
    ce, rebalance, old = runs()
    frame, curves = study_frames()
    pairs = pd.DataFrame({"i": [0], "j": [1], "identical": [False], "distance": [3]})
    image = (np.arange(1024).reshape(32, 32) % 251).astype(np.uint8)
    return {
        "examples": lambda: data_plots.plot_examples(fake_dataset(), [0, 1, 2, 3], ncols=4, title="BUSI"),
        "fig3": lambda: data_plots.plot_tumour_fraction_hist(FRACTIONS, labels=LABELS, thresholds=(0.05, 0.1), title="t"),
        "image_sizes": lambda: data_plots.plot_image_sizes(sizes_meta("manifest.csv"), title="t"),
        "duplicates": lambda: data_plots.plot_duplicate_pairs(fake_dataset(), pairs, title="t"),
        "fig1": lambda: maths.plot_boundary_loss_views(Disk((60, 60), 32), Disk((54, 70), 36), resolution=40,
                                                       title="t"),
        "fig4": lambda: qualitative.plot_qualitative_cases(images, truths, predictions, row_titles=["a", "b"], title="t"),
        "training_curves": lambda: training.plot_training_curves([*ce, rebalance, old], title="t"),
        "table1_seeds": lambda: training.plot_table1_seeds(frame, {"ce": 0.5}, title="t"),
        "study_primary": lambda: training.plot_primary_endpoint(
            frame.assign(fold=frame.mask_noise.astype(int)), pd.DataFrame({"strategy": ["rebalance"] * 2,
                                                                       "difference": [0.01, -0.02]}), title="t"),
        "ablations": lambda: training.plot_ablations({"a": (frame, frame, "variant"), "b": (frame, frame, "v")},
                                                  title="t"),
        "robustness": lambda: robustness.plot_robustness_curves(curves, title="t"),
        "annotation_noise": lambda: robustness.plot_annotation_noise(frame, title="t"),
        "corruptions": lambda: robustness.plot_corruption_examples(image, {"speckle": [0.1, 0.5], "gain": [0.5]},
                                                              title="t"),
    }


FIGURES = _figures()


def label_size(fig) -> float:
    """The largest axis-label font of ``fig`` (labels not set have rcParams["axes.labelsize"])."""
    rc = FontProperties(size=plt.rcParams["axes.labelsize"]).get_size_in_points()
    return max([rc] + [lab.get_fontsize() for ax in fig.axes for lab in (ax.xaxis.label, ax.yaxis.label)])


@pytest.mark.parametrize("rc", [{}, {"axes.labelsize": 15, "axes.titlesize": 8}], ids=["default", "large-labels"])
@pytest.mark.parametrize("name", list(FIGURES))
def test_titles_are_at_least_the_size_of_the_axis_labels(name, rc):
    with plt.rc_context(rc):
        fig = FIGURES[name]()
        smallest = label_size(fig)
        titles = figure_titles(fig)
        assert fig._suptitle is not None and fig._suptitle in titles
        small = [(t.get_text(), t.get_fontsize()) for t in titles if t.get_fontsize() < smallest]
        assert not small, f"{name}: titles under the axis labels' {smallest} pt: {small}"


@pytest.mark.parametrize("name", ["examples", "fig4", "duplicates", "corruptions"])
def test_small_panel_titles_now_follow_rcparams(name):
    """The grids of images titled at 9 pt before: now rcParams["axes.titlesize"] (12 pt by default)."""
    fig = FIGURES[name]()
    titled = [ax.title for ax in fig.axes if ax.get_title()]
    assert titled and {t.get_fontsize() for t in titled} == {12.0}
    assert fig._suptitle.get_fontsize() >= 12


def test_figure_titles_finds_subfigure_suptitles():
    fig = FIGURES["duplicates"]()
    sub = [t.get_text() for t in figure_titles(fig) if t.get_text().startswith("dHash")]
    assert sub == ["dHash distance 3"]


# ------------------------------------------------------------------ save_figure

def png_chunks(data: bytes) -> list[str]:
    """The chunk types of a PNG file, read by hand (the oracle of what save_figure writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append(kind.decode("ascii"))
        pos += 12 + length
    return chunks


def small_figure(colour: str = "C0"):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [0, 1, 0], color=colour)
    ax.set_title("α")
    return fig


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))


def test_save_figure_writes_no_text_chunks(tmp_path):
    path = style.save_figure(small_figure(), "plain", tmp_path, dpi=80)
    chunks = png_chunks(path.read_bytes())
    assert chunks[0] == "IHDR" and chunks[-1] == "IEND" and "IDAT" in chunks
    assert not {"tEXt", "iTXt", "zTXt", "tIME"} & set(chunks)
    with Image.open(path) as image:
        assert image.text == {} and "Software" not in image.info


def test_save_figure_keeps_the_old_bytes_when_the_pixels_are_equal(tmp_path):
    path = style.save_figure(small_figure(), "kept", tmp_path, dpi=80)
    first = pixels(path)
    # the same pixels in other bytes: re-encoded by PIL, with a text chunk save_figure never writes
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "written by the test")
    Image.fromarray(first).save(path, format="png", pnginfo=info, compress_level=1)
    other_bytes = path.read_bytes()
    assert "tEXt" in png_chunks(other_bytes)
    assert style.save_figure(small_figure(), "kept", tmp_path, dpi=80) == path
    assert path.read_bytes() == other_bytes                      # untouched
    style.save_figure(small_figure("C3"), "kept", tmp_path, dpi=80)    # new pixels: rewritten
    assert "tEXt" not in png_chunks(path.read_bytes())
    assert not np.array_equal(pixels(path), first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.png"]  # no temporary file left


def test_save_figure_replaces_a_file_that_is_not_an_image(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    path = style.save_figure(small_figure(), "broken", tmp_path, dpi=80)
    assert png_chunks(path.read_bytes())[0] == "IHDR"


@pytest.mark.parametrize("name", ["", "../up", "sub/fig"])
def test_save_figure_rejects_paths_as_names(tmp_path, name):
    with pytest.raises(ValueError, match="bare file name"):
        style.save_figure(small_figure(), name, tmp_path)


RENDER = """
import sys
from types import SimpleNamespace
import numpy as np
from bl_utils import explorer
from bl_utils.plots import maths, style
masks = np.stack([explorer.Disk((20, 22), 7).mask((48, 48)), np.zeros((48, 48), bool)])
images = np.stack([(np.indices((48, 48)).sum(0) * 5 % 256).astype(np.uint8)] * 2)
state = explorer.explore(SimpleNamespace(images=images, masks=masks, phis=None), 0)
style.save_figure(maths.plot_loss_explorer(state, title="threads"), "fig2", sys.argv[1], dpi=60)
"""


def test_figure_bytes_do_not_depend_on_the_thread_count(tmp_path):
    files = []
    for threads, hash_seed in (("1", "1"), ("2", "2")):
        folder = tmp_path / f"threads{threads}"
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": threads,
               "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        subprocess.run([sys.executable, "-c", RENDER, str(folder)], cwd=ROOT, env=env, check=True,
                       timeout=300, capture_output=True)
        files.append((folder / "fig2.png").read_bytes())
    assert png_chunks(files[0])[0] == "IHDR"
    assert files[0] == files[1]


def test_save_figure_writes_a_png_named_for_the_figure(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = style.save_figure(fig, "fig9_test", folder=tmp_path)
    plt.close(fig)
    assert path == tmp_path / "fig9_test.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="bare file name"):
        style.save_figure(fig, "../escape", folder=tmp_path)
