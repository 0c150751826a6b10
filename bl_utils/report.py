"""Run the whole report: execute the notebooks in order with papermill, without touching the published ones.

    python -m bl_utils.report                          # built-in synthetic data, profile "auto"
    python -m bl_utils.report --data ~/BUSI            # the real dataset (default: $BUSI_DIR, else synthetic)
    python -m bl_utils.report --data kaggle            # BUSI downloaded from Kaggle by the notebooks
    python -m bl_utils.report --profile quick          # force a profile (auto, quick or paper)
    python -m bl_utils.report --only 02 03             # some notebooks only
    python -m bl_utils.report -p SEEDS "[0, 1, 2]"     # any parameter of the notebooks' parameters cells

By default nothing committed is overwritten: the executed notebooks, their figures, the training runs
and Table 1 go to reports/<data>-<profile>/ (gitignored; <data> is synthetic, busi or kaggle), and
the command prints where. The maintainers publish a run with

    python -m bl_utils.report --publish --data ../shared/data/busi256

which executes notebooks/ in place (each written to a temporary name and renamed only when it ran
without error), writes figures into figures/ and results into results/, and copies results/table1.md
into README.md between its table markers.

Each notebook runs in a fresh "python3" kernel with notebooks/ as working directory. Before it runs,
its Colab header (badge and setup cell) is rewritten from pyproject.toml's repository URL, and its
parameters are read with papermill: --data and --profile set DATA and PROFILE, and the output folders
are passed as FIGURES_DIR, RESULTS_DIR and TABLES_DIR to the notebooks that declare them. A -p NAME
that no notebook declares is an error (exit code 2) listing the names they do declare. -p values are
read as Python literals (5, 0.1, True, None, "[0, 1]", "{'epochs': 5}") or YAML flow collections
("{epochs: 5}"); anything else is a string. Exit code 1: a notebook failed (its partial execution is
kept under reports/.partial/ for reading).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from .runtime import atomic_write, project_root

#: The package's own checkout (not the caller's working directory).
ROOT = project_root(Path(__file__).resolve().parent)

PARAMETERS_TAG = "parameters"
KERNEL_NAME = "python3"
#: What ipykernel (installed by requirements.txt) writes, so that JupyterLab saves a notebook unchanged.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
#: Data sources that are not folders; any other --data is a folder (BUSI).
DATA_KEYWORDS = ("synthetic", "kaggle")
PROFILES = ("auto", "quick", "paper")
REQUIRED_PARAMETERS = ("DATA",)

TABLE_START, TABLE_END = "<!-- table1:start -->", "<!-- table1:end -->"
#: The README block that holds the report's answers in plain words (``answers.md`` beside Table 1).
ANSWERS_MARKERS = ("<!-- answers:start -->", "<!-- answers:end -->")
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_COLAB_URL = re.compile(r"https://colab\.research\.google\.com/github/[^\s)\"'\]]+")


class ReportError(Exception):
    """A problem with the command line or the notebooks, found before anything was executed."""


# --- the notebooks and their parameters -------------------------------------------------------

def notebook_paths(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The report's notebooks in ``folder``, in order (``01_...`` first); ``only`` filters by prefix."""
    paths = sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(key) for key in only)]
        if not paths:
            raise ReportError(f"no notebook in {folder} starts with any of {only}")
    return paths


def parameter_value(text: str):
    """A ``-p`` value: a Python literal when it is one (``5``, ``0.1``, ``True``, ``None``, ``[0, 1]``,
    ``{'epochs': 5}``, ``'a b'``), a YAML flow list or mapping (``{epochs: 5}``), else the string itself.

    For scalars this is papermill's own ``-p`` typing (bools, None, ints, floats, else a string).
    """
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if not text.strip().startswith(("[", "{")):
        return text
    import yaml
    from papermill.iorw import NoDatesSafeLoader

    try:
        value = yaml.load(text, Loader=NoDatesSafeLoader)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (list, dict)) else text


