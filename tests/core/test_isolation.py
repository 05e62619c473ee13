"""The sandbox identity: no internet sockets for any child; as root, an unprivileged user
that cannot write the results, read the grader's files, or signal the grader."""
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.core.sandbox import isolation
from grader.core.errors import SandboxError
from grader.core.rubric import spec as rubric
from grader.parts.part1_numpy.probing import PROBES
from grader.core.sandbox.runner import run_probe

ROOT = Path(__file__).resolve().parents[2]
LIMITS = rubric.load().limits


def _in_filtered_child(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], preexec_fn=isolation.block_network,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_internet_sockets_are_refused_and_unix_sockets_work():
    out = _in_filtered_child(textwrap.dedent("""
        import socket
        a, b = socket.socketpair(); a.send(b"x"); print("unix", b.recv(1))
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                socket.socket(family, socket.SOCK_DGRAM)
                print("opened", family)
            except PermissionError:
                print("refused", int(family))
    """))
    assert "unix b'x'" in out
    assert f"refused {int(socket.AF_INET)}" in out and f"refused {int(socket.AF_INET6)}" in out
    assert "opened" not in out


def test_netlink_sockets_work_and_packet_sockets_are_refused():
    """Netlink (the kernel's channel; getifaddrs() in CUDA and torch code uses it) stays
    allowed; a raw packet socket, like every other family, is refused."""
    out = _in_filtered_child(textwrap.dedent("""
        import socket
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); s.close(); print("netlink ok")
        for family in (socket.AF_PACKET, 40):  # 40: AF_VSOCK
            try:
                socket.socket(family, socket.SOCK_DGRAM)
                print("opened", family)
            except PermissionError:
                print("refused", family)
            except OSError as exc:
                print("other", family, exc.errno)
    """))
    assert "netlink ok" in out
    assert f"refused {int(socket.AF_PACKET)}" in out and "refused 40" in out, out


def test_the_filter_holds_in_grandchildren_and_cannot_be_lifted():
    out = _in_filtered_child(textwrap.dedent("""
        import ctypes, socket, subprocess, sys
        libc = ctypes.CDLL(None, use_errno=True)
        print("lift", libc.prctl(22, 0, 0, 0, 0))  # PR_SET_SECCOMP, SECCOMP_MODE_DISABLED
        code = "import socket\\ntry:\\n socket.socket(); print('open')\\nexcept OSError: print('refused')"
        print(subprocess.run([sys.executable, "-c", code], capture_output=True,
                             text=True).stdout.strip())
    """))
    assert "lift -1" in out and "refused" in out and "open" not in out.replace("opened", "")


def test_readable_by_follows_every_folder_on_the_path(tmp_path):
    import tempfile
    open_top = Path(tempfile.mkdtemp())  # in /tmp: every user may pass through
    try:
        os.chmod(open_top, 0o755)
        folder = open_top / "inner"
        folder.mkdir()
        data = folder / "data.npy"
        data.write_bytes(b"x")
        os.chmod(data, 0o644)
        assert isolation.readable_by(data, 65534, 65534)
        os.chmod(folder, 0o700)  # a locked folder on the way
        assert not isolation.readable_by(data, 65534, 65534)
        assert isolation.readable_by(data, os.getuid(), os.getgid())
        os.chmod(folder, 0o755)
        os.chmod(data, 0o600)  # the file itself private
        assert not isolation.readable_by(data, 65534, 65534)
        private = tmp_path / "x.npy"  # pytest's own temporary root is private
        private.write_bytes(b"x")
        os.chmod(private, 0o644)
        assert not isolation.readable_by(private, 65534, 65534)
    finally:
        import shutil
        shutil.rmtree(open_top)


def test_an_unknown_policy_is_a_grader_error(monkeypatch):
    monkeypatch.setenv("GRADER_ISOLATION", "maybe")
    with pytest.raises(SandboxError, match="auto, require or off"):
        isolation.resolve()


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop needs root")


@root_only
def test_require_fails_loudly_when_the_user_cannot_run_the_interpreter(monkeypatch, tmp_path):
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    fake = hidden / "python"
    fake.symlink_to(Path(sys.executable).resolve())
    monkeypatch.setenv("GRADER_SANDBOX_PYTHON", str(fake))
    for policy in ("require", "auto"):  # never a fallback to root
        monkeypatch.setenv("GRADER_ISOLATION", policy)
        with pytest.raises(SandboxError, match="cannot run student code as nobody.*"
                                               "Permission denied.*GRADER_SANDBOX_PYTHON"):
            isolation.resolve()


