"""Part 1: the numpy two-layer network (questions 1a-3b, two_layernet.py, hyperparams.py).

netmath.py is the grader's own math (expected values), cases.py the toy problem and the
hidden instances, probes.py the sandbox side, probing.py where the probes are and one
probe call over cases. The judge modules: forward.py (1a), loss.py (1b), vectorised.py
(1c), gradients.py (2d, with hints.py), sgd_runs.py (3a, with sgd.py's step rules) and
training.py (3b); staticcheck.py finds loops over samples, hyperparams.py and
checkpoint.py read the student's declared settings and weights as data.
"""

# The public self-check the students' archive ships: this part's checks and the two
# numpy-only judges they load (no solution): file here -> name in the archive.
PUBLIC_FILES = {"selfcheck.py": "selfcheck_files/part1_numpy.py",
                "staticcheck.py": "selfcheck_files/staticcheck.py",
                "sgd.py": "selfcheck_files/sgd.py"}
