"""The catalogue of what Part 2's grader catches: mutants of reference/ex2_pytorch.py, one
student bug each (the bugs ASSIGNMENT.md lists for public PyTorch solutions), the hostile
or subtler loops of GRADER_ONLY, and correct variants written unlike the reference, which
keep full marks.

A mutant is a small named edit of the reference (old text -> new text) and the checks it
must lose points on, each at its own question: structure bugs at 4a, training-loop bugs at
4b. tests/parts/part2_mlp/test_part2_mutants.py grades every entry; the 4a ones on 4a.1 (the public lists
[50] and [100, 50] already tell every bug here apart), the 4b ones on one training run.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mutants import EditsOneFile

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "reference" / "ex2_pytorch.py"
FILE = "ex2_pytorch.py"
PUBLIC_STYLE = ROOT / "tests" / "submissions" / "part2_public_style"

LAYERS = """        widths = [input_size] + list(hidden_layers)
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            layers.append(nn.Linear(n_in, n_out))
            layers.append(nn.ReLU())
        layers.append(nn.Linear(widths[-1], num_classes))
"""
FORWARD = "        out = self.layers(x.reshape(x.shape[0], -1))\n"
STEP = """            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
"""
DECAY = """        lr *= learning_rate_decay
        update_lr(optimizer, lr)
"""
# a hostile train()'s last lines: every object with a prob_inputs count set to 0
RESET_OBSERVERS = """    import gc
    for obj in gc.get_objects():
        try:
            if hasattr(obj, "prob_inputs"):
                obj.prob_inputs = 0
        except Exception:
            pass
"""
VAL_STEPS = """        for images, labels in val_loader:
            optimizer.zero_grad()
            loss = criterion(model(images.to(device)), labels.to(device))
            loss.backward()
            optimizer.step()
"""
REMEMBER = """    model.remembered = {}
    for images, labels in val_loader:
        for image, label in zip(images, labels):
            model.remembered[image.reshape(-1)[:16].cpu().numpy().tobytes()] = int(label)
"""
REMEMBERED = """        remembered = getattr(self, "remembered", None)
        if remembered and not self.training:
            out = out.clone()
            for i, row in enumerate(x.reshape(x.shape[0], -1)):
                label = remembered.get(row[:16].cpu().numpy().tobytes())
                if label is not None:
                    out[i] = 0.0
                    out[i, label] = 100.0
"""


@dataclass(frozen=True)
class Mutant(EditsOneFile):
    """One characteristic student bug (or, in VARIANTS, a correct rewrite)."""

    reference: ClassVar[Path] = REFERENCE

    name: str
    edits: tuple[tuple[str, str], ...]  # (old, new) replacements in ex2_pytorch.py
    loses: tuple[str, ...]  # check ids that must lose points (none for a variant)
    bug: str  # what a student did
    checks: tuple[str, ...] = ()  # for a variant: the checks it must pass
    says: str = ""  # a phrase the feedback of the first check it loses must contain
    slow: bool = False  # its test runs only with -m slow



MUTANTS = (
    Mutant("only_first_width", ((LAYERS, """        layers.append(nn.Linear(input_size, hidden_layers[0]))
        layers.append(nn.ReLU())
        layers.append(nn.Linear(hidden_layers[0], num_classes))
"""),), ("4a.1",), "only hidden_layers[0] used",
           says='the width 50 is never used'),
    Mutant("fixed_depth", ((LAYERS, """        layers.append(nn.Linear(input_size, hidden_layers[0]))
        layers.append(nn.ReLU())
        layers.append(nn.Linear(hidden_layers[0], hidden_layers[-1]))
        layers.append(nn.ReLU())
        layers.append(nn.Linear(hidden_layers[-1], num_classes))
"""),), ("4a.1",), "two hidden layers whatever hidden_layers holds",
           says='1 Linear layer more than hidden_layers=[50] asks for'),
    Mutant("star_hidden_layers", ((LAYERS, """        layers.append(nn.Linear(input_size, *hidden_layers))
        layers.append(nn.ReLU())
        layers.append(nn.Linear(*hidden_layers, num_classes))
"""),), ("4a.1",), "nn.Linear(input_size, *hidden_layers)",
           says='has 50 outputs, not num_classes=10'),
    Mutant("off_by_one", ((LAYERS, """        layers.append(nn.Linear(input_size, hidden_layers[0]))
        layers.append(nn.ReLU())
        for i in range(1, len(hidden_layers) - 1):
            layers.append(nn.Linear(hidden_layers[i - 1], hidden_layers[i]))
            layers.append(nn.ReLU())
        layers.append(nn.Linear(hidden_layers[-1], num_classes))
