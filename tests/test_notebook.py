"""What a notebook does first (bl_utils.notebook.start): which data, where it reads runs, where it writes.
How the experiments find published runs without images (bl_utils.experiments): test_experiments.py."""

from __future__ import annotations

import pytest

from bl_utils import notebook, training_data, words
from bl_utils.data.dataset import DataError
from helpers import publish_run as _publish_run


def test_without_data_notebooks_1_2_use_the_synthetic_stand_in_and_write_under_reports(checkout,
                                                                                         monkeypatch, capsys):
    monkeypatch.setattr(training_data, "data_id_of", lambda data: "synthetic-00000000")
    monkeypatch.setattr(notebook, "data_facts", lambda data: {"description": "SYNTHETIC (stub)", "fingerprint": "0", "resized_copy": False})
    nb = notebook.start(None, needs="images")
    assert nb.data == "synthetic" and nb.kind == "synthetic" and nb.smoke and not nb.publishing
    assert nb.figures_dir == checkout / "reports" / "synthetic" / "figures"
    assert "SYNTHETIC" in capsys.readouterr().out


def test_without_data_notebooks_3_5_show_the_published_runs_by_their_data_id(checkout, monkeypatch, capsys):
    _publish_run(checkout / "results", "busi-1234abcd", "table1", "ce", 0)
    monkeypatch.setattr(training_data, "data_id_of", lambda data: pytest.fail("no image may be read"))
    nb = notebook.start(None, needs="runs", profile="auto")
    assert nb.data is None and nb.data_id == "busi-1234abcd" and nb.kind == "busi" and not nb.has_images
    assert nb.runs_dir == checkout / "reports" / "published-auto" / "runs"
    assert nb.published_dir == checkout / "results" and nb.tables_dir == checkout / "reports" / "published-auto"
    assert "BUSI is not at hand" in capsys.readouterr().out
    assert nb.images_missing("Figure 4") and 'DATA = "kaggle"' in capsys.readouterr().out


def test_only_busi_is_published(checkout, monkeypatch):
    monkeypatch.setenv(notebook.PUBLISH_ENV, "1")
    monkeypatch.setattr(training_data, "data_id_of", lambda data: "synthetic-00000000")
    with pytest.raises(ValueError, match="only a run on BUSI"):
        notebook.start("synthetic", needs="images")


def test_a_publication_writes_figures_and_results_of_the_checkout(checkout, monkeypatch):
    monkeypatch.setenv(notebook.PUBLISH_ENV, "1")
    monkeypatch.setattr(training_data, "data_id_of", lambda data: "busi-1234abcd")
    monkeypatch.setattr(notebook, "data_facts", lambda data: {"description": "BUSI (stub)", "fingerprint": "0", "resized_copy": False})
    nb = notebook.start("/somewhere/busi", needs="runs", profile="auto")
    assert nb.publishing and nb.figures_dir == checkout / "figures"
    assert nb.runs_dir == nb.tables_dir == nb.published_dir == checkout / "results"


def test_the_data_source_is_resolved_on_first_use_and_kept(checkout, monkeypatch, tiny):
    monkeypatch.setattr(training_data, "data_id_of", lambda data: "busi-1234abcd")
    monkeypatch.setattr(notebook, "data_facts", lambda data: {"description": "BUSI (stub)", "fingerprint": "0", "resized_copy": False})
    asked = []
    resolve = notebook.resolve_data
    monkeypatch.setattr(notebook, "resolve_data", lambda data: asked.append(data) or resolve(data))
    nb = notebook.start(str(tiny), needs="images")
    assert asked == []                                                   # not resolved by start
    assert nb.source.kind == "busi" and nb.source.root == tiny and "6 images" in nb.source.description
    assert nb.source is nb.source and asked == [str(tiny)]               # resolved once, then kept


def test_without_images_the_data_source_says_how_to_get_busi(checkout, monkeypatch):
    _publish_run(checkout / "results", "busi-1234abcd", "table1", "ce", 0)
    monkeypatch.setattr(notebook, "resolve_data", lambda data: pytest.fail("nothing may be resolved"))
    nb = notebook.start(None, needs="runs", profile="auto")
    with pytest.raises(DataError, match="no data source") as info:
        nb.source
    assert words.GET_BUSI in str(info.value)


def test_answer_columns_make_one_table_per_strategy_with_the_bottom_lines_above(tmp_path):
    first, second = notebook.ANSWER_COLUMNS[:2]
    notebook.write_answer_column(tmp_path, second, {"ce+bl": "b"}, "On B, something.")
    path = notebook.write_answer_column(tmp_path, first, {"ce": "reference", "ce+bl": "a"}, "On A, nothing.")
    text = path.read_text()
    assert text.index("On A, nothing.") < text.index("On B, something.") < text.index("| strategy |")
    header = text.splitlines()[4]
    assert header == f"| strategy | {first} | {second} |"                 # columns in ANSWER_COLUMNS' order
    assert "| ce+bl | a | b |" in text and "| ce | reference | – |" in text
    with pytest.raises(ValueError, match="column must be one of"):
        notebook.write_answer_column(tmp_path, "another column", {})
