"""Hostile and faulty submissions, graded end to end: what each attack gets is asserted exactly.

A Hostile is reference/two_layernet.py (or one of tests/parts/part1_numpy/mutants.py's mutants) with code
injected at module level, at the start of TwoLayerNet.loss or at the start of train; the
table below reads as the catalogue of what a submission may try. Each is graded with
`python -m grader grade --questions ...` (never 3b) and must: finish within its budget,
leave a valid and complete results.json that is the grader's own, score 0 on the checks it
attacks (with a phrase in their feedback), keep full marks where the fault does not reach,
and leave no process behind. The catalogue of plain student bugs and broken files
(missing file, syntax error, import-time crash, ...) is tests/parts/part1_numpy/mutants.py.

Findings this file documents:
- the ProbeContext lives in the student's process: a submission can rewrite anything it
  holds (values, timer, put), but it holds only the submission's own outputs, which the
  grader judges against expected values it never sends. Timings are the exception: 1c.1
  refuses a student time more than 10x under the reference's (forged timer, cached result);
- a submission runs as the grader's user. It cannot outlive a call (process group, token,
  and orphans reparented to the grader, which is their subreaper), but as root it could
  still kill the grader itself or rewrite the grader's files: run the grader as an
  unprivileged user where submissions are untrusted.

The sandbox limits are hit here too: through the CLI (wall clock, memory, output) and, with
tight limits, through grader.sandbox.run_probe (CPU time, processes, open files, file size).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from grader.core.results import gradescope
from grader.core.rubric import spec as rubric
from grader.core.sandbox.runner import TOKEN_VAR, run_probe
from mutants import MUTANTS, REFERENCE, ROOT
from outputs import plain

RUBRIC = rubric.load()
LIMITS = RUBRIC.limits
SHORT_WALL = 15  # seconds: the [sandbox] limit the hostile infinite loops are graded with
MARK = "FORGED"  # in every forged results.json
FORGED = {"score": 1000.0, "output": MARK, "tests": [
    {"number": c.id, "score": c.points, "max_score": c.points, "output": MARK}
    for c in RUBRIC.checks]}

# Module-level helpers every hostile submission gets (names start with _h so they cannot
# clash with the reference's). @TMP@ is the test's tmp_path: evidence goes there.
PRELUDE = '''
import json as _hjson
import os as _hos
import pickle as _hpickle
import sys as _hsys
import time as _htime

_HTMP = @TMP@
_HFORGED = @FORGED@


def _hmark(name, text=""):
    """Leaves evidence for the test that the attack ran."""
    with open(_hos.path.join(_HTMP, name), "a") as fh:
        fh.write(text)


def _hcontext():
    """The sandbox child's ProbeContext, found on the caller's stack."""
    frame = _hsys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if all(hasattr(value, a) for a in ("perf_counter", "values", "put")):
                return value
        frame = frame.f_back
    return None


def _hgrader():
    """(pid, cwd, --out folder) of the grader: the first ancestor given --out."""
    pid = _hos.getppid()
    while pid > 1:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\\0")
        if b"--out" in args:
            cwd = _hos.readlink(f"/proc/{pid}/cwd")
            return pid, cwd, _hos.path.join(cwd, args[args.index(b"--out") + 1].decode())
        with open(f"/proc/{pid}/stat") as fh:
            pid = int(fh.read().rsplit(")", 1)[1].split()[1])
    return None


def _hspawn(argv, env, setsid=True):
    """Forks a process that runs argv under env (a clean {} drops the sandbox token)."""
    pid = _hos.fork()
    if pid == 0:
        try:
            if setsid:
                _hos.setsid()
            _hos.execve(argv[0], argv, env)
        finally:
            _hos._exit(1)
    return pid
'''

WRITER = '''
import os, sys, time
end = time.time() + 600
while time.time() < end:
    with open(sys.argv[1] + ".forged", "w") as fh:
        fh.write(sys.argv[2])
    os.replace(sys.argv[1] + ".forged", sys.argv[1])
    time.sleep(0.05)
'''

RESULT_WRITERS = '''
def _hwrite_meta(out_dir, text):
    with open(_hos.path.join(out_dir, "meta.json"), "w") as fh:
        fh.write(text)


def _hdeep_json(out_dir, ctx, failure):
    np.savez(_hos.path.join(out_dir, "values.npz"))
    _hwrite_meta(out_dir, '{"scalars": {"toy/probs": ' + "[" * 200000 + "]" * 200000 + "}}")


def _hhuge_header(out_dir, ctx, failure):
    import io, zipfile
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12,)})
    with zipfile.ZipFile(_hos.path.join(out_dir, "values.npz"), "w") as zf:
        zf.writestr("toy/probs.npy", header.getvalue())
    _hwrite_meta(out_dir, '{"scalars": {}}')


def _hbomb(out_dir, ctx, failure):
    np.savez_compressed(_hos.path.join(out_dir, "values.npz"),
                        **{"toy/probs": np.zeros(100 * 2 ** 20 // 8)})
    _hwrite_meta(out_dir, '{"scalars": {}}')


def _hbad_failure(out_dir, ctx, failure):
    np.savez(_hos.path.join(out_dir, "values.npz"))
    _hwrite_meta(out_dir, _hjson.dumps({"scalars": {}, "failure": {"kind": "x", "message": 5}}))
'''


@dataclass(frozen=True)
class Hostile:
    """One attack on the grader, or one fault it must survive."""

    name: str
    questions: str  # --questions of the grade (never 3b)
    zero: tuple[str, ...]  # check ids that must score 0 ...
    phrase: str  # ... with this in their feedback
    keeps: tuple[str, ...]  # question or check ids that must keep full marks
    module: str = ""  # code run at import, after `import numpy as np`
    loss: str = ""  # code run first in TwoLayerNet.loss (X, y, reg and self in scope)
    train: str = ""  # code run first in TwoLayerNet.train
    base: str = ""  # a mutant of tests/parts/part1_numpy/mutants.py to start from (default: the reference)
    files: dict = field(default_factory=dict)  # extra files: name -> text
    evidence: str = ""  # a file the attack leaves in tmp_path: proof that it ran
    budget: float = 30.0  # seconds the whole grade may take
    wall_seconds: float | None = None  # a shorter [sandbox] wall and CPU limit to grade with
    also: Callable[[Path], None] | None = None  # more assertions, given tmp_path

    def write(self, dest: Path, tmp: Path) -> Path:
        """Writes the submission folder; returns it."""
        if self.base:
            next(m for m in MUTANTS if m.name == self.base).write(dest)
        else:
            shutil.copytree(REFERENCE, dest, ignore=shutil.ignore_patterns("__pycache__"))
        path = dest / "two_layernet.py"
        text = path.read_text()
        prelude = PRELUDE.replace("@FORGED@", repr(FORGED)) + textwrap.dedent(self.module)
        for anchor, code, indent in (
                ("import numpy as np\n", prelude, ""),
                ('        W1, b1 = self.params["W1"], self.params["b1"]\n', self.loss, " " * 8),
                ("        num_train = X.shape[0]\n", self.train, " " * 8)):
            assert text.count(anchor) == 1, f"{self.name}: {anchor!r} not once in the file"
            code = textwrap.indent(textwrap.dedent(code).strip("\n") + "\n", indent)
            if anchor.startswith("import"):
                text = text.replace(anchor, anchor + code)
            elif code.strip():
                text = text.replace(anchor, code + anchor)
        path.write_text(text.replace("@TMP@", repr(str(tmp))))
        for name, content in self.files.items():
            (dest / name).write_text(textwrap.dedent(content).replace("@TMP@", repr(str(tmp))))
        return dest


def _nothing_written_outside_tmp(tmp: Path) -> None:
    """(c): /autograder/results does not exist here, so the attempt there failed."""
    assert not Path("/autograder/results/results.json").exists()
    assert MARK in (tmp / "results.json").read_text()  # the grader's cwd got one: harmless


def _no_expected_values_seen(tmp: Path) -> None:
    """Expected values never enter the sandbox: the thief saw inputs, nothing expected."""
    seen = (tmp / "seen.txt").read_text().split()
    assert "toy/W1" in seen and "toy/X" in seen  # it did reach the probe's inputs
    assert not [n for n in seen if "expect" in n.lower() or "want" in n.lower()
                or n.startswith("TOY_")]


# A class whose instances refuse every conversion and comparison, even being printed.
RAISING_OBJECT = '''
            class _HRaising:
                def _refuse(self, *args, **kwargs):
                    raise RuntimeError("refused")

                __array__ = __float__ = __int__ = __index__ = __len__ = __iter__ = _refuse
                __eq__ = __ne__ = __lt__ = __bool__ = __str__ = __repr__ = _refuse
                __hash__ = object.__hash__
            '''

# Injected at the top of loss(): the real (loss, grads) of a labelled call, computed by a
# re-entrant call that the flag lets through untouched.
REAL_LOSS = '''
            if y is not None and not getattr(self, "_hinner", False):
                self._hinner = True
                try:
                    _hloss, _hgrads = self.loss(X, y, reg)
                finally:
                    self._hinner = False
            '''

HOSTILE = (
    # -- forged results ------------------------------------------------------------------
    Hostile("forged_results_everywhere", "1a,2d", ("2d.1", "2d.2"), "relative error", ("1a",),
            base="not_averaged", evidence="results.json", also=_nothing_written_outside_tmp,
            module='''
            for _hdir in (_hos.getcwd(), _hos.environ.get("HOME", "."),
                          _hos.path.dirname(_hos.path.abspath(__file__)), _hgrader()[1],
                          "/autograder/results"):
                try:
                    with open(_hos.path.join(_hdir, "results.json"), "w") as _hfh:
                        _hjson.dump(_HFORGED, _hfh)
                except OSError:
                    pass
            '''),
    # the grader's --out found through /proc; writers in the session that keep the token,
    # and ones that leave it and clear their environment, overwrite it every 50 ms
    Hostile("forged_results_in_out_dir", "1a,2d", ("2d.1", "2d.2"), "relative error", ("1a",),
            base="not_averaged", evidence="pids", module=f'''
            _HWRITER = {WRITER!r}
            _htarget = _hos.path.join(_hgrader()[2], "results.json")
            with open(_htarget, "w") as _hfh:
                _hjson.dump(_HFORGED, _hfh)
            for _henv, _hsetsid in ((dict(_hos.environ), False), (dict(_hos.environ), True),
                                    ({{}}, True)):
                _hpid = _hspawn([_hsys.executable, "-c", _HWRITER, _htarget,
                                 _hjson.dumps(_HFORGED)], _henv, _hsetsid)
                _hmark("pids", f"{{_hpid}}\\n")
            '''),
    # -- comparisons patched in the student's process ---------------------------------
    Hostile("numpy_and_pytest_patched", "1a,2d", ("2d.1", "2d.2"), "relative error", ("1a",),
            base="not_averaged", evidence="patched", module='''
            import numpy.testing
            import pytest


            class _HEqual:
                def __eq__(self, other):
                    return True

                __hash__ = object.__hash__


            np.allclose = lambda *a, **k: True
            np.isclose = lambda a, *r, **k: np.ones(np.shape(a), dtype=bool)
            np.array_equal = lambda *a, **k: True
            np.testing.assert_allclose = lambda *a, **k: None
            np.testing.assert_array_almost_equal = lambda *a, **k: None
            pytest.approx = lambda *a, **k: _HEqual()
            _hmark("patched")
            '''),
    # -- stealing expected values, tampering with the probe ---------------------------
    # a stub loss(): whatever it finds on the stack (arrays, dicts, objects' attributes)
    Hostile("stack_thief", "1a,1b,2d", ("1a.1", "1a.2", "1b.1", "1b.2", "2d.1", "2d.2"), "",
            (), evidence="seen.txt", also=_no_expected_values_seen, module='''
            def _hsteal():
                """Every (name, array) reachable from the caller's frames, 3 levels deep."""
                seen, found, done = [], [], set()

                def visit(name, value, depth):
                    if id(value) in done or depth > 3:
                        return
                    done.add(id(value))
                    seen.append(str(name))
                    if isinstance(value, np.ndarray):
                        found.append((str(name), value))
                    elif isinstance(value, dict):
                        for k, v in list(value.items())[:2000]:
                            visit(k, v, depth + 1)
                    elif isinstance(value, (list, tuple)):
                        for i, v in enumerate(list(value)[:200]):
                            visit(f"{name}[{i}]", v, depth + 1)
                    elif hasattr(value, "__dict__") and not isinstance(value, type(_hos)):
                        for k, v in list(vars(value).items()):
                            visit(k, v, depth + 1)

                frame = _hsys._getframe(2)
                while frame is not None:
                    for scope in (frame.f_locals, frame.f_globals):
                        for k, v in list(scope.items()):
                            visit(k, v, 0)
                    frame = frame.f_back
                _hmark("seen.txt", "\\n".join(seen) + "\\n")
                return found


            def _hpick(found, shape):
                fits = [(n, a) for n, a in found if a.shape == tuple(shape)]
                for word in ("expect", "want", "prob", "grad", "loss"):
                    for n, a in fits:
                        if word in n.lower():
                            return np.array(a, dtype=float)
                return np.array(fits[0][1], dtype=float) if fits else np.zeros(shape)
            ''', loss='''
            _hfound = _hsteal()
            if y is None:
                return _hpick(_hfound, (X.shape[0], self.params["W2"].shape[1]))
            return (float(_hpick(_hfound, ())),
                    {k: _hpick(_hfound, v.shape) for k, v in self.params.items()})
            '''),
    # a loop over samples with a forged timer and forged timings: 1c.1 refuses them
    Hostile("forged_timings", "1a,1c", ("1c.1",), "not a credible timing", ("1a",),
            base="loop_over_samples", evidence="tampered", loss='''
            _hctx = _hcontext()
            if _hctx is not None and not getattr(_hctx, "_hdone", False):
                _hctx._hdone = True
                _hctx.perf_counter = lambda: 0.0
                _hctx.values["seconds"] = [1e-9]
                _hput = _hctx.put
                _hctx.put = lambda key, value: _hput(key, [1e-9] * 5 if key == "seconds"
                                                      else value)
                _hmark("tampered")
            '''),
    # a __future__.py next to the code would run in the reference's timing sandbox (netmath
    # says `from __future__ import annotations`) and slow its timer down
    Hostile("shadowed_stdlib_module", "1c", ("1c.1",), "Hint: replace Python loops", (),
            base="loop_over_samples", files={"__future__.py": '''
            import os
            import sys
            with open(os.path.join(@TMP@, "pwned"), "a") as fh:
                fh.write("__future__.py of the submission ran\\n")
            annotations = None
            frame = sys._getframe(1)
            while frame is not None:
                for value in list(frame.f_locals.values()):
                    if hasattr(value, "perf_counter") and hasattr(value, "values"):
                        ticks = [0.0]

                        def slow(ticks=ticks):
                            ticks[0] += 100.0
                            return ticks[0]
                        value.perf_counter = slow
                frame = frame.f_back
            '''}),
    # grads without W1, and a ragged list written in its place straight into ctx.values
    Hostile("ragged_value_in_results", "1b,2d", ("2d.2",), "expected an array of numbers",
            ("1b",), evidence="tampered", loss=REAL_LOSS + '''
                del _hgrads["W1"]
                _hframe = _hsys._getframe(1)
                while _hframe is not None and not {"ctx", "name"} <= set(_hframe.f_locals):
                    _hframe = _hframe.f_back
                if _hframe is not None:
                    _hl = _hframe.f_locals
                    _hl["ctx"].values[_hl["name"] + "/grad_W1"] = [[1.0], [1.0, 2.0]]
                    _hmark("tampered")
                return _hloss, _hgrads
            '''),
    # -- leaving early -------------------------------------------------------------------
    Hostile("sys_exit_in_loss", "1a,1b", ("1a.1", "1a.2"), "sys.exit(0)", ("1b",), loss='''
            if y is None:
                _hsys.exit(0)
            '''),
    Hostile("os_exit_in_loss", "1a,1b", ("1a.1", "1a.2"), "exit code 0", ("1b",), loss='''
            if y is None:
                _hos._exit(0)
            '''),
    Hostile("system_exit_in_train", "1a,3a", ("3a.1", "3a.2", "3a.3"), "sys.exit(None)",
            ("1a",), train="raise SystemExit"),
    # -- resources -----------------------------------------------------------------------
    # the toy forward pass spins until the call's wall-clock limit (graded with a copy of
    # the rubric whose [sandbox] limit is SHORT_WALL s, not 60); loss() is then remembered
    # as hung, so 1a.2 fails at once naming it instead of running it again
    Hostile("infinite_loop_in_loss", "1a", ("1a.1", "1a.2"), f"{SHORT_WALL:g} s",
            (), budget=SHORT_WALL + 40, wall_seconds=SHORT_WALL, loss='''
            if y is None and X.shape == (5, 4):
                while True:
                    pass
            '''),
    Hostile("memory_hog_in_loss", "1a,1b", ("1a.1",), "ran out of memory", ("1a.2", "1b"),
            loss='''
            if y is None and X.shape == (5, 4):  # the toy only: 1.5 GB is written each time
                _hhog = []
                while True:
                    _hhog.append(bytearray(100 * 2 ** 20))
            '''),
    # stdout is drained (head and tail kept): an endless flood costs time, then a timeout
    # (or the CPU limit); loss() is then remembered as hung (1a.2 and 1b fail at once)
    Hostile("stdout_flood_in_loss", "1a,1b", ("1a.1", "1a.2", "1b.1", "1b.2"),
            f"{SHORT_WALL:g} s", (), budget=SHORT_WALL + 40, wall_seconds=SHORT_WALL,
            loss='''
            if y is None and X.shape == (5, 4):
                while True:
                    print("x" * 10 ** 6)
            '''),
    # children that leave the session, sleep in Python, exec with a clean environment
    # (no sandbox token), or double-fork as daemons: grading is unharmed, none survives
    Hostile("processes_left_behind", "1a,1b", (), "", ("1a", "1b"), evidence="pids",
            module="_HFORKED = []", loss='''
            if y is None and not _HFORKED:
                _HFORKED.append(1)
                for _hkind in ("sleep", "exec", "exec-clean", "daemon"):
                    _hpid = _hos.fork()
                    if _hpid == 0:
                        try:
                            _hos.setsid()
                            _hsleep = [_hsys.executable, "-c", "import time; time.sleep(600)"]
                            if _hkind == "sleep":
                                _htime.sleep(600)
                            elif _hkind == "exec":
                                _hos.execve(_hsleep[0], _hsleep, dict(_hos.environ))
                            elif _hkind == "exec-clean":
                                _hos.execve(_hsleep[0], _hsleep, {})
                            elif _hos.fork() == 0:
                                _hmark("pids", f"{_hos.getpid()}\\n")
                                _hos.execve(_hsleep[0], _hsleep, {})
                        finally:
                            _hos._exit(0)
                    if _hkind != "daemon":
                        _hmark("pids", f"{_hpid}\\n")
                for _ in range(200):  # until the daemon has recorded itself
                    with open(_hos.path.join(_HTMP, "pids")) as _hfh:
                        if len(_hfh.read().split()) >= 4:
                            break
                    _htime.sleep(0.01)
            '''),
    # -- what loss() returns -----------------------------------------------------------
    Hostile("nan_and_inf_probabilities", "1a,1b,2d", ("1a.1", "1a.2"), "NaN or inf",
            ("1b", "2d"), loss='''
            if y is None:
                _hp = np.full((X.shape[0], self.params["W2"].shape[1]), np.nan)
                _hp[0, 0] = np.inf
                return _hp
            '''),
    Hostile("transposed_probabilities", "1a,1b", ("1a.1", "1a.2"), "expected shape", ("1b",),
            loss='''
            if y is None:
                _hC = self.params["W2"].shape[1]
                return np.full((_hC, X.shape[0]), 1.0 / _hC)
            '''),
    Hostile("probabilities_that_raise", "1a,1b", ("1a.1", "1a.2"),
            "should be a numpy array of numbers", ("1b",), module=RAISING_OBJECT, loss='''
            if y is None:
                return _HRaising()
            '''),
    # (2d is lost too: the call that returns the loss returns the gradients)
    Hostile("loss_value_that_raises", "1a,1b", ("1b.1", "1b.2"),
            "the loss should be a numpy array of numbers", ("1a",), module=RAISING_OBJECT,
            loss=REAL_LOSS + '''
                return _HRaising(), _hgrads
            '''),
    # a list subclass whose __array__ hands back an object array
    Hostile("fake_array", "1a,1b", ("1a.1", "1a.2"), "should be a numpy array of numbers",
            ("1b",), module='''
            class _HFakeArray(list):
                def __array__(self, *args, **kwargs):
                    return np.array([[object()] * 3] * 5, dtype=object)
            ''', loss='''
            if y is None:
                return _HFakeArray(["x"])
            '''),
    # pickled bytes in an object array, and an object array (a pickle) slipped into the
    # results: nothing is ever unpickled (it would write tmp_path/pwned)
    Hostile("pickled_payload", "1a,1b", ("1a.1", "1a.2"), "could not be read back", ("1b",),
            evidence="tampered", module='''
            class _HPayload:
                def __reduce__(self):
                    return (open, (_hos.path.join(_HTMP, "pwned"), "w"))
            ''', loss='''
            if y is None:
                _hctx = _hcontext()
                if _hctx is not None:
                    _hctx.values["payload"] = np.array([_HPayload()], dtype=object)
                    _hmark("tampered")
                _hN, _hC = X.shape[0], self.params["W2"].shape[1]
                _hpayload = _hpickle.dumps(_HPayload())
                return np.array([_hpayload] * (_hN * _hC), dtype=object).reshape(_hN, _hC)
            '''),
    # -- result files rewritten by the child (its own process: it can) -----------------
    *(Hostile(f"result_files_{kind}", "1a,1b", ("1a.1", "1a.2"), "could not be read back",
              ("1b",), module=RESULT_WRITERS, loss=f'''
              if y is None:
                  _hsys.modules["__main__"]._write_results = _h{kind}
              ''') for kind in ("deep_json", "huge_header", "bomb", "bad_failure")),
)


# -- running the grader ------------------------------------------------------------------
def _state(pid: int) -> str | None:
    """The process state letter, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z")


def sandboxed_processes(tmp: Path) -> list[int]:
    """Live processes carrying a sandbox token whose sandbox lies under tmp (this test's)."""
    home = f"HOME={tmp}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read().split(b"\0")
        except OSError:
            continue
        if any(v.startswith(TOKEN_VAR.encode() + b"=") for v in env) and \
                any(v.startswith(home) for v in env) and _alive(int(entry)):
            found.append(int(entry))
    return found


def assert_gone(pids: list[int]) -> None:
    """Every pid is gone (a zombie counts as gone), allowing a second to settle."""
    deadline = time.monotonic() + 1.0
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if _alive(p)], "processes outlived the grader"


def _short_rubric(tmp: Path, seconds: float) -> Path:
    """A copy of the rubric whose [sandbox] wall-clock and CPU limits are `seconds`."""
    text = rubric.RUBRIC_PATH.read_text()
    limits = f"wall_seconds = {LIMITS.wall_seconds:g}\ncpu_seconds = {LIMITS.cpu_seconds:g}\n"
    assert text.count(limits) == 1, "the [sandbox] limits moved in rubric.toml"
    path = tmp / "short-rubric.toml"
    path.write_text(text.replace(limits, f"wall_seconds = {seconds:g}\n"
                                         f"cpu_seconds = {seconds:g}\n"))
    return path


# The catalogue tests what the grader trusts of a child that can reach everything its user
# can: the confinement layers (uid drop, mount namespace, Landlock) are off, so each attack
# runs in full and leaves its evidence in tmp_path. tests/core/test_confinement.py attacks the
# confinement itself.
UNCONFINED = {"GRADER_ISOLATION": "off", "GRADER_LANDLOCK": "0", "GRADER_MOUNTS": "0"}


def grade(sub: Path, tmp: Path, questions: str, budget: float = 30.0,
          wall_seconds: float | None = None, extra_env: dict | None = None) -> dict:
    """Grades sub from tmp (--out out, sandboxes under tmp/sandboxes), with the [sandbox]
    limits shortened to wall_seconds when given; returns results.json after asserting the
    run's invariants: in budget, valid, complete, nothing left running."""
    sandboxes = tmp / "sandboxes"
    sandboxes.mkdir()
    extra = ["--rubric", str(_short_rubric(tmp, wall_seconds))] if wall_seconds else []
    env = {**os.environ, "TMPDIR": str(sandboxes), **(extra_env or {}),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(sub), "--out", "out",
                           "--quiet", "--questions", questions, *extra], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=budget + 60)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert elapsed < budget, f"grading took {elapsed:.0f} s (budget {budget:g} s)"
    results = json.loads((tmp / "out" / "results.json").read_text())
    assert gradescope.validate(results) == []
    assert results["extra_data"]["complete"], results["output"]
    assert sandboxed_processes(sandboxes) == []
    assert list(sandboxes.iterdir()) == []  # every sandbox folder removed
    return results


def by_id(results: dict) -> dict:
    return {t["number"]: t for t in results["tests"]}


def assert_own_results(results: dict, questions: str) -> None:
    """results.json is the grader's: every selected check, scores adding up, no forgery."""
    wanted = {c.id for c in RUBRIC.checks if c.question in questions.split(",")}
    assert set(by_id(results)) == wanted
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    text = json.dumps(results)
    assert MARK not in text
    assert "Grader error" not in text  # the grader never blames itself for an attack


# -- the catalogue ---------------------------------------------------------------------
@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.name for h in HOSTILE])
def test_hostile_submission_earns_nothing(hostile, tmp_path):
    if hostile.name == "forged_results_everywhere" and Path("/autograder").exists():
        pytest.skip("would write into this machine's /autograder/results")
    sub = hostile.write(tmp_path / "sub", tmp_path)
    results = grade(sub, tmp_path, hostile.questions, hostile.budget, hostile.wall_seconds,
                    UNCONFINED)
    time.sleep(0.2)  # a surviving writer would rewrite results.json within 50 ms
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert_own_results(results, hostile.questions)
    tests = by_id(results)
    for cid in hostile.zero:
        assert tests[cid]["score"] == 0, (cid, tests[cid]["output"])
        assert hostile.phrase in plain(tests[cid]["output"]), (cid, tests[cid]["output"])
    for cid, test in tests.items():
        if cid in hostile.keeps or cid.split(".")[0] in hostile.keeps:
            assert test["score"] == test["max_score"], (cid, test["output"])
    assert not (tmp_path / "pwned").exists(), (tmp_path / "pwned").read_text()
    if hostile.evidence:
        assert (tmp_path / hostile.evidence).exists(), "the attack never ran"
    if hostile.also is not None:
        hostile.also(tmp_path)
    pids = tmp_path / "pids"
    if pids.exists():
        assert_gone([int(p) for p in pids.read_text().split()])


# -- files of the submission ---------------------------------------------------------
def _reference(dest: Path) -> Path:
    shutil.copytree(REFERENCE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_misnamed_file_lists_what_was_submitted(tmp_path):
    sub = _reference(tmp_path / "sub")
    (sub / "two_layernet.py").rename(sub / "two_layer_net.py")
    tests = by_id(grade(sub, tmp_path, "1a"))
    for test in tests.values():
        assert test["score"] == 0
        assert "two_layernet.py not found" in plain(test["output"])
        assert "two_layer_net.py" in plain(test["output"])  # what to rename


def test_huge_junk_file_is_skipped_with_a_note(tmp_path):
    sub = _reference(tmp_path / "sub")
    with open(sub / "data.bin", "wb") as fh:  # 100 MB, sparse: no disk used
        fh.truncate(100 * 2 ** 20)
    tests = by_id(grade(sub, tmp_path, "1a"))
    for test in tests.values():
        assert test["score"] == test["max_score"], test["output"]
        assert (f"Note: skipped data.bin: submission larger than {LIMITS.max_copy_mb} MB "
                "in total") in plain(test["output"])


def test_symlinked_solution_is_not_followed(tmp_path):
    sub = _reference(tmp_path / "sub")
    (sub / "two_layernet.py").unlink()
    (sub / "two_layernet.py").symlink_to(REFERENCE / "two_layernet.py")
    tests = by_id(grade(sub, tmp_path, "1a"))
    for test in tests.values():
        assert test["score"] == 0
        assert "two_layernet.py not found" in plain(test["output"])
        assert "Note: skipped two_layernet.py: not a regular file" in plain(test["output"])


def test_symlinks_out_of_the_submission_are_skipped(tmp_path):
    sub = _reference(tmp_path / "sub")
    (sub / "passwd").symlink_to("/etc/passwd")
    (sub / "everything").symlink_to("/")
    path = sub / "two_layernet.py"
    path.write_text(path.read_text().replace("import numpy as np\n", (
        "import numpy as np\nimport os\n"
        "assert not os.path.exists(os.path.join(os.path.dirname(__file__), 'passwd'))\n"
        "assert not os.path.exists(os.path.join(os.path.dirname(__file__), 'everything'))\n"),
        1))
    tests = by_id(grade(sub, tmp_path, "1a"))
    for test in tests.values():
        assert test["score"] == test["max_score"], test["output"]
        assert "Note: skipped passwd: not a regular file" in test["output"]


# -- every limit the sandbox sets, hit with tight limits ----------------------------
PROBE = '''
def call(ctx):
    module = ctx.import_student("student")
    ctx.put("result", ctx.call(module.f))


