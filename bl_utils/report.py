"""Run the whole report: execute the notebooks in order with papermill, without touching the published ones.

    python -m bl_utils report                          # built-in synthetic data, profile "auto"
    python -m bl_utils report --data ~/BUSI            # the real dataset (default: $BUSI_DIR, else synthetic)
    python -m bl_utils report --data kaggle            # BUSI downloaded from Kaggle by the notebooks
    python -m bl_utils report --profile quick          # force a profile (auto, quick or paper)
    python -m bl_utils report --only 02 03             # some notebooks only
    python -m bl_utils report -p SEEDS "[0, 1, 2]"     # any parameter of the notebooks' parameters cells

By default nothing committed is overwritten: the executed notebooks, their figures, the training runs
and Table 1 go to reports/<data>-<profile>/ (gitignored; <data> is synthetic, busi or kaggle), and
the command prints where. The maintainers publish a run with

    python -m bl_utils report --publish --data ../shared/data/busi256

which executes notebooks/ in place (each written to a temporary name and renamed only when it ran
without error), as a reader gets them: no parameter is injected (a published notebook holds no path
of the machine that published it); the kernels get ``BUSI_DIR=<data>`` and ``BL_PUBLISH=1`` in their
environment instead, which makes the notebooks read that BUSI and write figures into figures/ and
results into results/ (:mod:`bl_utils.notebook`). Then results/table1.md and answers.md are copied
into README.md between their markers.

Each notebook runs in a fresh "python3" kernel with notebooks/ as working directory. Before it runs,
its Colab header (badge and setup cell) is rewritten from pyproject.toml's repository URL, and its
parameters are read with papermill: without --publish, --data and --profile set DATA and PROFILE, and
the output folders are passed as FIGURES_DIR, RESULTS_DIR (new runs) and TABLES_DIR to the notebooks
that declare them; with --publish, -p and --profile are refused (edit the parameters cells instead). A -p NAME
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
import sys
import tempfile
import time
from pathlib import Path

from .colab import repository_url, sync_headers
from .config import PROFILES as TRAINING_PROFILES
from .runtime import atomic_write, project_root, set_environment

#: The package's own checkout (not the caller's working directory).
ROOT = project_root(Path(__file__).resolve().parent)

PARAMETERS_TAG = "parameters"
KERNEL_NAME = "python3"
#: What ipykernel (installed by requirements.txt) writes, so that JupyterLab saves a notebook unchanged.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
#: Data sources that are not folders; any other --data is a folder (BUSI).
DATA_KEYWORDS = ("synthetic", "kaggle")
#: The profiles a report runs at: "auto" and the training profiles, less "tiny" (the smoke test's,
#: which SMOKE chooses on synthetic data).
PROFILES = ("auto", *(name for name in TRAINING_PROFILES if name != "tiny"))
REQUIRED_PARAMETERS = ("DATA",)

TABLE_START, TABLE_END = "<!-- table1:start -->", "<!-- table1:end -->"
#: The README block that holds the report's answers in plain words (``answers.md`` beside Table 1).
ANSWERS_MARKERS = ("<!-- answers:start -->", "<!-- answers:end -->")
#: The README's first screen: each answer's bottom line and the table of answers (``results/answers_table.md``).
FIRST_MARKERS = ("<!-- first:start -->", "<!-- first:end -->")
#: The README block that counts the committed runs of each experiment (``results/runs.md``).
RUNS_MARKERS = ("<!-- runs:start -->", "<!-- runs:end -->")


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

def data_argument(data: str, cwd: Path | None = None, root: Path = ROOT) -> str:
    """``synthetic``, ``kaggle``, or the folder ``data`` (relative to ``cwd``, default the working
    directory) made independent of the working directory: relative to the checkout ``root`` when it
    lies in or beside it (``../shared/data/busi256``; :func:`bl_utils.data.source.resolve_data` reads such a
    path from the project root), else absolute. Raises :class:`ReportError` for a missing folder."""
    if data in DATA_KEYWORDS:
        return data
    folder = Path(data).expanduser()
    folder = (Path(cwd or os.getcwd()) / folder).resolve()
    if not folder.is_dir():
        raise ReportError(f"--data {data}: no such folder; give the BUSI folder Dataset_BUSI_with_GT (or its "
                          f"parent), 'synthetic' or 'kaggle'")
    root = Path(root).resolve()
    if folder.is_relative_to(root.parent):   # in or beside the checkout: relative to its root, which the
        return os.path.relpath(folder, root)  # notebooks resolve it from (no machine path is published)
    return str(folder)


def _check_busi(given: str, data: str, root: Path) -> None:
    """A ``--data`` folder that holds no BUSI layout: :class:`ReportError` in one line naming the
    path as the user gave it, before any notebook starts."""
    from .data.busi import find_layout
    from .data.dataset import DataError

    try:
        find_layout(Path(data) if Path(data).is_absolute() else root / data)
    except DataError:
        raise ReportError(f"--data {given}: no BUSI layout there (class folders benign/, malignant/, normal/ with "
                          f"'<class> (<n>).png' and '<class> (<n>)_mask.png'); give the folder Dataset_BUSI_with_GT "
                          f"or its parent, 'synthetic' or 'kaggle'") from None


def data_tag(data: str) -> str:
    """``synthetic``, ``kaggle`` or ``busi`` (any folder): the first half of a report folder's name."""
    return data if data in DATA_KEYWORDS else "busi"


