"""How processes of this package share the CPU cores: training keeps its threads, everything else yields.

Two torch processes on two cores slowed each other 8× per training step here (measured with
``benchmarks/bench_threads.py``: a quick-profile step, U-Net ResNet-18 at 128², batch 16, bf16,
on an AMD EPYC with AVX512-BF16): OpenMP's idle threads spin between parallel regions (libgomp's
default waiting policy), and four threads on two cores wait at every barrier for a thread the
scheduler has parked. Two rules, applied when :mod:`bl_utils` is imported (:func:`share_cores`):

* **Idle OpenMP threads sleep** (``OMP_WAIT_POLICY=PASSIVE``, unless already set): this changes no
  number (the arithmetic is the same; a training epoch was checked bit for bit) and alone brings
  the cost from 8× to ~4.7×.
* **Training owns its cores.** A training run (:func:`claim_cores`, used by
  :func:`bl_utils.train.train`) never computes with fewer threads because something else runs: the
  thread count changes a run's numbers (bf16 reductions split differently), so it stays torch's
  default, the cores this process may use (or what the user set), recorded as the run's
  ``threads`` and part of its machine (:func:`bl_utils.runs.machine_of`). While it trains it
  leaves a claim in :func:`claims_dir`; a process of this package started meanwhile (a test, a
  notebook, the report) takes the cores left, at least one. With one core each the pair costs
  ~2× one step alone, the fair share.

Nothing here is needed for correctness: without it the numbers are the same, only slower.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["WAIT_POLICY", "SHARED_ENV", "machine_cores", "claims_dir", "claimed_elsewhere", "share_cores", "training_threads",
           "claim_cores"]

#: The OpenMP waiting policy this package asks for (when nobody else set one).
WAIT_POLICY = "PASSIVE"
#: Where :func:`share_cores` notes the ``OMP_NUM_THREADS`` it set, so that a child process (a launched job, a
#: notebook's kernel) inherits the lowering as a lowering, not as the user's setting.
SHARED_ENV = "BL_SHARED_THREADS"
if os.environ.get(SHARED_ENV) is not None and os.environ.get(SHARED_ENV) == os.environ.get("OMP_NUM_THREADS"):
    del os.environ["OMP_NUM_THREADS"]         # a parent's lowering: this process decides its own
os.environ.pop(SHARED_ENV, None)
#: ``OMP_NUM_THREADS`` as the user gave it, before :func:`share_cores` changed anything (``None``: unset).
_USER_THREADS = os.environ.get("OMP_NUM_THREADS")
#: The thread count :func:`share_cores` lowered this process to (``None``: it changed nothing), and the
#: ``OMP_NUM_THREADS`` value it set for that (``None``: it set none).
_LOWERED: int | None = None
_SET_ENV: str | None = None


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity; ``os.cpu_count()`` where unknown)."""
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def claims_dir() -> Path:
    """Where training runs leave their claims: ``<temp>/bl_utils-cores`` (``BL_CLAIMS_DIR`` overrides)."""
    return Path(os.environ.get("BL_CLAIMS_DIR") or Path(tempfile.gettempdir()) / "bl_utils-cores")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's process: alive
        return True
    return True


def claimed_elsewhere(folder: Path | None = None) -> int:
    """Threads claimed by live training runs of other processes (claims of dead ones are ignored
    and removed)."""
    folder = folder or claims_dir()
    total = 0
    for path in folder.glob("*.json") if folder.is_dir() else ():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            claim = json.loads(path.read_text())
            pid = int(claim["pid"])
            if pid == os.getpid():
                continue
            if _alive(pid):
                total += int(claim["threads"])
            else:
                path.unlink(missing_ok=True)
    return total


def share_cores() -> int | None:
    """Apply the two rules of this module to the current process; return the thread count it set
    (``None`` when it left the count alone: no training elsewhere, or the user set ``OMP_NUM_THREADS``).

    Sets ``OMP_WAIT_POLICY`` unless set (it takes effect only if torch is not imported yet). When
    other processes train, this one takes ``max(1, cores − their threads)``: through
    ``OMP_NUM_THREADS`` before torch is imported (noted in :data:`SHARED_ENV`, so that a child
    process does not take the lowered count for the user's), ``torch.set_num_threads`` after.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    if _USER_THREADS is not None:
        return None
    busy = claimed_elsewhere()
    if not busy:
        return None
    global _LOWERED, _SET_ENV
    threads = _LOWERED = max(1, machine_cores() - busy)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = os.environ[SHARED_ENV] = _SET_ENV = str(threads)
    return threads


def training_threads() -> int:
    """The threads a training run computes with: ``OMP_NUM_THREADS`` as the user set it (now, or when
    the package was imported; not the value :func:`share_cores` set), else every core this process may
    use (:func:`machine_cores`), whatever else runs (see the module's text)."""
    now = os.environ.get("OMP_NUM_THREADS")
    for value in (now if now != _SET_ENV else None, _USER_THREADS):
        if value is not None:
            with contextlib.suppress(ValueError):
                return max(1, min(int(value.split(",")[0]), machine_cores()))
    return machine_cores()


@contextlib.contextmanager
def claim_cores(threads: int | None = None) -> Iterator[int]:
    """Train inside this: undoes :func:`share_cores`'s lowering of this process (back to
    :func:`training_threads`; a count set otherwise, by ``torch.set_num_threads`` or the user's
    ``OMP_NUM_THREADS``, is kept) or sets ``threads`` when given, and leaves a claim that processes
    started meanwhile read; the claim is removed on exit (a killed process's claim is ignored by the
    others). Yields the thread count. (A count set by hand that equals the lowered one is taken for
    the lowering: set ``OMP_NUM_THREADS`` to keep it.)"""
    import torch

    if threads is None and _LOWERED is not None and torch.get_num_threads() == _LOWERED:
        threads = training_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    folder = claims_dir()
    path = folder / f"{os.getpid()}.json"
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pid": os.getpid(), "threads": threads}))
    try:
        yield threads
    finally:
        path.unlink(missing_ok=True)
