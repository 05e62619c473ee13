"""The probe-side toolkit of the checks that run student code, training checks above all:
looking up the student's classes and functions, calling them, reporting progress,
observing a torch training loop from outside it, and loading a submitted checkpoint.

Runs in the sandboxed child next to student code (the sandbox copies this file beside the
probe; sandbox_child preloads it as `grader_kit_training`). Standard library only at import
time: numpy is imported where it is needed, and torch is never imported here, the probe
hands over the torch module it got from ctx.torch(). It names no question: each probe passes
its own names, signatures and messages.

Student code shares this process and can reach this module through sys.modules. Nothing
here keeps state at module level: an observer's counts live on the instance the probe
made (reachable from the functions it patches, as a probe's own were), and each finding
that points at a bug is written to ctx's values the moment it is seen.
"""
import importlib
import inspect
import json
import os

PROGRESS_S = 0.2  # how often a progress file is rewritten, at most
TRACKED = 4096  # entries of the tracked parameter's gradient compared between steps



# -- timing the reference's step --------------------------------------------------------

def timed_steps(ctx, iters, limit):
    """Yields the step numbers 0..iters of a timed loop (step 0 is the untimed warm-up) and
    times each later step; stops once two steps were timed and `limit` seconds have passed.
    When the loop ends, records seconds_per_iteration (the mean) and iterations_timed; the
    caller's loop must run to its end (no break), or nothing is recorded."""
    times, start = [], ctx.perf_counter()
    for step in range(int(iters) + 1):
        began = ctx.perf_counter()
        yield step
        if step:
            times.append(ctx.perf_counter() - began)
        if len(times) >= 2 and ctx.perf_counter() - start > limit:
            break
    ctx.put("seconds_per_iteration", sum(times) / len(times) if times else float("nan"))
    ctx.put("iterations_timed", len(times))

# -- the student's code -----------------------------------------------------------------

def failure(exc, kinds=None):
    """The failure record of a StudentFailure (what ctx.call raises), when its kind is one
    of `kinds` (any kind when None); else None, and the caller re-raises."""
    record = getattr(exc, "record", None)
    return record if record is not None and (kinds is None or record["kind"] in kinds) \
        else None


def student_class(ctx, module, name, file=None, strict=True):
    """module.NAME: a class (strict), or anything but None; else the case fails ("missing")
    naming FILE.py (module.__name__ by default) and the names the module defines."""
    cls = getattr(module, name, None)
    if (not isinstance(cls, type)) if strict else cls is None:
        names = sorted(n for n in vars(module) if not n.startswith("_"))
        ctx.fail("missing", f"{file or module.__name__}.py defines no class {name}",
                 detail="names it defines: " + ", ".join(names[:20]))
    return cls


def student_function(ctx, module, name, signature, file=None, shadowed=False):
    """module.NAME, a function; else the case fails ("missing") naming NAME + signature
    ("(net, trn_loader)") and, when `shadowed`, what replaced it (a setting of that name)."""
    func = getattr(module, name, None)
    if not callable(func) or isinstance(func, type):
        note = (f" ({name} is a {type(func).__name__}: a setting of the same name replaces "
                "the function)" if shadowed and func is not None else "")
        ctx.fail("missing", f"{file or module.__name__}.py defines no function "
                 f"{name}{signature}{note}")
    return func


def call_by_name(ctx, func, names, args):
    """func(NAME=arg, ...) when its parameters have these names, else func(*args)."""
    try:
        inspect.signature(func).bind(**dict(zip(names, args)))
        return ctx.call(func, **dict(zip(names, args)))
    except (TypeError, ValueError):
        return ctx.call(func, *args)


def build(ctx, torch, cls, args, label):
    """cls(*args), an nn.Module; else the case fails ("api") naming `label` ("CNN(...)")."""
    model = ctx.call(cls, *args)
    if not isinstance(model, torch.nn.Module):
        ctx.fail("api", f"{label} should be an nn.Module; got {type(model).__name__}")
    return model


def place(torch, model):
    """(device, dtype) of the model's first parameter (CPU float32 when it has none)."""
    for param in model.parameters():
        return param.device, param.dtype
    return torch.device("cpu"), torch.float32


# -- data in, results out ---------------------------------------------------------------

class Progress:
    """Writes progress.json ({"done", "total"}) in the output folder at most every
    PROGRESS_S seconds, and at the end, so the grader can show how far training is and say
    how far it got when the time budget stopped it. capped: done is never above total."""

    def __init__(self, ctx, total, capped=False):
        self.path = os.path.join(ctx.params["progress_dir"], "progress.json")
        self.total, self.done, self.last, self.capped = total, 0, -1.0, capped
        self.clock = ctx.perf_counter

    def step(self):
        self.done += 1
        now = self.clock()
        if now - self.last >= PROGRESS_S or self.done >= self.total:
            self.last = now
            done = min(self.done, self.total) if self.capped else self.done
            with open(self.path + ".tmp", "w") as fh:
                json.dump({"done": done, "total": self.total}, fh)
            os.replace(self.path + ".tmp", self.path)


