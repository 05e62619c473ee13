"""grader/core/submission/settings.py: one reader for every part's declared settings, from
a spec; a setting assigned more than once is named (which assignment counts, where the
others are), in a notebook and in a .py file."""
import json

import pytest

from grader.core.submission.settings import (OPTIONAL, Setting, SettingsSpec, declared_values,
                                             read_settings)


class Limits:
    """A rubric check's values, as read_settings asks for them."""

    def __init__(self, **values):
        self.values = values

    def value(self, key):
        return self.values[key]


CHECK = Limits(max_epochs=50, max_layers=4, max_width=100)
TOP_LEVEL = SettingsSpec("train", (
    Setting("hidden", "widths", [10], limit=("max_layers", "max_width")),
    Setting("num_epochs", "whole", 10, limit="max_epochs"),
    Setting("lr", default=0.1, within="(0, 1]")))
IN_A_DICT = SettingsSpec("train", container="SETTINGS", settings=(
    Setting("optimizer", "text", choices=("sgd", "adam")),
    Setting("epochs", "whole", limit="max_epochs"),
    Setting("milestones", "steps", default=[]),
    Setting("decay", default=OPTIONAL, within=">= 0")))
HINT = "Hint: keep one assignment of each setting"


def notebook(folder, *cells):
    """train.ipynb with one code cell per text, after a markdown cell (so code cells are 2, 3, ...)."""
    body = [{"cell_type": "markdown", "metadata": {}, "source": "# Training"}] + [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": c}
        for c in cells]
    (folder / "train.ipynb").write_text(json.dumps(
        {"cells": body, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return folder


def script(folder, text):
    (folder / "train.py").write_text(text)
    return folder


def test_a_quick_test_cell_that_overrides_a_setting_is_named(tmp_path):
    """The issue's case: the settings at the top, `num_epochs = 1` in a later cell."""
    sub = notebook(tmp_path, "hidden = [20]\nnum_epochs = 10\nlr = 0.05\n", "import torch\n",
                   "# quick test\nnum_epochs = 1\n")
    found, problem = read_settings(sub, TOP_LEVEL, CHECK)
    assert problem == "" and found.values == {"hidden": [20], "num_epochs": 1, "lr": 0.05}
    note, = found.notes
    assert note.startswith("num_epochs is assigned 2 times in train.ipynb, expected once: the "
                           "grader uses the last one, num_epochs = 1 (cell 4, line 2), not cell "
                           "2, line 2. " + HINT)


def test_every_other_assignment_of_a_setting_is_listed_in_a_script(tmp_path):
    found, _ = read_settings(script(tmp_path, "lr = 0.5\nlr = 0.2\nhidden = 30\nlr = 0.1\n"),
                             TOP_LEVEL, CHECK)
    assert found.values["lr"] == 0.1 and found.values["hidden"] == [30]
    repeated = [n for n in found.notes if "assigned" in n]
    assert repeated == [f"lr is assigned 3 times in train.py, expected once: the grader uses the "
                        f"last one, lr = 0.1 (line 4), not line 1; line 2. {HINT}: a later one, "
                        "such as a quick test in a later cell, overrides those above it"]
    # a setting assigned once, or not at all, gets no such note
    assert "the handout's 10 is used" in found.notes[0]


def test_a_settings_dict_assigned_again_or_changed_by_key(tmp_path):
    sub = script(tmp_path, "SETTINGS = {'optimizer': 'sgd', 'epochs': 9}\n"
                           "SETTINGS = {'optimizer': 'adam',\n            'epochs': 5}\n"
                           "SETTINGS['epochs'] = 2\n")
    found, problem = read_settings(sub, IN_A_DICT, CHECK)
    assert problem == "" and found.values == {"optimizer": "adam", "epochs": 2, "milestones": []}
    whole, key, default = found.notes
    assert whole.startswith("SETTINGS is assigned 2 times in train.py, expected once: the "
                            "grader uses the last one (line 2), not line 1. " + HINT)
    assert key.startswith("SETTINGS['epochs'] is assigned 2 times in train.py, expected once: "
                          "the grader uses the last one, SETTINGS['epochs'] = 2 (line 4), not "
                          "line 3. " + HINT)
    assert default == "SETTINGS has no 'milestones': the handout's [] is used"


def test_the_same_value_is_read_whatever_the_part_had_drifted_to(tmp_path):
    """A whole float counts as a whole number (32.0), a bare number as a list of one, and
    values that are not finite or too large for a float are refused, never a crash."""
    found, _ = read_settings(script(tmp_path, "num_epochs = 32.0\nhidden = 20.0\n"), TOP_LEVEL,
                             CHECK)
    assert found.values["num_epochs"] == 32 and type(found.values["num_epochs"]) is int
    assert found.values["hidden"] == [20]
    found, _ = read_settings(script(tmp_path, "SETTINGS = {'optimizer': 'sgd', 'epochs': 3.0, "
                                              "'milestones': 2.0}\n"), IN_A_DICT, CHECK)
    assert found.values["epochs"] == 3 and found.values["milestones"] == [2]
    for text in ("lr = 1e400\n", "lr = 1e308 * 10\n", "num_epochs = 1" + "0" * 400 + "\n"):
        found, problem = read_settings(script(tmp_path, text), TOP_LEVEL, CHECK)
        assert found is None and "line 1: the grader cannot read" in problem, problem
    found, problem = read_settings(script(tmp_path, "SETTINGS = {[1]: 2}\n"), IN_A_DICT, CHECK)
    assert found is None and "cannot read SETTINGS without running your code" in problem


@pytest.mark.parametrize("text, says", [
    ("hidden = [20, 0]\n", "hidden should be a list of positive whole numbers, got [20, 0]"),
    ("hidden = [20] * 5\n", "line 1: the grader cannot read hidden without running your code: "
                            "write it as a list of whole numbers"),
    ("hidden = [200]\n", "hidden = [200] is above the grader's limits: at most 4 layers of at "
                         "most 100 units"),
    ("num_epochs = 51\n", "num_epochs = 51 is above the grader's limit of 50"),
    ("num_epochs = 2.5\n", "num_epochs should be a positive whole number, got 2.5"),
    ("num_epochs = '5'\n", "num_epochs should be a positive whole number, got '5'"),
    ("lr = 0\n", "lr should be a number in (0, 1], got 0"),
    ("lr = True\n", "lr should be a number in (0, 1], got True"),
])
def test_top_level_settings_are_refused_by_name(tmp_path, text, says):
    found, problem = read_settings(script(tmp_path, text), TOP_LEVEL, CHECK)
    assert found is None and says in problem, problem


@pytest.mark.parametrize("text, says", [
    ("X = 1\n", "train.py declares no top-level SETTINGS = {...}"),
    ("SETTINGS = [1]\n", "train.py line 1: SETTINGS should be a dict, got list"),
    ("SETTINGS = dict(epochs=1)\n", "line 1: the grader cannot read SETTINGS without running "
                                    "your code: write it as a literal dict"),
    ("SETTINGS = {'epochs': 1}\n", "SETTINGS: missing optimizer (keys: optimizer, epochs, "
                                   "milestones; optional decay)"),
    ("SETTINGS = {'optimizer': 'rms', 'epochs': 1}\n",
     "SETTINGS['optimizer'] should be \"sgd\" or \"adam\", got 'rms'"),
    ("SETTINGS = {'optimizer': 'sgd', 'epochs': 1, 'milestones': [-1]}\n",
     "SETTINGS['milestones'] should be a list of epoch numbers, got [-1]"),
    ("SETTINGS = {'optimizer': 'sgd', 'epochs': 1, 'decay': -1}\n",
     "SETTINGS['decay'] should be a number >= 0, got -1"),
    ("SETTINGS = {'optimizer': 'sgd', 'epochs': 1}\nSETTINGS['epochs'] = load()\n",
     "train.py line 2: the grader cannot read SETTINGS['epochs'] without running your code"),
])
def test_settings_in_a_dict_are_refused_by_name(tmp_path, text, says):
    found, problem = read_settings(script(tmp_path, text), IN_A_DICT, CHECK)
    assert found is None and says in problem, problem


def test_a_closed_dict_names_unknown_keys_and_other_entries_are_kept_or_noted(tmp_path):
    closed = SettingsSpec("train", IN_A_DICT.settings, container="SETTINGS", closed=True)
    text = "SETTINGS = {'optimizer': 'sgd', 'epochs': 1, 'tag': 'x', 'data': load()}\n"
    found, problem = read_settings(script(tmp_path, text), closed, CHECK)
    assert found is None and "SETTINGS: unknown tag, data (keys:" in problem
    found, problem = read_settings(script(tmp_path, text), IN_A_DICT, CHECK)
    assert found.extra == {"tag": "x"}
    assert found.notes[-1] == "SETTINGS entries left out (not plain data): data"


def test_declared_values_reads_every_plain_top_level_name(tmp_path):
    assert declared_values(notebook(tmp_path, "a = 2\nb = [a, 3 * a]\nc = f()\n"), "train") == {
        "a": 2, "b": [2, 6]}
    assert declared_values(tmp_path / "nowhere", "train") == {}
