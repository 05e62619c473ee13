"""What a sandbox child does to itself, as root, before it runs anything: its resource
limits, a network namespace of its own, the private mount namespace, the drop to the
unprivileged user, the socket filter and the request to die with its parent.

Standard library only, with no import from the grader package: the grader runs these
steps in the child it forks for a fresh interpreter (runner.py, before exec), and the
template process (template.py) loads this file by path and runs them in each child it
forks. What the steps do and why is isolation.py's docstring; `identity` and `call` are
isolation.Identity and isolation.CallPlan, or objects with the same attributes.
"""
from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import struct

_CLONE_NEWNET = 0x40000000
_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_AF_UNIX = 1
_AF_NETLINK = 16
_EACCES = 13
# per architecture: (AUDIT_ARCH_*, socket, io_uring_setup) syscall numbers
_ARCHES = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}


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
SOCKET_FILTER = _seccomp_program()
_FILTER = ctypes.create_string_buffer(SOCKET_FILTER) if SOCKET_FILTER else None


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_FPROG = _Fprog(len(SOCKET_FILTER) // 8, ctypes.addressof(_FILTER)) if _FILTER else None
_LIBC = ctypes.CDLL(None, use_errno=True)


def block_network() -> bool:
    """Installs the socket filter on this process (irrevocable; inherited by children).
    Returns False where seccomp is unavailable."""
    if _FPROG is None:
        return False
    if _LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return _LIBC.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(_FPROG), 0, 0) == 0


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           options: str | None = None) -> None:
    src = source.encode() if source else None
    ok = _LIBC.mount(src, target.encode(), fstype.encode() if fstype else None,
                     ctypes.c_ulong(flags), options.encode() if options else None)
    if ok != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {fstype or 'bind'} on {target}: {os.strerror(errno)}")


def _make_target(path: str, is_dir: bool) -> None:
    """Creates a mount point (and its parents, mode 0755) in this namespace."""
    os.makedirs(path if is_dir else os.path.dirname(path), mode=0o755, exist_ok=True)
    if not is_dir and not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o444))


def _private_mounts(identity, call) -> None:
    """In the forked child, as root: a private mount namespace set up as the module
    docstring says. Raises OSError when any step fails (the call then does not start)."""
    if _LIBC.unshare(_CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) refused")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    keeps = [*identity.keeps, *call.extra_keeps, call.root]
    fds = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in keeps}
    sources = [(os.open(src, os.O_PATH | os.O_CLOEXEC), dst) for src, dst in call.binds]
    for folder in identity.covers:
        _mount("tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
    for folder, size in (("/tmp", call.tmp_mb), ("/var/tmp", call.tmp_mb),
                         ("/dev/shm", call.shm_mb)):
        if os.path.isdir(folder):
            _mount("tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV,
                   f"mode=1777,size={max(1, size)}m,nr_inodes=4096")
    for path in keeps:  # deepest last: a kept folder inside another is bound after it
        _make_target(path, True)
        _mount(f"/proc/self/fd/{fds[path]}", path, None, _MS_BIND | _MS_REC)
    for folder in identity.hidden:
        if os.path.isdir(folder) and not any(_inside(k, folder) for k in keeps):
            _mount("tmpfs", folder, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                   "mode=0,size=4k,nr_inodes=2")
    for fd, dst in sources:
        _make_target(dst, False)
        _mount(f"/proc/self/fd/{fd}", dst, None, _MS_BIND)
        _mount(None, dst, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    for fd in [*fds.values(), *(fd for fd, _ in sources)]:
        os.close(fd)
    try:  # the child sees its own processes only (not the grader's command line)
        _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
               "hidepid=invisible")
    except OSError:
        pass  # refused in some containers; Landlock and the uid drop still hold


def enter(identity, call=None) -> None:
    """Run in the child before exec: own network namespace (best effort, root only), the
    private mount namespace (when identity.mounts; raises if it fails), then the uid drop
    (raises if it fails: never run student code as root by accident), then the socket
    filter."""
    if os.geteuid() == 0 and (identity.dropped or identity.mounts):
        _LIBC.unshare(_CLONE_NEWNET)  # refused inside most containers: the filter suffices
    if identity.mounts and call is not None:
        _private_mounts(identity, call)
    if identity.dropped:
        os.setgroups([])
        os.setgid(identity.gid)
        os.setuid(identity.uid)
        if os.getuid() != identity.uid or os.geteuid() != identity.uid:
            raise OSError("the sandbox child is still privileged")
    block_network()


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_SIGKILL = int(signal.SIGKILL)


def die_with_parent() -> None:
    """Asks the kernel to SIGKILL this process when the thread that started it ends
    (prctl PR_SET_PDEATHSIG). For a child's preexec_fn, after any change of user (which
    clears the request): a grader whose batch worker is killed, or a student child whose
    grader is, must not run on unattended."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before the request: do as it asks
        os.kill(os.getpid(), _SIGKILL)


def enter_sandbox(rlimits, identity, call=None) -> None:
    """Every step, in order: the resource limits (a list of (resource.RLIMIT_*, (soft,
    hard))), enter(identity, call), then die_with_parent() (after the change of user,
    which clears that request)."""
    for which, value in rlimits:
        resource.setrlimit(which, tuple(value))
    enter(identity, call)
    die_with_parent()
