"""Tests of the report runner: parameter injection and executing a notebook in a real kernel."""

import nbformat
import pytest

from bl_utils import report


def _notebook(*sources, tag_first=True):
    cells = [nbformat.v4.new_code_cell(src) for src in sources]
    if tag_first:
        cells[0].metadata["tags"] = ["parameters"]
    return nbformat.v4.new_notebook(cells=cells)


def test_injected_parameters_follow_the_parameters_cell_and_replace_earlier_ones():
    nb = _notebook("EPOCHS = 20", "print(EPOCHS)")
    report.inject_parameters(nb, {"EPOCHS": 5, "DATA": "x"})
    report.inject_parameters(nb, {"EPOCHS": 3})
    assert [c.source.splitlines()[-1] for c in nb.cells] == ["EPOCHS = 20", "EPOCHS = 3", "print(EPOCHS)"]
    assert nb.cells[1].metadata["tags"] == ["injected-parameters"]


def test_injection_without_a_parameters_cell_says_how_to_tag_one():
    with pytest.raises(ValueError, match="tagged 'parameters'"):
        report.inject_parameters(_notebook("x = 1", tag_first=False), {"x": 2})


@pytest.mark.parametrize("text, value", [("5", 5), ("0.1", 0.1), ("True", True), ("quick", "quick"),
                                         ("'a b'", "a b")])
def test_parse_value(text, value):
    assert report.parse_value(text) == value


def test_execute_notebook_saves_outputs_and_leaves_a_failing_one_untouched(tmp_path):
    good = tmp_path / "01_good.ipynb"
    nbformat.write(_notebook("N = 2", "print(N * 21)"), good)
    report.execute_notebook(good, good, {"N": 1})
    executed = nbformat.read(good, 4)
    assert executed.cells[-1].outputs[0]["text"] == "21\n"

    bad = tmp_path / "02_bad.ipynb"
    nbformat.write(_notebook("N = 1", "raise RuntimeError('boom')"), bad)
    before = bad.read_text()
    with pytest.raises(Exception, match="boom"):
        report.execute_notebook(bad, bad)
    assert bad.read_text() == before
    assert report.notebook_paths(tmp_path) == [good, bad]
    assert report.notebook_paths(tmp_path, ["02"]) == [bad]


def test_readme_table_is_replaced_between_the_markers_only(tmp_path):
    readme, table = tmp_path / "README.md", tmp_path / "table1.md"
    readme.write_text(f"intro\n{report.TABLE_START}\nold\n{report.TABLE_END}\nrest\n")
    assert not report.update_readme_table(readme, table)          # no table yet: untouched
    table.write_text("caption\n\n| a |\n|---|\n| 1 |\n")
    assert report.update_readme_table(readme, table)
    assert readme.read_text() == (f"intro\n{report.TABLE_START}\ncaption\n\n| a |\n|---|\n| 1 |\n"
                                  f"{report.TABLE_END}\nrest\n")
    assert not report.update_readme_table(readme, table)          # idempotent
