"""Sandbox probes of Part 3: call the student's Network (network_template.py) and record
plain results.

Runs only inside a sandbox child (grader/core/sandbox/child.py loads it by path and passes
a ProbeContext); it imports nothing but numpy and the standard library and judges nothing:
expected values stay in the grader's process. Data is column-major as in the template:
X (n0, m), one-hot Y (c, m).

The course template's train() calls the module's global `net` (`net.backward_pass(...)`),
and real solutions keep that: before any method of an instance runs, the probe binds the
module global `net` to that instance (_bind), so such a train() trains the network the
grader built.
"""
import inspect

import numpy as np

try:  # in the sandbox: the kit beside this probe, which sandbox_child preloads
    import grader_kit_training as kit
except ImportError:  # imported from the grader package (tests)
    from grader.core.sandbox.kits import training as kit

MODULE = "network_template"
CLASS = "Network"


# -- the student's module and network ----------------------------------------------------

def _module(ctx):
    module = ctx.import_student(MODULE)
    kit.student_class(ctx, module, CLASS, MODULE, strict=False)
    return module


def _bind(module, net):
    """The template's train() calls the global `net`: make it this instance."""
    module.net = net


def _make(ctx, module, sizes, optimizer, l2, weights=None, biases=None):
    """Network(sizes, optimizer=..., l2=...), its parameters replaced by the given ones
    (float64 copies) and the module's global `net` bound to it."""
    cls = getattr(module, CLASS)
    kwargs = {"optimizer": optimizer, "l2": l2}
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no signature to read: try the call
        signature = None
    if signature is not None:
        try:
            signature.bind(list(sizes), **kwargs)
        except TypeError:
            try:  # without L2 (5b, 5c, 5d with l2 = 0) a constructor without l2 will do
                signature.bind(list(sizes), optimizer=optimizer)
                if l2:
                    raise TypeError
                kwargs.pop("l2")
            except TypeError:
                ctx.fail("api", f"{CLASS}(sizes, optimizer=..., l2=...) cannot be called: the "
                         "handout's constructor is Network(sizes, optimizer=\"sgd\", l2=0.0)")
    net = ctx.call(cls, list(sizes), **kwargs)
    _bind(module, net)
    if weights is not None:
        for name, given in (("weights", weights), ("biases", biases)):
            store = getattr(net, name, None)
            if not isinstance(store, list) or len(store) != len(given):
                ctx.fail("api", f"{CLASS}({list(sizes)}).{name} should be a list of "
                         f"{len(given)} arrays; got "
                         + (f"{len(store)} entries" if isinstance(store, list)
                            else type(store).__name__))
            for i, value in enumerate(given):
                store[i] = np.array(value, dtype=np.float64, copy=True)
    return net


SIGNATURES = {"forward_pass": "forward_pass(X) -> (output, Zs, As)",
              "loss": "loss(output, Y) -> the regularised mean loss",
              "backward_pass": "backward_pass(output, Y, Zs, As) -> (gw, gb)",
              "update_network": "update_network(gw, gb, eta)",
              "train": "train(training_data, training_class, val_data, val_class, epochs, "
                       "mini_batch_size, eta, k=0.0)"}


def _method(ctx, net, name):
    """net's method `name`, or a failure naming the handout's signature."""
    method = getattr(net, name, None)
    if not callable(method):
        ctx.fail("api", f"{CLASS} has no method {name}: the handout asks for "
                 f"{SIGNATURES.get(name, name)}")
    return method


def _arrays(ctx, case, prefix, count):
    return [ctx.inputs[f"{case}/{prefix}{i}"] for i in range(count)]


def _params_of(net):
    """Copies of the network's weights, then its biases (float64)."""
    return [np.array(p, dtype=np.float64, copy=True) for p in list(net.weights) + list(net.biases)]


def _put_list(ctx, key, values, what):
    for i, value in enumerate(values):
        ctx.put(f"{key}{i}", ctx.array(value, f"{what}[{i}]"))


