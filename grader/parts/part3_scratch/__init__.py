"""Part 3: L2, Adam and exponential decay from scratch (questions 5a-5e,
network_template.py), and the hand-computed answers (5f: seed 002 task 1; 7a: seed 004
task 5.1, backprop_answers.py).

netmath.py is the grader's own math (expected values: the regularised loss and its
gradients, Adam and its variants, the schedule, accuracy), cases.py the networks and runs
the checks use, probes.py the sandbox side (the student's Network, observed), l2.py judges
5a, observed.py 5b and 5c (the update_network calls of an observed train() run),
settings.py reads the declared SETTINGS with ast, training.py runs and judges 5d and 5e,
handcomputed.py 5f and 7a (backprop_answers.py, read with grader/core/submission/answers.py), hints.py names likely bugs. The course template's train() calls the
module's global `net`; the probes bind it to the network they train (probes._bind).
"""

# The public self-check the students' archive ships: the part's own checks, since every
# judge of its public checks computes with netmath.py or handcomputed.py on what the
# student's code returns (numpy only, no solution: its own networks, the handout's formulas,
# and only whether backprop_answers.py is filled in).
PUBLIC_MODULES = ("selfcheck.py",)