def limits(ctx):
    with open("/proc/self/limits") as fh:
        ctx.put("limits", fh.read())
'''


def run_student(tmp_path, limits, source):
    """Runs the student function f of `source` in the sandbox; returns the ProbeRun."""
    (tmp_path / "probe.py").write_text(PROBE)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "student.py").write_text(textwrap.dedent(source))
    return run_probe(tmp_path / "probe.py", "call", submission=sub, limits=limits)


def _limit(table: str, name: str) -> tuple[str, str]:
    """(soft, hard) of one row of /proc/PID/limits."""
    row = next(line for line in table.splitlines() if line.startswith(name))
    return tuple(row[len(name):].split()[:2])


def test_child_runs_under_every_limit(tmp_path, tiny_limits):
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "sub").mkdir()
    run = run_probe(tmp_path / "probe.py", "limits", submission=tmp_path / "sub",
                    limits=tiny_limits)
    assert run.failure is None, run.failure
    table = run.values["limits"]
    mb = 2 ** 20
    assert _limit(table, "Max cpu time")[0] == str(int(tiny_limits.cpu_seconds))
    assert _limit(table, "Max data size") == (str(tiny_limits.memory_mb * mb),) * 2
    # unlimited on purpose: the CUDA build of torch maps 3.4 GB it never touches
    assert _limit(table, "Max address space") == ("unlimited", "unlimited")
    assert _limit(table, "Max file size") == (str(tiny_limits.max_output_mb * mb),) * 2
    assert _limit(table, "Max open files") == (str(tiny_limits.max_open_files),) * 2
    assert _limit(table, "Max core file size") == ("0", "0")
    # RLIMIT_NPROC counts the user's processes; root is exempt from it, but it is set
    soft, hard = _limit(table, "Max processes")
    assert soft == hard and tiny_limits.max_processes <= int(soft) < 10 ** 6


def test_cpu_limit_stops_a_busy_loop(tmp_path, tiny_limits):
    limits = tiny_limits.replace(cpu_seconds=1, wall_seconds=30)
    start = time.monotonic()
    run = run_student(tmp_path, limits, """
        def f():
            while True:
                pass
        """)
    assert run.failure is not None and run.failure.kind == "cpu", run.failure
    assert "1 s of CPU time" in run.failure.message
    assert time.monotonic() - start < 10  # the CPU limit, not the 30 s wall clock


def test_file_size_limit_stops_a_big_file(tmp_path, tiny_limits):
    run = run_student(tmp_path, tiny_limits, f"""
        def f():
            with open("big.bin", "wb") as fh:
                for _ in range({tiny_limits.max_output_mb + 1}):
                    fh.write(b"x" * 2 ** 20)
        """)
    assert run.failure is not None and run.failure.kind == "exception", run.failure
    assert "File too large" in run.failure.message
    assert run.failure.where == "student.py:5"


def test_open_files_limit_and_results_still_come_back(tmp_path, tiny_limits):
    run = run_student(tmp_path, tiny_limits, """
        import os
        KEPT = []
        def f():
            try:
                for _ in range(1000):
                    KEPT.append(open(os.devnull))
            except OSError as exc:
                return [len(KEPT), str(exc)]
            return [len(KEPT), "no limit"]
        """)
    assert run.failure is None, (run.failure, run.output[-2000:])
    opened, error = run.values["result"]
    assert opened < tiny_limits.max_open_files
    assert "Too many open files" in error


@pytest.mark.skipif(os.getuid() == 0, reason="RLIMIT_NPROC does not apply to root: as root, "
                    "test_isolation.py::test_as_nobody_the_process_limit_holds checks it")
def test_process_limit_refuses_a_fork_bomb(tmp_path, tiny_limits):
    run = run_student(tmp_path, tiny_limits, """
        import os
        import time
        def f():
            count = 0
            try:
                for _ in range(10000):
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
                    count += 1
            except OSError as exc:
                return [count, type(exc).__name__]
            return [count, "no limit"]
        """)
    assert run.failure is None, run.failure
    count, error = run.values["result"]
    assert error == "BlockingIOError" and count <= tiny_limits.max_processes
