"""One submission graded in two halves (GPU questions on a GPU worker, the others on any
worker), merged back into the one results.json, report.html and grade.log a whole grading
leaves.

Each half is an ordinary grading of a subset of the questions into OUT/<student>/<half>/,
with run.json kept (Job.record); the merge reads both records, puts the checks back in
rubric order, writes the student's files and removes the halves' folders.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from typing import Sequence

from ..results import gradescope
from ..results import run_files
from .jobs import (GRADER_ERROR, INCOMPLETE, OK, TIMED_OUT, BatchRow, Job, selected_checks,
                    write_stand_in)
from ..results.records import GradingRun, RunInfo

HALVES = ("cpu-half", "gpu-half")  # folders under OUT/<student>/ while a split grading runs
_WORST_FIRST = (GRADER_ERROR, TIMED_OUT, INCOMPLETE, OK)


def plan(job: Job, gpu_workers: bool) -> tuple[tuple[Job, bool], ...]:
    """How a job runs on a cluster: (job, whether it needs a GPU worker) pairs. With GPU
    workers and a rubric that names their resource, a job whose checks are all GPU
    questions goes to a GPU worker whole; one with both kinds is split into a CPU half
    (every other selected question) and a GPU half, each keeping its run.json."""
    rub = job.rubric
    selected = job.questions or tuple(q.id for q in rub.questions)
    gpu = rub.gpu_questions(selected)
    if not (gpu_workers and rub.gpu_resource and gpu):
        return ((job, False),)
    cpu = tuple(q for q in selected if q not in gpu)
    if not any(rub.question(q).checks for q in cpu):
        return ((job, True),)
    return tuple((replace(job, questions=qs, out_dir=job.out_dir / half, record=True), on_gpu)
                 for qs, half, on_gpu in ((cpu, HALVES[0], False), (gpu, HALVES[1], True)))


def _info(infos: Sequence[RunInfo], questions: Sequence[tuple[str, ...]]) -> RunInfo:
    """The halves' run information as one: the devices say which questions ran where."""
    first = infos[0]
    devices = [f"{info.device} for {', '.join(qs)}" for info, qs in zip(infos, questions)]
    kinds = [i.dataset_kind for i in infos if i.dataset_kind != "not used"]
    notes = [i.dataset_note for i in infos if i.dataset_kind != "not used"]
    return replace(first, device="; ".join(devices),
                   dataset_kind="; ".join(dict.fromkeys(kinds)) or first.dataset_kind,
                   dataset_note=" ".join(dict.fromkeys(notes)) or first.dataset_note,
                   device_details={k: v for i in infos for k, v in i.device_details.items()})


def merge(job: Job, halves: Sequence[Job], rows: Sequence[BatchRow]) -> BatchRow:
    """Writes the student's results.json, report.html and grade.log from the halves' and
    returns the student's row; the halves' folders are removed."""
    rub = job.rubric
    runs = [run_files.read_record(h.out_dir) for h in halves]
    status = min((r.status for r in rows), key=_WORST_FIRST.index)
    note = "; ".join(dict.fromkeys(p for r in rows for p in r.note.split("; ") if p))
    if any(run is None for run in runs):  # a half left no record: say so, grade nothing
        missing = [h.out_dir.name for h, run in zip(halves, runs) if run is None]
        status, note = GRADER_ERROR, "; ".join(filter(None, (note, f"no record of the "
                                                                   f"{', '.join(missing)}")))
        runs = [run_files.read_record(h.out_dir) or _empty(h) for h in halves]
    order = {c.id: i for i, c in enumerate(selected_checks(job.questions, rub))}
    results = sorted((r for run in runs for r in run.results),
                     key=lambda r: order.get(r.check_id, len(order)))
    manual_order = [q.id for q in rub.manual]
    manual = sorted((m for run in runs for m in run.manual),
                    key=lambda m: manual_order.index(m.question)
                    if m.question in manual_order else len(manual_order))
    merged = GradingRun(_info([r.info for r in runs], [h.questions for h in halves]),
                        tuple(results), tuple(manual), sum(r.seconds for r in runs),
                        all(r.complete for r in runs),
                        "; ".join(r.grader_error for r in runs if r.grader_error))
    job.out_dir.mkdir(parents=True, exist_ok=True)
    run_files.write(merged, rub, job.out_dir)
    if status != OK:  # say why it stops where it does, as a whole grading's row would
        path = job.out_dir / "results.json"
        gradescope.write_json(path, gradescope.mark_stopped(json.loads(path.read_text()), note))
    with open(job.out_dir / "grade.log", "wb") as log:
        for half in halves:
            log.write(f"==== {half.out_dir.name}: questions {', '.join(half.questions)}"
                      " ====\n".encode())
            try:
                log.write((half.out_dir / "grade.log").read_bytes())
            except OSError:
                log.write(b"(no log)\n")
    for half in halves:
        shutil.rmtree(half.out_dir, ignore_errors=True)
    scores = {k: v for r in rows for k, v in r.scores.items()}
    return BatchRow(job.submission.student, job.submission.name, job.submission.email, status,
                    scores, sum(r.seconds for r in rows), False, note)


def _empty(job: Job) -> GradingRun:
    """A half that left no record: its checks pending (write_stand_in's record)."""
    write_stand_in(job, "no record of this half", 0.0)
    return run_files.read_record(job.out_dir)
