"""The files one grading run leaves in its output folder.

results.json (Gradescope's, written by gradescope.py), report.html (report.py), and, when
asked, run.json: the whole GradingRun record, details and pictures included, which
`grade-all` reads back to merge a submission graded in halves (core/batch/merge.py).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from . import gradescope
from . import report as html_report
from .records import CheckResult, GradingRun, ManualItem, RunInfo

RECORD = "run.json"


def write(run: GradingRun, rubric, out_dir: Path, record: bool = False,
          record_only: bool = False) -> None:
    """Writes results.json and report.html for the run (and run.json when record); only
    run.json when record_only (a lane of a grading side by side, whose grader writes the
    others)."""
    if record_only:
        gradescope.write_json(out_dir / RECORD, gradescope.plain_data(asdict(run)))
        return
    markdown = html_report.render_markdown(run, rubric)
    gradescope.write_json(out_dir / "results.json",
                          gradescope.results_json(run, markdown,
                                                  html_report.render_check_markdown,
                                                  rubric.leaderboard))
    html_report.write(run, rubric, out_dir)
    if record:
        gradescope.write_json(out_dir / RECORD, gradescope.plain_data(asdict(run)))


def read_record(out_dir: Path) -> GradingRun | None:
    """The GradingRun a run.json holds, or None when it is missing or unreadable."""
    try:
        raw = json.loads((out_dir / RECORD).read_text())
        return GradingRun(RunInfo(**raw["info"]),
                          tuple(CheckResult(**r) for r in raw["results"]),
                          tuple(ManualItem(**m) for m in raw["manual"]), float(raw["seconds"]),
                          bool(raw["complete"]), str(raw["grader_error"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None
