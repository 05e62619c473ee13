"""1c: the forward pass is vectorised: its speed against the reference's (1c.1) and no
Python loop over samples in loss() (1c.2); vectorised.py says how."""
from . import vectorised
from ...core.engine.context import conclude, graded


@graded("1c.1")
def test_forward_speed(grading, check, feedback):
    conclude(feedback, vectorised.judge_speed(grading, check, feedback))


@graded("1c.2")
def test_no_loop_over_samples(grading, check, feedback):
    conclude(feedback, vectorised.judge_loops(grading, check))
