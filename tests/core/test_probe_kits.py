"""The probe-side kits (grader/core/sandbox/kits/): copied beside every sandboxed child and
preloaded there as grader_kit_<name>, so that a probe, loaded alone by path, imports them;
their lookups word a missing class or function as the parts' probes always have, and the
progress file says how far a run got."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from grading import context
from grader.core.rubric import spec as rubric
from grader.core.sandbox.kits import training as kit


class _Stop(Exception):
    """What the fake context's fail() raises: (kind, message, detail)."""


def _ctx(tmp_path):
    def fail(kind, message, where="", detail=""):
        raise _Stop(kind, message, detail)

    return SimpleNamespace(params={"progress_dir": str(tmp_path)}, perf_counter=lambda: 0.0,
                           fail=fail)


@pytest.mark.parametrize("capped, done", [(True, 2), (False, 3)])
def test_progress_is_written_at_the_end_and_capped_when_asked(tmp_path, capped, done):
    progress = kit.Progress(_ctx(tmp_path), 2, capped=capped)
    for _ in range(3):  # one step more than planned (a loop that counts extra calls)
        progress.step()
    assert json.loads((tmp_path / "progress.json").read_text()) == {"done": done, "total": 2}


def test_lookups_name_the_file_and_what_it_defines(tmp_path):
    ctx = _ctx(tmp_path)
    module = SimpleNamespace(__name__="build_net", CNN=3, train=0.5, helper=len, _hidden=1)
    with pytest.raises(_Stop) as stop:
        kit.student_class(ctx, module, "CNN")
    assert stop.value.args == ("missing", "build_net.py defines no class CNN",
                               "names it defines: CNN, helper, train")
    assert kit.student_class(ctx, module, "CNN", strict=False) == 3  # anything but None
    with pytest.raises(_Stop) as stop:
        kit.student_function(ctx, module, "train", "(model)", "ex2_pytorch", shadowed=True)
    assert stop.value.args[1] == ("ex2_pytorch.py defines no function train(model) (train is "
                                  "a float: a setting of the same name replaces the function)")
    assert kit.student_function(ctx, module, "helper", "(x)") is len


PROBE = '''
import grader_kit_layer_calls
import grader_kit_training as kit


def look(ctx):
    module = ctx.import_student("student")
    ctx.put("found", kit.student_class(ctx, module, "Net").__name__)
    ctx.put("kits", sorted(n for n in ("layer_calls", "output_path", "training")
                           if "grader_kit_" + n in __import__("sys").modules))
    kit.student_function(ctx, module, "train", "(net)")
'''


def test_a_probe_imports_the_kits_in_the_sandbox(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "student.py").write_text("class Net:\n    pass\n")
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    grading = context(sub, rubric.load())
    run = grading.probe(probe, "look", rubric.load().checks[0].id)
    assert run.values["found"] == "Net"
    assert run.values["kits"] == ["layer_calls", "output_path", "training"]
    assert (run.failure.kind, run.failure.message) == (
        "missing", "student.py defines no function train(net)")
