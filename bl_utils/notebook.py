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

Where files go
    Figures, tables and newly trained runs go to ``reports/<data>-<profile>/`` of the checkout
    (ignored by git), or to the folders the parameters name. Only a publication writes to
    ``figures/`` and ``results/``: ``python -m bl_utils report --publish`` sets the environment
    variable :data:`PUBLISH_ENV` for its kernels, and it is refused on data other than BUSI.
    Published runs are read from ``results/`` in every case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import study, training_data, words
from .data.dataset import DataError
from .data.source import DataSource, resolve_data
from .plots.style import save_figure
from .runs import RunResult
from .runtime import project_root

__all__ = ["PUBLISH_ENV", "Session", "start", "output_folder"]

#: Set (to ``1``) by ``python -m bl_utils report --publish`` for the kernels it starts.
PUBLISH_ENV = "BL_PUBLISH"
NEEDS = ("images", "runs")


def output_folder(kind: str, profile: str | None = None, root: Path | None = None) -> Path:
    """``reports/<kind>-<profile>`` of the checkout (``<kind>`` alone without a profile)."""
    return Path(root or project_root()) / "reports" / (f"{kind}-{profile}" if profile else kind)


@dataclass
class Session:
    """A notebook's data and folders (from :func:`start`).

    ``data``: what the :mod:`bl_utils.study` functions read (a BUSI folder, ``"synthetic"``), or
    ``None`` when no images are at hand; ``kind``: ``"busi"`` or ``"synthetic"``; ``name``: how
    titles name the data; ``data_id``: the data level of the run folders; ``runs_dir``: where runs
    are trained and looked for first; ``published_dir``: ``results/`` of the checkout, where the
    published runs are looked for next; ``source``: the resolved :class:`~bl_utils.data.source.DataSource`
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

    def runs(self, experiment: str, train: bool = False, profile: str | None = None) -> list[RunResult]:
        """The runs of ``experiment`` (:func:`bl_utils.study.obtain`): the reader's, else the published ones."""
        if train and not self.has_images:
            print(f"TRAIN = True needs the images. {words.GET_BUSI}")
        return study.obtain(experiment, self.data, self.runs_dir, smoke=self.smoke, train=train and self.has_images,
                            profile=profile, data_id=self.data_id, published=self.published_dir)

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
    published_id = study.published_data_id(published) if needs == "runs" else None
    return (None, published_id) if published_id else ("synthetic", None)


def start(data: str | None = None, needs: str = "runs", profile: str | None = None, smoke: bool | None = None,
          results_dir: str | os.PathLike | None = None, figures_dir: str | os.PathLike | None = None,
          tables_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> Session:
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
        published_dir=published, publishing=publishing)
    config = study.profile_config(profile, smoke) if needs == "runs" and profile else None
    print(words.data_statement(study.data_facts(data) if data is not None else None, config, data_id))
    return session
