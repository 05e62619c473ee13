"""Part 4's public checks of the MNIST ConvNet for the students' self-check (shipped as
selfcheck_files/part4_convnet.py; run by selfcheck.py): 7b.1 and 7b.2 build ConvNet(), run
digits through it, trace the layers its forward applies (the CNN checks' traced()) and
compare them, their output shapes and learnable parameters with the rubric's. Needs numpy
and torch.
"""
from __future__ import annotations

from selfcheck import Stop, shipped


def convnet_layers(run):
    """(kind, output shape, parameters) of each layer ConvNet()'s forward applies."""
    import torch
    convnet = run.module()
    if not callable(getattr(convnet, "ConvNet", None)):
        raise Stop(f"{run.check['files'][0]} defines no ConvNet")
    torch.manual_seed(0)
    model = convnet.ConvNet().eval()
    events = []
    shipped("part4_cnn").traced(torch, model, torch.rand(run.values.get("rows", 8), 1, 28, 28),
                                convnet, events)
    return [(kind, shape_out, params) for kind, _, shape_out, params, _ in events]


def check_shapes(run):
    """7b.1: the layers applied, in order, and their output shapes."""
    got = convnet_layers(run)
    shapes = [tuple(s) for s in run.values["shapes"]]
    want = list(zip(run.values["layers"], shapes))
    seen = [(k, s) for k, s, _ in got]
    if [k for k, _ in seen[1:3]] == ["maxpool", "relu"]:  # they commute: the same function
        want[1:3] = [("maxpool", shapes[2]), ("relu", shapes[2])]
    rows = [f"{i}. {k} {s}" for i, (k, s) in enumerate(seen, 1)]
    if seen == want:
        return True, "\n".join(rows)
    lines = ["expected: " + ", ".join(f"{k} {s}" for k, s in want),
             "got:      " + (", ".join(f"{k} {s}" for k, s in seen) or "no layer traced")]
    if [k for k, _ in seen] != [k for k, _ in want]:
        lines.append("Hint: conv 5x5 (20 maps), ReLU, 2x2 max-pool, flatten, Linear(2880, 100), "
                     "ReLU, Linear(100, 10), in that order.")
    else:
        i = next(i for i, (a, b) in enumerate(zip(seen, want)) if a != b)
        lines.append(f"layer {i + 1} ({want[i][0]}) gives {seen[i][1]}, expected {want[i][1]}."
                     "\nHint: a 5x5 kernel with stride 1 and no padding gives 24x24; 20 maps; "
                     "100 hidden units.")
    return False, "\n".join(lines)


def check_parameters(run):
    """7b.2: each layer's learnable parameters."""
    got, want = [p for _, _, p in convnet_layers(run)], list(run.values["parameters"])
    if got == want:
        return True, f"{got}: {sum(got)} in all"
    hint = ("Hint: a layer's parameters are its weights and biases: conv 20 x 1 x 5 x 5 + 20, "
            "Linear(2880, 100) 2880 x 100 + 100, Linear(100, 10) 100 x 10 + 10.")
    return False, f"expected {want}, got {got} per layer.\n{hint}"


CHECKS = {"7b.1": check_shapes, "7b.2": check_parameters}
