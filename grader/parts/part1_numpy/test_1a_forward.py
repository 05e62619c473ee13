"""1a: the forward pass returns the softmax probabilities of the ReLU network (forward.py
judges them against netmath's)."""
from . import forward
from ...core.engine.context import judged

test_toy_probabilities = judged("1a.1", forward.judge_toy)
test_hidden_probabilities = judged("1a.2", forward.judge_hidden)
