"""What the published notebooks compare and declare: no machine facts in compared outputs, every
parameter used, and no synthetic-data output published."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Facts about the machine that must never be in an output nbval compares.
MACHINE = re.compile(r"\bcuda\b|\bcpu \(|\bthreads?\b|\bbf16\b|\bfp16\b|\bamp\b|\bmixed precision\b|"
                     r"\b\d+\.\d+\.\d+\b|\bversion\b|\bGPU\b", re.IGNORECASE)


def code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def compared_text(cell: dict) -> str:
    """The text nbval compares for ``cell`` (text outputs; nothing for ignored cells)."""
    if "NBVAL_IGNORE_OUTPUT" in "".join(cell["source"]):
        return ""
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        parts += ["".join(v) for k, v in output.get("data", {}).items() if k.startswith("text/") and k != "text/html"]
    return "\n".join(parts)


def test_the_machine_fact_pattern_catches_what_it_should():
    for text in ("device: cpu (2 threads)", "torch 2.14.1", "amp bf16", "on CUDA", "mixed precision on"):
        assert MACHINE.search(text), text
    for text in ("best Dice 0.798 ± 0.012", "Adam lr 0.001", "content fingerprint 9df887104369f351"):
        assert not MACHINE.search(text), text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_compared_outputs_name_no_machine_fact(path):
    found = [(i, m.group(0)) for i, cell in enumerate(code_cells(path)) for m in [MACHINE.search(compared_text(cell))] if m]
    assert not found, f"{path.name}: compared outputs mention the machine (cell, text): {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_parameter_is_used(path):
    cells = code_cells(path)
    params = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    names = [t.id for node in ast.parse("".join(params["source"])).body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)]
    rest = "\n".join("".join(c["source"]) for c in cells if c is not params
                     and "injected-parameters" not in c.get("metadata", {}).get("tags", []))
    unused = [n for n in names if not re.search(rf"\b{n}\b", rest)]
    assert not unused, f"{path.name}: parameters never used: {unused}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_published_outputs_are_not_synthetic(path):
    text = "\n".join(compared_text(c) for c in code_cells(path) if c.get("outputs"))
    assert "SYNTHETIC" not in text, f"{path.name} carries synthetic-data outputs: publish it on BUSI"
