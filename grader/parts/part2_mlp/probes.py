"""Sandbox probes of Part 2: build, run and train the student's MultiLayerPerceptron, and
record plain results.

Runs only inside a sandbox child (grader/core/sandbox/child.py loads it by path and passes
a ProbeContext); it imports numpy, and torch through ctx.torch(), and judges nothing:
expected structures, accuracies and verdicts are computed in the grader's process from
the arrays recorded here. Test labels never come here; test images do (as inputs), and
the accuracies that are judged are the test images' (train() receives the validation
labels through val_loader).
"""
import importlib
import inspect
import json
import math
import os

import numpy as np

MODULE = "ex2_pytorch"
CLASS = "MultiLayerPerceptron"
TRAIN = "train"
INIT = "weights_init"  # the handout's initialiser, applied like its __main__ flow does
IMAGE = (3, 32, 32)  # one image as the handout's loaders give it (channels first)
PROGRESS_S = 0.2  # how often the progress file is rewritten, at most
TRACKED = 4096  # entries of the tracked parameter's gradient compared between steps
TRAIN_ARGS = ("model", "train_loader", "val_loader", "device", "num_epochs",
              "learning_rate", "learning_rate_decay", "reg")


def _record(exc):
    """The failure record of a StudentFailure raised by ctx.call (else None)."""
    return getattr(exc, "record", None)


def _class_and_train(ctx):
    """(the student's module, its MultiLayerPerceptron class, its train() function), or a
    failure naming what is missing."""
    module = ctx.import_student(MODULE)
    cls = _class(ctx, module)
    train = getattr(module, TRAIN, None)
    if not callable(train) or isinstance(train, type):
        ctx.fail("missing", f"{MODULE}.py defines no function {TRAIN}(model, train_loader, "
                 f"val_loader, device, num_epochs, learning_rate, learning_rate_decay, reg)"
                 + (f" ({TRAIN} is a {type(train).__name__}: a setting of the same name "
                    "replaces the function)" if train is not None else ""))
    return module, cls, train


def _class(ctx, module):
    cls = getattr(module, CLASS, None)
    if not isinstance(cls, type):
        names = sorted(n for n in vars(module) if not n.startswith("_"))
        ctx.fail("missing", f"{MODULE}.py defines no class {CLASS}",
                 detail="names it defines: " + ", ".join(names[:20]))
    return cls


def _build(ctx, torch, cls, hidden, settings):
    """The student's model for these widths (an nn.Module), or a failure of the case."""
    model = ctx.call(cls, int(settings["input_size"]), list(hidden), int(settings["num_classes"]))
    if not isinstance(model, torch.nn.Module):
        ctx.fail("api", f"{CLASS}(...) should be an nn.Module; got {type(model).__name__}")
    return model


def _place(torch, model):
    """(device, dtype) of the model's first parameter (CPU float32 when it has none)."""
    for param in model.parameters():
        return param.device, param.dtype
    return torch.device("cpu"), torch.float32


def _tensor(value):
    """A detached float64 CPU copy of a tensor as numpy, or None."""
    try:
        return value.detach().cpu().double().numpy().copy()
    except Exception:  # noqa: BLE001 - not a tensor
        return None


# The layers on the path to the output (its autograd graph): grader/core/sandbox/kits/output_path.py.
try:  # in the sandbox: the copy beside this probe, which sandbox_child preloads
    import grader_kit_output_path as paths
except ImportError:  # imported from the grader package (tests)
    from grader.core.sandbox.kits import output_path as paths


