"""The original image sizes of a BUSI folder: from its ``manifest.csv`` when it has one, else the files'.

A copy of BUSI that was already resized (``busi256/``: every image 256×256) keeps, in a
``manifest.csv`` beside its class folders, the size each image had as the scanner stored it: one row
per image with the columns ``class, stem, orig_h, orig_w`` (``orig_height, orig_width`` are accepted
too; other columns are ignored). A Kaggle download has no manifest: its files *are* the original
images, and :func:`bl_utils.data.busi.load_busi` reads their sizes from them.

:func:`with_original_sizes` is what the loader applies to every :attr:`UltrasoundDataset.meta
<bl_utils.data.dataset.UltrasoundDataset.meta>`: ``orig_height`` and ``orig_width`` from the manifest when the
folder has one, and ``size_source`` saying where they come from (:data:`FROM_MANIFEST` or
:data:`FROM_FILES`). Images, masks and the content fingerprint do not depend on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .dataset import DataError

__all__ = ["MANIFEST_NAME", "FROM_MANIFEST", "FROM_FILES", "read_manifest", "with_original_sizes"]

#: The file, in the folder holding the class folders, that gives the original sizes.
MANIFEST_NAME = "manifest.csv"
#: The values of ``meta.size_source``: the sizes came from the manifest, or from the image files.
FROM_MANIFEST, FROM_FILES = "manifest.csv", "image files"

_ALIASES = {"orig_height": ("orig_h", "orig_height"), "orig_width": ("orig_w", "orig_width")}


def _error(message: str) -> ValueError:
    return DataError(message)


def read_manifest(folder: str | Path) -> pd.DataFrame | None:
    """The original sizes listed in ``<folder>/manifest.csv``, or None when there is no such file.

    Returns a DataFrame with the columns ``label`` (from the manifest's ``class``; None when it has
    no such column), ``stem``, ``orig_height``, ``orig_width`` (ints ≥ 1), one row per image.
    Raises :class:`~bl_utils.data.dataset.DataError` for an unreadable file, a missing column, a size
    that is not a positive integer, or an image listed twice.
    """
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        return None
    fix = f"Repair {path} (columns: class, stem, orig_h, orig_w) or delete it to use the image files' sizes."
    try:
        table = pd.read_csv(path, dtype={"class": str, "stem": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as error:
        raise _error(f"Unreadable {path}: {error}. {fix}") from error
    out = pd.DataFrame({"label": table["class"] if "class" in table else None}, index=table.index)
    for name, aliases in {"stem": ("stem",), **_ALIASES}.items():
        found = [a for a in aliases if a in table.columns]
        if not found:
            raise _error(f"{path} has no column {' or '.join(aliases)} (it has {list(table.columns)}). {fix}")
        out[name] = table[found[0]]
        if name in _ALIASES:
            values = pd.to_numeric(out[name], errors="coerce").to_numpy(dtype=float)
            bad = ~(np.isfinite(values) & (values >= 1) & (values == np.round(values)))
            if bad.any():
                raise _error(f"{path}: {found[0]} of {out.stem[bad].iloc[0]!r} is {out[name][bad].iloc[0]}, "
                             f"not a positive whole number of pixels. {fix}")
            out[name] = values.astype(np.int64)
    twice = out.duplicated(["label", "stem"])
    if twice.any():
        raise _error(f"{path} lists {out.stem[twice].iloc[0]!r} more than once. {fix}")
    return out


def with_original_sizes(meta: pd.DataFrame, folder: str | Path) -> pd.DataFrame:
    """``meta`` (one row per image: ``stem``, ``label``, ``orig_height``, ``orig_width`` read from the
    files) with the sizes of ``<folder>/manifest.csv`` when there is one, and a ``size_source``
    column after ``orig_width``: :data:`FROM_MANIFEST` or :data:`FROM_FILES`.

    Rows are matched on ``(class, stem)`` (on ``stem`` alone when the manifest has no ``class``);
    rows of images that are not loaded are ignored. Raises :class:`~bl_utils.data.dataset.DataError`
    when an image is missing from the manifest, and as :func:`read_manifest`.
    """
    meta = meta.copy()
    manifest = read_manifest(folder)
    source = FROM_FILES
    if manifest is not None:
        keys = ["stem"] if manifest.label.isna().all() else ["label", "stem"]
        sizes = meta[keys].merge(manifest[keys + list(_ALIASES)], on=keys, how="left")
        missing = sizes.orig_height.isna().to_numpy()
        if missing.any():
            names = ", ".join(f"{r.label}/{r.stem}" for r in meta[missing].head(3).itertuples())
            raise _error(f"{Path(folder) / MANIFEST_NAME} has no row for {missing.sum()} of the {len(meta)} "
                         f"images ({names}, ...): add their rows (class, stem, orig_h, orig_w) or delete "
                         f"the manifest to use the image files' sizes.")
        for name in _ALIASES:
            meta[name] = sizes[name].to_numpy(dtype=np.int64)
        source = FROM_MANIFEST
    meta.insert(meta.columns.get_loc("orig_width") + 1, "size_source", source)
    return meta