def declared_parameters(path: Path) -> dict[str, dict]:
    """The parameters of the notebook at ``path``: name -> ``{"name", "inferred_type_name", "default",
    "help"}``, in the order of its cell tagged ``parameters``; empty when it has none.

    papermill's ``inspect_notebook`` reads them; a line its parser gives up on (it reads comments
    with a quote in them, such as ``# Table 1's profile``, as unterminated strings) is read with
    Python's own parser instead, so that such a name is neither reported missing nor rejected.
    """
    import logging

    import nbformat
    import papermill

    papermill_log = logging.getLogger("papermill")
    level = papermill_log.level
    papermill_log.setLevel(logging.ERROR)       # its "Unable to parse line" warnings: handled below
    try:
        found = papermill.inspect_notebook(str(path))
    finally:
        papermill_log.setLevel(level)
    cell = next((c for c in nbformat.read(path, as_version=4).cells
                 if PARAMETERS_TAG in c.metadata.get("tags", [])), None)
    if cell is None:
        return found
    lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return found
    names = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) and node.value is not None else []
        for target in targets:
            if isinstance(target, ast.Name):
                names.setdefault(target.id, found.get(target.id) or {
                    "name": target.id, "inferred_type_name": "None",
                    "default": ast.get_source_segment("\n".join(lines), node.value), "help": ""})
    return {**names, **{k: v for k, v in found.items() if k not in names}}


def check_parameters(declared: dict[str, dict[str, dict]], given: dict) -> None:
    """Raise :class:`ReportError` when a notebook lacks DATA or PROFILE, or when a name in ``given``
    is declared by none of the notebooks (``declared``: notebook name -> its parameters)."""
    for name, params in declared.items():
        missing = [p for p in REQUIRED_PARAMETERS if p not in params]
        if missing:
            raise ReportError(f"{name} has no {' or '.join(missing)} in a cell tagged 'parameters'; every "
                              f"notebook of the report needs one (tag a cell in JupyterLab: View > Property "
                              f"Inspector > Cell Tags)")
    known = sorted({p for params in declared.values() for p in params})
    unknown = sorted(set(given) - set(known))
    if unknown:
        listing = "\n".join(f"  {name}: {', '.join(params)}" for name, params in declared.items())
        raise ReportError(f"unknown parameter(s) {', '.join(unknown)}; the notebooks declare:\n{listing}")


# --- where a run writes -----------------------------------------------------------------------

def resolve_data(data: str, cwd: Path | None = None, root: Path = ROOT) -> str:
    """``synthetic``, ``kaggle``, or the folder ``data`` (relative to ``cwd``, default the working
    directory) made independent of the working directory: relative to the checkout ``root`` when it
    lies in or beside it (``../shared/data/busi256``; :func:`bl_utils.data.resolve_data` reads such a
    path from the project root), else absolute. Raises :class:`ReportError` for a missing folder."""
    if data in DATA_KEYWORDS:
        return data
    folder = Path(data).expanduser()
    folder = (Path(cwd or os.getcwd()) / folder).resolve()
    if not folder.is_dir():
        raise ReportError(f"--data {data}: no such folder ({folder}); give the BUSI folder "
                          f"Dataset_BUSI_with_GT (or its parent), 'synthetic' or 'kaggle'")
    root = Path(root).resolve()
    if folder.is_relative_to(root.parent):   # in or beside the checkout: relative to its root, which the
        return os.path.relpath(folder, root)  # notebooks resolve it from (no machine path is published)
    return str(folder)


def data_tag(data: str) -> str:
    """``synthetic``, ``kaggle`` or ``busi`` (any folder): the first half of a report folder's name."""
    return data if data in DATA_KEYWORDS else "busi"


def output_parameters(publish: bool, out: Path, root: Path = ROOT) -> dict[str, str]:
    """The folder parameters a notebook gets when it declares them.

    Published: ``figures/`` and ``results/`` of the checkout, written relative to ``notebooks/`` (the
    kernels' working directory; the setup cell also works there on Colab) so that the published
    notebooks hold no machine's paths. Otherwise: ``out/figures`` for figures and ``out`` for tables
    (so that Table 1 is ``out/table1.md``), absolute; runs stay in ``results/`` (a reader whose BUSI
    has the published fingerprint then loads the published runs; synthetic runs go to the ignored
    ``results/synthetic-*``).
    """
    if publish:
        notebooks = root / "notebooks"
        figures = os.path.relpath(root / "figures", notebooks)
        results = os.path.relpath(root / "results", notebooks)
        return {"FIGURES_DIR": figures, "RESULTS_DIR": results, "TABLES_DIR": results}
    return {"FIGURES_DIR": str(out / "figures"), "TABLES_DIR": str(out)}


# --- the notebook header, defined once --------------------------------------------------------

