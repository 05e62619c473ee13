"""grader/core/submission/declared.py and answers.py: plain values read without running the file,
and stated answers compared entry by entry."""
import json

import pytest

from grader.core.submission.answers import read_answers, wrong_entries
from grader.core.submission.declared import declared


def write(folder, name, text):
    (folder / name).write_text(text)
    return folder


def test_plain_values_and_refusals():
    values, lines, unreadable = declared(
        "a = 3\nb = [a, 2 * a, -1.5]\nc = open('x').read()\nd = [[1, 2], [3, 4]]\nf = None\n",
        allow_none=True)
    assert values == {"a": 3, "b": [3, 6, -1.5], "d": [[1, 2], [3, 4]], "f": None}
    assert unreadable == {"c": 3} and lines["d"] == 4
    assert "f" not in declared("f = None\n")[0]  # None only where the caller allows it


def test_answers_file_is_read_never_run(tmp_path):
    marker = tmp_path / "ran"
    write(tmp_path, "answers.py",
          f"import os\nos.system('touch {marker}')\nv = [4, 0, 11]\ny = 18.0\n"
          "C = None\nw = sum([1, 2])\n")
    answers = read_answers(tmp_path, "answers")
    assert not marker.exists()
    assert answers.stated("v") == [4, 0, 11] and answers.stated("y") == 18.0
    assert answers.stated("C") is None and answers.problem("C") == ""
    assert "line 6" in answers.problem("w") and "without running" in answers.problem("w")
    assert "assigns no missing" in answers.problem("missing")


def test_missing_unparsable_and_notebook_answers(tmp_path):
    assert "missing from your submission" in read_answers(tmp_path, "answers").problem("v")
    write(tmp_path, "answers.py", "v = [4, 0,\n")
    assert "does not parse" in read_answers(tmp_path, "answers").problem("v")
    nb = tmp_path / "nb"
    nb.mkdir()
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# answers"},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": "v = [4, 0, 11]\nx = foo()\n"}]
    (nb / "answers.ipynb").write_text(json.dumps(
        {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    answers = read_answers(nb, "answers")
    assert answers.stated("v") == [4, 0, 11]
    assert "cell 2, line 2" in answers.problem("x")


@pytest.mark.parametrize("got, expected, reveal, wanted", [
    ([120, 0, 330], [120, 0, 330], False, []),
    ([120, 0, 330.0000001], [120, 0, 330], False, []),
    ([[120], [0], [330]], [120, 0, 330], False, []),  # a column for a row is fine
    ([120, 1, 331], [120, 0, 330], False, ["dW[1]: got 1, which is not right",
                                          "dW[2]: got 331, which is not right"]),
    ([120, 1, 330], [120, 0, 330], True, ["dW[1]: got 1, expected 0"]),
    (None, [120, 0, 330], False, ["dW: not answered (still None); expected 3 numbers, shaped [3]"]),
    ([1, 2], [120, 0, 330], False, ["dW: expected 3 numbers, shaped [3], got shape [2]"]),
    (-30, -30.0, False, []),
    (30, -30, True, ["dW: got 30, expected -30"]),
])
def test_wrong_entries(got, expected, reveal, wanted):
    assert wrong_entries("dW", got, expected, reveal=reveal) == wanted


def test_parse_source_says_what_is_wrong_with_the_file(tmp_path):
    """Every part's settings reader finds and parses its file here: missing, a notebook
    that does not open, text that does not parse are messages, never exceptions."""
    from grader.core.submission.declared import parse_source
    assert "settings.py (or settings.ipynb) not found" in parse_source(tmp_path, "settings", declared)[3]
    (tmp_path / "settings.ipynb").write_text("{not json")
    assert "settings.ipynb does not open" in parse_source(tmp_path, "settings", declared)[3]
    (tmp_path / "settings.py").write_text("x = 1\ny = (\n")
    assert parse_source(tmp_path, "settings", declared)[3].startswith("settings.py does not parse")
    (tmp_path / "settings.py").write_text("x = 2 * 3\n")
    parsed, name, cells, problem = parse_source(tmp_path, "settings", declared)
    assert parsed[0] == {"x": 6} and name == "settings.py" and problem == ""