def _forward(ctx, torch, model, images, batch_size, calls):
    """Runs model on the images (N, 3, 32, 32), then on the same as rows (N, 3072), then on
    `batch_size` rows when it only accepts that many (x.view(batch_size, -1)), with
    gradients on (the input requiring grad: output_path.PathGraph walks the output's graph); returns
    (output, input used, the failures of the shapes tried before). `calls` (what the
    forward hooks saw) is cleared before each try. Fails the case when no shape works."""
    device, dtype = _place(torch, model)
    n = images.shape[0]
    tries = [images, images.reshape(n, -1)]
    if batch_size != n:
        tries.append(images.repeat(math.ceil(batch_size / n), 1, 1, 1)[:batch_size]
                     .reshape(batch_size, -1))
    failures = []
    for x in tries:
        calls.clear()
        x = x.to(device=device, dtype=dtype).detach().clone().requires_grad_(True)
        try:
            with torch.enable_grad():
                out = ctx.call(model, x)
            return out, x, failures
        except Exception as exc:  # noqa: BLE001 - a StudentFailure from ctx.call
            record = _record(exc)
            if record is None or record["kind"] != "exception":
                raise
            failures.append({"shape": list(x.shape), **record})
    first = failures[0]
    ctx.fail("exception", "forward failed on every input shape the grader tried: "
             + "; ".join(f"{tuple(f['shape'])}: {f['message']}" for f in failures[:2]),
             first.get("where", ""), first.get("detail", ""))


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
    cls = _class(ctx, module)
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
            for param in torch.nn.Module.parameters(model):
                if param.is_leaf and param.is_floating_point():
                    param.requires_grad_(True)
            calls, befores = [], []

            def enter(layer, args, befores=befores):
                befores.append([t.grad_fn for t in paths.tensors(args) if t.grad_fn is not None])

            def hook(layer, args, output, calls=calls, befores=befores):
                before = befores.pop() if befores else []
                node = getattr(output, "grad_fn", None)
                calls.append((layer, args[0] if args else None, output, node,
                              paths.owned_nodes(node, before)))

            handles = [m.register_forward_pre_hook(enter) for _, m in linears]
            handles += [m.register_forward_hook(hook) for _, m in linears]
            names = {id(m): n for n, m in linears}
            out, used, failures = _forward(ctx, torch, model, images,
                                           int(ctx.params["batch_size"]), calls)
            for handle in handles:
                handle.remove()
            calls, notes = _on_path(torch, out, calls, names)
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


def _on_path(torch, out, calls, names):
    """(layers, notes): the nn.Linear calls whose output reaches out, and the matrix
    products on the path no nn.Linear made (F.linear, x @ W.T: "a direct matrix product",
    no values), in call order, each as (name, in, out, input, output); notes say which
    calls were left out (their result never reaches the output) or why none could be
    told."""
    graph = paths.PathGraph(torch, out)
    kept, owned, dropped = [], {}, []
    for layer, x, y, node, mine in calls:
        if graph.on_path(node):
            kept.append((paths.sequence(node), (names.get(id(layer), "?"), int(layer.in_features),
                                           int(layer.out_features), x, y)))
            owned.update(mine)
        else:
            dropped.append(names.get(id(layer), "?"))
    for sequence, kind, node in graph.direct(owned):
        if kind == "linear":
            shape_in, shape_out = paths.node_shapes(node)
            kept.append((sequence, ("a direct matrix product", int(shape_in[-1]) if shape_in else 0,
                                    int(shape_out[-1]) if shape_out else 0, None, None)))
    kept.sort(key=lambda item: item[0])
    notes = [graph.error] if graph.error else []
    if dropped:
        notes.append("applied, but their result never reaches the output (not counted): "
                     + ", ".join(dropped[:8]))
    return [layer for _, layer in kept], notes


# -- 4b: training, observed ---------------------------------------------------------------

