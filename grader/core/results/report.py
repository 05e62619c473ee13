"""The feedback report: results -> a self-contained HTML page (Jinja2, inline CSS and SVG).

Rendered from the project's own records (GradingRun), never from results.json, and
rewritten with results.json after every check, so a run that stops midway still leaves a
report of what was graded. Student output and messages are data: autoescape is on.

The page opens with an overview (a row per question: points, status, a link to its
section); sections follow the questions' numbers (6a before 7a) whatever the rubric's
order. It says each thing once: a note that several checks carry (a file's lines the
grader did not run) is shown once at the top, a table a check's message repeats is
shown once. Its header holds nothing for staff only: the submission by its folder name,
no server path, no exception text (those stay in results.json's extra_data, which
Gradescope never shows students).
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from . import curves as curves_mod
from . import gradescope
from .charts import line_chart
from .records import ERROR, PASSED, PENDING, SKIPPED, CheckResult, GradingRun

REPORT_ONLY = "report"  # details key kept out of results.json (large pictures)
NOTE = "Note: "  # how a message's note line starts
# the grader's HTML pages (this report, the batch's summary and similarity pages)
PAGES = Environment(loader=PackageLoader("grader", "templates"),
                    autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                    lstrip_blocks=True)


def question_order(question_id: str) -> tuple[int, str]:
    """Sort key of a question id: its number, then its letter ("6a" before "7a", "10a"
    after "9b")."""
    match = re.match(r"(\d+)(.*)", question_id)
    return (int(match.group(1)), match.group(2)) if match else (1 << 30, question_id)


def _cell(value: Any, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{100 * value:.1f}%" if percent and 0 <= value <= 1 else f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _table(result: CheckResult) -> dict | None:
    """A check's table of rows ({title, columns, rows} in its details), cells as text; in
    a column named for an accuracy, fractions are shown as percentages."""
    table = result.details.get("table")
    if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
        return None
    columns = [str(c) for c in table.get("columns", [])]
    percent = ["accuracy" in c.lower() for c in columns]
    return {"title": str(table.get("title", "")), "columns": columns,
            "rows": [[_cell(v, i < len(percent) and percent[i]) for i, v in enumerate(row)]
                     for row in table["rows"] if isinstance(row, list)]}


def _contains(words: list[str], part: list[str]) -> bool:
    """Whether `part` occurs in `words` as a contiguous run."""
    n = len(part)
    return n > 0 and any(words[i:i + n] == part for i in range(len(words) - n + 1))


def shared_notes(run: GradingRun) -> list[str]:
    """The note lines ("Note: ...") that more than one check's message carries, in the
    order first met: the report shows them once, above the questions."""
    counts = Counter(line for r in run.results
                     for line in dict.fromkeys(r.message.splitlines()) if line.startswith(NOTE))
    return [line[len(NOTE):] for line, n in counts.items() if n > 1]


def _check_blocks(result: CheckResult, table: dict | None, shared: set[str],
                  shown: dict[tuple[str, ...], str]) -> tuple[list[dict], bool]:
    """(the message's blocks as the report shows them, whether the table took the place
    of one): shared notes left out; an indented block that repeats the check's own table
    is that table; one the report showed before refers to the check that showed it.
    shown: the words of each indented block shown so far -> its check id (updated)."""
    blocks, table_placed = [], False
    table_words = [] if table is None else " ".join(
        table["columns"] + [v for row in table["rows"] for v in row]).split()
    for block in _blocks(result.message):
        if block["kind"] == "text" and block["text"].startswith(NOTE) \
                and block["text"][len(NOTE):] in shared:
            continue
        if block["kind"] == "code":
            words = block["text"].split()
            key = tuple(words)
            if table is not None and not table_placed and (
                    _contains(words, table_words) or _contains(table_words, words)):
                blocks.append({"kind": "table"})
                table_placed = True
                shown.setdefault(key, result.check_id)
                continue
            if block["text"].count("\n") >= 1 and key in shown:
                blocks.append({"kind": "text", "text": f"(The same as under {shown[key]} above.)"})
                continue
            shown.setdefault(key, result.check_id)
        blocks.append(block)
    return blocks, table_placed


def _status(checks: list[CheckResult]) -> tuple[str, str]:
    """(css class, words) of a question's status from its checks."""
    statuses = [c.status for c in checks]
    if ERROR in statuses:
        return "error-status", "grader error"
    if PENDING in statuses:
        return "pending", "not reached"
    if all(s == SKIPPED for s in statuses):
        return "skipped", "not graded in this run"
    passed = statuses.count(PASSED)
    if passed == len(statuses):
        return "passed", "passed"
    return "failed", f"{passed} of {len(statuses)} checks passed" if len(statuses) > 1 \
        else "failed"


def _questions(run: GradingRun, rubric, drawn: bool = True) -> list[dict]:
    """The graded questions in number order, each with its checks as the report shows
    them (with their charts when drawn)."""
    titles = {q.id: q.title for q in rubric.questions}
    by_question: dict[str, list[CheckResult]] = {}
    for r in run.results:
        by_question.setdefault(r.question, []).append(r)
    shared, shown = set(shared_notes(run)), {}
    groups = []
    for qid in sorted(by_question, key=question_order):
        results = by_question[qid]
        checks = []
        for r in results:
            table = _table(r)
            blocks, placed = _check_blocks(r, table, shared, shown)
            checks.append({"result": r, "blocks": blocks, "table": table,
                           "table_below": table is not None and not placed,
                           "charts": [line_chart(c) for c in curves_mod.of_check(r.details)]
                           if drawn else [],
                           "tiles": r.details.get(REPORT_ONLY, {}).get("w1_tiles")})
        css, words = _status(results)
        groups.append({"id": qid, "title": titles.get(qid, ""), "checks": checks,
                       "score": sum(r.score for r in results),
                       "max_score": sum(r.max_score for r in results),
                       "status_class": css, "status": words,
                       "hidden": sum(1 for r in results if r.visibility != "visible")})
    return groups


