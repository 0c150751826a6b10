"""Tests of bl_utils.threads: the claims training runs leave, how other processes yield, and the fact
that justifies the policy (OpenMP's waiting policy changes no number).

:func:`~bl_utils.threads.share_cores` runs when :mod:`bl_utils` is imported, so its effects are tested
in fresh interpreters (``python -c``) started with an environment built here: no inherited
``OMP_NUM_THREADS`` / ``OMP_WAIT_POLICY`` (this test process's own import of bl_utils may have set
them), and ``BL_CLAIMS_DIR`` pointing at a folder of the test's own claims, so that a training run
elsewhere on the machine changes nothing. Oracles: ``os.sched_getaffinity`` (the cores), the
process table (a finished child's pid is dead), and the printed numbers of two identical epochs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bl_utils import threads

ROOT = Path(__file__).resolve().parents[1]


def dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def write_claim(folder: Path, pid: int, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{pid}.json"
    path.write_text(json.dumps({"pid": pid, "threads": count}))
    return path


def clean_env(claims: Path, **extra: str) -> dict[str, str]:
    """This process's environment without the OpenMP settings, the claims folder ``claims``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "BL_CLAIMS_DIR", threads.SHARED_ENV)}
    env["BL_CLAIMS_DIR"] = str(claims)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**env, **extra}


def run_python(code: str, env: dict[str, str], timeout: float = 300) -> dict:
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Claims


def test_claimed_elsewhere_counts_live_claims_and_removes_dead_ones(tmp_path, monkeypatch):
    folder = tmp_path / "claims"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = write_claim(folder, sleeper.pid, 3)
        other = write_claim(folder, os.getppid(), 2)                 # the parent of pytest: alive
        own = write_claim(folder, os.getpid(), 5)                    # this process's own claim: not "elsewhere"
        dead = write_claim(folder, dead_pid(), 7)
        (folder / "garbage.json").write_text("{not json")          # unreadable claims are ignored
        (folder / "nopid.json").write_text(json.dumps({"threads": 4}))
        (folder / "notes.txt").write_text(json.dumps({"pid": sleeper.pid, "threads": 11}))   # not a claim
        assert threads.claimed_elsewhere(folder) == 3 + 2
        assert not dead.exists() and live.exists() and other.exists() and own.exists()
        monkeypatch.setenv("BL_CLAIMS_DIR", str(folder))
        assert threads.claims_dir() == folder
        assert threads.claimed_elsewhere() == 5
    finally:
        sleeper.kill()
        sleeper.wait()
    assert threads.claimed_elsewhere(folder) == 2                    # the sleeper's claim is now a dead one
    assert not live.exists()


def test_claimed_elsewhere_counts_a_process_it_may_not_signal(tmp_path, monkeypatch):
    """Another user's process (os.kill raises PermissionError) is alive."""
    folder = tmp_path / "claims"
    write_claim(folder, 424242, 2)

    def kill(pid, signal):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(threads.os, "kill", kill)
    assert threads.claimed_elsewhere(folder) == 2


def test_no_claims_folder_is_no_claim(tmp_path, monkeypatch):
    assert threads.claimed_elsewhere(tmp_path / "absent") == 0
    monkeypatch.setenv("BL_CLAIMS_DIR", str(tmp_path / "absent"))
    assert threads.claimed_elsewhere() == 0


@pytest.fixture
def torch_threads():
    """Restores this process's torch thread count after a test that changes it."""
    import torch

    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def test_claim_cores_leaves_a_claim_while_inside_and_removes_it(tmp_path, monkeypatch, torch_threads):
    torch = torch_threads
    folder = tmp_path / "claims"
    monkeypatch.setenv("BL_CLAIMS_DIR", str(folder))
    monkeypatch.setattr(threads, "_LOWERED", None)                  # whatever trains elsewhere on this machine
    count = torch.get_num_threads()
    with threads.claim_cores() as inside:
        path = folder / f"{os.getpid()}.json"
        assert inside == count == torch.get_num_threads()            # the count is kept
        assert json.loads(path.read_text()) == {"pid": os.getpid(), "threads": count}
        assert threads.claimed_elsewhere() == 0                      # its own claim is not "elsewhere"
        seen = run_python("""
            import json
            from bl_utils.threads import claimed_elsewhere
            print(json.dumps(claimed_elsewhere()))
        """, clean_env(folder))
        assert seen == count                                         # ... but another process sees it
    assert not path.exists()
    with threads.claim_cores(1) as inside:                           # an explicit count is set
        assert inside == 1 == torch.get_num_threads()
        assert json.loads(path.read_text())["threads"] == 1
    assert not path.exists()