class _Observer:
    """Watches a training run from outside the student's code: every loss computed with
    gradients on (value, whether its input rows were probabilities, batch accuracy), every
    optimizer step (learning rate; whether the gradients still held the previous step's;
    whether the last batch drawn came from the validation loader), every zero_grad, and
    each pass over the training and validation loaders.

    These are hints: code in the same process can tamper with them. The findings that
    point at a bug (probabilities given to the loss, gradients not cleared, steps on
    validation batches) are also written to ctx's values the moment they are seen
    ("seen/NAME"), so resetting this object afterwards does not erase them; the grader's
    own evidence (weights changed, test accuracy) comes from the logits it evaluates."""

    FLAGS = ("prob_inputs", "accumulated", "val_steps")  # counts mirrored as seen/NAME

    def __init__(self, ctx, torch, total):
        self.ctx, self.torch = ctx, torch
        self.model, self.evaluate = None, None
        self.batches, self.total, self.last = 0, total, -1.0
        self.path = os.path.join(ctx.params["progress_dir"], "progress.json")
        self.prefix = ""  # of the seen/ keys: a case's name in 4c
        self.reset()

    def reset(self, prefix=""):
        """Forgets one model's observations (4c trains several models in one child); the
        patches stay installed and the progress count goes on."""
        self.prefix = prefix
        self.losses, self.prob_inputs, self.loss_calls = [], 0, 0
        self.correct, self.rows = 0, 0  # of the current pass's training batches
        self.steps, self.step_lrs, self.zero_grads = 0, [], 0
        self.accumulated, self.judged = 0, 0
        self.tracked, self.prev, self.fresh = None, None, None
        self.epochs = []  # per pass with steps: first step, steps, training batch accuracy
        self.val_logits = []  # per such pass: the grader's validation logits after it
        self.source = None  # which loader gave the last batch drawn: "train", "val"
        self.loss_source = None  # self.source when the last loss with gradients was seen
        self.val_steps, self.val_losses, self.val_passes = 0, 0, 0

    def flag(self, name):
        """Counts one finding of FLAGS, on this object and at once in ctx's values."""
        setattr(self, name, getattr(self, name) + 1)
        key = f"{self.prefix}seen/{name}"
        self.ctx.put(key, int(self.ctx.values.get(key, 0)) + 1)

    def flagged(self, name):
        """The larger of the two counts of a finding (this object's, ctx's values')."""
        return max(int(getattr(self, name)),
                   int(self.ctx.values.get(f"{self.prefix}seen/{name}", 0)))

    # -- patches, installed before the student's module is imported ----------------------
    def install(self):
        torch = self.torch
        F = torch.nn.functional
        for name in ("cross_entropy", "nll_loss"):
            setattr(F, name, self._loss(getattr(F, name), name == "cross_entropy"))
        for owner in (torch.optim.Optimizer, torch.nn.Module):
            original = owner.zero_grad

            def zero_grad(*args, _original=original, **kwargs):
                self.zero_grads += 1
                return _original(*args, **kwargs)

            owner.zero_grad = zero_grad
        hooks = importlib.import_module("torch.optim.optimizer")
        hooks.register_optimizer_step_pre_hook(self._before_step)
        hooks.register_optimizer_step_post_hook(self._after_step)

    def _loss(self, original, logits):
        torch = self.torch

        def loss(input, target, *args, **kwargs):
            out = original(input, target, *args, **kwargs)
            if torch.is_grad_enabled() and getattr(input, "requires_grad", False):
                self._saw_loss(input, target, out, logits)
            return out

        return loss

    def _saw_loss(self, input, target, out, logits):
        torch = self.torch
        with torch.no_grad():
            self.loss_calls += 1
            value = out.detach().float().mean()
            self.losses.append(float(value))
            x = input.detach().float()
            self.loss_source = self.source
            if self.source == "val":
                self.val_losses += 1
            if x.dim() == 2 and x.shape[0] > 0:
                # probabilities: entries in [0, 1], every row summing to 1 (a softmax)
                if logits and float(x.min()) >= -1e-6 and float(x.max()) <= 1 + 1e-6 \
                        and float((x.sum(dim=1) - 1).abs().max()) < 1e-3:
                    self.flag("prob_inputs")
                if getattr(target, "shape", None) == x.shape[:1]:
                    self.correct += int((x.argmax(dim=1) == target).sum())
                    self.rows += int(x.shape[0])

    def _before_step(self, optimizer, args, kwargs):
        self.steps += 1
        # a step on validation batches: its loss was computed after a batch of val_loader
        # (the last batch drawn, when no loss was seen: a loss the patches do not see)
        if (self.loss_source if self.loss_calls else self.source) == "val":
            self.flag("val_steps")
        try:
            self.step_lrs.append(float(optimizer.param_groups[0]["lr"]))
        except Exception:  # noqa: BLE001 - an optimizer without param_groups
            self.step_lrs.append(float("nan"))
        if self.tracked is None:
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if param.grad is not None and self.tracked is None:
                        self.tracked = param
                        param.register_hook(self._arrived)
            return
        grad = self.tracked.grad
        if grad is None or self.prev is None or self.fresh is None:
            return
        now = grad.detach().reshape(-1)[:TRACKED].double()
        scale = float(now.norm()) + 1e-30
        if float(self.prev.norm()) < 1e-2 * scale:
            return  # the previous gradient is too small to tell accumulation apart
        self.judged += 1
        if float((now - self.prev - self.fresh).norm()) < 1e-3 * scale < \
                float((now - self.fresh).norm()):
            self.flag("accumulated")

    def _arrived(self, grad):
        part = grad.detach().reshape(-1)[:TRACKED].double()
        self.fresh = part.clone() if self.fresh is None else self.fresh + part

    def _after_step(self, optimizer, args, kwargs):
        grad = None if self.tracked is None else self.tracked.grad
        self.prev = None if grad is None else grad.detach().reshape(-1)[:TRACKED].double().clone()
        self.fresh = None

    # -- the training loader -------------------------------------------------------------
    def batch(self):
        self.batches += 1
        now = self.ctx.perf_counter()
        if now - self.last >= PROGRESS_S or self.batches >= self.total:
            self.last = now
            tmp = self.path + ".tmp"
            with open(tmp, "w") as fh:
                json.dump({"done": min(self.batches, self.total), "total": self.total}, fh)
            os.replace(tmp, self.path)

    def pass_ended(self, first_step):
        """After a whole pass over the training loader: an epoch when it took steps."""
        if self.steps > first_step:
            self.epochs.append((first_step, self.steps - first_step,
                                self.correct / max(self.rows, 1)))
            if self.evaluate is not None:
                self.val_logits.append(self.evaluate())
        self.correct, self.rows = 0, 0


