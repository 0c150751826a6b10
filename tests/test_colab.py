"""The Colab path, as far as these machines allow: every notebook from its badge, with no Drive and no BUSI.

What Colab does, reproduced here: a Python 3.12 environment that already has torch, torchvision,
ipykernel and ipywidgets 7.7.1 (Colab's builds are kept by the setup cell), a ``google.colab`` module
imported at kernel start, and each notebook's own first cell cloning the repository and installing it
editable. The differences: the clone URL points at a local repository made from this working tree
(Colab clones GitHub), the clone lands in a temporary ``content/`` folder instead of ``/content``, and
the fake ``google.colab`` only has ``output.enable_custom_widget_manager``.

Each notebook runs top to bottom with its published parameters (``TRAIN = False``, ``DATA = None``):
notebooks 1–2 on the synthetic stand-in, 3–5 on the published runs that the clone brought along. The
test checks that they ran, that notebook 3 prints the committed Table 1, and that nothing in the clone
changed (``git status`` clean: outputs went to the ignored ``reports/``).

The environment is made once per machine in ``~/.cache/bl_utils/`` (a few minutes: torch is large)
and reused; ``BL_COLAB_PYTHON`` names another interpreter to build it from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: What Colab has installed before a notebook's setup cell runs (the rest comes from pyproject.toml).
COLAB_PACKAGES = ("torch", "torchvision", "ipykernel<7", "ipywidgets==7.7.1", "numpy", "pandas", "matplotlib",
                  "scipy", "pillow", "tqdm")
FAKE_COLAB = {
    "google/colab/__init__.py": "from . import output\n",
    "google/colab/output.py": "def enable_custom_widget_manager():\n    print('[fake colab] custom widget manager')\n",
    "sitecustomize.py": "import google.colab  # Colab's kernels have it imported\n",
}

pytestmark = pytest.mark.slow


def _python312() -> str | None:
    """An interpreter for the environment: ``BL_COLAB_PYTHON``, else a working ``python3.12`` (on PATH or pyenv's)."""
    if os.environ.get("BL_COLAB_PYTHON"):
        return os.environ["BL_COLAB_PYTHON"]
    candidates = [shutil.which("python3.12"), *map(str, sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12")))]
    for candidate in filter(None, candidates):   # a pyenv shim exists but fails when 3.12 is not selected
        if subprocess.run([candidate, "-c", "import venv"], capture_output=True).returncode == 0:
            return candidate
    return None


def _colab_python() -> Path:
    """The Python of a cached Colab-like virtual environment, made on first use (atomically)."""
    base = _python312()
    if base is None:
        pytest.skip("no Python 3.12 here (set BL_COLAB_PYTHON to one)")
    venv = Path.home() / ".cache" / "bl_utils" / "colab-venv-py312"
    python = venv / "bin" / "python"
    if not (venv / "READY").is_file():   # absent, or left half-made by an interrupted build
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *COLAB_PACKAGES], check=True)
        (venv / "READY").write_text("torch, torchvision, ipykernel and ipywidgets 7.7.1, as on Colab\n")
    return python


def _repository(tmp: Path) -> Path:
    """A git repository holding this working tree (tracked and untracked, not ignored files)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    repo = tmp / "origin"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(git + ["init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(git + ["add", "-A"], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "working tree"], cwd=repo, check=True)
    return repo


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """``(python, repo, clone, kernel name)``: the environment, the origin repository, where notebooks clone it."""
    python = _colab_python()
    tmp = tmp_path_factory.mktemp("colab")
    repo = _repository(tmp)
    fake = tmp / "fake_colab"
    for name, text in FAKE_COLAB.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(text)
    kernels = tmp / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (fake Colab)", "language": "python", "env": {"PYTHONPATH": str(fake)}}))
    return python, repo, tmp / "content" / "boundary-loss-busi", tmp / "jupyter"


def _as_on_colab(path: Path, repo: Path, clone: Path):
    """The notebook with its setup cell pointed at the local repository and clone folder."""
    nb = nbformat.read(path, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert "google.colab" in setup.source and "REPO, CLONE = " in setup.source, "the first code cell is not the setup cell"
    line = next(l for l in setup.source.splitlines() if l.strip().startswith("REPO, CLONE = "))
    setup.source = setup.source.replace(line, f"    REPO, CLONE = {str(repo)!r}, {str(clone)!r}")
    return nb


def _text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts += [v for k, v in output.get("data", {}).items() if k in ("text/plain", "text/markdown")]
    return "\n".join(parts)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_from_its_colab_badge_without_busi_or_drive(name, colab, monkeypatch, tmp_path):
    python, repo, clone, jupyter = colab
    for variable in ("BUSI_DIR", "BL_PUBLISH", "BL_PROJECT_ROOT", "BL_RESULTS_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    nb = _as_on_colab(ROOT / "notebooks" / name, repo, clone)
    workdir = tmp_path / "content"   # Colab starts a notebook in /content
    workdir.mkdir()
    client = nbclient.NotebookClient(nb, kernel_name="colab", timeout=900, resources={"metadata": {"path": str(workdir)}})
    client.execute()
    text = _text(nb)
    assert "Setup failed" not in text and "could not install" not in text, text[:3000]
    assert (clone / "notebooks" / name).is_file()
    if name.startswith(("01", "02")):
        assert "SYNTHETIC" in text                                     # says loudly it is not BUSI
    else:
        assert "BUSI is not at hand here" in text and "runs from results/busi-" in text
    if name.startswith("07"):   # the appendix prints the earlier protocol's Table 1
        table = (clone / "results" / "table1.md").read_text().split("\n\n", 1)[1].strip()
        first_rows = table.splitlines()[:4]
        assert all(row in text for row in first_rows), "the appendix does not print the committed Table 1"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True)
    assert status.stdout == "", f"{name} changed the clone:\n{status.stdout}"
