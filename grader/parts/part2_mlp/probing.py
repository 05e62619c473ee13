"""Where Part 2's probes are, and the sizes they are called with (the handout's API)."""
from __future__ import annotations

from pathlib import Path

PROBES = Path(__file__).with_name("probes.py")  # the sandbox side of Part 2
INPUT_SIZE = 32 * 32 * 3  # MultiLayerPerceptron(input_size, ...) as the handout builds it
NUM_CLASSES = 10
IMAGE = (3, 32, 32)
# Prepared rows are mean-centred pixels in [0, 255] units; divided by 127.5 they span about
# [-1, 1], the range of the handout's Normalize((0.5,) * 3, (0.5,) * 3).
SCALE = 1 / 127.5
