"""grader/core/submission/declared.py and answers.py: plain values read without running the file,
and stated answers compared entry by entry."""
import json

import pytest

from grader.core.submission.answers import Answer, judge_answers, read_answers, wrong_entries
from grader.core.submission.declared import assignments, parse_source


def write(folder, name, text):
    (folder / name).write_text(text)
    return folder


def test_plain_values_and_refusals():
    found, _ = assignments(
        "a = 3\nb = [a, 2 * a, -1.5]\nc = open('x').read()\nd = [[1, 2], [3, 4]]\nf = None\n",
        allow_none=True)
    assert {k: v.value for k, v in found.items() if v.readable} == {
        "a": 3, "b": [3, 6, -1.5], "d": [[1, 2], [3, 4]], "f": None}
    assert not found["c"].readable and found["c"].lines == (3,) and found["d"].lines == (4,)
    assert not assignments("f = None\n")[0]["f"].readable  # None only where the caller allows it


def test_every_assignment_of_a_name_is_kept_and_the_last_counts():
    found, _ = assignments("a = 1\nb = a + 1\na = f()\nc = a\na = 5\n")
    assert found["a"].lines == (1, 3, 5) and found["a"].value == 5 and found["b"].value == 2
    assert not found["c"].readable  # a was unreadable when c was assigned


def test_the_keys_of_a_settings_dict():
    keys, whole = assignments("N = 4\nS = {'a': 1}\nS = {'a': N * 2,\n     'b': load()}\n"
                              "S['a'] = 'x'\nS['c'] = [N]\nT = {'a': 0}\n", "S", allow_text=True)
    assert whole.lines == (2, 3) and keys["a"].lines == (3, 5) and keys["a"].value == "x"
    assert not keys["b"].readable and keys["b"].lines == (4,) and keys["c"].value == [4]
    assert assignments("S = [1]\n", "S")[1].value == [1]
    assert assignments("x = 1\n", "S") == ({}, None)


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


def test_judge_answers_says_each_problem_once_under_the_answers_label(tmp_path):
    """One judge for every stated-answers question (5f, 7a, 7c): a line per wrong entry, a
    blank, missing or unreadable answer under its label, a missing file once."""
    asked = [Answer("v", "v", [4, 0, 11]), Answer("y", "y_predicted", 18.0),
             Answer("C", "C", 225.0), Answer("w", "w", 1.0)]
    write(tmp_path, "answers.py", "v = [4, 1, 11]\ny = 18.0\nw = f()\n")
    right, lines = judge_answers(read_answers(tmp_path, "answers"), asked, 1e-6, 1e-9, False)
    assert right == {"v": False, "y": True, "C": False, "w": False}
    assert lines[0] == "v[1]: got 1, which is not right"
    assert lines[1] == "C: answers.py assigns no C: add `C = ...` at top level"
    assert lines[2].startswith("w: answers.py line 3: the grader reads w without running")
    right, lines = judge_answers(read_answers(tmp_path / "nowhere", "answers"), asked, 0, 0, True)
    assert not any(right.values()) and len(lines) == 1 and "is missing" in lines[0]


def test_parse_source_says_what_is_wrong_with_the_file(tmp_path):
    """Every part's settings reader finds and parses its file here: missing, a notebook
    that does not open, text that does not parse are messages, never exceptions."""
    def parse(text):
        return assignments(text)[0]
    assert "settings.py (or settings.ipynb) not found" in parse_source(tmp_path, "settings", parse)[3]
    (tmp_path / "settings.ipynb").write_text("{not json")
    assert "settings.ipynb does not open" in parse_source(tmp_path, "settings", parse)[3]
    (tmp_path / "settings.py").write_text("x = 1\ny = (\n")
    assert parse_source(tmp_path, "settings", parse)[3].startswith("settings.py does not parse")
    (tmp_path / "settings.py").write_text("x = 2 * 3\n")
    parsed, name, cells, problem = parse_source(tmp_path, "settings", parse)
    assert parsed["x"].value == 6 and name == "settings.py" and problem == ""
