"""torch next to student code: a library the grader provides that cannot import is the
grader's fault, and ctx.torch() seeds torch and asks for deterministic algorithms."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from grader.core.rubric import spec as rubric
from grader.core.errors import SandboxError
from grader.core.engine.context import failure_verdict
from grader.core.sandbox.runner import run_probe

torch = pytest.importorskip("torch")

PROBE = '''
def seeded(ctx):
    torch, device = ctx.torch()
    module = ctx.import_student("student")
    ctx.put("device", device)
    ctx.put("deterministic", bool(torch.are_deterministic_algorithms_enabled()))
    ctx.put("draw", ctx.array(ctx.call(module.draw), "draw()"))


def imports(ctx):
    ctx.import_student("student")
    ctx.put("ok", 1)
'''


@pytest.fixture
def probe(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text(PROBE)
    return path


def _submission(tmp_path, source):
    sub = tmp_path / "sub"
    sub.mkdir(exist_ok=True)
    (sub / "student.py").write_text(textwrap.dedent(source))
    return sub


def test_a_provided_library_that_cannot_import_is_a_grader_error(tmp_path, probe):
    """Under a memory limit too small for torch, the student's `import torch` is not what
    fails: the grader imports torch first, and says the fault is its own."""
    sub = _submission(tmp_path, "import torch\n")
    limits = rubric.load().limits.replace(memory_mb=400)
    run = run_probe(probe, "imports", submission=sub, limits=limits)
    assert run.failure is not None and run.failure.kind == "grader", run.failure
    assert "torch" in run.failure.message and "failed to import" in run.failure.message
    with pytest.raises(SandboxError, match="torch"):
        failure_verdict(run)


def test_ctx_torch_seeds_and_asks_for_determinism(tmp_path, probe):
    sub = _submission(tmp_path, """
        import torch
        def draw():
            return torch.randn(4)
        """)
    limits = rubric.load().limits
    runs = [run_probe(probe, "seeded", submission=sub, limits=limits,
                      params={"seed": 7, "device": "cpu"}) for _ in range(2)]
    for run in runs:
        assert run.failure is None, (run.failure, run.output[-1500:])
        assert run.values["device"] == "cpu" and run.values["deterministic"] is True
    np.testing.assert_array_equal(runs[0].values["draw"], runs[1].values["draw"])
    torch.manual_seed(7)
    np.testing.assert_allclose(runs[0].values["draw"], torch.randn(4).double().numpy())
