"""Colab setup: what the first cell of every notebook calls after cloning the repository.

The cell (written by :func:`bl_utils.report.setup_cell_source`) clones the repository, with its
published ``results/``, and imports this module from the clone before anything is installed, so this
module uses the standard library only. :func:`setup` installs the package editable while keeping
Colab's own torch, enables Colab's widget manager for ipywidgets 8, and moves into ``notebooks/``.
Nothing here raises: each step that fails prints what to do instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version

__all__ = ["setup"]


def _run(*command: str) -> bool:
    """Run ``command``; True on success, else print its error (last lines) and return False."""
    try:
        result = subprocess.run(command, check=False, capture_output=True, text=True)
    except OSError as error:   # e.g. the program is missing
        print(f"Setup: could not run {command[0]}: {error}")
        return False
    if result.returncode != 0:
        print((result.stderr or result.stdout or "").strip()[-2000:])
    return result.returncode == 0


def _kept_versions(names=("torch", "torchvision")) -> list[str]:
    """``name==version`` of the installed ``names``: pinned, so pip never replaces Colab's CUDA builds."""
    kept = []
    for name in names:
        try:
            kept.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pass
    return kept


def _enable_widgets() -> None:
    try:
        if int(version("ipywidgets").split(".")[0]) >= 8:
            from google.colab import output

            output.enable_custom_widget_manager()   # Colab renders ipywidgets 8 only this way
    except Exception as error:   # noqa: BLE001 - a missing widget must not stop the notebook
        print(f"Setup: the interactive widgets may not show ({error!r}); the static figures below them do.")


def setup(clone: str) -> None:
    """Install the clone at ``clone`` editable (keeping torch), enable widgets, work in its notebooks/."""
    if not _run(sys.executable, "-m", "pip", "install", "-q", "-e", clone, *_kept_versions()):
        print(f"Setup: could not install {clone} (error above). Instead: run `!pip install -e {clone}` in a "
              "new cell and read its error; do not install torch (keep Colab's), then restart the session "
              "and run this notebook again.")
    if clone not in sys.path:
        sys.path.insert(0, clone)   # import bl_utils now, without restarting the session
    _enable_widgets()
    notebooks = os.path.join(clone, "notebooks")
    if os.path.isdir(notebooks):
        os.chdir(notebooks)
        print(f"Setup: working in {os.getcwd()}")
