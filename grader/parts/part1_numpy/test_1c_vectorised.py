"""1c: the forward pass is vectorised: its speed against the reference's (1c.1) and no
Python loop over samples in loss() (1c.2); vectorised.py says how."""
from . import vectorised
from ...core.engine.context import judged

test_forward_speed = judged("1c.1", vectorised.judge_speed)
test_no_loop_over_samples = judged("1c.2", vectorised.judge_loops)
