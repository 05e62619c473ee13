"""Sandbox probes of Part 4's CIFAR-10 CNN (seed 003): call the student's theory.py,
trace the CNN and its blocks, train it with sup_trn; record plain results.

Runs only inside a sandbox child (grader/core/sandbox/child.py loads it by path and passes
a ProbeContext) and judges nothing: expected sizes, gradients, structures and accuracies
are computed in the grader's process from what is recorded here. output_sizes and
bias_grads import numpy only (theory.py must not need torch); the others import torch
through ctx.torch(). Test labels never come here; test images do (as inputs), and for 6c
only to a child that never runs sup_trn: train_cnn returns the weights sup_trn leaves, and
evaluate_state, in a child of its own, loads them into a fresh CNN to take its logits.
"""
import math

import numpy as np

try:  # in the sandbox: the kits beside this probe, which sandbox_child preloads
    import grader_kit_layer_calls as layer_calls, grader_kit_output_path as paths
    import grader_kit_training as kit
except ImportError:  # imported from the grader package (tests)
    from grader.core.sandbox.kits import layer_calls, output_path as paths, training as kit

THEORY, BUILD, TRAIN_MODULE = "theory", "build_net", "algo_train"
SIZE_FN, GRAD_FN, TRAIN_FN = "conv_output_size", "bias_gradients", "sup_trn"
INP_DIM, NUM_CLASSES = (3, 32, 32), 10
MAX_EVENTS = 64  # layer calls recorded per traced forward pass
STD_ROWS = 10000  # training rows the per-channel standard deviation is taken over
# torch.nn.functional calls traced in 6b (nn.Conv2d, nn.MaxPool2d, nn.Linear ... call them
# too): name -> kind of layer
TRACED = {"conv2d": "conv", "max_pool2d": "maxpool", "adaptive_max_pool2d": "maxpool",
          "avg_pool2d": "avgpool", "adaptive_avg_pool2d": "avgpool", "lp_pool2d": "lppool",
          "interpolate": "resize", "linear": "linear", "relu": "relu"}
KIND, FUNCTION, MODULE = 0, 1, 2  # of a recorded layer (structure.py reads the rest)
DIRECT = "a direct torch call in forward"  # the module of a layer no traced call made


# -- 6a, 6d: theory.py (numpy only) -------------------------------------------------------

def output_sizes(ctx):
    """6a: conv_output_size(h_in, kernel, padding, stride) for every row of
    inputs["cases"] (M, 4), as plain Python ints; one case per row."""
    func = kit.student_function(ctx, ctx.import_student(THEORY), SIZE_FN,
                                "(h_in, kernel, padding, stride)")
    for i, row in enumerate(ctx.inputs["cases"]):
        with ctx.case(f"case{i}"):
            value = ctx.call(func, *(int(v) for v in row))
            ctx.put(f"case{i}", ctx.array(value, f"{SIZE_FN}{tuple(int(v) for v in row)}"))


def bias_grads(ctx):
    """6d: bias_gradients(x, W1, b1, W2, b2, t) per case (inputs keyed "case/field");
    records "case/db1" and "case/db2"."""
    func = kit.student_function(ctx, ctx.import_student(THEORY), GRAD_FN,
                                "(x, W1, b1, W2, b2, t)")
    for name in ctx.params["cases"]:
        with ctx.case(name):
            args = [np.array(ctx.inputs[f"{name}/{k}"], dtype=np.float64, copy=True)
                    for k in ("x", "W1", "b1", "W2", "b2", "t")]
            result = ctx.call(func, *args)
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                ctx.fail("api", f"{GRAD_FN} should return a pair (dL/db1, dL/db2); got "
                         f"{type(result).__name__}"
                         + (f" of length {len(result)}" if isinstance(result, (tuple, list))
                            else ""))
            ctx.put(f"{name}/db1", ctx.array(result[0], "dL/db1 (the first value returned)"))
            ctx.put(f"{name}/db2", ctx.array(result[1], "dL/db2 (the second value returned)"))


# -- 6b: the layers a forward pass applies ---------------------------------------------

def _size(value):
    """A kernel/stride/padding argument as a JSON-able value."""
    if isinstance(value, (list, tuple)):
        return [_size(v) for v in value]
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)


def _arg(args, kwargs, index, name, default=None):
    return args[index] if len(args) > index else kwargs.get(name, default)


