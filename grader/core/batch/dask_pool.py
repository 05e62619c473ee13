"""`grade-all --scheduler`: the submissions' gradings on the workers of a Dask cluster.

Each submission is one Dask task running batch.grade_in_slot(job) on a worker: the same
pure function over paths as `-j N`, so OUT and the submissions must lie on a filesystem
every worker sees at the same paths. The worker's grader runs student code under the
sandbox and user rules of a local grade (a machine-wide uid slot when it runs as root), and
its own timeout.

What the cluster adds, and how it is handled:
- A worker that dies (killed, out of memory, its machine lost) costs the submission it was
  grading one retry on another worker: the scheduler's allowed_failures is set to 1 for
  the batch. A second death makes it a "grader error" row with a stand-in results.json;
  rows already graded are on disk and in the gradebook, untouched.
- Ctrl-C sets a Dask Event the running tasks poll: they kill their graders and end;
  queued tasks are cancelled. A rerun resumes like a local one.
- A worker whose grader or rubric version differs from this one's, or which does not see
  the submission's folder, grades nothing and says so in the row's note.
- GPU questions: a rubric that names a worker resource (`[batch] gpu_resource`) sends the
  questions whose torch code may use a GPU (device = "auto") to the workers started with
  that resource (`dask worker ... --resources GPU=1`), and the other questions to any
  worker, when the cluster has such workers; the two halves are merged into one
  results.json (batch_merge).
"""
from __future__ import annotations

import logging
import time
import uuid
from contextlib import suppress
from typing import Callable, Iterator, Sequence

from ... import __version__
from . import merge as batch_merge
from .jobs import (GRADER_ERROR, BatchRow, Job, StopCheck, grade_in_slot, stopped_row,
                    write_stand_in)
from ..errors import BatchError

ALLOWED_FAILURES = 1  # worker deaths a task survives: one retry, then a grader error
STOP_POLL_S = 2.0  # how often a running task asks whether the batch was interrupted
CONNECT_TIMEOUT_S = 30.0  # reaching the scheduler, and waiting for its first worker


def parse_scheduler(text: str) -> tuple[str, int]:
    """("local", N) for "local:N", else ("address", 0) (raises BatchError on a bad N)."""
    if text.startswith("local:"):
        try:
            workers = int(text.split(":", 1)[1])
        except ValueError:
            workers = 0
        if workers < 1:
            raise BatchError(f"--scheduler {text}: expected local:N with N a positive number "
                             "of workers, e.g. local:4")
        return "local", workers
    return "address", 0


def _stop_event(name: str) -> StopCheck:
    """A should_stop for a task: whether the batch's Dask Event is set, asked at most every
    STOP_POLL_S seconds (a scheduler that cannot be asked means: go on)."""
    from distributed import Event
    event = Event(name)
    last = [0.0, False]

    def should_stop() -> bool:
        now = time.monotonic()
        if not last[1] and now - last[0] >= STOP_POLL_S:
            last[0] = now
            try:
                last[1] = bool(event.is_set())
            except Exception:  # noqa: BLE001 - the worker is being shut down anyway
                last[1] = False
        return last[1]

    return should_stop


def grade_on_worker(job: Job, stop_name: str, versions: tuple[str, str]) -> BatchRow:
    """The task a worker runs: grade_in_slot(job), after checking that this worker grades
    with the same grader and rubric as the batch and sees the submission's folder."""
    sub = job.submission
    mine = (__version__, job.rubric.version)
    refusal = ""
    if mine != versions:
        refusal = (f"the Dask worker runs grader {mine[0]} with rubric {mine[1]}, the batch "
                   f"grader {versions[0]} with rubric {versions[1]}: install the same grader "
                   "on every worker")
    elif not sub.path.is_dir():
        refusal = (f"the Dask worker does not see {sub.path}: the submissions and --out must "
                   "be on a filesystem every worker mounts at the same path")
    if refusal:  # the batch writes the stand-in results.json (it sees --out)
        return BatchRow(sub.student, sub.name, sub.email, GRADER_ERROR, {}, 0.0, False,
                        "; ".join(filter(None, (sub.note, refusal))))
    row = grade_in_slot(job, _stop_event(stop_name))
    with suppress(OSError, ValueError):  # which worker graded it, for staff reading the log
        from distributed import get_worker
        worker = get_worker()
        with open(job.out_dir / "grade.log", "a") as log:
            log.write(f"graded on Dask worker {worker.name} at {worker.address}\n")
    return row


def _scheduler_settings(allowed_failures: int) -> Callable:
    """The function run on the scheduler: one retry after a worker death; a task handed to
    a worker only when one of its threads is free (a task queued on a worker would count a
    death it never saw). Nested, so it travels by value (the scheduler imports the grader
    only to read the tasks: _grader_on_scheduler checks that first)."""
    def configure(dask_scheduler) -> None:
        dask_scheduler.allowed_failures = allowed_failures
        dask_scheduler.WORKER_SATURATION = 1.0
    return configure


def _grader_on_scheduler() -> Callable:
    """The function run on the scheduler that returns the grader version it imports, or
    "!" and why it cannot. The scheduler unpickles every task (a Job, grade_on_worker), so
    without the grader installed each task would fail with Dask's "Error during
    deserialization of the task graph". Nested, so it travels by value."""
    def probe() -> str:
        try:
            import grader
            return str(grader.__version__)
        except Exception as exc:  # noqa: BLE001 - reported to staff, not raised there
            return f"!{type(exc).__name__}: {exc}"
    return probe


