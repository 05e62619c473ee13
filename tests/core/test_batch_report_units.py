"""The gradebook's pieces that need no grading run."""
from grader.core.batch.gradebook import histogram


def test_histogram_labels_say_full_marks_fall_in_the_last_bin():
    bins = dict(histogram([0.0, 20.5, 63.0, 63.0], 63.0))
    assert list(bins)[0] == "0-9%" and list(bins)[-1] == "90-100%"
    assert bins["90-100%"] == 2 and bins["30-39%"] == 1 and bins["0-9%"] == 1
    assert dict(histogram([0, 3, 4], 4)) == {"0": 1, "1": 0, "2": 0, "3": 1, "4": 1}