class _Tracer(layer_calls.Calls):
    """Records the torch.nn.functional layer calls of a forward pass (outermost only; a
    module such as nn.Conv2d calls F.conv2d, so modules and functional calls are seen
    alike), with the module that made each call; keeps the outputs of the Linear calls
    (extras). path() then keeps the calls on the path to the output and adds the layer
    operations called directly."""

    def __init__(self, torch):
        super().__init__(torch, MAX_EVENTS)
        self.stack = []

    def install(self):
        F = self.torch.nn.functional
        for name, kind in TRACED.items():
            if hasattr(F, name):
                setattr(F, name, self.wrap(getattr(F, name), lambda *call, name=name, kind=kind:
                                           self.saw(name, kind, *call)))

    def saw(self, name, kind, args, kwargs, out, before):
        x = _arg(args, kwargs, 0, "input")
        y = out[0] if isinstance(out, (tuple, list)) else out
        shape_in = list(getattr(x, "shape", []))
        shape_out = list(getattr(y, "shape", []))
        value = None
        if kind == "conv":
            weight = _arg(args, kwargs, 1, "weight")
            kernel = list(getattr(weight, "shape", [])[2:])
            stride = _size(_arg(args, kwargs, 3, "stride", 1))
            padding = _size(_arg(args, kwargs, 4, "padding", 0))
        elif kind in ("linear", "relu"):
            kernel, stride, padding = [], 1, 0
            if kind == "linear" and hasattr(y, "detach"):
                value = y.detach().cpu().double().numpy().copy()
        else:
            kernel = _size(_arg(args, kwargs, 1, "kernel_size", _arg(args, kwargs, 1,
                                                                      "output_size")))
            stride = _size(_arg(args, kwargs, 2, "stride"))
            padding = _size(_arg(args, kwargs, 3, "padding", 0))
        self.add([kind, name, self.stack[-1] if self.stack else "", shape_in, shape_out,
                  kernel, stride, padding], out, before, value)

    def watch(self, model):
        """Names the module of each call: pre-hooks push a module's name, hooks pop it."""
        def leave(module, args, output):  # returns None: the output stays the module's
            if self.stack:
                self.stack.pop()

        handles = []
        for name, module in model.named_modules():
            if module is model:
                continue
            handles.append(module.register_forward_pre_hook(
                lambda m, a, name=name: self.stack.append(name) and None))
            handles.append(module.register_forward_hook(leave))
        return handles

    def run(self, ctx, model, x):
        """model(x) in eval mode with gradients on (its parameters and x requiring grad,
        so that the output's autograd graph reaches every layer that made it), traced;
        returns its output."""
        torch = self.torch
        self.clear()
        self.stack = []
        handles = self.watch(model) if isinstance(model, torch.nn.Module) else []
        ctx.call(model.eval)
        layer_calls.gradients_on(torch, model)
        x = x.detach().clone().requires_grad_(True)
        self.on = True
        try:
            with torch.enable_grad():
                return ctx.call(model, x)
        finally:
            self.on = False
            for handle in handles:
                handle.remove()

    def path(self, out):
        """(events, values, notes) of the layers on the path to out: the recorded calls
        whose output reaches it, and the layer operations on it that no recorded call made
        (module "a direct torch call"), in call order; values: each Linear call's output
        (None for the others); notes: what was left out, and why."""
        def dropped(event, value):
            return (event[MODULE] or event[FUNCTION]) \
                if event[KIND] in ("conv", "linear", "maxpool") else ""

        def direct(kind, node):
            shape_in, shape_out = paths.node_shapes(node)
            kernel, stride, padding = paths.node_settings(node)
            value = None
            if kind == "linear" and node is getattr(out, "grad_fn", None):
                value = out.detach().cpu().double().numpy().copy()
            return [kind if kind in TRACED.values() else "activation",
                    paths.direct_function(kind, node), DIRECT, shape_in, shape_out,
                    kernel or [], 1 if stride is None else stride,
                    0 if padding is None else padding], value

        kept, notes = super().path(out, dropped, direct)
        return [e for e, _ in kept][:MAX_EVENTS], [v for _, v in kept][:MAX_EVENTS], notes

    def put(self, ctx, prefix, out):
        """Records the layers on the path to out and the output under prefix."""
        if not hasattr(out, "detach"):
            ctx.put(prefix + "events", self.rows)
            ctx.fail("api", f"forward returned a {type(out).__name__}, not a tensor")
        events, values, notes = self.path(out)
        ctx.put(prefix + "events", events)
        ctx.put(prefix + "path_notes", notes)
        ctx.put(prefix + "output", ctx.array(out, "forward's output"))
        linears = [v for e, v in zip(events, values) if e[KIND] == "linear"]
        if linears:
            ctx.put(prefix + "linear_count", len(linears))
            if linears[-1] is not None:
                ctx.put(prefix + "last_linear", linears[-1])


