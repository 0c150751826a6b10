"""Figures of the report: one function per figure, and :func:`save_figure` to write them.

Every figure the notebooks show is drawn here and saved with :func:`save_figure` into
``figures/<name>.png``, with a name that says which paper figure it is
(``fig3_tumour_fraction_hist``, ``fig1_boundary_loss_views``, ...).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

from .runtime import atomic_write, project_root


def save_figure(fig: "matplotlib.figure.Figure", name: str, folder: str | os.PathLike | None = None,
                dpi: int = 150) -> Path:
    """Save ``fig`` as ``<folder>/<name>.png`` (default folder: ``figures/`` of the checkout).

    Written under a temporary name and renamed, so a figure file is always complete. ``name`` is a
    bare file stem such as ``"fig3_tumour_fraction_hist"``; a ``.png`` suffix is accepted and kept.
    Returns the path written.
    """
    if not name or Path(name).name != name:
        raise ValueError(f"save_figure: name must be a bare file name such as 'fig3_hist', got {name!r}")
    folder = Path(folder) if folder is not None else project_root() / "figures"
    path = folder / (name if name.endswith(".png") else f"{name}.png")
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi, bbox_inches="tight",
                    metadata={"Software": None})  # no matplotlib version in the file: stable bytes
    return path
