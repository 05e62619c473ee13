"""grader/staticcheck.py: loops over samples in loss() are found, other loops are not."""
import textwrap

import pytest

from grader.parts.part1_numpy.staticcheck import loops_over_samples, read_source

HEAD = """
import numpy as np


class TwoLayerNet:
    def __init__(self, D, H, C):
        self.params = {}

    def loss(self, X, y=None, reg=0.0):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
"""

VECTORISED = """
        N, D = X.shape
        z2 = X.dot(W1) + b1
        a2 = np.maximum(0, z2)
        scores = a2.dot(W2) + b2
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        if y is None:
            return probs
        loss = -np.log(probs[np.arange(N), y]).mean()
        loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        return loss
"""
VECTORISED = textwrap.dedent(VECTORISED).lstrip("\n")


def _findings(body, extra=""):
    source = HEAD + textwrap.indent(textwrap.dedent(body), " " * 8) + extra
    return loops_over_samples(source, "TwoLayerNet", "loss")


@pytest.mark.parametrize("body, header", [
    ("N = X.shape[0]\nfor i in range(N):\n    pass\n", "for i in range(N):"),
    ("N, D = X.shape\nfor i in range(N):\n    pass\n", "for i in range(N):"),
    ("for x in X:\n    pass\n", "for x in X:"),
    ("rows = [x.sum() for x in X]\n", "rows = [x.sum() for x in X]"),
    ("total = sum(np.log(p) for p in X)\n", "total = sum(np.log(p) for p in X)"),
    ("for i in range(len(y)):\n    pass\n", "for i in range(len(y)):"),
    ("for i, x in enumerate(X):\n    pass\n", "for i, x in enumerate(X):"),
    ("for i in range(X.shape[0]):\n    pass\n", "for i in range(X.shape[0]):"),
    ("s = np.apply_along_axis(np.sum, 1, X)\n", "s = np.apply_along_axis(np.sum, 1, X)"),
    ("n = len(X)\ni = 0\nwhile i < n:\n    i += 1\n", "while i < n:"),
])
def test_loops_over_samples_are_flagged(body, header):
    found = _findings(body + VECTORISED)
    assert [f.code for f in found] == [header]
    assert found[0].line == HEAD.count("\n") + body.splitlines().index(header) + 1


@pytest.mark.parametrize("body", [
    "",
    "for name in ('W1', 'W2'):\n    pass\n",
    "for key in self.params:\n    pass\n",
    "C = W2.shape[1]\nfor c in range(C):\n    pass\n",
    "H = W1.shape[1]\nfor j in range(H):\n    pass\n",
    "for k, v in self.params.items():\n    pass\n",
])
def test_other_loops_are_not_flagged(body):
    assert _findings(body + VECTORISED) == []


def test_loops_in_a_helper_the_loss_calls_are_found():
    helper = """

    def _row_loss(self, X, y):
        total = 0.0
        for i in range(X.shape[0]):
            total += X[i, y[i]]
        return total

    def unused(self, X):
        for x in X:
            pass
"""
    found = _findings("return self._row_loss(X, y)\n", helper)
    assert [f.code for f in found] == ["for i in range(X.shape[0]):"]


def test_other_classes_and_methods_are_ignored():
    source = textwrap.dedent("""
        class Other:
            def loss(self, X, y):
                for x in X:
                    pass

        class TwoLayerNet:
            def loss(self, X, y=None, reg=0.0):
                return 0.0

            def train(self, X, y):
                for x in X:
                    pass
        """)
    assert loops_over_samples(source, "TwoLayerNet", "loss") == []
    assert loops_over_samples(source, "Missing", "loss") == []
    assert len(loops_over_samples(source, "Other", "loss")) == 1


def test_syntax_error_raises():
    with pytest.raises(SyntaxError):
        loops_over_samples("class TwoLayerNet:\n    def loss(self, X:\n", "TwoLayerNet", "loss")


def test_read_source(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "link.py").symlink_to(tmp_path / "a.py")
    (tmp_path / "big.py").write_bytes(b"#" * (2 << 20))
    assert read_source(tmp_path, "a.py") == "x = 1\n"
    assert read_source(tmp_path, "missing.py") is None
    assert read_source(tmp_path, "link.py") is None
    assert len(read_source(tmp_path, "big.py")) == 1 << 20
