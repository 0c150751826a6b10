"""Opening and saving an unchanged notebook in JupyterLab leaves ``git diff`` empty.

JupyterLab saves through jupyter_server's FileContentsManager: ``_read_notebook`` reads with
``nbformat.reads(text, as_version=4)`` and ``_save_notebook`` writes with
``nbformat.write(nb, f, version=nbformat.NO_CONVERT)`` (UTF-8, a newline added when the JSON lacks one).
A committed notebook must be exactly those bytes, and its kernelspec the one that the installed
ipykernel's ``kernel.json`` gives JupyterLab to write (else saving it rewrites the metadata).

When one fails, re-publish: ``python -m bl_utils report --publish --data ../shared/data/busi256``.
"""

import inspect
import io
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/")


def contents_manager_bytes(path: Path) -> bytes:
    """What jupyter_server's FileContentsManager writes for the notebook at ``path``, unchanged."""
    nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)  # _read_notebook
    out = io.StringIO()
    nbformat.write(nb, out, version=nbformat.NO_CONVERT)  # _save_notebook, into atomic_writing
    return out.getvalue().encode("utf-8")


def test_serialisation_is_jupyter_servers():
    """The serialisation above is still the installed jupyter_server's."""
    fileio = pytest.importorskip("jupyter_server.services.contents.fileio")
    source = inspect.getsource(fileio.FileManagerMixin._save_notebook)
    assert "nbformat.write(" in source and "version=nbformat.NO_CONVERT" in source, source
    assert 'encoding="utf-8"' in source, source
    source = inspect.getsource(fileio.FileManagerMixin._read_notebook)
    assert "nbformat.reads(" in source and "as_version=as_version" in source, source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_what_jupyter_saves(path):
    original = path.read_bytes()
    saved = contents_manager_bytes(path)
    if saved != original:
        import difflib
        diff = "".join(list(difflib.unified_diff(
            original.decode("utf-8", "replace").splitlines(True),
            saved.decode("utf-8", "replace").splitlines(True),
            "committed", "saved by JupyterLab", n=1))[:40])
        pytest.fail(f"{path.name}: opening and saving it in JupyterLab would change it:\n{diff}")


def _installed_kernelspec():
    kernelspec = pytest.importorskip("jupyter_client.kernelspec")
    try:
        spec = kernelspec.KernelSpecManager().get_kernel_spec("python3")
    except kernelspec.NoSuchKernel:
        pytest.skip("no python3 kernelspec installed")
    return {"name": "python3", "display_name": spec.display_name, "language": spec.language}


def test_installed_kernelspec_is_ipykernels():
    assert _installed_kernelspec() == {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernelspec_is_the_installed_one(path):
    nb = nbformat.read(path, as_version=4)
    assert dict(nb.metadata.get("kernelspec", {})) == _installed_kernelspec(), (
        f"{path.name}: metadata.kernelspec {nb.metadata.get('kernelspec')} is not the installed "
        "ipykernel's; JupyterLab would rewrite it on save")