def _overview(questions: list[dict], run: GradingRun) -> list[dict]:
    """A row per question, graded here or by hand, in number order. A question graded by
    hand whose checks the grader ran too (an informational experiment) is one row."""
    by_hand = {m.question: m for m in run.manual}
    rows = []
    for q in questions:
        row = {"id": q["id"], "title": q["title"], "anchor": f"q-{q['id']}",
               "points": f"{q['score']:.4g} / {q['max_score']:.4g}",
               "status_class": q["status_class"], "status": q["status"]}
        manual = by_hand.pop(q["id"], None)
        if manual is not None:
            row.update(points=f"{manual.points:g} by hand" + (
                f" + {row['points']}" if q["max_score"] else ""), status_class="manual",
                status=f"graded by hand; the grader's run: {q['status']}")
        rows.append(row)
    rows += [{"id": m.question, "title": m.title, "points": f"{m.points:g} by hand",
              "status_class": "manual", "status": "graded by hand", "anchor": "manual"}
             for m in by_hand.values()]
    return sorted(rows, key=lambda row: question_order(row["id"]))


def header(run: GradingRun) -> dict[str, str]:
    """The report header's facts, fit for students: the folder's name, paths shortened,
    the first clause of a sandbox that could not be set up, no exception from the device
    probe (the full texts are results.json's extra_data: submission, sandbox, device_details)."""
    info = run.info
    device = info.device
    error = (info.device_details or {}).get("error")
    if error:
        device = device.replace(f": {error}", "")
    sandbox = info.sandbox.split(";")[0].split(": ")[0]
    return {"submission": Path(info.submission).name or info.submission,
            "dataset_note": gradescope.public_text(info.dataset_note),
            "device": gradescope.public_text(device), "sandbox": gradescope.public_text(sandbox)}


def render_html(run: GradingRun, rubric) -> str:
    """The report as one HTML page."""
    questions = _questions(run, rubric)
    return PAGES.get_template("report.html.j2").render(
        run=run, info=run.info, head=header(run), questions=questions,
        overview=_overview(questions, run), notes=shared_notes(run),
        headline=gradescope.headline(run))


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# emphasis, code, links, HTML, tables; an underscore inside a word (two_layernet.py)
# cannot start emphasis in CommonMark, so it stays as it is
_MD_INLINE = re.compile(r"([\\`*\[\]<>|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_MD_LINE_START = re.compile(r"^(\s*)(\d*)([#+\-=>.)])")  # headings, lists, quotes


def _md_text(text: str) -> str:
    """Text shown literally in Markdown: each character that would start markup escaped."""
    escaped = _MD_INLINE.sub(r"\\\1", str(text))
    return _MD_LINE_START.sub(lambda m: f"{m.group(1)}{m.group(2)}\\{m.group(3)}", escaped)


_MD_ENV = Environment(loader=PackageLoader("grader", "templates"), autoescape=False,
                      trim_blocks=True, lstrip_blocks=True)
_MD_ENV.filters["cell"] = _md_cell
_MD_ENV.filters["md"] = _md_text
STATUS_WORDS = {"passed": "Passed", "failed": "Failed", "error": "Grader error",
                "skipped": "Not graded in this run", "pending": "Not reached"}


def _blocks(message: str) -> list[dict[str, str]]:
    """A check's message as Markdown blocks: hints, indented detail (a traceback) fenced
    as code, everything else a paragraph per line."""
    blocks: list[dict[str, str]] = []
    for line in message.splitlines():
        if not line.strip():
            continue
        if line.startswith("Hint: "):
            blocks.append({"kind": "hint", "text": line[len("Hint: "):]})
        elif line[0].isspace() and blocks and blocks[-1]["kind"] == "code":
            blocks[-1]["text"] += "\n" + line
        elif line[0].isspace():
            blocks.append({"kind": "code", "text": line})
        else:
            blocks.append({"kind": "text", "text": line})
    for block in blocks:
        if block["kind"] == "code":  # a fence longer than any backtick run inside
            longest = max((len(m) for m in re.findall(r"`+", block["text"])), default=0)
            block["fence"] = "`" * max(3, longest + 1)
    return blocks


def render_check_markdown(result: CheckResult) -> str:
    """One check's feedback as Markdown, for its row in results.json: its message, then a
    line per curve it recorded (Gradescope never shows the report's charts)."""
    return _MD_ENV.get_template("check.md.j2").render(
        result=result, status=STATUS_WORDS.get(result.status, result.status),
        blocks=_blocks(result.message),
        curves=[curves_mod.as_text(c) for c in curves_mod.of_check(result.details)]
        ).strip() + "\n"


def render_markdown(run: GradingRun, rubric) -> str:
    """The run's overview as Markdown, for Gradescope's top-level output field."""
    return _MD_ENV.get_template("overview.md.j2").render(
        run=run, info=run.info, head=header(run), questions=_questions(run, rubric, False),
        headline=gradescope.headline(run)).strip() + "\n"


def write(run: GradingRun, rubric, out_dir: Path) -> Path:
    """Writes OUT/report.html atomically; returns its path."""
    return gradescope.write_atomic(out_dir / "report.html", render_html(run, rubric))
