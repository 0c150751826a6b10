"""The package's one command line: ``python -m bl_utils {train,study,report} [options]``.

* ``train``  — train (or load) runs of any grid of settings (:mod:`bl_utils.cli`);
* ``study``  — train or list the groups of runs the report publishes (:mod:`bl_utils.experiments`);
* ``report`` — execute the notebooks in order, or publish them (:mod:`bl_utils.report`).

``python -m bl_utils COMMAND --help`` describes each command's options.
"""

from __future__ import annotations

import importlib
import sys

#: Each command: the module whose ``main(argv)`` runs it, and one line saying what it does.
COMMANDS = {
    "train": ("bl_utils.cli", "train (or load) the runs of any strategies, seeds and settings"),
    "study": ("bl_utils.experiments", "train or list the groups of runs the report publishes"),
    "report": ("bl_utils.report", "execute the notebooks in order (or publish them)"),
}


def usage() -> str:
    lines = ["usage: python -m bl_utils {train,study,report} [options]", "", "commands:"]
    lines += [f"  {name:<8} {line}" for name, (_, line) in COMMANDS.items()]
    lines += ["", "python -m bl_utils COMMAND --help describes each command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"{usage()}\n\nerror: unknown command {argv[0]!r}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
