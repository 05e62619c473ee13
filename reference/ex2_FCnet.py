"""Driver for questions 1 to 3: the toy checks, the gradient check and the CIFAR-10 runs.

Each step runs on its own:

    python ex2_FCnet.py toy        # 1a, 1b: probabilities and loss of the toy network
    python ex2_FCnet.py gradcheck  # 2d: analytic gradients against numerical ones
    python ex2_FCnet.py train-toy  # 3a: SGD on the toy data; plots/toy_loss.png
    python ex2_FCnet.py cifar      # 3b: the first CIFAR-10 run with the default settings
    python ex2_FCnet.py search     # 3b: a small grid search on the validation set
    python ex2_FCnet.py best       # 3b: BEST_HYPERPARAMS from hyperparams.py, then the test set;
                                   #     saves the network to checkpoints/two_layernet.npz

With no step the three toy steps run. Importing this file runs nothing.
"""
import argparse
import ast
import itertools
import pickle
from pathlib import Path

import numpy as np

from two_layernet import TwoLayerNet

# What loss(X) and loss(X, y, reg=0.05) give on the toy problem when questions 1a, 1b are right.
CORRECT_PROBS = np.array([[0.36446210, 0.22911264, 0.40642526],
                          [0.47590629, 0.17217039, 0.35192332],
                          [0.43035767, 0.26164229, 0.30800004],
                          [0.41583127, 0.29832280, 0.28584593],
                          [0.36328815, 0.32279939, 0.31391246]])
CORRECT_LOSS = 1.30378789133

# The first CIFAR-10 run of question 3b (about 29% validation accuracy: far from good).
DEFAULT_HYPERPARAMS = {"hidden_size": 50, "num_iters": 1000, "batch_size": 200,
                       "learning_rate": 1e-4, "learning_rate_decay": 0.95, "reg": 0.25}
# Where `best` saves the trained network (W1, b1, W2, b2 with np.savez), next to this file.
# Submit it when the course grades 3b from your checkpoint; keep the name as it is.
CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "two_layernet.npz"
# The grid that `search` tries: every combination is one training run (half a minute or so).
SEARCH_GRID = {"hidden_size": [100, 150], "learning_rate": [5e-4, 1e-3],
               "reg": [0.1, 0.25], "num_iters": [3000]}


def toy_problem():
    """The handout's toy network and data: net (D=4, H=10, C=3), X (5, 4), y (5,)."""
    np.random.seed(0)
    net = TwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y


def rel_error(x, y):
    """Largest relative difference between two arrays of the same shape."""
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def numerical_gradient(f, x, h=1e-5):
    """Centred differences (f(x + h) - f(x - h)) / 2h for every entry of x, changed in place.

    f: function of no arguments returning a float that reads x; x: array of any shape.
    Returns an array of x's shape.
    """
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        f_plus = f()
        x[ix] = old - h
        f_minus = f()
        x[ix] = old  # put the entry back before the next one
        grad[ix] = (f_plus - f_minus) / (2 * h)
    return grad


def step_toy(args):
    """Questions 1a and 1b on the toy problem."""
    net, X, y = toy_problem()
    probs = net.loss(X)
    print("Your probabilities:\n", probs)
    print("Correct probabilities:\n", CORRECT_PROBS)
    print("Difference (should be below 1e-7):", np.sum(np.abs(probs - CORRECT_PROBS)))
    loss, _ = net.loss(X, y, reg=0.05)
    print(f"Your loss {loss:.11f}, correct {CORRECT_LOSS}; "
          f"difference (should be below 1e-12): {abs(loss - CORRECT_LOSS):.3g}")


def step_gradcheck(args):
    """Question 2d: every analytic gradient within 1e-8 of the numerical one at reg 0.05."""
    net, X, y = toy_problem()
    _, grads = net.loss(X, y, reg=0.05)
    for name in ("W1", "b1", "W2", "b2"):
        numeric = numerical_gradient(lambda: net.loss(X, y, reg=0.05)[0], net.params[name])
        print(f"{name} max relative error: {rel_error(numeric, grads[name]):e}")


def step_train_toy(args):
    """Question 3a: 100 SGD steps on the toy data; the final loss should be <= 0.02."""
    net, X, y = toy_problem()
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
    print("Final training loss:", stats["loss_history"][-1])
    path = plot_history({"loss_history": stats["loss_history"]}, args.plot_dir / "toy_loss.png")
    print("Loss curve saved to", path)


