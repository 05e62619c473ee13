"""Instructor batch grading: every submission of a folder, each in its own grader process.

run_batch finds the submissions (submission/uploads.py), skips those already graded
(resume), grades the others N at once (jobs.grade_in_slot, in a thread pool here or on a
Dask cluster, dask_pool.py) and returns one BatchRow per student (flagged when it hands in
the starter code unchanged); gradebook.py turns the rows into gradebook.csv and
summary.html.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..rubric import spec as rubric
from ..submission.uploads import Submission, discover, holds, safe_name
from ..errors import BatchError, GraderError

from . import similarity
from .jobs import (ABORT, DEFAULT_TIMEOUT_S, OK, BatchRow, Job, duration, grade_in_slot,
                   previous_row, rubric_at, selected_checks)


@dataclass
class Progress:
    """The counter and ETA of a running batch."""

    total: int  # submissions in the batch
    done: int  # finished so far (skipped ones included)
    workers: int  # graders running at once
    max_score: float  # points available per submission
    spent: list = field(default_factory=list)  # seconds of each submission graded this run

    def line(self, row: BatchRow) -> str:
        """`[3/40] alice 23/25 (41 s, eta 12 min)`: one finished submission."""
        self.done += 1
        self.spent.append(row.seconds)
        left = self.total - self.done
        eta = left * (sum(self.spent) / len(self.spent)) / max(1, min(self.workers, left))
        status = "" if row.status == OK else f" {row.status}"
        when = f"eta {duration(eta)}" if left else "done"
        return (f"[{self.done}/{self.total}] {row.student} {row.score:.4g}/{self.max_score:.4g}"
                f"{status} ({duration(row.seconds)}, {when})")


def find_submissions(root: Path, out: Path, rubric_path: Path | None = None
                     ) -> list[Submission]:
    """The submissions under root (zips extracted into out/work); raises BatchError when
    there is none."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    rub = rubric_at(rubric_path)
    subs = discover(root, out / "work", exclude=(out,), markers=rub.submission_files)
    if not subs:
        raise BatchError(f"no submissions in {root}: expected one sub-folder or .zip per "
                         "submission, or Gradescope's export (submission_metadata.yml)")
    return subs


def find_archive(folders: Sequence[Path], out: Path, rubric_path: Path | None = None
                 ) -> list[Submission]:
    """Solutions compared with the batch for similarity only, never graded: each folder is
    one solution when it holds a file the rubric names (the course's reference/), else a
    folder of them like a batch (last year's submissions, solutions found online). Named
    FOLDER or FOLDER/ENTRY; zips extracted into out/work/archive-K. Raises BatchError when
    a folder holds none."""
    rub = rubric_at(rubric_path)
    found: list[Submission] = []
    for k, folder in enumerate(folders, start=1):
        folder = Path(folder).resolve()
        label = safe_name(folder.name)
        if folder.is_dir() and holds(folder, rub.submission_files):
            found.append(Submission(label, folder, folder))
            continue
        entries = discover(folder, out.resolve() / "work" / f"archive-{k}",
                                        markers=rub.submission_files)
        if not entries:
            raise BatchError(f"--compare-with {folder}: no solutions in it (expected the "
                             f"rubric's files, e.g. {rub.submission_files[0]}, or one "
                             "sub-folder or .zip per solution)")
        found.extend(replace(e, student=f"{label}/{e.student}") for e in entries)
    return found


def run_batch(subs: Sequence[Submission], out: Path, jobs: int = 1,
              questions: tuple[str, ...] | None = None, data_dir: Path | None = None,
              timeout_s: float = DEFAULT_TIMEOUT_S, force: bool = False,
              log: Callable[[str], None] = lambda s: None, scheduler: str | None = None,
              rubric_path: Path | None = None) -> list[BatchRow]:
    """Grades the submissions (find_submissions) into out; returns the rows sorted by
    student, those handing in the starter code unchanged flagged (_flag_untouched).

    The graders run `jobs` at once on this machine, or, given a Dask scheduler's address
    (or "local:N"), on that cluster's workers (dask_pool.py), with the rubric at rubric_path
    (default: the shipped one). Submissions whose out/<student>/results.json is complete
    for these questions are skipped unless force. Raises BatchError when the cluster cannot
    be reached.
    """
    out = out.resolve()
    rubric_path = rubric_path.resolve() if rubric_path else None
    rub = rubric_at(rubric_path)
    all_jobs = [Job(s, out / s.student, questions, data_dir.resolve() if data_dir else None,
                    timeout_s, rubric_path=rubric_path) for s in subs]
    rows: dict[str, BatchRow] = {}
    todo = []
    for job in all_jobs:
        row = None if force else previous_row(job)
        if row is None:
            todo.append(job)
        else:
            rows[row.student] = row
    if rows:
        log(f"resuming: {len(rows)} of {len(all_jobs)} submissions already graded, skipped "
            "(--force regrades them)")
    if scheduler is None and jobs > (os.cpu_count() or 1):
        log(f"note: -j {jobs} is more than this machine's {os.cpu_count()} cores; graders "
            "will share cores (slower, and timed checks get noisier)")
    if todo and rub.needs_data(questions):
        _prepare_data(rub, data_dir, questions, log)
    max_score = sum(c.points for c in selected_checks(questions, rub))
    if scheduler is None:
        pool = LocalPool(max(1, jobs))
    else:
        from .dask_pool import DaskPool
        pool = DaskPool(scheduler, log)
    with pool:
        progress = Progress(len(all_jobs), len(rows), pool.workers, max_score)
        for row in pool.rows(todo):
            rows[row.student] = row
            log(progress.line(row))
    untouched = similarity.untouched_templates(subs, similarity.graded_files(questions, rub))
    return [_flag_untouched(rows[k], untouched.get(k, ())) for k in sorted(rows)]


def _flag_untouched(row: BatchRow, held: Sequence[str]) -> BatchRow:
    """The row, flagged (with a note) when the graded files it holds are the starter code
    unchanged (similarity.untouched_templates); scores and status stay as graded."""
    if not held:
        return row
    note = (f"untouched template: {', '.join(held)} {'is' if len(held) == 1 else 'are'} "
            "the starter code (student_template/) unchanged, comments and whitespace aside")
    return replace(row, untouched_template=True, note="; ".join(filter(None, (row.note, note))))


class LocalPool:
    """`-j N`: N graders at once on this machine, in a thread pool."""

    def __init__(self, workers: int):
        self.workers = workers  # graders running at once

    def __enter__(self) -> "LocalPool":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def rows(self, todo: Sequence[Job]) -> Iterator[BatchRow]:
        """Grades the jobs; yields each row as its submission finishes. On Ctrl-C (or when
        the caller stops early) running graders are killed and queued ones never start."""
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="grade")
        try:
            futures = [pool.submit(grade_in_slot, job) for job in todo]
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            ABORT.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            ABORT.clear()


def _prepare_data(rub: rubric.Rubric, data_dir: Path | None,
                  questions: tuple[str, ...] | None, log: Callable[[str], None]) -> None:
    """Prepares each dataset the rubric trains on once, before the graders start (they
    share the cache)."""
    from ...data import prepare
    for name in rub.datasets_needed(questions):
        log(f"preparing the {name} data once for every grader ...")
        try:
            prepare.load(data_dir, dict(rub.datasets), name)
        except GraderError as exc:
            log(f"dataset {name} unavailable ({exc}); each grader will report it")