_TRACERS = []  # the child's one tracer: installed once, before the student's module


def _tracer(torch):
    """The tracer of this child, installed on first use (6b's two calls share it, so a
    name the student imported from torch.nn.functional is traced in both)."""
    if not _TRACERS:
        tracer = _Tracer(torch)
        tracer.install()
        _TRACERS.append(tracer)
    return _TRACERS[0]


def _build_cnn(ctx, torch, cls):
    """(CNN((3, 32, 32), 10), "(3, 32, 32)"), else (CNN(3, 10), "3") when the student's
    CNN takes the number of channels only; fails with the first attempt's error."""
    first = None
    for inp_dim, label in ((INP_DIM, "(3, 32, 32)"), (INP_DIM[0], "3")):
        try:
            return kit.build(ctx, torch, cls, (inp_dim, NUM_CLASSES), "CNN(...)"), label
        except Exception as exc:  # noqa: BLE001 - a StudentFailure from ctx.call
            record = kit.failure(exc, ("exception", "todo"))
            if record is None:
                raise
            first = first or record
    ctx.fail(first["kind"], first["message"], first["where"], first["detail"])


def structure(ctx):
    """6b.1: CNN((3, 32, 32), 10) run once on inputs["X"] (N, 3, 32, 32), traced."""
    torch, _ = ctx.torch()
    tracer = _tracer(torch)
    module = ctx.import_student(BUILD)
    model, used = _build_cnn(ctx, torch, kit.student_class(ctx, module, "CNN"))
    ctx.put("inp_dim", used)
    x = torch.from_numpy(np.ascontiguousarray(ctx.inputs["X"], dtype=np.float32))
    try:
        out = tracer.run(ctx, model, x)
    except Exception:  # noqa: BLE001 - a StudentFailure: the layers before it still tell
        ctx.put("events", tracer.rows)
        raise
    tracer.put(ctx, "", out)


def blocks(ctx):
    """6b.2: ConvBlock(kernel, inp_ch, out_ch) and DenseBlock(inp, out[, None]) built
    and run on their own, one case each (params["cases"]; input "case/X"), traced."""
    torch, _ = ctx.torch()
    tracer = _tracer(torch)
    module = ctx.import_student(BUILD)
    for case in ctx.params["cases"]:
        name = case["name"]
        with ctx.case(name):
            x = torch.from_numpy(np.ascontiguousarray(ctx.inputs[f"{name}/X"], dtype=np.float32))
            if case["kind"] == "conv":
                cls = kit.student_class(ctx, module, "ConvBlock")
                args = (case["kernel"], case["inp_ch"], case["out_ch"])
            else:
                cls = kit.student_class(ctx, module, "DenseBlock")
                args = (case["inp"], case["out"]) + (() if case["act"] == "relu" else (None,))
            block = kit.build(ctx, torch, cls, args, f"{cls.__name__}(...)")
            tracer.put(ctx, f"{name}/", tracer.run(ctx, block, x))


# -- 6c: training with sup_trn ----------------------------------------------------------

def _scale(X, rows):
    """1 / the per-channel standard deviation of the first rows of the prepared training
    rows (N, 3072; HWC order, mean image already subtracted), as the course's image
    statistics standardise them: (3,) float32."""
    n = min(rows, STD_ROWS, X.shape[0])
    sums, squares = np.zeros(3), np.zeros(3)
    for start in range(0, n, 2000):
        chunk = np.asarray(X[start:min(n, start + 2000)], dtype=np.float64).reshape(-1, 3)
        sums += chunk.sum(axis=0)
        squares += (chunk ** 2).sum(axis=0)
    count = n * 32 * 32
    std = np.sqrt(np.maximum(squares / count - (sums / count) ** 2, 1e-12))
    return (1.0 / std).astype(np.float32)


def _logits(ctx, torch, model, images):
    """The model's outputs (N, 10) on images (N, 3, 32, 32), eval mode, no gradients."""
    return kit.logits(ctx, torch, model, images, 500, "the CNN's output", cast=False)


