"""5e (manual points; informational): the grader runs task 6's ablations (the other
optimizer with its own learning rate, without L2, without the schedule) and reports the
table and the curves (ablations.run_ablations); the check is worth 0 points."""
from . import ablations
from ...core.engine.context import judged

test_ablations = judged("5e.1", ablations.run_ablations)
