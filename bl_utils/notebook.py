"""What every notebook of the report does first: which data, which runs, where files go.

The cell after a notebook's parameters is one call::

    nb = notebook.start(DATA, needs="runs", profile=PROFILE, smoke=SMOKE, results_dir=RESULTS_DIR,
                        figures_dir=FIGURES_DIR, tables_dir=TABLES_DIR)

The data (``DATA``, the one place a reader changes it)
    A BUSI folder, ``"kaggle"`` or ``"synthetic"`` is used as given. ``None`` means the environment
    variable ``BUSI_DIR`` when it is set; otherwise the notebooks that need images (1 and 2,
    ``needs="images"``) run on the built-in synthetic stand-in, which their first line says
    loudly, and the notebooks that show results (3–5, ``needs="runs"``) show the published runs
    of ``results/``, found by their data id without reading any image; their cells that need
    images then say in one line how to get BUSI (:meth:`Session.images_missing`).

What cells do through it
    ``nb.runs(experiment, seeds=...)`` fetches (or trains) a group of runs, ``nb.write_answer(title,
    text)`` records the notebook's answer for the README, ``nb.write_table(table, name)`` writes a
    table, ``nb.save(fig, name)`` a figure, ``nb.pixel_phis()`` and ``nb.data_facts()`` read the images.

Where files go
    Figures, tables and newly trained runs go to ``reports/<data>-<profile>/`` of the checkout
    (ignored by git), or to the folders the parameters name. Only a publication writes to
    ``figures/`` and ``results/``: ``python -m bl_utils report --publish`` sets the environment
    variable :data:`PUBLISH_ENV` for its kernels, and it is refused on data other than BUSI.
    Published runs are read from ``results/`` in every case.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from . import experiments, training_data, words
from .config import TrainConfig
from .data import busi as bl_data
from .data.dataset import DataError
from .data.source import DataSource, resolve_data
from .plots.style import save_figure
from .runs import RunResult
from .runtime import atomic_write, project_root, write_json

__all__ = ["PUBLISH_ENV", "Session", "start", "output_folder", "data_facts", "profile_config", "write_answer",
           "write_answer_column", "ANSWER_COLUMNS", "write_table", "table_markdown"]

#: The columns of the README's first table (``answers_table.md``), in order: what each notebook answers,
#: per strategy (:func:`write_answer_column`).
ANSWER_COLUMNS = ("BUSI, the study: Dice − CE [95 % CI]", "BUS-BRA, another hospital: Dice − CE [95 % CI]",
                  "Odonnat & Pham's protocol, CPU profile, their validation order: their batch-pooled F1 − CE [95 % CI]",
                  "their Table 1 (batch-pooled F1, one run each)")

#: Set (to ``1``) by ``python -m bl_utils report --publish`` for the kernels it starts.
PUBLISH_ENV = "BL_PUBLISH"
NEEDS = ("images", "runs")


def output_folder(kind: str, profile: str | None = None, root: Path | None = None) -> Path:
    """``reports/<kind>-<profile>`` of the checkout (``<kind>`` alone without a profile)."""
    return Path(root or project_root()) / "reports" / (f"{kind}-{profile}" if profile else kind)


@dataclass
class Session:
    """A notebook's data and folders (from :func:`start`).

    ``data``: what the :mod:`bl_utils.runs` and :mod:`bl_utils.experiments` functions read (a BUSI folder, ``"synthetic"``), or
    ``None`` when no images are at hand; ``kind``: ``"busi"`` or ``"synthetic"``; ``name``: how
    titles name the data; ``data_id``: the data level of the run folders; ``runs_dir``: where runs
    are trained and looked for first; ``published_dir``: ``results/`` of the checkout, where the
    published runs are looked for next; ``external``: the BUS-BRA folder asked for (``None``:
    :func:`bl_utils.data.busbra.resolve_external`'s default); ``source``: the resolved :class:`~bl_utils.data.source.DataSource`
    of ``data`` (computed on first use: notebooks that only show runs never resolve it).
    """

    data: str | None
    kind: str
    name: str
    data_id: str
    smoke: bool
    profile: str | None
    figures_dir: Path
    tables_dir: Path
    runs_dir: Path
    published_dir: Path
    publishing: bool
    external: str | None = None

    @property
    def has_images(self) -> bool:
        return self.data is not None

    @cached_property
    def source(self) -> DataSource:
        """:func:`bl_utils.data.source.resolve_data` of ``data``, resolved on first use and kept (its
        ``root`` is what :func:`bl_utils.data.busi.load_busi` reads, its ``description`` says what the
        data is). Raises :class:`~bl_utils.data.dataset.DataError` saying how to get BUSI when no
        images are at hand (``data`` is None), and as ``resolve_data`` for a bad ``data``."""
        if not self.has_images:
            raise DataError(f"No images are at hand, so there is no data source. {words.GET_BUSI}")
        return resolve_data(self.data)

    def runs(self, experiment: str, train: bool = False, profile: str | None = None,
             seeds: Sequence[int] | None = None) -> list[RunResult]:
        """The runs of ``experiment`` (:func:`bl_utils.experiments.obtain`): the reader's, else the
        published ones; ``seeds``: only the runs of these seeds."""
        if train and not self.has_images:
            print(f"TRAIN = True needs the images. {words.GET_BUSI}")
        smoke, train = self.smoke, train and self.has_images
        if experiments.EXPERIMENTS[experiment].protocol == "external" and (smoke or train) and not self._external_folder():
            smoke = train = False   # nothing to score the runs on: show the published ones (one line said why)
        found = experiments.obtain(experiment, self.data, self.runs_dir, smoke=smoke, train=train, profile=profile,
                                   data_id=self.data_id, published=self.published_dir, external=self.external)
        if seeds is None:
            return found
        kept = [r for r in found if r.seed in set(seeds)]
        print(f"  of which seeds {', '.join(map(str, sorted(set(seeds))))}: {len(kept)} runs")
        return kept

    def _external_folder(self, what: str = "The external runs need BUS-BRA to be trained or scored."):
        """The BUS-BRA folder (:func:`bl_utils.data.busbra.resolve_external` of ``external``), or ``None``
        after one line: ``what``, then where to get it."""
        from .data import busbra

        folder = busbra.resolve_external(self.external)
        if folder is None:
            print(f"{what} {busbra.BUSBRA_HINT}")
        return folder

    def write_answer(self, title: str, markdown: str) -> Path:
        """Record this notebook's answer in plain words (:func:`write_answer` in its tables folder); on
        data other than BUSI it says so first."""
        return write_answer(self.tables_dir, title, self._labelled(markdown))

    def _labelled(self, text: str | None) -> str | None:
        if text is None or self.kind == "busi":
            return text
        return f"SYNTHETIC data, not BUSI: the numbers check the machinery only. {text}"

    def write_answer_column(self, column: str, cells: dict[str, str], bottom_line: str | None = None) -> Path:
        """Record this notebook's column of the README's first table (:func:`write_answer_column`)."""
        return write_answer_column(self.tables_dir, column, cells, self._labelled(bottom_line))

    def write_table(self, table: pd.DataFrame, name: str, caption: str | None = None) -> tuple[Path, Path]:
        """:func:`write_table` into this notebook's tables folder."""
        return write_table(table, self.tables_dir, name, caption)

    def pixel_phis(self) -> np.ndarray:
        """Φ_G in pixels at 256² of the images with a tumour that pass the < 5 % rule, ``(N, 256, 256)``."""
        dataset = bl_data.load_busi(self.source.root, image_size=bl_data.PAPER_SIZE, progress=False)
        return dataset.phis[dataset.masks.reshape(len(dataset), -1).any(axis=1)]

    def external_data(self, progress: bool = False):
        """BUS-BRA at 256² (:func:`bl_utils.data.busbra.load_busbra` of ``external``, else ``$BUSBRA_DIR``,
        else the copy beside the checkout), or ``None`` after one line saying where to get it."""
        from .data import busbra

        folder = self._external_folder("BUS-BRA is not here.")
        return None if folder is None else busbra.load_busbra(folder, progress=progress)

    def images_missing(self, what: str) -> bool:
        """True (after printing one line saying how to get BUSI) when ``what`` needs images that are not here."""
        if self.has_images:
            return False
        print(f"{what} needs the BUSI images, which are not here. {words.GET_BUSI}")
        return True

    def save(self, fig, name: str) -> Path:
        """:func:`bl_utils.plots.style.save_figure` into this notebook's figures folder."""
        return save_figure(fig, name, self.figures_dir)


def _data_of(data: str | None, needs: str, published: Path) -> tuple[str | None, str | None]:
    """``(data, data id of the published runs)`` for the ``DATA`` parameter (see the module)."""
    if data is None or str(data).strip() == "":
        data = os.environ.get("BUSI_DIR") or None
    if data is not None:
        return str(data), None
    published_id = experiments.published_data_id(published) if needs == "runs" else None
    return (None, published_id) if published_id else ("synthetic", None)


def start(data: str | None = None, needs: str = "runs", profile: str | None = None, smoke: bool | None = None,
          results_dir: str | os.PathLike | None = None, figures_dir: str | os.PathLike | None = None,
          tables_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
          external: str | None = None) -> Session:
    """Resolve a notebook's data and folders (see the module), print which data and profile it
    runs with, and return the :class:`Session`. ``smoke=None``: True on synthetic data (tiny runs).
    Raises :class:`bl_utils.data.dataset.DataError` for a ``DATA``/``BUSI_DIR`` that is not BUSI, and
    ``ValueError`` for a publication on other data than BUSI."""
    if needs not in NEEDS:
        raise ValueError(f"needs must be one of {NEEDS}, got {needs!r}")
    root = Path(root or project_root())
    published = root / "results"
    data, published_id = _data_of(data, needs, published)
    data_id = published_id or training_data.data_id_of(data)
    kind = data_id.split("-")[0]
    smoke = (kind == "synthetic") if smoke is None else bool(smoke)
    publishing = os.environ.get(PUBLISH_ENV, "") not in ("", "0")
    if publishing and (kind != "busi" or data is None or smoke):
        raise ValueError(f"{PUBLISH_ENV} is set, but only a run on BUSI (not {data or 'the published runs'}, "
                         f"smoke={smoke}) is published: unset it, or point BUSI_DIR at BUSI")
    out = output_folder(kind if data is not None else "published", profile, root)
    session = Session(
        data=data, kind=kind, name="BUSI" if kind == "busi" else "synthetic data (not BUSI)", data_id=data_id,
        smoke=smoke, profile=profile,
        figures_dir=Path(figures_dir or (root / "figures" if publishing else out / "figures")),
        tables_dir=Path(tables_dir or results_dir or (published if publishing else out)),
        runs_dir=Path(results_dir or (published if publishing else out / "runs")),
        published_dir=published, publishing=publishing, external=external)
    config = profile_config(profile, smoke) if needs == "runs" and profile else None
    print(words.data_statement(data_facts(data) if data is not None else None, config, data_id))
    return session


def data_facts(data: str) -> dict[str, Any]:
    """What a notebook says about its data, without its folder (a published notebook holds no
    machine's path): ``description`` (name and classes), ``fingerprint`` (of the content) and
    ``resized_copy`` (True for a BUSI copy already at 256² with one merged mask per image)."""
    source, fingerprint = training_data.data_identity(data)
    resized_copy = False
    if source.kind == "busi":
        meta = bl_data.load_busi(source.root, image_size=bl_data.PAPER_SIZE, max_tumour_fraction=None,
                                 distance_maps=False, progress=False).meta
        resized = (meta.orig_height == bl_data.PAPER_SIZE) & (meta.orig_width == bl_data.PAPER_SIZE)
        resized_copy = bool(((meta.size_source == "manifest.csv") | resized).all())
    return {"description": source.description, "fingerprint": fingerprint, "resized_copy": resized_copy}


def profile_config(profile: str, smoke: bool = False) -> TrainConfig:
    """The resolved settings of ``profile`` on this machine (``tiny`` in the smoke test)."""
    return TrainConfig(data="synthetic", profile="tiny" if smoke else profile).resolve()


def write_answer(folder: str | os.PathLike, name: str, markdown: str) -> Path:
    """Record a notebook's answer in plain words: ``<folder>/answers.json`` keeps one entry per
    ``name`` (a later call replaces it), and ``answers.md`` lists them all, which the report copies
    into the README. Returns the Markdown file's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "answers.json"
    answers = json.loads(store.read_text()) if store.is_file() else {}
    text = markdown.strip()
    answers[name] = text[:1].upper() + text[1:]
    write_json(store, dict(sorted(answers.items())))
    with atomic_write(folder / "answers.md") as handle:
        handle.write("\n\n".join(f"**{title}** {body}" for title, body in sorted(answers.items())) + "\n")
    return folder / "answers.md"


def write_answer_column(folder: str | os.PathLike, column: str, cells: dict[str, str],
                        bottom_line: str | None = None) -> Path:
    """Record one column (one of :data:`ANSWER_COLUMNS`) of the README's first table: ``cells`` maps a
    strategy to its text, ``bottom_line`` is the column's answer in one plain sentence (optional).
    ``<folder>/answers_table.json`` keeps every column (a later call replaces it); ``answers_table.md``
    is the bottom lines, then the table, one row per strategy, which the report copies into the
    README. Returns the Markdown file's path. ``ValueError`` for a column not in :data:`ANSWER_COLUMNS`."""
    from .schedules import STRATEGIES

    if column not in ANSWER_COLUMNS:
        raise ValueError(f"column must be one of {ANSWER_COLUMNS}, got {column!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "answers_table.json"
    columns = json.loads(store.read_text()) if store.is_file() else {}
    columns[column] = {"cells": dict(cells), "bottom_line": bottom_line}
    write_json(store, {c: columns[c] for c in ANSWER_COLUMNS if c in columns})
    shown = [c for c in ANSWER_COLUMNS if c in columns]
    table = pd.DataFrame([{"strategy": s, **{c: columns[c]["cells"].get(s, "–") for c in shown}} for s in STRATEGIES])
    lines = [columns[c]["bottom_line"] for c in shown if columns[c]["bottom_line"]]
    with atomic_write(folder / "answers_table.md") as handle:
        handle.write("".join(f"{line}\n\n" for line in lines) + table_markdown(table))
    return folder / "answers_table.md"


def write_table(table: pd.DataFrame, folder: str | os.PathLike, name: str, caption: str | None = None
                ) -> tuple[Path, Path]:
    """Write ``table`` as ``<folder>/<name>.csv`` and ``<name>.md`` (atomically); return both paths.
    ``caption`` (e.g. which data and profile) becomes the Markdown file's first paragraph."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(folder / f"{name}.csv") as handle:
        table.to_csv(handle, index=False)
    with atomic_write(folder / f"{name}.md") as handle:
        handle.write((caption + "\n\n" if caption else "") + table_markdown(table))
    return folder / f"{name}.csv", folder / f"{name}.md"


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
