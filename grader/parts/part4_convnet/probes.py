"""Sandbox probes of Part 4's MNIST ConvNet: build the student's ConvNet and record what
its forward applies, layer by layer (7b); train it with the student's train() and record
the weights it leaves (7d), then, in another child that never runs train(), load those
weights into a fresh ConvNet() and record the logits of the test digits.

Runs only inside a sandbox child (grader/core/sandbox/child.py loads it by path and passes
a ProbeContext); it imports numpy, and torch through ctx.torch(), and judges nothing: the
expected layers, the accuracies and the verdicts are computed in the grader's process.
Test labels never come here; test images do (as inputs), and only to a child that
never runs train().

How layers are counted: a layer is one call, during the grader's forward pass, of a leaf
module (a module without children: nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Linear, ...) or
of a functional activation or pooling called from the student's own code (F.relu,
torch.relu, x.relu(), F.max_pool2d, ...). A functional call made inside a leaf module
(nn.ReLU calls F.relu) or inside another recorded function (F.max_pool2d calls
torch.max_pool2d) is part of that layer, not a layer of its own. Each row records the
layer's kind, its name in the model, its learnable parameters (those of the module
itself; 0 for a function), its output shape without the batch dimension and its settings
(kernel, stride, padding; in and out features).

Only the layers on the path to the returned output count: the forward runs with
gradients on, and a layer whose result never reaches the output (its autograd graph) is
left out and named; a layer operation called directly (torch.conv2d, F.linear, x @ W.T)
is a layer of its kind all the same (grader/core/sandbox/kits/output_path.py).
"""
import math

import numpy as np

try:  # in the sandbox: the kits beside this probe, which sandbox_child preloads
    import grader_kit_layer_calls as layer_calls, grader_kit_output_path as paths
    import grader_kit_training as kit
except ImportError:  # imported from the grader package (tests)
    from grader.core.sandbox.kits import layer_calls, output_path as paths, training as kit

MODULE = "convnet_mnist"
CLASS = "ConvNet"
TRAIN = "train"
TRAIN_ARGS = ("model", "train_loader", "device", "num_epochs", "learning_rate")
IMAGE = (1, 28, 28)
MAX_ROWS = 64  # layers recorded at most
# the kind recorded for a layer operation called directly (PathGraph's kinds otherwise)
DIRECT_KINDS = {"conv": "conv2d", "maxpool": "max_pool2d", "avgpool": "avg_pool2d",
                "resize": "interpolate"}
# functional activations and poolings a forward may call instead of a module:
# (owner path, attribute) -> the kind recorded
FUNCTIONS = {
    ("nn.functional", "relu"): "relu", ("nn.functional", "relu_"): "relu",
    ("", "relu"): "relu", ("", "relu_"): "relu",
    ("Tensor", "relu"): "relu", ("Tensor", "relu_"): "relu",
    ("nn.functional", "leaky_relu"): "leaky_relu", ("nn.functional", "elu"): "elu",
    ("nn.functional", "sigmoid"): "sigmoid", ("", "sigmoid"): "sigmoid",
    ("Tensor", "sigmoid"): "sigmoid",
    ("nn.functional", "tanh"): "tanh", ("", "tanh"): "tanh", ("Tensor", "tanh"): "tanh",
    ("nn.functional", "max_pool2d"): "max_pool2d", ("", "max_pool2d"): "max_pool2d",
    ("nn.functional", "avg_pool2d"): "avg_pool2d", ("", "avg_pool2d"): "avg_pool2d",
    ("nn.functional", "softmax"): "softmax", ("", "softmax"): "softmax",
    ("Tensor", "softmax"): "softmax",
    ("nn.functional", "log_softmax"): "log_softmax", ("", "log_softmax"): "log_softmax",
    ("Tensor", "log_softmax"): "log_softmax",
}


def _class(ctx):
    """The student's ConvNet class, or a failure naming what the module defines."""
    return kit.student_class(ctx, ctx.import_student(MODULE), CLASS, MODULE)


def _build(ctx, torch, cls):
    """ConvNet() as the handout builds it (no arguments), an nn.Module, or a failure."""
    return kit.build(ctx, torch, cls, (), f"{CLASS}()")


def _owner(torch, path):
    owner = torch
    for part in path.split(".") if path else ():
        owner = getattr(owner, part)
    return owner


def _pair(value):
    """A kernel size or stride as [h, w] (None stays None)."""
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        return [int(v) for v in value][:2] * (2 if len(value) == 1 else 1)
    return [int(value), int(value)]


def _shape(out):
    """The output's shape without the batch dimension (the first tensor of a tuple)."""
    if isinstance(out, (tuple, list)) and out:
        out = out[0]
    shape = getattr(out, "shape", None)
    return [int(s) for s in shape[1:]] if shape is not None else None


