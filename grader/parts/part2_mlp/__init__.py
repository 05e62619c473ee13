"""Part 2: the PyTorch multi-layer perceptron (questions 4a-4c, ex2_pytorch.py).

settings.py reads the student's declared settings with ast (never running the file),
probes.py is the sandbox side (build, run and train the student's model, observed from the
outside with hooks and patches), structure.py judges 4a (the Linear layers applied, what
separates them, the output) and training.py 4b (the observed training loop), both with
numpy only: the grader's own process never imports torch. probing.py says where the
probes are and the sizes they are called with.
"""

# The public self-check the students' archive ships: the grader's own structure probe and
# 4a's judge, and its own 4b.1 (torch in the probes only; no solution).
PUBLIC_MODULES = ("selfcheck.py", "structure.py", "settings.py", "probing.py", "probes.py")
