"""Tests of the report runner: -p values, parameters checked against the notebooks, output folders,
the Colab header (setup cell and badge), metadata, and whole runs of tiny notebooks in real kernels."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from bl_utils import colab as bl_colab, report

REPO = "https://github.com/someone/some-repo"


# --- -p values and parameters ------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("5", 5), ("0.1", 0.1), ("1e-3", 0.001), ("True", True), ("False", False), ("None", None),
    ("quick", "quick"), ("'a b'", "a b"), ("~/BUSI", "~/BUSI"), ("[0, 1, 2]", [0, 1, 2]),
    ("{'epochs': 5}", {"epochs": 5}), ("{epochs: 5}", {"epochs": 5}),
    ("yes", "yes"), ("2024-01-01", "2024-01-01"), ("a: b", "a: b"),   # YAML scalars stay strings
])
def test_parameter_value(text, value):
    assert report.parameter_value(text) == value


def test_unknown_parameters_are_rejected_with_the_known_ones():
    declared = {"01_a.ipynb": {"DATA": {}, "PROFILE": {}, "SEED": {}},
                "03_c.ipynb": {"DATA": {}, "PROFILE": {}, "SMOKE": {}}}
    report.check_parameters(declared, {"SEED": 1, "SMOKE": True})     # known to one notebook is enough
    with pytest.raises(report.ReportError) as error:
        report.check_parameters(declared, {"EPOCHS": 5, "SEED": 1})
    message = str(error.value)
    assert "EPOCHS" in message and "SEED" not in message.splitlines()[0]
    assert "01_a.ipynb: DATA, PROFILE, SEED" in message and "03_c.ipynb: DATA, PROFILE, SMOKE" in message


def test_a_notebook_without_data_is_rejected_and_profile_is_optional():
    with pytest.raises(report.ReportError, match="02_b.ipynb has no DATA"):
        report.check_parameters({"02_b.ipynb": {"PROFILE": {}}}, {})
    report.check_parameters({"01_a.ipynb": {"DATA": {}}}, {})      # notebooks 1-2 train nothing: no PROFILE


# --- data and output folders ---------------------------------------------------------------------

def test_relative_data_is_resolved_from_the_working_directory(tmp_path):
    (tmp_path / "busi").mkdir()
    assert report.data_argument("busi", cwd=tmp_path) == str(tmp_path / "busi")
    assert report.data_argument("./busi/../busi", cwd=tmp_path) == str(tmp_path / "busi")
    assert report.data_argument("synthetic") == "synthetic" and report.data_argument("kaggle") == "kaggle"
    with pytest.raises(report.ReportError, match="no such folder"):
        report.data_argument("nowhere", cwd=tmp_path)
    assert [report.data_tag(d) for d in ("synthetic", "kaggle", str(tmp_path))] == ["synthetic", "kaggle", "busi"]


def test_a_publication_injects_no_folder_and_a_report_writes_only_under_reports(tmp_path):
    assert report.output_parameters(True, tmp_path / "unused", tmp_path) == {}
    out = tmp_path / "reports" / "synthetic-auto"
    assert report.output_parameters(False, out, tmp_path) == {
        "FIGURES_DIR": str(out / "figures"), "RESULTS_DIR": str(out / "runs"), "TABLES_DIR": str(out)}


def test_a_publication_tells_its_kernels_the_data_by_environment_and_needs_busi(tmp_path):
    (tmp_path / "busi").mkdir()
    assert report.publish_environment("busi", tmp_path) == {"BUSI_DIR": str(tmp_path / "busi"), "BL_PUBLISH": "1"}
    for keyword in ("synthetic", "kaggle"):
        with pytest.raises(report.ReportError, match="BUSI folder"):
            report.publish_environment(keyword, tmp_path)


def test_publish_refuses_parameters(tmp_path, capsys):
    assert report.main(["--publish", "--data", "synthetic", "-p", "SEEDS", "[0]"]) == 2
    assert "parameters cells" in capsys.readouterr().err


# --- the Colab header ----------------------------------------------------------------------------

def test_repository_url_comes_from_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n[project.urls]\nRepository = "{REPO}/"\n')
    assert bl_colab.repository_url(tmp_path / "pyproject.toml") == REPO
    assert bl_colab.github_slug(REPO + ".git") == ("someone", "some-repo")
    with pytest.raises(ValueError, match="GitHub"):
        bl_colab.github_slug("https://gitlab.com/a/b")
    assert bl_colab.colab_url(REPO, "01_a.ipynb") == (
        "https://colab.research.google.com/github/someone/some-repo/blob/main/notebooks/01_a.ipynb")


class FakeRun:
    """Stands in for ``subprocess.run``: records commands; ``git`` and ``pip`` behave as told."""

    def __init__(self, clone_parent: Path, git="ok", pip="ok"):
        self.calls, self.parent, self.git, self.pip = [], clone_parent, git, pip

    def __call__(self, command, check=False, **kwargs):
        self.calls.append(list(command))
        outcome = self.git if command[0] == "git" else self.pip
        if outcome == "missing":
            raise FileNotFoundError(2, "No such file or directory", command[0])
        if outcome == "boom":
            raise RuntimeError("something unexpected")
        if outcome == "ok" and command[0] == "git":
            clone = Path(command[-1])
            (clone / ".git").mkdir(parents=True)
            (clone / "notebooks").mkdir()
        result = subprocess.CompletedProcess(command, 0 if outcome == "ok" else 1, "", "ERROR: it failed")
        if check and result.returncode:
            raise subprocess.CalledProcessError(result.returncode, command, result.stdout, result.stderr)
        return result


@pytest.fixture
def colab(monkeypatch, tmp_path):
    """A fake Colab: ``google.colab`` importable (with a widget-manager switch), cwd and sys.path restored."""
    calls = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widgets"))
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(output=output))
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    return calls


def run_setup_cell(source: str, monkeypatch, fake: FakeRun) -> None:
    monkeypatch.setattr(subprocess, "run", fake)
    exec(compile(source, "<setup cell>", "exec"), {"__name__": "__main__"})


@pytest.mark.parametrize("git, pip, expected", [
    ("missing", "ok", "could not clone"),    # git is not installed (the error names it)
    ("fail", "ok", "could not clone"),       # git clone exits with an error
    ("ok", "fail", "could not install"),     # pip install -e exits with an error
    ("ok", "missing", "could not install"),  # python/pip cannot start
    ("boom", "ok", "Setup failed"),          # anything else
])
def test_setup_cell_never_raises_and_says_what_to_do(colab, monkeypatch, tmp_path, capsys, git, pip, expected):
    fake = FakeRun(tmp_path, git=git, pip=pip)
    run_setup_cell(bl_colab.setup_cell_source(REPO, parent=str(tmp_path)), monkeypatch, fake)
    printed = capsys.readouterr().out
    assert expected in printed and "Instead" in printed
    assert fake.calls[0][:2] == ["git", "clone"] and fake.calls[0][-2:] == [REPO, str(tmp_path / "some-repo")]


def test_setup_cell_installs_keeping_colabs_torch_and_moves_into_notebooks(colab, monkeypatch, tmp_path, capsys):
    import importlib.metadata

    fake = FakeRun(tmp_path)
    run_setup_cell(bl_colab.setup_cell_source(REPO, parent=str(tmp_path)), monkeypatch, fake)
    clone = tmp_path / "some-repo"
    pip = fake.calls[1]
    assert pip[:6] == [sys.executable, "-m", "pip", "install", "-q", "-e"] and pip[6] == str(clone)
    assert f"torch=={importlib.metadata.version('torch')}" in pip            # pinned: pip never swaps it
    assert not any(arg in ("torch", "torchvision") or arg.startswith("torch>") for arg in pip)
    assert Path.cwd() == clone / "notebooks" and str(clone) in sys.path
    assert colab == (["widgets"] if int(importlib.metadata.version("ipywidgets").split(".")[0]) >= 8 else [])
    assert "Instead" not in capsys.readouterr().out
    fake.calls.clear()                                                      # a second run does not clone again
    run_setup_cell(bl_colab.setup_cell_source(REPO, parent=str(tmp_path)), monkeypatch, fake)
    assert [c[0] for c in fake.calls] == [sys.executable]


def test_setup_cell_does_nothing_off_colab(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran a command off Colab"))
    exec(compile(bl_colab.setup_cell_source(REPO), "<setup cell>", "exec"), {})
    assert capsys.readouterr().out == ""


def _header_notebook(setup: str | None = "# Setup: old\nimport sys\n", badge: bool = True):
    link = "https://colab.research.google.com/github/old/old-repo/blob/master/notebooks/01_a.ipynb"
    title = "# A\n\nWhat it shows." + (f"\n\n[![Open In Colab]({bl_colab.COLAB_BADGE_IMAGE})]({link})" if badge else "")
    cells = [nbformat.v4.new_markdown_cell(title)]
    if setup is not None:
        cells.append(nbformat.v4.new_code_cell(setup))
    cells.append(nbformat.v4.new_code_cell("import numpy"))
    return nbformat.v4.new_notebook(cells=cells)


def test_sync_headers_replaces_the_setup_cell_and_the_badge():
    nb = bl_colab.sync_headers(_header_notebook(), REPO)
    url = bl_colab.colab_url(REPO, "01_a.ipynb")
    assert f"]({url})" in nb.cells[0].source and "old-repo" not in nb.cells[0].source
    assert nb.cells[1].source == bl_colab.setup_cell_source(REPO).rstrip("\n")
    assert [c.source for c in nb.cells[2:]] == ["import numpy"]
    assert bl_colab.sync_headers(nb, REPO).cells == nb.cells                  # idempotent


def test_sync_headers_inserts_what_is_missing_and_never_overwrites_other_code():
    nb = bl_colab.sync_headers(_header_notebook(setup=None, badge=False), REPO, filename="05_e.ipynb")
    assert nb.cells[0].source.endswith(f"]({bl_colab.colab_url(REPO, '05_e.ipynb')})")
    assert "google.colab" in nb.cells[1].source and nb.cells[2].source == "import numpy"
    with pytest.raises(ValueError, match="filename"):
        bl_colab.sync_headers(_header_notebook(badge=False), REPO)


def test_normalise_metadata_sets_the_kernelspec_and_drops_run_times():
    nb = _header_notebook()
    nb.metadata.update(kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
                       language_info={"name": "python", "version": "3.11.7"},
                       papermill={"duration": 1.5, "input_path": "elsewhere/x.ipynb"})
    nb.cells[1].metadata.update(papermill={"duration": 0.1}, execution={"iopub.status.idle": "2024"}, tags=["x"])
    report.normalise_metadata(nb)
    assert nb.metadata.kernelspec == report.KERNELSPEC == {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    assert nb.metadata.language_info == {"name": "python", "version": "3.11.7"} and "papermill" not in nb.metadata
    assert nb.cells[1].metadata == {"tags": ["x"]}
    injected = nbformat.v4.new_code_cell("DATA = 'x'", metadata={"tags": ["injected-parameters"]})
    nb.cells.append(injected)
    report.normalise_metadata(nb)
    assert injected.id == "injected-parameters"          # not papermill's random id: reruns give one file
    nbformat.validate(nb)


# --- whole runs in real kernels ------------------------------------------------------------------

def _write_notebook(path: Path, parameters: str, *body: str) -> None:
    link = f"https://colab.research.google.com/github/old/old/blob/main/notebooks/{path.name}"
    cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}\n\n[![Open In Colab]({bl_colab.COLAB_BADGE_IMAGE})]({link})"),
             nbformat.v4.new_code_cell("# Setup: old\nimport sys"),
             nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(src) for src in body]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                        "language": "python"}})
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path):
    """A checkout with two tiny notebooks: 01 writes a figure file, 02 writes Table 1."""
    root = tmp_path / "checkout"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "x"\n[project.urls]\nRepository = "{REPO}"\n')
    (root / "README.md").write_text(f"intro\n{report.TABLE_START}\nold\n{report.TABLE_END}\n")
    _write_notebook(root / "notebooks" / "01_a.ipynb",
                    'DATA = "synthetic"\nPROFILE = "auto"\nFIGURES_DIR = "../figures"\nSEED = 0',
                    "from pathlib import Path\nPath(FIGURES_DIR).mkdir(parents=True, exist_ok=True)\n"
                    "(Path(FIGURES_DIR) / 'fig.txt').write_text(f'{DATA} {PROFILE} {SEED}')",
                    "print(DATA, PROFILE, SEED)")
    _write_notebook(root / "notebooks" / "02_b.ipynb",
                    'DATA = "synthetic"\nPROFILE = "auto"  # Table 1\'s profile\nTABLES_DIR = "../results"\nOVERRIDES = {}',
                    "from pathlib import Path\nPath(TABLES_DIR).mkdir(parents=True, exist_ok=True)\n"
                    "(Path(TABLES_DIR) / 'table1.md').write_text(f'| data |\\n|---|\\n| {DATA} {OVERRIDES} |\\n')")
    return root


def _snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_parameters_papermill_cannot_parse_are_still_declared(project):
    # papermill's parser reads the quote of "Table 1's" as an unterminated string and skips the line
    assert list(report.declared_parameters(project / "notebooks" / "02_b.ipynb")) == [
        "DATA", "PROFILE", "TABLES_DIR", "OVERRIDES"]


def test_unknown_parameter_exits_2_and_writes_nothing(project, capsys):
    before = _snapshot(project)
    assert report.main(["-p", "EPOCHS", "5"], root=project) == 2
    error = capsys.readouterr().err
    assert "EPOCHS" in error and "01_a.ipynb: DATA, PROFILE, FIGURES_DIR, SEED" in error
    assert report.main(["--data", "no/such/folder"], root=project) == 2
    assert _snapshot(project) == before


def _fake_busi(folder: Path) -> Path:
    """The smallest folder with BUSI's layout (one class, one image and its mask): what --data is checked for."""
    import numpy as np
    from PIL import Image

    (folder / "benign").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "benign" / "benign (1).png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "benign" / "benign (1)_mask.png")
    return folder


