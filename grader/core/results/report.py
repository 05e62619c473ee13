"""The feedback report: results -> a self-contained HTML page (Jinja2, inline CSS and SVG).

Rendered from the project's own records (GradingRun), never from results.json, and
rewritten with results.json after every check, so a run that stops midway still leaves a
report of what was graded. Student output and messages are data: autoescape is on.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from . import gradescope
from .charts import line_chart
from .records import CheckResult, GradingRun

REPORT_ONLY = "report"  # details key kept out of results.json (large pictures)
_ENV = Environment(loader=PackageLoader("grader", "templates"),
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                   lstrip_blocks=True)


def _pictures(result: CheckResult) -> list[Any]:
    """The charts of one check, from the numbers it recorded."""
    d = result.details
    charts = []
    if d.get("loss_history"):
        charts.append(line_chart({"loss": d["loss_history"]}, "training loss (reported by "
                                 "your train())", "iteration (sampled)"))
    accs = {k: d.get(f"{k}_acc_history") for k in ("train", "val")}
    if any(accs.values()):
        threshold = d.get("threshold")
        charts.append(line_chart(accs, "accuracy per epoch (reported by your train())", "epoch",
                                 hline=(threshold, f"threshold {threshold:.0%}")
                                 if threshold is not None else None))
    for spec in d.get("curves") or ():  # a check's own charts: {title, x_label, series}
        if isinstance(spec, dict) and isinstance(spec.get("series"), dict):
            charts.append(line_chart(spec["series"], str(spec.get("title", "")),
                                     str(spec.get("x_label", ""))))
    return charts


def _table(result: CheckResult) -> dict | None:
    """A check's table of rows ({title, columns, rows} in its details), cells as text."""
    table = result.details.get("table")
    if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
        return None

    def cell(value: Any) -> str:
        if value is None:
            return "n/a"
        if isinstance(value, float):
            return f"{value:.4g}"
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    return {"title": str(table.get("title", "")), "columns": [str(c) for c in table.get("columns", [])],
            "rows": [[cell(v) for v in row] for row in table["rows"] if isinstance(row, list)]}


def _questions(run: GradingRun, rubric) -> list[dict]:
    groups: dict[str, dict] = {}
    titles = {q.id: q.title for q in rubric.questions}
    for r in run.results:
        g = groups.setdefault(r.question, {"id": r.question, "title": titles.get(r.question, ""),
                                           "checks": [], "score": 0.0, "max_score": 0.0})
        g["checks"].append({"result": r, "charts": _pictures(r), "table": _table(r),
                            "tiles": r.details.get(REPORT_ONLY, {}).get("w1_tiles")})
        g["score"] += r.score
        g["max_score"] += r.max_score
    return list(groups.values())


def render_html(run: GradingRun, rubric) -> str:
    """The report as one HTML page."""
    return _ENV.get_template("report.html.j2").render(
        run=run, info=run.info, questions=_questions(run, rubric),
        headline=gradescope.summary_line(run))


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
    """One check's feedback as Markdown, for its row in results.json."""
    return _MD_ENV.get_template("check.md.j2").render(
        result=result, status=STATUS_WORDS.get(result.status, result.status),
        blocks=_blocks(result.message)).strip() + "\n"


def render_markdown(run: GradingRun, rubric) -> str:
    """The run's summary as Markdown, for Gradescope's top-level output field."""
    return _MD_ENV.get_template("summary.md.j2").render(
        run=run, info=run.info, questions=_questions(run, rubric),
        headline=gradescope.summary_line(run)).strip() + "\n"


def write(run: GradingRun, rubric, out_dir: Path) -> Path:
    """Writes OUT/report.html atomically; returns its path."""
    path = out_dir / "report.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(run, rubric))
    os.replace(tmp, path)
    return path
