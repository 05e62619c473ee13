"""1b: the loss is the mean cross-entropy plus reg * (||W1||^2 + ||W2||^2) (loss.py judges
it against netmath's, with a hint from what a wrong loss matches)."""
from . import loss
from ...core.engine.context import judged

test_toy_loss = judged("1b.1", loss.judge_toy)
test_hidden_loss = judged("1b.2", loss.judge_hidden)
