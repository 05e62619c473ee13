"""Part 4, seed 003: the CIFAR-10 CNN (questions 6a-6d; theory.py, build_net.py,
algo_train.py, main.py).

cnnmath.py is the grader's own math (the output-size formula of 6a, the bias gradients of
6d, numpy only); figure.py holds 6d's instance and the handout's figure, cases.py draws the
hidden cases from the rubric seed. probes.py is the sandbox side: the numpy answers of theory.py (no torch in that child), the CNN and its
blocks run once with their layers traced (6b), and sup_trn run on the grader's loaders
(6c). output_size.py judges 6a, bias_gradients.py 6d, structure.py runs and judges the
traces (6b), settings.py reads main.py's opt_dict with ast (never running it), training.py
runs and judges 6c; all with numpy only: the grader's own process never imports torch.
probing.py says where the probes are.
"""

# The public self-check the students' archive ships: the grader's own probes and the public
# checks' judges (torch in the probes only; no solution: what cnnmath.py gives for the
# public cases comes recorded in the generated public_checks.json).
PUBLIC_MODULES = ("selfcheck.py", "output_size.py", "bias_gradients.py", "structure.py",
                  "figure.py", "probing.py", "probes.py")
