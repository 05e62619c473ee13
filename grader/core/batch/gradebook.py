"""The outputs of a batch: gradebook.csv (one row per student) and summary.html.

Both are rendered from BatchRows and the rubric, never from results.json dicts. The
summary is one self-contained page (Jinja2, autoescape on, inline CSS and SVG, no
network): pass rates and score histograms per question, then every student with a link
to their report.html.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from .jobs import OK, RUBRIC, BatchRow, selected_checks
from ..results.charts import bar_chart
from ..results.gradescope import write_atomic
from ..results.report import PAGES
from ..rubric.spec import Rubric

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheet formula injection
# student -> (highest similarity in [0, 1] with another submission, its name):
# similarity.write_report's result; the gradebook shows it as a percentage.
Similarity = Mapping[str, tuple[float, str]]
SIMILARITY_COLUMNS = ("max similarity %", "most similar to")
UNTOUCHED = "untouched template"  # column: "yes" when the graded files are the starter code


def _num(value: float) -> str:
    return f"{round(value, 4):g}"


def _text(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _questions(questions: tuple[str, ...] | None, rub: Rubric | None = None
               ) -> list[tuple[str, tuple]]:
    """(question id, its selected checks) in rubric order, automatic questions only."""
    checks = selected_checks(questions, rub)
    order = list(dict.fromkeys(c.question for c in checks))
    return [(q, tuple(c for c in checks if c.question == q)) for q in order]


def _question_score(row: BatchRow, checks: Sequence) -> float | None:
    graded = [row.scores[c.id] for c in checks if c.id in row.scores]
    return sum(graded) if graded else None


def gradebook_csv(rows: Sequence[BatchRow], questions: tuple[str, ...] | None,
                  similarity: Similarity | None = None, rub: Rubric | None = None) -> str:
    """The gradebook as CSV text: student, name, email, status, one column per check id
    in rubric order (blank: not graded), the per-question totals, total, out of, UNTOUCHED
    ("yes" or blank), then (when `similarity` is given) SIMILARITY_COLUMNS, and the note.
    rub: the rubric graded with (default: the shipped one)."""
    groups = _questions(questions, rub)
    checks = [c for _, cs in groups for c in cs]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    extra = list(SIMILARITY_COLUMNS) if similarity is not None else []
    writer.writerow(["student", "name", "email", "status", *[c.id for c in checks],
                     *[f"{q} total" for q, _ in groups], "total", "out of", UNTOUCHED, *extra,
                     "note"])
    out_of = _num(sum(c.points for c in checks))
    for row in rows:
        per_check = [_num(row.scores[c.id]) if c.id in row.scores else "" for c in checks]
        per_question = [_num(s) if (s := _question_score(row, cs)) is not None else ""
                        for _, cs in groups]
        similar = _similarity_cells(similarity, row.student) if similarity is not None else []
        writer.writerow([_text(row.student), _text(row.name), _text(row.email), row.status,
                         *per_check, *per_question, _num(row.score), out_of,
                         "yes" if row.untouched_template else "", *similar, _text(row.note)])
    return buffer.getvalue()


def _similarity_cells(similarity: Similarity, student: str) -> list[str]:
    """[percent, partner] of a student's top match; blank when they have no code of their
    own in the compared files."""
    if student not in similarity:
        return ["", ""]
    score, partner = similarity[student]
    return [f"{100 * score:.1f}", _text(partner)]


def histogram(values: Sequence[float], max_score: float) -> list[tuple[str, float]]:
    """Counts per score: one bar per point when scores are whole and at most 10 points,
    else ten bins labelled by the shares of max_score they hold ("0-9%" ... "90-100%": full
    marks count in the last bin, and its label says so)."""
    if max_score <= 10 and all(float(v).is_integer() for v in values):
        counts = Counter(int(v) for v in values)
        return [(str(k), counts.get(k, 0)) for k in range(int(max_score) + 1)]
    counts = Counter(min(int(10 * v / max_score), 9) if max_score > 0 else 0 for v in values)
    return [(f"{10 * k}-{10 * k + 9 if k < 9 else 100}%", counts.get(k, 0)) for k in range(10)]


def render_summary(rows: Sequence[BatchRow], questions: tuple[str, ...] | None,
                   source: str, out: Path, similarity: Similarity | None = None,
                   rub: Rubric | None = None) -> str:
    """The batch summary page as HTML (with each student's top similarity when given)."""
    rub = rub or RUBRIC
    titles = {q.id: q.title for q in rub.questions}
    n = len(rows)

    def rates(scores: list[float], points: float) -> dict:
        """The share of students with full marks, and the mean score (0 for no student)."""
        full = sum(1 for s in scores if s >= points - 1e-9)
        return {"pass_rate": full / n if n else 0.0, "mean": sum(scores) / n if n else 0.0}

    stats = []
    for qid, checks in _questions(questions, rub):
        points = sum(c.points for c in checks)
        scores = [_question_score(r, checks) or 0.0 for r in rows]
        stats.append({"id": qid, "title": titles.get(qid, ""), "points": points,
                      **rates(scores, points),
                      "chart": bar_chart(histogram(scores, points),
                                         f"{qid}: students per score", f"points (of {points:g})",
                                         width=300, height=170)})
    selected = selected_checks(questions, rub)
    checks = [{"check": c, **rates([r.scores.get(c.id, 0.0) for r in rows], c.points)}
              for c in selected]
    max_score = sum(c.points for c in selected)
    rates = bar_chart([(q["id"], 100 * q["pass_rate"]) for q in stats],
                      "students with full marks, per question (%)", "question", top=100,
                      value_format="{:.0f}")
    totals = bar_chart(histogram([r.score for r in rows], max_score),
                       "students per total score", f"total (of {max_score:g})")
    students = [{"row": r, "report": (out / r.student / "report.html").is_file(),
                 "similar": (similarity or {}).get(r.student)} for r in rows]
    return PAGES.get_template("summary.html.j2").render(
        source=source, count=n, statuses=sorted(Counter(r.status for r in rows).items()),
        untouched=sum(r.untouched_template for r in rows),
        ok=OK, questions=stats, checks=checks, rates_chart=rates, totals_chart=totals,
        students=students, max_score=max_score, rubric_version=rub.version,
        similarity=similarity is not None,
        similarity_page=(out / "similarity.html").is_file(),
        selection=", ".join(questions) if questions else "all automatic questions",
        mean_total=sum(r.score for r in rows) / n if n else 0.0,
        graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def write(rows: Sequence[BatchRow], questions: tuple[str, ...] | None, source: str,
          out: Path, similarity: Similarity | None = None, rub: Rubric | None = None
          ) -> tuple[Path, Path]:
    """Writes out/gradebook.csv and out/summary.html; returns their paths. similarity:
    student -> (top similarity, partner) from similarity.write_report (None: no such
    columns); rub: the rubric graded with (default: the shipped one)."""
    gradebook = write_atomic(out / "gradebook.csv",
                              gradebook_csv(rows, questions, similarity, rub))
    summary = write_atomic(out / "summary.html",
                            render_summary(rows, questions, source, out, similarity, rub))
    return gradebook, summary