class _Watched:
    """A grader's loader as the student's train() sees it: same batches, same len(). Each
    batch tells the observer which loader it came from ("train" or "val"); each pass over
    the training loader is reported (an epoch), and passes over the validation loader are
    counted (evaluation, or training on it when steps follow its batches)."""

    def __init__(self, loader, observer, source="train"):
        self._loader, self._observer, self._source = loader, observer, source

    def __len__(self):
        return len(self._loader)

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def __iter__(self):
        observer = self._observer
        if self._source == "val":
            observer.val_passes += 1
            for batch in self._loader:
                observer.source = "val"
                yield batch
            observer.source = None
            return
        first_step = observer.steps
        for batch in self._loader:
            observer.source = "train"
            observer.batch()
            yield batch
        observer.pass_ended(first_step)


def _images(torch, X, scale, rows=None):
    """Prepared rows (N, 3072) in HWC order -> a float32 tensor (N, 3, 32, 32) in the
    handout's channels-first layout, times scale; converted in chunks (no float64 copy)."""
    n = X.shape[0] if rows is None else min(rows, X.shape[0])
    out = torch.empty((n,) + IMAGE, dtype=torch.float32)
    for start in range(0, n, 2000):
        chunk = np.asarray(X[start:min(n, start + 2000)], dtype=np.float32)
        chunk = chunk.reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2) * np.float32(scale)
        out[start:start + chunk.shape[0]] = torch.from_numpy(np.ascontiguousarray(chunk))
    return out


def _logits(ctx, torch, model, images, batch_size, shape):
    """The model's outputs on images (N, 3, 32, 32) in eval mode, batch_size rows at a time
    (the last batch padded with zeros: some models accept only full batches), as
    `shape[0]` ("images" or "rows") says; the model's mode is restored."""
    was = model.training
    device, dtype = _place(torch, model)
    ctx.call(model.eval)
    outs = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            x = images[start:start + batch_size]
            n = x.shape[0]
            if n < batch_size:
                x = torch.cat([x, x.new_zeros((batch_size - n,) + IMAGE)])
            x = x.to(device=device, dtype=dtype)
            if shape[0] == "rows":
                out = ctx.call(model, x.reshape(x.shape[0], -1))
            else:
                try:
                    out = ctx.call(model, x)
                except Exception as exc:  # noqa: BLE001 - a StudentFailure
                    if start or _record(exc) is None or _record(exc)["kind"] != "exception":
                        raise
                    shape[0] = "rows"  # forward expects flattened rows: use them from now on
                    out = ctx.call(model, x.reshape(x.shape[0], -1))
            outs.append(ctx.array(out, "forward's output", dtype="float32")[:n])
    ctx.call(model.train, was)
    return np.concatenate(outs)


def _call_train(ctx, train, args):
    """train(model, train_loader, val_loader, device, num_epochs, learning_rate,
    learning_rate_decay, reg): by keyword when its parameters have these names, else in
    this order."""
    try:
        signature = inspect.signature(train)
        signature.bind(**dict(zip(TRAIN_ARGS, args)))
        return ctx.call(train, **dict(zip(TRAIN_ARGS, args)))
    except (TypeError, ValueError):
        return ctx.call(train, *args)