def repository_url(pyproject: Path | None = None) -> str:
    """``[project.urls] Repository`` of pyproject.toml (default: this checkout's); falls back on the
    installed package's metadata. Raises :class:`ReportError` when neither has one."""
    path = Path(pyproject or ROOT / "pyproject.toml")
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
    raise ReportError(f"no [project.urls] Repository in {path}")


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


def normalise_metadata(nb):
    """Make an executed notebook save as JupyterLab would save it, in place; returns ``nb``.

    ``metadata.kernelspec`` becomes :data:`KERNELSPEC` (what ipykernel writes; ``language_info``
    stays as the kernel reported it), and the run-specific metadata of papermill and nbclient (start
    and end times, durations, input and output paths) is dropped from the notebook and its cells, and
    the injected-parameters cell gets a fixed id, so that two runs with the same outputs give the same
    file (the ids of saved widget models still differ).
    """
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"     # papermill draws a random id on every run
    return nb


# --- running ----------------------------------------------------------------------------------

def execute_notebook(path: Path, output: Path, parameters: dict | None = None, *, repo_url: str | None = None,
                     cwd: Path | None = None, partial: Path | None = None, timeout: int = 3600) -> float:
    """Execute the notebook at ``path`` with papermill in a fresh ``python3`` kernel; write it to ``output``.

    The header is synced to ``repo_url`` first (when given), ``parameters`` are injected after the
    cell tagged ``parameters``, the kernel runs in ``cwd`` (default: the notebook's folder) with
    ``timeout`` seconds per cell, and the metadata is normalised. papermill saves its progress in
    ``partial`` (default: a temporary folder); ``output`` is written (under a temporary name, then
    renamed) only when every cell ran. On an error papermill's exception propagates, ``output`` is
    untouched and ``partial``, when given, holds the run up to the error. Returns the wall time in s.
    """
    import nbformat
    import papermill

    nb = nbformat.read(path, as_version=4)
    if repo_url:
        sync_headers(nb, repo_url, path.name)
    with contextlib.ExitStack() as stack:
        if partial is None:
            partial = Path(stack.enter_context(tempfile.TemporaryDirectory())) / path.name
        partial.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, partial)
        start = time.perf_counter()
        executed = papermill.execute_notebook(str(partial), str(partial), parameters=parameters or {},
                                              kernel_name=KERNEL_NAME, cwd=str(cwd or path.parent),
                                              progress_bar=False, execution_timeout=timeout)
        seconds = time.perf_counter() - start
        normalise_metadata(executed)
        with atomic_write(output) as handle:
            nbformat.write(executed, handle)
        partial.unlink(missing_ok=True)
    return seconds


def update_readme_table(readme: Path, table_md: Path, markers: tuple[str, str] = (TABLE_START, TABLE_END)) -> bool:
    """Put the Markdown of ``table_md`` between the ``markers`` of ``readme``; True if changed.

    Does nothing (False) when either file or a marker is missing.
    """
    if not (readme.is_file() and table_md.is_file()):
        return False
    text = readme.read_text()
    start, end = text.find(markers[0]), text.find(markers[1])
    if start < 0 or end < start:
        return False
    new = text[:start + len(markers[0])] + "\n" + table_md.read_text().strip() + "\n" + text[end:]
    if new == text:
        return False
    with atomic_write(readme) as handle:
        handle.write(new)
    return True


def _shown(path: Path, root: Path) -> str:
    path = Path(path)
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bl_utils.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("BUSI_DIR") or "synthetic",
                        help="'synthetic', 'kaggle' or the BUSI folder, relative to the working directory "
                             "(sets DATA; default: $BUSI_DIR, else synthetic)")
    parser.add_argument("--profile", choices=PROFILES, default="auto", help="sets PROFILE (default: auto)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a parameter of the notebooks' parameters cells (repeatable)")
    parser.add_argument("--only", nargs="+", metavar="PREFIX",
                        help="run only the notebooks whose names start with these (e.g. 01 03)")
    parser.add_argument("--publish", action="store_true",
                        help="maintainers: execute notebooks/ in place, figures into figures/, results into "
                             "results/, and update README.md's table from results/table1.md")
    parser.add_argument("--table", type=Path, metavar="PATH",
                        help="the Markdown table the notebooks write (default: results/table1.md with "
                             "--publish, else reports/<data>-<profile>/table1.md)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell (default 3600)")
    return parser


