"""3a: SGD on the handout's toy problem (3a.1), and the SGD steps train() takes: learning
rate, decay, batches, predict (3a.2 public settings, 3a.3 hidden ones); sgd_runs.py says
how."""
from . import sgd_runs
from ...core.engine.context import conclude, graded


@graded("3a.1")
def test_toy_training(grading, check, feedback):
    conclude(feedback, sgd_runs.judge_toy_training(grading, check, feedback))


@graded("3a.2")
def test_sgd_steps_public(grading, check, feedback):
    conclude(feedback, sgd_runs.judge_sgd_steps(grading, check, feedback))


@graded("3a.3")
def test_sgd_steps_hidden(grading, check, feedback):
    conclude(feedback, sgd_runs.judge_sgd_steps(grading, check, feedback))
