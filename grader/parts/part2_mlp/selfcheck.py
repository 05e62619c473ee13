"""Part 2's public checks in the students' self-check: 4a.1 with the grader's own
structure probe and judge (structure.py, as test_4a_structure.py concludes it); 4b.1 runs
the student's train() for two short epochs on random images and watches the loop
(optimizer steps, gradients cleared, scores given to the loss, the learning rate decayed
once per epoch), since the grader's 4b trains on its prepared CIFAR-10. Needs numpy and
torch, on the CPU.
"""
from __future__ import annotations

import numpy as np

from selfcheck import Stop

from . import structure

from .probing import INPUT_SIZE, NUM_CLASSES
EPOCHS, BATCH, TRAIN_ROWS, LR, DECAY, REG = 2, 50, 200, 1e-3, 0.5, 1e-3  # 4b.1 here


def student_module(run):
    """The student's ex2_pytorch module; it must define MultiLayerPerceptron."""
    module = run.module()
    if not isinstance(getattr(module, "MultiLayerPerceptron", None), type):
        raise Stop(f"{run.check['files'][0]} defines no class MultiLayerPerceptron")
    return module


class _Watched:
    """A loader that counts the loops over it (seen[KEY + "_loops"]) and notes whether one
    is under way (seen[KEY]): the training loader's count is the epoch."""

    def __init__(self, loader, seen, key):
        self.loader, self.seen, self.key = loader, seen, key
        seen[key], seen[key + "_loops"] = False, 0

    def __iter__(self):
        self.seen[self.key] = True
        self.seen[self.key + "_loops"] += 1
        try:
            yield from self.loader
        finally:
            self.seen[self.key] = False

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):
        return getattr(self.loader, name)


def check_training(run):
    """4b.1: the training loop, observed over two short epochs on random images."""
    import torch
    import torch.nn.functional as F
    from torch.optim.optimizer import register_optimizer_step_pre_hook
    module = student_module(run)
    if not callable(getattr(module, "train", None)):
        raise Stop(f"{run.check['files'][0]} defines no function train(model, train_loader, val_loader, "
                   "device, num_epochs, learning_rate, learning_rate_decay, reg)")
    torch.manual_seed(0)
    images = torch.rand(TRAIN_ROWS, 3, 32, 32) * 2 - 1
    labels = torch.randint(0, NUM_CLASSES, (TRAIN_ROWS,))
    data = torch.utils.data.TensorDataset(images, labels)
    seen = {"steps": [], "fresh": None, "accumulated": 0, "probs": 0, "losses": 0,
            "val_steps": 0}
    train_loader = _Watched(torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=True),
                            seen, "in_train")
    val_loader = _Watched(torch.utils.data.DataLoader(data, batch_size=BATCH), seen, "in_val")
    model = module.MultiLayerPerceptron(INPUT_SIZE, [50], NUM_CLASSES)
    tracked = next(model.parameters())
    before = [p.detach().clone() for p in model.parameters()]

    def on_grad(grad):
        seen["fresh"] = grad.detach().clone()

    def on_step(optimizer, args, kwargs):
        seen["steps"].append((seen["in_train_loops"] - 1, optimizer.param_groups[0]["lr"]))
        seen["val_steps"] += seen["in_val"]
        if seen["fresh"] is not None and tracked.grad is not None and not torch.allclose(
                tracked.grad, seen["fresh"], rtol=1e-4, atol=1e-7):
            seen["accumulated"] += 1

    def spy(original):
        def loss(input, *args, **kwargs):
            if input.requires_grad:
                seen["losses"] += 1
                rows = input.detach()
                if rows.min() >= 0 and torch.allclose(rows.sum(dim=1), torch.ones(len(rows)),
                                                      atol=1e-4):
                    seen["probs"] += 1
            return original(input, *args, **kwargs)
        return loss

    handle = tracked.register_hook(on_grad)
    step_hook = register_optimizer_step_pre_hook(on_step)
    original = F.cross_entropy
    F.cross_entropy = spy(original)
    try:
        module.train(model, train_loader, val_loader, torch.device("cpu"), EPOCHS, LR, DECAY, REG)
    finally:
        F.cross_entropy = original
        step_hook.remove()
        handle.remove()
    steps = seen["steps"]
    head = (f"train(..., num_epochs={EPOCHS}, learning_rate={LR:g}, learning_rate_decay="
            f"{DECAY:g}, reg={REG:g}) on {TRAIN_ROWS} random images, batches of {BATCH}")
    problems = []
    if not steps:
        problems.append("optimizer.step() was never called.\nHint: after loss.backward(), "
                        "call optimizer.step() in every training step.")
    if not seen["losses"]:
        problems.append("no loss was computed with nn.CrossEntropyLoss (or F.cross_entropy).")
    elif seen["probs"] * 2 > seen["losses"]:
        problems.append("the loss was given probabilities (a softmax before "
                        "nn.CrossEntropyLoss).\nHint: give it the model's scores.")
    if steps and seen["accumulated"] > run.values["max_accumulated_steps"]:
        problems.append(f"the gradients were not cleared before {seen['accumulated']} of "
                        f"{len(steps)} steps: those steps used the sum of earlier gradients."
                        "\nHint: call optimizer.zero_grad() before loss.backward() in every "
                        "step.")
    if seen["val_steps"]:
        problems.append(f"{seen['val_steps']} optimizer steps followed a batch of val_loader."
                        "\nHint: train on train_loader only (evaluating on val_loader is fine).")
    if steps and all(torch.equal(a, b) for a, b in zip(before, model.parameters())):
        problems.append("training never changed the weights.\nHint: call loss.backward() "
                        "before optimizer.step(), with the model's parameters in the optimizer.")
    wrong = [(e, lr) for e, lr in steps
             if not np.isclose(lr, LR * DECAY ** max(e, 0), rtol=run.values["lr_rtol"])]
    if wrong:
        epoch, lr = wrong[0]
        problems.append(f"{len(wrong)} steps used a learning rate other than learning_rate x "
                        f"decay^epoch, e.g. {lr:g} in epoch {epoch} (expected "
                        f"{LR * DECAY ** max(epoch, 0):g}).\nHint: multiply it by "
                        "learning_rate_decay once per epoch, after the epoch's last batch.")
    if problems:
        return False, "\n".join([head] + problems)
    return True, (f"{head}: {len(steps)} steps, gradients cleared, the loss got scores, "
                  f"learning rate {LR:g} then {LR * DECAY:g}")


def public_lists(grading, check, feedback):
    return structure.grade_structure(grading, check, feedback,
                                     structure.public_cases(check.value("hidden_layers")))


CHECKS = {"4a.1": public_lists, "4b.1": check_training}
