"""BUS-BRA from disk: a second hospital's images, read into the same dataset object as BUSI.

The data
    Gómez-Flores W, Gregorio-Calas MJ, Coelho de Albuquerque Pereira W. *BUS-BRA: A breast
    ultrasound dataset for assessing computer-aided diagnosis systems.* Medical Physics
    51(4):3110–3123, 2024. 1,875 images of 1,064 patients (National Cancer Institute, Rio de
    Janeiro), four scanners, one biopsy-proven lesion per image (no normal image). Its licence
    allows use and redistribution; every document that uses it cites the article. Download the
    official release (Zenodo, "BUS-BRA") and point ``BUSBRA_DIR`` (or ``--external``) at its folder
    ``BUSBRA`` (or at the folder holding it). Layout, unchanged from the release::

        BUSBRA/Images/bus_<case>-<view>.png     the image (8-bit greyscale)
        BUSBRA/Masks/mask_<case>-<view>.png     its lesion mask (1-bit, the image's size)
        BUSBRA/bus_data.csv                     one row per image: ID, Case, Histology, Pathology,
                                                BIRADS, Device, Width, Height, Side, BBOX

Loading (:func:`load_busbra`)
    Through BUSI's own reader (:func:`bl_utils.data.busi._read_all`: greyscale, PIL bilinear
    to ``image_size``, the mask read as "any value > 0" and resized nearest-neighbour), the same
    on-disk cache and the same :func:`bl_utils.data.busi.content_fingerprint`. The result is an
    :class:`~bl_utils.data.dataset.UltrasoundDataset` whose ``label`` is the pathology (``benign`` /
    ``malignant``), ordered as ``bus_data.csv``, with the columns of :data:`EXTRA_COLUMNS` beside
    BUSI's. Image sizes come from the files: for four images the CSV's ``Height`` disagrees with
    its file, and the files agree with their masks.

Bad input (a missing folder, file or column, an image without its mask or CSV row, a CSV row
without its image, a mask of another size, an unreadable PNG) raises
:class:`~bl_utils.data.dataset.DataError` naming the file and the fix, before anything is cached.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from .busi import _Item, _listing, _read_all, _size_2d, PAPER_SIZE
from .cache import cached_arrays, default_cache_dir
from .dataset import DataError, UltrasoundDataset

__all__ = ["load_busbra", "find_busbra", "resolve_external", "BUSBRA_HINT", "CITATION", "LAYOUT_FOLDER",
           "EXTRA_COLUMNS", "ENV_VAR"]

#: The release's top folder; :func:`find_busbra` accepts it or the folder holding it.
LAYOUT_FOLDER = "BUSBRA"
#: The environment variable that points at a user's own copy.
ENV_VAR = "BUSBRA_DIR"
#: How the report cites the data (the licence asks every document that uses it to).
CITATION = ("Gómez-Flores W, Gregorio-Calas MJ, Coelho de Albuquerque Pereira W. BUS-BRA: A breast ultrasound "
            "dataset for assessing computer-aided diagnosis systems. Medical Physics 51(4):3110–3123, 2024")
BUSBRA_HINT = (f"BUS-BRA ({CITATION}) is on Zenodo (search \"BUS-BRA\"): download and unpack it, then set "
               f"{ENV_VAR}=/path/to/BUSBRA (or pass --external /path/to/BUSBRA).")
#: The columns BUS-BRA's table adds to :data:`bl_utils.data.dataset.META_COLUMNS`.
EXTRA_COLUMNS = ("patient", "histology", "birads", "scanner", "side")
#: The CSV's columns this reader needs.
_CSV_COLUMNS = ("ID", "Case", "Histology", "Pathology", "BIRADS", "Device", "Side")


def find_busbra(root: str | os.PathLike) -> Path:
    """The folder holding ``Images/``, ``Masks/`` and ``bus_data.csv``: ``root`` or ``root/BUSBRA``.
    Raises :class:`DataError` naming what is missing and where to get the data."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"BUS-BRA folder not found: {root}. {BUSBRA_HINT}")
    folder = root / LAYOUT_FOLDER if (root / LAYOUT_FOLDER).is_dir() else root
    missing = [name for name in ("Images", "Masks", "bus_data.csv") if not (folder / name).exists()]
    if missing:
        raise DataError(f"No BUS-BRA layout in {folder}: {', '.join(missing)} missing (the release holds "
                        f"Images/, Masks/ and bus_data.csv). Point the path at the unpacked {LAYOUT_FOLDER} "
                        f"folder. {BUSBRA_HINT}")
    return folder


def resolve_external(path: str | os.PathLike | None = None) -> Path | None:
    """The BUS-BRA folder to use: ``path``, else ``$BUSBRA_DIR``, else ``../shared/data/busbra`` beside
    the checkout when it holds the release; ``None`` when there is none (the report then says in one
    line where to get it). A given path or ``$BUSBRA_DIR`` that is not BUS-BRA raises :class:`DataError`."""
    from ..runtime import project_root

    given = path or os.environ.get(ENV_VAR)
    if given:
        return find_busbra(given)
    beside = project_root().parent / "shared" / "data" / "busbra"
    try:
        return find_busbra(beside)
    except DataError:
        return None