def load_cifar(data_dir, num_train=49000, num_val=1000, num_test=1000):
    """CIFAR-10 python batches -> float32 arrays with the mean training image subtracted.

    data_dir: the cifar-10-batches-py folder (or the folder holding it). Returns a dict of
    X_train (num_train, 3072), y_train (num_train,), X_val (num_val, 3072), y_val,
    X_test (num_test, 3072), y_test; images flattened in HWC order, labels in [0, 10).
    Validation rows are the num_val training rows that follow the first num_train.
    """
    data_dir = Path(data_dir)
    if (data_dir / "cifar-10-batches-py").is_dir():  # the folder above it works too
        data_dir = data_dir / "cifar-10-batches-py"
    if not (data_dir / "test_batch").is_file():
        raise SystemExit(f"CIFAR-10 not found in {data_dir}: unpack cifar-10-python.tar.gz "
                         "into datasets/ or pass --data-dir")

    def read(name):
        with open(data_dir / name, "rb") as fh:
            batch = pickle.load(fh, encoding="latin1")
        # Each row holds 1024 red, then 1024 green, then 1024 blue values; make it HWC.
        X = batch["data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(-1, 3072)
        return X, np.array(batch["labels"])

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    X_all, y_all = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    X_test, y_test = read("test_batch")
    if num_train + num_val > len(X_all):  # a small stand-in, not the real CIFAR-10
        num_val = min(num_val, len(X_all) // 5)
        num_train = len(X_all) - num_val
        print(f"Note: only {len(X_all)} training rows in {data_dir}; using {num_train} "
              f"for training and {num_val} for validation")
    num_test = min(num_test, len(X_test))

    X_train = X_all[:num_train].astype(np.float32)
    mean_image = X_train.mean(axis=0)  # (3072,)
    X_train -= mean_image
    return {"X_train": X_train, "y_train": y_all[:num_train],
            "X_val": X_all[num_train:num_train + num_val].astype(np.float32) - mean_image,
            "y_val": y_all[num_train:num_train + num_val],
            "X_test": X_test[:num_test].astype(np.float32) - mean_image,
            "y_test": y_test[:num_test]}


def train_cifar(data, hp, verbose=True):
    """Trains TwoLayerNet(3072, hp["hidden_size"], 10) with hp; returns (net, stats, val_acc)."""
    net = TwoLayerNet(data["X_train"].shape[1], hp["hidden_size"], 10, std=hp.get("std", 1e-4))
    stats = net.train(data["X_train"], data["y_train"], data["X_val"], data["y_val"],
                      num_iters=hp["num_iters"], batch_size=hp["batch_size"],
                      learning_rate=hp["learning_rate"],
                      learning_rate_decay=hp["learning_rate_decay"], reg=hp["reg"],
                      verbose=verbose)
    val_acc = np.mean(net.predict(data["X_val"]) == data["y_val"])
    return net, stats, val_acc


def step_cifar(args):
    """Question 3b, first run: the handout's default settings, then plots to study."""
    np.random.seed(args.seed)
    data = load_cifar(args.data_dir)
    net, stats, val_acc = train_cifar(data, DEFAULT_HYPERPARAMS)
    print(f"Validation accuracy: {val_acc:.3f}")
    # How to read the plots below:
    # - a loss that falls along a straight line: the steps are too small, raise the
    #   learning rate (or train for more iterations);
    # - training and validation accuracy side by side, both low: the network cannot fit
    #   the data, give it more capacity (a bigger hidden layer);
    # - training accuracy far above validation accuracy: the network memorises the
    #   training set, regularise more (larger reg) or stop earlier.
    print("Curves saved to", plot_history(stats, args.plot_dir / "cifar_history.png"))
    print("First-layer weights saved to", show_weights(net, args.plot_dir / "cifar_W1.png"))


def search(data, grid=SEARCH_GRID, verbose=False):
    """Trains one network per combination of grid; returns (best hp, its net, its val_acc)."""
    best = (None, None, -1.0)
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        hp = dict(DEFAULT_HYPERPARAMS, **dict(zip(keys, values)))
        net, _, val_acc = train_cifar(data, hp, verbose=verbose)
        print(f"{dict(zip(keys, values))}: validation accuracy {val_acc:.3f}")
        if val_acc > best[2]:
            best = (hp, net, val_acc)
    return best


def step_search(args):
    """Question 3b: the grid search; copy the best settings into hyperparams.py."""
    np.random.seed(args.seed)
    hp, _, val_acc = search(load_cifar(args.data_dir))
    print(f"Best: {hp} with validation accuracy {val_acc:.3f}")


def read_best_hyperparams(path=Path(__file__).with_name("hyperparams.py")):
    """BEST_HYPERPARAMS from hyperparams.py, read as a literal (as the grader reads it)."""
    tree = ast.parse(Path(path).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "BEST_HYPERPARAMS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit(f"{path} assigns no BEST_HYPERPARAMS")


def save_checkpoint(net, path=CHECKPOINT):
    """Saves net.params W1 (D, H), b1 (H,), W2 (H, C), b2 (C,) to path, an .npz file.

    Plain numeric arrays by name (np.savez), which the grader reads without running any
    code. Returns path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{name: np.asarray(net.params[name]) for name in ("W1", "b1", "W2", "b2")})
    return path


def step_best(args):
    """Question 3b: train with BEST_HYPERPARAMS, save the network, then test it once."""
    np.random.seed(args.seed)
    hp = read_best_hyperparams()
    data = load_cifar(args.data_dir)
    net, stats, val_acc = train_cifar(data, hp)
    print(f"{hp}: validation accuracy {val_acc:.3f} (the grader asks > 0.48 of the test set)")
    print("Network saved to", save_checkpoint(net))
    plot_history(stats, args.plot_dir / "best_history.png")
    show_weights(net, args.plot_dir / "best_W1.png")
    # Only now, with the settings fixed, look at the test set (and only once).
    print(f"Test accuracy: {np.mean(net.predict(data['X_test']) == data['y_test']):.3f}")


def _pyplot():
    """matplotlib.pyplot with the Agg backend (files only, no window); imported on demand."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_history(stats, path):
    """Loss per iteration and, if stats has them, train and validation accuracy per epoch.

    stats: the dict train() returns (loss_history; train_acc_history, val_acc_history
    optional). Returns path, a PNG file.
    """
    plt = _pyplot()
    with_acc = bool(stats.get("val_acc_history"))
    fig, axes = plt.subplots(1, 1 + with_acc, figsize=(6 + 6 * with_acc, 4), squeeze=False)
    axes[0, 0].plot(stats["loss_history"])
    axes[0, 0].set(title="training loss", xlabel="iteration")
    if with_acc:  # one panel, so the gap between the two curves is plain to see
        axes[0, 1].plot(stats["train_acc_history"], label="train (one batch)")
        axes[0, 1].plot(stats["val_acc_history"], label="validation")
        axes[0, 1].set(title="accuracy", xlabel="epoch")
        axes[0, 1].legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def show_weights(net, path):
    """First-layer weights W1 (3072, H) as a grid of H 32 x 32 colour tiles. Returns path."""
    W1 = net.params["W1"]
    tiles = W1.T.reshape(-1, 32, 32, 3)  # rows of X are HWC images, so are columns of W1
    low = tiles.min(axis=(1, 2, 3), keepdims=True)
    high = tiles.max(axis=(1, 2, 3), keepdims=True)
    tiles = (tiles - low) / np.maximum(high - low, 1e-12)  # each tile stretched to [0, 1]
    cols = int(np.ceil(np.sqrt(len(tiles))))
    rows = int(np.ceil(len(tiles) / cols))
    grid = np.ones((rows * 33 + 1, cols * 33 + 1, 3))  # one white pixel between tiles
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        grid[1 + 33 * r:33 + 33 * r, 1 + 33 * c:33 + 33 * c] = tile
    path.parent.mkdir(parents=True, exist_ok=True)
    _pyplot().imsave(path, grid)
    return path


STEPS = {"toy": step_toy, "gradcheck": step_gradcheck, "train-toy": step_train_toy,
         "cifar": step_cifar, "search": step_search, "best": step_best}


def main(argv=None):
    """Runs the chosen steps (the three toy steps by default); returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("steps", nargs="*", metavar="step",
                        help=f"one or more of: {', '.join(STEPS)} (default: the toy steps)")
    parser.add_argument("--data-dir", type=Path, default=Path("datasets/cifar-10-batches-py"),
                        help="folder with the CIFAR-10 python batches")
    parser.add_argument("--plot-dir", type=Path, default=Path("plots"),
                        help="where the PNG plots go")
    parser.add_argument("--seed", type=int, default=0, help="numpy seed of the CIFAR-10 runs")
    args = parser.parse_args(argv)
    unknown = [name for name in args.steps if name not in STEPS]
    if unknown:
        parser.error(f"unknown step {unknown[0]!r}; choose from {', '.join(STEPS)}")
    status = 0
    for name in args.steps or ["toy", "gradcheck", "train-toy"]:
        print(f"== {name} ==")
        try:
            STEPS[name](args)
        except NotImplementedError as exc:  # a TODO block of the template, still a stub
            print(f"Not implemented yet: {exc}. Fill in that TODO block in two_layernet.py.")
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
