"""The package stays readable in an hour: short functions, modules of one concept, no import cycle,
short notebook cells (the limits a newcomer was promised in the README's layout)."""

from __future__ import annotations

import ast
import re
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "bl_utils").rglob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))
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
    if "bl_utils" in path.parts:
        assert len(source.splitlines()) <= MAX_MODULE, f"{path.name}: over {MAX_MODULE} lines"


def _module_name(path: Path) -> str:
    """``data.busi`` for bl_utils/data/busi.py, ``data`` for bl_utils/data/__init__.py."""
    parts = path.relative_to(ROOT / "bl_utils").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _target(package: list[str], module: str | None, level: int, names) -> set[str]:
    """The bl_utils modules an ``import`` statement names (``package``: the importing module's package)."""
    if level:
        base = package[:len(package) - level + 1]
    elif module and module.split(".")[0] == "bl_utils":
        base, module = [], ".".join(module.split(".")[1:]) or None
    else:
        return set()
    prefix = ".".join(base + ([module] if module else []))
    return {prefix} | {".".join(filter(None, [prefix, a.name])) for a in names}


def module_imports() -> dict[str, set[str]]:
    """Each bl_utils module (dotted, e.g. ``data.busi``) -> the bl_utils modules it imports, at module
    level or inside a function (relative ``from .x import``, absolute ``from bl_utils.x import``)."""
    paths = list((ROOT / "bl_utils").rglob("*.py"))
    known = {_module_name(p) for p in paths}
    graph = {}
    for path in paths:
        name = _module_name(path)
        package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
        package = [p for p in package if p]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                found = _target(package, node.module, node.level, node.names)
            elif isinstance(node, ast.Import):
                found = {a.name.split(".", 1)[1] for a in node.names if a.name.startswith("bl_utils.")}
            else:
                continue
            # "from .data import busi" names data and data.busi; "from .schedules import X" names schedules
            deps |= found
        graph[name] = deps & known - {name}
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
    graph = module_imports()
    assert "experiments" in graph["report"]     # report imports experiments inside a function: such imports count
    assert {"data.busi", "data.split"} <= graph["training_data"] and "data.dataset" in graph["data.manifest"]
    assert find_cycle(graph) is None


def test_no_module_imports_the_command_line():
    importers = [name for name, deps in module_imports().items() if "cli" in deps and name != "__main__"]
    assert not importers, f"modules importing the command line: {importers}"


def test_one_command_line_lists_its_commands():
    import subprocess
    import sys

    listing = subprocess.run([sys.executable, "-m", "bl_utils", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert listing.returncode == 0 and all(f"  {c} " in listing.stdout for c in ("train", "study", "report"))
    for command in ("train", "study", "report"):
        helped = subprocess.run([sys.executable, "-m", "bl_utils", command, "--help"], capture_output=True, text=True,
                                cwd=ROOT)
        assert helped.returncode == 0 and f"python -m bl_utils {command}" in helped.stdout
    wrong = subprocess.run([sys.executable, "-m", "bl_utils", "trian"], capture_output=True, text=True, cwd=ROOT)
    assert wrong.returncode == 2 and "unknown command 'trian'" in wrong.stderr


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


def _listed(text: str) -> list[str]:
    return re.findall(r"^\* ``([\w.]+)``", text, re.M)


def test_the_package_docstring_and_the_readme_list_every_module_the_same_way():
    import bl_utils

    modules = sorted(_module_name(p) for p in (ROOT / "bl_utils").rglob("*.py")
                     if p.name not in ("__init__.py", "__main__.py"))
    listed = _listed(bl_utils.__doc__)
    assert sorted(listed) == modules, f"bl_utils/__init__.py lists {sorted(set(listed) ^ set(modules))} wrongly"
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):readme.index("## Citing")]
    assert re.findall(r"^  ([\w.]+)  ", layout, re.M) == listed, "README's layout and bl_utils/__init__.py differ"
