"""4a: the layers MultiLayerPerceptron(3072, hidden_layers, 10) applies, for grader-chosen
hidden_layers lists: every width used in order, something nonlinear between consecutive
Linear layers, scores (N, 10) out (structure.py says exactly what passes)."""
from . import structure
from ...core.engine.context import conclude, graded


@graded("4a.1")
def test_public_lists(grading, check, feedback):
    cases = structure.public_cases(check.value("hidden_layers"))
    conclude(feedback, structure.grade_structure(grading, check, feedback, cases))


@graded("4a.2")
def test_hidden_lists(grading, check, feedback):
    low, high = check.value("width_range")
    cases = structure.hidden_cases(grading.rubric.seed, check.id, check.value("depths"),
                                   int(low), int(high))
    feedback.record(seeds=[c.seed for c in cases])
    conclude(feedback, structure.grade_structure(grading, check, feedback, cases))
