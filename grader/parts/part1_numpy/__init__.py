"""Part 1: the numpy two-layer network (questions 1a-3b, two_layernet.py, hyperparams.py).

netmath.py is the grader's own math (expected values), cases.py the toy problem and the
hidden instances, probes.py the sandbox side, probing.py where the probes are and one
probe call over cases. The judge modules: forward.py (1a), loss.py (1b), vectorised.py
(1c), gradients.py (2d, with hints.py), sgd_runs.py (3a, with sgd.py's step rules) and
training.py (3b); staticcheck.py finds loops over samples, hyperparams.py and
checkpoint.py read the student's declared settings and weights as data.
"""

# The public self-check the students' archive ships: the grader's own probes, the judges
# of 1a.1, 1b.1, 1c.2 and 2d.1 and the part's own checks (numpy only; no solution: what
# netmath.py gives on the toy problem comes recorded in the generated public_checks.json).
PUBLIC_MODULES = ("selfcheck.py", "forward.py", "loss.py", "vectorised.py", "gradients.py",
                  "hints.py", "probing.py", "cases.py", "staticcheck.py", "sgd.py", "probes.py")
