"""Where the data comes from: the ``DATA`` parameter turned into a folder that holds BUSI's layout.

``DATA`` (:func:`resolve_data`)
    ``"synthetic"`` (the built-in default, written once by :mod:`bl_utils.data.synthetic` to
    ``<project root>/data/synthetic_busi``), ``"kaggle"`` (BUSI downloaded with ``kagglehub``,
    :func:`download_kaggle`), a path to the real BUSI folder (relative paths: from the working
    directory, else from the project root), or ``None`` (the environment variable ``BUSI_DIR`` if
    set, else synthetic).

The answer (:class:`DataSource`)
    Its ``root`` is the folder to give :func:`bl_utils.data.busi.load_busi` (a ``DataSource`` is
    path-like: ``os.fspath(source)`` is that folder); its ``description`` is the line every notebook
    prints, so no figure is ever mistaken for BUSI.

Reading the folder once found is :mod:`bl_utils.data.busi`'s. Every bad input raises
:class:`~bl_utils.data.dataset.DataError` (a ``ValueError``) naming the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .busi import DOWNLOAD_HINT, find_layout, images_per_class
from .dataset import DataError
from ..runtime import display_path, project_root

__all__ = ["DataSource", "resolve_data", "download_kaggle", "KAGGLE_DATASET"]

#: The Kaggle handle of BUSI that ``DATA="kaggle"`` downloads (:func:`download_kaggle`).
KAGGLE_DATASET = "aryashah2k/breast-ultrasound-images-dataset"


@dataclass(frozen=True)
class DataSource:
    """Which data a notebook runs on. ``kind``: ``"synthetic"`` or ``"busi"``; ``root``: the folder
    to give :func:`bl_utils.data.busi.load_busi` (also ``os.fspath(source)``); ``description``: one
    line that says loudly what the data is (also ``str(source)``)."""

    root: Path
    kind: str
    description: str

    def __str__(self) -> str:
        return self.description

    def __fspath__(self) -> str:
        return os.fspath(self.root)


def resolve_data(source: "str | os.PathLike | DataSource | None" = "synthetic") -> DataSource:
    """Turn the ``DATA`` parameter into a :class:`DataSource`.

    * ``"synthetic"``: the built-in synthetic stand-in (:func:`bl_utils.data.synthetic.write_synthetic_busi`,
      seed 0), written once to ``<project root>/data/synthetic_busi`` (into a temporary folder,
      renamed when complete; reused afterwards). Its description starts with "SYNTHETIC".
    * ``"kaggle"``: BUSI downloaded from Kaggle with ``kagglehub`` (:func:`download_kaggle`; kept
      in kagglehub's cache and reused afterwards).
    * a path: the real BUSI folder (``Dataset_BUSI_with_GT`` or its parent), validated now. A
      relative path is looked up from the working directory first and, if it does not exist
      there, from the project root (:func:`bl_utils.runtime.project_root`): a notebook, whose
      working directory is ``notebooks/``, can say ``DATA = "../shared/data/busi256"`` as it
      would from the repository root.
    * ``None`` or ``""``: the environment variable ``BUSI_DIR`` if set (resolved the same way),
      else ``"synthetic"``.

    Raises :class:`~bl_utils.data.dataset.DataError` for a path that exists in neither place or
    holds no BUSI layout, and for a failed Kaggle download (the message says where to download
    BUSI, how to set ``BUSI_DIR``, and for Kaggle what to install or set up).
    """
    if isinstance(source, DataSource):
        return source
    if source is None or str(source).strip() == "":
        source = os.environ.get("BUSI_DIR") or "synthetic"
    from . import synthetic

    keyword = str(source).strip().lower()
    if keyword == "synthetic":
        folder = synthetic.ensure_synthetic_busi(project_root() / "data" / "synthetic_busi", verbose=False)
    elif keyword == "kaggle":
        folder = find_layout(download_kaggle())
    else:
        folder = find_layout(_locate(source))
    counts = images_per_class(folder)
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    if (folder.parent / synthetic._MARKER).is_file():   # the generator's folder, however it is named
        description = (f"SYNTHETIC ultrasound-like data (not BUSI): {sum(counts.values())} generated images "
                       f"({summary}; bl_utils.data.synthetic) in {display_path(folder.parent)}/. Numbers and figures "
                       f"are NOT the paper's: set DATA or BUSI_DIR to the BUSI folder for real results.")
        return DataSource(folder.parent, "synthetic", description)
    # no folder in the description: runs record it and published notebooks print it (no machine's path)
    description = f"BUSI (real data, Al-Dhabyani et al. 2020): {sum(counts.values())} images ({summary})"
    return DataSource(folder, "busi", description)


def _locate(path: str | os.PathLike) -> Path:
    """``path`` itself when absolute or found from the working directory, else from the project root."""
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists():
        return path
    from_root = project_root() / path
    if from_root.exists():
        return from_root
    raise DataError(f"BUSI folder not found: {path} (looked for it from the working directory "
                        f"{Path.cwd()} and from the project root {project_root()}). {DOWNLOAD_HINT}")


def download_kaggle(dataset: str = KAGGLE_DATASET) -> Path:
    """Download BUSI from Kaggle with ``kagglehub`` and return the downloaded folder.

    ``kagglehub.dataset_download(dataset)`` keeps the files in its cache (``~/.cache/kagglehub``;
    ``KAGGLEHUB_CACHE`` moves it) and returns at once when they are there. Raises
    :class:`~bl_utils.data.dataset.DataError` naming the fix when ``kagglehub`` (imported only
    here) is missing or the download fails (no internet, Kaggle asking for credentials).
    """
    try:
        import kagglehub
    except ImportError as error:
        raise DataError(
            f"DATA='kaggle' needs the kagglehub package: install it (`pip install kagglehub`) and run "
            f"again, or download BUSI by hand. {DOWNLOAD_HINT}") from error
    try:
        path = kagglehub.dataset_download(dataset)
    except Exception as error:   # kagglehub raises network, HTTP and credential errors of its own
        raise DataError(
            f"Could not download {dataset} from Kaggle with kagglehub ({type(error).__name__}: {error}). "
            f"Check the internet connection; if Kaggle asks for credentials, set them up "
            f"(kagglehub.login(), or KAGGLE_USERNAME and KAGGLE_KEY, or ~/.kaggle/kaggle.json); or "
            f"download BUSI by hand and set BUSI_DIR. {DOWNLOAD_HINT}") from error
    return Path(path)
