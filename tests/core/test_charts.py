"""grader/core/results/charts.py and curves.py: matplotlib charts with real axes, a legend
that hides no curve, deterministic SVG fit for inline HTML, and curves read from details."""
import re

import pytest

from grader.core.results import charts, curves

DETAILS = {"loss_history": [2.3, 2.1, None, 1.5], "train_acc_history": [0.2, 0.3, 0.35],
           "val_acc_history": [0.2, 0.25, 0.3], "threshold": 0.45}
# 4c's case: three of four depths stuck at chance, on the same values
DEPTHS = curves.Curves("validation accuracy per epoch, by depth", "epoch",
                       {"2 layers": [0.25, 0.33, 0.378], "3 layers": [0.1, 0.1, 0.1],
                        "4 layers": [0.1, 0.1, 0.1], "5 layers": [0.1, 0.1, 0.1]},
                       curves.ACCURACY, curves.EPOCH)


def _drawn(chart: curves.Curves):
    fig = charts.line_figure(charts.chart_key(chart))
    fig.draw_without_rendering()  # lays the figure out, as saving it does
    return fig, fig.axes[0]


def test_details_become_curves_of_the_right_kind():
    loss, acc = curves.of_check(DETAILS)
    assert (loss.kind, loss.per, loss.series["loss"]) == (curves.LOSS, curves.STEP,
                                                           [2.3, 2.1, None, 1.5])
    assert (acc.kind, acc.per, acc.threshold) == (curves.ACCURACY, curves.EPOCH, 0.45)
    assert list(acc.series) == ["train", "validation"]
    own = curves.of_check({"curves": [
        {"title": "training loss per step, by run", "x_label": "step (sampled)",
         "series": {"a": [2.0, float("nan"), 1.0]}},
        {"title": "validation accuracy per epoch, by run", "x_label": "epoch",
         "series": {"a": [0.1, 0.2]}},
        {"title": "no series"}, "not a dict"]})
    assert [(c.kind, c.per) for c in own] == [(curves.LOSS, curves.STEP),
                                              (curves.ACCURACY, curves.EPOCH)]
    assert own[0].series["a"] == [2.0, None, 1.0]
    assert curves.of_check({"loss_history": [], "val_acc_history": "junk"}) == []


def test_chart_has_ticks_on_both_axes_and_percent_accuracies():
    fig, ax = _drawn(curves.of_check(DETAILS)[1])
    x_ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    y_ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert {"1", "2", "3"} <= set(x_ticks)  # every epoch, whole numbers
    assert len(y_ticks) >= 3 and all(t.endswith("%") for t in y_ticks)
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "accuracy"
    low, high = ax.get_ylim()
    assert low < 0.2 and high > 0.45  # the threshold is inside the plot


def test_legend_sits_beside_the_plot_and_no_curve_lies_on_the_frame():
    fig, ax = _drawn(DEPTHS)
    legend = ax.get_legend().get_window_extent()
    frame = ax.get_window_extent()
    assert legend.x0 >= frame.x1  # beside the axes: it covers no curve
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(DEPTHS.series)
    low, high = ax.get_ylim()
    assert low < 0.1 - 0.01 and high > 0.378 + 0.01  # chance lies inside, not on the border
    lines = ax.get_lines()
    styles = {(line.get_linestyle(), line.get_linewidth(), line.get_marker()) for line in lines}
    assert len(styles) == 4  # equal curves drawn differently, so each stays visible


def test_loss_curve_x_axis_is_progress_through_the_run():
    fig, ax = _drawn(curves.of_check(DETAILS)[0])
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "0%" in ticks and "100%" in ticks and len(ticks) >= 3
    assert ax.get_ylabel() == "loss"


def test_svg_is_deterministic_inline_html_with_ids_of_its_own():
    loss, acc = curves.of_check(DETAILS)
    first = charts.line_chart(acc)
    charts._line_svg.cache_clear()
    assert charts.line_chart(acc) == first  # a regrade draws the same bytes
    assert first.startswith("<svg") and "<?xml" not in first and "<metadata" not in first
    assert "http" not in first.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "threshold 45%" in first and ">validation<" in first  # text, not glyph paths
    other = charts.line_chart(loss)
    ids = [set(re.findall(r' id="([^"]+)"', svg)) for svg in (first, other)]
    assert ids[0] and not ids[0] & ids[1]  # two charts on one page refer to their own clips
    for svg, own in zip((first, other), ids):
        assert set(re.findall(r'(?:url\(#|href="#)([^)"]+)', svg)) <= own


def test_a_chart_is_drawn_once_per_content():
    acc = curves.of_check({**DETAILS, "threshold": 0.44})[1]
    charts.line_chart(acc)
    before = charts._line_svg.cache_info()
    charts.line_chart(acc)
    after = charts._line_svg.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)


def test_nothing_to_draw_gives_no_chart():
    empty = curves.Curves("t", "epoch", {"a": [None, None]}, curves.LOSS, curves.EPOCH)
    assert charts.line_chart(empty) == ""
    assert charts.bar_chart([], "t") == ""


def test_bar_chart_labels_every_bar_and_value():
    svg = charts.bar_chart([("0-9%", 3), ("90-100%", 5), ("empty", 0)], "students", "score",
                           width=300, height=170)
    assert svg.startswith("<svg") and 'width="225pt"' in svg  # 300 px
    for text in (">0-9%<", ">90-100%<", ">3<", ">5<", ">students<", ">score<"):
        assert text in svg


@pytest.mark.parametrize("values, words", [
    ([2.3, 2.0, 1.7], "loss: first 2.3, last 1.7, lowest 1.7 (3 points sampled over the run)"),
    ([2.3, None, 1.7], "; 1 of 3 values not finite"),
    ([None], "loss: no finite value (1 recorded)"),
])
def test_loss_summary(values, words):
    chart = curves.Curves("training loss", "", {"loss": values}, curves.LOSS, curves.STEP)
    assert words in curves.as_text(chart)[1]


def test_accuracy_summary_names_best_epoch_every_epoch_and_threshold():
    lines = curves.as_text(curves.of_check(DETAILS)[1])
    assert lines[0] == "accuracy per epoch (reported by your train())"
    assert lines[2] == ("validation: best 30.0% (epoch 3 of 3), last 30.0%; "
                        "per epoch 20.0%, 25.0%, 30.0%")
    assert lines[-1] == "threshold: 45.0%"
    many = curves.Curves("acc", "epoch", {"val": [0.1] * 20 + [0.5]}, curves.ACCURACY,
                         curves.EPOCH)
    assert curves.as_text(many)[1] == "val: best 50.0% (epoch 21 of 21), last 50.0%"


def test_a_nearly_flat_loss_is_labelled_with_its_values_not_an_offset():
    flat = curves.Curves("loss", "", {"loss": [2.30258, 2.30251, 2.30255, 2.30249]},
                         curves.LOSS, curves.STEP)
    fig, ax = _drawn(flat)
    assert ax.yaxis.get_offset_text().get_text() == ""
    assert all(t.get_text().startswith("2.302") for t in ax.get_yticklabels() if t.get_text())