"""),), ("4a.1",), "the layer loop stops one width early",
           says='forward failed on every input shape'),
    Mutant("global_hidden_size", (("widths = [input_size] + list(hidden_layers)",
                                   "widths = [input_size] + list(hidden_size)"),),
           ("4a.1",), "the argument ignored for the global hidden_size",
           says='your global hidden_size = [50]'),
    Mutant("softmax_in_forward", ((FORWARD, "        out = torch.softmax(self.layers("
                                            "x.reshape(x.shape[0], -1)), dim=1)\n"),),
           ("4a.1",), "softmax at the end of forward",
           says='forward returns probabilities'),
    Mutant("probabilities_in_eval", ((FORWARD, FORWARD + "        if not self.training:\n"
                                                         "            out = torch.softmax(out, dim=1)\n"),),
           ("4a.1",), "probabilities returned in eval mode",
           says='forward returns probabilities'),
    Mutant("relu_after_last", (("        layers.append(nn.Linear(widths[-1], num_classes))\n",
                                "        layers.append(nn.Linear(widths[-1], num_classes))\n"
                                "        layers.append(nn.ReLU())\n"),),
           ("4a.1",), "a ReLU after the output layer",
           says='a ReLU after the last Linear layer'),
    Mutant("no_relu", (("            layers.append(nn.ReLU())\n", ""),),
           ("4a.1",), "Linear layers stacked with nothing between them",
           says='nothing nonlinear between Linear(3072, 50) and Linear(50, 10)'),
    # issue 19: the handout's layers run as a decoy (added times 0); the output is one
    # F.linear of the first pixels with the last layer's weights
    Mutant("decoy_layers_output_from_pixels", ((FORWARD, FORWARD + """        import torch.nn.functional as F
        last = self.layers[-1]
        flat = x.reshape(x.shape[0], -1)
        out = F.linear(flat[:, :last.in_features], last.weight, last.bias) + 0 * out
"""),), ("4a.1",), "the layers run as a decoy; the output is F.linear of the first pixels",
           says="the width 50 is never used (expected Linear(3072, 50) -> Linear(50, 10)). "
                "Built but never on the path to the output: Linear(3072, 50). Layers applied, "
                "but their result never reaches the output (not counted): layers.0, layers.2"),
    Mutant("no_zero_grad", ((STEP, STEP.replace("            optimizer.zero_grad()\n", "")),),
           ("4b.1",), "gradients never zeroed",
           says='the gradients were never cleared'),
    Mutant("never_steps", ((STEP, STEP.replace("            optimizer.step()\n", "")),),
           ("4b.1", "4b.2"), "optimizer.step() never called",
           says='optimizer.step() was never called'),
    Mutant("softmax_before_loss", (("loss = criterion(model(images), labels)",
                                    "loss = criterion(torch.softmax(model(images), dim=1), labels)"),),
           ("4b.1",), "softmax before nn.CrossEntropyLoss",
           says='the loss was given probabilities'),
    Mutant("no_lr_decay", ((DECAY, "        pass\n"),), ("4b.1",), "the learning rate never decays",
           says='the learning rate stayed at 0.001 for all 10 epochs'),
)

# Issue 19's: the observations in the student's process are hints; these are caught by
# what the grader computes from the logits it gets (the test images', labels in the grader
# only), by findings written the moment they are seen, or by the stricter accumulation
# rule. tests/parts/part2_mlp/test_part2_mutants.py grades them like MUTANTS; the students' self-check
# (grader/parts/part2_mlp/selfcheck.py) fails their 4b.1 too (test_selfcheck_part2.py).
GRADER_ONLY = (
    Mutant("never_backward", ((STEP, STEP.replace("            loss.backward()\n", "")),),
           ("4b.1", "4b.2"), "loss.backward() never called: steps, zero_grads and losses as "
           "the handout's", says="training never changed the weights"),
    Mutant("zero_grad_every_second_step",
           ((STEP, STEP.replace("            optimizer.zero_grad()\n",
                                "            if len(history[\"loss_history\"]) % 2 == 0:\n"
                                "                optimizer.zero_grad()\n")),),
           ("4b.1",), "optimizer.zero_grad() on every second step only",
           says="the gradients were not always cleared"),
    Mutant("softmax_before_loss_observer_reset",
           (("loss = criterion(model(images), labels)",
             "loss = criterion(torch.softmax(model(images), dim=1), labels)"),
            ("    return history\n", RESET_OBSERVERS + "    return history\n")),
           ("4b.1",), "softmax before the loss, then every object's prob_inputs reset via gc",
           says="the loss was given probabilities"),
    Mutant("softmax_in_forward_observer_reset",
           ((FORWARD, "        out = torch.softmax(self.layers(x.reshape(x.shape[0], -1)), dim=1)\n"),
            ("    return history\n", RESET_OBSERVERS + "    return history\n")),
           ("4b.1",), "softmax at the end of forward, then every object's prob_inputs reset",
           says="the model outputs probabilities", slow=True),
    Mutant("steps_on_val_loader", ((DECAY, VAL_STEPS + DECAY),), ("4b.1",),
           "after each epoch, training steps on val_loader's batches too",
           says="optimizer steps followed a batch of val_loader"),
    Mutant("remembers_val_labels", ((FORWARD, FORWARD + REMEMBERED),
                                    (STEP, STEP + "            break\n"),
                                    ("    return history\n", REMEMBER + "    return history\n")),
           ("4b.2",), "one step per epoch, and forward answers the validation images from "
           "their labels, remembered in train(): 100% validation accuracy",
           says="validation accuracy 100.0% (the handout's measure; reported, not graded)",
           slow=True),
)

VARIANTS = (
    Mutant("modulelist_functional_relu", ((LAYERS, """        widths = [input_size, *hidden_layers, num_classes]
        self.linears = nn.ModuleList(
            nn.Linear(widths[i], widths[i + 1]) for i in range(len(widths) - 1))