def _settings(torch, module):
    """The layer settings worth showing: conv (in, out, kernel, stride, padding), pooling
    (kernel, stride), linear (in, out)."""
    nn = torch.nn
    if isinstance(module, nn.Conv2d):
        padding = module.padding if isinstance(module.padding, str) else _pair(module.padding)
        return {"in": int(module.in_channels), "out": int(module.out_channels),
                "kernel": _pair(module.kernel_size), "stride": _pair(module.stride),
                "padding": padding}
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return {"kernel": _pair(module.kernel_size),
                "stride": _pair(module.stride or module.kernel_size)}
    if isinstance(module, nn.Linear):
        return {"in": int(module.in_features), "out": int(module.out_features)}
    return {}


class _Recorder(layer_calls.Calls):
    """Records the layers a forward pass applies (module docstring: how they are counted),
    each with the module that made it (extras); path() keeps those on the path to the
    output and adds the layer operations called directly."""

    def __init__(self, torch):
        super().__init__(torch, MAX_ROWS)
        self.names, self.handles, self.patched, self.leaves = {}, [], [], []
        self.called = set()

    def clear(self):
        super().clear()
        self.befores = []

    def watch(self, model):
        """Hooks every leaf module of the model (its layers)."""
        self.names = {id(m): n for n, m in model.named_modules()}
        self.leaves = [m for m in model.modules() if m is not model and not list(m.children())]
        for module in self.leaves:
            self.handles.append(module.register_forward_pre_hook(self._enter))
            self.handles.append(module.register_forward_hook(self._leave))

    def _enter(self, module, args):
        self.depth += 1
        self.befores.append(layer_calls.grad_nodes(args))

    def _leave(self, module, args, out):
        self.depth -= 1
        before = self.befores.pop() if self.befores else []
        if self.on and self.depth == 0 and not self.full():
            params = sum(int(p.numel()) for p in module.parameters())
            self.add([type(module).__name__, self.names.get(id(module), "?"), params,
                      _shape(out), _settings(self.torch, module)], out, before, module)

    def install(self):
        """Wraps the functional activations and poolings (restored by remove()); done before
        the student's module is imported, so `from torch.nn.functional import relu` gets
        the wrapped function too."""
        for (path, name), kind in FUNCTIONS.items():
            owner = _owner(self.torch, path)
            original = getattr(owner, name, None)
            if original is None:
                continue
            setattr(owner, name, self.wrap(original, lambda *call, kind=kind:
                                           self._saw(kind, *call)))
            self.patched.append((owner, name, original))

    def _saw(self, kind, args, kwargs, out, before):
        if self.full():
            return
        settings = {}
        if kind.endswith("pool2d"):
            bound = dict(zip(("input", "kernel_size", "stride"), args))
            bound.update(kwargs)
            kernel = _pair(bound.get("kernel_size"))
            settings = {"kernel": kernel, "stride": _pair(bound.get("stride")) or kernel}
        self.add([kind, "", 0, _shape(out), settings], out, before)

    def path(self, out, x):
        """(rows, notes): the recorded layers whose output reaches out, and the layer
        operations on the path no recorded call made (a torch.conv2d, F.linear or x @ W
        called directly: named by their function, with the parameters they use), in call
        order; notes say what was left out, and why. Marks the modules on the path as
        called."""
        def dropped(row, module):
            return (row[1] or f"F.{row[0]}") \
                if row[2] or row[0] in ("relu", "max_pool2d", "ReLU", "MaxPool2d") else ""

        def direct(kind, node):
            shape_in, shape_out = paths.node_shapes(node)
            kernel, stride, padding = paths.node_settings(node)
            name = DIRECT_KINDS.get(kind, kind)
            settings = {}
            if name == "conv2d":
                settings = {"in": shape_in[1] if len(shape_in) > 1 else None,
                            "out": shape_out[1] if len(shape_out) > 1 else None,
                            "kernel": kernel, "stride": stride, "padding": padding}
            elif name == "linear":
                settings = {"in": shape_in[-1] if shape_in else None,
                            "out": shape_out[-1] if shape_out else None}
            elif name.endswith("pool2d"):
                settings = {"kernel": kernel, "stride": stride}
            return [name, "", paths.node_parameters(node, {id(x)}),
                    [int(s) for s in shape_out[1:]] if shape_out else None, settings], None

        kept, notes = super().path(out, dropped, direct)
        self.called = {id(module) for _, module in kept if module is not None}
        return [row for row, _ in kept][:MAX_ROWS], notes

    def remove(self):
        for handle in self.handles:
            handle.remove()
        for owner, name, original in reversed(self.patched):
            setattr(owner, name, original)


