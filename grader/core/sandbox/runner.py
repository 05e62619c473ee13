"""Runs one probe next to student code in a separate, resource-limited child process.

The child (grader/core/sandbox/child.py) gets a fresh copy of the submission, a scratch working
directory, a clean environment, limits on CPU time, data memory, file size, processes and
open files, and its own session. When it ends (or its wall-clock time runs out) its whole
process group is killed, and any process that slipped out of the group but still carries
this run's token in its environment is killed too. The grader is the child subreaper of its
descendants, so a process that left the session and cleared its environment (execve) is
reparented to the grader when its parent dies, and killed as an orphan: nothing outlives a
call. What comes back is plain data, decoded without pickle, its size capped. The child
is a fresh interpreter, or, for a probe that uses torch, a fork of the grading's template
process (template.py: torch imported once), isolated by the same steps (lockdown.py).

Memory: RLIMIT_DATA (soft = hard = limits.memory_mb) bounds each process's private
writable memory (heap, anonymous mmap, what numpy and torch allocate), so a single
process that asks for too much gets a clean MemoryError / "can't allocate memory" it can
report. RLIMIT_AS stays unset (RLIM_INFINITY): the CUDA build of torch maps about 3.4 GB
of address space at import (libraries, reserved arenas, one stack per thread) that it never
touches, so an address-space limit that numpy work wants (1.5 GB) makes `import torch`
fail. What RLIMIT_DATA does not see, shared anonymous memory (MAP_SHARED, /dev/shm) and
forked children (the limit is per process), the RSS watchdog does: while it waits, the
grader sums the resident anonymous and shared memory (RssAnon + RssShmem; file-backed
pages such as a memory-mapped training set are reclaimable and not counted) of the child's
process tree every 25 ms, and of every process carrying this run's token on a full /proc
scan about once a second, and kills the call once that sum passes memory_mb +
rss_margin_mb ("memory" failure, "used more than N MB of memory").

Output: the child's stdout and stderr are one pipe the grader drains as it waits, keeping
the head and the tail (limits.output_kb) and counting the bytes: printing a lot costs time,
never a check. Files the child writes are still capped by RLIMIT_FSIZE (max_output_mb).
"""
from __future__ import annotations

import ctypes
import fcntl
import json
import os
import re
import resource
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from . import isolation, lockdown
from ..submission import source
from ..errors import SandboxError
from .probe_run import Failure, ProbeRun
from .procs import parent_and_start, pids, process_tree
from .template import PLACEHOLDER, Launched, Template, TemplateError
from ..rubric.spec import Limits
from .child import CALLS, IMPORTING, KITS, RUNNING  # a multi-call request; the markers

CHILD = Path(__file__).with_name("child.py")
TOKEN_VAR = "GRADER_SANDBOX_TOKEN"
_MB = 1024 * 1024
_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def copy_submission(src: Path, dst: Path, max_bytes: int, skip: tuple[str, ...] = ()
                    ) -> list[str]:
    """Copies the regular files of a submission (no symlinks, capped), except the
    relative paths in skip; returns notes."""
    notes: list[str] = []
    total = 0
    src = src.resolve()
    for root, dirs, files in os.walk(src, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
        rel = Path(root).relative_to(src)
        for name in sorted(files):
            path = Path(root) / name
            if (rel / name).as_posix() in skip:
                continue
            if path.is_symlink() or not path.is_file():
                notes.append(f"skipped {rel / name}: not a regular file (symlink?)")
                continue
            size = path.stat().st_size
            if total + size > max_bytes:
                notes.append(f"skipped {rel / name}: submission larger than "
                             f"{max_bytes // _MB} MB in total")
                continue
            total += size
            (dst / rel).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dst / rel / name)
    return notes


def _processes_of_user(uid: int) -> int:
    """How many tasks (processes and their threads) this user runs now: RLIMIT_NPROC
    counts them all, and other children running as the same user (a torch child has a
    dozen threads) must not eat this child's share."""
    count = 0
    for pid in pids():
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            with open(f"/proc/{pid}/status", "rb") as fh:
                threads = next((line for line in fh if line.startswith(b"Threads:")), b"")
            count += int(threads.split()[1]) if threads else 1
        except (OSError, ValueError, IndexError):
            continue
    return count


