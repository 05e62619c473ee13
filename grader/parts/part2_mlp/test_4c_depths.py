"""4c (manual points; informational): the grader trains the student's MLP at 2 to 5
layers and reports the table (validation and test accuracy, both computed by the grader)
and the curves (depths.py); the check is worth 0 points."""
from . import depths
from ...core.engine.context import conclude, graded


@graded("4c.1")
def test_depth_experiment(grading, check, feedback):
    conclude(feedback, depths.run_sweep(grading, check, feedback))
