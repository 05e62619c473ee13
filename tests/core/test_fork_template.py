"""The fork template (grader/core/sandbox/template.py): a call forked from it gets what a
fresh interpreter's child gets (its results, its isolation), and nothing that the template
or an earlier call holds or left: no module it patched, no state, file, memory or process.
One template serves the whole module (its start imports torch once)."""
from __future__ import annotations

import os
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from grader.core.rubric import spec as rubric
from grader.core.sandbox import isolation
from grader.core.sandbox.runner import run_probe
from grader.core.sandbox.template import Template, uses_torch
from processes import alive

ROOT = Path(__file__).resolve().parents[2]
LIMITS = rubric.load().limits.replace(wall_seconds=60, cpu_seconds=60, memory_mb=2560)
PROBE = '''
def run(ctx):
    """Calls the student's f(params) and records what it returns."""
    module = ctx.import_student("student")
    for key, value in (ctx.call(module.f, ctx.params) or {}).items():
        ctx.put(key, value)
'''


@pytest.fixture(scope="module")
def template():
    held = Template(every_probe=True)
    yield held
    held.stop()


def _call(tmp_path: Path, code: str, template: Template | None, name: str = "sub",
          **kwargs):
    sub = tmp_path / name
    sub.mkdir(exist_ok=True)
    (sub / "student.py").write_text(textwrap.dedent(code))
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    kwargs.setdefault("limits", LIMITS)
    return run_probe(probe, "run", submission=sub, template=template, **kwargs)


SEEDED = """
    import os, sys
    import numpy as np
    import torch
    def f(params):
        torch.manual_seed(3)
        np.random.seed(3)
        return {"uid": os.getuid(), "ppid": os.getppid(), "cwd": os.path.basename(os.getcwd()),
                "argv0": os.path.basename(sys.argv[0]), "torch": torch.randn(4).numpy(),
                "numpy": np.random.rand(4), "threads": torch.get_num_threads(),
                "tmp": __import__("tempfile").gettempdir() == os.getcwd()}
"""


def test_a_forked_call_gives_what_a_fresh_interpreter_gives(tmp_path, template):
    had_torch = "torch" in sys.modules  # another test of this worker may have imported it
    forked = _call(tmp_path, SEEDED, template)
    fresh = _call(tmp_path, SEEDED, None, "fresh")
    assert forked.failure is None and fresh.failure is None, (forked.failure, fresh.failure)
    assert forked.values["ppid"] == template.pid != os.getpid()
    assert fresh.values["ppid"] == os.getpid()
    for key in ("uid", "cwd", "argv0", "threads", "tmp"):
        assert forked.values[key] == fresh.values[key], key
    for key in ("torch", "numpy"):
        assert (forked.values[key] == fresh.values[key]).all(), key
    assert forked.values["tmp"] and forked.notes == ()
    assert forked.cpu_seconds < fresh.cpu_seconds / 4  # torch was imported once, before
    assert had_torch or "torch" not in sys.modules  # the calls never import it here


def test_nothing_a_call_leaves_reaches_the_next(tmp_path, template):
    """Call 1 patches torch and numpy, writes over a string torch holds (in memory both
    processes had), sets globals and environment, writes files in every place it may, and
    leaves a process that left its session; call 2, forked from the same template, sees
    none of it."""
    secret = uuid.uuid4().hex
    places = ["/tmp/left_behind", "/var/tmp/left_behind", "/dev/shm/left_behind",
              "left_behind", "~/left_behind"]
    first = _call(tmp_path, f"""
        import builtins, ctypes, os, sys, time
        import numpy as np
        import torch
        def f(params):
            torch.Tensor.__add__ = lambda a, b: torch.zeros(1)
            torch.LEFT_BEHIND = np.LEFT_BEHIND = builtins.LEFT_BEHIND = params["secret"]
            os.environ["LEFT_BEHIND"] = "1"
            sys.path.insert(0, "/left/behind")
            text = torch.version.git_version  # a plain str the template holds too
            at = id(text) + sys.getsizeof(text) - len(text) - 1
            ctypes.memmove(at, b"X" * len(text), len(text))
            for place in {places!r}:
                with open(os.path.expanduser(place), "w") as fh:
                    fh.write(params["secret"])
            pid = os.fork()
            if pid == 0:
                os.setsid()
                time.sleep(120)
                os._exit(0)
            return {{"added": float((torch.ones(1) + torch.ones(1)).sum()),
                    "version": torch.version.git_version, "daemon": pid}}
        """, template, params={"secret": secret})
    assert first.failure is None, first.failure
    assert first.values["added"] == 0.0 and set(first.values["version"]) == {"X"}
    deadline = time.monotonic() + 5
    while alive(int(first.values["daemon"])) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(int(first.values["daemon"]))
    second = _call(tmp_path, f"""
        import builtins, os, sys
        import numpy as np
        import torch
        def f(params):
            return {{"added": float((torch.ones(1) + torch.ones(1)).sum()),
                    "version": torch.version.git_version,
                    "left": [name for name, holder in (("torch", torch), ("numpy", np),
                                                       ("builtins", builtins))
                             if hasattr(holder, "LEFT_BEHIND")]
                            + [v for v in ("LEFT_BEHIND",) if v in os.environ]
                            + [p for p in sys.path if p == "/left/behind"],
                    "files": [p for p in {places!r} if os.path.exists(os.path.expanduser(p))]}}
        """, template, "sub2")
    assert second.failure is None, second.failure
    assert second.values["added"] == 2.0 and "X" not in second.values["version"]
    assert list(second.values["left"]) == []
    identity = isolation.resolve()
    shared = [] if identity.mounts else ["/tmp/left_behind", "/var/tmp/left_behind",
                                         "/dev/shm/left_behind"]
    assert [f for f in second.values["files"] if f not in shared] == []


