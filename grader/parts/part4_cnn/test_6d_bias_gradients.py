"""6d: problem 1, bias_gradients(x, W1, b1, W2, b2, t) in theory.py: (dL/db1, dL/db2) of
L = ||t - y||^2 for y = W2 ReLU(W1 x + b1) + b2, against the grader's own numpy
gradients (cnnmath.py; tests/parts/part4_cnn/test_part4_cnn_units.py checks them against autograd)."""
from .cases import figure_network, hidden_networks
from .bias_gradients import grade_networks
from ...core.engine.context import conclude, graded


@graded("6d.1")
def test_figure_network(grading, check, feedback):
    conclude(feedback, grade_networks(grading, check, feedback, [figure_network()],
                                      "the figure's network"))


@graded("6d.2")
def test_hidden_networks(grading, check, feedback):
    networks = hidden_networks(grading.rubric.seed, check.id, int(check.value("cases")))
    conclude(feedback, grade_networks(grading, check, feedback, networks, "hidden network"))
