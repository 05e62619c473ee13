"""grader.core.submission.source: a student's definitions without the top-level work, never run."""
import json
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.core.submission import source

ROOT = Path(__file__).resolve().parents[2]

# A public-style ex2_pytorch.py: trains at import, no __main__ guard (parsed, never run here).
EX2_PYTORCH = '''\
import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as transforms
import torch.nn.functional as F
import numpy as np


def update_lr(optimizer, lr):
    for param_group in optimizer.param_groups:
        param_group['lr'] = lr


device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
print('Using device: %s' % device)

input_size = 32 * 32 * 3
hidden_size = [50]
num_classes = 10
num_epochs = 10
batch_size = 200
learning_rate = 1e-3
num_training = 49000

norm_transform = transforms.Compose([transforms.ToTensor(),
                                     transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
cifar_dataset = torchvision.datasets.CIFAR10(root='datasets/',
                                             train=True,
                                             transform=norm_transform,
                                             download=True)
mask = list(range(num_training))
train_dataset = torch.utils.data.Subset(cifar_dataset, mask)
train_loader = torch.utils.data.DataLoader(dataset=train_dataset,
                                           batch_size=batch_size,
                                           shuffle=True)


class MultiLayerPerceptron(nn.Module):
    def __init__(self, input_size, hidden_layers, num_classes):
        super(MultiLayerPerceptron, self).__init__()
        layers = [nn.Linear(input_size, hidden_size[0])]
        layers.append(nn.Linear(hidden_layers[-1], num_classes))
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        x = x.view(-1, input_size)
        return self.layers[-1](F.relu(self.layers[0](x)))


model = MultiLayerPerceptron(input_size, hidden_size, num_classes).to(device)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        loss = criterion(model(images.to(device)), labels.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
torch.save(model.state_dict(), 'model.ckpt')
model.load_state_dict(torch.load('model.ckpt'))
'''