def output_parameters(publish: bool, out: Path, root: Path = ROOT) -> dict[str, str]:
    """The folder parameters a notebook gets when it declares them.

    Published: none (the notebooks find ``figures/`` and ``results/`` themselves when
    ``BL_PUBLISH`` is set, :mod:`bl_utils.notebook`). Otherwise, absolute: ``out/figures`` for
    figures, ``out`` for tables (so that Table 1 is ``out/table1.md``) and ``out/runs`` for runs
    trained by the report; published runs are still read from ``results/`` (a reader whose BUSI has
    the published fingerprint sees them instead of training).
    """
    if publish:
        return {}
    return {"FIGURES_DIR": str(out / "figures"), "RESULTS_DIR": str(out / "runs"), "TABLES_DIR": str(out)}


def publish_environment(data: str, root: Path = ROOT) -> dict[str, str]:
    """The environment of a publication's kernels: ``BUSI_DIR`` (absolute) and ``BL_PUBLISH=1``.
    Raises :class:`ReportError` unless ``data`` is a BUSI folder."""
    if data in DATA_KEYWORDS:
        raise ReportError(f"--publish needs the BUSI folder as --data (got {data!r}): only a run on BUSI is published")
    folder = Path(data) if Path(data).is_absolute() else Path(root) / data
    return {"BUSI_DIR": str(folder.resolve()), "BL_PUBLISH": "1"}


@contextlib.contextmanager
def _environment(changes: dict[str, str] | None):
    """``os.environ`` updated with ``changes`` inside the block (kernels started there inherit it)."""
    previous = set_environment(changes or {})
    try:
        yield
    finally:
        set_environment(previous)