REACH = """
    import os, signal, socket, sys
    def attempt(action):
        try:
            action()
            return "done"
        except OSError as exc:
            return type(exc).__name__
    def read(path):
        with open(path, "rb") as fh:
            fh.read(1)
    def f(params):
        template, grader = os.getppid(), params["grader"]
        out = {"template": template, "uid": os.getuid(),
               "kill_template": attempt(lambda: os.kill(template, signal.SIGKILL)),
               "kill_grader": attempt(lambda: os.kill(grader, signal.SIGKILL)),
               "setuid": attempt(lambda: os.setuid(0)),
               "inet": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
               "rubric": attempt(lambda: read(params["rubric"])),
               "folder": os.path.exists(params["folder"]),
               "plan": os.path.exists(os.path.join(os.path.dirname(sys.argv[1]), "launch.json")),
               "sockets": [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                           if os.path.exists(f"/proc/self/fd/{fd}")
                           and os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")],
               "visible": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
        for what in ("environ", "mem", "maps"):
            out[what] = attempt(lambda: read(f"/proc/{template}/{what}"))
        return out
"""


def test_a_call_cannot_reach_the_template_or_the_grader(tmp_path, template):
    identity = isolation.resolve()
    if not identity.dropped or not identity.landlock:
        pytest.skip("needs root with the unprivileged user and Landlock")
    run = _call(tmp_path, "import torch\n", template)  # the template is running
    run = _call(tmp_path, REACH, template, params={
        "grader": os.getpid(), "folder": str(template.folder),
        "rubric": str(ROOT / "grader" / "rubric.toml")})
    assert run.failure is None, run.failure
    v = run.values
    assert v["template"] == template.pid and v["uid"] == identity.uid != 0
    assert v["kill_template"] != "done" and v["kill_grader"] != "done"
    assert v["setuid"] != "done" and v["inet"] != "done" and v["rubric"] != "done"
    assert not v["folder"] and not v["plan"] and list(v["sockets"]) == []
    assert v["environ"] != "done" and v["mem"] != "done" and v["maps"] != "done"
    if identity.mounts:  # hidepid: its own processes only
        assert template.pid not in v["visible"] and os.getpid() not in v["visible"]
    assert alive(template.pid)
    again = _call(tmp_path, SEEDED, template, "sub2")
    assert again.failure is None and again.values["ppid"] == template.pid


def test_the_template_holds_no_request_and_no_token(tmp_path, template):
    """What one call was given (its request, its token) never enters the template: a
    later child could find it in the memory it inherits."""
    if os.geteuid() != 0:
        pytest.skip("reads the template's memory as root")
    secret = uuid.uuid4().hex
    run = _call(tmp_path, "import os\ndef f(params):\n    return {'token': "
                "os.environ['GRADER_SANDBOX_TOKEN']}\n", template, params={"secret": secret})
    assert run.failure is None, run.failure
    needles = [secret.encode(), str(run.values["token"]).encode()]
    found = []
    with open(f"/proc/{template.pid}/maps") as maps, \
            open(f"/proc/{template.pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw") or (len(fields) > 5 and fields[5].startswith("/")):
                continue  # writable anonymous memory (heap, arenas, stack) only
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            found += [n for n in needles if n in chunk]
    assert found == []