def line_of(text, start):
    """1-based number of the first line of `text` starting with `start`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def run(module_source):
    """Execute the produced text (stdlib/numpy only) in a fresh namespace."""
    namespace = {"__name__": "student"}
    exec(compile(module_source.text, module_source.origin, "exec"), namespace)
    return namespace


def test_training_script_keeps_class_and_settings_and_skips_the_work():
    result = source.definitions_only(EX2_PYTORCH, "ex2_pytorch.py")
    compile(result.text, "ex2_pytorch.py", "exec")
    assert "class MultiLayerPerceptron(nn.Module):" in result.text
    for setting in ("input_size = 32 * 32 * 3", "hidden_size = [50]", "num_classes = 10",
                    "import torch.nn.functional as F", "def update_lr(optimizer, lr):"):
        assert setting in result.text
    for gone in ("download=True", "DataLoader", "torch.save", "load_state_dict", "for epoch",
                 "print(", "model = "):
        assert gone not in result.text
    assert len(result.text.splitlines()) == len(EX2_PYTORCH.splitlines())
    assert result.skipped_names() == {}  # the class needs nothing that was skipped


def test_training_script_notes_name_the_skipped_lines():
    result = source.definitions_only(EX2_PYTORCH, "ex2_pytorch.py")
    reasons = {s.first_line: s.reason for s in result.skipped}
    cifar = line_of(EX2_PYTORCH, "cifar_dataset")
    loop = line_of(EX2_PYTORCH, "for epoch")
    assert reasons[cifar] == "calls torchvision.datasets.CIFAR10 (dataset/file I/O)"
    assert reasons[line_of(EX2_PYTORCH, "train_loader")].startswith(
        "calls torch.utils.data.DataLoader")
    assert reasons[loop] == "top-level loop (training?)"
    assert reasons[line_of(EX2_PYTORCH, "torch.save")] == "top-level call"
    assert reasons[line_of(EX2_PYTORCH, "norm_transform")] == "not needed by the definitions"
    notes = result.notes()
    assert all(note.startswith("ex2_pytorch.py line") for note in notes)
    assert any(f"lines {line_of(EX2_PYTORCH, 'norm_transform')}-"
               f"{line_of(EX2_PYTORCH, 'train_loader') + 2} not run by the grader" in note
               and "CIFAR10" in note for note in notes)
    last = len(EX2_PYTORCH.splitlines())
    assert any(f"-{last} not run by the grader" in note and "top-level loop (training?)" in note
               for note in notes)
    skipped = {s.first_line: s for s in result.skipped}
    assert skipped[cifar].last_line == cifar + 3 and skipped[cifar].names == ("cifar_dataset",)
    assert "epoch" in skipped[loop].names and "loss" in skipped[loop].names


def test_settings_with_harmless_calls_are_kept_when_a_definition_needs_them():
    text = EX2_PYTORCH.replace("x.view(-1, input_size)", "x.view(-1, input_size).to(device)")
    result = source.definitions_only(text, "ex2_pytorch.py")
    assert "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')" in result.text
    assert "norm_transform =" not in result.text
    text = text.replace("return self.layers[-1]",
                        "x = norm_transform(x)\n        return self.layers[-1]")
    assert "transforms.Normalize(" in source.definitions_only(text, "e.py").text


def test_a_name_assigned_from_a_skipped_loader_is_reported():
    text = textwrap.dedent('''\
        import numpy as np
        loader = DataLoader(list(range(10)), batch_size=5)
        batch_size = len(loader)

        class Net:
            def forward(self, x):
                return x.reshape(batch_size, -1)
        ''')
    result = source.definitions_only(text, "ex2_pytorch.py")
    assert result.skipped_names() == {"batch_size": 3}
    assert [s.reason for s in result.skipped] == ["calls DataLoader (dataset/file I/O)",
                                                  "uses loader (line 2, not run)"]
    net = run(result)["Net"]()
    with pytest.raises(NameError, match="batch_size"):
        net.forward(np.zeros((2, 3)))


def test_what_a_kept_assignment_needs_is_kept_too():
    text = textwrap.dedent('''\
        import collections
        counts = collections.Counter("abca")
        top = counts.most_common(1)
        unused = collections.Counter("x")

        def most_common():
            return top[0][0]
        ''')
    result = source.definitions_only(text, "f.py")
    assert run(result)["most_common"]() == "a"
    assert [(s.first_line, s.reason) for s in result.skipped] == [
        (4, "not needed by the definitions")]


def test_a_definition_that_would_fail_at_import_is_dropped_whole():
    text = textwrap.dedent('''\
        import functools
        loader = DataLoader(range(10))

        @functools.lru_cache(maxsize=None)
        def evaluate(data=loader):
            return data

        def forward(sizes):
            return [epoch * size for size in sizes for epoch in range(2)]

        for epoch in range(3):
            size = epoch
        ''')
    result = source.definitions_only(text, "f.py")
    assert [(s.first_line, s.last_line, s.reason) for s in result.skipped][1] == (
        4, 6, "uses loader (line 2, not run)")
    assert "lru_cache" not in result.text
    assert run(result)["forward"]([1]) == [0, 1]
    assert result.skipped_names() == {}  # `epoch` and `size` are local to forward


def test_skipped_statements_do_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = textwrap.dedent('''\
        """A numpy stand-in for a training script."""
        import numpy as np
        log = []
        scale = 2 * 3

        def train(n):
            log.append(n)
            return n * scale

        with open("written.txt", "w") as f:
            f.write("ran")
        for epoch in range(3):
            log.append(epoch)
        train(5)
        weights = np.load("weights.npy")
        result = train(7)
        open("opened.txt", "w").close()
        ''')
    result = source.definitions_only(text, "script.py")
    namespace = run(result)
    assert namespace["log"] == [] and namespace["train"](1) == 6
    assert "weights" not in namespace and "result" not in namespace
    assert list(tmp_path.iterdir()) == []
    assert [s.reason for s in result.skipped] == [
        "top-level with-block (file I/O?)", "top-level loop (training?)", "top-level call",
        "calls np.load (dataset/file I/O)", "calls train (training?)", "top-level call"]


def test_line_numbers_are_preserved():
    text = ("import numpy as np\n"
            + "data = np.load(\n    'x.npy'\n)\n" * 9  # 27 lines to blank, 3 per statement
            + "print('hi')\n"
            + "def at_line_30():\n    return 30\n")
    result = source.definitions_only(text, "f.py")
    assert result.text.splitlines()[29] == "def at_line_30():"
    assert run(result)["at_line_30"].__code__.co_firstlineno == 30
    assert result.notes() == ["f.py lines 2-29 not run by the grader: "
                              "calls np.load (dataset/file I/O); top-level call"]


def test_crlf_and_shared_lines_keep_their_place():
    text = "import os; print('x'); y = 2\r\nfor i in []:\r\n    pass\r\nz = y\r\n"
    result = source.definitions_only(text, "f.py")
    assert result.text == "import os; pass; y = 2\r\n\r\n\r\nz = y\r\n"
    text = "import os; train(1,\n  2); y = 2\nz = y\n"
    result = source.definitions_only(text, "f.py")
    assert run(result)["z"] == 2 and len(result.text.splitlines()) == 3


def test_main_block_is_dropped_and_definitions_kept():
    text = textwrap.dedent('''\
        def main():
            return 1

        if __name__ == "__main__":
            main()
        ''')
    result = source.definitions_only(text, "ex2_FCnet.py")
    assert result.skipped == (source.Skipped(4, 5, "the __main__ block", ()),)
    assert result.notes() == ["ex2_FCnet.py lines 4-5 not run by the grader: the __main__ block"]
    assert run(result)["main"]() == 1


def test_guarded_imports_and_setting_blocks_are_kept():
    text = textwrap.dedent('''\
        from __future__ import annotations
        __all__ = ["Net"]
        try:
            import torch_does_not_exist as torch
        except ImportError:
            torch = None
        if torch is not None and torch.cuda.is_available():
            device = "cuda"
        else:
            device = "cpu"
        if device == "cpu":
            print("slow")

        class Net:
            where = device
        ''')
    result = source.definitions_only(text, "f.py")
    namespace = run(result)
    assert namespace["torch"] is None and namespace["Net"].where == "cpu"
    assert [(s.first_line, s.reason) for s in result.skipped] == [
        (11, "top-level if-block that runs code")]


def test_a_clean_file_is_unchanged():
    path = ROOT / "reference" / "two_layernet.py"
    result = source.read_definitions(path)
    assert result.text == path.read_bytes().decode("utf-8")
    assert result.skipped == () and result.notes() == [] and result.cells == ()
    assert result.origin == "two_layernet.py"


def test_a_syntax_error_is_a_source_error_with_its_line():
    with pytest.raises(source.SourceError, match="line 3") as caught:
        source.definitions_only("import os\n\ndef f(:\n    pass\n", "bad.py")
    assert caught.value.line == 3 and isinstance(caught.value, ValueError)


@pytest.mark.parametrize("garbage", ["(" * 100000, "-" * 100000 + "1", "1+" * 100000 + "1",
                                     "x = 1\0\n", "lambda: " * 5000 + "1"])
def test_pathological_input_is_a_source_error_not_a_crash(garbage):
    with pytest.raises(source.SourceError):
        source.definitions_only(garbage, "evil.py")


def test_notes_are_merged_and_capped():
    text = "".join(f"def f{n}():\n    pass\nprint({n})\nprint({n})\n" for n in range(12))
    notes = source.definitions_only(text, "f.py").notes()
    assert notes[0] == "f.py lines 3-4 not run by the grader: top-level call"
    assert len(notes) == source.MAX_NOTES + 1 and notes[-1] == "and 4 more ranges not run"


def notebook(*cells):
    """A notebook's JSON text from ('code'|'markdown'|'raw', text) pairs."""
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
            "raw": nbformat.v4.new_raw_cell}
    nb = nbformat.v4.new_notebook(cells=[make[kind](text) for kind, text in cells])
    return nbformat.writes(nb)


