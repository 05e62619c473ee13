"""GradingContext.probe_calls: several probe calls served by one sandboxed child.

What a child pays once (starting Python, importing torch and the student's module) is
paid once for a question's calls; each call still gets its own params and inputs back
under its own name, and a call that fails stops only itself.
"""
from __future__ import annotations

import numpy as np

from grader.core.rubric import spec as rubric
from grader.core.engine.context import GradingContext, ProbeCall

PROBE = '''
import os
import sys

SERVED = []  # module state of the probe: one list per child


def stamp(ctx):
    SERVED.append(ctx.params["tag"])
    module = ctx.import_student("student")
    ctx.put("pid", os.getpid())
    ctx.put("served", list(SERVED))
    ctx.put("imports", module.IMPORTS)
    ctx.put("doubled", ctx.inputs["x"] * 2)


def broken(ctx):
    ctx.fail("api", "this call fails on purpose")
'''


def _context(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    # counts how often the student's module is executed in this child
    (sub / "student.py").write_text("import builtins\n"
                                    "builtins.__dict__.setdefault('_n', [])\n"
                                    "builtins._n.append(1)\nIMPORTS = len(builtins._n)\n")
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    return GradingContext(sub, None, False, False, rubric.load(), progress=False), probe


def test_calls_share_one_child_and_keep_their_own_results(tmp_path):
    grading, probe = _context(tmp_path)
    calls = [ProbeCall("stamp", {"tag": "a"}, {"x": np.arange(3.0)}),
             ProbeCall("broken"),
             ProbeCall("stamp", {"tag": "b"}, {"x": np.ones(2)})]
    first, failed, second = grading.probe_calls(probe, calls, "1a.1")
    assert len(grading.probe_runs) == 1  # one child for the three calls
    assert first.failure is None and second.failure is None
    assert first.values["pid"] == second.values["pid"]
    assert first.values["served"] == ["a"] and second.values["served"] == ["a", "b"]
    assert first.values["imports"] == second.values["imports"] == 1  # imported once
    np.testing.assert_array_equal(first.values["doubled"], [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(second.values["doubled"], [2.0, 2.0])
    assert failed.failure is not None and "on purpose" in failed.failure.message
    assert not failed.values