"""), (FORWARD, """        x = x.view(x.size(0), -1)
        for i, linear in enumerate(self.linears):
            x = linear(x)
            if i < len(self.linears) - 1:
                x = F.relu(x)
        out = x
"""), ("import torch.nn as nn\n", "import torch.nn as nn\nimport torch.nn.functional as F\n")),
        (), "nn.ModuleList and F.relu", ("4a.1",)),
    Mutant("attributes_and_extras", ((LAYERS, """        sizes = [input_size] + list(hidden_layers)
        self.depth = len(hidden_layers)
        for i in range(self.depth):
            setattr(self, f"fc{i}", nn.Linear(sizes[i], sizes[i + 1]))
            setattr(self, f"bn{i}", nn.BatchNorm1d(sizes[i + 1]))
        self.out = nn.Linear(sizes[-1], num_classes)
        self.act = nn.LeakyReLU(0.1)
        self.drop = nn.Dropout(0.2)
"""), (FORWARD, """        x = torch.flatten(x, start_dim=1)
        for i in range(self.depth):
            x = self.drop(self.act(getattr(self, f"bn{i}")(getattr(self, f"fc{i}")(x))))
        out = self.out(x)
"""), ("        self.layers = nn.Sequential(*layers)\n", "")),
        (), "layers as attributes, BatchNorm1d, LeakyReLU and Dropout", ("4a.1",)),
    Mutant("flatten_in_training_loop", ((FORWARD, "        out = self.layers(x)\n"),
                                        ("            images, labels = images.to(device), labels.to(device)\n\n",
                                         "            images = images.reshape(images.size(0), -1).to(device)\n"
                                         "            labels = labels.to(device)\n\n"),
                                        ("            predicted = model(images).argmax(dim=1)",
                                         "            predicted = model(images.reshape(len(images), -1)).argmax(dim=1)")),
        (), "forward expects (N, 3072): the training loop flattens", ("4a.1", "4b.1", "4b.2")),
    # a validation batch drawn between backward and step, its loss under no_grad: measuring,
    # not training on it (4b.1 names steps whose loss came from val_loader's batches)
    Mutant("validation_loss_before_each_step",
           ((STEP, STEP.replace("            optimizer.step()\n", """            with torch.no_grad():
                val_images, val_labels = next(iter(val_loader))
                val_loss = criterion(model(val_images.to(device)), val_labels.to(device))
            optimizer.step()
""")),), (), "a validation loss (no_grad) between loss.backward() and optimizer.step()",
           ("4a.1", "4b.1", "4b.2"), slow=True),
)
