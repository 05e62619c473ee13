"""Questions side by side: one grading split into lanes that run at once, merged into one
results.json as they go (`grade --jobs N`).

A sandboxed call of student code runs on one thread (grader/core/sandbox/runner.py sets
OMP_NUM_THREADS=1), so a grading that runs its questions one after another keeps one core
busy however many it is given. Here the questions are dealt into at most N lanes and each
lane is an ordinary grading of its questions (`python -m grader grade --questions ...`,
writing its run.json alone) in a grader process of its own: its own sandbox uid slot, its own template
process for torch calls, its own checks' budgets, timed where it runs, so a budget taken
from the reference's cost (a timed reference step, the machine's speed) is measured beside
the same other lanes as the student's call it bounds.

Questions that read a submission file in common share a lane (they are one part of the
assignment, and their fixtures and hints assume one another's files); the groups are dealt
most costly first, each to the lane with the least cost so far, from the reference's
recorded sandbox seconds (grader/reference_costs.json). The lanes' folders are private to
this grader; it reads each lane's run.json whenever it changes, keeps the checks in rubric
order and writes results.json after every check a lane finished, as a grading in one lane
does. A lane that dies leaves its checks pending and names itself in grader_error; a grader
killed midway leaves the last results.json it wrote, and its lanes die with it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..results import run_files
from ..results.records import PENDING
from ..rubric import budgets
from ..rubric.spec import Rubric
from ..sandbox.procs import die_with_parent, kill_tree
from .plugin import EXPIRY_MARGIN_S, ResultsPlugin

PACKAGE_PARENT = Path(__file__).resolve().parents[3]  # makes `python -m grader` importable
POLL_S = 0.2  # how often the lanes' records are looked at
QUESTION_COST_S = 0.5  # a question's own cost besides its recorded sandbox seconds
# what one more lane may add to a grading's peak memory, grader and sandbox (a torch lane
# peaks near 1.3 GB, a numpy lane's 3b retraining on CIFAR-10-sized data near 0.8 GB)
LANE_MEMORY_MB = 1100
LANE_COST_S = 5.0  # a group cheaper than this opens no lane of its own (a lane's start
                   # costs about a second and a half); it joins the lightest lane
# the merged run's own expiry comes after the lanes' (each writes its checks' out-of-time
# messages at the deadline + EXPIRY_MARGIN_S), and before the platform's limit
LANE_EXPIRY_MARGIN_S = EXPIRY_MARGIN_S + 2.0


def available_cores() -> int:
    """The cores this grading may use: the CPUs it may run on, fewer under a container's
    CPU quota (cgroup v2 cpu.max, or v1's cfs quota over period), at least 1."""
    cores = len(os.sched_getaffinity(0))
    for quota_file, period_file in (("/sys/fs/cgroup/cpu.max", None),
                                    ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                                     "/sys/fs/cgroup/cpu/cpu.cfs_period_us")):
        try:
            fields = Path(quota_file).read_text().split()
            quota = fields[0]
            period = fields[1] if period_file is None else Path(period_file).read_text().strip()
            if quota not in ("max", "-1"):
                cores = min(cores, max(1, int(int(quota) / int(period))))
                break
        except (OSError, ValueError, IndexError):
            continue
    return max(1, cores)


