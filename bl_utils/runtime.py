"""Where and how the report runs: device, seeds, folders, atomic writes and run metadata.

Everything here is plumbing that every notebook and the training loop share, written once:

* :func:`get_device` picks CUDA, then Apple MPS, then the CPU (never a hard-coded ``cuda:0``);
* :func:`seed_everything` seeds Python, NumPy and torch in one call;
* :func:`project_root` finds the checkout, so that notebooks write ``figures/`` and ``results/``
  beside the code whatever their working directory (on Colab: the working directory);
* :func:`atomic_write` writes a file under a temporary name and renames it on success, so that a
  killed run never leaves a half-written file that looks complete;
* :func:`run_metadata` records settings, package versions, git commit and device beside results.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

#: Packages whose versions are printed by notebooks and recorded in every run.
TRACKED_PACKAGES = (
    "torch", "torchvision", "segmentation-models-pytorch", "numpy", "scipy",
    "pillow", "matplotlib", "pandas", "ipywidgets",
)


def get_device(prefer: str | None = None):
    """Return the best available ``torch.device``: CUDA, then Apple MPS, then CPU.

    ``prefer`` (e.g. ``"cpu"``) forces a device; the environment variable ``BL_DEVICE`` does the
    same for a whole run (``BL_DEVICE=cpu python -m bl_utils report``).
    """
    import torch

    choice = prefer or os.environ.get("BL_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device) with ``seed``."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The checkout this report lives in, or the working directory when there is none.

    Walks up from ``start`` (default: the working directory) to the first folder holding both
    ``pyproject.toml`` and ``bl_utils/``. ``BL_PROJECT_ROOT`` overrides the search. On Colab, where
    the package is installed from git and the notebook runs in ``/content``, this returns the
    working directory, so figures and results land next to the notebook.
    """
    if os.environ.get("BL_PROJECT_ROOT"):
        return Path(os.environ["BL_PROJECT_ROOT"]).resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "bl_utils").is_dir():
            return folder
    return here


def display_path(path: str | os.PathLike) -> str:
    """``path`` relative to :func:`project_root` when inside it or beside it (``../shared/...``), so
    that messages read the same on every machine; else absolute."""
    resolved, root = Path(path).resolve(), project_root().resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        pass
    try:
        return "../" + resolved.relative_to(root.parent).as_posix()
    except ValueError:
        return str(path)


def set_environment(values: dict[str, str | None]) -> dict[str, str | None]:
    """Set each variable of ``values`` in ``os.environ`` (``None``: unset it); return their previous
    values in the same form, so that ``set_environment(previous)`` puts them back."""
    previous = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return previous


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[Any]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block succeeds.

    >>> with atomic_write("results/table.csv") as f:   # doctest: +SKIP
    ...     f.write("strategy,dice\\n")

    On an exception (or a ``kill -9``) ``path`` keeps its old content, or stays absent; the
    temporary file is removed when Python still can. ``mode`` is ``"w"`` or ``"wb"``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (``"not installed"`` for those missing), plus Python's."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(folder: str | os.PathLike | None = None) -> str | None:
    """The git commit of the checkout at ``folder`` (``+dirty`` when it has local changes), or None.
    Default: the checkout this ``bl_utils`` was imported from, i.e. the code that runs, wherever the
    working directory is (None for an installed copy outside git)."""
    folder = Path(folder or Path(__file__).resolve().parent)
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def describe_device(device=None) -> str:
    """A one-line, human description of ``device`` (default: :func:`get_device`)."""
    import torch

    device = torch.device(device) if device is not None else get_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def run_metadata(settings: dict[str, Any] | None = None, device=None) -> dict[str, Any]:
    """Everything needed to know how a result was produced, as a JSON-serialisable dict.

    Keys: ``settings`` (as given), ``versions``, ``git_commit``, ``device``, ``platform``, ``cpu`` and
    ``cpu_bf16`` (:func:`cpu_facts`: the same seed gives another run on a CPU with other bf16
    kernels), ``created`` (UTC, ISO 8601).
    """
    return {
        "settings": settings or {},
        "versions": package_versions(),
        "git_commit": git_commit(),
        "device": describe_device(device),
        "platform": platform.platform(),
        **cpu_facts(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically; return the path."""
    with atomic_write(path) as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")
    return Path(path)


def _native_bf16(device) -> bool:
    """Whether bf16 autocast is native (fast) on ``device``. CUDA: compute capability ≥ 8 (torch's
    ``is_bf16_supported(including_emulation=False)``; a T4 only emulates bf16). CPU: AMX or
    AVX512-BF16; elsewhere the CPU emulates bf16 and a step is 2–3× slower than fp32."""
    import torch

    if device.type == "cuda":
        try:
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:   # torch < 2.3 has no including_emulation; capability 8+ is native
            return torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        return cpu_facts()["cpu_bf16"] != "emulated"
    return False


def select_amp(device, requested: str = "auto") -> str:
    """The mixed-precision mode for ``device``: ``requested`` unless ``"auto"``, which gives bf16
    where it is native, fp16 (with loss scaling) on other CUDA GPUs, and ``"off"`` (fp32) elsewhere."""
    if requested not in ("auto", "bf16", "fp16", "off"):
        raise ValueError(f"amp must be 'auto', 'bf16', 'fp16' or 'off', got {requested!r}")
    if requested != "auto":
        return requested
    if _native_bf16(device):
        return "bf16"
    return "fp16" if device.type == "cuda" else "off"


def cpu_facts() -> dict[str, str]:
    """The processor, ``cpu`` (model and the instruction set torch's kernels use, e.g. ``"Intel(R)
    Xeon(R) Processor · AVX512"``), and ``cpu_bf16``, what runs bf16 matrix products (``"AMX"``,
    ``"AVX512-BF16"`` or ``"emulated"``): bf16 runs give different numbers from the first step on
    CPUs whose kernels differ, even with the same seed and code."""
    import torch

    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")]
        name = models[0] if models else name
    bf16 = [label for label, probe in (("AMX", "_is_amx_tile_supported"), ("AVX512-BF16", "_is_avx512_bf16_supported"))
            if getattr(torch.cpu, probe, lambda: False)()]
    return {"cpu": f"{name} · {torch.backends.cpu.get_cpu_capability()}", "cpu_bf16": " and ".join(bf16) or "emulated"}


def machine_line(device=None) -> str:
    """One line for benchmark output: torch, the device, CPU count, processor and load average."""
    import torch

    cpu = cpu_facts()
    load = " · load average %.1f %.1f %.1f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    return (f"torch {torch.__version__} · {describe_device(device)} · {os.cpu_count()} CPUs · "
            f"{cpu['cpu']} · bf16: {cpu['cpu_bf16']}{load}")


def print_environment(device=None) -> None:
    """Print Python and package versions and the device in use (the imports cell of each notebook)."""
    versions = package_versions()
    print(" · ".join(f"{name} {version}" for name, version in versions.items()))
    print(f"device: {describe_device(device)}" + ("  [Colab]" if "google.colab" in sys.modules else ""))