def summary(ctx):
    """7b: ConvNet() run once in eval mode with gradients on on the grader's digits (N, 1,
    28, 28), else on `batch_size` of them (a forward written for one batch size); records
    the layers on the path to its output (rows: kind, name, parameters, output shape,
    settings; _Recorder.path), what was left out ("path_notes"), the model's total
    parameter count, its modules with parameters whose result never reaches the output,
    and the output's shape."""
    torch, _ = ctx.torch()
    recorder = _Recorder(torch)
    recorder.install()
    model = _build(ctx, torch, _class(ctx))
    ctx.call(model.eval)
    images = torch.from_numpy(np.ascontiguousarray(ctx.inputs["X"], dtype=np.float32))
    tries = [images]
    batch_size = int(ctx.params.get("batch_size", 0))
    if batch_size > 0 and batch_size != images.shape[0]:
        tries.append(images.repeat(math.ceil(batch_size / images.shape[0]), 1, 1, 1)[:batch_size])
    recorder.watch(model)
    layer_calls.gradients_on(torch, model)
    try:
        out, x, failures = recorder.first_forward(ctx, model, tries)
        if x is None:
            first = failures[0]
            ctx.fail("exception", f"forward failed on a batch of {int(first[0].shape[0])} "
                     f"digits (N, 1, 28, 28): {first[1]['message']}", first[1].get("where", ""),
                     first[1].get("detail", ""))
        rows, notes = recorder.path(out, x) if hasattr(out, "shape") else (recorder.rows, [])
    finally:
        recorder.remove()
    ctx.put("input_rows", int(x.shape[0]))
    ctx.put("layers", rows)
    ctx.put("path_notes", notes)
    ctx.put("total_parameters", int(sum(p.numel() for p in model.parameters())))
    ctx.put("unused", [[recorder.names.get(id(m), "?"), type(m).__name__,
                        int(sum(p.numel() for p in m.parameters()))]
                       for m in recorder.leaves
                       if id(m) not in recorder.called and any(True for _ in m.parameters())][:20])
    ctx.put("output_shape", [int(s) for s in out.shape] if hasattr(out, "shape") else None)


# -- 7d: training ---------------------------------------------------------------------

def train_convnet(ctx):
    """7d: ConvNet() trained by the student's train() on the grader's training digits
    (float32 (N, 1, 28, 28) in [0, 1], int64 labels; shuffled batches of the declared
    batch_size) for the declared epochs and learning rate, on the grader's device;
    records the loss of every training step (observed at F.cross_entropy / F.nll_loss),
    the optimizer steps taken, and the state dict the model is left with ("state/NAME").
    No test digit comes here: evaluate_state judges the weights in a child of its own."""
    torch, device = ctx.torch()
    s = ctx.params["settings"]
    X, rows = kit.train_rows(ctx)  # params["rows"]: a progress run's
    batch_size, epochs = int(s["batch_size"]), int(s["num_epochs"])
    observer = kit.LoopObserver(ctx, torch, epochs * math.ceil(rows / batch_size))
    observer.install()
    module = ctx.import_student(MODULE)
    cls = kit.student_class(ctx, module, CLASS, MODULE)
    train = kit.student_function(ctx, module, TRAIN, "(" + ", ".join(TRAIN_ARGS) + ")", MODULE)
    X = torch.from_numpy(np.array(X[:rows], dtype=np.float32))
    y = np.load(ctx.data_files["y_train"], allow_pickle=False)[:rows].astype(np.int64)
    loader = kit.shuffled(ctx, torch, torch.utils.data.TensorDataset(X, torch.from_numpy(y)),
                          batch_size, observer)
    torch.manual_seed(int(ctx.params.get("seed", 0)))  # as evaluate_state builds it
    model = ctx.call(_build(ctx, torch, cls).to, device)
    kit.call_by_name(ctx, train, TRAIN_ARGS, (model, loader, torch.device(device), epochs,
                                              float(s["learning_rate"])))
    kit.put_run(ctx, observer, model)


def _test_logits(ctx, torch, model):
    """The model's logits (N, 10) for the test digits ctx.inputs["X_test"], in eval mode,
    1,000 at a time."""
    test = torch.from_numpy(np.ascontiguousarray(ctx.inputs["X_test"], dtype=np.float32))
    return kit.logits(ctx, torch, model, test, 1000)


def evaluate_state(ctx):
    """7d, in a child that never runs train(): a fresh ConvNet() built as train_convnet
    built it with the weights train() left (kit.trained_model); records the logits of the
    test digits inputs["X_test"]."""
    torch, device = ctx.torch()
    cls = _class(ctx)
    model = kit.trained_model(
        ctx, torch, lambda: _build(ctx, torch, cls), device,
        "the weights train() left do not fit a new ConvNet()",
        "train() should train the model it is given in place (no new layers added to it, "
        "no other model returned).")
    ctx.put("test_logits", _test_logits(ctx, torch, model))


def evaluate_checkpoint(ctx):
    """7d in checkpoint mode: the submitted state dict (kit.checkpoint_model) loaded into
    ConvNet(); records the logits of the test digits."""
    torch, device = ctx.torch()
    model = _build(ctx, torch, _class(ctx))
    model = kit.checkpoint_model(ctx, lambda: model, "model.state_dict()", "your ConvNet()",
                                 device)
    ctx.put("test_logits", _test_logits(ctx, torch, model))
