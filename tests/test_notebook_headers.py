"""The published notebooks' headers: the kernelspec that ipykernel writes (so that opening and saving an
unchanged notebook in JupyterLab leaves git diff empty), one repository URL (pyproject.toml's), and the
one setup cell and Colab badge of bl_utils.report, whose setup cell never raises.

These read the committed notebooks: after a change to the header, re-publish them with
``python -m bl_utils report --publish --data ../shared/data/busi256``.
"""

import copy
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from bl_utils import colab as bl_colab, report

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPO_URL = bl_colab.repository_url(ROOT / "pyproject.toml")
#: Other projects' repositories that a notebook links on purpose, as "owner/repo" (lower case).
CITED_REPOSITORIES: set[str] = {"ambroiseodt/boundaryloss"}   # Odonnat & Pham's code, credited in notebook 3
GITHUB = re.compile(r"(?:github\.com|githubusercontent\.com|colab\.research\.google\.com/github)/"
                    r"([\w.-]+)/([\w.-]+)", re.IGNORECASE)
REPUBLISH = "re-publish: python -m bl_utils report --publish --data ../shared/data/busi256"

pytestmark = pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/")


def _read(path):
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernelspec_is_what_ipykernel_writes(path):
    assert _read(path).metadata.get("kernelspec") == report.KERNELSPEC, (
        f"{path.name}: metadata.kernelspec should be {report.KERNELSPEC} (what the ipykernel that "
        f"requirements.txt installs writes, so JupyterLab saves the file unchanged); {REPUBLISH}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_links_no_other_github_repository(path):
    own = "/".join(bl_colab.github_slug(REPO_URL)).lower()
    found = {f"{owner}/{re.sub(r'[.]git$', '', repo)}".lower()
             for cell in _read(path).cells for owner, repo in GITHUB.findall(cell.source)}
    assert found - {own} - CITED_REPOSITORIES == set(), (
        f"{path.name} links {sorted(found - {own})}, but the repository is {REPO_URL} "
        f"(pyproject.toml [project.urls] Repository); {REPUBLISH}, or add a deliberate citation to "
        f"CITED_REPOSITORIES")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_header_is_the_canonical_badge_and_setup_cell(path):
    nb = _read(path)
    synced = bl_colab.sync_headers(copy.deepcopy(nb), REPO_URL, path.name)
    assert [c.source for c in nb.cells] == [c.source for c in synced.cells], (
        f"{path.name}: its badge or setup cell differs from bl_utils.colab.sync_headers; {REPUBLISH}")


def _fail(command, check=False, **kwargs):
    """``subprocess.run`` on a machine where git is missing and pip fails."""
    if command[0] == "git":
        raise FileNotFoundError(2, "No such file or directory", "git")
    result = subprocess.CompletedProcess(command, 1, "", "ERROR: no network")
    if check:
        raise subprocess.CalledProcessError(1, command, "", result.stderr)
    return result


def _fail_install(command, check=False, **kwargs):
    """``subprocess.run`` where git clones but every install fails (a pip ``check=True`` would raise)."""
    if command[0] == "git":
        (Path(command[-1]) / ".git").mkdir(parents=True, exist_ok=True)
        (Path(command[-1]) / "notebooks").mkdir(exist_ok=True)
        return subprocess.CompletedProcess(command, 0, "", "")
    if check:
        raise subprocess.CalledProcessError(1, command, "", "ERROR: no network")
    return subprocess.CompletedProcess(command, 1, "", "ERROR: no network")


@pytest.mark.parametrize("fake", [_fail, _fail_install], ids=["git-missing", "install-fails"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_never_raises_on_colab(path, fake, monkeypatch, tmp_path, capsys):
    setup = next(c for c in _read(path).cells if c.cell_type == "code").source
    setup = setup.replace('"/content/', f'"{tmp_path}/')   # the clone lands in tmp_path, not in /content
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace())
    monkeypatch.setattr(subprocess, "run", fake)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    namespace = {"get_ipython": lambda: None}
    try:
        exec(compile(setup, f"<{path.name} setup cell>", "exec"), namespace)
    except Exception as error:  # noqa: BLE001 - any exception is the failure this test reports
        pytest.fail(f"{path.name}: its setup cell raised {error!r} on Colab when the install failed; it "
                    f"should print what to do instead ({REPUBLISH})")
    assert "Instead" in capsys.readouterr().out, f"{path.name}: a failed setup should say what to do instead"
