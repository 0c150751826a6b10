"""Which notebooks nbval compares strictly: the published ones, re-executed on the data they were published on.

A published notebook (``python -m bl_utils.report --publish``) holds no injected parameter and no
path: its first output names its data by content fingerprint (``content fingerprint 0123…``). Here
that data is looked for where it can be (the folder named by ``BUSI_DIR``, and ``../shared/data/busi256``
beside the checkout, where CI has it) and recognised by the same fingerprint; the notebook is then
re-executed with ``BUSI_DIR`` pointing at it, exactly as a reader with that data would run it, and nbval
compares every output (sanitised by ``tests/nbval_sanitize.cfg``). Without the data its cells are
skipped with a one-line reason, except in CI (``CI`` set), where that is a failure: CI has the data,
so a notebook it cannot compare is a broken publication. ``tests/test_notebooks_smoke.py`` executes
every notebook on the built-in synthetic data everywhere.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_FINGERPRINT = re.compile(r"content fingerprint ([0-9a-f]{16})")


def published_fingerprint(path: Path) -> str | None:
    """The content fingerprint a published notebook printed for its data (its first such output)."""
    for cell in json.loads(Path(path).read_text())["cells"]:
        for output in cell.get("outputs", []):
            match = _FINGERPRINT.search("".join(output.get("text", "")))
            if match:
                return match.group(1)
    return None


def candidate_folders() -> list[Path]:
    """Where published data may be: ``$BUSI_DIR``, then ``../shared/data/busi256`` beside the checkout."""
    places = [os.environ.get("BUSI_DIR"), ROOT.parent / "shared" / "data" / "busi256"]
    return [Path(p) for p in places if p and Path(p).is_dir()]


@functools.lru_cache(maxsize=None)
def find_data(fingerprint: str) -> str | None:
    """The first :func:`candidate_folders` entry whose content fingerprint is ``fingerprint``."""
    from bl_utils.data.dataset import DataError
    from bl_utils.training_data import data_identity

    for folder in candidate_folders():
        try:
            if data_identity(str(folder))[1] == fingerprint:
                return str(folder.resolve())
        except DataError:
            continue
    return None


@functools.lru_cache(maxsize=None)
def _published_data(path: str) -> tuple[str | None, str | None]:
    """``(folder, None)`` for a notebook whose data is here, else ``(None, reason)``."""
    fingerprint = published_fingerprint(Path(path))
    if fingerprint is None:
        return None, f"{Path(path).name} names no data (no content fingerprint in its outputs): re-publish it"
    folder = find_data(fingerprint)
    if folder is None:
        where = ", ".join(str(p) for p in candidate_folders()) or "no BUSI_DIR, no ../shared/data/busi256"
        return None, (f"{Path(path).name} was published on data with fingerprint {fingerprint}, not found here "
                      f"({where}); the synthetic smoke test still runs it")
    return folder, None


def _fail(reason: str):
    def runtest():
        pytest.fail(f"CI has the published data, but: {reason}", pytrace=False)
    return runtest


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(getattr(item, "fspath", ""))
        if not path.endswith(".ipynb"):
            continue
        folder, reason = _published_data(path)
        if reason and os.environ.get("CI"):
            item.runtest = _fail(reason)
        elif reason:
            item.add_marker(pytest.mark.skip(reason=reason))


_ORIGINAL = {name: os.environ.get(name) for name in ("BUSI_DIR", "BL_PUBLISH")}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before a notebook's first cell starts its kernel: ``BUSI_DIR`` = the published data, no
    ``BL_PUBLISH`` (a comparison never writes into figures/ or results/). Other tests get the
    environment as it was."""
    path = str(getattr(item, "fspath", ""))
    folder = _published_data(path)[0] if path.endswith(".ipynb") else None
    from bl_utils.runtime import set_environment

    set_environment({"BUSI_DIR": folder, "BL_PUBLISH": None} if folder else _ORIGINAL)
