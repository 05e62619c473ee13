"""Who the sandbox child runs as, and what it may reach: an unprivileged user, no network.

When the grader runs as root (Gradescope starts it so), the child drops to an unprivileged
user before it runs anything: it cannot write the grader's results, read the grader's
source or hidden data (course staff lock those folders, see ci/run_autograder), signal the
grader, or read its environment. It also gets a network namespace of its own when the
kernel allows one (root outside a locked-down container). Every child, root or not, runs
under a seccomp filter that refuses internet sockets, so student code cannot send anything
anywhere; Unix sockets (numpy, torch and multiprocessing use them) and netlink sockets (the
kernel's own channel: getifaddrs(), which some CUDA and torch code paths call, uses it; it
reaches no other machine) stay allowed.

CUDA: the filter refuses sockets only, never open() or ioctl(), so the GPU stays usable: the
CUDA driver talks to the GPU through ioctl()s on /dev/nvidia*, /dev/nvidiactl and
/dev/nvidia-uvm, which the driver creates readable and writable by every user (mode 0666),
the unprivileged user included; its own network namespace does not affect them. Memory
limits: see grader/core/sandbox.py (RLIMIT_AS stays unlimited for torch's sake).
bench/gpu_check.sh checks all of this on a GPU machine.

Policy, from $GRADER_ISOLATION:
  auto     drop to the unprivileged user when root and the interpreter is usable by that
           user; otherwise run as the grader's user and say so in the report (default:
           a student's laptop, a developer's checkout under /root)
  require  as auto, but a grader error when the drop is impossible (Gradescope)
  off      no uid drop (debugging); the network filter still applies
The user is $GRADER_SANDBOX_USER (a name or a numeric uid; default nobody), and the child
runs $GRADER_SANDBOX_PYTHON (default: this interpreter), which that user must be able to
execute and import numpy with.
"""
from __future__ import annotations

import ctypes
import os
import platform
import pwd
import stat
import struct
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import SandboxError

DEFAULT_USER = "nobody"
FALLBACK_UID = 65534  # nobody on Debian and Ubuntu; any uid works, it needs no passwd entry

_CLONE_NEWNET = 0x40000000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_AF_UNIX = 1
_AF_NETLINK = 16
_EACCES = 13
# per architecture: (AUDIT_ARCH_*, socket, io_uring_setup) syscall numbers
_ARCHES = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}


@dataclass(frozen=True)
class Identity:
    """Who the child runs as. uid None: as the grader's own user (no drop)."""

    uid: int | None
    gid: int | None
    name: str  # for the report: "nobody (uid 65534)" or "the grader's user (root)"
    python: str  # interpreter the child runs
    reason: str = ""  # why no drop happened, when the grader is root and none did
    own_network: bool = False  # the child gets a network namespace of its own

    @property
    def dropped(self) -> bool:
        return self.uid is not None


def _policy() -> str:
    policy = os.environ.get("GRADER_ISOLATION", "auto").strip().lower()
    if policy not in ("auto", "require", "off"):
        raise SandboxError(f"GRADER_ISOLATION={policy!r}: expected auto, require or off")
    return policy


def _target_user() -> tuple[int, int, str]:
    """(uid, gid, name) of $GRADER_SANDBOX_USER, nobody by default."""
    wanted = os.environ.get("GRADER_SANDBOX_USER", DEFAULT_USER).strip()
    try:
        entry = pwd.getpwuid(int(wanted)) if wanted.isdigit() else pwd.getpwnam(wanted)
        return entry.pw_uid, entry.pw_gid, entry.pw_name
    except KeyError:
        if wanted.isdigit():
            return int(wanted), int(wanted), f"uid {wanted}"
        if wanted == DEFAULT_USER:
            return FALLBACK_UID, FALLBACK_UID, DEFAULT_USER
        raise SandboxError(f"GRADER_SANDBOX_USER={wanted!r} is not a user here") from None


def _seccomp_program() -> bytes | None:
    """A BPF program refusing (EACCES) sockets other than AF_UNIX and AF_NETLINK, io_uring
    (which can open sockets too) and every syscall of a foreign ABI; None on other
    architectures."""
    arch = _ARCHES.get(platform.machine())
    if arch is None:
        return None
    audit_arch, nr_socket, nr_io_uring = arch
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | _EACCES
    code = [
        (ld, 0, 0, 4),                    # 0: A = arch
        (jeq, 1, 0, audit_arch),          # 1: native ABI? skip the deny
        (ret, 0, 0, deny),                # 2: i386 / x32 entry points: refused
        (ld, 0, 0, 0),                    # 3: A = syscall number
        (jge, 7, 0, 0x40000000),          # 4: x32 numbering -> deny (12)
        (jeq, 6, 0, nr_io_uring),         # 5: io_uring_setup -> deny (12)
        (jeq, 0, 4, nr_socket),           # 6: socket -> 7, else allow (11)
        (ld, 0, 0, 16),                   # 7: A = low word of args[0], the family
        (jeq, 1, 0, _AF_UNIX),            # 8: AF_UNIX -> allow (10), else 9
        (jeq, 0, 2, _AF_NETLINK),         # 9: AF_NETLINK -> allow (10), else deny (12)
        (ret, 0, 0, allow),               # 10
        (ret, 0, 0, allow),               # 11
        (ret, 0, 0, deny),                # 12
    ]
    return b"".join(struct.pack("HBBI", *insn) for insn in code)


