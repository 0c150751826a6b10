"""Tests of the shared plumbing: atomic writes, seeding, device choice, project root, metadata."""

import os
import json

import numpy as np
import pytest
import torch

from bl_utils import runtime


def test_atomic_write_replaces_only_on_success(tmp_path):
    path = tmp_path / "sub" / "table.csv"
    with runtime.atomic_write(path) as handle:
        handle.write("old\n")
    with pytest.raises(RuntimeError):
        with runtime.atomic_write(path) as handle:
            handle.write("half-written")
            raise RuntimeError("killed")
    assert path.read_text() == "old\n"
    assert [p.name for p in path.parent.iterdir()] == ["table.csv"]  # no temporary left behind


def test_atomic_write_never_creates_a_file_on_failure(tmp_path):
    path = tmp_path / "never.bin"
    with pytest.raises(ValueError):
        with runtime.atomic_write(path, "wb"):
            raise ValueError
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_seed_everything_reproduces_every_generator():
    def draw():
        return (np.random.rand(3), torch.rand(3), __import__("random").random())

    runtime.seed_everything(7)
    first = draw()
    runtime.seed_everything(7)
    second = draw()
    np.testing.assert_array_equal(first[0], second[0])
    assert torch.equal(first[1], second[1]) and first[2] == second[2]


def test_get_device_honours_preference_and_environment(monkeypatch):
    assert runtime.get_device("cpu").type == "cpu"
    monkeypatch.setenv("BL_DEVICE", "cpu")
    assert runtime.get_device().type == "cpu"
    monkeypatch.delenv("BL_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected:
        assert runtime.get_device().type == expected


def test_project_root_finds_the_checkout_from_a_subfolder(tmp_path, monkeypatch):
    monkeypatch.delenv("BL_PROJECT_ROOT", raising=False)
    (tmp_path / "bl_utils").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    assert runtime.project_root(tmp_path / "notebooks") == tmp_path
    other = tmp_path.parent / (tmp_path.name + "_other")  # no checkout above: the folder itself
    other.mkdir()                                          # (as in Colab's /content)
    assert runtime.project_root(other) == other


def test_run_metadata_is_json_and_complete(tmp_path):
    meta = runtime.run_metadata({"lr": 1e-3}, device="cpu")
    assert meta["settings"] == {"lr": 1e-3}
    assert meta["device"].startswith("cpu")
    assert torch.__version__.startswith(meta["versions"]["torch"])
    assert torch.backends.cpu.get_cpu_capability() in meta["cpu"]
    assert ("AMX" in meta["cpu_bf16"]) == torch.cpu._is_amx_tile_supported()
    path = runtime.write_json(tmp_path / "run.json", meta)
    assert json.loads(path.read_text())["settings"]["lr"] == 1e-3


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        with runtime.atomic_write(tmp_path / "figure.png", "wb") as handle:
            handle.write(b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "figure.png").stat().st_mode) == 0o644


class _FakeDevice:
    def __init__(self, kind):
        self.type = kind


@pytest.mark.parametrize("kind, native, expected", [
    ("cuda", True, "bf16"),     # an A100/H100: bf16 is native
    ("cuda", False, "fp16"),    # a T4 (Colab's free tier) only emulates bf16: fp16 with loss scaling
    ("cpu", True, "bf16"),      # a CPU with AMX or AVX512-BF16
    ("cpu", False, "off"),      # an AVX2 CPU: bf16 would be emulated, 2-3x slower than fp32
    ("mps", False, "off"),
])
def test_auto_mixed_precision_uses_bf16_only_where_it_is_native(monkeypatch, kind, native, expected):
    import torch

    if kind == "cuda":
        calls = []

        def is_bf16_supported(including_emulation=True):
            calls.append(including_emulation)
            return native or including_emulation        # emulation would say yes on a T4

        monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    else:
        for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
            monkeypatch.setattr(torch.cpu, name, lambda native=native: native, raising=False)
    assert runtime.select_amp(_FakeDevice(kind)) == expected
    if kind == "cuda":
        assert calls == [False]                         # emulation is excluded explicitly
    assert runtime.select_amp(_FakeDevice(kind), "fp16") == "fp16"    # an explicit choice wins
    with pytest.raises(ValueError, match="amp must be"):
        runtime.select_amp(_FakeDevice(kind), "fp8")


def test_set_environment_sets_unsets_and_gives_back_what_was_there(monkeypatch):
    from bl_utils.runtime import set_environment

    monkeypatch.setenv("BL_TEST_A", "old")
    monkeypatch.delenv("BL_TEST_B", raising=False)
    previous = set_environment({"BL_TEST_A": None, "BL_TEST_B": "new"})
    assert previous == {"BL_TEST_A": "old", "BL_TEST_B": None}
    assert "BL_TEST_A" not in os.environ and os.environ["BL_TEST_B"] == "new"
    set_environment(previous)
    assert os.environ["BL_TEST_A"] == "old" and "BL_TEST_B" not in os.environ


def test_git_commit_names_the_code_that_runs_wherever_the_working_directory_is(tmp_path, monkeypatch):
    """A campaign started from a folder outside the checkout still records the commit of the bl_utils
    it imported (git itself is the oracle)."""
    import subprocess
    from pathlib import Path

    package = Path(runtime.__file__).resolve().parent
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=package, capture_output=True, text=True)
    if head.returncode:
        pytest.skip("bl_utils is not in a git checkout here")
    monkeypatch.chdir(tmp_path)                                         # no checkout above tmp_path
    assert runtime.git_commit().split("+")[0] == head.stdout.strip()
    assert runtime.git_commit(tmp_path) is None