ATTACKS = '''
import os, socket

def attack(ctx):
    ctx.put("uid", os.getuid())
    ctx.put("euid", os.geteuid())
    for name, action in [
        ("write_results", lambda: open(ctx.params["results"] + "/results.json", "w")),
        ("read_secret", lambda: open(ctx.params["secret"]).read()),
        ("list_source", lambda: os.listdir(ctx.params["source"])),
        ("signal_grader", lambda: os.kill(ctx.params["grader_pid"], 0)),
        ("grader_environ", lambda: open(f"/proc/{ctx.params['grader_pid']}/environ").read()),
        ("inet_socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
        ("become_root", lambda: os.setuid(0)),
    ]:
        try:
            action()
            ctx.put(name, "allowed")
        except OSError as exc:
            ctx.put(name, type(exc).__name__)
    open("own_scratch.txt", "w").write("students may write their own scratch files")
    ctx.put("scratch", "ok")
'''


@root_only
def test_student_code_runs_unprivileged_and_reaches_nothing_of_the_grader(
        sandbox_python, monkeypatch, tmp_path):
    monkeypatch.setenv("GRADER_ISOLATION", "require")
    monkeypatch.setenv("GRADER_SANDBOX_PYTHON", sandbox_python)
    world = Path(sandbox_python).parents[2] / "autograder-sim"  # a world-traversable place
    results, source = world / "results", world / "source"
    for folder, mode in ((world, 0o755), (results, 0o755), (source, 0o700)):
        folder.mkdir(exist_ok=True)
        os.chmod(folder, mode)
    (source / "rubric.toml").write_text("seed = 1234\n")
    probe = tmp_path / "attack_probe.py"
    probe.write_text(ATTACKS)
    sub = tmp_path / "sub"
    sub.mkdir()
    run = run_probe(probe, "attack", submission=sub, limits=LIMITS, params={
        "results": str(results), "secret": str(source / "rubric.toml"),
        "source": str(source), "grader_pid": os.getpid()})
    assert run.failure is None, run.failure
    values = dict(run.values)
    assert values.pop("uid") == values.pop("euid") == 65534
    assert values.pop("scratch") == "ok"
    # Out of reach: with a private mount namespace the folders in /tmp and the grader's
    # /proc entry are not there at all (FileNotFoundError), else refused.
    hidden = "FileNotFoundError" if isolation.resolve().mounts else "PermissionError"
    assert values == {"write_results": hidden, "read_secret": hidden,
                      "list_source": hidden, "signal_grader": "PermissionError",
                      "grader_environ": hidden, "inet_socket": "PermissionError",
                      "become_root": "PermissionError"}
    assert not (results / "results.json").exists()


@root_only
def test_an_unreadable_data_file_is_a_grader_error_before_student_code_runs(
        sandbox_python, monkeypatch, tmp_path):
    monkeypatch.setenv("GRADER_ISOLATION", "require")
    monkeypatch.setenv("GRADER_SANDBOX_PYTHON", sandbox_python)
    data = tmp_path / "X_train.npy"
    data.write_bytes(b"")
    data.chmod(0o600)  # the grader's alone (e.g. a test split)
    with pytest.raises(SandboxError, match="not readable by the sandbox user"):
        run_probe(PROBES, "forward", submission=tmp_path, limits=LIMITS,
                  data_files={"X_train": str(data)})


FORKS = '''
import os, time

def forks(ctx):
    children = 0
    try:
        while children < 10000:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            children += 1
        ctx.put("stopped_by", "nothing")
    except OSError as exc:
        ctx.put("stopped_by", type(exc).__name__)
    ctx.put("children", children)
'''


@root_only
def test_as_nobody_the_process_limit_holds(sandbox_python, monkeypatch, tmp_path):
    """Root ignores RLIMIT_NPROC; the unprivileged child does not: a fork bomb stops."""
    monkeypatch.setenv("GRADER_ISOLATION", "require")
    monkeypatch.setenv("GRADER_SANDBOX_PYTHON", sandbox_python)
    # a uid no other test's children use: RLIMIT_NPROC counts every process of the user
    monkeypatch.setenv("GRADER_SANDBOX_USER", str(65040 + os.getpid() % 50))
    probe = tmp_path / "fork_probe.py"
    probe.write_text(FORKS)
    limits = LIMITS.replace(max_processes=16, wall_seconds=20)
    run = run_probe(probe, "forks", submission=tmp_path, limits=limits)
    assert run.failure is None, run.failure
    assert run.values["stopped_by"] == "BlockingIOError"
    assert run.values["children"] < 16


def test_a_grader_user_without_an_account_name_still_resolves(monkeypatch):
    """docker run --user 12345 gives a uid with no passwd entry: no crash, a plain name."""
    def no_entry(uid):
        raise KeyError(uid)
    monkeypatch.setattr(isolation.pwd, "getpwuid", no_entry)
    monkeypatch.setattr(isolation.os, "geteuid", lambda: 12345)
    identity = isolation._resolve("auto", sys.executable)
    assert not identity.dropped and identity.name == "the grader's user (uid 12345)"
