"""The catalogue of what the grader catches: mutants of the reference, one student bug each.

A mutant is a small named edit of reference/two_layernet.py (old text -> new text), the
checks it must lose points on, and the questions it must keep full marks on. Broken
submissions are edits that make the whole file unusable; each names a phrase its feedback
must contain. tests/parts/part1_numpy/test_e2e_part1.py grades every entry.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "reference"
TOY_PROBS_LITERAL = (
    "np.array([[0.36446210, 0.22911264, 0.40642526], [0.47590629, 0.17217039, 0.35192332],"
    " [0.43035767, 0.26164229, 0.30800004], [0.41583127, 0.29832280, 0.28584593],"
    " [0.36328815, 0.32279939, 0.31391246]])")
LOOP_FORWARD = """probs = np.empty((N, W2.shape[1]))
        z2 = np.empty((N, W1.shape[1]))
        for i in range(N):
            hidden = np.maximum(0.0, X[i].dot(W1) + b1)
            z2[i] = X[i].dot(W1) + b1
            row = np.exp(hidden.dot(W2) + b2)
            probs[i] = row / row.sum()
        a2 = np.maximum(0.0, z2)
"""

# Backward pass by centred differences of the loss, inside loss(): right gradients, no
# backpropagation (2d's cost gate catches it: two forward passes per parameter).
REFERENCE_BACKWARD = (REFERENCE / "two_layernet.py").read_text().split(
    "        # Backward pass (question 2d).\n")[1].split("        return loss, grads\n")[0]
NUMERICAL_BACKWARD = """        # Backward pass (question 2d), by centred differences of the loss.
        def total_loss():
            scores = np.maximum(0.0, X.dot(W1) + b1).dot(W2) + b2
            scores = scores - scores.max(axis=1, keepdims=True)
            log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
            return (-np.mean(log_probs[np.arange(N), y])
                    + reg * (np.sum(W1 * W1) + np.sum(W2 * W2)))

        grads = {}
        for name, param in self.params.items():
            grad = np.zeros_like(param)
            for index in np.ndindex(*param.shape):
                kept = param[index]
                param[index] = kept + 1e-5
                above = total_loss()
                param[index] = kept - 1e-5
                below = total_loss()
                param[index] = kept
                grad[index] = (above - below) / 2e-5
            grads[name] = grad
"""
# Every matrix product of loss() as np.einsum on float64 copies: correct, and about 4x
# slower per training iteration than the reference (einsum does not call BLAS), within
# 1c's 8x on the forward pass.
EINSUM_EDITS = (
    ("        N = X.shape[0]\n",
     "        N = X.shape[0]\n        X = np.asarray(X, dtype=np.float64)\n"),
    ("z2 = X.dot(W1) + b1", "z2 = np.einsum('nd,dh->nh', X, W1) + b1"),
    ("z3 = a2.dot(W2) + b2", "z3 = np.einsum('nh,hc->nc', a2, W2) + b2"),
    ("a2.T.dot(dz3)", "np.einsum('nh,nc->hc', a2, dz3)"),
    ("dz3.dot(W2.T)", "np.einsum('nc,hc->nh', dz3, W2)"),
    ("X.T.dot(dz2)", "np.einsum('nd,nh->dh', X, dz2)"),
)
# train() that never updates self.params and returns made-up, falling histories of the
# right lengths.
FABRICATED_TRAIN = """        num_train = X.shape[0]
        iterations_per_epoch = max(num_train / batch_size, 1)
        epochs = int(np.ceil(num_iters / iterations_per_epoch))
        return {
            "loss_history": list(2.3 * np.exp(-np.arange(num_iters) / 300.0)),
            "train_acc_history": list(np.linspace(0.2, 0.6, epochs)),
            "val_acc_history": list(np.linspace(0.2, 0.5, epochs)),
        }

    def _unused_train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95,
              reg=5e-6, num_iters=100, batch_size=200, verbose=False):
        num_train = X.shape[0]
