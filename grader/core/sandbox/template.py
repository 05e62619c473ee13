"""A pre-started template process the sandboxed calls that use torch are forked from, so a
grading imports torch once instead of once per call.

The grader's handle (Template) starts it at a call that uses torch (uses_torch: the probe
functions it runs name torch), and the runner ends it while another call runs (its
~420 MB beside that call's fresh interpreter would raise the grading's peak memory). It
runs as `python -I sandbox_child.py --template FD` from a private folder holding copies of
child.py, this file and lockdown.py, with the environment a call gets (its per-call
values, the run's token included, as placeholders). The template imports numpy, torch and
torchvision (never initialising CUDA, which is not fork-safe: each child does that
itself), checks that it is still one thread, and then only waits (serve). It never runs
student code, reads no request and holds no data: per call it receives the path of the
call's control folder and two descriptors (the socket it answers on, the call's output
pipe), forks, reaps the child and sends back its exit status and resource usage.

Each forked child, before any probe or student code runs (_become_call): leaves the
template's session and closes every descriptor of the template's, its output going to the
call's pipe; reads the call's launch plan (ctl/launch.json, written by the grader, then
removed) and takes the call's environment (its token written into the environment block
/proc shows, where the grader's token scan reads it); applies the same steps as a fresh
interpreter's child (lockdown.enter_sandbox: rlimits, network namespace, private mounts,
uid drop, socket filter, death with its parent); moves to its working folder; forgets the
template's temporary folder and reseeds numpy's and torch's generators (a fresh
interpreter seeds them from the OS); and only then runs the request as child.py's main().
Landlock is applied there, as in a fresh interpreter.

Standard library only, no import from the grader package: the template loads this file
by path. GRADER_FORK_TEMPLATE=0 turns the template off (every call starts a fresh
interpreter); GRADER_FORK_TEMPLATE=all forks every probe's calls from it (tests).
"""
from __future__ import annotations

import ast
import ctypes
import gc
import importlib
import importlib.util
import json
import os
import resource
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

PRELOADED = ("numpy", "torch", "torchvision")  # what the template imports
PLAN = "launch.json"  # in a call's control folder: what its forked child needs
PLACEHOLDER = "0" * 32  # the token's value in the template's environment (a uuid4 hex)
START_S = 180.0  # the longest wait for the template's imports
SETUP_S = 30.0  # the longest wait for a forked child's setup
IDLE_S = 600.0  # a template with no call for this long ends (the next call starts one)
_HERE = Path(__file__).resolve().parent
_PR_SET_DUMPABLE = 4  # linux/prctl.h


class TemplateError(OSError):
    """The template could not start, or could not start a call's child."""


# -- the grader's side ------------------------------------------------------------------

def _mode() -> str:
    """$GRADER_FORK_TEMPLATE: "0" none (every call starts a fresh interpreter), "all" the
    calls of every probe (tests of the fork path), else the calls of torch probes."""
    return os.environ.get("GRADER_FORK_TEMPLATE", "1").strip().lower()


_TREES: dict[tuple[str, float], ast.Module] = {}


def _torch_named(node: ast.AST) -> bool:
    """Whether code under node imports or names torch or torchvision (comments and strings
    aside): `import torch`, `torch.nn`, `ctx.torch()`."""
    roots = set(PRELOADED) - {"numpy"}
    for sub in ast.walk(node):
        names = [a.name for a in sub.names] if isinstance(sub, ast.Import) else \
            [sub.module or ""] if isinstance(sub, ast.ImportFrom) else \
            [sub.id] if isinstance(sub, ast.Name) else \
            [sub.attr] if isinstance(sub, ast.Attribute) else []
        if any(n.split(".")[0] in roots for n in names):
            return True
    return False


