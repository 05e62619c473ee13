"""grader/sandbox.py: what comes back from a child, and what a hostile child cannot do.

Each test writes a probe file and a tiny submission into tmp_path and runs one probe
function in the sandbox with small limits (conftest's tiny_limits).
"""
import textwrap
import time

import numpy as np
import pytest

from grader.core.sandbox.runner import ProbeRun, copy_submission, run_probe
from grader.core.rubric import spec as rubric
from processes import alive

PROBE = '''
import os
import sys
import time

import numpy as np


def values(ctx):
    ctx.put("double", ctx.inputs["x"] * 2)
    ctx.put("scale", ctx.params["scale"])
    ctx.put("name", "two")
    ctx.put("list", [1.5, 2.5])


def call(ctx):
    """Imports the student module named in params and calls its function `f`."""
    module = ctx.import_student(ctx.params.get("module", "student"))
    ctx.put("result", ctx.call(module.f, *ctx.params.get("args", [])))


def call_array(ctx):
    """Like call, the result converted with ctx.array (tensors become numpy arrays)."""
    module = ctx.import_student("student")
    ctx.put("result", ctx.array(ctx.call(module.f), "f()"))


def cases(ctx):
    module = ctx.import_student("student")
    for name in ("good", "bad", "also_good"):
        with ctx.case(name):
            ctx.put(name, ctx.call(module.f, name))


def fails(ctx):
    ctx.put("early", 1)
    ctx.fail("api", "no such method", "student.py:3", "detail text")
'''


def _write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


