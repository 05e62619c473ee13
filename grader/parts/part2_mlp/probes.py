"""Sandbox probes of Part 2: build, run and train the student's MultiLayerPerceptron, and
record plain results.

Runs only inside a sandbox child (grader/core/sandbox/child.py loads it by path and passes
a ProbeContext); it imports numpy, and torch through ctx.torch(), and judges nothing:
expected structures, accuracies and verdicts are computed in the grader's process from
the arrays recorded here. Test labels never come here; test images do (as inputs), and
the accuracies that are judged are the test images' (train() receives the validation
labels through val_loader).
"""
import math

import numpy as np

try:  # in the sandbox: the kits beside this probe, which sandbox_child preloads
    import grader_kit_layer_calls as layer_calls, grader_kit_output_path as paths
    import grader_kit_training as kit
except ImportError:  # imported from the grader package (tests)
    from grader.core.sandbox.kits import layer_calls, output_path as paths, training as kit

MODULE = "ex2_pytorch"
CLASS = "MultiLayerPerceptron"
TRAIN = "train"
INIT = "weights_init"  # the handout's initialiser, applied like its __main__ flow does
IMAGE = (3, 32, 32)  # one image as the handout's loaders give it (channels first)
TRAIN_ARGS = ("model", "train_loader", "val_loader", "device", "num_epochs",
              "learning_rate", "learning_rate_decay", "reg")


def _class_and_train(ctx):
    """(the student's module, its MultiLayerPerceptron class, its train() function), or a
    failure naming what is missing."""
    module = ctx.import_student(MODULE)
    cls = kit.student_class(ctx, module, CLASS, MODULE)
    train = kit.student_function(ctx, module, TRAIN, "(" + ", ".join(TRAIN_ARGS) + ")",
                                 MODULE, shadowed=True)
    return module, cls, train


def _build(ctx, torch, cls, hidden, settings):
    """The student's model for these widths (an nn.Module), or a failure of the case."""
    return kit.build(ctx, torch, cls, (int(settings["input_size"]), list(hidden),
                                       int(settings["num_classes"])), f"{CLASS}(...)")


def _tensor(value):
    """A detached float64 CPU copy of a tensor as numpy, or None."""
    try:
        return value.detach().cpu().double().numpy().copy()
    except Exception:  # noqa: BLE001 - not a tensor
        return None


def _forward(ctx, torch, model, images, batch_size, calls):
    """Runs model on the images (N, 3, 32, 32), then on the same as rows (N, 3072), then on
    `batch_size` rows when it only accepts that many (x.view(batch_size, -1)), with
    gradients on, recorded (calls.first_forward); returns (output, input used, the
    failures of the shapes tried before). Fails the case when no shape works."""
    device, dtype = kit.place(torch, model)
    n = images.shape[0]
    tries = [images, images.reshape(n, -1)]
    if batch_size != n:
        tries.append(images.repeat(math.ceil(batch_size / n), 1, 1, 1)[:batch_size]
                     .reshape(batch_size, -1))
    out, used, tried = calls.first_forward(ctx, model, [x.to(device=device, dtype=dtype)
                                                        for x in tries])
    failures = [{"shape": list(x.shape), **record} for x, record in tried]
    if used is None:
        first = failures[0]
        ctx.fail("exception", "forward failed on every input shape the grader tried: "
                 + "; ".join(f"{tuple(f['shape'])}: {f['message']}" for f in failures[:2]),
                 first.get("where", ""), first.get("detail", ""))
    return out, used, failures