def test_claim_cores_removes_its_claim_on_an_exception(tmp_path, monkeypatch, torch_threads):
    folder = tmp_path / "claims"
    monkeypatch.setenv("BL_CLAIMS_DIR", str(folder))
    with pytest.raises(KeyboardInterrupt):
        with threads.claim_cores(1):
            assert (folder / f"{os.getpid()}.json").exists()
            raise KeyboardInterrupt
    assert list(folder.iterdir()) == []


# --------------------------------------------------------------------------------------------
# share_cores, in a fresh interpreter


PROBE = """
    import json, os, sys
    {first}
    import torch
    from bl_utils import threads
    state = dict(torch=torch.get_num_threads(), policy=os.environ.get("OMP_WAIT_POLICY"),
                 omp=os.environ.get("OMP_NUM_THREADS"), cores=threads.machine_cores(),
                 training=threads.training_threads())
    with threads.claim_cores() as claimed:
        own = json.loads((threads.claims_dir() / f"{{os.getpid()}}.json").read_text())
        state.update(claimed=claimed, inside=torch.get_num_threads(), claim=own["threads"])
    print(json.dumps(state))
"""


@pytest.mark.parametrize("first", ["import bl_utils", "import torch; import bl_utils"],
                         ids=["before torch", "after torch"])
@pytest.mark.parametrize("claimed", [1, 64])
def test_share_cores_yields_to_a_training_run_and_training_takes_its_cores_back(tmp_path, first, claimed):
    claims = tmp_path / "claims"
    write_claim(claims, os.getpid(), claimed)           # this test process "trains" with `claimed` threads
    state = run_python(PROBE.format(first=first), clean_env(claims))
    cores = threads.machine_cores()
    assert state["cores"] == cores == len(os.sched_getaffinity(0))
    assert state["torch"] == max(1, cores - claimed)
    assert state["policy"] == "PASSIVE"
    assert state["omp"] == (str(max(1, cores - claimed)) if first == "import bl_utils" else None)
    # a training run in that lowered process takes every core back, and says so in its claim
    assert state["claimed"] == state["inside"] == state["claim"] == state["training"] == cores


@pytest.mark.skipif(threads.machine_cores() < 2, reason="one core: the user's count and the lowered one coincide")
def test_share_cores_leaves_the_users_thread_count_and_policy(tmp_path):
    claims = tmp_path / "claims"
    write_claim(claims, os.getpid(), 64)                # share_cores alone would lower this process to 1 thread
    state = run_python(PROBE.format(first="import bl_utils"),
                       clean_env(claims, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="ACTIVE"))
    assert state["torch"] == 2 and state["omp"] == "2" and state["policy"] == "ACTIVE"
    assert state["training"] == state["claimed"] == state["inside"] == state["claim"] == 2


def test_a_child_of_a_lowered_process_trains_with_every_core(tmp_path):
    """share_cores's OMP_NUM_THREADS reaches a child (a launched job, a notebook's kernel) as a lowering, not
    as the user's count: the child yields too until it trains, then its training takes every core back."""
    claims = tmp_path / "claims"
    write_claim(claims, os.getpid(), 64)                # the parent and the child would each yield to 1 thread
    probe = textwrap.dedent(PROBE.format(first="import bl_utils"))
    parent = f"""
        import json, os, subprocess, sys
        import bl_utils
        child = subprocess.run([sys.executable, "-c", {probe!r}], capture_output=True, text=True, check=True)
        print(json.dumps(dict(omp=os.environ.get("OMP_NUM_THREADS"), child=json.loads(child.stdout.splitlines()[-1]))))
    """
    state = run_python(parent, clean_env(claims))
    cores, child = threads.machine_cores(), state["child"]
    assert state["omp"] == "1" and child["torch"] == 1 and child["omp"] == "1"
    assert child["training"] == child["claimed"] == child["inside"] == child["claim"] == cores