def test_a_forked_call_is_stopped_for_time_and_memory_like_a_fresh_one(tmp_path, template):
    _call(tmp_path, "import torch\n", template)  # started: its start counts in a call's time
    limits = LIMITS.replace(wall_seconds=3, cpu_seconds=3)
    looped = _call(tmp_path, """
        def f(params):
            while True:
                pass
        """, template, limits=limits)
    assert looped.failure is not None and looped.failure.kind in ("timeout", "cpu")
    assert looped.stuck_in == "student:f"
    greedy = _call(tmp_path, """
        import numpy as np
        def f(params):
            return {"sum": np.ones(5 * 1024 ** 3 // 8).sum()}
        """, template, "sub2")
    assert greedy.failure is not None and greedy.failure.kind == "memory", greedy.failure
    assert alive(template.pid)


def test_without_a_template_calls_start_a_fresh_interpreter(tmp_path, monkeypatch):
    """GRADER_FORK_TEMPLATE=0 keeps the template off; a template that cannot start is
    said once in the call's notes, and the grading goes on with fresh interpreters."""
    code = "import os\ndef f(params):\n    return {'ppid': os.getppid()}\n"
    monkeypatch.setenv("GRADER_FORK_TEMPLATE", "0")
    off = Template(every_probe=True)
    run = _call(tmp_path, code, off)
    assert run.failure is None and run.values["ppid"] == os.getpid() and off.pid == 0
    monkeypatch.delenv("GRADER_FORK_TEMPLATE")

    def refuse(self, python, environment):
        raise OSError("no room")

    monkeypatch.setattr(Template, "_spawn", refuse)
    broken = Template(every_probe=True)
    first, second = (_call(tmp_path, code, broken, name) for name in ("a", "b"))
    assert first.failure is None and first.values["ppid"] == os.getpid()
    assert first.notes == ("this call started a fresh interpreter: the fork template could "
                           "not start (no room)",)
    assert second.failure is None and second.notes == ()


def test_only_calls_that_use_torch_use_the_template():
    """A call of numpy-only probe functions keeps a fresh interpreter's memory (the
    template's torch would take ~800 MB of its limit), even in a file whose other
    functions use torch (Part 4's theory checks)."""
    parts = ROOT / "grader" / "parts"
    assert not uses_torch(parts / "part1_numpy" / "probes.py",
                          ["forward", "loss_grads", "train_cifar"])
    assert not uses_torch(parts / "part3_scratch" / "probes.py", ["l2_cases", "train_runs"])
    assert not uses_torch(parts / "part4_cnn" / "probes.py", ["output_sizes", "bias_grads"])
    assert uses_torch(parts / "part4_cnn" / "probes.py", ["bias_grads", "structure"])
    assert uses_torch(parts / "part4_cnn" / "probes.py", ["train_cnn"])
    assert uses_torch(parts / "part2_mlp" / "probes.py", ["structure"])
    assert uses_torch(parts / "part2_mlp" / "probes.py", ["depth_sweep"])
    assert uses_torch(ROOT / "grader" / "core" / "sandbox" / "environment_probe.py",
                      ["environment"])


def test_a_from_scratch_call_keeps_a_fresh_interpreter(tmp_path, template):
    """The from-scratch guard refuses torch at its import: in a child of the template
    torch is imported already, so such a call never is one."""
    run = _call(tmp_path, "import os\ndef f(params):\n    return {'ppid': os.getppid()}\n",
                template, params={"from_scratch": True})
    assert run.failure is None and run.values["ppid"] == os.getpid()


def test_a_numpy_call_that_trains_on_a_dataset_ends_the_template(tmp_path, template):
    """Its fresh interpreter does not run beside the template (their memory together would
    outgrow a torch call's); a small numpy call runs beside it, so the next torch call
    needs no second start (and no second torch import)."""
    assert _call(tmp_path, "def f(params):\n    return {}\n", template).failure is None
    running = template.pid
    assert alive(running)
    numpy_only = "import os\ndef f(params):\n    return {'ppid': os.getppid()}\n"
    np.save(tmp_path / "rows.npy", np.zeros((4, 3)))
    template.every_probe = False  # the probes below name no torch
    try:
        small = _call(tmp_path, numpy_only, template, "sub2")
        assert small.failure is None and small.values["ppid"] == os.getpid()
        assert alive(running) and template.pid == running
        trains = _call(tmp_path, numpy_only, template, "sub3",
                       data_files={"X_train": tmp_path / "rows.npy"})
    finally:
        template.every_probe = True
    assert trains.failure is None and trains.values["ppid"] == os.getpid()
    assert not alive(running)