def train_mlp(ctx):
    """4b: the student's train() on the grader's data with the declared settings, observed;
    records the observations, the logits of the test images (inputs["X_test"], no labels)
    before and after train(), and of the validation images after every epoch and at the
    end. params["rows"], when given, keeps the first rows of the training set (a
    checkpoint mode's progress run)."""
    torch, device = ctx.torch()
    s, seed = ctx.params["settings"], int(ctx.params.get("seed", 0))
    files, scale = ctx.data_files, float(ctx.params["scale"])
    X = np.load(files["X_train"], mmap_mode="r", allow_pickle=False)
    rows = min(int(ctx.params.get("rows") or X.shape[0]), X.shape[0])  # a progress run's
    batch_size = int(s["batch_size"])
    total = int(s["num_epochs"]) * math.ceil(rows / batch_size)
    observer = _Observer(ctx, torch, total)
    observer.install()
    module, cls, train = _class_and_train(ctx)
    data = torch.utils.data
    train_set = data.TensorDataset(
        _images(torch, X, scale, rows),
        torch.from_numpy(np.load(files["y_train"], allow_pickle=False)[:rows].astype(np.int64)))
    val_images = _images(torch, np.load(files["X_val"], allow_pickle=False), scale)
    val_set = data.TensorDataset(
        val_images, torch.from_numpy(np.load(files["y_val"], allow_pickle=False).astype(np.int64)))
    shuffle = torch.Generator()
    shuffle.manual_seed(seed)
    train_loader = _Watched(data.DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                            generator=shuffle), observer)
    val_loader = _Watched(data.DataLoader(val_set, batch_size=batch_size, shuffle=False),
                          observer, "val")
    settings = {**s, "input_size": int(np.prod(IMAGE)), "num_classes": ctx.params["num_classes"]}
    try:
        model = _build(ctx, torch, cls, s["hidden_size"], settings)
    except Exception as exc:  # noqa: BLE001 - a StudentFailure: say which call failed
        record = _record(exc)
        if record is None:
            raise
        ctx.fail(record["kind"], f"{CLASS}({settings['input_size']}, {list(s['hidden_size'])}, "
                 f"{settings['num_classes']}): {record['message']}", record["where"],
                 record["detail"])
    model = ctx.call(model.to, device)
    init = getattr(module, INIT, None)
    if callable(init):
        ctx.call(model.apply, init)
    shape = ["images"]
    test = _images(torch, ctx.inputs["X_test"], scale)
    # the untrained model's outputs: the grader tells from them whether training changed it
    ctx.put("initial_test_logits", _logits(ctx, torch, model, test, batch_size, shape))
    observer.evaluate = lambda: _logits(ctx, torch, model, val_images, batch_size, shape)
    history = _call_train(ctx, train, (model, train_loader, val_loader, torch.device(device),
                                       int(s["num_epochs"]), float(s["learning_rate"]),
                                       float(s["learning_rate_decay"]), float(s["reg"])))
    observer.evaluate = None
    ctx.put("history_keys", sorted(str(k) for k in history)[:20]
            if isinstance(history, dict) else [])
    ctx.put("losses", np.array(observer.losses, dtype=np.float64))
    ctx.put("loss_calls", observer.loss_calls)
    ctx.put("steps", observer.steps)
    ctx.put("step_lrs", np.array(observer.step_lrs, dtype=np.float64))
    ctx.put("zero_grads", observer.zero_grads)
    ctx.put("judged", observer.judged)
    ctx.put("batches", observer.batches)
    for name in observer.FLAGS:
        ctx.put(name, observer.flagged(name))
    ctx.put("val_passes", observer.val_passes)
    ctx.put("val_losses", observer.val_losses)
    ctx.put("epoch_first_step", np.array([e[0] for e in observer.epochs], dtype=np.int64))
    ctx.put("epoch_steps", np.array([e[1] for e in observer.epochs], dtype=np.int64))
    ctx.put("epoch_train_acc", np.array([e[2] for e in observer.epochs], dtype=np.float64))
    if observer.val_logits:
        ctx.put("epoch_val_logits", np.stack(observer.val_logits))
    ctx.put("val_logits", _logits(ctx, torch, model, val_images, batch_size, shape))
    ctx.put("test_logits", _logits(ctx, torch, model, test, batch_size, shape))
    ctx.put("input_shape", shape[0])


