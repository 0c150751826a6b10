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


def _published_runs():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "results"
    return [(p.parent, json.loads(p.read_text())) for p in sorted(root.rglob("run.json"))]


def test_every_published_run_resolves_to_its_folder_and_recorded_settings():
    """The defaults (TrainConfig() is the study protocol; every protocol spelled out in full) name
    every committed run folder as it was named, with the settings it recorded: no run needs retraining."""
    import dataclasses

    runs = _published_runs()
    assert len(runs) >= 134
    fields = {f.name for f in dataclasses.fields(bl_config.TrainConfig)}
    for folder, meta in runs:
        settings = dict(meta["settings"])
        protocol = settings.get("protocol", "earlier")
        given = {k: v for k, v in settings.items() if k in fields and k != "protocol"}
        config = bl_config.TrainConfig.of_protocol(protocol, **given).resolve(torch.device("cpu"))
        data_root = folder.parents[3 if "fold" in settings else 2]
        assert bl_config.run_folder(config, data_root.parent, data_root.name) == folder
        recorded = {k: v for k, v in settings.items() if k not in ("profile", "data_fingerprint")}
        assert config.result_settings() == recorded, folder


def test_the_default_config_is_the_study_protocol():
    default = bl_config.TrainConfig()
    study = bl_config.TrainConfig.of_protocol("study")
    assert default == study and default.protocol == "study"
    for key, value in bl_config.PROTOCOLS["study"].items():
        assert getattr(default, key) == value
    for name, settings in bl_config.PROTOCOLS.items():   # every protocol spelled out in full
        assert set(settings) == set(bl_config.PROTOCOL_KEYS), name
