"""Device policy: a question's rubric `device` ("cpu" / "auto"), the device line of a run,
and the device probes receive. The grader's own process never imports torch."""
from __future__ import annotations

import re

import pytest

from grader.core.rubric import spec as rubric_mod
from grader.core.errors import RubricError
from grader.core.engine.context import GradingContext
from grader.core.engine.plugin import device_line

TOML = rubric_mod.RUBRIC_PATH.read_text()


def _rubric(tmp_path, device: str | None):
    """The shipped rubric with every question on the CPU, and `device` on question 1a."""
    text = TOML.replace('device = "auto"', 'device = "cpu"')
    if device is not None:  # on question 1a
        text = text.replace('id = "1a"\n', f'id = "1a"\ndevice = "{device}"\n', 1)
    path = tmp_path / "rubric.toml"
    path.write_text(text)
    return rubric_mod.load(path)


def test_device_defaults_to_cpu_and_is_validated(tmp_path):
    shipped = rubric_mod.load()
    assert all(q.device == "cpu" for q in shipped.questions if q.part == 1)
    assert _rubric(tmp_path, None).question("1a").device == "cpu"  # the default
    assert _rubric(tmp_path, "auto").question("1a").device == "auto"
    with pytest.raises(RubricError, match="device 'gpu' must be one of 'cpu', 'auto'"):
        _rubric(tmp_path, "gpu")


def _context(tmp_path, device, info):
    context = GradingContext(tmp_path, None, False, False, _rubric(tmp_path, device), False)
    calls = []

    def fake():
        calls.append(1)
        return info
    context.device_info = fake
    return context, calls


def test_no_auto_question_never_probes(tmp_path):
    context, calls = _context(tmp_path, None, {})
    line, details = device_line(context)
    assert re.fullmatch(r"CPU \(\w+, \d+ cores\); no check of this run uses a GPU", line)
    assert details == {} and not calls
    assert context.device_for("1a") == "cpu"


def test_auto_question_with_a_gpu(tmp_path):
    info = {"torch": "2.14.1", "cuda": "13.0", "cuda_available": True,
            "gpu": "NVIDIA H200", "cudnn": "91000"}
    context, calls = _context(tmp_path, "auto", info)
    line, details = device_line(context, {"1a"})
    assert line == "CUDA: NVIDIA H200 (torch 2.14.1, CUDA 13.0)"
    assert details["gpu"] == "NVIDIA H200" and details["torch"] == "2.14.1"
    assert context.device_for("1a") == "cuda" and context.device_for("1b") == "cpu"
    # a run of other questions does not ask
    assert device_line(context, {"1b"})[0].endswith("no check of this run uses a GPU")


def test_auto_question_without_a_gpu(tmp_path):
    info = {"torch": "2.14.1", "cuda": "13.0", "cuda_available": False, "gpu": ""}
    context, _ = _context(tmp_path, "auto", info)
    line, _ = device_line(context)
    assert re.fullmatch(r"CPU \(\w+, \d+ cores\) \(torch 2\.14\.1; no GPU visible\)", line)
    assert context.device_for("1a") == "cpu"


def test_auto_question_passes_the_device_to_probes(tmp_path, monkeypatch):
    seen = {}

    def fake_run_probe(probe, function, **kwargs):
        seen.update(kwargs.get("params") or {})
        from grader.core.sandbox.runner import ProbeRun
        return ProbeRun({}, None)
    monkeypatch.setattr("grader.core.engine.context.run_probe", fake_run_probe)
    context, _ = _context(tmp_path, "auto", {"cuda_available": True, "torch": "x"})
    context.probe("probes.py", "forward", "1a.1", params={"seed": 1})
    assert seen["seed"] == 1 and seen["device"] == "cuda"
    seen.clear()
    context.probe("probes.py", "forward", "1b.1", params={"seed": 1})
    assert seen["seed"] == 1 and "device" not in seen


def test_grader_process_does_not_import_torch(tmp_path):
    import subprocess
    import sys
    code = ("import sys; from grader.core.engine import context, plugin; from grader.core.sandbox import runner, environment_probe; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=rubric_mod.RUBRIC_PATH.parents[1])
    assert out.stdout.strip() == "False", out.stderr


def test_without_a_driver_the_device_is_the_cpu_without_importing_torch(tmp_path, monkeypatch):
    """No NVIDIA driver: device_info answers from the machine, no sandboxed torch import;
    GRADER_PROBE_DEVICE=1 asks the sandbox anyway."""
    from grader.core.engine import context as grading
    ran = []
    monkeypatch.setattr(grading, "run_probe", lambda *a, **k: ran.append(1))
    monkeypatch.setattr(grading, "gpu_driver_present", lambda: False)
    context = GradingContext(tmp_path, None, False, False, _rubric(tmp_path, "auto"), False)
    info = context.device_info()
    assert info["cuda_available"] is False and info["torch"] == grading.installed_version("torch")
    assert not ran and context.device_for("1a") == "cpu"
    assert "no GPU visible" in device_line(context)[0]
    monkeypatch.undo()
    monkeypatch.setenv("GRADER_PROBE_DEVICE", "1")
    assert grading.gpu_driver_present()
