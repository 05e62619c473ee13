"""4c (manual points; informational): the grader trains the student's MLP at 2 to 5
layers and reports the table (validation and test accuracy, both computed by the grader)
and the curves (depths.py); the check is worth 0 points."""
from . import depths
from ...core.engine.context import judged

test_depth_experiment = judged("4c.1", depths.run_sweep)
