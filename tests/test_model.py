"""Tests of the model (bl_utils.model): ImageNet weights that cannot be fetched fall back, quickly, to the
seeded random initialisation (conftest.py's offline_hub: no network, an empty hub cache).
"""

from __future__ import annotations

import time

import pytest
import torch

from bl_utils import model as bl_model

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


def test_imagenet_weights_offline_fall_back_to_seeded_random_init_quickly(offline_hub, capsys):
    torch.manual_seed(0)
    start = time.perf_counter()
    model, used = bl_model.build_model("resnet18", "imagenet")
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n[offline ImageNet fallback took {seconds:.2f} s]")
    # well under 30 s: without offline mode the hub client's retries alone take ~25 s here
    assert seconds < 10
    assert used is None
    message = capsys.readouterr().out
    assert "imagenet weights for resnet18 could not be fetched" in message and "RANDOM" in message
    # the same initialisation as asking for no weights: the failed attempt used no random numbers
    torch.manual_seed(0)
    plain, _ = bl_model.build_model("resnet18", None)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), plain.state_dict().values()))
