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
            assert f'<h2 id="q-{q.id}">{q.id}:' in html
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


def _order(html, marks):
    places = [html.index(m) for m in marks]
    return places == sorted(places)


def test_overview_lists_every_question_with_points_status_and_a_link():
    results = [_result(c.id, PASSED, c.points) for c in RUBRIC.checks if c.id != "1b.1"]
    results.append(_result("1b.1", FAILED, 0.0, "loss off"))
    html = report.render_html(_run(results), RUBRIC)
    overview = html[html.index('<table class="overview">'):]
    overview = overview[:overview.index("</table>")]
    for q in RUBRIC.questions:
        anchor = "manual" if q.graded == "manual" and not q.checks else f"q-{q.id}"
        assert f'<a href="#{anchor}">{q.id}</a>' in overview
        assert f'id="{anchor}"' in html  # the link lands on a section
    assert overview.count("<tr>") == len(RUBRIC.questions) + 1  # one row each (4c too)
    assert '<td class="failed">1 of 2 checks passed</td>' in overview
    assert '<td class="num">2 / 4</td>' in overview  # 1b's points
    assert "graded by hand; the grader&#39;s run: passed" in overview  # 4c's experiment
    ids = [q.id for q in RUBRIC.questions]
    assert _order(overview, [f">{q}</a>" for q in sorted(ids, key=report.question_order)])
    assert html.index('class="overview"') < html.index('id="q-1a"')  # it opens the page


def test_sections_follow_question_numbers_not_the_rubric_file():
    rubric_ids = [q.id for q in RUBRIC.questions]
    assert rubric_ids.index("7a") < rubric_ids.index("6a")  # the case this guards
    results = [_result(c.id, PASSED, c.points) for c in RUBRIC.checks]
    html = report.render_html(_run(results), RUBRIC)
    assert _order(html, ['id="q-5f"', 'id="q-6a"', 'id="q-6d"', 'id="q-7a"', 'id="q-7b"'])
    md = report.render_markdown(_run(results), RUBRIC)
    assert md.index("| 6a ") < md.index("| 7a ")
    assert report.question_order("10a") > report.question_order("9b")


def test_a_note_several_checks_carry_is_shown_once():
    main = "Note: ex2_pytorch.py lines 145-180 not run by the grader: the __main__ block"
    own = "Note: skipped data.bin: submission larger than 64 MB in total"
    results = [_result("4a.1", PASSED, 2.0, f"2 of 2 built.\n{main}"),
               _result("4a.2", PASSED, 1.0, f"3 of 3 built.\n{main}"),
               _result("4b.1", FAILED, 0.0, f"the loop.\n{main}\n{own}")]
    html = report.render_html(_run(results), RUBRIC)
    assert html.count("ex2_pytorch.py lines 145-180 not run") == 1
    assert html.index("ex2_pytorch.py lines 145-180") < html.index('id="q-4a"')  # on top
    assert html.count("skipped data.bin") == 1 and "<p>Note: skipped data.bin" in html
    assert report.shared_notes(_run(results)) == [main[len("Note: "):]]


def test_a_table_the_messages_repeat_is_shown_once():
    table = {"title": "Your ConvNet, layer by layer", "columns": ["#", "Layer (type)", "Param #"],
             "rows": [["1", "conv (Conv2d)", 520], ["2", "fc1 (Linear)", 288100],
                      ["", "Total params", 288620]]}
    text = (" #  Layer (type)       Param #\n"
            " 1  conv (Conv2d)          520\n"
            " 2  fc1 (Linear)       288,100")
    results = [_result("7b.1", PASSED, 2.0, f"All layers right.\nYour ConvNet:\n{text}\n"
                                            "Total params: 288,620", table=table),
               _result("7b.2", PASSED, 1.0, f"Every count right.\n{text}")]
    html = report.render_html(_run(results), RUBRIC)
    assert html.count("fc1 (Linear)") == 1  # the HTML table, in the message's place
    assert _order(html, ["Your ConvNet:", "<caption>Your ConvNet, layer by layer",
                         "Total params: 288,620", "7b.2"])
    assert "(The same as under 7b.1 above.)" in html
    md = report.render_check_markdown(results[1])
    assert "fc1 (Linear)" in md  # Gradescope shows each check alone: its text keeps it


def test_header_shows_no_staff_only_detail():
    error = ("PermissionError: [Errno 13] Permission denied: "
             "'/root/.pyenv/versions/3.11.7/bin/python3.11'")
    info = RunInfo("/autograder/submission", RUBRIC.version, RUBRIC.seed, "synthetic",
                   "No CIFAR-10 found in /autograder/data: graded on synthetic data.", False,
                   {"python": "3.11"}, f"CPU (x86_64, 2 cores) (torch unavailable in the "
                   f"sandbox: {error})", "2026-11-25T00:00:00+00:00",
                   f"cannot be isolated: cannot run student code as nobody: {error}",
                   {"error": error})
    run = GradingRun(info, (_result("1a.1", ERROR, 0.0, "Grader error on this check"),),
                     (), 1.0, False, "student code cannot be run in the sandbox on this "
                     f"machine: cannot run student code as nobody: {error}")
    html = report.render_html(run, RUBRIC)
    md = report.render_markdown(run, RUBRIC)
    for page in (html, md):
        assert "PermissionError" not in page and "Errno" not in page
        assert "/autograder" not in page and "/root" not in page
    assert "Feedback report: submission" in html and ".../data" in html
    assert "torch unavailable in the sandbox)" in html
    assert "Student code: cannot be isolated." in html
    assert "student code cannot be run in the sandbox on this machine" in html


def test_the_same_run_gives_the_same_report():
    """A regrade with the same outcomes writes the same page (charts included: no date,
    no random ids), so reports can be compared byte for byte."""
    from grader.core.results import charts
    results = [_result("3b.2", FAILED, 0.0, "too low", loss_history=[2.3, 2.0, 1.7],
                       train_acc_history=[0.2, 0.3], val_acc_history=[0.2, 0.25],
                       threshold=0.45)]
    first = report.render_html(_run(results), RUBRIC)
    charts._line_svg.cache_clear()
    assert report.render_html(_run(results), RUBRIC) == first
