"""Plain-text rendering of results for the terminal (what `check` prints)."""
from __future__ import annotations

import textwrap

from .records import PASSED, PENDING, SKIPPED, CheckResult, GradingRun

MARKS = {PASSED: "ok", SKIPPED: "skipped", PENDING: "not run"}


def result_line(result: CheckResult, with_message: bool = True) -> str:
    """One check: id, points, status, name, then its message indented."""
    mark = MARKS.get(result.status, "FAILED" if result.status != "error" else "ERROR")
    head = (f"  {result.check_id:<5} {result.score:>4.4g}/{result.max_score:<3g} "
            f"{mark:<8} {result.name}")
    if not (with_message and result.message):
        return head
    return head + "\n" + textwrap.indent(result.message.strip(), " " * 10)


def render(run: GradingRun) -> str:
    """The whole run as text: a line per check with its feedback, then the totals."""
    lines = [f"Grading {run.info.submission}", f"  data: {run.info.dataset_note}"]
    if run.info.upload_note:
        lines.append(f"  {run.info.upload_note}")
    lines += [result_line(r) for r in run.results]
    hidden = sum(1 for r in run.results if r.visibility != "visible")
    scope = "public checks" if run.info.public_only else "automatic checks"
    lines.append(f"Score on {scope}: {run.score:.4g} / {run.max_score:.4g}")
    if run.info.public_only:
        lines.append("Hidden checks (random networks and settings) run only when your "
                     "submission is graded.")
    elif hidden:
        lines.append(f"{hidden} of these checks are hidden from students until the due date.")
    if run.manual:
        lines.append("Graded by hand: " + ", ".join(f"{m.question} ({m.points:g})"
                                                   for m in run.manual))
    if run.grader_error:
        lines.append(f"GRADER ERROR: {run.grader_error}")
    return "\n".join(lines)