def _no_cuda_needed(torch, device):
    """On the CPU, torch.cuda.current_device() returns 0 instead of raising: the course's
    sup_trn prints it unconditionally. Nothing else of torch.cuda changes."""
    if device != "cuda":
        torch.cuda.current_device = lambda: 0


def train_cnn(ctx):
    """6c: CNN((3, 32, 32), 10) trained by the student's sup_trn(net, trn_loader,
    val_loader, opt_dict) on the grader's data (params["rows"] training rows, all when
    absent) with params["opt_dict"]; records the losses seen, the steps and batches, and
    the state dict of the network sup_trn leaves ("state/NAME"). No test image comes here:
    evaluate_state judges the weights in a child of its own."""
    torch, device = ctx.torch()
    _no_cuda_needed(torch, device)
    opt = dict(ctx.params["opt_dict"])
    X, rows = kit.train_rows(ctx)
    scale = _scale(X, rows)
    tbs, vbs = int(opt["tbs"]), int(opt["vbs"])
    observer = kit.LoopObserver(ctx, torch, int(opt["num_epochs"]) * math.ceil(rows / tbs))
    observer.install()
    module = ctx.import_student(BUILD)
    cls = kit.student_class(ctx, module, "CNN")
    train = kit.student_function(ctx, ctx.import_student(TRAIN_MODULE), TRAIN_FN,
                                 "(net, trn_loader, val_loader, opt_dict)")
    train_set, _, val_set = kit.tensor_sets(ctx, torch, scale, INP_DIM, rows)
    trn_loader = kit.shuffled(ctx, torch, train_set, tbs, observer)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=vbs, shuffle=False)
    torch.manual_seed(int(ctx.params.get("seed", 0)))  # as evaluate_state builds it
    model, used = _build_cnn(ctx, torch, cls)
    ctx.put("inp_dim", used)
    model = ctx.call(model.to, device)
    opt.update({"gpu": device == "cuda", "gpu_idx": 0, "trn_size": rows,
                "val_size": len(val_set), "inp_dim": INP_DIM, "out_dim": NUM_CLASSES})
    result = ctx.call(train, model, trn_loader, val_loader, opt)
    returned = result[0] if isinstance(result, (list, tuple)) and result else result
    ctx.put("returned", type(result).__name__)
    kit.put_run(ctx, observer, returned if isinstance(returned, torch.nn.Module) else model,
                owner="net")


def _eval_images(ctx, torch):
    """(validation, test) images as the training run saw them: (N, 3, 32, 32) float32,
    standardised with the per-channel scale of its params["rows"] training rows."""
    scale = _scale(*kit.train_rows(ctx))
    val = kit.images(torch, np.load(ctx.data_files["X_val"], allow_pickle=False), scale,
                     INP_DIM)
    return val, kit.images(torch, ctx.inputs["X_test"], scale, INP_DIM)


def evaluate_state(ctx):
    """6c, in a child that never runs sup_trn (and never sees a label): a fresh CNN built
    as train_cnn built it with the weights sup_trn left (kit.trained_model); records the
    logits of the validation and test images."""
    torch, device = ctx.torch()
    _no_cuda_needed(torch, device)
    cls = kit.student_class(ctx, ctx.import_student(BUILD), "CNN")
    model = kit.trained_model(
        ctx, torch, lambda: _build_cnn(ctx, torch, cls)[0], device,
        "the weights of the network sup_trn left do not fit a new CNN((3, 32, 32), 10)",
        "sup_trn should train the net it is given (or return it as its first result), "
        "without adding layers to it.", owner="net")
    val, test = _eval_images(ctx, torch)
    ctx.put("val_logits", _logits(ctx, torch, model, val))
    ctx.put("test_logits", _logits(ctx, torch, model, test))


def evaluate_checkpoint(ctx):
    """6c in checkpoint mode: the submitted state dict (kit.checkpoint_model) loaded into
    CNN((3, 32, 32), 10); records the logits of the validation and test images."""
    torch, device = ctx.torch()
    cls = kit.student_class(ctx, ctx.import_student(BUILD), "CNN")
    model = kit.checkpoint_model(ctx, lambda: _build_cnn(ctx, torch, cls)[0],
                                 "net.state_dict()", "your CNN((3, 32, 32), 10)", device)
    val, test = _eval_images(ctx, torch)
    ctx.put("val_logits", _logits(ctx, torch, model, val))
    ctx.put("test_logits", _logits(ctx, torch, model, test))
