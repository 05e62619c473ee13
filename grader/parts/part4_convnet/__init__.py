"""Part 4, seed 004 task 5.3: the MNIST ConvNet (questions 7b-7d, convnet_mnist.py and the
answers file convnet_answers.py).

probes.py is the sandbox side (builds ConvNet(), records the layers its forward applies;
trains it with the student's train()); layers.py judges 7b (layers, output shapes,
parameter counts, and the per-layer summary table), stated.py 7c (the answers file, read
with ast, against the same truth), training.py 7d (test accuracy from the returned
logits), all with numpy only: the grader's own process never imports torch. settings.py
reads the declared training settings with ast.
"""

# The public self-check the students' archive ships: the grader's own summary probe and
# 7b's judges (torch in the probe only; no solution: the rubric's layers, shapes and counts).
PUBLIC_MODULES = ("selfcheck.py", "layers.py", "settings.py", "probes.py")
