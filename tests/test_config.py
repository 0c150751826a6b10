"""Tests of a run's configuration (bl_utils.config): an ImageNet request that cannot be met offline is keyed
as random initialisation, and α in pixel units takes the factor Φ_G does.
"""

from __future__ import annotations

import torch

from bl_utils import config as bl_config
from helpers import tiny_config


def test_offline_imagenet_request_is_keyed_as_random_init(offline_hub, tiny_data, cache_dir):
    resolved = tiny_config(tiny_data, cache_dir, encoder_weights="imagenet").resolve(torch.device("cpu"))
    assert resolved.encoder_weights is None
    assert bl_config.variant_name(resolved).startswith("quick-random+")


def test_alpha_in_pixel_units_applies_the_same_factor_as_phi():
    assert bl_config.alpha_in_pixel_units(1.0, "image", 128) == 1 / 128
    assert bl_config.alpha_in_pixel_units(1.0, "pixel", 128) == 1.0
    assert bl_config.alpha_in_pixel_units(1.0, "pixel256", 128) == 2.0      # Φ_G × 256/128 at the quick size
