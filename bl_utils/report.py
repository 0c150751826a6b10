"""Run the whole report: execute the notebooks in order and save them with their outputs.

    python -m bl_utils.report                      # all notebooks, built-in data, profile "auto"
    python -m bl_utils.report --data ~/BUSI        # the real dataset (same as BUSI_DIR=~/BUSI)
    python -m bl_utils.report --profile paper      # force the paper's settings
    python -m bl_utils.report --only 02 03         # some notebooks only
    python -m bl_utils.report -p EPOCHS 5          # papermill-style override of a parameter

Each notebook runs in a fresh kernel with ``notebooks/`` as working directory, so it sees exactly
what a reader sees. Parameters given with ``-p`` are written into a cell inserted right after the
cell tagged ``parameters`` (the papermill convention, so ``papermill -p`` works on the same
notebooks); ``--data`` and ``--profile`` are passed as the environment variables ``BUSI_DIR`` and
``BL_PROFILE`` that every parameters cell reads. An executed notebook replaces its source only when
it ran without error (written to a temporary name, then renamed); figures land in ``figures/``.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from pathlib import Path

from .runtime import atomic_write, project_root

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


def notebook_paths(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The report's notebooks in ``folder``, in order (``01_...`` first); ``only`` filters by prefix."""
    paths = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(key) for key in only)]
        if not paths:
            raise SystemExit(f"report: no notebook in {folder} starts with any of {only}")
    return paths


def parse_value(text: str):
    """A ``-p`` value as a Python literal when it is one (``5``, ``0.1``, ``True``), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def inject_parameters(nb, parameters: dict) -> None:
    """Insert (or replace) a cell tagged ``injected-parameters`` after the ``parameters`` cell.

    Raises ``ValueError`` when the notebook has no cell tagged ``parameters``.
    """
    import nbformat

    cells = nb.cells
    cells[:] = [c for c in cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    where = next((i for i, c in enumerate(cells)
                  if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])), None)
    if where is None:
        raise ValueError("notebook has no cell tagged 'parameters'; tag one in JupyterLab "
                         "(View > Show Right Sidebar > Common Tools > Cell Tags)")
    source = "# Injected parameters (python -m bl_utils.report -p ...)\n" + "\n".join(
        f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    cells.insert(where + 1, cell)


def execute_notebook(path: Path, output: Path, parameters: dict | None = None,
                     timeout: int = 3600) -> float:
    """Execute the notebook at ``path`` in a fresh ``python3`` kernel; write it to ``output``.

    Returns the wall time in seconds. On a failing cell the exception propagates and ``output``
    is left untouched.
    """
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if parameters:
        inject_parameters(nb, parameters)
    start = time.perf_counter()
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     store_widget_state=True,
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    with atomic_write(output) as handle:
        nbformat.write(nb, handle)
    return time.perf_counter() - start


TABLE_START, TABLE_END = "<!-- table1:start -->", "<!-- table1:end -->"


def update_readme_table(readme: Path, table_md: Path) -> bool:
    """Put the Markdown of ``table_md`` between the table markers of ``readme``; True if changed.

    Does nothing (False) when either file or a marker is missing.
    """
    if not (readme.is_file() and table_md.is_file()):
        return False
    text = readme.read_text()
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        return False
    new = text[:start + len(TABLE_START)] + "\n" + table_md.read_text().strip() + "\n" + text[end:]
    if new == text:
        return False
    with atomic_write(readme) as handle:
        handle.write(new)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bl_utils.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="PREFIX",
                        help="run only the notebooks whose names start with these (e.g. 01 03)")
    parser.add_argument("--data", help="'synthetic' or the BUSI folder (sets BUSI_DIR)")
    parser.add_argument("--profile", choices=["auto", "quick", "paper"], help="sets BL_PROFILE")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="override a notebook parameter")
    parser.add_argument("--output-dir", type=Path,
                        help="write executed notebooks here instead of in place")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell (default 3600)")
    args = parser.parse_args(argv)

    folder = project_root() / "notebooks"
    if args.data:
        os.environ["BUSI_DIR"] = args.data
    if args.profile:
        os.environ["BL_PROFILE"] = args.profile
    parameters = {name: parse_value(value) for name, value in args.parameter}
    paths = notebook_paths(folder, args.only)
    total = time.perf_counter()
    for number, path in enumerate(paths, 1):
        output = (args.output_dir / path.name) if args.output_dir else path
        print(f"[{number}/{len(paths)}] {path.name} ...", end=" ", flush=True)
        try:
            seconds = execute_notebook(path, output, parameters, timeout=args.timeout)
        except Exception as error:  # nbclient's CellExecutionError carries the cell and traceback
            print("FAILED")
            print(f"\n{path.name} stopped with an error; the notebook was left as it was.\n{error}",
                  file=sys.stderr)
            return 1
        print(f"done in {seconds:.0f} s -> {output.relative_to(project_root()) if output.is_relative_to(project_root()) else output}")
    if not args.only and update_readme_table(project_root() / "README.md",
                                             project_root() / "results" / "table1.md"):
        print("README.md: results table updated from results/table1.md")
    print(f"Report complete in {time.perf_counter() - total:.0f} s; figures in "
          f"{project_root() / 'figures'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