@pytest.fixture
def probe(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text(PROBE)
    return path


def run_student(tmp_path, probe, limits, source, **params):
    """Runs probe `call` on a submission whose student.py is `source`."""
    sub = _write(tmp_path / "sub", {"student.py": source})
    return run_probe(probe, "call", submission=sub, limits=limits, params=params)


def test_arrays_and_scalars_come_back(tmp_path, probe, tiny_limits):
    x = np.arange(6.0).reshape(2, 3)
    run = run_probe(probe, "values", submission=_write(tmp_path / "sub", {}),
                    limits=tiny_limits, inputs={"x": x}, params={"scale": 0.5})
    assert isinstance(run, ProbeRun)
    assert run.failure is None, run.failure
    np.testing.assert_array_equal(run.values["double"], 2 * x)
    assert run.values["double"].dtype == np.float64
    assert run.values["scale"] == 0.5
    assert run.values["name"] == "two"
    assert run.values["list"] == [1.5, 2.5]
    assert run.wall_seconds > 0 and run.cpu_seconds > 0 and run.peak_rss_mb > 0


def test_student_result_and_output(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        import sys
        def f(a, b):
            print("hello from f")
            print("to stderr", file=sys.stderr)
            return a + b
        """, args=[2, 3])
    assert run.failure is None, run.failure
    assert run.values["result"] == 5
    assert "hello from f" in run.output and "to stderr" in run.output


def test_output_is_capped_head_and_tail(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        def f():
            print("FIRST LINE")
            for i in range(20000):
                print("filler line", i)
            print("LAST LINE")
            return 1
        """)
    assert run.failure is None, run.failure
    assert "FIRST LINE" in run.output and "LAST LINE" in run.output
    assert "bytes of output left out" in run.output
    assert "filler line 10000\n" not in run.output
    assert len(run.output) < tiny_limits.output_kb * 1024 + 200


def test_infinite_loop_is_stopped(tmp_path, probe, tiny_limits):
    limits = tiny_limits.replace(cpu_seconds=1, wall_seconds=3)
    start = time.monotonic()
    run = run_student(tmp_path, probe, limits, """
        def f():
            while True:
                pass
        """)
    assert run.failure is not None and run.failure.kind in ("cpu", "timeout")
    assert run.values == {}
    assert time.monotonic() - start < limits.wall_seconds + 2


def test_sleep_past_the_wall_clock_times_out(tmp_path, probe, tiny_limits):
    limits = tiny_limits.replace(wall_seconds=1)
    start = time.monotonic()
    run = run_student(tmp_path, probe, limits, """
        import time
        def f():
            time.sleep(30)
        """)
    assert run.failure is not None and run.failure.kind == "timeout"
    assert "1 s" in run.failure.message
    assert time.monotonic() - start < 4


def test_a_module_stuck_at_import_is_named_and_then_not_imported_again(tmp_path, probe,
                                                                      tiny_limits):
    """A call whose time runs out inside the student's top-level code says so; given that
    module as hung, the next call fails at once with the reason instead of waiting again
    (and a module that was not stuck is unaffected)."""
    limits = tiny_limits.replace(wall_seconds=1)
    run = run_student(tmp_path, probe, limits, """
        import time
        time.sleep(30)
        def f():
            return 1
        """)
    assert run.failure.kind == "hung_import" and run.stuck_importing == "student"
    assert "importing student.py was stopped" in run.failure.message
    assert run.failure.where == "student.py"
    start = time.monotonic()
    again = run_probe(probe, "call", submission=tmp_path / "sub", limits=limits,
                      hung_imports={"student": "student.py is not imported again: why"})
    assert again.failure.kind == "hung_import" and again.failure.message.endswith("why")
    assert again.stuck_importing == "" and time.monotonic() - start < 1.0
    slow_call = run_student(tmp_path / "other", probe, limits, """
        import time
        def f():
            time.sleep(30)
        """)
    assert slow_call.failure.kind == "timeout" and slow_call.stuck_importing == ""


def test_sys_exit_is_reported(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        import sys
        def f():
            sys.exit(3)
        """)
    assert run.failure is not None and run.failure.kind == "exit"
    assert "sys.exit(3)" in run.failure.message
    assert run.failure.where == "student.py:4"


def test_os_exit_is_reported_with_its_code(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        import os
        def f():
            os._exit(7)
        """)
    assert run.failure is not None and run.failure.kind == "exit"
    assert "exit code 7" in run.failure.message


def test_huge_allocation_is_a_memory_failure(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        import numpy as np
        def f():
            return np.ones(5 * 1024 ** 3 // 8).sum()
        """)
    assert run.failure is not None and run.failure.kind == "memory", run.failure
    assert run.failure.message == "ran out of memory"
    assert run.failure.where == "student.py:4"


def test_gradual_allocation_is_a_memory_failure(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        KEPT = []
        def f():
            while True:
                KEPT.append(bytearray(100 * 2 ** 20))
        """)
    assert run.failure is not None and run.failure.kind == "memory", run.failure
    assert run.failure.message == "ran out of memory"


def test_endless_output_costs_time_not_a_check(tmp_path, probe, tiny_limits):
    """Output goes to a pipe the grader drains: an endless flood runs into the time limits
    (CPU or wall clock), its output capped to head and tail with the bytes left out counted."""
    start = time.monotonic()
    run = run_student(tmp_path, probe, tiny_limits, """
        import sys
        def f():
            line = "x" * 1000 + "\\n"
            while True:
                sys.stdout.write(line)
        """)
    assert run.failure is not None and run.failure.kind in ("timeout", "cpu"), run.failure
    assert "bytes of output left out" in run.output
    assert len(run.output) < tiny_limits.output_kb * 1024 + 200
    assert time.monotonic() - start < tiny_limits.wall_seconds + 3


def test_hundreds_of_mb_printed_then_the_value_comes_back(tmp_path, probe, tiny_limits):
    limits = tiny_limits.replace(wall_seconds=60, cpu_seconds=60)
    run = run_student(tmp_path, probe, limits, """
        import sys
        print("AT IMPORT " * 10 ** 5)
        def f():
            print("FIRST LINE")
            chunk = "y" * (2 ** 20 - 1)
            for _ in range(300):
                print(chunk)
            print("LAST LINE")
            return 42
        """)
    assert run.failure is None, run.failure
    assert run.values["result"] == 42
    assert run.output.startswith("AT IMPORT") and run.output.rstrip().endswith("LAST LINE")
    left_out = int(run.output.split("... [")[1].split(" bytes")[0])
    assert left_out > 300 * 2 ** 20
    assert len(run.output) < limits.output_kb * 1024 + 200


def test_a_file_past_max_output_mb_is_still_stopped(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        def f():
            with open("big.bin", "wb") as fh:
                for _ in range(100):
                    fh.write(b"x" * 2 ** 20)
            return 1
        """)
    assert run.failure is not None, run.failure
    assert "File too large" in run.failure.message, run.failure


def test_shared_memory_hog_is_stopped_by_the_watchdog(tmp_path, probe, tiny_limits):
    """MAP_SHARED anonymous memory escapes RLIMIT_DATA; the RSS watchdog stops it."""
    limits = tiny_limits.replace(wall_seconds=30, cpu_seconds=30)
    start = time.monotonic()
    run = run_student(tmp_path, probe, limits, """
        import mmap
        def f():
            size = 4 << 30
            buf = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
            for offset in range(0, size, 4096):
                buf[offset] = 1
            return 1
        """)
    assert run.failure is not None and run.failure.kind == "memory", run.failure
    assert "used more than" in run.failure.message
    assert f"the limit is {limits.memory_mb} MB" in run.failure.message
    ceiling = limits.memory_mb + limits.rss_margin_mb
    assert ceiling <= run.peak_rss_mb < ceiling + 400, run.peak_rss_mb
    assert time.monotonic() - start < 20


def test_forked_children_hogging_memory_are_stopped(tmp_path, probe, tiny_limits):
    """RLIMIT_DATA is per process: four children of 600 MB each pass it, not the watchdog."""
    limits = tiny_limits.replace(wall_seconds=30, cpu_seconds=30)
    run = run_student(tmp_path, probe, limits, """
        import os, time
        def f():
            for _ in range(4):
                if os.fork() == 0:
                    block = bytearray(600 * 2 ** 20)
                    for i in range(0, len(block), 4096):
                        block[i] = 1
                    time.sleep(60)
                    os._exit(0)
            time.sleep(60)
        """)
    assert run.failure is not None and run.failure.kind == "memory", run.failure
    assert "used more than" in run.failure.message


def test_escaped_grandchild_is_killed(tmp_path, probe, tiny_limits):
    pidfile = "grandchild.pid"  # in the child's own working folder: it can write nothing else
    run = run_student(tmp_path, probe, tiny_limits, f"""
        import os
        import time
        def f():
            pid = os.fork()
            if pid == 0:
                os.setsid()
                with open({str(pidfile)!r}, "w") as fh:
                    fh.write(str(os.getpid()))
                time.sleep(60)
                os._exit(0)
            for _ in range(200):
                if os.path.exists({str(pidfile)!r}):
                    break
                time.sleep(0.01)
            time.sleep(0.1)
            return pid
        """)
    assert run.failure is None, run.failure
    pid = int(run.values["result"])
    deadline = time.monotonic() + 1.0
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), f"grandchild {pid} survived the sandbox"


def test_fake_result_files_are_ignored(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        import json
        import os
        import numpy as np
        def f():
            for folder in (".", os.environ.get("HOME", "."), os.path.dirname(__file__)):
                with open(os.path.join(folder, "meta.json"), "w") as fh:
                    json.dump({"scalars": {"result": 100, "forged": 1}, "failure": None}, fh)
                np.savez(os.path.join(folder, "values.npz"), forged=np.ones(3))
            return 1
        """)
    assert run.failure is None, run.failure
    assert run.values["result"] == 1
    assert "forged" not in run.values


def test_symlinks_are_not_copied(tmp_path, probe, tiny_limits):
    sub = _write(tmp_path / "sub", {"student.py": """
        import os
        def f():
            return sorted(os.listdir(os.path.dirname(__file__)))
        """})
    (sub / "passwd").symlink_to("/etc/passwd")
    (sub / "linked.py").symlink_to(sub / "student.py")
    run = run_probe(probe, "call", submission=sub, limits=tiny_limits)
    assert run.failure is None, run.failure
    assert "passwd" not in run.values["result"] and "linked.py" not in run.values["result"]
    assert "student.py" in run.values["result"]
    assert "skipped passwd: not a regular file" in run.output


def test_large_submission_is_capped(tmp_path, probe, tiny_limits):
    limits = tiny_limits.replace(max_copy_mb=1)
    sub = _write(tmp_path / "sub", {"student.py": """
        import os
        def f():
            return sorted(os.listdir(os.path.dirname(__file__)))
        """})
    (sub / "zz_big.bin").write_bytes(b"\0" * (2 * 1024 * 1024))
    run = run_probe(probe, "call", submission=sub, limits=limits)
    assert run.failure is None, run.failure
    assert "zz_big.bin" not in run.values["result"]
    assert "skipped zz_big.bin: submission larger than 1 MB in total" in run.output


def test_copy_submission_skips_hidden_and_cache_folders(tmp_path):
    sub = _write(tmp_path / "sub", {"a.py": "x = 1\n"})
    _write(sub / ".git", {"config": "secret"})
    _write(sub / "__pycache__", {"a.pyc": "old"})
    _write(sub / "pkg", {"b.py": "y = 2\n"})
    dst = tmp_path / "dst"
    dst.mkdir()
    assert copy_submission(sub, dst, 1 << 20) == []
    copied = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert copied == ["a.py", "pkg/b.py"]


def test_not_implemented_is_todo(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        def f():
            raise NotImplementedError
        """)
    assert run.failure is not None and run.failure.kind == "todo"
    assert run.failure.where == "student.py:3"


def test_exception_names_the_student_line(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        def f():
            return 1 / 0
        """)
    assert run.failure.kind == "exception"
    assert run.failure.message.startswith("ZeroDivisionError: division by zero")
    assert run.failure.where == "student.py:3"
    assert "probe.py" not in run.failure.detail and "student.py" in run.failure.detail
    # the traceback names the file as the student knows it, not the sandbox's copy
    assert 'File "student.py", line 3, in f' in run.failure.detail
    assert "grader-sandbox" not in run.failure.detail and "/sub/" not in run.failure.detail


def test_missing_import_names_the_module(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        import definitely_not_a_module_xyz
        def f():
            return 1
        """)
    assert run.failure is not None and run.failure.kind == "import"
    assert "'definitely_not_a_module_xyz'" in run.failure.message
    assert run.failure.where == "student.py:2"


def test_a_download_at_import_gets_the_main_guard_hint(tmp_path, probe, tiny_limits):
    """Top-level code that reaches the network (a dataset download, here one wrapped in
    another error) fails as import_network, and its verdict hints at the __main__ guard."""
    from grader.core.engine.context import failure_verdict
    run = run_student(tmp_path, probe, tiny_limits, """
        import urllib.request
        def fetch():
            try:
                urllib.request.urlopen("http://192.0.2.1/cifar-10-python.tar.gz", timeout=2)
            except OSError as exc:
                raise RuntimeError("download failed") from exc
        fetch()
        def f():
            return 1
        """)
    assert run.failure is not None and run.failure.kind == "import_network", run.failure
    assert "RuntimeError: download failed (while importing student)" in run.failure.message
    assert "tried to reach the network" in run.failure.message
    assert run.failure.where.startswith("student.py:")
    verdict = failure_verdict(run)
    assert verdict.fraction == 0 and 'if __name__ == "__main__":' in verdict.message
    plain = run_student(tmp_path / "plain", probe, tiny_limits, """
        raise OSError("disk full")
        def f():
            return 1
        """)
    assert plain.failure.kind == "exception"  # not every OSError is the network


def test_missing_file_is_reported(tmp_path, probe, tiny_limits):
    sub = _write(tmp_path / "sub", {"other.py": "x = 1\n"})
    run = run_probe(probe, "call", submission=sub, limits=tiny_limits)
    assert run.failure.kind == "missing"
    assert "student.py not found" in run.failure.message
    assert "other.py" in run.failure.detail


def test_syntax_error_has_file_and_line(tmp_path, probe, tiny_limits):
    run = run_student(tmp_path, probe, tiny_limits, """
        def f():
            return 1

        def g(:
            pass
        """)
    assert run.failure is not None and run.failure.kind == "syntax"
    assert run.failure.where == "student.py:5"
    assert "SyntaxError in student.py" in run.failure.message


def test_case_failures_keep_other_cases(tmp_path, probe, tiny_limits):
    sub = _write(tmp_path / "sub", {"student.py": """
        def f(name):
            if name == "bad":
                raise ValueError("bad case")
            return name.upper()
        """})
    run = run_probe(probe, "cases", submission=sub, limits=tiny_limits)
    assert run.failure is None
    assert run.values["good"] == "GOOD" and run.values["also_good"] == "ALSO_GOOD"
    assert "bad" not in run.values
    assert set(run.case_failures) == {"bad"}
    assert run.case_failure("bad").message == "ValueError: bad case"
    assert run.case_failure("good") is None


def test_probe_failure_keeps_values_put_before(tmp_path, probe, tiny_limits):
    run = run_probe(probe, "fails", submission=_write(tmp_path / "sub", {}),
                    limits=tiny_limits)
    assert run.failure.kind == "api" and run.failure.message == "no such method"
    assert run.failure.line() == "no such method [student.py:3]"
    assert run.values["early"] == 1
    assert run.case_failure("anything") is run.failure


def test_environment_is_clean(tmp_path, probe, tiny_limits, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", "s3cret")
    run = run_student(tmp_path, probe, tiny_limits, """
        import os
        def f():
            return [os.environ.get("GRADER_TEST_SECRET"), os.getcwd() == os.environ["HOME"]]
        """)
    assert run.values["result"] == [None, True]


def test_files_the_grader_reads_itself_are_not_copied_and_do_not_count(tmp_path):
    from grader.core.sandbox.runner import copy_submission
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "checkpoints").mkdir(parents=True)
    (src / "two_layernet.py").write_text("x = 1\n")
    (src / "checkpoints" / "two_layernet.npz").write_bytes(b"\0" * 3_000_000)
    (src / "checkpoints" / "notes.txt").write_text("kept\n")
    dst.mkdir()
    notes = copy_submission(src, dst, 2_000_000, skip=("checkpoints/two_layernet.npz",))
    assert notes == []  # the big file was left out on purpose: no note, no cap hit
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()) == \
        ["checkpoints/notes.txt", "two_layernet.py"]


def test_torch_imports_and_trains_under_the_default_limits(tmp_path, probe):
    """`import torch, torchvision` fits the default limits (RLIMIT_DATA, no RLIMIT_AS: the
    CUDA build maps 3.4 GB it never touches); a tensor comes back as a numpy array."""
    pytest.importorskip("torch")
    limits = rubric.load().limits
    sub = _write(tmp_path / "sub", {"student.py": """
        import torch, torchvision
        def f():
            torch.manual_seed(0)
            model = torch.nn.Linear(8, 3)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
            for _ in range(20):
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
            return model.weight
        """})
    run = run_probe(probe, "call_array", submission=sub, limits=limits)
    assert run.failure is None, (run.failure, run.output[-2000:])
    weight = run.values["result"]
    assert isinstance(weight, np.ndarray) and weight.shape == (3, 8)
    assert np.isfinite(weight).all()


def test_environment_probe_reports_torch(tmp_path):
    """The environment probe (what GradingContext.device_info runs) names torch's version
    and whether CUDA is visible, from inside the sandbox."""
    torch = pytest.importorskip("torch")
    from grader.core.engine.context import ENVIRONMENT_PROBE
    limits = rubric.load().limits.replace(wall_seconds=120, cpu_seconds=120, memory_mb=2560)
    (tmp_path / "empty").mkdir()
    run = run_probe(ENVIRONMENT_PROBE, "environment", submission=tmp_path / "empty",
                    limits=limits, params={"train": True})
    assert run.failure is None, (run.failure, run.output[-2000:])
    assert run.values["torch"] == torch.__version__
    assert run.values["cuda"] == (torch.version.cuda or "")
    assert isinstance(run.values["cuda_available"], bool)
    assert run.values["train_device"] in ("cpu", "cuda") and run.values["train_seconds"] > 0


def test_a_grading_retries_a_stuck_import_only_with_a_larger_budget(tmp_path, probe):
    """GradingContext remembers the budget a module's import outlasted: a later call within
    that budget fails at once, naming the check where it hung; a call with a larger budget
    (3b's training, say) tries the import again."""
    from grader.core.engine.context import GradingContext
    sub = _write(tmp_path / "sub", {"student.py": "import time\ntime.sleep(30)\n"
                                                  "def f():\n    return 1\n"})
    context = GradingContext(sub, None, False, True, progress=False)
    # distinct params: the same call twice would be served from the grading's memo
    first = context.probe(probe, "call", "1a.1", seconds=1, params={"call": 1})
    assert first.failure.kind == "hung_import"
    start = time.monotonic()
    second = context.probe(probe, "call", "1a.2", seconds=1, params={"call": 2})
    assert time.monotonic() - start < 1.0
    assert "not imported again: its import did not finish within 1 s in check 1a.1" in \
        second.failure.message
    larger = context.probe(probe, "call", "1b.1", seconds=2, params={"call": 3})
    assert larger.failure.kind == "hung_import" and larger.wall_seconds >= 2
    assert "within 2 s in check 1b.1" in context.hung_imports["student"][1]
