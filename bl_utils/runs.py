"""Finished training runs read back: every reader of a run folder, in one place.

A run folder written by :func:`bl_utils.train.train` holds ``run.json`` (settings, versions, code
version, device, the summaries of the best and the final epoch), ``metrics.csv`` (one row per epoch),
``val_per_image.csv``, ``predictions.npz``, ``robustness.csv``, ``normal_images.csv`` and, with
external data, ``external_images.csv`` and ``external_predictions.npz`` (``bl_utils.config.RUN_FILES``).
Each file has one reader here (:func:`load_run`, :func:`per_image`, :func:`load_predictions`,
:func:`robustness`, :func:`normal_fp_rate`, :func:`external_images`), all without torch, and every
table a reader returns carries the run's keys (:func:`run_keys`: strategy, seed, fold, machine),
the keys every comparison pairs by. :func:`validation_images` and :func:`case_predictions` add the
images a run scored, read from the data.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["RunResult", "load_run", "machine_of", "run_keys", "machines_table", "runs_frame", "hd95_penalty",
           "validation_counts", "validation_order",
           "per_image", "load_predictions", "robustness", "normal_fp_rate", "external_images",
           "external_predictions", "validation_images", "case_predictions", "GZIPPED_TABLES", "processor_of"]

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


def processor_of(machine: str) -> str:
    """The processor named by a :func:`machine_of` string, ``run.json``'s ``cpu`` (e.g. ``"AMD EPYC ·
    AVX512"``): the part a published table may show (the rest names kernels, device and threads)."""
    return machine.split(" · bf16 ")[0]


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


def validation_counts(result: RunResult) -> dict[str, Any] | None:
    """A run's ``val_counts.npz``: ``counts`` int ``(epochs, N, 3)`` (each epoch's TP, FP, FN per
    validation image), the images' dataset ``index`` ``(N,)`` and ``stems``, in the order the run
    validated them; ``None`` for a run published before runs stored them."""
    path = Path(result.folder) / "val_counts.npz"
    if not path.is_file():
        return None
    with np.load(path) as npz:
        return {"counts": npz["counts"].astype(np.int64), "index": npz["index"].astype(np.int64),
                "stems": [str(s) for s in npz["stems"]]}


def validation_order(result: RunResult) -> str:
    """The order a run read its validation images in: ``"drawn"`` (Odonnat & Pham's split, the order
    of its random draw) or ``"sorted"`` (by dataset index: benign, then malignant; every run
    published before the draw's order, which records none)."""
    return str(result.metadata.get("val_order", "sorted"))


def runs_frame(results: Sequence[RunResult]) -> pd.DataFrame:
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


def hd95_penalty(side: int) -> float:
    """The HD95 counted for a tumour the model missed (an empty prediction, where HD95 is undefined):
    the diagonal of the scored ``side`` × ``side`` image, in its pixels — the largest distance two of
    its pixels can be apart, so a missed tumour never scores better than a found one."""
    return float(side) * math.sqrt(2.0)


#: The tables a published run keeps gzipped, a third to a quarter of the size (:func:`bl_utils.experiments.publish_runs`).
GZIPPED_TABLES = ("robustness.csv", "external_images.csv", "val_per_image.csv", "normal_images.csv")


def _table_path(folder: Path, name: str) -> Path:
    """``folder / name``, or its gzipped copy ``name + ".gz"`` where only that exists (:data:`GZIPPED_TABLES`)."""
    plain, packed = folder / name, folder / f"{name}.gz"
    return packed if not plain.is_file() and packed.is_file() else plain


def _with_keys(table: pd.DataFrame, r: RunResult) -> pd.DataFrame:
    """``table`` with the run's keys (:func:`run_keys`) first, ``pred_any`` (1.0 when anything is
    predicted: the false-positive indicator on an image without tumour) and ``hd95_penalised`` (HD95,
    or :func:`hd95_penalty` of the run's image size for a missed tumour)."""
    missed = ~table.target_empty.astype(bool) & table.pred_empty.astype(bool)
    penalised = (table.hd95.where(~missed, hd95_penalty(r.settings.get("image_size", 0))) if "hd95" in table
                 else np.nan)
    keyed = table.assign(**run_keys(r), pred_any=(~table.pred_empty.astype(bool)).astype(float), hd95_penalised=penalised)
    keys = list(run_keys(r))
    return keyed[keys + [c for c in keyed.columns if c not in keys]]


def per_image(results: Iterable[RunResult], checkpoint: str = "final") -> pd.DataFrame:
    """One row per (run, validation image) at ``checkpoint`` (``"best"`` or ``"final"``), read from
    ``val_per_image.csv`` (or its gzipped copy: :func:`_table_path`): ``strategy, seed, fold, machine``
    (:func:`run_keys`), ``stem, label`` and the metrics (:func:`bl_utils.metrics.evaluate_masks`),
    ``pred_any`` and ``hd95_penalised``."""
    frames = []
    for r in results:
        table = pd.read_csv(_table_path(r.folder, "val_per_image.csv"), dtype={"stem": str, "label": str})
        frames.append(_with_keys(table[table.checkpoint == checkpoint].drop(columns="checkpoint").reset_index(drop=True), r))
    if not frames:
        return pd.DataFrame(columns=["strategy", "seed", "fold", "machine", "stem", "label", "dice", "target_empty"])
    return pd.concat(frames, ignore_index=True)


