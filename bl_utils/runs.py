"""Finished training runs: reading them back, and Table 1.

A run folder written by :func:`bl_utils.train.train` holds ``run.json`` (settings, versions, code
version, device, the summaries of the best and the final epoch), ``metrics.csv`` (one row per epoch),
``val_per_image.csv``, ``predictions.npz`` and ``robustness.csv`` (see ``bl_utils.config.RUN_FILES``).
This module reads them without torch and turns a list of runs into Table 1, beside Odonnat & Pham's.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .runtime import atomic_write

__all__ = ["RunResult", "load_run", "load_predictions", "runs_frame", "results_table", "table_markdown",
           "write_table", "collapsed", "machines_table", "machine_of", "run_keys", "ODONNAT_PHAM_TABLE1", "TABLE1_COLUMNS"]

#: Odonnat & Pham's Table 1: best validation Dice, one run per strategy (ImageNet ResNet-34, 256²,
#: 20 epochs, batch 16, Adam 1e-3). Source: their report "Boundary Loss for Breast Ultrasound
#: Segmentation" (Master MVA, ENS Paris-Saclay), Table 1; github.com/ambroiseodt/BoundaryLoss.
ODONNAT_PHAM_TABLE1 = {"ce": 0.798, "ce+bl": 0.798, "ce+ramp": 0.796, "rebalance": 0.801}

@dataclass
class RunResult:
    """A finished run: where it lives, its settings, its per-epoch history, its best and final epochs."""

    folder: Path
    settings: dict[str, Any]
    history: pd.DataFrame
    best: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def strategy(self) -> str:
        return self.settings["strategy"]

    @property
    def seed(self) -> int:
        return int(self.settings["seed"])

    @property
    def final(self) -> dict[str, Any]:
        return self.metadata.get("final", {})


def load_run(folder: str | os.PathLike) -> RunResult:
    """Read a complete run folder written by :func:`train`."""
    folder = Path(folder)
    metadata = json.loads((folder / "run.json").read_text())
    history = pd.read_csv(folder / "metrics.csv")
    return RunResult(folder, metadata["settings"], history, metadata["best"], metadata)


def machine_of(result: RunResult) -> str:
    """The kind of machine ``result`` trained on, as far as its numbers depend on it: the processor
    and the kernels torch used (``run.json``'s ``cpu`` and ``cpu_bf16``), the device (a GPU by its
    name), the mixed-precision mode and the thread count (it changes a run's numbers:
    :mod:`bl_utils.threads`), e.g. ``"AMD EPYC · AVX512 · bf16 AVX512-BF16 · cpu · amp bf16 · threads 2"``. Two runs of one seed on machines of two kinds share their
    initial weights and batch order, not their trajectory, so comparisons pair runs only within one
    kind (what a run did not record reads ``not recorded``)."""
    meta = result.metadata
    device = str(meta.get("device") or "device not recorded")
    device = "cpu" if device.startswith("cpu") else device
    return (f"{meta.get('cpu', 'not recorded')} · bf16 {meta.get('cpu_bf16', 'not recorded')} · {device} · "
            f"amp {meta.get('amp', 'not recorded')} · threads {meta.get('threads', 'not recorded')}")


def run_keys(result: RunResult) -> dict[str, Any]:
    """What a comparison pairs a run by: ``strategy``, ``seed``, ``fold`` (-1 for runs without
    cross-validation folds) and ``machine`` (:func:`machine_of`)."""
    return {"strategy": result.strategy, "seed": result.seed, "fold": int(result.settings.get("fold", -1)),
            "machine": machine_of(result)}


def machines_table(groups: dict[str, list[RunResult]]) -> pd.DataFrame:
    """Where each group of runs was trained: one row per group and CPU (``run.json``'s ``cpu``; runs
    made before it was recorded say so) with the number of runs and the median seconds per epoch
    (``metrics.csv``). Runs paired by seed across two kinds of CPU share their initial weights and
    batch order, not their trajectory: bf16 kernels differ from the first step. (Pairing uses the
    finer :func:`machine_of`; this table names only the processor, so that a published output says
    nothing of precision modes.)"""
    rows = [{"runs": name, "cpu": r.metadata.get("cpu", "not recorded"),
             "seconds": r.history.seconds.median()} for name, results in groups.items() for r in results]
    if not rows:
        return pd.DataFrame(columns=["runs", "cpu", "n_runs", "s per epoch (median)"])
    frame = pd.DataFrame(rows).groupby(["runs", "cpu"], sort=False)
    return frame.seconds.agg(["size", "median"]).round(1).reset_index().rename(
        columns={"size": "n_runs", "median": "s per epoch (median)"})


def load_predictions(folder: str | os.PathLike) -> dict[str, Any]:
    """A run's ``predictions.npz`` unpacked: bool ``(N, H, W)`` arrays ``best``, ``final``, ``truth``
    and the lists ``stems``, ``labels``."""
    with np.load(Path(folder) / "predictions.npz") as npz:
        width = int(npz["width"])
        out = {key: np.unpackbits(npz[key], axis=-1, count=width).astype(bool) for key in ("best", "final", "truth")}
        out.update(stems=[str(s) for s in npz["stems"]], labels=[str(s) for s in npz["labels"]])
    return out


def runs_frame(results: list[RunResult]) -> pd.DataFrame:
    """One row per run: strategy, seed, fold (-1 for runs without cross-validation folds), the best
    epoch's and the final epoch's summaries (columns prefixed ``best_`` and ``final_``), training time."""
    rows = []
    for r in results:
        row = {"strategy": r.strategy, "seed": r.seed, "fold": int(r.settings.get("fold", -1)),
               "train_seconds": r.metadata.get("train_seconds")}
        row.update({f"best_{k}": v for k, v in r.best.items()})
        row.update({f"final_{k}": v for k, v in r.final.items()})
        rows.append(row)
    return pd.DataFrame(rows)


#: Table 1's columns: (name, column of :func:`runs_frame`); each becomes a mean and, over several
#: seeds, a standard deviation.
TABLE1_COLUMNS = (("best_dice", "best_val_dice"), ("final_dice", "final_val_dice"),
                  ("final_dice_tumour", "final_dice_tumour"), ("final_normal_fp_rate", "final_normal_fp_rate"),
                  ("final_hd95", "final_hd95_tumour"), ("final_hd95_failures", "final_tumour_missed"),
                  ("final_components", "final_components_mean"), ("best_epoch", "best_epoch"))


def results_table(results: list[RunResult]) -> pd.DataFrame:
    """Table 1: per strategy, the number of runs, mean (and ``*_sd`` over seeds, ddof 1) of the
    ``TABLE1_COLUMNS``, and Odonnat & Pham's best Dice.

    ``best_dice`` is their metric (best epoch, chosen on the validation images themselves, so
    optimistic); the ``final_*`` columns score the last epoch: Dice over all images and over tumour
    images, the share of normal images with any predicted pixel, HD95 in pixels over tumour images
    with a prediction and, beside it, the number of tumour images predicted empty (failures).
    """
    frame = runs_frame(results)
    grouped = frame.groupby("strategy", sort=False)
    table = pd.DataFrame({"runs": grouped.size()})
    for name, column in TABLE1_COLUMNS:
        table[name] = grouped[column].mean()
        if name in ("best_dice", "final_dice", "final_dice_tumour"):
            table[f"{name}_sd"] = grouped[column].std(ddof=1)
    table["odonnat_pham_dice"] = [ODONNAT_PHAM_TABLE1.get(name, np.nan) for name in table.index]
    return table.reset_index()


def table_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """``table`` as a GitHub Markdown table (floats rounded to ``digits``, NaN shown as ``–``)."""
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            if math.isnan(value):
                return "–"
            return str(int(value)) if float(value).is_integer() and abs(value) < 1e6 else f"{value:.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, folder: str | os.PathLike, name: str = "table1",
                caption: str | None = None) -> tuple[Path, Path]:
    """Write ``table`` as ``<folder>/<name>.csv`` and ``<name>.md`` (atomically); return both paths.

    ``caption`` (e.g. which data and profile) becomes the Markdown file's first paragraph.
    """
    folder = Path(folder)
    with atomic_write(folder / f"{name}.csv") as handle:
        table.to_csv(handle, index=False)
    with atomic_write(folder / f"{name}.md") as handle:
        handle.write((caption + "\n\n" if caption else "") + table_markdown(table))
    return folder / f"{name}.csv", folder / f"{name}.md"


def collapsed(result: RunResult, min_tumour_dice: float = 0.1) -> bool:
    """True when a run ended predicting (almost) nothing on tumour images: its last epoch's mean
    validation Dice over images with a tumour is below ``min_tumour_dice``. This is the failure
    seen with Φ_G in pixels and α ramped to 1 (see the module docstring)."""
    last = result.history.iloc[-1]
    return not (last.val_dice_tumour >= min_tumour_dice)