def _rlimits(limits: Limits, identity: isolation.Identity) -> list:
    """The child's resource limits: [(resource.RLIMIT_*, (soft, hard))]."""
    cpu = max(1, int(limits.cpu_seconds))
    # RLIMIT_NPROC counts every process of the user (a student's browser included), so the
    # child may start max_processes more than the user already runs.
    uid = identity.uid if identity.dropped else os.getuid()
    nproc = _processes_of_user(uid) + limits.max_processes
    return [
        (resource.RLIMIT_CPU, (cpu, cpu + 2)),
        # RLIMIT_AS stays unlimited: torch (CUDA build) maps 3.4 GB it never touches
        (resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2),
        (resource.RLIMIT_DATA, (limits.memory_mb * _MB,) * 2),
        (resource.RLIMIT_FSIZE, (limits.max_output_mb * _MB,) * 2),
        (resource.RLIMIT_NOFILE, (limits.max_open_files,) * 2),
        (resource.RLIMIT_NPROC, (nproc, nproc)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]


class _Fresh:
    """A child started as a fresh interpreter: this process's own child, waited for with
    os.wait4 (as template.Launched is through the template)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.pid = proc.pid
        proc.returncode = 0  # waited for here; keeps Popen from waiting again

    def poll(self) -> tuple[int, int, Any]:
        return os.wait4(self.pid, os.WNOHANG)

    def reap(self) -> tuple[int, int, Any]:
        return os.wait4(self.pid, 0)


def _start_child(identity: isolation.Identity, ctl: Path, work: Path, env: dict[str, str],
                 rlimits: list, call: isolation.CallPlan, write_fd: int,
                 template: Template | None, notes: list[str]) -> _Fresh | Launched:
    """Starts the call's child: forked from the template when one is given for the call
    (started if it is not running), else, or when that fails before any student code ran
    (said in notes), a fresh interpreter running ctl/sandbox_child.py, isolated alike."""
    request, child = ctl / "request.json", ctl / "sandbox_child.py"
    if template is not None:
        plan = {"request": str(request), "argv0": str(child), "work": str(work),
                "environment": env, "token": (TOKEN_VAR, env[TOKEN_VAR]), "rlimits": rlimits,
                "identity": {k: getattr(identity, k) for k in
                             ("uid", "gid", "mounts", "covers", "keeps", "hidden")},
                "call": asdict(call)}
        try:
            template.start(identity.python, {**env, TOKEN_VAR: PLACEHOLDER})
            return template.launch(ctl, plan, write_fd)
        except TemplateError as exc:
            notes.append(f"this call started a fresh interpreter: {exc}")
    try:
        return _Fresh(subprocess.Popen(
            [identity.python, "-I", str(child), str(request)],
            cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=write_fd,
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            preexec_fn=lambda: lockdown.enter_sandbox(rlimits, identity, call)))
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"cannot start the sandbox child: {exc}") from exc


def _environment(work: Path, token: str, python: str) -> dict[str, str]:
    bindir = str(Path(python).parent)
    return {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(work / ".matplotlib"),
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        # deterministic cuBLAS when a check runs torch on CUDA (ignored otherwise)
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        # steadier timings: fewer page faults from numpy's large temporaries
        "MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "2147483648",
        TOKEN_VAR: token,
    }


def _kill_stragglers(pgid: int, token: str) -> None:
    """Kills the child's process group and every process that carries this run's token."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in _carriers(token) - {os.getpid()}:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue


def _become_subreaper() -> None:
    """Makes this process the reaper of its orphaned descendants (Linux; else a no-op)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _kill_orphans(since: int, seconds: float = 2.0) -> None:
    """Kills and reaps the processes reparented to this one that started at or after
    `since` (the sandbox child's start time): descendants of a child that left its
    session and cleared its environment. Run after the child was reaped; assumes this
    process starts no other child while a call runs (the grader does not)."""
    me, deadline = os.getpid(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = []
        for pid in pids():
            try:
                ppid, start = parent_and_start(pid)
            except (OSError, ValueError, IndexError):
                continue
            if ppid == me and start >= since:
                found.append(pid)
        if not found:
            return
        for pid in found:  # killing one reparents its children to us: scan again
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                continue


def _open_plain(path: Path):
    """Opens a file the child wrote for reading, refusing what is not a regular file: a
    symlink (to a grader file), a FIFO (that would block the grader) or a device."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path.name} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_plain(path: Path, max_bytes: int) -> bytes:
    """The bytes of a file someone untrusted could have written: a regular file only (no
    link, FIFO or device), opened without blocking, at most max_bytes (ValueError past
    that, OSError when it cannot be opened)."""
    with _open_plain(path) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path.name} is larger than {max_bytes} bytes")
    return data


class _Output:
    """The child's stdout and stderr as they are drained: the first and the last half of
    keep_kb kept, every byte counted."""

    def __init__(self, keep_kb: int) -> None:
        self.half = keep_kb * 1024 // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data[-self.half:] if self.half else b""
            if len(self.tail) > 2 * self.half:  # trimmed now and then, not on every write
                del self.tail[:-self.half]

    def text(self) -> str:
        tail = bytes(self.tail[-self.half:]) if self.half else b""
        left_out = self.total - len(self.head) - len(tail)
        data = bytes(self.head)
        if left_out > 0:
            data += f"\n... [{left_out} bytes of output left out] ...\n".encode()
        return (data + tail).decode("utf-8", errors="replace")


def _drain(fd: int, output: _Output, budget_s: float = 0.02) -> bool:
    """Reads what the pipe holds (for at most budget_s); False once it reached EOF."""
    until = time.monotonic() + budget_s
    while True:
        try:
            data = os.read(fd, 1 << 20)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        output.feed(data)
        if time.monotonic() > until:
            return True


def _memory_kb(pid: int) -> int:
    """Resident anonymous + shared memory of one process (RssAnon + RssShmem), KiB;
    file-backed pages (libraries, a memory-mapped data set) are not counted."""
    total = 0
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith((b"RssAnon:", b"RssShmem:")):
                    total += int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return total


def _carriers(token: str) -> set[int]:
    """Every process whose environment carries this run's token (a full /proc scan)."""
    needle, found = f"{TOKEN_VAR}={token}".encode(), set()
    for pid in pids():
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.add(pid)
        except OSError:
            continue
    return found


_MEMORY_POLL_S = 0.025  # RSS of the child's tree: about 0.1 ms a poll
_SCAN_S = 1.0  # full /proc scan for processes that carry the token: a few ms


@dataclass
class _Waited:
    status: int | None  # wait status, None on timeout or a watchdog kill
    usage: Any
    wall: float
    peak_kb: int = 0  # the largest RSS the watchdog saw (KiB)
    memory_kill_kb: int = 0  # the RSS that made the watchdog kill the call, else 0


def _stuck_importing(out: Path) -> str:
    """The module a killed child was importing (its IMPORTING marker), else ""."""
    try:  # the child wrote it: regular files only, no links, never blocks, capped
        name = read_plain(out / IMPORTING, 200).decode().strip()
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return ""
    return name if name.isidentifier() else ""


_QUALIFIED = re.compile(r"[A-Za-z_][\w.]{0,150}:[A-Za-z_][\w.<>]{0,150}")


def _stuck_in(out: Path) -> str:
    """The student function a stopped child was in (its RUNNING sample), else ""."""
    try:  # the child wrote it: regular files only, no links, never blocks, capped
        name = read_plain(out / RUNNING, 400).decode().strip()
    except (OSError, ValueError):
        return ""
    return name if _QUALIFIED.fullmatch(name) and "<" not in name.split(":")[1] else ""


def _read_progress(path: Path) -> tuple[int, int] | None:
    """(done, total) from a probe's progress.json, or None when absent or unreadable."""
    try:
        state = json.loads(read_plain(path, 4096))
        return int(state["done"]), int(state["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _wait(child: _Fresh | Launched, limits: Limits, token: str, fd: int, output: _Output,
          progress: Path, on_progress: Callable[[int, int], None] | None,
          shm_kb: Callable[[], int] | None, start: float) -> _Waited:
    """Waits for the child while draining its output into `output`, watching the memory
    of its processes (killing the call past memory_mb + rss_margin_mb) and passing
    (done, total) from the probe's progress.json to on_progress. shm_kb: KiB of files the
    call keeps in a shared /dev/shm (counted with the memory, checked once a second).
    start: time.monotonic() when the call's child began to start (its wall clock's zero:
    a template started for it counts, as a fresh interpreter's imports do)."""
    ceiling_kb = (limits.memory_mb + limits.rss_margin_mb) * 1024
    delay, seen, peak, carriers, in_shm = 0.002, None, 0, set(), 0
    next_memory, next_scan, next_progress = start, start + _SCAN_S / 2, start
    open_fd = True
    while True:
        done, status, usage = child.poll()
        now = time.monotonic()
        if done:
            return _Waited(status, usage, now - start, peak)
        if now - start > limits.wall_seconds:
            return _Waited(None, None, now - start, peak)
        if now >= next_scan:
            carriers = _carriers(token)
            in_shm = shm_kb() if shm_kb is not None else 0
            next_scan = now + _SCAN_S
        if now >= next_memory:
            rss = sum(_memory_kb(p) for p in set(process_tree(child.pid)) | carriers) + in_shm
            peak = max(peak, rss)
            if rss > ceiling_kb:
                return _Waited(None, None, now - start, peak, rss)
            next_memory = now + _MEMORY_POLL_S
        if on_progress is not None and now >= next_progress:
            next_progress = now + 0.05
            step = _read_progress(progress)
            if step is not None and step != seen:
                seen = step
                on_progress(*step)
        timeout = max(0.0, min(delay, next_memory - time.monotonic()))
        if open_fd:
            ready, _, _ = select.select([fd], [], [], timeout)
            if ready:
                open_fd = _drain(fd, output)
                continue  # output flowing: the child is busy, poll again at once
        else:
            time.sleep(timeout)
        delay = min(delay * 1.5, 0.05)


def _failure_of_exit(status: int | None, usage: Any, limits: Limits, wall: float,
                     memory_kill_kb: int = 0) -> Failure:
    if memory_kill_kb:
        return Failure("memory", f"used more than {memory_kill_kb // 1024} MB of memory (the "
                       f"limit is {limits.memory_mb} MB, counting shared memory and every "
                       "process it started); the call was stopped")
    if status is None:
        return Failure("timeout", f"did not finish within {limits.wall_seconds:g} s "
                       "(wall clock): an infinite loop, a blocking call or too much work?")
    cpu = usage.ru_utime + usage.ru_stime if usage else 0.0
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits.cpu_seconds):
            return Failure("cpu", f"used more than {limits.cpu_seconds:g} s of CPU time")
        if sig == signal.SIGXFSZ:
            return Failure("output", f"wrote more than {limits.max_output_mb} MB to one file")
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
        return Failure("signal", f"the process was killed by signal {name} (a crash in "
                       f"compiled code, or the {limits.memory_mb} MB memory limit?)")
    code = os.WEXITSTATUS(status)
    return Failure("exit", f"the process ended with exit code {code} before returning a "
                   "result (os._exit() or a crash?)")


def _failure_of_record(record: Any) -> Failure:
    """A Failure from a record the child wrote; TypeError unless it holds strings only."""
    if not isinstance(record, dict) or not all(isinstance(v, str) for v in record.values()):
        raise TypeError("a failure record is not a dict of strings")
    return Failure(**record)


def _load_results(out: Path, max_bytes: int
                  ) -> tuple[dict[str, Any], Failure | None, dict[str, Failure]]:
    """Reads what the child wrote; raises (anything) when it is malformed or larger than
    max_bytes of arrays (np.savez does not compress: a genuine result cannot be larger
    than the file-size limit the child ran under)."""
    meta = json.loads(read_plain(out / "meta.json", max_bytes))
    if not isinstance(meta, dict) or not isinstance(meta.get("scalars", {}), dict) \
            or not isinstance(meta.get("case_failures", {}), dict):
        raise TypeError("meta.json is not a dict of the expected fields")
    values: dict[str, Any] = dict(meta.get("scalars", {}))
    with _open_plain(out / "values.npz") as fh, np.load(fh, allow_pickle=False) as npz:
        size = sum(info.file_size for info in npz.zip.infolist())
        if size > max_bytes:
            raise ValueError(f"{size // _MB} MB of arrays, more than the "
                             f"{max_bytes // _MB} MB a call may return")
        for key in npz.files:
            values[key] = npz[key]
    failure = _failure_of_record(meta["failure"]) if meta.get("failure") else None
    cases = {str(k): _failure_of_record(v) for k, v in meta.get("case_failures", {}).items()}
    return values, failure, cases


def _check_readable(identity: isolation.Identity, paths, handed: bool = False) -> None:
    """A grader error (before any student code runs) when the unprivileged child could
    not read a file it needs: a data file, or its own script when $TMPDIR lies in a
    private folder. Staff must open that folder up; the student is not at fault. handed:
    the files are bound or linked into the call's folder, so only their own mode counts."""
    if not identity.dropped:
        return
    for path in paths:
        readable = (isolation.file_readable_by if handed else isolation.readable_by)(
            Path(path), identity.uid, identity.gid)
        if not readable:
            raise SandboxError(f"{path} is not readable by the sandbox user {identity.name}; "
                               "keep prepared data ($GRADER_CACHE) and temporary files "
                               "($TMPDIR) in folders every user may pass through")


def _hand_over(root: Path, owned: tuple[Path, ...], identity: isolation.Identity) -> None:
    """Lets the unprivileged child in: it may pass through root (not list it), read ctl/
    and data/, and own its working copy, scratch and output folders; nothing else here is
    its own."""
    os.chmod(root, 0o711)
    for folder in (root / "ctl", root / "data"):
        if folder.is_dir():
            os.chmod(folder, 0o755)
    for top in owned:
        for folder, dirs, files in os.walk(top):
            os.chown(folder, identity.uid, identity.gid)
            for name in files:
                os.chown(os.path.join(folder, name), identity.uid, identity.gid)


def _data_for_child(identity: isolation.Identity, root: Path,
                    data_files: Mapping[str, str]) -> tuple[dict[str, str], list]:
    """(name -> path as the child sees it, binds for the mount namespace). With a mount
    namespace each file is bound read-only into root/data/; as root without one it is
    hard-linked there (copied across filesystems), so the cache folders stay closed to
    the sandbox user; otherwise the child reads it where it is (Landlock grants it)."""
    if not data_files:
        return {}, []
    seen, binds, folder = {}, [], root / "data"
    if not identity.mounts and os.geteuid() != 0:
        return {k: str(v) for k, v in data_files.items()}, []
    folder.mkdir(exist_ok=True)
    for i, (name, path) in enumerate(data_files.items()):
        safe = "".join(c if c.isalnum() or c in "_-." else "_" for c in str(name))[:60]
        dst = folder / f"{i}-{safe}{Path(path).suffix}"
        if identity.mounts:
            binds.append((str(Path(path).resolve()), str(dst)))
        else:
            try:
                if not identity.dropped:
                    raise OSError("root child: a copy, never the cache's own inode")
                os.link(path, dst)
            except OSError:
                shutil.copyfile(path, dst)
                os.chmod(dst, 0o444)
        seen[name] = str(dst)
    return seen, binds


_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # places every user may write


def _scratch_entries(uid: int) -> set[str]:
    """Entries of the folders every user may write (/tmp, /var/tmp, /dev/shm, /run/lock)
    owned by uid now; of /dev/shm only when uid is the grader's own (its other files in
    /tmp are none of a call's business)."""
    found = set()
    for folder in _SCRATCH if uid != os.geteuid() else ("/dev/shm",):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                if os.lstat(path).st_uid == uid:
                    found.add(path)
            except OSError:
                continue
    return found


def _shm_kb(uid: int, before: set[str]) -> int:
    """KiB held by /dev/shm entries uid made during the call (they are memory)."""
    total = 0
    for path in _scratch_entries(uid) - before:
        if path.startswith("/dev/shm/"):
            try:
                total += os.lstat(path).st_blocks // 2
            except OSError:
                continue
    return total


def _remove_leftovers(uid: int, before: set[str]) -> None:
    """Removes what uid left in /tmp, /var/tmp and /dev/shm during the call (without a
    private mount namespace, where those folders are shared)."""
    for path in _scratch_entries(uid) - before:
        try:
            if stat.S_ISDIR(os.lstat(path).st_mode):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            continue


def run_probe(probe: Path, function: str, *, submission: Path, limits: Limits,
              inputs: Mapping[str, np.ndarray] | None = None,
              params: Mapping[str, Any] | None = None,
              data_files: Mapping[str, str] | None = None,
              on_progress: Callable[[int, int], None] | None = None,
              skip: tuple[str, ...] = (), skip_top_level: bool = False,
              noted: tuple[str, ...] = (), hung_imports: Mapping[str, str] | None = None,
              hung_functions: Mapping[str, str] | None = None,
              template: Template | None = None) -> ProbeRun:
    """Runs `function` of a probe module against a copy of the submission.

    probe: the path of a probe file (a part's probes.py); inputs: arrays
    handed to the probe (saved without pickle); params: JSON-able settings; data_files:
    name -> path of read-only data (e.g. a training set as .npy); on_progress(done, total)
    is called as a long probe reports progress; skip: files of the submission (relative
    paths) not copied, e.g. a checkpoint only the grader reads; skip_top_level: import the
    submission's .py files as definitions only (source.prepare_sources; notebooks always are);
    noted: the modules whose lines not run are named in the notes (empty: all);
    hung_imports: module -> why it is not imported (it hung at import before): importing
    it fails at once with that message. A call whose time ran out while a module of the
    submission was importing says so (ProbeRun.stuck_importing, a "hung_import" failure).
    hung_functions: "module:qualname" -> why it is not run (it outlasted a budget before):
    calling it fails at once with that message (kind "hung_function"). A call whose time
    ran out names the student function it was in (ProbeRun.stuck_in). template: the
    grading's template process (template.py): a call of probe functions that use torch
    (never one under the from-scratch guard) is forked from it (started if need be), with
    the same isolation as a fresh interpreter's; it is ended while a fresh call that trains
    on a dataset (data_files) runs: the two together would outgrow a torch call's memory.
    Never raises for anything student code does: that comes back as ProbeRun.failure.
    """
    probe_path = Path(probe)
    identity = isolation.resolve()
    handed = identity.mounts or os.geteuid() == 0
    _check_readable(identity, (data_files or {}).values(), handed)
    root = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
    try:
        ctl, work, sub, out = (root / d for d in ("ctl", "work", "sub", "out"))
        for d in (ctl, work, sub, out):
            d.mkdir()
        # The child runs copies of its two scripts: the grader's own folder may be locked.
        child = shutil.copyfile(CHILD, ctl / "sandbox_child.py")
        shutil.copyfile(CHILD.with_name("scratch_guard.py"), ctl / "scratch_guard.py")  # it loads
        for kit in KITS:  # probe-side modules a probe imports (sandbox_child preloads them)
            shutil.copyfile(CHILD.parent / "kits" / (kit + ".py"), ctl / (kit + ".py"))
        probe_copy = shutil.copyfile(probe_path, ctl / "probe.py")
        notes = copy_submission(Path(submission), sub, limits.max_copy_mb * _MB, tuple(skip))
        source_notes, skipped_names = source.prepare_sources(sub, skip_top_level, tuple(noted))
        notes += source_notes
        np.savez(ctl / "inputs.npz", **dict(inputs or {}))
        seen, binds = _data_for_child(identity, root, dict(data_files or {}))
        if identity.dropped:
            _hand_over(root, (work, sub, out), identity)
            if not identity.mounts:
                _check_readable(identity, [child])  # e.g. $TMPDIR inside a private folder
        rules = isolation.call_rules(identity, [str(ctl)], [str(work), str(sub), str(out)],
                                     list(seen.values()))
        request = {"probe": str(probe_copy), "function": function,
                   "submission": str(sub), "output": str(out), "inputs": str(ctl / "inputs.npz"),
                   "params": {**dict(params or {}), "progress_dir": str(out)},
                   "data_files": seen, "skipped_names": skipped_names,
                   "hung_imports": dict(hung_imports or {}),
                   "hung_functions": dict(hung_functions or {}), "confine": rules}
        (ctl / "request.json").write_text(json.dumps(request))
        call = isolation.CallPlan(str(root), tuple(binds), tmp_mb=limits.max_output_mb,
                                  shm_mb=limits.rss_margin_mb)
        child_uid = identity.uid if identity.dropped else os.geteuid()
        shared = not identity.mounts  # /tmp, /var/tmp, /dev/shm are the machine's
        before = _scratch_entries(child_uid) if shared else set()
        token = uuid.uuid4().hex
        output = _Output(limits.output_kb)
        _become_subreaper()
        read_fd, write_fd = os.pipe()
        try:
            try:
                fcntl.fcntl(read_fd, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer wake-ups
            except OSError:
                pass
            os.set_blocking(read_fd, False)
            began = time.monotonic()
            try:
                functions = [str(c.get("function")) for c in (params or {}).get("calls", [])
                             if isinstance(c, dict)] if function == CALLS else [function]
                # the from-scratch guard watches imports: torch preloaded would slip past it
                serves = template is not None and not (params or {}).get("from_scratch") \
                    and template.serves(probe_path, functions)
                if template is not None and not serves and data_files:
                    # not held beside a fresh child that trains on a dataset, which would
                    # raise the grading's peak memory; beside a small call (5a's networks,
                    # 6a's formula) it stays, saving a restart's torch import
                    template.stop()
                started = _start_child(identity, ctl, work,
                                       _environment(work, token, identity.python),
                                       _rlimits(limits, identity), call, write_fd,
                                       template if serves else None, notes)
            finally:
                os.close(write_fd)
            try:
                since: int | None = parent_and_start(started.pid)[1]  # readable until reaped
            except (OSError, ValueError, IndexError):
                since = None
            waited = None
            try:
                # a uid of the call's own: its new /dev/shm files are the call's memory
                shm = (lambda: _shm_kb(child_uid, before)) if shared and identity.dropped \
                    else None
                waited = _wait(started, limits, token, read_fd, output,
                               out / "progress.json", on_progress, shm, began)
            finally:
                _kill_stragglers(started.pid, token)
                if waited is None or waited.status is None:
                    _, _, usage = started.reap()  # (pid, status, rusage)
                    if waited is not None:
                        waited.usage = usage
                if since is not None:
                    _kill_orphans(since)
                if shared and identity.dropped:
                    # only a uid of its own is the call's alone: as the grader's own uid,
                    # new /dev/shm entries may be another grading's (grade-all -j, Dask,
                    # pytest-xdist semaphores); there Landlock keeps the child out of them
                    _remove_leftovers(child_uid, before)
                _drain(read_fd, output, 0.5)  # what was written before the end
        finally:
            os.close(read_fd)
        status, usage, wall = waited.status, waited.usage, waited.wall
        text = output.text()
        if notes:
            text = "\n".join(notes) + "\n" + text
        cpu = usage.ru_utime + usage.ru_stime if usage else 0.0
        rss = max(usage.ru_maxrss / 1024 if usage else 0.0, waited.peak_kb / 1024)
        timing = {"output": text, "wall_seconds": wall, "cpu_seconds": cpu,
                  "peak_rss_mb": rss, "notes": tuple(notes),
                  "progress": _read_progress(out / "progress.json")}
        exited_cleanly = status is not None and os.WIFEXITED(status) and not os.WEXITSTATUS(status)
        if exited_cleanly and (out / "meta.json").exists():
            try:
                values, failure, cases = _load_results(out, limits.max_output_mb * _MB)
            except Exception as exc:  # noqa: BLE001 - the child wrote these files
                failure = Failure("protocol", f"the result could not be read back "
                                  f"({type(exc).__name__}: {str(exc)[:200]}); "
                                  "did your code write into the grader's files?")
                return ProbeRun({}, failure, **timing)
            return ProbeRun(values, failure, cases, **timing)
        failure = _failure_of_exit(status, usage, limits, wall, waited.memory_kill_kb)
        stuck = _stuck_importing(out) if failure.kind in ("timeout", "cpu") else ""
        stuck_in = _stuck_in(out) if failure.kind in ("timeout", "cpu") and not stuck else ""
        if stuck:
            failure = Failure("hung_import", f"importing {stuck}.py was stopped: "
                              f"{failure.message}", f"{stuck}.py", f"The code at the top "
                              f"level of {stuck}.py runs when the file is imported.")
        elif stuck_in:
            module, qualname = stuck_in.split(":")
            failure = Failure(failure.kind, f"{qualname}() {failure.message}",
                              f"{module.replace('.', '/')}.py", failure.detail)
        return ProbeRun({}, failure, stuck_importing=stuck, stuck_in=stuck_in, **timing)
    finally:
        shutil.rmtree(root, ignore_errors=True)