def _request(args, root: Path) -> dict:
    """What the command line asks for, checked: data, profile, notebooks, their declared and the
    given parameters, the repository URL. Raises :class:`ReportError` (exit code 2)."""
    given = {name: parameter_value(value) for name, value in args.parameter}
    data = resolve_data(str(given.pop("DATA", args.data)), root=root)     # -p DATA is --data
    profile = str(given.pop("PROFILE", args.profile))
    if profile not in PROFILES:
        raise ReportError(f"PROFILE {profile!r}: choose one of {', '.join(PROFILES)}")
    paths = notebook_paths(root / "notebooks", args.only)
    declared = {p.name: declared_parameters(p) for p in paths}
    check_parameters(declared, given)
    return {"given": given, "data": data, "profile": profile, "paths": paths, "declared": declared,
            "repo_url": repository_url(root / "pyproject.toml")}


def _destinations(args, root: Path, request: dict, table: Path | None) -> dict:
    """Where the notebooks, figures and Table 1 go: in place with ``--publish``, else ``reports/<tag>/``."""
    tag = f"{data_tag(request['data'])}-{request['profile']}" + ("-smoke" if request["given"].get("SMOKE") is True else "")
    out = root / "reports" / tag
    if args.publish:
        places = {"notebooks": root / "notebooks", "figures": root / "figures",
                  "table": args.table or table or root / "results" / "table1.md"}
    else:
        places = {"notebooks": out / "notebooks", "figures": out / "figures", "table": args.table or table or out / "table1.md"}
    return dict(places, folders=output_parameters(args.publish, out, root))


def _run_one(path: Path, number: int, request: dict, places: dict, root: Path, timeout) -> bool:
    """Execute one notebook with its parameters; False (after saying where the partial run is) on error."""
    params = request["declared"][path.name]
    values = {"DATA": request["data"], **({"PROFILE": request["profile"]} if "PROFILE" in params else {})}
    values.update({name: value for name, value in places["folders"].items() if name in params})
    values.update({name: value for name, value in request["given"].items() if name in params})
    left = sorted(n for n in params if n.endswith("_DIR") and n not in values)
    if left:
        print(f"  note: {path.name} keeps its own {', '.join(left)}", flush=True)
    output, partial = places["notebooks"] / path.name, root / "reports" / ".partial" / path.name
    print(f"[{number}/{len(request['paths'])}] {path.name} ...", end=" ", flush=True)
    try:
        seconds = execute_notebook(path, output, values, repo_url=request["repo_url"], cwd=root / "notebooks",
                                   partial=partial, timeout=timeout)
    except Exception as error:  # papermill's PapermillExecutionError carries the cell and traceback
        print("FAILED")
        print(f"\n{path.name} stopped with an error; {_shown(output, root)} was left as it was and the "
              f"run up to the error is in {_shown(partial, root)}.\n{error}", file=sys.stderr)
        return False
    print(f"done in {seconds:.0f} s -> {_shown(output, root)}", flush=True)
    return True


def main(argv: list[str] | None = None, *, root: Path | None = None, table: Path | None = None) -> int:
    """The command line; returns the exit code (0 done, 1 a notebook failed, 2 bad arguments).

    ``root`` is the checkout (default: this package's); ``table`` the Markdown table file, as
    ``--table`` (which wins over it).
    """
    args = build_parser().parse_args(argv)
    root = Path(root or ROOT).resolve()
    try:
        request = _request(args, root)
    except (ReportError, ValueError) as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    places = _destinations(args, root, request, table)
    data = request["data"]
    source = data if data in DATA_KEYWORDS else f"BUSI at {data}"
    print(f"Report on {source}, profile {request['profile']}: notebooks -> {_shown(places['notebooks'], root)}/, "
          f"figures -> {_shown(places['figures'], root)}/, Table 1 -> {_shown(places['table'], root)}", flush=True)
    total = time.perf_counter()
    for number, path in enumerate(request["paths"], 1):
        if not _run_one(path, number, request, places, root, args.timeout):
            return 1
    table = places["table"]
    if args.publish and not args.only and update_readme_table(root / "README.md", table):
        print(f"README.md: results table updated from {_shown(table, root)}")
    answers = table.parent / "answers.md"
    if args.publish and not args.only and update_readme_table(root / "README.md", answers, ANSWERS_MARKERS):
        print(f"README.md: answers updated from {_shown(answers, root)}")
    print(f"Report complete in {time.perf_counter() - total:.0f} s: notebooks in {_shown(places['notebooks'], root)}/, "
          f"figures in {_shown(places['figures'], root)}/" + (f", Table 1 in {_shown(table, root)}" if table.is_file() else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