def memory_limit_mb() -> float | None:
    """The container's memory limit in MB (cgroup v2 memory.max, or v1's limit), None
    when there is none."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2 ** 60:  # v1 says "no limit" with a huge number
            return int(text) / 2 ** 20
        return None
    return None


def default_jobs() -> int:
    """How many lanes a grading opens when not told: one per core it may use, and no more
    than its container's memory holds at LANE_MEMORY_MB each."""
    limit = memory_limit_mb()
    by_memory = int(limit // LANE_MEMORY_MB) if limit is not None else available_cores()
    return max(1, min(available_cores(), by_memory))


def lane_plan(rubric: Rubric, questions: set[str] | None, jobs: int,
              costs: budgets.ReferenceCosts | None = None) -> tuple[tuple[str, ...], ...]:
    """The selected questions that have automatic checks, dealt into at most `jobs` lanes:
    questions that read a file in common stay together; groups are dealt most costly first
    (reference seconds of their checks, ties in rubric order) to the lane with the least
    cost so far, and there are no more lanes than groups costing LANE_COST_S or more. Each lane lists its questions in rubric order; lanes are ordered by their
    first question. Deterministic: the same rubric and costs give the same plan."""
    costs = costs if costs is not None else budgets.ReferenceCosts.load()
    chosen = [q for q in rubric.questions if q.checks and (questions is None or q.id in questions)]
    groups: list[list] = []  # questions joined by a file in common (connected components)
    for question in chosen:
        touching = [g for g in groups if any(set(question.files) & set(o.files) for o in g)]
        merged = [q for g in touching for q in g] + [question]
        groups = [g for g in groups if g not in touching] + [merged]
    position = {q.id: i for i, q in enumerate(rubric.questions)}

    def cost(group) -> float:
        return sum(QUESTION_COST_S + sum(costs.checks.get(c.id, 0.0) for c in q.checks)
                   for q in group)

    worth_a_lane = [g for g in groups if cost(g) >= LANE_COST_S]
    lanes: list[list] = [[] for _ in range(max(1, min(jobs, len(worth_a_lane))))]
    loads = [0.0] * len(lanes)
    for group in sorted(groups, key=lambda g: (-cost(g), min(position[q.id] for q in g))):
        lightest = loads.index(min(loads))
        lanes[lightest] += group
        loads[lightest] += cost(group)
    ordered = [tuple(sorted((q.id for q in lane), key=position.get)) for lane in lanes if lane]
    return tuple(sorted(ordered, key=lambda lane: position[lane[0]]))


def lanes_for(rubric: Rubric, questions: set[str] | None, jobs: int
              ) -> tuple[tuple[str, ...], ...]:
    """The lanes of a grading asked for `jobs` (0: default_jobs()); one lane (graded in
    the grader's own process) when jobs is 1, or when the grading was handed its sandbox
    user ($GRADER_SANDBOX_USER, as grade-all's workers are): lanes would share that uid,
    and two processes of student code under one uid could signal or read each other."""
    if jobs == 1 or os.environ.get("GRADER_SANDBOX_USER"):
        return ()
    return lane_plan(rubric, questions, jobs or default_jobs())


@dataclass
class Lane:
    """One lane under way: its questions, its private folder and its grader process."""

    questions: tuple[str, ...]
    folder: Path
    process: subprocess.Popen
    seen_ns: int = 0  # mtime of the run.json last read
    sandbox: str = ""  # who its student code runs as (its record's RunInfo.sandbox)

    def finished(self) -> bool:
        return self.process.poll() is not None


def _start(lane_questions: tuple[str, ...], folder: Path, submission: Path,
           data_dir: Path | None, rubric_path: Path | None, deadline: float | None) -> Lane:
    """Starts one lane's grading (quiet, writing run.json alone) in its own process group;
    it dies with this grader, and claims a sandbox uid slot of its own."""
    folder.mkdir(mode=0o700)
    cmd = [sys.executable, "-m", "grader", "grade", str(submission), "--out", str(folder),
           "--questions", ",".join(lane_questions), "--lane", "--quiet", "--jobs", "1"]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    if rubric_path is not None:
        cmd += ["--rubric", str(rubric_path)]
    if deadline is not None:
        cmd += ["--until", repr(deadline)]
    path = os.pathsep.join(p for p in (str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")) if p)
    env = {k: v for k, v in os.environ.items() if k != "GRADER_SANDBOX_USER"}
    env["PYTHONPATH"] = path
    with open(folder / "grade.log", "wb") as log:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env=env, cwd=os.getcwd(),
                                   start_new_session=True, preexec_fn=die_with_parent)
    return Lane(lane_questions, folder, process)


def _collect(lane: Lane, plugin: ResultsPlugin) -> None:
    """Takes the checks a lane has graded since its run.json was last read."""
    try:
        stamp = (lane.folder / run_files.RECORD).stat().st_mtime_ns
    except OSError:
        return
    if stamp == lane.seen_ns:
        return
    lane.seen_ns = stamp
    run = run_files.read_record(lane.folder)
    if run is None:
        return
    lane.sandbox = run.info.sandbox
    for result in run.results:
        if result.status != PENDING and result.check_id in plugin.results \
                and plugin.results[result.check_id] != result:
            plugin.settle(result)


def _name_sandboxes(plugin: ResultsPlugin, lanes: list[Lane]) -> None:
    """The run's sandbox line says who the lanes ran student code as (each claims a uid
    of its own), once their records say."""
    said = "; ".join(dict.fromkeys(lane.sandbox for lane in lanes if lane.sandbox))
    if said and said != plugin.info.sandbox:
        plugin.info = replace(plugin.info, sandbox=said)


def _lane_problem(lane: Lane) -> str:
    """Why a finished lane did not grade all its checks ('' when it did)."""
    run = run_files.read_record(lane.folder)
    code = lane.process.returncode
    if run is not None and run.complete and code in (0, None):
        return ""
    why = (run.grader_error if run is not None and run.grader_error else
           f"its grader stopped with exit code {code}" if code else "it stopped early")
    return f"questions {', '.join(lane.questions)}: {why}"


def grade_in_lanes(plugin: ResultsPlugin, lanes: tuple[tuple[str, ...], ...],
                   submission: Path, data_dir: Path | None, rubric_path: Path | None,
                   deadline: float | None,
                   say: Callable[[str], None] | None = None) -> None:
    """Grades the plan's lanes at once, merging their checks into `plugin` (whose results
    list every selected check, pending, in rubric order) as each is graded; returns when
    every lane has ended, with plugin.complete and plugin.grader_error set."""
    checks = [c.id for lane in lanes for q in lane for c in plugin.context.rubric.question(q).checks]
    position = {c.id: i for i, c in enumerate(plugin.context.rubric.checks)}
    plugin.expect(sorted(checks, key=position.get))
    plugin.write()
    if say is not None:
        say(f"grading {len(lanes)} lanes side by side: "
            + " | ".join(", ".join(lane) for lane in lanes))
    running: list[Lane] = []
    started: list[Lane] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="grader-lanes-") as scratch:
        try:
            for i, questions in enumerate(lanes):
                running.append(_start(questions, Path(scratch) / f"lane{i}", submission,
                                      data_dir, rubric_path, deadline))
            started = list(running)
            while running:
                time.sleep(POLL_S)
                _name_sandboxes(plugin, started)
                for lane in list(running):
                    ended = lane.finished()
                    _collect(lane, plugin)
                    if ended:
                        lane.seen_ns = 0
                        _collect(lane, plugin)  # what it wrote as it ended
                        problem = _lane_problem(lane)
                        if problem:
                            problems.append(problem)
                        running.remove(lane)
        finally:
            for lane in running:  # interrupted: no lane outlives the grading
                kill_tree(lane.process.pid)
                lane.process.wait()
    _name_sandboxes(plugin, started)
    plugin.grader_error = "; ".join(problems)
    plugin.complete = not problems and all(r.status != PENDING
                                           for r in plugin.results.values())
    plugin.write()