NOTEBOOK = notebook(
    ("markdown", "# Part 4: a CNN\nSome `code` in markdown."),
    ("code", "%matplotlib inline\nimport numpy as np\nlog = []"),
    ("code", "!pip install x\nfiles = !ls\nx = get_ipython().run_line_magic('who', '')"),
    ("raw", "raw text"),
    ("code", "%%time\nfor epoch in range(3):\n    log.append(epoch)"),
    ("code", "%%bash\necho hi"),
    ("code", "class ConvNet:\n    def __init__(self, n=3):\n        %time np.ones(n)\n"
             "        self.n = n"),
    ("code", "from __future__ import annotations\nnet = ConvNet()\nnet.n"),
)


def test_notebook_source_keeps_code_cells_only():
    text, cells = source.notebook_source(NOTEBOOK)
    assert "# %% cell 2\n" in text and "# %% cell 7\n" in text and "# %% cell 1" not in text
    for gone in ("%matplotlib", "pip install", "!ls", "get_ipython", "echo hi", "raw text",
                 "%%time", "# Part 4"):
        assert gone not in text
    assert "for epoch in range(3):" in text and "        pass\n" in text
    assert [number for _, _, number in cells] == [2, 3, 5, 7, 8]
    first, last, _ = cells[3]
    assert text.splitlines()[first - 1] == "class ConvNet:" and last == first + 3