class DaskPool:
    """The submissions' gradings on a Dask cluster: a scheduler's address, or "local:N" for
    a LocalCluster of N single-thread worker processes on this machine."""

    def __init__(self, scheduler: str, log: Callable[[str], None]):
        self.kind, self.local_workers = parse_scheduler(scheduler)
        self.address = scheduler
        self.log = log
        self.cluster = None
        self.client = None
        self.workers = 1  # worker threads: submissions graded at once

    def __enter__(self) -> "DaskPool":
        from distributed import Client, LocalCluster
        try:
            if self.kind == "local":
                self.cluster = LocalCluster(n_workers=self.local_workers, threads_per_worker=1,
                                            processes=True, dashboard_address=None,
                                            silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
            else:
                self.client = Client(self.address, timeout=CONNECT_TIMEOUT_S)
            there = self.client.run_on_scheduler(_grader_on_scheduler())
            if there != __version__:
                self.__exit__(None, None, None)
                raise BatchError(
                    f"--scheduler {self.address}: the scheduler "
                    + (f"cannot import the grader ({there[1:]})" if there.startswith("!")
                       else f"runs grader {there}, this batch grader {__version__}")
                    + ": it reads every task, so install this grader where it runs (pip "
                    "install, as on the workers) and restart it (README, 'Grading on a "
                    "Dask cluster')")
            self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            self.client.run_on_scheduler(_scheduler_settings(ALLOWED_FAILURES))
        except (OSError, TimeoutError) as exc:
            self.__exit__(None, None, None)
            raise BatchError(f"--scheduler {self.address}: no Dask cluster with a worker "
                             f"answered ({type(exc).__name__}: {exc}); start one (README, "
                             "'Grading on a Dask cluster') or use -j N") from exc
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        self.workers = max(1, sum(w.get("nthreads", 1) for w in workers.values()))
        where = (f"a local Dask cluster of {self.local_workers} worker processes"
                 if self.kind == "local" else f"the Dask scheduler at {self.address}")
        self.log(f"grading on {where}: {len(workers)} workers, {self.workers} submissions "
                 "at once")
        return self

    def __exit__(self, *exc: object) -> None:
        for closable in (self.client, self.cluster):
            if closable is not None:
                with suppress(Exception):  # closing never hides the batch's outcome
                    closable.close()

    def gpu_resource(self, todo: Sequence[Job]) -> str:
        """The rubric's GPU worker resource when some worker of the cluster has it, else
        "" (every question goes to any worker)."""
        name = todo[0].rubric.gpu_resource if todo else ""
        if not name:
            return ""
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        count = sum(1 for w in workers if w.get("resources", {}).get(name, 0) > 0)
        self.log(f"{count} workers with resource {name} take the GPU questions "
                 f"({', '.join(todo[0].rubric.gpu_questions(todo[0].questions))})" if count else
                 f"no worker has resource {name}: every question goes to any worker")
        return name if count else ""

    def rows(self, todo: Sequence[Job]) -> Iterator[BatchRow]:
        """Submits every job (split in halves when GPU workers take the GPU questions);
        yields each submission's row as it finishes."""
        from distributed import Event, as_completed
        batch_id = uuid.uuid4().hex[:12]
        stop = Event(f"grade-all-stop-{batch_id}", client=self.client)
        versions = (__version__, todo[0].rubric.version if todo else "")
        gpu = self.gpu_resource(todo)
        futures = {}  # future -> (the student's whole job, the job it runs)
        halves: dict[str, list] = {}  # student -> [half jobs, rows so far] of a split job
        for job in todo:
            parts = batch_merge.plan(job, bool(gpu))
            if len(parts) > 1:
                halves[job.submission.student] = [[part for part, _ in parts], {}]
            for part, on_gpu in parts:
                half = f"-{part.out_dir.name}" if part is not job else ""
                future = self.client.submit(
                    grade_on_worker, part, stop.name, versions, pure=False,
                    key=f"grade-{job.submission.student}{half}-{batch_id}",
                    resources={gpu: 1} if on_gpu else None)
                futures[future] = (job, part)
        try:
            for future in as_completed(futures):
                job, part = futures[future]
                row = self._row(future, part)
                if part is job:
                    yield row
                    continue
                jobs, done = halves[job.submission.student]
                done[part.out_dir.name] = row
                if len(done) == len(jobs):
                    yield batch_merge.merge(job, jobs, [done[h.out_dir.name] for h in jobs])
        except BaseException:
            stop.set()  # running tasks kill their graders; queued ones are cancelled
            self.client.cancel(list(futures))
            raise

    @staticmethod
    def _row(future, job: Job) -> BatchRow:
        """A finished task's row; a task that failed or lost its worker twice gets a
        grader-error row with a stand-in results.json."""
        from distributed.scheduler import KilledWorker
        try:
            row = future.result()
            if not (job.out_dir / "results.json").is_file():  # the worker refused the job
                job.out_dir.mkdir(parents=True, exist_ok=True)
                write_stand_in(job, row.note, row.seconds)
            return row
        except KilledWorker:
            return stopped_row(job, GRADER_ERROR,
                               f"the Dask worker grading it died {ALLOWED_FAILURES + 1} times "
                               "(its first try and the retry); see the workers' logs", 0.0)
        except Exception as exc:  # noqa: BLE001 - one submission never stops the batch
            hint = ("; install the grader on every worker (README, 'Grading on a Dask "
                    "cluster')" if isinstance(exc, ImportError) else "")
            return stopped_row(job, GRADER_ERROR,
                               f"the Dask task failed: {type(exc).__name__}: {exc}{hint}", 0.0)
