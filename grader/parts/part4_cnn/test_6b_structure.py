"""6b: the layers the student's CNN, ConvBlock and DenseBlock apply, traced in ONE
sandboxed child shared by both checks (torch imported once; structure.py says exactly
what passes): two conv blocks that keep H x W until their 2x2 max-pool, two dense blocks,
logits out (6b.1); the blocks on their own (6b.2)."""
import pytest

from .structure import judge_blocks, judge_structure, trace_6b
from ...core.engine.context import judged


@pytest.fixture(scope="module")
def traced(grading):
    return trace_6b(grading)


test_cnn_structure = judged("6b.1", judge_structure, on="traced")
test_blocks_alone = judged("6b.2", judge_blocks, on="traced")