def uses_torch(probe: Path, functions: list[str]) -> bool:
    """Whether calling these functions of a probe file uses what the template preloads:
    the file's top level, or one of the functions or a function of the file they name
    (transitively), imports or names torch (torchvision) or asks for it (ctx.torch()). A
    call that does not keeps a fresh interpreter: torch's ~800 MB would count against its
    memory limits. A function reaching torch some other way is missed, and only runs
    slower."""
    path = Path(probe).resolve()
    key = (str(path), path.stat().st_mtime)
    if key not in _TREES:
        _TREES[key] = ast.parse(path.read_text())
    tree = _TREES[key]
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    if any(_torch_named(n) for n in tree.body if n not in defs.values()):
        return True
    seen, todo = set(), [f for f in functions if f in defs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if _torch_named(defs[name]):
            return True
        todo += [n.id for n in ast.walk(defs[name]) if isinstance(n, ast.Name) and n.id in defs]
    return False


def _recv(sock: socket.socket, timeout: float | None) -> dict | None:
    """One message (a JSON object) from sock; None on EOF; TemplateError on a timeout."""
    ready, _, _ = select.select([sock], [], [], timeout)
    if not ready:
        raise TemplateError(f"no answer within {timeout:g} s")
    try:
        data = sock.recv(65536)
    except OSError:
        return None
    return json.loads(data) if data else None


class Launched:
    """A child forked by the template for one call: its pid, and its end as the template
    reports it (wait status and resource usage)."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock = sock
        self.pid = pid

    def _ended(self, timeout: float | None) -> tuple[int, int, resource.struct_rusage | None]:
        try:
            message = _recv(self.sock, timeout)
        except TemplateError:
            return 0, 0, None
        self.sock.close()
        if message is None:  # the template died: the child dies with it (PDEATHSIG)
            return self.pid, 0x9, None  # as killed by SIGKILL
        return self.pid, int(message["status"]), resource.struct_rusage(message["usage"])

    def poll(self) -> tuple[int, int, resource.struct_rusage | None]:
        """(pid, status, usage) once the child ended, else (0, 0, None): as os.wait4 with
        WNOHANG."""
        return self._ended(0) if self.sock.fileno() >= 0 else (self.pid, 0x9, None)

    def reap(self) -> tuple[int, int, resource.struct_rusage | None]:
        """(pid, status, usage), waiting for the end (the caller killed the child)."""
        done = self._ended(SETUP_S) if self.sock.fileno() >= 0 else (0, 0, None)
        return done if done[0] else (self.pid, 0x9, None)


class Template:
    """The grader's handle on a template process, started when first needed and ended by
    stop() (or when the handle is collected, or the grader ends). every_probe: serve every
    call, not only those of probes that use torch (tests)."""

    def __init__(self, every_probe: bool = False) -> None:
        self.every_probe = every_probe
        self.problem = ""  # why the template could not start, once it could not
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._python = ""
        self._stop = None
        self.pid = 0  # the running template's process id, 0 before it starts
        self.folder: Path | None = None  # its private folder (its scripts)

    def serves(self, probe: Path, functions: list[str]) -> bool:
        """Whether a call of these functions of a probe should be forked from the
        template."""
        mode = _mode()
        return mode != "0" and not self.problem and (
            self.every_probe or mode == "all" or uses_torch(probe, functions))

    def start(self, python: str, environment: dict[str, str]) -> None:
        """Starts the template (when it is not running with this interpreter) and waits
        for its imports; TemplateError, remembered in self.problem, when it cannot."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None and self._python == python:
                return
            self._end()
            try:
                self._spawn(python, environment)
            except (OSError, subprocess.SubprocessError, ValueError) as exc:
                self._end()
                self.problem = f"the fork template could not start ({exc})"
                raise TemplateError(self.problem) from None

    def _spawn(self, python: str, environment: dict[str, str]) -> None:
        folder = Path(tempfile.mkdtemp(prefix="grader-template-"))
        for src, name in ((_HERE / "child.py", "sandbox_child.py"), (_HERE / "template.py", None),
                          (_HERE / "lockdown.py", None)):
            shutil.copyfile(src, folder / (name or src.name))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            env = {**environment, "HOME": str(folder), "TMPDIR": str(folder)}
            proc = subprocess.Popen(
                [python, "-I", str(folder / "sandbox_child.py"), "--template",
                 str(theirs.fileno())], cwd=folder, env=env, pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=_die_with_grader)
        except BaseException:
            ours.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            theirs.close()
        self._proc, self._control, self._python = proc, ours, python
        self.pid, self.folder = proc.pid, folder
        self._stop = weakref.finalize(self, _end, proc, ours, folder)
        answer = _recv(ours, START_S)
        if answer is None or not answer.get("ready"):
            raise TemplateError((answer or {}).get("error") or "it ended while importing")

    def launch(self, ctl: Path, plan: dict, out_fd: int) -> Launched:
        """Forks a child for the call whose control folder is ctl: writes its launch plan
        there (ctl/launch.json: request, argv0, work, environment, token, rlimits,
        identity, call), hands the template the call's output pipe, and waits until the
        child has applied its isolation. TemplateError when it could not (no student
        code ran then)."""
        path = Path(ctl) / PLAN
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(plan, fh)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with self._lock:
                if self._control is None:
                    raise TemplateError("the fork template is not running")
                socket.send_fds(self._control, [str(ctl).encode()],
                                [theirs.fileno(), out_fd])
            pid, setup = 0, None
            deadline = time.monotonic() + SETUP_S
            while not pid or setup is None:
                message = _recv(ours, max(0.0, deadline - time.monotonic()))
                if message is None or "status" in message:
                    raise TemplateError("the forked child ended before its setup")
                pid = message.get("pid", pid)
                setup = message.get("setup", setup)
            if setup:
                raise TemplateError(f"the forked child's setup failed: {setup}")
            return Launched(ours, pid)
        except (OSError, ValueError) as exc:
            ours.close()
            with self._lock:
                self._end()
                self.problem = f"the fork template failed ({exc})"
            raise TemplateError(self.problem) from None
        finally:
            theirs.close()
            if path.exists():
                path.unlink()

    def _end(self) -> None:
        if self._stop is not None:
            self._stop()
        self._proc = self._control = self._stop = None

    def stop(self) -> None:
        """Ends the template (its running children die with it)."""
        with self._lock:
            self._end()


def _die_with_grader() -> None:
    """The template's preexec_fn: it dies with the grader (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0)


def _end(proc: subprocess.Popen, control: socket.socket, folder: Path) -> None:
    """Ends a template: its socket closed (it leaves its loop), killed after a while."""
    control.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    shutil.rmtree(folder, ignore_errors=True)


# -- the template's side ----------------------------------------------------------------

def _sibling(name: str):
    """A module of the template's folder, loaded by path as grader_template_<name>."""
    spec = importlib.util.spec_from_file_location(f"grader_template_{name}",
                                                  _HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _send(fd: int, message: dict) -> None:
    try:
        os.write(fd, json.dumps(message).encode())
    except OSError:  # the grader no longer listens
        pass


def _unfit() -> str:
    """Why this process must not be forked from (CUDA initialised, or threads running),
    else ''."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return "CUDA was initialised while importing"
    with open("/proc/self/status") as fh:
        threads = next((line.split()[1] for line in fh if line.startswith("Threads:")), "1")
    return f"{threads} threads run after the imports" if threads != "1" else ""


def serve(fd: int, run_child) -> int:
    """The template's loop on the control socket fd: imports PRELOADED, says it is ready
    (or why not), then forks a child per call (run_child(request path) runs the call's
    request, returning the exit code) and reports each child's end; returns when the
    grader closes the socket or after IDLE_S without a call."""
    lockdown = _sibling("lockdown")
    control = socket.socket(fileno=fd)
    try:
        for name in PRELOADED:
            importlib.import_module(name)
        problem = _unfit()
        gc.freeze()  # what the imports made: never scanned (or copied) by a child's collector
    except BaseException as exc:  # noqa: BLE001 - the grader falls back and says why
        problem = f"{type(exc).__name__}: {exc}"[:300]
    _send(fd, {"ready": not problem, "error": problem})
    if problem:
        return 1
    children: dict[int, tuple[int, int | None]] = {}  # pid -> (answer socket, pidfd)
    while True:
        pidfds = [p for _, p in children.values() if p is not None]
        timeout = IDLE_S if not children else None if len(pidfds) == len(children) else 0.02
        ready, _, _ = select.select([fd, *pidfds], [], [], timeout)
        if fd in ready:
            try:
                message, fds, _, _ = socket.recv_fds(control, 4096, 2)
            except OSError:
                return 0
            if not message:
                return 0  # the grader closed its end
            if len(fds) != 2:
                for extra in fds:
                    os.close(extra)
                continue
            answer, out = fds
            pid = os.fork()
            if pid == 0:
                _become_call(lockdown, answer, out, message.decode(), run_child)
            os.close(out)
            try:
                pidfd = os.pidfd_open(pid)
            except (AttributeError, OSError):
                pidfd = None
            children[pid] = (answer, pidfd)
            _send(answer, {"pid": pid})
        elif not ready and not children:
            return 0  # idle
        _reap(children)


def _reap(children: dict[int, tuple[int, int | None]]) -> None:
    """Reaps the children that ended and sends each one's status and usage."""
    while children:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return
        answer, pidfd = children.pop(pid, (None, None))
        if answer is not None:
            _send(answer, {"status": status, "usage": list(usage)})
            os.close(answer)
        if pidfd is not None:
            os.close(pidfd)


def _carry_token(name: str, value: str) -> None:
    """Writes the call's token over the placeholder in this process's environment block
    (what /proc/PID/environ shows, where the grader's token scan looks), same length."""
    with open("/proc/self/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    start, end = int(fields[47]), int(fields[48])  # env_start, env_end (fields 50, 51)
    block = ctypes.string_at(start, end - start)
    at = block.find(f"\0{name}={PLACEHOLDER}\0".encode())
    if at < 0 or len(value) != len(PLACEHOLDER):
        raise OSError(f"no placeholder for {name} in the environment block")
    ctypes.memmove(start + at + len(name) + 2, value.encode(), len(value))


def _become_call(lockdown, answer: int, out: int, ctl: str, run_child) -> None:
    """In a forked child: the call's setup (module docstring), then its request; never
    returns."""
    try:
        os.setsid()
        lockdown.die_with_parent()  # cleared by the uid drop, asked again after it
        with open(os.path.join(ctl, PLAN)) as fh:
            plan = json.load(fh)
        os.unlink(os.path.join(ctl, PLAN))
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.closerange(3, answer)  # the template's control socket, other calls' sockets
        os.closerange(answer + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        _carry_token(*plan["token"])
        os.environ.clear()
        os.environ.update(plan["environment"])
        lockdown.enter_sandbox(plan["rlimits"], _Attributes(plan["identity"]),
                               _Attributes(plan["call"]))
        # dumpable again, as exec makes a fresh interpreter: the change of user cleared it,
        # which would leave /proc/self/* root's and the call unable to read them
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
        os.chdir(plan["work"])
    except BaseException as exc:  # noqa: BLE001 - no student code ran: the grader says why
        _send(answer, {"setup": f"{type(exc).__name__}: {exc}"[:300] or "failed"})
        os._exit(1)
    _send(answer, {"setup": ""})
    os.close(answer)
    tempfile.tempdir = None  # the template's; a call's is its $TMPDIR
    for name, reseed in (("numpy", lambda m: m.random.seed()), ("torch", lambda m: m.seed())):
        if name in sys.modules:
            reseed(sys.modules[name])
    sys.argv[:] = [plan["argv0"], plan["request"]]
    code = 1
    try:
        code = run_child(plan["request"])
    except BaseException:  # noqa: BLE001 - as an uncaught exception would end the child
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class _Attributes:
    """A plan's dict read as attributes (lockdown reads identity and call that way)."""

    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)
        self.dropped = values.get("uid") is not None
        for key in ("binds", "covers", "keeps", "hidden", "extra_keeps"):
            if key in values:
                setattr(self, key, tuple(tuple(v) if isinstance(v, list) else v
                                         for v in values[key]))
