"""grade-all on a Dask cluster (`--scheduler`): a worker killed mid-grade, Ctrl-C and resume,
and GPU workers taking the GPU questions of a submission graded in halves. The same
gradebook as `-j 2` is checked in test_batch.py (it reuses that module's graded batch)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.core.results import gradescope
from mutants import ROOT
from processes import wait_for
from rubric_copies import SHIPPED, with_setting
from test_batch import FULL, HANG, QUESTIONS, _copy_reference, gradebook


def _grade_all(subs: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "grader", "grade-all", str(subs), "--out", str(out),
           "--questions", QUESTIONS, *extra]
    # Ctrl-C as a terminal delivers it: a suite started in the background (`... &` in a
    # script) hands its children SIGINT ignored, and Python then keeps it ignored
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _graders_of(folder: Path) -> dict[int, int]:
    """pid -> parent pid of each running `python -m grader grade FOLDER` process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if b"grade" in argv and str(folder).encode() in argv:
            found[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return found


def _hanging(dest: Path) -> Path:
    sub = _copy_reference(dest)
    text = (sub / "two_layernet.py").read_text()
    (sub / "two_layernet.py").write_text(text.replace("import numpy as np\n", HANG, 1))
    return sub


def test_a_worker_killed_twice_costs_its_submission_one_retry_then_a_grader_error(tmp_path):
    subs = tmp_path / "subs"
    _copy_reference(subs / "ann")
    hang = _hanging(subs / "hal")
    proc = _grade_all(subs, tmp_path / "out", "--scheduler", "local:2", "--timeout", "200")
    try:
        for attempt in (1, 2):  # the first try, then the retry on a (restarted) worker
            graders = wait_for(lambda: _graders_of(hang), 90, f"hal's grader, try {attempt}")
            (pid, worker), = graders.items()
            os.kill(worker, signal.SIGKILL)  # the Dask worker process running the task
            wait_for(lambda: pid not in _graders_of(hang), 10, "the orphan grader to die")
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr[-3000:]
    rows = gradebook(tmp_path / "out")
    assert rows["ann"]["status"] == "ok" and float(rows["ann"]["total"]) == FULL
    assert rows["hal"]["status"] == "grader error"
    assert "worker grading it died 2 times" in rows["hal"]["note"]
    results = json.loads((tmp_path / "out" / "hal" / "results.json").read_text())
    assert gradescope.validate(results) == [] and not results["extra_data"]["complete"]
    assert "died 2 times" in results["output"]
    assert _graders_of(hang) == {}


def test_ctrl_c_keeps_what_was_graded_and_a_rerun_resumes(tmp_path):
    subs = tmp_path / "subs"
    for name in ("ann", "ben"):
        _copy_reference(subs / name)
    hang = _hanging(subs / "zed")  # still grading when Ctrl-C comes
    out = tmp_path / "out"
    proc = _grade_all(subs, out, "--scheduler", "local:2", "--timeout", "200")
    try:
        wait_for(lambda: all((out / s / "results.json").is_file() for s in ("ann", "ben"))
                  and _graders_of(hang), 120, "ann and ben graded while zed runs")
        time.sleep(1.0)  # their rows reach the client
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr[-3000:]
    assert "run the same command again to resume" in stderr
    wait_for(lambda: not _graders_of(hang), 20, "zed's grader to be stopped")

    # zed mends the file; the rerun grades zed only
    (hang / "two_layernet.py").write_text((ROOT / "reference" / "two_layernet.py").read_text())
    rerun = _grade_all(subs, out, "--scheduler", "local:2")
    stdout, stderr = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, stderr[-3000:]
    assert "resuming: 2 of 3 submissions already graded" in stderr
    rows = gradebook(out)
    assert {s: (r["status"], float(r["total"])) for s, r in rows.items()} == {
        s: ("ok", FULL) for s in ("ann", "ben", "zed")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_scheduler_without_the_grader_stops_the_batch_before_any_grading(tmp_path):
    """The scheduler unpickles every task: one that cannot import the grader (here a
    preload hides it) is found on connecting, exit code 2 and what to install where."""
    blocker = tmp_path / "no_grader.py"
    blocker.write_text("import sys\nsys.modules['grader'] = None  # import grader fails\n")
    port = _free_port()
    dask = Path(sys.executable).with_name("dask")
    scheduler = subprocess.Popen(
        [str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
         "--preload", str(blocker)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, cwd=tmp_path)
    try:
        wait_for(lambda: _port_open(port), 60, "the scheduler to listen")
        subs = tmp_path / "subs"
        _copy_reference(subs / "ann")
        proc = _grade_all(subs, tmp_path / "out", "--scheduler", f"tcp://127.0.0.1:{port}")
        _, stderr = proc.communicate(timeout=120)
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=30)
    assert proc.returncode == 2, stderr[-3000:]
    assert "the scheduler cannot import the grader" in stderr and "install" in stderr
    assert not (tmp_path / "out" / "ann").exists()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_gpu_workers_take_the_gpu_questions_and_the_halves_merge(tmp_path):
    """The README's commands: a scheduler, a worker with resource GPU=1 and one without.
    With a rubric copy marking 1a as a GPU question (device = "auto"), each submission is
    graded in a CPU half (1b) and a GPU half (1a, on the GPU worker), merged into one
    results.json in rubric order."""
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(with_setting(SHIPPED.read_text(), "1a", "[[question.check]]",
                                   'device = "auto"\n\n[[question.check]]'))
    subs = tmp_path / "subs"
    _copy_reference(subs / "ann")
    address = f"tcp://127.0.0.1:{_free_port()}"
    logs = tmp_path / "logs"
    logs.mkdir()
    dask = Path(sys.executable).with_name("dask")
    started = []
    try:
        started.append(subprocess.Popen(
            [str(dask), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
             "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=open(logs / "s", "w")))
        for name, extra in (("gpu0", ["--resources", "GPU=1"]), ("cpu0", [])):
            started.append(subprocess.Popen(
                [str(dask), "worker", address, "--nthreads", "1", "--name", name,
                 "--no-dashboard", *extra], stdout=subprocess.DEVNULL,
                stderr=open(logs / name, "w"), cwd=tmp_path))
        # grade-all looks for GPU workers once, when it starts (the README: workers first)
        wait_for(lambda: all("Registered to" in (logs / name).read_text()
                              for name in ("gpu0", "cpu0")), 60, "both workers to register")
        proc = _grade_all(subs, tmp_path / "out", "--scheduler", address, "--rubric",
                          str(rubric))
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=30)
    assert proc.returncode == 0, stderr[-3000:]
    assert "1 workers with resource GPU take the GPU questions (1a)" in stderr
    student = tmp_path / "out" / "ann"
    results = json.loads((student / "results.json").read_text())
    assert gradescope.validate(results) == []
    assert [t["number"] for t in results["tests"]] == ["1a.1", "1a.2", "1b.1", "1b.2"]
    assert results["score"] == FULL and results["extra_data"]["complete"]
    log = (student / "grade.log").read_text()
    cpu_half, gpu_half = log.split("==== gpu-half")
    assert "questions 1b" in cpu_half and "graded on Dask worker" in cpu_half  # any worker
    assert "questions 1a" in gpu_half and "Dask worker gpu0" in gpu_half  # the GPU one only
    assert sorted(p.name for p in student.iterdir()) == ["grade.log", "report.html",
                                                         "results.json"]


def test_a_lost_gpu_half_leaves_the_cpu_half_graded_and_one_valid_results_json(tmp_path):
    """No cluster: the halves as batch_merge plans them, the CPU half graded, the GPU half's
    worker lost (its stand-in), merged: 1b's points kept, 1a pending, one grader error."""
    from grader.core.batch import jobs as batch
    from grader.core.submission import uploads as batch_inputs
    from grader.core.batch import merge as batch_merge
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(with_setting(SHIPPED.read_text(), "1a", "[[question.check]]",
                                   'device = "auto"\n\n[[question.check]]'))
    sub = batch_inputs.Submission("amy", ROOT / "reference", ROOT / "reference")
    job = batch.Job(sub, tmp_path / "amy", ("1a", "1b"), None, rubric_path=rubric)
    assert batch_merge.plan(job, gpu_workers=False) == ((job, False),)
    (cpu, on_gpu_cpu), (gpu, on_gpu_gpu) = batch_merge.plan(job, gpu_workers=True)
    assert (cpu.questions, on_gpu_cpu, gpu.questions, on_gpu_gpu) == (("1b",), False,
                                                                      ("1a",), True)
    rows = [batch.grade_one(cpu), batch.stopped_row(gpu, batch.GRADER_ERROR,
                                                    "the Dask worker grading it died", 0.0)]
    assert rows[0].status == batch.OK
    row = batch_merge.merge(job, (cpu, gpu), rows)
    assert row.status == batch.GRADER_ERROR and "worker grading it died" in row.note
    assert row.scores == {"1b.1": 2.0, "1b.2": 2.0}
    results = json.loads((tmp_path / "amy" / "results.json").read_text())
    assert gradescope.validate(results) == []
    assert [(t["number"], t["extra_data"]["outcome"]) for t in results["tests"]] == [
        ("1a.1", "pending"), ("1a.2", "pending"), ("1b.1", "passed"), ("1b.2", "passed")]
    assert "worker grading it died" in results["output"]
    assert not (tmp_path / "amy" / "cpu-half").exists()


@pytest.mark.parametrize("case", ["other grader", "folder not shared"])
def test_a_worker_that_cannot_grade_like_the_batch_refuses_and_says_why(tmp_path, case):
    """A worker with another grader or rubric version, or one that does not see the
    submission, grades nothing: the row says why (the batch writes the stand-in)."""
    from grader import __version__
    from grader.core.batch import jobs as batch
    from grader.core.batch import dask_pool as batch_dask
    from grader.core.submission import uploads as batch_inputs
    folder = ROOT / "reference" if case == "other grader" else tmp_path / "elsewhere"
    job = batch.Job(batch_inputs.Submission("amy", folder, folder), tmp_path / "amy",
                    ("1a",), None)
    versions = ("0.0.1", job.rubric.version) if case == "other grader" else (
        __version__, job.rubric.version)
    row = batch_dask.grade_on_worker(job, "unused", versions)
    assert row.status == batch.GRADER_ERROR and row.scores == {}
    expected = ("install the same grader on every worker" if case == "other grader" else
                "filesystem every worker mounts at the same path")
    assert expected in row.note
    assert not (tmp_path / "amy").exists()  # nothing graded, nothing written

    class Finished:  # the future the batch gets back
        def result(self):
            return row

    assert batch_dask.DaskPool._row(Finished(), job) == row
    results = json.loads((tmp_path / "amy" / "results.json").read_text())
    assert gradescope.validate(results) == []
    # students read the first clause of the reason; staff the whole of it, with the fix
    assert "the grader itself failed" in results["output"]
    assert expected in results["extra_data"]["grader_error"]
