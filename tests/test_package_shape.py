"""The package stays readable in an hour: short functions, modules of one concept, no import cycle,
short notebook cells (the limits a newcomer was promised in the README's layout)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "bl_utils").glob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))
MAX_FUNCTION, MAX_MODULE, MAX_CELL = 50, 500, 15


def functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            yield node.name, node.end_lineno - start + 1


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_functions_and_modules_are_short(path):
    source = path.read_text()
    long = [(name, n) for name, n in functions(ast.parse(source)) if n > MAX_FUNCTION]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION} lines (docstring included): {long}"
    if path.parent.name == "bl_utils":
        assert len(source.splitlines()) <= MAX_MODULE, f"{path.name}: over {MAX_MODULE} lines"


def module_imports() -> dict[str, set[str]]:
    """Each bl_utils module -> the bl_utils modules it imports at module level."""
    graph = {}
    for path in (ROOT / "bl_utils").glob("*.py"):
        deps = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        graph[path.stem] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A list of modules that import each other in a loop, or None (depth-first search)."""
    state: dict[str, str] = {}

    def visit(name, path):
        state[name] = "open"
        for dep in sorted(graph.get(name, ())):
            if state.get(dep) == "open":
                return path + [dep]
            found = None if dep in state else visit(dep, path + [dep])
            if found:
                return found
        state[name] = "done"
        return None

    for name in sorted(graph):
        found = None if name in state else visit(name, [name])
        if found:
            return found
    return None


def test_no_import_cycle_inside_the_package():
    assert find_cycle(module_imports()) is None


def test_the_cycle_check_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_code_cells_are_short(path):
    cells = json.loads(path.read_text())["cells"]
    long = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])
            and len("".join(c["source"]).splitlines()) > MAX_CELL]
    assert not long, f"{path.name}: code cells over {MAX_CELL} lines: {long}"
