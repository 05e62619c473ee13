"""The one module that knows Gradescope's results.json schema.

Fields follow Gradescope's autograder specification: top level score, execution_time,
output, output_format, stdout_visibility, extra_data and tests; each test name, number,
score, max_score, status ("passed"/"failed"), output, output_format, visibility and
extra_data. Files are written atomically, so a reader never sees half a file.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from .records import PASSED, PENDING, SKIPPED, CheckResult, GradingRun, RecordedRun

TEST_STATUSES = ("passed", "failed")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def _test(result: CheckResult, markdown: str | None = None) -> dict[str, Any]:
    return {
        "name": result.name,
        "number": result.check_id,
        "score": round(result.score, 4),
        "max_score": result.max_score,
        "status": "passed" if result.status == PASSED else "failed",
        "output": result.message if markdown is None else markdown,
        "output_format": "text" if markdown is None else "md",
        "visibility": result.visibility,
        "extra_data": {"outcome": result.status, "seconds": round(result.seconds, 3),
                       **({"staff_note": result.staff_note} if result.staff_note else {}),
                       **{k: v for k, v in result.details.items() if k != "report"}},
    }


def _own_peak_rss_mb() -> float:
    """Peak resident memory of this (the grader's) process, MiB."""
    import resource
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def hidden_count(run: GradingRun) -> int:
    """How many checks students do not see yet."""
    return sum(1 for r in run.results if r.visibility != "visible")


_PATH = re.compile(r"(?<![\w.~])/(?:[\w.+@-]+/)*([\w.+@-]+)/?")


def public_text(text: str) -> str:
    """Text for students without the grading machine's paths: each absolute path is
    shortened to its last name ("/autograder/data" -> ".../data")."""
    return _PATH.sub(lambda m: f".../{m.group(1)}", str(text))


def public_reason(error: str) -> str:
    """A grader error as students see it: its first clause, without paths or the
    exception text that follows (extra_data.grader_error keeps the whole of it)."""
    return public_text(error.split(": ")[0])


def headline(run: GradingRun) -> str:
    """The run's headline for students."""
    if run.grader_error:
        return ("Grader error, contact course staff: the grader itself failed "
                f"({public_reason(run.grader_error)}). Checks graded before it stopped "
                "are listed.")
    public = [r for r in run.results if r.visibility == "visible"]
    hidden = hidden_count(run)
    pending = [r for r in public if r.status == PENDING]
    failed = [r for r in public if r.status not in (PASSED, SKIPPED, PENDING)]
    passed = len(public) - len(failed) - len(pending)
    head = (f"{passed} of {len(public)} public checks passed" if failed or pending
            else "Public checks passed")
    if pending:
        head += f" ({len(pending)} not reached)"
    if hidden:
        head += f"; {hidden} hidden check{'s' if hidden != 1 else ''} graded after the due date"
    if not run.complete:
        head += " (grading did not finish: checks not reached are marked pending)"
    return head + "."


def results_json(run: GradingRun, markdown: str | None = None,
                 check_markdown: Callable[[CheckResult], str] | None = None,
                 columns: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """Gradescope's results.json content for a run; `markdown`, when given, is the
    top-level output (the report's overview), else a plain-text one is made here;
    `check_markdown` renders each test's output as Markdown (else its plain message);
    `columns` are the leaderboard's (check id -> (column name, details key holding an
    accuracy), the rubric's `leaderboard` entries)."""
    info = run.info
    lines = [headline(run), *([info.upload_note] if info.upload_note else []),
             public_text(info.dataset_note)]
    if run.manual:
        total = sum(m.points for m in run.manual)
        lines.append(f"Graded by hand later ({total:g} points): " + ", ".join(
            f"{m.question} {m.title} ({m.points:g})" for m in run.manual))
    return {
        "score": round(run.score, 4),
        "execution_time": max(0, int(math.ceil(run.seconds))),
        "output": markdown if markdown is not None else "\n".join(lines),
        "output_format": "md" if markdown is not None else "text",
        "stdout_visibility": "hidden",
        "extra_data": {
            "complete": run.complete, "grader_error": run.grader_error,
            "submission": info.submission, "rubric_version": info.rubric_version,
            "seed": info.seed, "dataset_kind": info.dataset_kind,
            "dataset_note": info.dataset_note, "public_only": info.public_only,
            **({"upload_note": info.upload_note} if info.upload_note else {}),
            "versions": dict(info.versions), "device": info.device, "started": info.started,
            "sandbox": info.sandbox,
            **({"device_details": dict(info.device_details)} if info.device_details else {}),
            "max_score": run.max_score,
            "grader_peak_rss_mb": _own_peak_rss_mb(),
            "manual": [{"question": m.question, "title": m.title, "points": m.points}
                       for m in run.manual],
        },
        "tests": [_test(r, check_markdown(r) if check_markdown else None) for r in run.results],
        **({"leaderboard": board} if (board := leaderboard(run, columns or {})) else {}),
    }


def leaderboard(run: GradingRun, columns: Mapping[str, tuple[str, str]]
                ) -> list[dict[str, Any]]:
    """Gradescope leaderboard entries for the accuracies this run measured."""
    entries = []
    for result in run.results:
        column = columns.get(result.check_id)
        if column and result.details.get(column[1]) is not None:
            entries.append({"name": column[0], "value": round(100 * result.details[column[1]], 2),
                            "order": "desc"})
    return entries


def plain_data(value: Any) -> Any:
    """value as JSON's numbers, strings, lists and dicts only: numpy values converted, NaN
    and infinities (a diverged loss curve) as None, gaps; anything else as its str()."""
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if hasattr(value, "tolist"):
        return plain_data(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_atomic(path: Path, text: str) -> Path:
    """Writes text (UTF-8) to path through a temporary file and a rename; returns path."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def write_json(path: Path, content: dict[str, Any]) -> None:
    """Writes JSON atomically (write_atomic), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        text = json.dumps(content, indent=2, allow_nan=False, default=str)
    except ValueError:  # a NaN or infinity slipped through: never lose the results for it
        text = json.dumps(plain_data(content), indent=2, allow_nan=False)
    write_atomic(path, text)


def read_recorded(content: dict[str, Any]) -> RecordedRun:
    """The scores, completeness and grader error a results.json records (pending checks
    have no score); raises ValueError when it is not a results.json of this grader."""
    if not isinstance(content, dict) or not isinstance(content.get("tests"), list):
        raise ValueError("not a results.json: no list of tests")
    extra = content.get("extra_data") or {}
    scores, checks = {}, []
    for test in content["tests"]:
        number = str(test.get("number", ""))
        checks.append(number)
        if (test.get("extra_data") or {}).get("outcome") != PENDING:
            scores[number] = float(test.get("score", 0.0))
    return RecordedRun(scores, tuple(checks), extra.get("complete") is True,
                      str(extra.get("grader_error") or ""), str(extra.get("rubric_version", "")),
                      float(content.get("execution_time", 0.0)))


def mark_stopped(content: dict[str, Any], reason: str) -> dict[str, Any]:
    """A copy of a partial results.json that says why grading stopped (e.g. the batch's
    wall-clock cap): the reason heads the output and is kept as extra_data.stopped."""
    extra = {**(content.get("extra_data") or {}), "complete": False, "stopped": reason}
    head = (f"Grading stopped: {reason}. Checks graded before it stopped are listed; the "
            "others are marked pending.")
    return {**content, "output": head + "\n" + str(content.get("output", "")),
            "extra_data": extra}


def validate(content: dict[str, Any]) -> list[str]:
    """Problems with a results.json against Gradescope's documented fields (empty: valid)."""
    problems = []
    allowed_top = {"score", "execution_time", "output", "output_format", "test_output_format",
                   "test_name_format", "visibility", "stdout_visibility", "extra_data",
                   "tests", "leaderboard"}
    allowed_test = {"score", "max_score", "status", "name", "name_format", "number",
                    "output", "output_format", "tags", "visibility", "extra_data"}
    problems += [f"unknown top-level field {k}" for k in content if k not in allowed_top]
    tests = content.get("tests", [])
    if "score" not in content and any("score" not in t for t in tests):
        problems.append("score missing at the top and on some tests")
    for key in ("score", "execution_time"):
        if key in content and not isinstance(content[key], (int, float)):
            problems.append(f"{key} is not a number")
    for i, test in enumerate(tests):
        problems += [f"tests[{i}]: unknown field {k}" for k in test if k not in allowed_test]
        if test.get("status", "passed") not in TEST_STATUSES:
            problems.append(f"tests[{i}]: status {test.get('status')!r}")
        if test.get("visibility", "visible") not in VISIBILITIES:
            problems.append(f"tests[{i}]: visibility {test.get('visibility')!r}")
        numbers = True
        for key in ("score", "max_score"):
            if key in test and not isinstance(test[key], (int, float)):
                problems.append(f"tests[{i}]: {key} is not a number")
                numbers = False
        if numbers and test.get("score", 0) > test.get("max_score", math.inf) + 1e-9:
            problems.append(f"tests[{i}]: score above max_score")
    for i, entry in enumerate(content.get("leaderboard", [])):
        if not {"name", "value"} <= set(entry) or entry.get("order", "desc") not in ("asc", "desc"):
            problems.append(f"leaderboard[{i}]: needs name and value, order asc or desc")
    for key in ("visibility", "stdout_visibility"):
        if content.get(key, "visible") not in VISIBILITIES:
            problems.append(f"{key} {content.get(key)!r}")
    return problems