def structure(ctx):
    """4a: per case, the model built for hidden_layers, the nn.Linear layers on the path
    to its output (in call order, with their inputs and outputs; _on_path: a layer run and
    thrown away does not count, a matrix product called directly does), and its output.

    Every nn.Linear is re-initialised first (weights N(0, 1/in_features), biases
    U(-0.5, 0.5)) so that every layer works at a scale where any nonlinearity shows, and
    the model runs in eval mode (Dropout off, BatchNorm on its running statistics).
    """
    torch, _ = ctx.torch()
    module = ctx.import_student(MODULE)
    cls = kit.student_class(ctx, module, CLASS, MODULE)
    images = torch.from_numpy(np.ascontiguousarray(ctx.inputs["X"], dtype=np.float32))
    for case in ctx.params["cases"]:
        name = case["name"]
        with ctx.case(name):
            model = _build(ctx, torch, cls, case["hidden_layers"], ctx.params)
            linears = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
            ctx.put(f"{name}/built", [[n, int(m.in_features), int(m.out_features)]
                                      for n, m in linears][:64])
            ctx.put(f"{name}/module_types", sorted({type(m).__name__ for m in model.modules()
                                                    if m is not model})[:30])
            with torch.no_grad():
                for _, layer in linears:
                    layer.weight.normal_(0.0, 1.0 / math.sqrt(max(1, layer.in_features)))
                    if layer.bias is not None:
                        layer.bias.uniform_(-0.5, 0.5)
            ctx.call(model.eval)
            layer_calls.gradients_on(torch, model)
            calls, befores = layer_calls.Calls(torch), []

            def enter(layer, args):
                befores.append(layer_calls.grad_nodes(args))

            def hook(layer, args, output):
                calls.add((args[0] if args else None, output), output,
                          befores.pop() if befores else [], layer)

            handles = [m.register_forward_pre_hook(enter) for _, m in linears]
            handles += [m.register_forward_hook(hook) for _, m in linears]
            names = {id(m): n for n, m in linears}
            out, used, failures = _forward(ctx, torch, model, images,
                                           int(ctx.params["batch_size"]), calls)
            for handle in handles:
                handle.remove()
            calls, notes = _on_path(out, calls, names)
            ctx.put(f"{name}/path_notes", notes)
            ctx.put(f"{name}/input_shape", list(used.shape))
            ctx.put(f"{name}/shape_failures", [[list(f["shape"]), f["message"]] for f in failures])
            if not hasattr(out, "detach"):
                ctx.fail("api", f"forward returned a {type(out).__name__}, not a tensor of "
                         "scores (N, num_classes)")
            ctx.put(f"{name}/output", ctx.array(out, "forward's output"))
            applied = []
            for i, (label, n_in, n_out, x, y) in enumerate(calls[:64]):
                applied.append([label, n_in, n_out])
                if i > 0 and x is not None:
                    ctx.put(f"{name}/in{i}", _tensor(x))
                if y is not None:
                    ctx.put(f"{name}/out{i}", _tensor(y))
            ctx.put(f"{name}/applied", applied)


def _on_path(out, calls, names):
    """(layers, notes): the nn.Linear calls whose output reaches out, and the matrix
    products on the path no nn.Linear made (F.linear, x @ W.T: "a direct matrix product",
    no values), in call order, each as (name, in, out, input, output); notes say which
    calls were left out (their result never reaches the output) or why none could be
    told."""
    def direct(kind, node):
        if kind != "linear":
            return None
        shape_in, shape_out = paths.node_shapes(node)
        return ("a direct matrix product", int(shape_in[-1]) if shape_in else 0,
                int(shape_out[-1]) if shape_out else 0, None, None), None

    kept, notes = calls.path(out, lambda row, layer: names.get(id(layer), "?"), direct)
    return [row if layer is None else (names.get(id(layer), "?"), int(layer.in_features),
                                       int(layer.out_features), *row)
            for row, layer in kept], notes


# -- 4b: training, observed ---------------------------------------------------------------

def _images(ctx, torch, X, rows=None):
    """Prepared rows (N, 3072) in HWC order -> a float32 tensor (N, 3, 32, 32) in the
    handout's channels-first layout, times params["scale"]."""
    return kit.images(torch, X, np.float32(ctx.params["scale"]), IMAGE, rows)


def _data(ctx, torch, rows):
    """(training set of the first `rows` rows, validation images, validation set, test
    images inputs["X_test"]) as torch tensors; the test set without labels."""
    sets = kit.tensor_sets(ctx, torch, np.float32(ctx.params["scale"]), IMAGE, rows)
    return (*sets, _images(ctx, torch, ctx.inputs["X_test"]))


def _loaders(ctx, torch, observer, train_set, val_set):
    """(training loader, shuffled with the seed's generator, validation loader), watched."""
    batch_size = int(ctx.params["settings"]["batch_size"])
    val = torch.utils.data.DataLoader(val_set, batch_size=batch_size, shuffle=False)
    return (kit.shuffled(ctx, torch, train_set, batch_size, observer),
            kit.Loader(val, observer, "val"))