def _table(folder: Path) -> pd.DataFrame:
    """``bus_data.csv`` checked: the needed columns, one row per ID."""
    path = folder / "bus_data.csv"
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DataError(f"Unreadable {path}: {error}. Restore bus_data.csv from the BUS-BRA release.") from error
    absent = [c for c in _CSV_COLUMNS if c not in table.columns]
    if absent:
        raise DataError(f"{path} lacks the column(s) {', '.join(absent)}. Restore bus_data.csv from the "
                        "BUS-BRA release.")
    repeated = table.ID[table.ID.duplicated()].tolist()
    if repeated:
        raise DataError(f"{path} lists {repeated[0]!r} twice ({len(repeated)} repeated IDs). Restore "
                        "bus_data.csv from the BUS-BRA release.")
    return table.assign(ID=table.ID.astype(str))


def _items(folder: Path, table: pd.DataFrame) -> list[_Item]:
    """One item per CSV row, in the CSV's order; every image, mask and row accounted for."""
    images = {p.stem: p for p in (folder / "Images").iterdir() if p.suffix.lower() == ".png"}
    masks = {p.stem: p for p in (folder / "Masks").iterdir() if p.suffix.lower() == ".png"}
    ids = list(table.ID)
    listed = set(ids)
    for stem, path in sorted(images.items()):
        if stem not in listed:
            raise DataError(f"Image without a row in bus_data.csv: {path}. Restore bus_data.csv from the "
                            f"BUS-BRA release, or delete the stray image.")
    for stem in ids:
        if stem not in images:
            raise DataError(f"Row without an image: bus_data.csv lists {stem!r} but {folder / 'Images' / stem}.png "
                            "does not exist. Restore the image from the BUS-BRA release.")
        if _mask_stem(stem) not in masks:
            raise DataError(f"Image without a mask: {images[stem]} has no {folder / 'Masks' / _mask_stem(stem)}.png "
                            "(BUS-BRA names the mask of bus_<case>-<view>.png mask_<case>-<view>.png). Restore "
                            "it from the BUS-BRA release.")
    image_of_mask = {_mask_stem(stem) for stem in images}
    for stem, path in sorted(masks.items()):
        if stem not in image_of_mask:
            raise DataError(f"Mask without an image: {path}. Restore its image from the BUS-BRA release, or "
                            "delete the stray mask.")
    labels = table.Pathology.astype(str).str.strip().str.lower()
    return [_Item(label, stem, images[stem], (masks[_mask_stem(stem)],)) for stem, label in zip(ids, labels)]


def _mask_stem(image_stem: str) -> str:
    """``bus_0001-l`` -> ``mask_0001-l`` (the release's naming)."""
    return "mask_" + image_stem[len("bus_"):] if image_stem.startswith("bus_") else f"mask_{image_stem}"




def load_busbra(root, image_size: int | tuple[int, int] = PAPER_SIZE, cache_dir: str | os.PathLike | bool | None = None,
                progress: bool = True) -> UltrasoundDataset:
    """BUS-BRA from ``root`` (the ``BUSBRA`` folder or its parent), resized to ``image_size`` by BUSI's
    rule: every image (no selection rule; there is no normal image), ordered as ``bus_data.csv``.

    ``meta`` holds :data:`bl_utils.data.dataset.META_COLUMNS` (``label``: the pathology; sizes from
    the files; ``size_source`` ``"image files"``) and :data:`EXTRA_COLUMNS`: ``patient`` (the CSV's
    ``Case``), ``histology``, ``birads``, ``scanner`` (``Device``) and ``side``. ``cache_dir`` as in
    :func:`bl_utils.data.busi.load_busi`. Φ_G is not computed (the external test needs none).
    Raises :class:`DataError` for bad input (see the module), nothing cached before all was read.
    """
    size = _size_2d(image_size)
    folder = find_busbra(root)
    table = _table(folder)
    items = _items(folder, table)
    start = time.perf_counter()
    cache = None if cache_dir is False else (Path(cache_dir) if cache_dir not in (None, True) else default_cache_dir())
    csv = (folder / "bus_data.csv").stat()
    listing = [("bus_data.csv", csv.st_size, csv.st_mtime_ns)] + _listing(folder, items)
    arrays, _, from_cache = cached_arrays(cache, folder, listing, size,
                                          lambda: _read_all(folder, items, size, progress, "BUS-BRA"), distance_maps=False)
    masks = arrays["masks"]
    meta = pd.DataFrame({
        "stem": arrays["stems"].astype(str), "label": arrays["labels"].astype(str),
        "orig_height": arrays["orig_height"].astype(int), "orig_width": arrays["orig_width"].astype(int),
        "size_source": "image files", "n_masks": arrays["n_masks"].astype(int),
        "tumour_fraction": masks.reshape(len(masks), -1).mean(axis=1), "file": arrays["files"].astype(str),
        "patient": table.Case.to_numpy(), "histology": table.Histology.astype(str).to_numpy(),
        "birads": table.BIRADS.astype(str).to_numpy(), "scanner": table.Device.astype(str).to_numpy(),
        "side": table.Side.astype(str).to_numpy()})
    settings = {"image_size": list(size), "max_tumour_fraction": None, "include_normal": True, "distance_maps": False}
    dataset = UltrasoundDataset(arrays["images"], masks, None, meta, settings, folder, from_cache)
    if progress:
        how = "from the cache" if from_cache else "from the image files"
        print(f"BUS-BRA: {len(dataset)} images read {how} in {time.perf_counter() - start:.1f} s")
    return dataset
