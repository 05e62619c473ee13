"""The layer calls of one forward pass, as a structure probe records them, and those on the
path to the output (output_path.PathGraph): probe-side code, run in the sandboxed child
next to student code (the sandbox copies this file beside the probe; sandbox_child
preloads it as `grader_kit_layer_calls`, after output_path). It never imports torch: the
probe hands it the torch module it imported. Used by the structure probes of Part 2 (4a)
and Part 4 (6b, 7b); each decides which calls it records and what a row of it holds.
"""
try:  # in the sandbox: preloaded before this kit
    import grader_kit_output_path as paths
except ImportError:  # imported from the grader package (tests)
    from grader.core.sandbox.kits import output_path as paths

LEFT_OUT = "applied, but their result never reaches the output (not counted): "


def grad_nodes(values):
    """The autograd nodes of the tensors among a call's arguments, before the call."""
    return [t.grad_fn for t in paths.tensors(values) if t.grad_fn is not None]


def gradients_on(torch, model):
    """Makes the model's floating-point leaf parameters require grad, so that a forward's
    autograd graph reaches every layer that made its output."""
    for param in torch.nn.Module.parameters(model):
        if param.is_leaf and param.is_floating_point():
            param.requires_grad_(True)


class Calls:
    """The calls recorded during one forward pass: per call the probe's row, its output's
    autograd node, the nodes the call created (output_path.owned_nodes) and what the probe
    keeps with it (extra: a module, a value). `on` while the forward runs; `depth` counts
    the recorded calls running, so a call inside another is part of that one."""

    def __init__(self, torch, limit=None):
        self.torch, self.limit, self.on, self.depth = torch, limit, False, 0
        self.clear()

    def clear(self):
        self.rows, self.nodes, self.owned, self.extras = [], [], [], []

    def full(self):
        return self.limit is not None and len(self.rows) >= self.limit

    def add(self, row, out, before, extra=None):
        """Records one call (before: grad_nodes of its arguments), unless `limit` are."""
        if self.full():
            return
        y = out[0] if isinstance(out, (tuple, list)) and out else out
        node = getattr(y, "grad_fn", None)
        self.rows.append(row)
        self.nodes.append(node)
        self.owned.append(paths.owned_nodes(node, before))
        self.extras.append(extra)

    def wrap(self, original, saw):
        """original, calling saw(args, kwargs, out, before) after each call made while
        recording and outside any other recorded call."""
        def wrapped(*args, **kwargs):
            if not self.on or self.depth:
                return original(*args, **kwargs)
            before = grad_nodes(list(args) + list(kwargs.values()))
            self.depth += 1
            try:
                out = original(*args, **kwargs)
            finally:
                self.depth -= 1
            saw(args, kwargs, out, before)
            return out

        return wrapped

    def first_forward(self, ctx, model, tries):
        """(output, input, failures): model(x) recorded, with gradients on (x requiring
        grad), for the first x of tries whose call does not fail with an exception (a
        StudentFailure of kind "exception": the next is tried); output and input are None
        when every one failed. failures: (x, failure record) of those tried before."""
        failures = []
        for x in tries:
            self.clear()
            x = x.detach().clone().requires_grad_(True)
            self.on = True
            try:
                with self.torch.enable_grad():
                    return ctx.call(model, x), x, failures
            except Exception as exc:  # noqa: BLE001 - a StudentFailure from ctx.call
                record = getattr(exc, "record", None)
                if record is None or record["kind"] != "exception":
                    raise
                failures.append((x, record))
            finally:
                self.on, self.depth = False, 0
        return None, None, failures

    def path(self, out, dropped, direct):
        """(kept, notes). kept: (row, extra) of each recorded call whose output reaches
        out, and of each layer operation on the path that no recorded call made
        (direct(kind, node) -> (row, extra), or None to leave it out), in call order.
        notes: why the path could not be told, and the calls left out (dropped(row,
        extra) -> a name, '' for one not named)."""
        graph = paths.PathGraph(self.torch, out)
        kept, owned, left = [], {}, []
        for index, (row, node, mine, extra) in enumerate(
                zip(self.rows, self.nodes, self.owned, self.extras)):
            if graph.on_path(node):
                kept.append((paths.sequence(node), index, (row, extra)))
                owned.update(mine)
            elif (name := dropped(row, extra)):
                left.append(name)
        for sequence, kind, node in graph.direct(owned):
            made = direct(kind, node)
            if made is not None:
                kept.append((sequence, len(self.rows), made))
        kept.sort(key=lambda item: item[:2])
        notes = [graph.error] if graph.error else []
        if left:
            notes.append(LEFT_OUT + ", ".join(left[:8]))
        return [made for _, _, made in kept], notes