# Built in the parent: a forked child must not allocate before exec.
_PROGRAM = _seccomp_program()
_FILTER = ctypes.create_string_buffer(_PROGRAM) if _PROGRAM else None


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_FPROG = _Fprog(len(_PROGRAM) // 8, ctypes.addressof(_FILTER)) if _FILTER else None
_LIBC = ctypes.CDLL(None, use_errno=True)


def block_network() -> bool:
    """Installs the socket filter on this process (irrevocable; inherited by children).
    Returns False where seccomp is unavailable."""
    if _FPROG is None:
        return False
    if _LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return _LIBC.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(_FPROG), 0, 0) == 0


def enter(identity: Identity) -> None:
    """Run in the child before exec: own network namespace (best effort, root only), then
    the uid drop (raises if it fails: never run student code as root by accident), then
    the socket filter."""
    if identity.dropped:
        _LIBC.unshare(_CLONE_NEWNET)  # refused inside most containers: the filter suffices
        os.setgroups([])
        os.setgid(identity.gid)
        os.setuid(identity.uid)
        if os.getuid() != identity.uid or os.geteuid() != identity.uid:
            raise OSError("the sandbox child is still privileged")
    block_network()


def readable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether user uid/gid (no supplementary groups) can read path: every folder above
    it searchable, the file itself readable. Mode bits only (no ACLs)."""
    def allowed(st: os.stat_result, bits: tuple[int, int, int]) -> bool:
        if st.st_uid == uid:
            return bool(st.st_mode & bits[0])
        if st.st_gid == gid:
            return bool(st.st_mode & bits[1])
        return bool(st.st_mode & bits[2])

    path = Path(path).resolve()
    try:
        for folder in reversed(path.parents):
            if not allowed(os.stat(folder), (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)):
                return False
        return allowed(os.stat(path), (stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH))
    except OSError:
        return False


def _usable(identity: Identity) -> tuple[str, bool]:
    """('' when the user can start the interpreter and import numpy, else why not;
    whether the child had a network namespace of its own)."""
    code = "import os, numpy; print(os.readlink('/proc/self/ns/net'))"
    try:
        proc = subprocess.run([identity.python, "-I", "-c", code],
                              preexec_fn=lambda: enter(identity), cwd="/",
                              env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                              capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}", False
    if proc.returncode:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        return f"{identity.python} cannot run as {identity.name}: {tail[0][:200]}", False
    try:
        mine = os.readlink("/proc/self/ns/net")
    except OSError:
        return "", False
    return "", proc.stdout.decode(errors="replace").strip() != mine


_RESOLVED: dict[tuple, Identity] = {}


def resolve() -> Identity:
    """The identity for sandbox children of this process (checked once per setting)."""
    python = os.environ.get("GRADER_SANDBOX_PYTHON") or sys.executable
    key = (_policy(), os.environ.get("GRADER_SANDBOX_USER"), python, os.geteuid())
    if key not in _RESOLVED:
        _RESOLVED[key] = _resolve(key[0], python)
    return _RESOLVED[key]


def _user_name(uid: int) -> str:
    """The account name of uid, or 'uid N' when it has none (e.g. docker run --user N)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _resolve(policy: str, python: str) -> Identity:
    if os.geteuid() != 0:
        return Identity(None, None, f"the grader's user ({_user_name(os.geteuid())})", python)
    if policy == "off":
        return Identity(None, None, "root", python, "GRADER_ISOLATION=off")
    uid, gid, name = _target_user()
    candidate = Identity(uid, gid, f"{name} (uid {uid})", python)
    problem, own_network = _usable(candidate)
    if not problem:
        return replace(candidate, own_network=own_network)
    if policy == "require":
        raise SandboxError(f"cannot run student code as {candidate.name}: {problem}. "
                           "Install the grader's Python where every user can read it, or "
                           "set GRADER_SANDBOX_PYTHON.")
    return Identity(None, None, "root", python, problem)


def describe(identity: Identity) -> str:
    """One line for the report: who student code ran as, and its network."""
    net = "internet sockets refused" if _PROGRAM else "network not filtered on this platform"
    if identity.own_network:
        net = "own network namespace, " + net
    if identity.dropped:
        return f"separate process as {identity.name}; {net}"
    why = f" (no unprivileged user: {identity.reason})" if identity.reason else ""
    return f"separate process as {identity.name}{why}; {net}"
