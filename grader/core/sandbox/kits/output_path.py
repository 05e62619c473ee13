"""The layers on the path to a model's output, from its autograd graph: probe-side code,
run in the sandboxed child next to student code (the sandbox copies this file beside the
probe; sandbox_child preloads it as `grader_kit_output_path`). It never imports torch: the
probe hands it the torch module it imported.

Layers count only when their result reaches the returned output: the forward runs with
gradients on (parameters and input requiring grad), the output's autograd graph is walked
back from output.grad_fn, and one backward pass of a random cotangent marks the nodes whose
gradient is not all zero. A layer run and thrown away, or added times 0 (or added and
subtracted again), is not on the path; an operation called directly (torch.conv2d,
torch.relu, x @ W.T) is a layer of its own kind all the same. Used by the structure probes
of Part 2 (4a) and Part 4 (6b, 7b).
"""

GRAPH_KINDS = {
    "ConvolutionBackward0": "conv", "MkldnnConvolutionBackward0": "conv",
    "MaxPool2DWithIndicesBackward0": "maxpool", "AdaptiveMaxPool2DBackward0": "maxpool",
    "AvgPool2DBackward0": "avgpool", "AdaptiveAvgPool2DBackward0": "avgpool",
    "UpsampleNearest2DBackward0": "resize", "UpsampleBilinear2DBackward0": "resize",
    "UpsampleBicubic2DBackward0": "resize", "_UpsampleNearestExact2DBackward0": "resize",
    "AddmmBackward0": "linear", "MmBackward0": "linear", "BmmBackward0": "linear",
    "LinearBackward0": "linear", "MvBackward0": "linear",
    "ReluBackward0": "relu", "LeakyReluBackward0": "leaky_relu", "EluBackward0": "elu",
    "GeluBackward0": "gelu", "SiluBackward0": "silu", "TanhBackward0": "tanh",
    "SigmoidBackward0": "sigmoid", "HardtanhBackward0": "hardtanh",
}
MAX_NODES = 20000  # autograd nodes walked at most


def node_name(node):
    try:
        return str(node.name())
    except Exception:  # noqa: BLE001 - not an autograd node
        return ""


def next_nodes(node):
    try:
        return [n for n, _ in node.next_functions if n is not None]
    except Exception:  # noqa: BLE001 - not an autograd node
        return []


def sequence(node):
    """The node's creation number (a forward's operations in call order)."""
    try:
        return int(node._sequence_nr())
    except Exception:  # noqa: BLE001 - older torch
        return 0


def tensors(values):
    """The tensors among a call's arguments (one level into lists and tuples)."""
    found = []
    for value in values:
        if isinstance(value, (list, tuple)):
            found.extend(v for v in value if hasattr(v, "grad_fn"))
        elif hasattr(value, "grad_fn"):
            found.append(value)
    return found


def owned_nodes(node, before):
    """The autograd nodes one call created (id -> node; kept alive, so that no id is
    reused): from its output's node back to (not into) before, the nodes its tensor inputs
    had before the call, and the leaves (the call's own operations, e.g. the matrix
    product inside F.linear). Empty when the output is an input as it was."""
    stops = {id(n) for n in before}
    owned, stack = {}, [node] if node is not None and id(node) not in stops else []
    while stack and len(owned) < MAX_NODES:
        current = stack.pop()
        if id(current) in owned or id(current) in stops or hasattr(current, "variable"):
            continue
        owned[id(current)] = current
        stack.extend(next_nodes(current))
    return owned