def _logits(ctx, torch, model, images, shape):
    """The model's outputs on images (N, 3, 32, 32) in eval mode, batch_size rows at a time
    (the last batch padded with zeros: some models accept only full batches), as
    `shape[0]` ("images" or "rows") says; the model's mode is restored."""
    def forward(x, start):
        if shape[0] == "images":
            try:
                return ctx.call(model, x)
            except Exception as exc:  # noqa: BLE001 - a StudentFailure
                if start or kit.failure(exc, ("exception",)) is None:
                    raise
                shape[0] = "rows"  # forward expects flattened rows: use them from now on
        return ctx.call(model, x.reshape(x.shape[0], -1))

    was = model.training
    out = kit.logits(ctx, torch, model, images, int(ctx.params["settings"]["batch_size"]),
                     pad=True, forward=forward)
    ctx.call(model.train, was)
    return out


def _placed(ctx, device, module, model):
    """The model moved to the device, with the handout's weights_init applied when the
    module defines it."""
    model = ctx.call(model.to, device)
    init = getattr(module, INIT, None)
    if callable(init):
        ctx.call(model.apply, init)
    return model


def _train(ctx, torch, device, train, model, loaders, epochs, observer, val_images, shape):
    """train(model, train_loader, val_loader, device, num_epochs, learning_rate,
    learning_rate_decay, reg) with the declared settings, by keyword when its parameters
    have these names, else in this order; the observer takes the validation logits after
    every epoch. Returns what train() returned."""
    s = ctx.params["settings"]
    observer.evaluate = lambda: _logits(ctx, torch, model, val_images, shape)
    history = kit.call_by_name(ctx, train, TRAIN_ARGS, (
        model, *loaders, torch.device(device), epochs, float(s["learning_rate"]),
        float(s["learning_rate_decay"]), float(s["reg"])))
    observer.evaluate = None
    return history


def train_mlp(ctx):
    """4b: the student's train() on the grader's data with the declared settings, observed;
    records the observations, the logits of the test images (inputs["X_test"], no labels)
    before and after train(), and of the validation images after every epoch and at the
    end. params["rows"], when given, keeps the first rows of the training set (a
    checkpoint mode's progress run)."""
    torch, device = ctx.torch()
    s = ctx.params["settings"]
    _, rows = kit.train_rows(ctx)  # params["rows"]: a progress run's
    total = int(s["num_epochs"]) * math.ceil(rows / int(s["batch_size"]))
    observer = kit.LoopObserver(ctx, torch, total, loop=True)
    observer.install()
    module, cls, train = _class_and_train(ctx)
    train_set, val_images, val_set, test = _data(ctx, torch, rows)
    loaders = _loaders(ctx, torch, observer, train_set, val_set)
    settings = {**s, "input_size": int(np.prod(IMAGE)), "num_classes": ctx.params["num_classes"]}
    try:
        model = _build(ctx, torch, cls, s["hidden_size"], settings)
    except Exception as exc:  # noqa: BLE001 - a StudentFailure: say which call failed
        record = kit.failure(exc)
        if record is None:
            raise
        ctx.fail(record["kind"], f"{CLASS}({settings['input_size']}, {list(s['hidden_size'])}, "
                 f"{settings['num_classes']}): {record['message']}", record["where"],
                 record["detail"])
    model = _placed(ctx, device, module, model)
    shape = ["images"]
    # the untrained model's outputs: the grader tells from them whether training changed it
    ctx.put("initial_test_logits", _logits(ctx, torch, model, test, shape))
    history = _train(ctx, torch, device, train, model, loaders, int(s["num_epochs"]),
                     observer, val_images, shape)
    ctx.put("history_keys", sorted(str(k) for k in history)[:20]
            if isinstance(history, dict) else [])
    ctx.put("losses", np.array(observer.losses, dtype=np.float64))
    for name in ("loss_calls", "steps"):
        ctx.put(name, getattr(observer, name))
    ctx.put("step_lrs", np.array(observer.step_lrs, dtype=np.float64))
    for name in ("zero_grads", "judged", "batches"):
        ctx.put(name, getattr(observer, name))
    for name in observer.FLAGS:
        ctx.put(name, observer.flagged(name))
    ctx.put("val_passes", observer.val_passes)
    ctx.put("val_losses", observer.val_losses)
    ctx.put("epoch_first_step", np.array([e[0] for e in observer.epochs], dtype=np.int64))
    ctx.put("epoch_steps", np.array([e[1] for e in observer.epochs], dtype=np.int64))
    ctx.put("epoch_train_acc", np.array([e[2] for e in observer.epochs], dtype=np.float64))
    if observer.val_logits:
        ctx.put("epoch_val_logits", np.stack(observer.val_logits))
    ctx.put("val_logits", _logits(ctx, torch, model, val_images, shape))
    ctx.put("test_logits", _logits(ctx, torch, model, test, shape))
    ctx.put("input_shape", shape[0])


