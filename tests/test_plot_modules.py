"""The layout of notebook 2's code and the report's figures: pure computation in bl_utils.explorer,
drawing in bl_utils.plots (and plots_results), the widget in bl_utils.widgets, imports one way only;
short functions and modules; every name a notebook uses still importable where it imports it."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("explorer", "plots", "plots_results", "widgets")

#: Which of these modules each may import: the arrows go widgets → plots → {plots_results, explorer}.
ALLOWED = {"explorer": set(), "plots_results": set(), "plots": {"explorer", "plots_results"},
           "widgets": {"explorer", "plots"}}


def tree(name: str) -> ast.Module:
    return ast.parse((ROOT / "bl_utils" / f"{name}.py").read_text(encoding="utf-8"))


def package_imports(node: ast.AST) -> set[str]:
    """The bl_utils modules imported anywhere under ``node`` (relative or absolute imports)."""
    found = set()
    for n in ast.walk(node):
        if isinstance(n, ast.ImportFrom):
            module = n.module or ""
            if n.level:
                found.add(module.split(".")[0] if module else "")
                if not module:
                    found.update(alias.name for alias in n.names)
            elif module.startswith("bl_utils"):
                found.add(module.split(".")[1] if "." in module else "")
                found.update(alias.name for alias in n.names if module == "bl_utils")
        elif isinstance(n, ast.Import):
            found.update(a.name.split(".")[1] for a in n.names if a.name.startswith("bl_utils."))
    return found


@pytest.mark.parametrize("name", MODULES)
def test_imports_go_one_way(name):
    imported = package_imports(tree(name)) & set(MODULES)
    assert imported <= ALLOWED[name], f"{name} imports {imported - ALLOWED[name]}"


@pytest.mark.parametrize("name", MODULES)
def test_no_import_is_hidden_in_a_function(name):
    for node in ast.walk(tree(name)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            hidden = [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
            assert not hidden, f"{name}.{node.name} imports inside its body (line {hidden[0].lineno})"


@pytest.mark.parametrize("name", MODULES)
def test_functions_and_modules_are_short(name):
    source = (ROOT / "bl_utils" / f"{name}.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 500
    long = {n.name: n.end_lineno - n.lineno + 1 for n in ast.walk(ast.parse(source))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 50}
    assert not long, f"functions over 50 lines in {name}: {long}"


def test_the_computations_load_without_matplotlib_or_ipywidgets():
    code = ("import sys, bl_utils.explorer; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'bl_utils.plots', 'bl_utils.widgets') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True)
    assert out.stdout.strip() == "[]"


#: What notebooks 1–4 import from plots and widgets (``grep`` of the notebooks when the explorer moved
#: out of widgets); the notebooks keep importing them from there.
NOTEBOOK_NAMES = {
    "plots": ["plot_boundary_loss_views", "plot_components_comparison", "plot_duplicate_pairs", "plot_examples",
              "plot_image_sizes", "plot_loss_explorer", "plot_qualitative_cases", "plot_tumour_fraction_hist",
              "plot_training_curves", "save_figure"],
    "widgets": ["Disk", "LossExplorer", "boundary_loss_explorer", "candidate_losses", "distance_identities",
                "empty_policy_table", "explore", "image_title", "significant", "standard_candidates",
                "tumour_index", "EXPLORER_DEFAULTS", "summary_text", "normal_correspondences"],
}


def notebook_names() -> set[tuple[str, str]]:
    """``(module, name)`` for every ``plots.X``, ``widgets.X`` and ``from bl_utils.M import X`` in the
    notebooks' code cells."""
    names = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for source in ("".join(c["source"]) for c in cells if c["cell_type"] == "code"):
            names.update(re.findall(r"\b(plots|widgets)\.([A-Za-z_]\w*)", source))
            for module, listed in re.findall(r"from bl_utils\.(plots|widgets) import ([\w, ]+)", source):
                names.update((module, n.strip()) for n in listed.split(",") if n.strip())
    return names


def test_the_names_notebooks_import_are_still_there():
    from bl_utils import explorer, plots, widgets

    modules = {"plots": plots, "widgets": widgets}
    missing = [f"{m}.{n}" for m, names in NOTEBOOK_NAMES.items() for n in names if not hasattr(modules[m], n)]
    assert not missing
    assert widgets.LossExplorer.__module__ == "bl_utils.widgets" and widgets.Disk is explorer.Disk
    assert plots.plot_training_curves.__module__ == "bl_utils.plots_results"


def test_every_widgets_name_the_notebooks_use_exists():
    from bl_utils import widgets

    used = {n for m, n in notebook_names() if m == "widgets"}
    assert {"boundary_loss_explorer", "significant"} <= used
    assert not sorted(n for n in used if not hasattr(widgets, n))