def robustness(results: Iterable[RunResult]) -> pd.DataFrame:
    """The runs' ``robustness.csv`` in one table: the run's keys, ``corruption, level`` and the
    per-image metrics of the final model on the degraded validation images, plus ``pred_any``."""
    frames = [_with_keys(pd.read_csv(_table_path(r.folder, "robustness.csv"), dtype={"stem": str, "label": str}), r)
              for r in results]
    return pd.concat(frames, ignore_index=True)


def normal_fp_rate(result: RunResult, checkpoint: str = "final") -> float:
    """The share of the normal images (``normal_images.csv``, never trained on) on which ``result``'s
    model at ``checkpoint`` predicts any tumour pixel; nan when the run has no such file."""
    path = _table_path(result.folder, "normal_images.csv")
    if not path.is_file():
        return float("nan")
    table = pd.read_csv(path, dtype={"stem": str})
    return float(table[table.checkpoint == checkpoint].false_positive.astype(bool).mean())


def external_images(results: Iterable[RunResult]) -> pd.DataFrame:
    """The runs' ``external_images.csv`` (the final model on another hospital's images) in one table:
    the run's keys, then per image ``stem, label`` (pathology), ``patient, scanner, birads,
    tumour_fraction`` and the metrics with ``nsd`` and ``predicted_pixels``, plus ``hd95_penalised``
    (already the penalty: HD95 of a missed tumour is scored as the image diagonal). Runs without the
    file are skipped; a published run may hold it gzipped (:func:`_table_path`)."""
    paths = [(r, _table_path(r.folder, "external_images.csv")) for r in results]
    frames = [_with_keys(pd.read_csv(path, dtype={"stem": str, "label": str, "scanner": str, "birads": str}), r)
              for r, path in paths if path.is_file()]
    if not frames:
        return pd.DataFrame(columns=["strategy", "seed", "fold", "machine", "stem", "label", "patient", "scanner", "dice"])
    return pd.concat(frames, ignore_index=True)


def external_predictions(folder: str | os.PathLike) -> dict[str, Any]:
    """A run's ``external_predictions.npz`` unpacked: bool ``final`` ``(K, H, W)`` and the list ``stems``."""
    with np.load(Path(folder) / "external_predictions.npz") as npz:
        return {"final": np.unpackbits(npz["final"], axis=-1, count=int(npz["width"])).astype(bool),
                "stems": [str(s) for s in npz["stems"]]}


def validation_images(data: str, run: RunResult) -> np.ndarray:
    """uint8 ``(N, H, W)`` validation images of ``run`` (its order, its image size), read from ``data``.
    Raises ``ValueError`` when ``data`` is not the data the run was trained on (other fingerprint)."""
    from .data import busi as bl_data
    from .data.source import resolve_data
    from .runtime import display_path

    dataset = bl_data.load_busi(resolve_data(data).root, image_size=bl_data.PAPER_SIZE,
                                max_tumour_fraction=run.settings["max_tumour_fraction"],
                                include_normal=run.settings.get("include_normal", True),
                                distance_maps=False, progress=False)
    if bl_data.content_fingerprint(dataset) != run.settings["data_fingerprint"]:
        raise ValueError(f"{data} is not the data {display_path(run.folder)} was trained on; point DATA at it.")
    where = {stem: i for i, stem in enumerate(dataset.meta.stem)}
    images = dataset.images[[where[s] for s in run.metadata["val_stems"]]]
    size = run.settings["image_size"]
    return bl_data.resize_images(images, (size, size))


def case_predictions(data: str, runs_by_strategy: dict[str, Sequence[RunResult]], stems: Sequence[str],
                     checkpoint: str = "final") -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The validation images ``stems``, each from the run (the fold) that scored it: uint8 images
    ``(N, H, W)`` read from ``data``, bool ground truths ``(N, H, W)``, and per strategy its bool
    predictions ``(N, H, W)`` at ``checkpoint``. ``runs_by_strategy``: every strategy's runs of one
    seed (its folds); the first strategy's runs give the images. Raises ``KeyError`` naming a stem
    no run of a strategy scored."""
    def scored(runs):
        table = {}
        for r in runs:
            predictions = load_predictions(r.folder)
            table.update({stem: (r, predictions, k) for k, stem in enumerate(predictions["stems"])})
        return table

    by_strategy = {name: scored(runs) for name, runs in runs_by_strategy.items()}
    for name, table in by_strategy.items():
        missing = [s for s in stems if s not in table]
        if missing:
            raise KeyError(f"no run of {name} scored {missing}: give the runs of the folds that hold them.")
    first = by_strategy[next(iter(by_strategy))]
    images = {}
    for run in {id(first[s][0]): first[s][0] for s in stems}.values():
        images.update(zip(run.metadata["val_stems"], validation_images(data, run)))
    truths = np.stack([first[s][1]["truth"][first[s][2]] for s in stems])
    predictions = {name: np.stack([table[s][1][checkpoint][table[s][2]] for s in stems])
                   for name, table in by_strategy.items()}
    return np.stack([images[s] for s in stems]), truths, predictions