"""


@dataclass(frozen=True)
class Mutant:
    """One characteristic student bug."""

    name: str
    edits: tuple[tuple[str, str], ...]  # (old, new) replacements in two_layernet.py
    loses: tuple[str, ...]  # check ids that must lose points
    keeps: tuple[str, ...]  # question ids that must keep full marks
    bug: str  # what a student did

    def write(self, dest: Path) -> Path:
        """Writes the mutated submission folder; returns it."""
        shutil.copytree(REFERENCE, dest, ignore=shutil.ignore_patterns("__pycache__"))
        path = dest / "two_layernet.py"
        path.write_text(apply_edits(path.read_text(), self.edits,
                                    f"mutant {self.name}, the reference"))
        return dest


MUTANTS = (
    Mutant("relu_mask_forgotten", (("dz2 = da2 * (z2 > 0)", "dz2 = da2"),),
           ("2d.1", "2d.2"), ("1a", "1b", "1c"), "backprop ignores the ReLU mask"),
    Mutant("reg_grad_without_2", (("2.0 * reg * W2", "reg * W2"), ("2.0 * reg * W1", "reg * W1")),
           ("2d.1", "2d.2"), ("1a", "1b", "1c"), "regulariser gradient without its factor 2"),
    Mutant("reg_hard_coded", (("reg_loss = reg * (", "reg_loss = 0.05 * ("),),
           ("1b.2",), ("1a", "1c"), "regulariser strength hard-coded to the toy's 0.05"),
    Mutant("not_averaged", (("dz3 /= N", "dz3 /= 1"),),
           ("2d.1", "2d.2"), ("1a", "1b", "1c"), "gradients summed, not averaged over the batch"),
    Mutant("sum_not_mean_loss", (("data_loss = -np.mean(", "data_loss = -np.sum("),),
           ("1b.1", "1b.2"), ("1a", "1c", "2d"), "cross-entropy summed instead of averaged"),
    Mutant("summed_loss_and_gradients", (("data_loss = -np.mean(", "data_loss = -np.sum("),
                                         ("dz3 /= N", "dz3 /= 1")),
           ("1b.1", "1b.2", "2d.1", "2d.2"), ("1a", "1c"),
           "cross-entropy summed, and its gradients with it (2d must send the student to 1b)"),
    Mutant("bias_regularised", (("reg_loss = reg * (np.sum(W1 * W1) + np.sum(W2 * W2))",
                                 "reg_loss = reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + "
                                 "np.sum(b1 * b1) + np.sum(b2 * b2))"),),
           ("1b.2",), ("1a", "1c", "2d"), "biases regularised (zero in the toy, not in hidden cases)"),
    Mutant("scores_not_probabilities", (("        if y is None:\n            return probs",
                                         "        if y is None:\n            return z3"),),
           ("1a.1", "1a.2"), ("1b", "2d"), "loss(X) returns raw scores, not probabilities"),
    Mutant("hard_coded_toy_answer", (("        if y is None:\n            return probs",
                                      "        if y is None:\n            return "
                                      + TOY_PROBS_LITERAL),),
           ("1a.2",), ("1b", "2d"), "the toy probabilities pasted in"),
    Mutant("loop_over_samples", (("z2 = X.dot(W1) + b1  # (N, H)\n        a2 = np.maximum(0.0, z2)  # (N, H)\n"
                                  "        z3 = a2.dot(W2) + b2  # (N, C)\n"
                                  "        shifted = z3 - z3.max(axis=1, keepdims=True)  # softmax is shift invariant\n"
                                  "        exp_scores = np.exp(shifted)\n"
                                  "        probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)  # (N, C)\n",
                                  LOOP_FORWARD),),
           ("1c.1", "1c.2"), ("1a", "1b"), "forward pass loops over samples"),
    Mutant("sgd_ignores_learning_rate", (("self.params[name] -= learning_rate * grad",
                                          "self.params[name] -= 0.1 * grad"),),
           ("3a.2", "3a.3"), ("1a", "1b", "2d"), "SGD step with a hard-coded learning rate"),
    Mutant("no_decay", (("                learning_rate *= learning_rate_decay\n", ""),),
           ("3a.2", "3a.3"), ("1a", "1b", "2d"), "learning rate never decayed"),
    Mutant("first_rows_only", (("idx = np.random.choice(num_train, batch_size, replace=True)",
                                "idx = np.arange(batch_size) % num_train"),),
           ("3a.2", "3a.3"), ("1a", "1b", "2d"), "every minibatch is the first rows"),
    Mutant("no_update", (("self.params[name] -= learning_rate * grad", "pass"),),
           ("3a.1", "3a.2", "3a.3"), ("1a", "1b", "2d"), "SGD step forgotten"),
    Mutant("choice_without_replacement", (("replace=True)", "replace=False)"),),
           ("3a.1",), ("1a", "1b", "2d"), "sampling without replacement crashes when the batch exceeds N"),
    Mutant("train_returns_nothing", (("        return {\n            \"loss_history\"",
                                      "        return None\n        {\n            \"loss_history\""),),
           ("3a.1",), ("1a", "1b", "2d"), "train() forgets to return its history"),
    Mutant("predict_argmin", (("return np.argmax(scores, axis=1)", "return np.argmin(scores, axis=1)"),),
           ("3a.2", "3a.3"), ("1a", "1b", "2d"), "predict picks the wrong class"),
    Mutant("numerical_gradients", ((REFERENCE_BACKWARD, NUMERICAL_BACKWARD),),
           ("2d.1", "2d.2"), ("1a", "1b", "1c", "3a"),
           "gradients by finite differences inside loss(), not backpropagation"),
    Mutant("fabricated_history", (("        num_train = X.shape[0]\n", FABRICATED_TRAIN),),
           ("3a.1", "3a.2", "3a.3", "3b.1", "3b.2"), ("1a", "1b", "1c", "2d"),
           "train() never updates self.params and returns made-up, falling histories"),
)

# Issue 19's: train() fits the validation rows, which 3b.2 once judged (100% validation
# accuracy); 3b judges the test images now. Graded on 3b only (tests/core/test_calibration.py,
# minutes), so not in MUTANTS.
TRAINS_ON_VALIDATION = Mutant(
    "trains_on_validation",
    (("idx = np.random.choice(num_train, batch_size, replace=True)\n"
      "            X_batch, y_batch = X[idx], y[idx]",
      "idx = np.random.choice(X_val.shape[0], batch_size, replace=True)\n"
      "            X_batch, y_batch = X_val[idx], y_val[idx]"),),
    ("3b.2",), (), "train() draws its minibatches from the validation rows (X_val, y_val)")


# Correct solutions written unlike the reference, as real submissions are: every automatic
# check keeps full marks (Mutants with nothing to lose).
VARIANTS = (
    Mutant("unused_torch_import",
           (("import numpy as np\n", "import numpy as np\nimport torch  # noqa: F401\n"),),
           (), ("1a", "1c"), "an unused `import torch` at the top"),
    Mutant("scipy_special",
           (("import numpy as np\n",
             "import numpy as np\nfrom scipy.special import log_softmax, softmax\n"),
            ("probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)  # (N, C)",
             "probs = softmax(z3, axis=1)"),
            ("data_loss = -np.mean(np.log(probs[np.arange(N), y]))",
             "data_loss = -np.mean(log_softmax(z3, axis=1)[np.arange(N), y])")),
           (), ("1a", "1b", "1c", "2d", "3a"), "softmax and log_softmax from scipy.special"),
    # Slower, within 1c's 8x: 3b's retraining on the default data keeps its marks too
    # (about 200 s of training on one core, the slowest test of the suite).
    Mutant("einsum_without_blas", EINSUM_EDITS, (), ("1a", "1b", "1c", "2d", "3a", "3b"),
           "every product in loss() is np.einsum: about 4x slower per training iteration"),
)


@dataclass(frozen=True)
class Broken:
    """A submission the grader must survive, with a phrase its feedback must contain."""

    name: str
    phrase: str  # expected in every check's message
    files: dict  # file name -> content (None: delete it); other files from reference/

    def write(self, dest: Path) -> Path:
        """Writes the broken submission folder; returns it."""
        shutil.copytree(REFERENCE, dest, ignore=shutil.ignore_patterns("__pycache__"))
        for name, content in self.files.items():
            if content is None:
                (dest / name).unlink()
            else:
                (dest / name).write_text(content)
        return dest


def apply_edits(text: str, edits, where: str) -> str:
    """text with each (old, new) replacement applied; an `old` not found fails loudly (the
    reference changed under the catalogue), naming `where`."""
    for old, new in edits:
        if old not in text:
            raise AssertionError(f"{where}: {old!r} not found")
        text = text.replace(old, new)
    return text



class EditsOneFile:
    """text() and write() of a catalogue entry (a dataclass with `name` and `edits`) that
    edits one file of reference/, named by the class attribute `reference` (its path)."""

    reference: ClassVar[Path]

    def text(self) -> str:
        """The edited file's text."""
        return apply_edits(self.reference.read_text(), self.edits,
                           f"mutant {self.name}, the reference")

    def write(self, dest: Path) -> Path:
        """Writes a submission folder holding the edited file; returns it."""
        dest.mkdir(parents=True, exist_ok=True)
        (dest / self.reference.name).write_text(self.text())
        return dest

