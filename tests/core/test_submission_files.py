"""Submissions as students hand them in: scripts that train at import, and notebooks.

With skip_top_level (a question's `top_level = "skip"`), the sandbox imports a file's
definitions only (grader/core/submission/source.py): top-level training, downloads and file I/O do
not run, the notes name the lines that did not, and a definition that needs a skipped
name is told which line assigns it. A notebook's code cells are read the same way.
"""
from __future__ import annotations

import textwrap

import nbformat
import pytest

from grader.core.sandbox.runner import run_probe

PROBE = '''
def build(ctx):
    """Imports the module named in params, builds its Model and calls forward(3)."""
    module = ctx.import_student(ctx.params["module"])
    model = ctx.call(module.Model)
    ctx.put("out", ctx.call(model.forward, 3))
'''

# A script in the style of every public ex2_pytorch.py: settings, a dataset with
# download=True, the class, then training and saving at the top level, no __main__ guard.
# The "dataset" would fail loudly if built; the loop would write trained.txt.
TRAINS_AT_IMPORT = '''\
import os
import numpy as np

hidden_size = [50, 20]
scale = 2 * len(hidden_size)


class datasets:
    @staticmethod
    def CIFAR10(root, download=False):
        raise RuntimeError("the dataset was built: top-level code ran")


train_dataset = datasets.CIFAR10(root="data", download=True)


class Model:
    def __init__(self):
        self.widths = list(hidden_size)

    def forward(self, x):
        return x * scale


model = Model()
for epoch in range(3):
    with open("trained.txt", "a") as fh:
        fh.write(str(epoch))
'''


@pytest.fixture
def probe(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text(PROBE)
    return path


def _submission(tmp_path, files):
    sub = tmp_path / "sub"
    sub.mkdir()
    for name, text in files.items():
        (sub / name).write_text(text)
    return sub


def test_script_that_trains_at_import_is_graded_on_its_definitions(tmp_path, probe,
                                                                    tiny_limits):
    sub = _submission(tmp_path, {"ex2_pytorch.py": TRAINS_AT_IMPORT})
    run = run_probe(probe, "build", submission=sub, limits=tiny_limits,
                    params={"module": "ex2_pytorch"}, skip_top_level=True)
    assert run.failure is None, run.failure
    assert run.values["out"] == 12  # scale = 2 * len(hidden_size), a kept setting
    notes = "\n".join(run.notes)
    assert "ex2_pytorch.py line 14 not run" in notes and "dataset/file I/O" in notes
    assert "lines 25-28 not run" in notes and "loop" in notes
    assert not (sub / "trained.txt").exists()


def test_the_same_script_run_as_written_trains(tmp_path, probe, tiny_limits):
    """top_level = "run" (Part 1's setting) imports the file as written."""
    sub = _submission(tmp_path, {"ex2_pytorch.py": TRAINS_AT_IMPORT})
    run = run_probe(probe, "build", submission=sub, limits=tiny_limits,
                    params={"module": "ex2_pytorch"}, skip_top_level=False)
    assert run.failure is not None and "top-level code ran" in run.failure.message


def test_a_skipped_name_a_definition_needs_is_named_with_its_line(tmp_path, probe,
                                                                   tiny_limits):
    source = TRAINS_AT_IMPORT.replace("return x * scale", "return x * len(train_dataset)")
    sub = _submission(tmp_path, {"ex2_pytorch.py": source})
    run = run_probe(probe, "build", submission=sub, limits=tiny_limits,
                    params={"module": "ex2_pytorch"}, skip_top_level=True)
    failure = run.failure
    assert failure is not None and failure.kind == "skipped"
    assert "'train_dataset' is not defined" in failure.message
    assert "ex2_pytorch.py assigns it at line 14" in failure.message
    assert failure.where == "ex2_pytorch.py:22"
    assert "argument" in failure.detail


def test_a_notebook_is_read_wherever_a_file_is_expected(tmp_path, probe, tiny_limits):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Task 5.3: a ConvNet"),
        nbformat.v4.new_code_cell("%matplotlib inline\n!pip install torchinfo\nimport numpy as np"),
        nbformat.v4.new_code_cell(textwrap.dedent('''\
            class Model:
                def forward(self, x):
                    return int(np.asarray(x)) + 1
            ''')),
        nbformat.v4.new_code_cell("model = Model()\nfor i in range(10**9):\n    pass"),
    ]
    sub = _submission(tmp_path, {"convnet.ipynb": nbformat.writes(nb)})
    run = run_probe(probe, "build", submission=sub, limits=tiny_limits,
                    params={"module": "convnet"}, skip_top_level=False)
    assert run.failure is None, run.failure
    assert run.values["out"] == 4
    assert any("convnet.ipynb cell 4" in note and "not run" in note for note in run.notes)


def test_a_py_file_beside_a_notebook_of_the_same_name_wins(tmp_path, probe, tiny_limits):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("class Model:\n    pass\n")]
    sub = _submission(tmp_path, {"convnet.ipynb": nbformat.writes(nb),
                                 "convnet.py": "class Model:\n    def forward(self, x):\n"
                                               "        return x - 1\n"})
    run = run_probe(probe, "build", submission=sub, limits=tiny_limits,
                    params={"module": "convnet"}, skip_top_level=True)
    assert run.failure is None and run.values["out"] == 2
    assert any("convnet.ipynb not read" in note for note in run.notes)
