"""Every notebook as Colab on a GPU runs it: ``PROFILE = "auto"`` picks the paper profile there.

With ``TRAIN = False`` (what runs on a CPU here) each notebook shows the published runs, and every group of
runs it fetches must say which profile it was trained at; no table may hold a warning (a comparison of groups
that share no run prints "Mean of empty slice"). The profile is forced to what "auto" gives on CUDA; the
published runs are read from results/, no images are needed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

papermill = pytest.importorskip("papermill")

from bl_utils.config import resolve_profile

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUNS_LINE = re.compile(r"^(\w+): (\d+) of (\d+) runs (?:from (\S+)|\((\S+)\))(.*)$", re.M)

pytestmark = pytest.mark.slow


def _text(nb) -> tuple[str, str]:
    """``(stdout and displayed text, stderr)`` of an executed notebook."""
    out, err = [], []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            (err if output.get("name") == "stderr" else out).append("".join(output.get("text", "")))
            out += ["".join(v) for k, v in output.get("data", {}).items() if k in ("text/plain", "text/markdown")]
    return "\n".join(out), "\n".join(err)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_on_the_cuda_profile_labels_every_group_and_warns_nothing(name, tmp_path):
    source = ROOT / "notebooks" / name
    known = papermill.inspect_notebook(str(source))
    profile = resolve_profile("auto", "cuda")
    wanted = {"PROFILE": profile, "TRAIN": False, "RESULTS_DIR": str(tmp_path / "runs"),
              "FIGURES_DIR": str(tmp_path / "figures"), "TABLES_DIR": str(tmp_path / "tables")}
    if "PROFILE" not in known:
        pytest.skip(f"{name} trains nothing and has no profile")
    parameters = {k: v for k, v in wanted.items() if k in known}
    executed = papermill.execute_notebook(str(source), str(tmp_path / name), parameters=parameters,
                                          cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
    text, errors = _text(executed)
    assert "Warning" not in errors and "Mean of empty slice" not in text + errors, errors[-2000:]
    lines = RUNS_LINE.findall(text)
    assert lines or name.startswith(("01", "02")), f"{name} fetched no runs"
    for group, found, planned, folder, missing, note in lines:
        variant = Path(folder or missing).name
        assert re.match(r"([\w-]+-)?(quick|paper|tiny)-", variant), f"{group}: no profile named in {variant!r}"
