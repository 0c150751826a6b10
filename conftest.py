"""Which notebooks nbval compares strictly: those published on data that is at hand.

The committed notebooks are an execution on the real BUSI (``python -m bl_utils.report --publish``):
their injected parameters name the data (``DATA = "../shared/data/busi256"``) and their first output
prints its content fingerprint. nbval re-executes a notebook and compares every output (sanitised by
``tests/nbval_sanitize.cfg``) only where that data can be found and has that fingerprint (CI, with
``../shared`` beside the checkout, or a reader whose own BUSI download loads to the same arrays);
elsewhere the notebook's cells are skipped with a one-line reason. ``tests/test_notebooks_smoke.py``
executes every notebook on the built-in synthetic data everywhere.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from pathlib import Path

import pytest

_FINGERPRINT = re.compile(r"content fingerprint ([0-9a-f]{16})")
_DATA = re.compile(r"^DATA = (.+)$", re.M)


def published_data(path: Path) -> tuple[str | None, str | None]:
    """``(DATA, fingerprint)`` a published notebook ran on, from its injected parameters and outputs."""
    cells = json.loads(path.read_text())["cells"]
    data = fingerprint = None
    for cell in cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            match = _DATA.search("".join(cell["source"]))
            data = ast.literal_eval(match.group(1)) if match else None
        for output in cell.get("outputs", []):
            match = _FINGERPRINT.search("".join(output.get("text", "")))
            fingerprint = fingerprint or (match.group(1) if match else None)
    return data, fingerprint


@functools.lru_cache(maxsize=None)
def _skip_reason(path: str) -> str | None:
    data, fingerprint = published_data(Path(path))
    if data is None or fingerprint is None:
        return f"{Path(path).name} records no published data (DATA and its fingerprint): re-publish it"
    from bl_utils import data as bl_data

    try:
        source = bl_data.resolve_data(data)
        dataset = bl_data.load_busi(source.root, image_size=bl_data.PAPER_SIZE, distance_maps=False, progress=False)
    except bl_data.BusiDataError:
        return f"published on BUSI at {data}, which is not here (the synthetic smoke test still runs it)"
    if bl_data.content_fingerprint(dataset) != fingerprint:
        return f"published on data with fingerprint {fingerprint}; {data} here loads to other data"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(getattr(item, "fspath", ""))
        if path.endswith(".ipynb"):
            reason = _skip_reason(path)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
