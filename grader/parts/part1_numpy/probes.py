"""Sandbox probes of Part 1: call the student's TwoLayerNet and record plain results.

Runs only inside a sandbox child (grader/core/sandbox/child.py loads it by path and passes a
ProbeContext); it imports nothing but numpy and judges nothing: expected values stay in
the grader's process. Input arrays arrive keyed "case/field" (W1, b1, W2, b2, X, y, reg).
"""
import numpy as np

try:  # in the sandbox: the kit beside this probe, which sandbox_child preloads
    import grader_kit_training as kit
except ImportError:  # imported from the grader package (tests)
    from grader.core.sandbox.kits import training as kit

MODULE = "two_layernet"
CLASS = "TwoLayerNet"
NAMES = ("W1", "b1", "W2", "b2")
HISTORY_KEYS = ("loss_history", "train_acc_history", "val_acc_history")


def _net_class(ctx):
    return kit.student_class(ctx, ctx.import_student(MODULE), CLASS, MODULE, strict=False)


def _case(ctx, name):
    prefix = name + "/"
    return {k[len(prefix):]: v for k, v in ctx.inputs.items() if k.startswith(prefix)}


def _make_net(ctx, cls, params):
    """A student TwoLayerNet of the case's shape, its params replaced by the case's."""
    D, H = params["W1"].shape
    C = params["W2"].shape[1]
    net = ctx.call(cls, D, H, C)
    store = getattr(net, "params", None)
    try:
        for key in NAMES:
            store[key] = np.array(params[key], dtype=np.float64, copy=True)
    except Exception:  # noqa: BLE001 - anything that is not a dict-like params
        ctx.fail("api", f"{CLASS}(...).params should be a dict holding W1, b1, W2, b2 "
                 f"(got {type(store).__name__})")
    return net


def _put_params(ctx, prefix, net):
    store = getattr(net, "params", None)
    for key in NAMES:
        try:
            value = store[key]
        except Exception:  # noqa: BLE001
            ctx.fail("api", f"after train(), self.params has no {key!r}")
        ctx.put(f"{prefix}/{key}", ctx.array(value, f"self.params[{key!r}] after train()"))


def _put_history(ctx, prefix, stats):
    if not isinstance(stats, dict):
        ctx.fail("api", "train() should return a dict with loss_history, train_acc_history "
                 f"and val_acc_history; got {type(stats).__name__}")
    ctx.put(f"{prefix}/history_keys", sorted(str(k) for k in stats)[:20])
    for key in HISTORY_KEYS:
        if key in stats:
            with ctx.case(f"{prefix}/{key}"):
                ctx.put(f"{prefix}/{key}", ctx.array(stats[key], f"stats[{key!r}]").ravel())


def forward(ctx):
    """Probabilities loss(X) returns with y=None, per case."""
    cls = _net_class(ctx)
    for name in ctx.params["cases"]:
        with ctx.case(name):
            case = _case(ctx, name)
            net = _make_net(ctx, cls, case)
            probs = ctx.call(net.loss, case["X"].copy())
            ctx.put(f"{name}/probs", ctx.array(probs, "loss(X) with y=None"))


def loss_grads(ctx):
    """(loss, grads) that loss(X, y, reg) returns, per case."""
    cls = _net_class(ctx)
    for name in ctx.params["cases"]:
        with ctx.case(name):
            case = _case(ctx, name)
            net = _make_net(ctx, cls, case)
            out = ctx.call(net.loss, case["X"].copy(), y=case["y"].copy(),
                           reg=float(case["reg"]))
            if not (isinstance(out, tuple) and len(out) == 2):
                ctx.fail("api", "loss(X, y, reg) should return a tuple (loss, grads); got "
                         f"{type(out).__name__}")
            loss, grads = out
            ctx.put(f"{name}/loss", ctx.array(loss, "the loss"))
            if not isinstance(grads, dict):
                ctx.fail("api", f"grads should be a dict; got {type(grads).__name__}")
            ctx.put(f"{name}/grad_keys", sorted(str(k) for k in grads)[:20])
            for key in NAMES:
                if key in grads:
                    ctx.put(f"{name}/grad_{key}", ctx.array(grads[key], f"grads[{key!r}]"))


