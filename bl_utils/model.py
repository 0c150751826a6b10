"""The network: segmentation-models-pytorch's U-Net, one input and one output channel.

Odonnat & Pham train ``smp.Unet`` with a ResNet-34 encoder initialised from ImageNet. ImageNet
weights come from a hub at run time; where the hub cannot be reached (these machines, a cluster node
without internet) :func:`build_model` falls back to a seeded random initialisation within seconds and
says so, and :func:`encoder_weights_available` tells the trainer beforehand, so that a run is named by
the weights it really started from (``quick-random``, ``paper-imagenet``).
"""

from __future__ import annotations

import os
import socket
import sys

import torch

__all__ = ["build_model", "encoder_weights_available"]

_IMAGENET_UNAVAILABLE: str | None = None
_WEIGHTS_AVAILABLE: dict[tuple[str, str], bool] = {}


def _hub_reachable(host: str = "huggingface.co", timeout: float = 2.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def build_model(encoder: str = "resnet34", encoder_weights: str | None = "imagenet",
                verbose: bool = True) -> tuple[torch.nn.Module, str | None]:
    """``smp.Unet(encoder)`` with 1 input and 1 output channel; returns ``(model, weights_used)``.

    ImageNet weights are fetched when the hub can be reached (or are already cached); offline, the
    model falls back to random initialisation within seconds, says so, and ``weights_used`` is
    ``None``. The caller seeds torch first, so the random initialisation is reproducible.
    """
    import segmentation_models_pytorch as smp

    global _IMAGENET_UNAVAILABLE
    rng_state = torch.get_rng_state()   # smp draws the encoder's init before fetching weights
    if encoder_weights and _IMAGENET_UNAVAILABLE is None:
        offline = not _hub_reachable()
        previous = os.environ.get("HF_HUB_OFFLINE")
        hub_constants = sys.modules.get("huggingface_hub.constants")
        previous_flag = getattr(hub_constants, "HF_HUB_OFFLINE", None)
        if offline:  # only a local cache can help; don't wait for retries
            os.environ["HF_HUB_OFFLINE"] = "1"
            if hub_constants is not None:  # read once at import: the variable alone is too late
                hub_constants.HF_HUB_OFFLINE = True
        try:
            return smp.Unet(encoder, encoder_weights=encoder_weights, in_channels=1, classes=1), encoder_weights
        except Exception as error:  # offline, blocked, or a cache miss
            _IMAGENET_UNAVAILABLE = f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
        finally:
            if offline:
                if previous is None:
                    os.environ.pop("HF_HUB_OFFLINE", None)
                else:
                    os.environ["HF_HUB_OFFLINE"] = previous
                if hub_constants is not None:
                    hub_constants.HF_HUB_OFFLINE = previous_flag
    torch.set_rng_state(rng_state)   # the fallback's initialisation = that of encoder_weights=None
    if encoder_weights and verbose:
        print(f"NOTE: {encoder_weights} weights for {encoder} could not be fetched "
              f"({_IMAGENET_UNAVAILABLE}); training from RANDOM initialisation. Odonnat & Pham "
              "started from ImageNet weights; run with internet access to do the same.")
    return smp.Unet(encoder, encoder_weights=None, in_channels=1, classes=1), None


def encoder_weights_available(encoder: str, weights: str) -> bool:
    """Whether ``weights`` for ``encoder`` can be loaded here (hub reachable, or cached); asked
    once per process and pair. Leaves torch's random state untouched."""
    key = (encoder, weights)
    if key not in _WEIGHTS_AVAILABLE:
        rng_state = torch.get_rng_state()
        try:
            _WEIGHTS_AVAILABLE[key] = build_model(encoder, weights, verbose=False)[1] is not None
        finally:
            torch.set_rng_state(rng_state)
    return _WEIGHTS_AVAILABLE[key]
