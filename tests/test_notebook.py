"""What a notebook does first (bl_utils.notebook.start): which data, where it reads runs, where it writes;
and how the study finds published runs without images (bl_utils.study.obtain, published_data_id)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bl_utils import notebook, study
from bl_utils.config import TrainConfig, run_folder


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """An empty checkout (pyproject.toml, bl_utils/, results/) with no BUSI_DIR and no publication."""
    (tmp_path / "bl_utils").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "results").mkdir()
    for name in ("BUSI_DIR", "BL_PUBLISH", "BL_PROJECT_ROOT", "BL_RESULTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BL_PROJECT_ROOT", str(tmp_path))
    return tmp_path


def _publish_run(results: Path, data_id: str, experiment: str, strategy: str, seed: int) -> Path:
    """A complete (minimal) run folder of ``experiment`` as it is defined, under ``results``."""
    config = study.config_of(experiment, "synthetic", encoder_weights=None, strategy=strategy, seed=seed).resolve()
    folder = run_folder(config, results, data_id)
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"settings": {"strategy": strategy, "seed": seed}, "best": {}}))
    (folder / "metrics.csv").write_text("epoch\n1\n")
    return folder


def test_without_data_notebooks_1_2_use_the_synthetic_stand_in_and_write_under_reports(checkout,
                                                                                         monkeypatch, capsys):
    monkeypatch.setattr(study, "data_id_of", lambda data: "synthetic-00000000")
    monkeypatch.setattr(study, "data_facts", lambda data: {"description": "SYNTHETIC (stub)", "fingerprint": "0", "resized_copy": False})
    nb = notebook.start(None, needs="images")
    assert nb.data == "synthetic" and nb.kind == "synthetic" and nb.smoke and not nb.publishing
    assert nb.figures_dir == checkout / "reports" / "synthetic" / "figures"
    assert "SYNTHETIC" in capsys.readouterr().out


def test_without_data_notebooks_3_5_show_the_published_runs_by_their_data_id(checkout, monkeypatch, capsys):
    _publish_run(checkout / "results", "busi-1234abcd", "table1", "ce", 0)
    monkeypatch.setattr(study, "data_id_of", lambda data: pytest.fail("no image may be read"))
    nb = notebook.start(None, needs="runs", profile="auto")
    assert nb.data is None and nb.data_id == "busi-1234abcd" and nb.kind == "busi" and not nb.has_images
    assert nb.runs_dir == checkout / "reports" / "published-auto" / "runs"
    assert nb.published_dir == checkout / "results" and nb.tables_dir == checkout / "reports" / "published-auto"
    assert "BUSI is not at hand" in capsys.readouterr().out
    assert nb.images_missing("Figure 4") and 'DATA = "kaggle"' in capsys.readouterr().out


def test_the_published_runs_are_shown_when_this_machine_has_none(checkout, monkeypatch, capsys):
    results = checkout / "results"
    for seed in study.EXPERIMENTS["paper"].seeds:
        for strategy in study.EXPERIMENTS["paper"].strategies:
            _publish_run(results, "busi-1234abcd", "paper", strategy, seed)
    # as on a GPU with internet: ImageNet weights and the paper profile, whose runs are not committed
    monkeypatch.setattr(TrainConfig, "resolve", lambda self, device=None: _resolved(self, "imagenet"))
    found = study.obtain("paper", None, checkout / "reports" / "runs", data_id="busi-1234abcd", published=results)
    line = capsys.readouterr().out
    assert len(found) == 4 and "4 of 4 runs from results/busi-1234abcd/paper-random" in line
    assert "the published runs; this machine's settings" in line and "make them" not in line


_ORIGINAL_RESOLVE = TrainConfig.resolve


def _resolved(config: TrainConfig, weights: str):
    """``resolve()`` as on a machine where ``weights`` can be downloaded (None keeps them off)."""
    import dataclasses

    resolved = _ORIGINAL_RESOLVE(dataclasses.replace(config, encoder_weights=None))
    return dataclasses.replace(resolved, encoder_weights=weights if config.encoder_weights else None)


def test_runs_on_several_copies_of_busi_must_be_told_apart(checkout):
    assert study.published_data_id(checkout / "results") is None
    _publish_run(checkout / "results", "busi-1234abcd", "table1", "ce", 0)
    _publish_run(checkout / "results", "busi-99999999", "table1", "ce", 0)
    with pytest.raises(ValueError, match="several data"):
        study.published_data_id(checkout / "results")


def test_only_busi_is_published(checkout, monkeypatch):
    monkeypatch.setenv(notebook.PUBLISH_ENV, "1")
    monkeypatch.setattr(study, "data_id_of", lambda data: "synthetic-00000000")
    with pytest.raises(ValueError, match="only a run on BUSI"):
        notebook.start("synthetic", needs="images")


def test_a_publication_writes_figures_and_results_of_the_checkout(checkout, monkeypatch):
    monkeypatch.setenv(notebook.PUBLISH_ENV, "1")
    monkeypatch.setattr(study, "data_id_of", lambda data: "busi-1234abcd")
    monkeypatch.setattr(study, "data_facts", lambda data: {"description": "BUSI (stub)", "fingerprint": "0", "resized_copy": False})
    nb = notebook.start("/somewhere/busi", needs="runs", profile="auto")
    assert nb.publishing and nb.figures_dir == checkout / "figures"
    assert nb.runs_dir == nb.tables_dir == nb.published_dir == checkout / "results"