def time_forward(ctx):
    """Best-of-k seconds of the student's forward pass on one large batch."""
    cls = _net_class(ctx)
    net = _make_net(ctx, cls, ctx.inputs)
    X = ctx.inputs["X"]
    ctx.call(net.loss, X)  # warm-up
    times = []
    for _ in range(int(ctx.params["repeats"])):
        start = ctx.perf_counter()
        ctx.call(net.loss, X)
        times.append(ctx.perf_counter() - start)
    ctx.put("seconds", times)


def time_backprop(ctx):
    """Best-of-k seconds of loss(X) and of loss(X, y, reg) on one network (2d's cost gate).

    Each is called once untimed first, then up to `repeats` timed times; the calls with
    gradients stop repeating once they took `seconds` in all (numerical gradients take
    seconds per call), after at least one timed call. Records forward and backward
    (lists of seconds).
    """
    cls = _net_class(ctx)
    net = _make_net(ctx, cls, ctx.inputs)
    X, y, reg = ctx.inputs["X"], ctx.inputs["y"], float(ctx.inputs["reg"])
    repeats, limit = int(ctx.params["repeats"]), float(ctx.params["seconds"])
    ctx.call(net.loss, X.copy())  # warm-up
    forward = []
    for _ in range(repeats):
        data = X.copy()
        start = ctx.perf_counter()
        ctx.call(net.loss, data)
        forward.append(ctx.perf_counter() - start)
    ctx.put("forward", forward)
    backward = []
    for _ in range(repeats + 1):  # the first is the warm-up, timed in case it is the only one
        data, labels = X.copy(), y.copy()
        start = ctx.perf_counter()
        ctx.call(net.loss, data, y=labels, reg=reg)
        backward.append(ctx.perf_counter() - start)
        if sum(backward) > limit:
            break
    ctx.put("backward", backward[1:] or backward)


def _spy(net, log, rows):
    """Wraps net.loss to log (params before, grads, batch row indices) of each call with y."""
    original = net.loss

    def spy(*args, **kwargs):
        before = {k: np.array(net.params[k], dtype=np.float64, copy=True) for k in NAMES}
        out = original(*args, **kwargs)
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        if y is not None and isinstance(out, tuple) and len(out) == 2:
            grads = {k: np.array(out[1][k], dtype=np.float64, copy=True) for k in NAMES}
            batch = [rows.get(np.asarray(r, dtype=np.float64).tobytes(), -1) for r in X]
            log.append((before, grads, batch))
        return out

    net.loss = spy


def train_steps(ctx):
    """Every SGD step of train() on a small problem: params before, grads, batch rows."""
    cls = _net_class(ctx)
    settings = ctx.params["settings"]
    for name in ctx.params["cases"]:
        with ctx.case(name):
            case, s = _case(ctx, name), settings[name]
            net = _make_net(ctx, cls, case)
            X, y = case["X"], case["y"]
            rows = {X[i].tobytes(): i for i in range(X.shape[0])}
            log = []
            _spy(net, log, rows)
            ctx.call(net.train, X.copy(), y.copy(), X.copy(), y.copy(),
                     learning_rate=s["learning_rate"],
                     learning_rate_decay=s["learning_rate_decay"], reg=s["reg"],
                     num_iters=s["num_iters"], batch_size=s["batch_size"], verbose=False)
            if not log:
                ctx.fail("api", "train() never called self.loss(X_batch, y=y_batch, reg=reg), "
                         "so its SGD steps could not be observed")
            for key in NAMES:
                ctx.put(f"{name}/before_{key}", np.stack([entry[0][key] for entry in log]))
                ctx.put(f"{name}/grad_{key}", np.stack([entry[1][key] for entry in log]))
            sizes = [len(entry[2]) for entry in log]
            flat = [i for entry in log for i in entry[2]]
            ctx.put(f"{name}/batch_sizes", np.array(sizes, dtype=np.int64))
            ctx.put(f"{name}/batch_rows", np.array(flat, dtype=np.int64))
            _put_params(ctx, name + "/final", net)
            pred = ctx.call(net.predict, case["X_pred"].copy())
            ctx.put(f"{name}/pred", ctx.array(pred, "predict(X)").ravel())