def evaluate_checkpoint(ctx):
    """4b in checkpoint mode: the submitted state dict (its bytes are ctx.inputs
    ["checkpoint"]; the file itself is never copied into a sandbox) loaded with
    torch.load(weights_only=True), which refuses any pickled object other than tensors
    and plain containers, into MultiLayerPerceptron(3072, hidden_size, 10); records the
    logits of the validation and test images."""
    torch, device = ctx.torch()
    module = ctx.import_student(MODULE)
    cls = _class(ctx, module)
    s, scale = ctx.params["settings"], float(ctx.params["scale"])
    state = ctx.submitted_state_dict("model.state_dict()")
    settings = {"input_size": int(np.prod(IMAGE)), "num_classes": ctx.params["num_classes"]}
    model = _build(ctx, torch, cls, s["hidden_size"], settings)
    ctx.load_submitted_state(model, state, f"{CLASS}({settings['input_size']}, "
                             f"{list(s['hidden_size'])}, {settings['num_classes']}) "
                             "(hidden_size as declared)")
    model = ctx.call(model.to, device)
    batch_size = int(s["batch_size"])
    shape = ["images"]
    val = _images(torch, np.load(ctx.data_files["X_val"], allow_pickle=False), scale)
    ctx.put("val_logits", _logits(ctx, torch, model, val, batch_size, shape))
    test = _images(torch, ctx.inputs["X_test"], scale)
    ctx.put("test_logits", _logits(ctx, torch, model, test, batch_size, shape))
    ctx.put("input_shape", shape[0])


def depth_sweep(ctx):
    """4c (informational): the student's train() with the declared settings but
    ctx.params["epochs"] epochs on the first ctx.params["rows"] training rows, once per
    hidden_layers list of ctx.params["cases"], all in this one child (torch imported
    once). Per case: the parameter count, the loss of every step, the logits of the
    validation images after every epoch and at the end, and of the test images
    (inputs["X_test"], no labels) at the end (accuracies are the grader's)."""
    torch, device = ctx.torch()
    s, seed = ctx.params["settings"], int(ctx.params.get("seed", 0))
    files, scale = ctx.data_files, float(ctx.params["scale"])
    X = np.load(files["X_train"], mmap_mode="r", allow_pickle=False)
    rows = min(int(ctx.params["rows"]), X.shape[0])
    epochs, batch_size = int(ctx.params["epochs"]), int(s["batch_size"])
    cases = ctx.params["cases"]
    observer = _Observer(ctx, torch, len(cases) * epochs * math.ceil(rows / batch_size))
    observer.install()
    module, cls, train = _class_and_train(ctx)
    data = torch.utils.data
    labels = np.load(files["y_train"], allow_pickle=False)[:rows].astype(np.int64)
    train_set = data.TensorDataset(_images(torch, X, scale, rows), torch.from_numpy(labels))
    val_images = _images(torch, np.load(files["X_val"], allow_pickle=False), scale)
    val_set = data.TensorDataset(
        val_images, torch.from_numpy(np.load(files["y_val"], allow_pickle=False).astype(np.int64)))
    val_loader = _Watched(data.DataLoader(val_set, batch_size=batch_size, shuffle=False),
                          observer, "val")
    test_images = _images(torch, ctx.inputs["X_test"], scale)
    init = getattr(module, INIT, None)
    settings = {"input_size": int(np.prod(IMAGE)), "num_classes": ctx.params["num_classes"]}
    for case in cases:
        name = case["name"]
        with ctx.case(name):
            observer.reset(f"{name}/")
            torch.manual_seed(seed)
            model = _build(ctx, torch, cls, case["hidden_layers"], settings)
            ctx.put(f"{name}/parameters", int(sum(p.numel() for p in model.parameters())))
            model = ctx.call(model.to, device)
            if callable(init):
                ctx.call(model.apply, init)
            shuffle = torch.Generator()
            shuffle.manual_seed(seed)
            loader = _Watched(data.DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                              generator=shuffle), observer)
            shape = ["images"]
            observer.evaluate = lambda: _logits(ctx, torch, model, val_images, batch_size, shape)
            _call_train(ctx, train, (model, loader, val_loader, torch.device(device), epochs,
                                     float(s["learning_rate"]), float(s["learning_rate_decay"]),
                                     float(s["reg"])))
            observer.evaluate = None
            ctx.put(f"{name}/losses", np.array(observer.losses, dtype=np.float64))
            ctx.put(f"{name}/epoch_steps", np.array([e[1] for e in observer.epochs], dtype=np.int64))
            if observer.val_logits:
                ctx.put(f"{name}/epoch_val_logits", np.stack(observer.val_logits))
            ctx.put(f"{name}/val_logits", _logits(ctx, torch, model, val_images, batch_size, shape))
            ctx.put(f"{name}/test_logits", _logits(ctx, torch, model, test_images, batch_size,
                                                   shape))
            ctx.put(f"{name}/val_steps", observer.flagged("val_steps"))
