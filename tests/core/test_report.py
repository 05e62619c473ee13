"""The HTML feedback report: every question, the right status, curves, escaped text."""
from grader.core.results import report
from grader.core.rubric import spec as rubric
from grader.core.results.records import (ERROR, FAILED, PASSED, PENDING, CheckResult,
                                         GradingRun, ManualItem, RunInfo)

RUBRIC = rubric.load()
INFO = RunInfo("subs/alice", RUBRIC.version, RUBRIC.seed, "synthetic", "Synthetic data.",
               False, {"python": "3.11"}, "cpu", "2026-11-25T00:00:00+00:00")


def _run(results, complete=True, error=""):
    manual = tuple(ManualItem(q.id, q.title, q.points) for q in RUBRIC.manual)
    return GradingRun(INFO, tuple(results), manual, 12.5, complete, error)


def _result(cid, status, score, message="", **details):
    check = RUBRIC.check(cid)
    return CheckResult(cid, check.name, score, check.points, status, check.visibility,
                       message, details)


def test_report_names_every_question_with_status_and_curves():
    results = [_result(c.id, PASSED, c.points) for c in RUBRIC.checks if c.id != "3b.2"]
    results.append(_result("3b.2", FAILED, 0.0, "validation accuracy 30.0% (needs > 45.0%)",
                           loss_history=[2.3, 2.0, 1.7], train_acc_history=[0.2, 0.3],
                           val_acc_history=[0.2, 0.25], threshold=0.45,
                           report={"w1_tiles": "data:image/png;base64,AAAA"}))
    html = report.render_html(_run(results), RUBRIC)
    for q in RUBRIC.questions:
        if q.graded == "auto":
            assert f"<h2>{q.id}:" in html
    for m in RUBRIC.manual:
        assert m.title in html
    assert html.count("<svg") == 2  # loss curve and accuracy curves
    assert "threshold 45%" in html
    assert 'src="data:image/png;base64,AAAA"' in html
    assert 'class="failed"' in html and "validation accuracy 30.0%" in html
    assert "after_due_date" in html  # hidden checks are marked as such


def test_student_text_is_escaped():
    evil = "<script>alert(1)</script>"
    html = report.render_html(_run([_result("1a.1", FAILED, 0.0, evil)]), RUBRIC)
    assert evil not in html
    assert "&lt;script&gt;" in html


def test_partial_run_and_grader_error_are_visible(tmp_path):
    results = [_result("1a.1", PASSED, 2.0),
               _result("1a.2", PENDING, 0.0, "Not graded: the grader stopped."),
               _result("1b.1", ERROR, 0.0, "Grader error on this check")]
    path = report.write(_run(results, complete=False, error="boom"), RUBRIC, tmp_path)
    html = path.read_text()
    assert "did not finish" in html or "Grader error" in html
    assert 'class="pending"' in html and 'class="error-status"' in html
    assert not list(tmp_path.glob("*.tmp"))


def test_markdown_summary_never_reveals_hidden_outcomes():
    results = [_result("1a.1", PASSED, 2.0), _result("1a.2", FAILED, 0.0, "secret detail"),
               _result("2d.1", PASSED, 3.0), _result("2d.2", PASSED, 2.0)]
    md = report.render_markdown(_run(results), RUBRIC)
    assert "1a.1 passed" in md and "| 2 / 2 |" in md
    assert "1a.2" not in md and "2d.2" not in md and "secret" not in md
    assert "by hand" in md


def test_check_markdown_quotes_hints_fences_tracebacks_and_escapes_student_text():
    message = ("AttributeError: 'TwoLayerNet' has no attribute *params* <img src=x> [x](http://e)\n"
               '  File "two_layernet.py", line 57, in loss\n'
               "    ```` breaking out of a fence?\n"
               "# not a heading\n"
               "Hint: sum the upstream gradient over the batch axis (axis=0).")
    md = report.render_check_markdown(_result("2d.1", FAILED, 0.0, message))
    assert md.startswith("**Failed**: 0 / ")
    assert "> **Hint:** sum the upstream gradient over the batch axis (axis=0)." in md
    assert "\\*params\\*" in md and "\\<img src=x\\>" in md and "\\[x\\](http://e)" in md
    assert "\n\\# not a heading" in md
    fence = "`````"  # one longer than the student's four backticks
    assert f"{fence}\n  File \"two_layernet.py\", line 57, in loss\n" in md
    assert md.count(fence) == 2


def test_check_markdown_for_each_status():
    for status, word in ((PASSED, "**Passed**"), (ERROR, "**Grader error**"),
                         (PENDING, "**Not reached**")):
        assert report.render_check_markdown(_result("1a.1", status, 0.0, "x")).startswith(word)


def test_check_table_and_own_curves_are_drawn_from_details():
    """A check's details may carry a table ({title, columns, rows}) and its own charts
    ({title, x_label, series}): 4c's informational depth experiment uses both."""
    result = _result("4c.1", PASSED, 0.0, "informational", informational=True,
                     table={"title": "depths <b>", "columns": ["layers", "acc"],
                            "rows": [[2, 0.4123], [3, None]]},
                     curves=[{"title": "loss", "x_label": "step",
                              "series": {"2 layers": [2.3, 2.0], "3 layers": [2.3, 2.2]}}])
    html = report.render_html(_run([result]), RUBRIC)
    assert "depths &lt;b&gt; (informational: no points)" in html
    assert "<td>0.4123</td>" in html and "<td>n/a</td>" in html
    assert html.count("<svg") == 1