def train_toy(ctx):
    """The handout's toy training run: final params and the returned history."""
    cls = _net_class(ctx)
    case = _case(ctx, "toy")
    s = ctx.params["settings"]
    net = _make_net(ctx, cls, case)
    X, y = case["X"], case["y"]
    stats = ctx.call(net.train, X.copy(), y.copy(), X.copy(), y.copy(),
                     learning_rate=s["learning_rate"], reg=s["reg"],
                     num_iters=s["num_iters"], verbose=False)
    _put_params(ctx, "final", net)
    _put_history(ctx, "stats", stats)


def train_cifar(ctx):
    """3b: the student's train() with their hyperparameters on the grader's data files.

    params["num_iters"], when given, replaces the declared num_iters, and
    params["num_train"] keeps only that many (first) training rows: the short progress run
    of the checkpoint mode, which then touches only those pages of the memory-mapped set.
    """
    X, y, X_val, y_val = kit.rows_and_validation(ctx)
    hp = ctx.params["hyperparams"]
    cls = _net_class(ctx)
    np.random.seed(int(ctx.params["seed"]))
    extra = {"std": hp["std"]} if "std" in hp else {}
    net = ctx.call(cls, X.shape[1], int(hp["hidden_size"]), int(ctx.params["num_classes"]),
                   **extra)
    num_iters = int(ctx.params.get("num_iters") or hp["num_iters"])
    progress = kit.Progress(ctx, num_iters)
    _put_sample(ctx, "initial", net)  # the grader tells whether the weights changed
    original = net.loss
    val_rows = {row.tobytes() for row in _fingerprints(X_val)}
    seen = {"val_batches": 0}

    def counting_loss(*args, **kwargs):
        out = original(*args, **kwargs)
        if len(args) > 1 or kwargs.get("y") is not None:
            progress.step()
            batch = args[0] if args else kwargs.get("X")
            if _from_rows(batch, val_rows):
                seen["val_batches"] += 1
                ctx.put("val_batches", seen["val_batches"])
        return out

    net.loss = counting_loss
    stats = ctx.call(net.train, X, y, X_val, y_val, learning_rate=hp["learning_rate"],
                     learning_rate_decay=hp["learning_rate_decay"], reg=hp["reg"],
                     num_iters=num_iters, batch_size=int(hp["batch_size"]),
                     verbose=False)
    _put_params(ctx, "final", net)
    _put_history(ctx, "stats", stats)


FINGERPRINT_COLUMNS = 8  # pixels of a row compared to tell validation rows apart
SAMPLE_ENTRIES = 4096  # entries per parameter kept to tell whether the weights changed


def sample(value):
    """At most about SAMPLE_ENTRIES evenly spaced entries of a flattened array (float64);
    the grader takes the same entries of the trained weights (probes.sample)."""
    flat = np.asarray(value, dtype=np.float64).ravel()
    return flat[::max(1, flat.size // SAMPLE_ENTRIES)].copy()


def _put_sample(ctx, prefix, net):
    """Samples of the parameters as they are before train(), as `prefix/NAME`."""
    store = getattr(net, "params", None)
    for key in NAMES:
        try:
            ctx.put(f"{prefix}/{key}", sample(store[key]))
        except Exception:  # noqa: BLE001 - no such parameter: 3b.1 says so from the final ones
            pass


def _fingerprints(X):
    """(N, FINGERPRINT_COLUMNS) float32: a few spread-out pixels of each row."""
    X = np.asarray(X)
    columns = np.linspace(0, X.shape[1] - 1, FINGERPRINT_COLUMNS).astype(np.int64)
    return np.ascontiguousarray(np.asarray(X[:, columns], dtype=np.float32))


def _from_rows(batch, rows):
    """Whether most rows of a minibatch are among `rows` (fingerprints' bytes)."""
    try:
        prints = _fingerprints(batch)
    except Exception:  # noqa: BLE001 - not a 2-d array of numbers: not ours to judge here
        return False
    hits = sum(1 for row in prints if row.tobytes() in rows)
    return hits * 2 > len(prints) > 0