def train_rows(ctx):
    """(the prepared training rows, memory-mapped (N, D), the rows a run uses:
    params["rows"], all when absent or 0, at most N)."""
    import numpy as np

    X = np.load(ctx.data_files["X_train"], mmap_mode="r", allow_pickle=False)
    return X, min(int(ctx.params.get("rows") or X.shape[0]), X.shape[0])


def rows_and_validation(ctx):
    """(X, y, X_val, y_val) of the prepared data: the first params["num_train"] training
    rows (all when absent or 0), X memory-mapped copy-on-write (N, D), and the whole
    validation set."""
    import numpy as np

    files, rows = ctx.data_files, ctx.params.get("num_train") or None
    return (np.load(files["X_train"], mmap_mode="c", allow_pickle=False)[:rows],
            np.load(files["y_train"], allow_pickle=False)[:rows],
            np.load(files["X_val"], allow_pickle=False),
            np.load(files["y_val"], allow_pickle=False))


def images(torch, X, scale, shape, rows=None):
    """Prepared rows (N, H*W*C) in HWC order -> a float32 tensor (N,) + shape (C, H, W), times
    scale (a number, or one per channel (C,)); the first `rows` only when given; converted
    in chunks (no float64 copy of the set)."""
    import numpy as np

    channels, height, width = shape
    n = X.shape[0] if rows is None else min(rows, X.shape[0])
    out = torch.empty((n,) + tuple(shape), dtype=torch.float32)
    for start in range(0, n, 2000):
        chunk = np.asarray(X[start:min(n, start + 2000)], dtype=np.float32)
        chunk = (chunk.reshape(-1, height, width, channels) * scale).transpose(0, 3, 1, 2)
        out[start:start + chunk.shape[0]] = torch.from_numpy(np.ascontiguousarray(chunk))
    return out


def tensor_sets(ctx, torch, scale, shape, rows):
    """(training set of the first `rows` rows, validation images, validation set) of the
    prepared data files: TensorDatasets of images (images(): times scale) and int64
    labels."""
    import numpy as np

    data, files = torch.utils.data, ctx.data_files
    X = np.load(files["X_train"], mmap_mode="r", allow_pickle=False)
    labels = np.load(files["y_train"], allow_pickle=False)[:rows].astype(np.int64)
    train_set = data.TensorDataset(images(torch, X, scale, shape, rows), torch.from_numpy(labels))
    val_images = images(torch, np.load(files["X_val"], allow_pickle=False), scale, shape)
    val_labels = np.load(files["y_val"], allow_pickle=False).astype(np.int64)
    return train_set, val_images, data.TensorDataset(val_images, torch.from_numpy(val_labels))


def shuffled(ctx, torch, dataset, batch_size, observer):
    """A watched Loader of dataset in shuffled batches, shuffled by a generator seeded
    with params["seed"] (the same order in every run)."""
    shuffle = torch.Generator()
    shuffle.manual_seed(int(ctx.params.get("seed", 0)))
    return Loader(torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                              generator=shuffle), observer)


def put_run(ctx, observer, model, owner="model"):
    """Records what a training child hands back: the losses seen, the optimizer steps,
    the training batches drawn, and the state dict the model was left with
    ("state/NAME"; `owner` names the model in a failure)."""
    import numpy as np

    ctx.put("losses", np.array(observer.losses, dtype=np.float64))
    ctx.put("steps", observer.steps)
    ctx.put("batches", observer.batches)
    ctx.put_state(model, "state/", owner=owner)


def trained_model(ctx, torch, build_model, device, what, detail, owner="model"):
    """The weights a training child left, in a model of a child that never runs the
    student's training: build_model() after torch.manual_seed(params["seed"]), as the
    training child built it, its initial state dict recorded ("initial/NAME"), then
    inputs["state/NAME"] loaded (ctx.load_state: `what` and `detail` word a misfit),
    moved to device."""
    torch.manual_seed(int(ctx.params.get("seed", 0)))
    model = build_model()
    ctx.put_state(model, "initial/", owner=owner)
    ctx.load_state(model, "state/", what, detail)
    return ctx.call(model.to, device)