# --- the executed notebook ------------------------------------------------------------------

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
                     cwd: Path | None = None, partial: Path | None = None, timeout: int = 3600,
                     env: dict[str, str] | None = None) -> float:
    """Execute the notebook at ``path`` with papermill in a fresh ``python3`` kernel; write it to ``output``.

    The header is synced to ``repo_url`` first (when given), ``parameters`` are injected after the
    cell tagged ``parameters``, the kernel runs in ``cwd`` (default: the notebook's folder) with
    ``timeout`` seconds per cell and ``env`` added to its environment, and the metadata is normalised. papermill saves its progress in
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
        with _environment(env):
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
    parser = argparse.ArgumentParser(prog="python -m bl_utils report", description=__doc__,
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
    given_data = str(given.pop("DATA", args.data))                          # -p DATA is --data
    data = data_argument(given_data, root=root)
    if data not in DATA_KEYWORDS:
        _check_busi(given_data, data, root)
    profile = str(given.pop("PROFILE", args.profile))
    if profile not in PROFILES:
        raise ReportError(f"PROFILE {profile!r}: choose one of {', '.join(PROFILES)}")
    if args.publish and (given or profile != "auto"):
        raise ReportError("--publish executes the notebooks as a reader gets them: set parameters in their "
                          "parameters cells, not with -p or --profile")
    paths = notebook_paths(root / "notebooks", args.only)
    declared = {p.name: declared_parameters(p) for p in paths}
    check_parameters(declared, given)
    return {"given": given, "data": data, "profile": profile, "paths": paths, "declared": declared,
            "repo_url": repository_url(root / "pyproject.toml"),
            "env": publish_environment(data, root) if args.publish else None}


def _destinations(args, root: Path, request: dict, table: Path | None) -> dict:
    """Where the notebooks, figures and Table 1 go: in place with ``--publish``, else ``reports/<tag>/``."""
    tag = f"{data_tag(request['data'])}-{request['profile']}" + ("-smoke" if request["given"].get("SMOKE") is True else "")
    out = root / "reports" / tag
    if args.publish:
        places = {"notebooks": root / "notebooks", "figures": root / "figures",
                  "table": args.table or table or root / "results" / "table1.md"}
    else:
        places = {"notebooks": out / "notebooks", "figures": out / "figures", "table": args.table or table or out / "table1.md"}
    return dict(places, folders=output_parameters(args.publish, out, root), env=request["env"])


def _run_one(path: Path, number: int, request: dict, places: dict, root: Path, timeout) -> bool:
    """Execute one notebook with its parameters; False (after saying where the partial run is) on error."""
    params = request["declared"][path.name]
    values = {}
    if places["env"] is None:   # a publication injects nothing: the kernels' environment says it all
        values = {"DATA": request["data"], **({"PROFILE": request["profile"]} if "PROFILE" in params else {})}
        values.update({name: value for name, value in places["folders"].items() if name in params})
        values.update({name: value for name, value in request["given"].items() if name in params})
    output, partial = places["notebooks"] / path.name, root / "reports" / ".partial" / path.name
    print(f"[{number}/{len(request['paths'])}] {path.name} ...", end=" ", flush=True)
    try:
        seconds = execute_notebook(path, output, values, repo_url=request["repo_url"], cwd=root / "notebooks",
                                   partial=partial, timeout=timeout, env=places["env"])
    except Exception as error:  # papermill's PapermillExecutionError carries the cell and traceback
        print("FAILED")
        print(f"\n{path.name} stopped with an error; {_shown(output, root)} was left as it was and the "
              f"run up to the error is in {_shown(partial, root)}.\n{error}", file=sys.stderr)
        return False
    print(f"done in {seconds:.0f} s -> {_shown(output, root)}", flush=True)
    return True


def _drop_checkpoints(folder: Path) -> None:
    """Delete the checkpoints (``*.pt``) of the finished runs under ``folder``: a reader's report keeps
    each run's results, not its weights (an unfinished run's ``last.pt`` stays, to resume)."""
    for checkpoint in Path(folder).rglob("best.pt"):
        if (checkpoint.parent / "run.json").is_file():
            checkpoint.unlink()


def _clear_answers(folder: Path) -> dict[Path, bytes]:
    """Remove the recorded answers (``answers.json``, ``answers.md``) before a whole publication, so
    that an answer no notebook writes any more does not linger in the README; returns their
    contents, to put back if the publication fails."""
    previous = {}
    for name in ("answers.json", "answers.md", "answers_table.json", "answers_table.md"):
        path = folder / name
        if path.is_file():
            previous[path] = path.read_bytes()
            path.unlink()
    return previous


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
    previous = _clear_answers(places["table"].parent) if args.publish and not args.only else {}
    for number, path in enumerate(request["paths"], 1):
        if not _run_one(path, number, request, places, root, args.timeout):
            for answers, content in previous.items():     # a failed publication leaves the answers as they were
                answers.write_bytes(content)
            return 1
    table = places["table"]
    if args.publish and not args.only and update_readme_table(root / "README.md", table):
        print(f"README.md: results table updated from {_shown(table, root)}")
    answers = table.parent / "answers.md"
    if args.publish and not args.only and update_readme_table(root / "README.md", answers, ANSWERS_MARKERS):
        print(f"README.md: answers updated from {_shown(answers, root)}")
    first = table.parent / "answers_table.md"
    if args.publish and not args.only and update_readme_table(root / "README.md", first, FIRST_MARKERS):
        print(f"README.md: the first screen updated from {_shown(first, root)}")
    if not args.publish:
        _drop_checkpoints(root / "reports")
    if args.publish and not args.only:
        from .experiments import runs_markdown

        runs = root / "results" / "runs.md"
        with atomic_write(runs) as handle:
            handle.write(runs_markdown(root / "results") + "\n")
        if update_readme_table(root / "README.md", runs, RUNS_MARKERS):
            print(f"README.md: run counts updated from {_shown(runs, root)}")
    print(f"Report complete in {time.perf_counter() - total:.0f} s: notebooks in {_shown(places['notebooks'], root)}/, "
          f"figures in {_shown(places['figures'], root)}/" + (f", Table 1 in {_shown(table, root)}" if table.is_file() else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