def _reference_text(edit: tuple[str, str]) -> str:
    return apply_edits((REFERENCE / "two_layernet.py").read_text(), (edit,), "the reference")


BROKEN = (
    Broken("missing_file", "two_layernet.py not found", {"two_layernet.py": None}),
    Broken("syntax_error", "SyntaxError", {"two_layernet.py": _reference_text(
        ("def predict(self, X):", "def predict(self, X)"))}),
    Broken("wrong_class_name", "no class TwoLayerNet", {"two_layernet.py": _reference_text(
        ("class TwoLayerNet:", "class TwoLayerNetwork:"))}),
    Broken("failing_import", "imports 'past_helpers_v2'", {"two_layernet.py": _reference_text(
        ("import numpy as np", "import numpy as np\nimport past_helpers_v2"))}),
    Broken("import_time_crash", "ZeroDivisionError", {"two_layernet.py": _reference_text(
        ("import numpy as np", "import numpy as np\nSCALE = 1 / 0"))}),
)


def set_hyperparams(sub: Path, **changes) -> None:
    """Rewrites keys of BEST_HYPERPARAMS in sub/hyperparams.py."""
    path = sub / "hyperparams.py"
    text = path.read_text()
    for key, value in changes.items():
        start = text.index(f'"{key}": ')
        end = text.index(",", start)
        text = text[:start] + f'"{key}": {value!r}' + text[end:]
    path.write_text(text)
