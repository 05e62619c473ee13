"""7c, in the grader's process: the parameter counts and output shapes the student states
in convnet_answers.py, against the truth (numpy only; the file is read with ast, never run).

The truth is the handout's ConvNet as the rubric gives it to 7b (7b.1's `shapes`, 7b.2's
`parameters`), so 7c never depends on whether the student's own ConvNet is right. The
file assigns, per layer in the order forward applies them (conv, relu1, pool, fc1, relu2,
fc2), `<layer>_params` (a number) and `<layer>_shape` (a tuple or list), plus
`total_params`; `None` is an answer left blank. A shape is the output of one image without
the batch dimension; a leading batch dimension of 1 or -1, as torchinfo and torchsummary
print it, is accepted and dropped.
"""
from __future__ import annotations

from dataclasses import replace

from ...core.submission.answers import Answer, Answers, judge_answers, read_answers
from ...core.engine.judge import Verdict
from ...core.rubric.spec import Check

MODULE = "convnet_answers"
LAYERS = ("conv", "relu1", "pool", "fc1", "relu2", "fc2")
TOTAL = "total_params"


def read(submission) -> Answers:
    """What convnet_answers.py (or .ipynb) states."""
    return read_answers(submission, MODULE)


def truth(shapes_check: Check, params_check: Check) -> tuple[list, list]:
    """(output shapes, parameter counts) of the handout's layers, from the rubric."""
    shapes = [[int(s) for s in shape] for shape in shapes_check.value("shapes")]
    params = [int(p) for p in params_check.value("parameters")]
    return shapes, params


def _grade(answers: Answers, asked: list[Answer], reveal: bool, what: str, hint: str) -> Verdict:
    """A share of the points per right answer; one line per wrong entry, then the hint."""
    right, lines = judge_answers(answers, asked, rtol=0.0, atol=1e-9, reveal=reveal)
    good = sum(right.values())
    if not answers.file_problem:  # else the file's problem is the only line
        lines = [f"{good} of {len(asked)} {what} right in {answers.file}."] + lines
    return Verdict(good / len(asked), "\n".join(lines + ([hint] if good < len(asked) else [])))


def judge_parameters(answers: Answers, shapes_check: Check, params_check: Check,
                     reveal: bool) -> Verdict:
    """7c.1: `<layer>_params` for each layer and total_params."""
    _, params = truth(shapes_check, params_check)
    asked = [Answer(f"{layer}_params", f"{layer}_params", count)
             for layer, count in zip(LAYERS, params)] + [Answer(TOTAL, TOTAL, sum(params))]
    return _grade(answers, asked, reveal, "parameter counts", "Hint: a Conv2d layer has out x "
                  "in x kh x kw weights and one bias per output map; a Linear layer in x out "
                  "weights and out biases; ReLU and pooling learn nothing.")


def judge_shapes(answers: Answers, shapes_check: Check, params_check: Check,
                 reveal: bool) -> Verdict:
    """7c.2: `<layer>_shape` for each layer; a leading batch dimension (1 or -1) is dropped."""
    shapes, _ = truth(shapes_check, params_check)
    values = dict(answers.values)
    for layer, shape in zip(LAYERS, shapes):
        got = values.get(f"{layer}_shape")
        if isinstance(got, list) and len(got) == len(shape) + 1 and got[0] in (1, -1):
            values[f"{layer}_shape"] = got[1:]
    asked = [Answer(f"{layer}_shape", f"{layer}_shape", shape)
             for layer, shape in zip(LAYERS, shapes)]
    return _grade(replace(answers, values=values), asked, reveal, "output shapes", "Hint: a "
                  "convolution without padding maps H to (H - kernel) / stride + 1; the "
                  "pooling halves each side here; a fully connected layer outputs its number "
                  "of units (one image, no batch dimension).")