def _extra_required(func, given):
    """Names of the parameters of func (a bound method) beyond the first `given` that have
    no default, i.e. that the grader cannot leave out."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [p.name for p in positional[given:] if p.default is p.empty]


# -- 5a: the regularised loss, its gradients, and a step with L2 -------------------------

def l2_cases(ctx):
    """Per case: forward_pass outputs, loss(output, Y), backward_pass gradients, the outputs
    of forward_pass with each parameter entry moved by +-h (the grader turns them into
    numerical gradients of the regularised loss), and one SGD step on given gradients."""
    module = _module(ctx)
    h = float(ctx.params["step"])
    for s in ctx.params["cases"]:
        name = s["name"]
        with ctx.case(name):
            L = len(s["sizes"]) - 1
            weights, biases = _arrays(ctx, name, "W", L), _arrays(ctx, name, "b", L)
            X, Y = ctx.inputs[f"{name}/X"], ctx.inputs[f"{name}/Y"]
            net = _make(ctx, module, s["sizes"], "sgd", s["l2"], weights, biases)
            out = ctx.call(_method(ctx, net, "forward_pass"), X.copy())
            if not (isinstance(out, tuple) and len(out) == 3):
                ctx.fail("api", "forward_pass(X) should return (output, Zs, As); got "
                         f"{type(out).__name__}")
            output, Zs, As = out
            ctx.put(f"{name}/output", ctx.array(output, "forward_pass's output"))
            with ctx.case(f"{name}:loss"):  # a failing loss() costs its part only
                ctx.put(f"{name}/loss", ctx.array(ctx.call(_method(ctx, net, "loss"),
                                                           np.array(output, copy=True),
                                                           Y.copy()), "loss(output, Y)"))
            grads = ctx.call(_method(ctx, net, "backward_pass"), output, Y.copy(), Zs, As)
            if not (isinstance(grads, tuple) and len(grads) == 2):
                ctx.fail("api", "backward_pass(...) should return (gw, gb); got "
                         f"{type(grads).__name__}")
            for key, values in zip(("gw", "gb"), grads):
                if not isinstance(values, (list, tuple)) or len(values) != L:
                    ctx.fail("api", f"backward_pass's {key} should be a list of {L} arrays, "
                             "one per weight layer")
                _put_list(ctx, f"{name}/{key}", values, key)
            # numerical gradients: forward_pass with each entry moved by +-h
            for key, group in (("W", net.weights), ("b", net.biases)):
                for i in range(L):
                    arr = group[i]
                    plus, minus = [], []
                    for j in range(arr.size):
                        idx = np.unravel_index(j, arr.shape)
                        old = arr[idx]
                        arr[idx] = old + h
                        plus.append(ctx.array(ctx.call(net.forward_pass, X.copy())[0], "output"))
                        arr[idx] = old - h
                        minus.append(ctx.array(ctx.call(net.forward_pass, X.copy())[0], "output"))
                        arr[idx] = old
                    ctx.put(f"{name}/plus_{key}{i}", np.stack(plus))
                    ctx.put(f"{name}/minus_{key}{i}", np.stack(minus))
        with ctx.case(f"{name}:step"):  # one SGD step on the grader's gradients
            step_net = _make(ctx, module, s["sizes"], "sgd", s["l2"], weights, biases)
            extra = _extra_required(_method(ctx, step_net, "update_network"), 3)
            if extra:
                ctx.put(f"{name}/step_skipped", ", ".join(extra))
                continue
            ctx.call(step_net.update_network, _arrays(ctx, name, "step_gw", L),
                     _arrays(ctx, name, "step_gb", L), float(s["eta"]))
            _put_list(ctx, f"{name}/step_W", step_net.weights, "weights after the step")
            _put_list(ctx, f"{name}/step_b", step_net.biases, "biases after the step")


# -- 5b, 5c: train() observed, with the grader's forward and backward passes ---------------

def _softmax(Z):
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _grader_passes(net, grads, counter):
    """A forward_pass (sigmoid hidden layers, softmax output, with the network's current
    parameters), a backward_pass handing out the grader's gradients in turn, and a loss
    (the mean cross-entropy): 5b and 5c judge the optimizer and the schedule only."""
    def forward_pass(x, *args, **kwargs):
        a = np.asarray(x, dtype=np.float64)
        Zs, As = [], [a]
        for i, (W, b) in enumerate(zip(net.weights, net.biases)):
            z = np.asarray(W) @ a + np.asarray(b)
            Zs.append(z)
            a = _softmax(z) if i == len(net.weights) - 1 else 1 / (1 + np.exp(-z))
            As.append(a)
        return a, Zs, As

    def backward_pass(*args, **kwargs):
        gw, gb = grads[counter[0] % len(grads)]
        counter[0] += 1
        return [g.copy() for g in gw], [g.copy() for g in gb]

    def loss(output, target, *args, **kwargs):
        P = np.clip(np.asarray(output, dtype=np.float64), 1e-12, None)
        return float(-np.sum(np.asarray(target) * np.log(P)) / P.shape[1])

    return forward_pass, backward_pass, loss


def _train_call(ctx, net, data, k):
    """Calls net.train(X, Y, X_val, Y_val, epochs, mini_batch_size, eta) with the decay
    rate k: by name when train() has a parameter k, else as the next positional argument
    (real solutions name it freely); extra parameters need defaults."""
    X, Y, Xv, Yv, epochs, batch, eta = data
    args = [X, Y, Xv, Yv, int(epochs), int(batch), float(eta)]
    try:
        params = list(inspect.signature(_method(ctx, net, "train")).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    kwargs = {}
    if "k" in names:
        kwargs["k"] = float(k)
    elif len(positional) > 7:
        args.append(float(k))
        ctx.put("k_passed_as", positional[7].name)
    elif k:
        ctx.fail("api", "train() has no parameter k for the decay rate: the handout's "
                 "signature is train(training_data, training_class, val_data, val_class, "
                 "epochs, mini_batch_size, eta, k=0.0)")
    if params:
        missing = [p.name for p in positional[len(args):] if p.default is p.empty
                   and p.name not in kwargs]
        if missing:
            ctx.fail("api", f"train() needs arguments the handout does not give: "
                     f"{', '.join(missing)} (give them default values)")
    return ctx.call(_method(ctx, net, "train"), *args, **kwargs)


def train_observed(ctx):
    """Per case: the student's train() with the grader's forward and backward passes in
    place of theirs, every update_network call logged: the parameters before and after
    it, the gradients and learning rate it was given."""
    module = _module(ctx)
    for s in ctx.params["cases"]:
        name = s["name"]
        with ctx.case(name):
            L = len(s["sizes"]) - 1
            weights, biases = _arrays(ctx, name, "W", L), _arrays(ctx, name, "b", L)
            steps = int(s["steps"])
            grads = [([ctx.inputs[f"{name}/gw{t}_{i}"] for i in range(L)],
                      [ctx.inputs[f"{name}/gb{t}_{i}"] for i in range(L)]) for t in range(steps)]
            net = _make(ctx, module, s["sizes"], s["optimizer"], 0.0, weights, biases)
            counter = [0]
            net.forward_pass, net.backward_pass, net.loss = _grader_passes(net, grads, counter)
            original = _method(ctx, net, "update_network")
            log = {"before": [], "after": [], "gw": [], "gb": [], "eta": []}

            def spy(*args, **kwargs):
                gw = args[0] if args else kwargs.get("gw")
                gb = args[1] if len(args) > 1 else kwargs.get("gb")
                eta = args[2] if len(args) > 2 else kwargs.get("eta", np.nan)
                log["before"].append(_params_of(net))
                log["gw"].append([np.array(g, dtype=np.float64, copy=True) for g in gw])
                log["gb"].append([np.array(g, dtype=np.float64, copy=True) for g in gb])
                try:
                    log["eta"].append(float(eta))
                except (TypeError, ValueError):
                    log["eta"].append(np.nan)
                result = original(*args, **kwargs)
                log["after"].append(_params_of(net))
                return result

            net.update_network = spy
            X, Y = ctx.inputs[f"{name}/X"], ctx.inputs[f"{name}/Y"]
            data = (X.copy(), Y.copy(), X[:, :4].copy(), Y[:, :4].copy(), s["epochs"],
                    s["mini_batch_size"], s["eta"])
            _train_call(ctx, net, data, s["k"])
            ctx.put(f"{name}/calls", len(log["after"]))
            ctx.put(f"{name}/backward_calls", counter[0])
            if not log["after"]:
                ctx.fail("api", "train() never called self.update_network(gw, gb, eta), so "
                         "its steps could not be observed")
            count = min(len(log["after"]), steps + 5)
            for key in ("before", "after"):
                for j in range(2 * L):
                    ctx.put(f"{name}/{key}{j}", np.stack([entry[j] for entry in log[key][:count]]))
            for key in ("gw", "gb"):
                for i in range(L):
                    ctx.put(f"{name}/{key}{i}", np.stack([entry[i] for entry in log[key][:count]]))
            ctx.put(f"{name}/eta", np.array(log["eta"][:count], dtype=np.float64))


# -- 5d, 5e: training on the prepared data ------------------------------------------------

def _one_hot(labels, classes):
    Y = np.zeros((classes, len(labels)))
    Y[labels, np.arange(len(labels))] = 1.0
    return Y


def train_runs(ctx):
    """Per run: the student's Network(sizes, optimizer, l2) trained by their train() on the
    grader's prepared rows (fed column-major, times `scale`), with the run's settings.
    Records the weights and biases Network() was built with (W_init, b_init: before
    train() runs) and those train() leaves, the hidden pre-activations and activations of
    forward_pass on a few validation columns (the grader identifies the activation), the
    training loss of every step (cross-entropy of the batch output train() computed), and
    the labels forward_pass predicts on the validation rows after every epoch (steps per
    epoch: ceil(rows / mini_batch_size))."""
    module = _module(ctx)
    files, scale = ctx.data_files, float(ctx.params["scale"])
    classes = int(ctx.params["num_classes"])
    X_all = np.load(files["X_train"], mmap_mode="r", allow_pickle=False)
    y_all = np.load(files["y_train"], allow_pickle=False)
    Xv = np.load(files["X_val"], allow_pickle=False).astype(np.float64).T * scale
    yv = np.load(files["y_val"], allow_pickle=False)
    Yv = _one_hot(yv, classes)
    runs = ctx.params["runs"]
    total = sum(int(r["epochs"]) * -(-min(int(r["rows"]), len(y_all)) // int(r["mini_batch_size"]))
                for r in runs)
    progress = kit.Progress(ctx, total)
    for r in runs:
        name = r["name"]
        with ctx.case(name):
            rows = min(int(r["rows"]), len(y_all))
            X = np.asarray(X_all[:rows], dtype=np.float32).T * np.float32(scale)
            Y = _one_hot(y_all[:rows], classes)
            np.random.seed(int(ctx.params["seed"]))
            net = _make(ctx, module, r["sizes"], r["optimizer"], float(r["l2"]))
            _put_list(ctx, f"{name}/W_init", net.weights, "weights as built")
            _put_list(ctx, f"{name}/b_init", net.biases, "biases as built")
            per_epoch = -(-rows // int(r["mini_batch_size"]))
            losses, val_preds, calls = [], [], [0]
            backward, update = (_method(ctx, net, "backward_pass"),
                                _method(ctx, net, "update_network"))

            def spy_backward(*args, **kwargs):
                output = args[0] if args else kwargs.get("output")
                target = args[1] if len(args) > 1 else kwargs.get("target")
                try:
                    P = np.clip(np.asarray(output, dtype=np.float64), 1e-12, None)
                    losses.append(float(-np.sum(np.asarray(target) * np.log(P)) / P.shape[1]))
                except Exception:  # noqa: BLE001 - whatever train() passed: not ours to judge
                    losses.append(float("nan"))
                return backward(*args, **kwargs)

            def spy_update(*args, **kwargs):
                result = update(*args, **kwargs)
                calls[0] += 1
                progress.step()
                if calls[0] % per_epoch == 0:
                    out = ctx.call(net.forward_pass, Xv)[0]
                    val_preds.append(np.argmax(np.asarray(out), axis=0))
                return result

            net.backward_pass, net.update_network = spy_backward, spy_update
            data = (X, Y, Xv, Yv, r["epochs"], r["mini_batch_size"], r["eta"])
            _train_call(ctx, net, data, r["k"])
            _put_list(ctx, f"{name}/W", net.weights, "weights after train()")
            _put_list(ctx, f"{name}/b", net.biases, "biases after train()")
            sample = ctx.call(net.forward_pass, Xv[:, :32].copy())
            _put_list(ctx, f"{name}/Z", sample[1], "Zs")
            _put_list(ctx, f"{name}/A", sample[2], "As")
            ctx.put(f"{name}/losses", np.array(losses, dtype=np.float64))
            ctx.put(f"{name}/steps", calls[0])
            if val_preds:
                ctx.put(f"{name}/val_preds", np.stack(val_preds).astype(np.int64))