class PathGraph:
    """The autograd graph of a forward's output: nodes (id -> node, every node the output
    was computed through), reached (ids of the nodes whose gradient is not all zero in one
    backward pass) and error (why that pass failed, '' when it ran)."""

    def __init__(self, torch, output):
        self.nodes, self.reached, self.error = {}, set(), ""
        root = getattr(output, "grad_fn", None) if hasattr(output, "shape") else None
        if root is None:
            self.error = "no autograd graph"
            return
        stack = [root]
        while stack and len(self.nodes) < MAX_NODES:
            node = stack.pop()
            if id(node) in self.nodes:
                continue
            self.nodes[id(node)] = node
            stack.extend(n for n in next_nodes(node) if id(n) not in self.nodes)
        leaves = [n.variable for n in self.nodes.values() if hasattr(n, "variable")]
        handles = []
        try:
            for key, node in self.nodes.items():
                if not hasattr(node, "variable"):
                    handles.append(node.register_prehook(self._saw(key)))
            generator = torch.Generator(device=output.device)
            generator.manual_seed(0)
            cotangent = torch.randn(output.shape, generator=generator, dtype=output.dtype,
                                    device=output.device)
            torch.autograd.grad([output], leaves, grad_outputs=[cotangent],
                                allow_unused=True, retain_graph=True)
        except Exception as exc:  # noqa: BLE001 - a forward whose backward fails
            self.error = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            for handle in handles:
                handle.remove()

    def _saw(self, key):
        def hook(grad_outputs):
            if key not in self.reached and any(
                    g is not None and bool((g != 0).any()) for g in grad_outputs):
                self.reached.add(key)
        return hook

    def on_path(self, node) -> bool:
        """Whether a call's output node influences the output."""
        return node is not None and id(node) in self.reached

    def direct(self, owned):
        """The layer operations on the path that no recorded call made (owned: the nodes
        the recorded calls made, by id):
        [(sequence number, kind, node)], in call order."""
        found = [(sequence(node), GRAPH_KINDS[node_name(node)], node)
                 for key, node in self.nodes.items()
                 if key in self.reached and key not in owned and node_name(node) in GRAPH_KINDS]
        return sorted(found, key=lambda item: item[0])


def direct_function(kind, node):
    """A readable name of a layer operation called directly ('torch.conv2d')."""
    named = {"conv": "torch.conv2d", "maxpool": "torch.max_pool2d",
             "avgpool": "torch.avg_pool2d", "resize": "interpolate",
             "linear": "a matrix product (torch.addmm, @)", "relu": "torch.relu"}
    return named.get(kind) or "torch." + node_name(node).replace("Backward0", "").lower()


def node_shapes(node):
    """(input shape, output shape) of a layer operation's node, as lists ([] unknown)."""
    out = []
    try:
        out = [int(s) for s in node._input_metadata[0].shape]
    except Exception:  # noqa: BLE001 - older torch
        pass
    for attr in ("_saved_input", "_saved_self", "_saved_mat1", "_saved_result"):
        try:
            return [int(s) for s in getattr(node, attr).shape], out
        except Exception:  # noqa: BLE001 - not saved by this node
            continue
    return [], out


def node_settings(node):
    """(kernel, stride, padding) of a convolution or pooling node (None when unknown)."""
    def read(attr):
        try:
            value = getattr(node, attr)
        except Exception:  # noqa: BLE001 - not saved by this node
            return None
        return [int(v) for v in value] if isinstance(value, (list, tuple)) else value

    kernel = read("_saved_kernel_size")
    if kernel is None:
        try:
            kernel = [int(s) for s in node._saved_weight.shape[2:]]
        except Exception:  # noqa: BLE001 - not a convolution
            kernel = None
    return kernel, read("_saved_stride"), read("_saved_padding")


def node_parameters(node, skip):
    """The learnable parameters a layer operation used directly: leaves reached from its
    node through reshaping (not through other layers), other than the tensors in skip
    (ids: the input)."""
    seen, count, stack = set(), 0, next_nodes(node)
    while stack and len(seen) < 64:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        variable = getattr(current, "variable", None)
        if variable is not None:
            if id(variable) not in skip:
                count += int(variable.numel())
        elif node_name(current) not in GRAPH_KINDS and len(seen) < 8:
            stack.extend(next_nodes(current))
    return count
