"""3a: SGD on the handout's toy problem (3a.1), and the SGD steps train() takes: learning
rate, decay, batches, predict (3a.2 public settings, 3a.3 hidden ones); sgd_runs.py says
how."""
from . import sgd_runs
from ...core.engine.context import judged

test_toy_training = judged("3a.1", sgd_runs.judge_toy_training)
test_sgd_steps_public = judged("3a.2", sgd_runs.judge_sgd_steps)
test_sgd_steps_hidden = judged("3a.3", sgd_runs.judge_sgd_steps)