def test_share_cores_without_training_elsewhere_only_sets_the_policy(tmp_path):
    claims = tmp_path / "claims"
    write_claim(claims, dead_pid(), 1)                   # a killed run's claim counts for nothing
    state = run_python(PROBE.format(first="import bl_utils"), clean_env(claims))
    assert state["omp"] is None and state["policy"] == "PASSIVE"
    assert state["claimed"] == state["inside"] == state["claim"]
    assert sorted(p.name for p in claims.iterdir()) == []                  # the dead claim was removed


# --------------------------------------------------------------------------------------------
# The fact behind the policy: OMP_WAIT_POLICY changes no number


EPOCH = """
    import hashlib, json, os
    import numpy as np
    import torch
    import bl_utils
    from bl_utils.config import TrainConfig
    from bl_utils.distance import batch_signed_distance_maps
    from bl_utils.losses import StrategyLoss
    from bl_utils.schedules import make_strategy
    from bl_utils.train import TrainingState, build_training, train_one_epoch
    from bl_utils.training_data import TrainingData

    n, size = 8, 32
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    masks = np.stack([((yy - rng.uniform(8, 24)) / rng.uniform(3, 8)) ** 2
                      + ((xx - rng.uniform(8, 24)) / rng.uniform(3, 8)) ** 2 <= 1 for _ in range(n)])
    masks[-3:] = False                                         # a few images without tumour
    images = torch.from_numpy((rng.normal(0, 1, masks.shape) - 1.5 * masks).astype(np.float32))[:, None]
    phis = torch.from_numpy((batch_signed_distance_maps(masks[:, None]) / size).astype(np.float32))
    masks = torch.from_numpy(masks.astype(np.float32))[:, None]
    data = TrainingData(images, masks, phis, images[:0], masks[:0], phis[:0], val_uint8=np.zeros((0, size, size), np.uint8),
                        mean=0.0, std=1.0, train_stems=[str(i) for i in range(n)], val_stems=[], val_labels=[],
                        source="random", kind="synthetic", fingerprint="0" * 16, n_images=n, data_fingerprint="0" * 16)
    config = TrainConfig(strategy="rebalance", profile="quick", image_size=size, encoder="resnet18", encoder_weights=None,
                         epochs=3, batch_size=4, device="cpu").resolve(torch.device("cpu"))
    state = TrainingState(*build_training(config, torch.device("cpu"), verbose=False))
    objective = StrategyLoss(make_strategy("rebalance", config.epochs), regional=config.regional)
    losses = train_one_epoch(state, objective, data, config, 1, verbose=False)
    weights = hashlib.sha256(b"".join(p.detach().float().numpy().tobytes() for p in state.model.parameters()))
    print(json.dumps(dict(losses=[float(x).hex() for x in losses], weights=weights.hexdigest(), amp=config.amp,
                          threads=torch.get_num_threads(), policy=os.environ["OMP_WAIT_POLICY"])))
"""


@pytest.mark.slow
def test_the_wait_policy_changes_no_number_of_a_training_epoch(tmp_path):
    """One tiny epoch (8 images of 32², ResNet-18 U-Net, rebalance mid-ramp, the machine's AMP mode)
    with idle OpenMP threads spinning (ACTIVE) and sleeping (PASSIVE), two threads each: the same
    losses and the same weights, bit for bit."""
    results = {policy: run_python(EPOCH, clean_env(tmp_path / "claims", OMP_NUM_THREADS="2", OMP_WAIT_POLICY=policy))
               for policy in ("ACTIVE", "PASSIVE")}
    active, passive = results["ACTIVE"], results["PASSIVE"]
    assert (active["policy"], passive["policy"]) == ("ACTIVE", "PASSIVE")
    assert active["threads"] == passive["threads"] == 2
    total, regional, boundary, _ = (float.fromhex(x) for x in active["losses"])
    assert regional > 0 and total not in (regional, boundary)          # both terms weigh (mid-ramp)
    assert active["losses"] == passive["losses"]
    assert active["weights"] == passive["weights"]