def test_a_data_folder_without_busi_is_refused_in_one_line_before_any_notebook(project, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    before = _snapshot(project)
    assert report.main(["--data", str(tmp_path / "empty")], root=project) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith(f"report: --data {tmp_path / 'empty'}: no BUSI layout")
    assert _snapshot(project) == before


def test_default_run_writes_to_reports_and_leaves_the_published_files(project, tmp_path, monkeypatch, capsys):
    _fake_busi(tmp_path / "elsewhere" / "busi")
    monkeypatch.chdir(tmp_path / "elsewhere")
    before = _snapshot(project)
    assert report.main(["--data", "busi", "--profile", "quick", "-p", "SEED", "7",
                        "-p", "OVERRIDES", "{'epochs': 5}"], root=project) == 0
    out = project / "reports" / "busi-quick"
    printed = capsys.readouterr().out
    assert "reports/busi-quick/notebooks/" in printed and "Table 1 in reports/busi-quick/table1.md" in printed
    shown = "../elsewhere/busi"          # beside the checkout: relative to its root, whatever the cwd
    assert (out / "figures" / "fig.txt").read_text() == f"{shown} quick 7"
    assert (out / "table1.md").read_text() == f"| data |\n|---|\n| {shown} {{'epochs': 5}} |\n"
    executed = nbformat.read(out / "notebooks" / "01_a.ipynb", 4)
    assert executed.cells[-1].outputs[0]["text"] == f"{shown} quick 7\n"
    assert executed.metadata.kernelspec == report.KERNELSPEC and executed.metadata.language_info["name"] == "python"
    assert "papermill" not in executed.metadata and "google.colab" in executed.cells[1].source
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "RESULTS_DIR" not in injected[0].source   # only what 01 declares
    assert _snapshot(project) == {**before, **{k: v for k, v in _snapshot(project).items() if k.startswith("reports/")}}
    assert not (project / "reports" / ".partial" / "01_a.ipynb").exists()


def test_publish_executes_in_place_injects_nothing_and_updates_the_readme(project, capsys):
    busi = _fake_busi(project.parent / "busi")
    _write_notebook(project / "notebooks" / "01_a.ipynb", 'import os\nDATA = os.environ.get("BUSI_DIR")\nFIGURES_DIR = None',
                    "from pathlib import Path\nout = Path('../figures' if os.environ.get('BL_PUBLISH') else '../elsewhere')\n"
                    "out.mkdir(parents=True, exist_ok=True)\n(out / 'fig.txt').write_text(f'{Path(DATA).name} {FIGURES_DIR}')")
    (project / "results").mkdir()
    (project / "results" / "answers.json").write_text('{"Gone:": "an answer no notebook writes any more"}')
    assert report.main(["--publish", "--data", str(busi)], root=project) == 0
    assert not (project / "results" / "answers.json").exists()               # stale answers do not linger
    assert (project / "figures" / "fig.txt").read_text() == "busi None"      # BUSI_DIR and BL_PUBLISH, no injection
    assert "| synthetic {} |" in (project / "README.md").read_text()
    published = nbformat.read(project / "notebooks" / "02_b.ipynb", 4)
    assert published.metadata.kernelspec == report.KERNELSPEC
    assert bl_colab.colab_url(REPO, "02_b.ipynb") in published.cells[0].source
    for name in ("01_a.ipynb", "02_b.ipynb"):                                # no machine paths published
        cells = nbformat.read(project / "notebooks" / name, 4).cells
        assert not any("injected-parameters" in c.metadata.get("tags", []) for c in cells)
        assert str(busi) not in json.dumps([c.get("outputs", []) for c in cells])
    assert not (project / "reports" / "synthetic-auto").exists()
    assert "BL_PUBLISH" not in os.environ and os.environ.get("BUSI_DIR") != str(busi)
    assert report.main(["--publish"], root=project) == 2                     # synthetic data is never published
    assert "BUSI folder" in capsys.readouterr().err


def test_a_failing_notebook_is_left_untouched_and_its_run_kept(project, capsys):
    bad = project / "notebooks" / "03_c.ipynb"
    _write_notebook(bad, 'DATA = "synthetic"\nPROFILE = "auto"', "raise RuntimeError('boom')")
    before = bad.read_bytes()
    _fake_busi(project.parent / "busi")
    assert report.main(["--publish", "--only", "03", "--data", str(project.parent / "busi")], root=project) == 1
    assert bad.read_bytes() == before and "boom" in capsys.readouterr().err
    (project / "results").mkdir()
    answers = project / "results" / "answers.json"
    answers.write_text('{"Notebook 3:": "kept"}')
    assert report.main(["--publish", "--data", str(project.parent / "busi")], root=project) == 1
    assert answers.read_text() == '{"Notebook 3:": "kept"}'              # a failed publication restores them
    partial = json.loads((project / "reports" / ".partial" / "03_c.ipynb").read_text())
    assert any(o.get("ename") == "RuntimeError" for c in partial["cells"] for o in c.get("outputs", []))
    assert report.notebook_paths(project / "notebooks", ["03"]) == [bad]
    with pytest.raises(report.ReportError, match="starts with"):
        report.notebook_paths(project / "notebooks", ["09"])


def test_readme_table_is_replaced_between_the_markers_only(tmp_path):
    readme, table = tmp_path / "README.md", tmp_path / "table1.md"
    readme.write_text(f"intro\n{report.TABLE_START}\nold\n{report.TABLE_END}\nrest\n")
    assert not report.update_readme_table(readme, table)          # no table yet: untouched
    table.write_text("caption\n\n| a |\n|---|\n| 1 |\n")
    assert report.update_readme_table(readme, table)
    assert readme.read_text() == (f"intro\n{report.TABLE_START}\ncaption\n\n| a |\n|---|\n| 1 |\n"
                                  f"{report.TABLE_END}\nrest\n")
    assert not report.update_readme_table(readme, table)          # idempotent