def test_notebook_definitions_map_lines_to_cells(tmp_path):
    path = tmp_path / "ex4.ipynb"
    path.write_text(NOTEBOOK)
    result = source.read_definitions(path)
    namespace = run(result)
    assert namespace["log"] == [] and namespace["ConvNet"]().n == 3
    class_line = line_of(result.text, "class ConvNet")
    assert result.where(class_line) == "cell 7, line 1"
    assert result.where(class_line + 3) == "cell 7, line 4"
    notes = result.notes()
    assert "ex4.ipynb cell 5, lines 2-3 not run by the grader: top-level loop (training?)" in notes
    assert any(note.startswith("ex4.ipynb cell 8, lines 1-3") and "__future__" in note
               for note in notes)
    assert result.skipped_names() == {}


def test_notebook_without_nbformat_reads_plain_json(monkeypatch):
    with_nbformat = source.notebook_source(NOTEBOOK.encode())
    monkeypatch.setitem(sys.modules, "nbformat", None)  # import nbformat now fails
    assert source.notebook_source(NOTEBOOK.encode()) == with_nbformat
    as_lists = json.loads(NOTEBOOK)  # nbformat writes sources as lists of lines
    as_strings = {**as_lists, "cells": [{**c, "source": "".join(c["source"])}
                                        for c in as_lists["cells"]]}
    assert isinstance(as_lists["cells"][1]["source"], list)
    assert source.notebook_source(json.dumps(as_strings)) == with_nbformat


@pytest.mark.parametrize("raw", ["{not json", b"\xff\xfe", json.dumps({"cells": [{}]})])
def test_a_broken_notebook_is_a_source_error(raw):
    with pytest.raises(source.SourceError, match="notebook"):
        source.notebook_source(raw)


def test_a_broken_notebook_file_is_named(tmp_path):
    path = tmp_path / "ex4.ipynb"
    path.write_text("{")
    with pytest.raises(source.SourceError, match="ex4.ipynb: not a readable notebook"):
        source.read_definitions(path)


def test_a_syntax_error_in_a_notebook_names_the_cell():
    text, cells = source.notebook_source(
        notebook(("code", "x = 1"), ("markdown", "m"), ("code", "y = 2\ndef f(:")))
    with pytest.raises(source.SourceError, match="nb.ipynb cell 3, line 2"):
        source.definitions_only(text, "nb.ipynb", cells=cells)
