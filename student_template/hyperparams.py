"""Question 3b: the hyperparameters of your best two-layer network on CIFAR-10.

These are the handout's first settings (about 29% validation accuracy): replace them with
the ones your tuning found (`python ex2_FCnet.py search` is a place to start). The grader
reads this file without running it and retrains your TwoLayerNet with exactly these
settings (TwoLayerNet(3072, hidden_size, 10), then train(...) on the 49,000 training
images), so keep BEST_HYPERPARAMS a plain dict of numbers: no imports, no expressions, no
function calls. Optional key: "std" (scale of the initial weights).
"""

BEST_HYPERPARAMS = {
    "hidden_size": 50,
    "num_iters": 1000,
    "batch_size": 200,
    "learning_rate": 1e-4,
    "learning_rate_decay": 0.95,
    "reg": 0.25,
}
