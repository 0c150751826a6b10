"""Colab: the header of every notebook (badge and setup cell), and the setup that cell runs.

:func:`sync_headers` writes each notebook's "Open in Colab" badge and its first code cell from the
repository URL of pyproject.toml (``python -m bl_utils report`` does it before executing a notebook).

The cell (written by :func:`setup_cell_source`) clones the repository, with its
published ``results/``, and imports this module from the clone before anything is installed, so this
module uses the standard library only. :func:`setup` installs the package editable while keeping
Colab's own torch, enables Colab's widget manager for ipywidgets 8, and moves into ``notebooks/``.
Nothing here raises: each step that fails prints what to do instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["setup", "repository_url", "github_slug", "colab_url", "setup_cell_source", "sync_headers",
           "COLAB_BADGE_IMAGE"]

COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_COLAB_URL = re.compile(r"https://colab\.research\.google\.com/github/[^\s)\"'\]]+")


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


# --- the notebook header, defined once --------------------------------------------------------

def repository_url(pyproject: Path | None = None) -> str:
    """``[project.urls] Repository`` of pyproject.toml (default: this checkout's); falls back on the
    installed package's metadata. Raises ``ValueError`` when neither has one."""
    path = Path(pyproject or Path(__file__).resolve().parents[1] / "pyproject.toml")
    if path.is_file():
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            try:
                import tomli as tomllib
            except ModuleNotFoundError:
                tomllib = None
        if tomllib is not None:
            urls = tomllib.loads(path.read_text()).get("project", {}).get("urls", {})
            if urls.get("Repository"):
                return urls["Repository"].rstrip("/")
    import importlib.metadata

    try:
        for entry in importlib.metadata.metadata("bl_utils").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip() == "Repository":
                return url.strip().rstrip("/")
    except importlib.metadata.PackageNotFoundError:
        pass
    raise ValueError(f"no [project.urls] Repository in {path}")


def github_slug(repo_url: str) -> tuple[str, str]:
    """``("owner", "repo")`` of ``https://github.com/owner/repo`` (a ``.git`` suffix is dropped);
    ``ValueError`` for another URL."""
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", repo_url.strip())
    if not match:
        raise ValueError(f"not a GitHub repository URL: {repo_url!r} (expected https://github.com/OWNER/REPO)")
    return match.group(1), match.group(2)


def colab_url(repo_url: str, filename: str) -> str:
    """The "Open in Colab" address of ``notebooks/<filename>`` on the main branch of ``repo_url``."""
    owner, repo = github_slug(repo_url)
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/main/notebooks/{filename}"


_SETUP_TEMPLATE = '''\
# Setup, on Colab only: clone the repository (with its results/); bl_utils.colab installs it. Never raises.
import sys
if "google.colab" in sys.modules:
    import os, subprocess
    REPO, CLONE = "{repo_url}", "{clone}"
    try:
        if not os.path.isdir(CLONE) and subprocess.run(["git", "clone", "-q", REPO, CLONE]).returncode:
            raise RuntimeError(f"could not clone {{REPO}}")
        sys.path.insert(0, CLONE)
        from bl_utils.colab import setup
        setup(CLONE)
    except Exception as error:
        print(f"Setup failed: could not clone or install ({{error!r}}). Instead: run `!git clone {{REPO}} "
              f"{{CLONE}}` and `!pip install -e {{CLONE}}` in a new cell, then `%cd {{CLONE}}/notebooks`.")
'''


def setup_cell_source(repo_url: str, parent: str = "/content") -> str:
    """The first code cell of every notebook: on Colab only, ``git clone`` ``repo_url`` into
    ``<parent>/<repo>`` (so that the published ``results/`` come along), then
    :func:`bl_utils.colab.setup` from the clone (editable install keeping Colab's torch, widgets,
    ``notebooks/`` as working directory). What fails prints what to do instead; the cell never
    raises. Elsewhere it does nothing. ``ValueError`` for a non-GitHub URL.
    """
    _, repo = github_slug(repo_url)
    return _SETUP_TEMPLATE.format(repo_url=repo_url.rstrip("/"), clone=f"{parent.rstrip('/')}/{repo}")


def _is_setup_cell(cell) -> bool:
    return "google.colab" in cell.source or cell.source.lstrip().startswith("# Setup")


def sync_headers(nb, repo_url: str, filename: str | None = None):
    """Give ``nb`` the canonical header for ``repo_url``, in place; returns ``nb``.

    The first code cell becomes :func:`setup_cell_source` (inserted before it when it is not a setup
    cell: one that mentions ``google.colab`` or starts with ``# Setup``), and every Colab link of the
    first Markdown cell points at ``notebooks/<filename>`` (a badge is appended when it has none).
    ``filename`` defaults to the file named by the existing badge; ``ValueError`` when there is none
    or when ``nb`` has no Markdown cell.
    """
    import nbformat

    markdown = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if markdown is None:
        raise ValueError("notebook has no Markdown cell to hold the title and the Colab badge")
    if filename is None:
        found = _COLAB_URL.search(markdown.source)
        if not found:
            raise ValueError("no Colab badge to take the file name from; pass filename=")
        filename = found.group(0).rsplit("/", 1)[-1]
    url = colab_url(repo_url, filename)
    if _COLAB_URL.search(markdown.source):
        markdown.source = _COLAB_URL.sub(url, markdown.source)
    else:
        markdown.source = markdown.source.rstrip() + f"\n\n[![Open In Colab]({COLAB_BADGE_IMAGE})]({url})"

    source = setup_cell_source(repo_url).rstrip("\n")
    index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    if index is not None and _is_setup_cell(nb.cells[index]):
        nb.cells[index].source = source
    else:
        where = index if index is not None else nb.cells.index(markdown) + 1
        nb.cells.insert(where, nbformat.v4.new_code_cell(source))
    return nb