def evaluate_checkpoint(ctx):
    """4b in checkpoint mode: the submitted state dict (kit.checkpoint_model) loaded into
    MultiLayerPerceptron(3072, hidden_size, 10); records the logits of the validation and
    test images."""
    torch, device = ctx.torch()
    cls = kit.student_class(ctx, ctx.import_student(MODULE), CLASS, MODULE)
    hidden = ctx.params["settings"]["hidden_size"]
    settings = {"input_size": int(np.prod(IMAGE)), "num_classes": ctx.params["num_classes"]}
    model = kit.checkpoint_model(
        ctx, lambda: _build(ctx, torch, cls, hidden, settings), "model.state_dict()",
        f"{CLASS}({settings['input_size']}, {list(hidden)}, {settings['num_classes']}) "
        "(hidden_size as declared)", device)
    shape = ["images"]
    val = _images(ctx, torch, np.load(ctx.data_files["X_val"], allow_pickle=False))
    ctx.put("val_logits", _logits(ctx, torch, model, val, shape))
    ctx.put("test_logits", _logits(ctx, torch, model, _images(ctx, torch, ctx.inputs["X_test"]),
                                   shape))
    ctx.put("input_shape", shape[0])


def depth_sweep(ctx):
    """4c (informational): the student's train() with the declared settings but
    ctx.params["epochs"] epochs on the first ctx.params["rows"] training rows, once per
    hidden_layers list of ctx.params["cases"], all in this one child (torch imported
    once). Per case: the parameter count, the loss of every step, the logits of the
    validation images after every epoch and at the end, and of the test images
    (inputs["X_test"], no labels) at the end (accuracies are the grader's)."""
    torch, device = ctx.torch()
    seed, (_, rows) = int(ctx.params.get("seed", 0)), kit.train_rows(ctx)
    epochs, cases = int(ctx.params["epochs"]), ctx.params["cases"]
    batch_size = int(ctx.params["settings"]["batch_size"])
    observer = kit.LoopObserver(ctx, torch, len(cases) * epochs * math.ceil(rows / batch_size),
                                loop=True)
    observer.install()
    module, cls, train = _class_and_train(ctx)
    train_set, val_images, val_set, test_images = _data(ctx, torch, rows)
    settings = {"input_size": int(np.prod(IMAGE)), "num_classes": ctx.params["num_classes"]}
    for case in cases:
        name = case["name"]
        with ctx.case(name):
            observer.reset(f"{name}/")
            torch.manual_seed(seed)
            model = _build(ctx, torch, cls, case["hidden_layers"], settings)
            ctx.put(f"{name}/parameters", int(sum(p.numel() for p in model.parameters())))
            model = _placed(ctx, device, module, model)
            shape = ["images"]
            _train(ctx, torch, device, train, model, _loaders(ctx, torch, observer, train_set,
                                                              val_set),
                   epochs, observer, val_images, shape)
            ctx.put(f"{name}/losses", np.array(observer.losses, dtype=np.float64))
            ctx.put(f"{name}/epoch_steps", np.array([e[1] for e in observer.epochs], dtype=np.int64))
            if observer.val_logits:
                ctx.put(f"{name}/epoch_val_logits", np.stack(observer.val_logits))
            ctx.put(f"{name}/val_logits", _logits(ctx, torch, model, val_images, shape))
            ctx.put(f"{name}/test_logits", _logits(ctx, torch, model, test_images, shape))
            ctx.put(f"{name}/val_steps", observer.flagged("val_steps"))