def logits(ctx, torch, model, inputs, batch, what="forward's output", cast=True, pad=False,
           forward=None):
    """The model's outputs (N, classes) as float32 numpy on inputs (N, ...), in eval mode
    without gradients, `batch` rows at a time, moved to the model's device (and cast to its
    dtype when `cast`); pad: the last batch padded with zeros to `batch` rows (some models
    accept full batches only); forward(x, start): the call, model(x) by default; `what`
    names the outputs in a failure."""
    import numpy as np

    device, dtype = place(torch, model)
    ctx.call(model.eval)
    outs = []
    with torch.no_grad():
        for start in range(0, inputs.shape[0], batch):
            x = inputs[start:start + batch]
            n = x.shape[0]
            if pad and n < batch:
                x = torch.cat([x, x.new_zeros((batch - n,) + tuple(x.shape[1:]))])
            x = x.to(device=device, dtype=dtype) if cast else x.to(device)
            out = ctx.call(model, x) if forward is None else forward(x, start)
            out = ctx.array(out, what, dtype="float32")
            outs.append(out[:n] if pad else out)
    return np.concatenate(outs)


def checkpoint_model(ctx, build_model, save, fits, device):
    """The model a checkpoint mode judges: the submitted state dict (ctx.
    submitted_state_dict: its bytes only, loaded with torch.load(weights_only=True), which
    refuses any pickled object other than tensors and plain containers; `save` says what
    to save) loaded into build_model() (`fits` names it in a failure), moved to device."""
    state = ctx.submitted_state_dict(save)
    model = ctx.load_submitted_state(build_model(), state, fits)
    return ctx.call(model.to, device)


# -- a torch training loop, observed ----------------------------------------------------

class LoopObserver:
    """Watches a torch training run from outside the student's code: every loss computed
    with gradients on (F.cross_entropy, F.nll_loss, installed before the student's module
    is imported), every optimizer step, and each batch of the loaders it wraps (Loader; the
    progress file). With `loop`, also every zero_grad, each step's learning rate, whether
    the gradients still held the previous step's, whether a loss got probabilities, and
    which loader the last batch came from; otherwise steps are counted once taken.

    These are hints: code in the same process can tamper with them. The findings that point
    at a bug (FLAGS) are also written to ctx's values the moment they are seen
    ("PREFIX" "seen/NAME"), so resetting this object afterwards does not erase them; the
    grader's own evidence comes from the logits or weights it judges."""

    FLAGS = ("prob_inputs", "accumulated", "val_steps")  # counts mirrored as seen/NAME

    def __init__(self, ctx, torch, total, loop=False):
        self.ctx, self.torch, self.loop = ctx, torch, loop
        self.progress = Progress(ctx, total, capped=True)
        self.evaluate = None  # called after each training pass with steps: its result kept
        self.prefix = ""  # of the seen/ keys: a case's name when one child trains several
        self.reset()

    @property
    def batches(self):
        """Training batches handed out, over every model this observer saw."""
        return self.progress.done

    def reset(self, prefix=""):
        """Forgets one model's observations; the patches stay installed and the progress
        count goes on."""
        self.prefix = prefix
        self.losses, self.prob_inputs, self.loss_calls = [], 0, 0
        self.correct, self.rows = 0, 0  # of the current pass's training batches
        self.steps, self.step_lrs, self.zero_grads = 0, [], 0
        self.accumulated, self.judged = 0, 0
        self.tracked, self.prev, self.fresh = None, None, None
        self.epochs = []  # per pass with steps: first step, steps, training batch accuracy
        self.val_logits = []  # per such pass: what evaluate() returned after it
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
        hooks = importlib.import_module("torch.optim.optimizer")
        if not self.loop:
            hooks.register_optimizer_step_post_hook(self._stepped)
            return
        for owner in (torch.optim.Optimizer, torch.nn.Module):
            original = owner.zero_grad

            def zero_grad(*args, _original=original, **kwargs):
                self.zero_grads += 1
                return _original(*args, **kwargs)

            owner.zero_grad = zero_grad
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
            if not self.loop:
                self.losses.append(float(out.detach().float().mean()))
                return
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

    def _stepped(self, optimizer, args, kwargs):
        self.steps += 1

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

    # -- the loaders ---------------------------------------------------------------------
    def pass_ended(self, first_step):
        """After a whole pass over the training loader: an epoch when it took steps."""
        if self.steps > first_step:
            self.epochs.append((first_step, self.steps - first_step,
                                self.correct / max(self.rows, 1)))
            if self.evaluate is not None:
                self.val_logits.append(self.evaluate())
        self.correct, self.rows = 0, 0


class Loader:
    """A grader's loader as the student's code sees it: same batches, same len(). Each
    batch tells the observer which loader it came from ("train" or "val"); each batch of
    the training loader counts for progress, each pass over it is reported (an epoch), and
    passes over the validation loader are counted."""

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
            observer.progress.step()
            yield batch
        observer.pass_ended(first_step)
