"""From scratch means from scratch (issue 19, item 7): in the questions the rubric marks
`from_scratch` (1a-3b, 5a-5d, 6d), a forward pass, loss or gradient computed by torch (or
jax, tensorflow, autograd) earns nothing, with a "not from scratch" message naming the
student's function and what it called; an unused import grades normally.

Each submission is graded in-process by the suites (tests/support/grading.py, batched):
each round of the checks' probe calls is served by ONE sandboxed child
(GradingContext.probe_calls), so a submission that imports torch pays torch's import once
per round, not once per check. grader/core/sandbox/scratch_guard.py is the guard.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from grader.core.rubric import spec as rubric_mod
from grader.core.errors import RubricError
from grader.core.engine.context import ProbeCall
from grading import context, grade
from mutants import REFERENCE, apply_edits

RUBRIC = rubric_mod.load()
FROM_SCRATCH = ("1a", "1b", "1c", "2d", "3a", "3b", "5a", "5b", "5c", "5d", "6d")
HINT = "Hint: compute the forward pass, the loss and the gradients with numpy"


# -- grading several checks of a submission, each round of calls in one child ------------

PART1 = ("1a.1", "1a.2", "1b.1", "2d.1", "2d.2")
PART4 = ("6d.1", "6d.2", "6a.1")
GATE_PASSED = {"backprop": (None, {})}  # 2d's backpropagation-cost gate (a second call)


def graded_of(submission: Path, checks, rubric=RUBRIC) -> dict[str, tuple]:
    """check id -> (share of its points earned, message) of checks on a submission, graded
    in-process by their suites (2d's cost gate passed), every probe call in one sandboxed
    child (tests/support/grading.py)."""
    return {c: (g.fraction, g.message) for c, g in grade(
        submission, checks, rubric=rubric, batched=True, fixtures=GATE_PASSED).items()}


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def two_layernet(*edits) -> str:
    return apply_edits((REFERENCE / "two_layernet.py").read_text(), edits, "two_layernet.py")


TORCH_AT_TOP = ("import numpy as np\n", "import numpy as np\nimport torch\n")
REFERENCE_BACKWARD = (REFERENCE / "two_layernet.py").read_text().split(
    "        # Backward pass (question 2d).\n")[1].split("        return loss, grads\n")[0]
AUTOGRAD_BACKWARD = """        # Backward pass (question 2d), by torch.autograd.
        params = {k: torch.tensor(v, requires_grad=True) for k, v in self.params.items()}
        hidden = torch.relu(torch.from_numpy(X) @ params["W1"] + params["b1"])
        scores = hidden @ params["W2"] + params["b2"]
        total = torch.nn.functional.cross_entropy(scores, torch.from_numpy(y).long()) \\
            + reg * ((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum())
        found = torch.autograd.grad(total, list(params.values()))
        grads = {k: g.detach().numpy() for k, g in zip(params, found)}
"""


def _earned(graded, ids):
    return {c: graded[c][0] for c in ids}


# -- Part 1 --------------------------------------------------------------------------

def test_2d_gradients_by_torch_autograd_earn_nothing(tmp_path):
    """loss() takes its gradients from torch.autograd (its forward pass and loss are
    numpy): 2d earns nothing, saying so; 1a keeps its marks. 1b's toy is the same call
    of loss(X, y, reg), which computed with torch, so it fails too. Without the rule the
    same file earns every point of 2d (the gradients are right)."""
    sub = write(tmp_path / "sub", "two_layernet.py",
                two_layernet(TORCH_AT_TOP, (REFERENCE_BACKWARD, AUTOGRAD_BACKWARD)))
    graded = graded_of(sub, PART1)
    assert _earned(graded, ("1a.1", "1a.2")) == {"1a.1": 1.0, "1a.2": 1.0}, graded
    for check_id in ("2d.1", "2d.2", "1b.1"):
        fraction, message = graded[check_id]
        assert fraction == 0, (check_id, message)
        assert "not from scratch: loss() called torch.tensor" in message, message
        assert "two_layernet.py:" in message and HINT in message, message
    # the same submission under a rubric without the rule: the gradients are right
    lax = dataclasses.replace(RUBRIC, questions=tuple(
        dataclasses.replace(q, from_scratch=False) for q in RUBRIC.questions))
    graded = graded_of(sub, ("2d.1", "1b.1"), rubric=lax)
    assert _earned(graded, ("2d.1", "1b.1")) == {"2d.1": 1.0, "1b.1": 1.0}, graded


def test_1a_forward_by_torch_earns_nothing(tmp_path):
    """loss(X) returns probabilities torch computed (torch.from_numpy, torch.softmax):
    1a earns nothing; loss(X, y, reg), numpy throughout, keeps 1b and 2d."""
    sub = write(tmp_path / "sub", "two_layernet.py", two_layernet(TORCH_AT_TOP, (
        "        if y is None:\n            return probs\n",
        "        if y is None:\n"
        "            return torch.softmax(torch.from_numpy(z3), dim=1).numpy()\n")))
    graded = graded_of(sub, PART1)
    for check_id in ("1a.1", "1a.2"):
        fraction, message = graded[check_id]
        assert fraction == 0, (check_id, message)
        assert "not from scratch: loss() made a torch tensor of an array" in message, message
    assert _earned(graded, ("1b.1", "2d.1", "2d.2")) == {"1b.1": 1.0, "2d.1": 1.0,
                                                         "2d.2": 1.0}, graded


def test_unused_torch_keeps_full_marks(tmp_path):
    """`import torch` at the top of two_layernet.py, an alias, and a torch helper that the
    graded code never calls: full marks."""
    sub = write(tmp_path / "sub", "two_layernet.py", two_layernet(
        ("import numpy as np\n", "import numpy as np\nimport torch\nimport torch as th\n\n\n"
         "def to_tensor(a):\n    return th.from_numpy(a)\n")))
    graded = graded_of(sub, PART1)
    assert all(f == 1 for f, _ in graded.values()), graded


def test_imports_inside_loss(tmp_path):
    """An `import torch` inside loss() that nothing uses grades normally (the grader
    imports what a file's import statements name before its code runs). A library the
    file names nowhere cannot be imported while loss() is graded: a fallback to numpy
    keeps full marks, and without one the refusal is the message."""
    unused = ("        N = X.shape[0]\n",
              "        N = X.shape[0]\n        import torch  # noqa: F401\n")
    sub = write(tmp_path / "unused", "two_layernet.py", two_layernet(unused))
    graded = graded_of(sub, ("1a.1", "2d.1"))
    assert all(f == 1 for f, _ in graded.values()), graded
    fallback = ("        N = X.shape[0]\n",
                "        N = X.shape[0]\n        try:\n"
                "            __import__(\"tor\" + \"ch\")\n"
                "        except ImportError:\n            pass\n")
    sub = write(tmp_path / "fallback", "two_layernet.py", two_layernet(fallback))
    graded = graded_of(sub, ("1a.1", "2d.1"))
    assert all(f == 1 for f, _ in graded.values()), graded
    sub = write(tmp_path / "bare", "two_layernet.py", two_layernet(
        ("        N = X.shape[0]\n",
         "        N = X.shape[0]\n        __import__(\"tor\" + \"ch\")\n")))
    fraction, message = graded_of(sub, ("1a.1",))["1a.1"]
    assert fraction == 0 and "not from scratch: loss() imports torch" in message, message


# -- Part 3 --------------------------------------------------------------------------

NETWORK = REFERENCE / "network_template.py"
BACKWARD = NETWORK.read_text().split("    def backward_pass(self, output, target, Zs, As):\n")[1] \
    .split("        return gw, gb\n")[0]
TORCH_BACKWARD = '''        """Gradients (gw, gb) of the regularised loss, by torch.autograd."""
        W = [torch.tensor(w, requires_grad=True) for w in self.weights]
        B = [torch.tensor(b, requires_grad=True) for b in self.biases]
        a = torch.from_numpy(np.asarray(As[0], dtype=np.float64))
        for i, (w, b) in enumerate(zip(W, B)):
            z = w @ a + b
            a = torch.softmax(z, dim=0) if i == len(W) - 1 else torch.sigmoid(z)
        m = target.shape[1]
        total = -(torch.from_numpy(target) * torch.log(a)).sum() / m \\
            + 0.5 * self.l2 * sum((w ** 2).sum() for w in W)
        found = torch.autograd.grad(total, W + B)
        gw = [g.numpy() for g in found[:len(W)]]
        gb = [g.numpy() for g in found[len(W):]]
'''


def test_part3_backward_pass_by_torch_earns_nothing(tmp_path):
    """backward_pass by torch.autograd: 5a earns nothing; 5b and 5c (the grader's own
    forward and backward passes around the student's train() and update_network) keep
    their marks."""
    text = apply_edits(NETWORK.read_text(), (TORCH_AT_TOP, (BACKWARD, TORCH_BACKWARD)),
                       "network_template.py")
    graded = grade(write(tmp_path / "sub", "network_template.py", text), ("5a", "5b", "5c"),
                   batched=True)
    for check_id in ("5a.1", "5a.2"):
        assert graded[check_id].fraction == 0, graded[check_id].message
        assert "not from scratch: backward_pass() called torch.tensor" in \
            graded[check_id].message, graded[check_id].message
    assert {c: g.fraction for c, g in graded.items() if not c.startswith("5a")} == \
        {"5b.1": 1.0, "5b.2": 1.0, "5c.1": 1.0, "5c.2": 1.0}, graded


def test_part3_unused_torch_keeps_full_marks(tmp_path):
    text = apply_edits(NETWORK.read_text(), (TORCH_AT_TOP,), "network_template.py")
    graded = grade(write(tmp_path / "sub", "network_template.py", text), ("5a", "5b", "5c"),
                   batched=True)
    assert all(g.fraction == 1 for g in graded.values()), graded


# -- 6d ------------------------------------------------------------------------------

THEORY = (REFERENCE / "theory.py").read_text()
NUMPY_GRADIENTS = THEORY.split("    # Question 6d: the chain rule, output layer first.\n")[1]
OTHER_QUESTIONS = '''

class SmallNet(torch.nn.Module):
    """A torch network of another question, defined in the same file."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(),
                                          torch.nn.Linear(2, 2))

    def forward(self, x):
        return self.layers(x)
'''
AUTOGRAD_GRADIENTS = """    db1 = torch.tensor(b1, requires_grad=True)
    db2 = torch.tensor(b2, requires_grad=True)
    out = torch.from_numpy(W2) @ torch.relu(torch.from_numpy(W1) @ torch.from_numpy(x) + db1)
    loss = ((torch.from_numpy(t) - (out + db2)) ** 2).sum()
    dL_db1, dL_db2 = (g.numpy() for g in torch.autograd.grad(loss, [db1, db2]))
    return dL_db1, dL_db2
"""


def test_6d_bias_gradients_by_torch_earn_nothing(tmp_path):
    """bias_gradients by torch.autograd in a theory.py that also defines a torch network:
    6d earns nothing, saying so; 6a (conv_output_size, numpy) keeps its marks."""
    text = apply_edits(THEORY, (TORCH_AT_TOP, (NUMPY_GRADIENTS, AUTOGRAD_GRADIENTS)),
                       "theory.py") + OTHER_QUESTIONS
    graded = graded_of(write(tmp_path / "sub", "theory.py", text), PART4)
    for check_id in ("6d.1", "6d.2"):
        fraction, message = graded[check_id]
        assert fraction == 0, (check_id, message)
        assert "not from scratch: bias_gradients() called torch.tensor" in message, message
        assert HINT in message, message
    assert graded["6a.1"][0] == 1, graded["6a.1"]


def test_6d_theory_with_torch_networks_keeps_full_marks(tmp_path):
    text = apply_edits(THEORY, (TORCH_AT_TOP,), "theory.py") + OTHER_QUESTIONS
    graded = graded_of(write(tmp_path / "sub", "theory.py", text), PART4)
    assert all(f == 1 for f, _ in graded.values()), graded


# -- the guard against evasions, one child ----------------------------------------------

CALL_PROBE = '''import numpy as np


def call(ctx):
    """Calls module.name(x) for x (2, 3) and records what it returns."""
    module = ctx.import_student(ctx.params["module"])
    out = ctx.call(getattr(module, ctx.params["name"]), np.arange(6.0).reshape(2, 3))
    ctx.put("out", ctx.array(out, "what it returned"))
'''
FRESH = '''import importlib

import numpy as np


def import_module(x):
    return importlib.import_module("torch").exp(x)


def dunder_import(x):
    return __import__("torch.nn.functional").exp(x)


def try_import(x):
    try:
        importlib.import_module("jax")  # not installed: a plain ModuleNotFoundError
        importlib.import_module("torch")
    except ImportError:
        pass
    return np.exp(x)
'''
HOSTILE = '''import queue
import sys
import threading

import numpy as np
import torch

MADE = torch.ones(2, 3, dtype=torch.float64)  # at import: not graded code
REQUESTS, ANSWERS = queue.Queue(), queue.Queue()


def serve():
    """A thread started at import that computes with torch on request."""
    while True:
        x = REQUESTS.get()
        try:
            ANSWERS.put(torch.exp(torch.from_numpy(x)).numpy())
        except Exception:
            ANSWERS.put(np.exp(x))


threading.Thread(target=serve, daemon=True).start()


def numpy_only(x):
    return np.exp(x)


def round_trip(x):
    return torch.exp(torch.from_numpy(x)).numpy()


def alias(x):
    import torch as np
    return np.exp(np.as_tensor(x)).numpy()


def func_grad(x):
    return torch.func.grad(lambda t: (t * t).sum())(torch.from_numpy(x)).numpy()


def swallowed(x):
    try:
        return torch.exp(torch.from_numpy(x)).numpy()
    except Exception:
        return np.exp(x)


def in_a_thread(x):
    out = []
    worker = threading.Thread(target=lambda: out.append(torch.exp(torch.from_numpy(x))))
    worker.start()
    worker.join()
    return np.exp(x)


def by_the_server(x):
    REQUESTS.put(x)
    return ANSWERS.get(timeout=30)


def modes_off(x):
    from torch.utils._python_dispatch import _pop_mode
    torch._C._pop_torch_function_stack()
    _pop_mode()
    return torch.exp(torch.from_numpy(x)).numpy()


def dispatch_off(x):
    with torch._C.DisableTorchFunction(), torch._C._DisableTorchDispatch():
        return torch.exp(torch.from_numpy(x)).numpy()


def finder_off(x):
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_Finder"]
    return np.exp(x)


def returns_tensor(x):
    return MADE
'''
EVASIONS = {  # (module, function) -> what the failure says ("" = none: full result)
    ("fresh", "import_module"): "not from scratch: import_module() imports torch",
    ("fresh", "dunder_import"): "not from scratch: dunder_import() imports torch",
    ("fresh", "try_import"): "",
    ("hostile", "numpy_only"): "",
    ("hostile", "round_trip"): "not from scratch: round_trip() made a torch tensor",
    ("hostile", "alias"): "not from scratch: alias() called torch.as_tensor",
    ("hostile", "func_grad"): "not from scratch: func_grad() made a torch tensor",
    ("hostile", "swallowed"): "not from scratch: swallowed() made a torch tensor",
    ("hostile", "in_a_thread"): "not from scratch: your code made a torch tensor",
    ("hostile", "by_the_server"): "not from scratch: serve() made a torch tensor",
    ("hostile", "modes_off"): "not from scratch: modes_off() switched off the grader's check",
    ("hostile", "dispatch_off"): "not from scratch: dispatch_off() switched off the grader's",
    ("hostile", "finder_off"): "not from scratch: your code removed the grader's import check",
    ("hostile", "returns_tensor"): "not from scratch: your code returned a torch tensor",
}


def test_evasions_are_caught_and_numpy_passes(tmp_path):
    """Every way round the guard tried here fails its call with a from-scratch message;
    numpy code beside it, and a refused import that falls back to numpy, do not. The
    module without torch at its top goes first (torch is not imported yet)."""
    sub = write(tmp_path / "sub", "fresh.py", FRESH)
    write(sub, "hostile.py", HOSTILE)
    probe = tmp_path / "call_probe.py"
    probe.write_text(CALL_PROBE)
    calls = [ProbeCall("call", {"module": m, "name": n}) for m, n in EVASIONS]
    runs = context(sub, RUBRIC).probe_calls(probe, calls, "1a.1")
    for (key, says), run in zip(EVASIONS.items(), runs):
        if not says:
            assert run.failure is None, (key, run.failure)
            assert np.allclose(run.values["out"], np.exp(np.arange(6.0).reshape(2, 3)))
        else:
            assert run.failure is not None and run.failure.kind == "from_scratch", \
                (key, run.failure, run.output[-2000:])
            assert says in run.failure.message, (key, run.failure.message)


# -- the rubric's flag ---------------------------------------------------------------

def test_rubric_marks_the_from_scratch_questions():
    assert tuple(q.id for q in RUBRIC.questions if q.from_scratch) == FROM_SCRATCH


def test_rubric_flag_must_be_a_boolean(tmp_path):
    text = RUBRIC_PATH_TEXT.replace('id = "1a"\n', 'id = "1a"\nfrom_scratch = "yes"\n', 1)
    text = text.replace('from_scratch = true\n', '', 1)  # 1a's own line
    path = tmp_path / "rubric.toml"
    path.write_text(text)
    with pytest.raises(RubricError, match="from_scratch should be true or false"):
        rubric_mod.load(path)


RUBRIC_PATH_TEXT = rubric_mod.RUBRIC_PATH.read_text()


# -- as root, with student code run by the unprivileged user --------------------------

WATCHED = '''import sys

import numpy as np


def guard_on(x):
    """1 when the grader's import check is first on sys.meta_path, else 0."""
    return np.full(x.shape, float(type(sys.meta_path[0]).__name__ == "_Finder"))
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to the sandbox user needs root")
def test_as_the_unprivileged_user_the_guard_runs(sandbox_python, monkeypatch, tmp_path):
    """The child that runs as the sandbox user (a numpy-only interpreter here) loads the
    guard from its control folder: the reference keeps full marks on from-scratch checks,
    and student code sees the guard's finder."""
    monkeypatch.setenv("GRADER_ISOLATION", "require")
    monkeypatch.setenv("GRADER_SANDBOX_PYTHON", sandbox_python)
    graded = graded_of(REFERENCE, ("1a.1", "2d.1"))
    assert all(f == 1 for f, _ in graded.values()), graded
    sub = write(tmp_path / "sub", "watched.py", WATCHED)
    probe = tmp_path / "call_probe.py"
    probe.write_text(CALL_PROBE)
    run, = context(sub, RUBRIC).probe_calls(
        probe, [ProbeCall("call", {"module": "watched", "name": "guard_on"})], "6d.1")
    assert run.failure is None and run.values["out"].min() == 1, (run.failure, run.output)
