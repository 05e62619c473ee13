"""One protocol for every check of a trained model, in the grader's process (numpy only).

A question that trains declares itself as one Training: its question, the check its
settings are read for (which holds the checkpoint mode's progress_* keys), the check that
judges the trained model (threshold, checkpoint keys, any budget rule), its probe and the
probe's training function, and what only it knows (its settings reader, its children's
parameters, its progress run, its timing for a budget rule). Training.train runs the
protocol:

1. the declared settings are read; invalid ones stop it (nothing runs);
2. by the question's rubric `mode`: "retrain" trains under the judging check; "checkpoint"
   makes a short progress run under the settings check (progress_iters steps on the first
   progress_rows training rows) and reads the submitted weights as bytes, never unpickled;
3. the run's time budget: the rubric's rule over the reference's cost timed on the same
   data (grader/core/rubric/budgets.py's Budget) where the part times it, else the check's
   limits;
4. where the part asks for it, the weights the run left, and the checkpoint, are evaluated
   in ONE other child that never runs the student's code (the test images go in, their
   labels stay here).

The judges of each part take the Trained this returns; the helpers below hold what they
share (the gate before judging, the budget's stop, the refused checkpoint, the loss drop,
the short run, the names of data and devices, the informational sweeps' tables). Nothing
here names a question: ids, thresholds and messages are the parts'.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pytest

from .context import GradingContext, ProbeCall, failure_verdict
from .judge import Verdict, changed_entries, prefixed
from ..rubric.budgets import Budget
from ..rubric.spec import Check, Rubric
from ..sandbox.runner import ProbeRun
from ..submission.files import read_capped

STOPPED = ("timeout", "cpu")  # failure kinds of a run its time budget stopped
SHORT_RUN = 3  # settings making this many times fewer steps than the handout's: a short run
NOT_GRADED = ("your checkpoint is not graded because the short run of your {code} did not "
              "learn ({check} says how it went); require_progress is set.")


@dataclass(frozen=True)
class Trained:
    """A question's training run, as its checks judge it."""

    rubric: Rubric | None  # the run's rubric
    settings: Any  # the declared settings, when valid (the part's reader's result)
    problem: str = ""  # what is wrong with them, else ''
    run: ProbeRun | None = None  # the training run (the progress run in checkpoint mode)
    data: Any = None  # grader.data.prepare.PreparedData
    device: str = "cpu"  # where it trained: "cpu" or "cuda"
    progress: tuple[int, int] | None = None  # (steps done, planned), last reported
    mode: str = "retrain"  # the rubric's mode: "retrain" or "checkpoint"
    checkpoint: ProbeRun | None = None  # checkpoint mode: the submitted weights, evaluated
    checkpoint_problem: str = ""  # checkpoint mode: why the file could not be evaluated
    evaluation: ProbeRun | None = None  # the weights the run left, evaluated in a child
    #   that never ran the student's code (initial weights, logits), when the part asks
    budget: Budget | None = None  # the run's time budget, when the part times one
    checkpoint_file: str = ""  # the judging check's `checkpoint`, when it has one

    @property
    def num_iters(self) -> int:
        """Iterations the timed run was asked for (0 without a budget)."""
        return 0 if self.budget is None else self.budget.num_iters


@dataclass(frozen=True)
class Training:
    """What a question that trains declares, and the protocol that runs it (module doc)."""

    question: str
    settings_check: str  # the check the settings are read for; holds the progress_* keys
    judged_check: str  # the check judging the model: threshold, checkpoint, budget rule
    probe: Path  # the part's probes.py
    function: str  # its function that trains
    read: Callable[[Path, Check], tuple[Any, str]]  # the settings reader: (settings, '')
    #   or (None, what is wrong)
    params: Callable[[Any, Any, int, int], dict]  # (settings, data, seed, training rows)
    #   -> the training child's parameters, shared by the evaluation child
    progress_run: Callable[[Any, dict, int, int], dict] | None = None  # (settings,
    #   params, rows, iters) -> the progress run's; None: whole epochs making `iters` steps
    timing: Callable[[Any, dict, int], tuple[dict, int]] | None = None  # (settings,
    #   params, rows) -> (the timing call's parameters, the run's iterations): a budget rule
    timing_probe: Path | None = None  # the grader's own step (its time_training)
    read_checkpoint: Callable[[Path, str, float], tuple[bytes | None, str]] | None = None
    #   checkpoint mode: the file's bytes for a sandboxed child; None: the judge reads it
    data_keys: tuple[str, ...] = ("X_train", "y_train", "X_val", "y_val")  # never a test file
    test_in_training: bool = False  # the test images go to the training child (logits)
    evaluates_state: bool = False  # the weights left are evaluated in a child of their own
    eval_keys: tuple[str, ...] = ()  # data files that evaluation child reads
    settings_key: str = "settings"  # params' settings, for the progress run by epochs
    batch_key: str = "batch_size"  # their batch size

    def fixture(self) -> Callable:
        """The suite's module-scoped `trained` fixture: this training, run once per grading
        for all the question's checks."""
        return pytest.fixture(scope="module", name="trained")(lambda grading: self.train(grading))

    def run_check(self, mode: str) -> str:
        """The check whose limits the training run runs under."""
        return self.judged_check if mode == "retrain" else self.settings_check

    def progress_params(self, declared: Any, params: dict, rows: int, iters: int) -> dict:
        """The progress run's parameters: `iters` steps on the first `rows` rows."""
        if self.progress_run is not None:
            return self.progress_run(declared, params, rows, iters)
        values = params[self.settings_key]
        epochs = progress_epochs(rows, int(values[self.batch_key]), iters)
        return {**params, self.settings_key: {**values, "num_epochs": epochs}, "rows": rows}

    def train(self, grading: GradingContext) -> Trained:
        """Reads the settings and runs the protocol (module doc) in the rubric's mode."""
        rubric = grading.rubric
        mode, held = rubric.question(self.question).mode, rubric.check(self.judged_check)
        name = str(held.get("checkpoint", ""))
        declared, problem = self.read(grading.submission, rubric.check(self.settings_check))
        if declared is None:
            return Trained(rubric, None, problem, mode=mode, checkpoint_file=name)
        data = grading.data(self.question)
        files = {k: str(data.files[k]) for k in self.data_keys}
        total = len(data.load("y_train"))
        params = self.params(declared, data, rubric.seed, total)
        run_params, rows = params, None
        if mode == "checkpoint":
            progress = rubric.check(self.settings_check)
            rows = min(int(progress.value("progress_rows", data.kind)), total)
            run_params = self.progress_params(declared, params, rows, int(
                progress.value("progress_iters", data.kind)))
        run_check = self.run_check(mode)
        timing = None if self.timing is None else self.timing(declared, run_params, total)
        budget = None if timing is None else timed_budget(
            grading, self, run_check, data.kind, files, *timing)
        test = {"X_test": np.asarray(data.load("X_test"))}
        run = grading.probe(self.probe, self.function, run_check, kind=data.kind,
                            data_files=files, params=run_params,
                            seconds=None if budget is None else budget.seconds,
                            **({"inputs": test} if self.test_in_training else {}))
        blob, problem = None, ""
        if mode == "checkpoint" and self.read_checkpoint is not None:
            blob, problem = self.read_checkpoint(grading.submission, name,
                                                 float(held.value("max_checkpoint_mb")))
        return Trained(rubric, declared, "", run, data, grading.device_for(self.question),
                       run.progress, mode, checkpoint_problem=problem, budget=budget,
                       checkpoint_file=name, **self._evaluate(
                           grading, run, run_check, data, params, test, rows, name, blob))

    def _evaluate(self, grading: GradingContext, run: ProbeRun, check_id: str, data: Any,
                  params: dict, test: dict, rows: int | None, name: str,
                  blob: bytes | None) -> dict:
        """The evaluation child's runs: the weights the run left ("evaluation") and the
        checkpoint ("checkpoint"), in ONE child when the part evaluates both; rows: the
        progress run's (checkpoint mode), None in retrain mode."""
        kwargs = {"kind": data.kind}
        if self.eval_keys:
            kwargs["data_files"] = {k: str(data.files[k]) for k in self.eval_keys}
        checkpoint = None if blob is None else ProbeCall(
            "evaluate_checkpoint", {"checkpoint": name},
            {"checkpoint": np.frombuffer(blob, dtype=np.uint8), **test})
        if not self.evaluates_state:
            if checkpoint is None:
                return {}
            return {"checkpoint": grading.probe(
                self.probe, checkpoint.function, check_id, inputs=checkpoint.inputs,
                params={**params, **checkpoint.params}, **kwargs)}
        state = {k: v for k, v in run.values.items() if k.startswith("state/")}
        left = None if run.failure is not None or not state else ProbeCall(
            "evaluate_state", {} if rows is None else {"rows": rows}, {**state, **test})
        if rows is None:  # retrain mode
            return {} if left is None else {"evaluation": grading.probe(
                self.probe, left.function, check_id, params=params, inputs=left.inputs,
                **kwargs)}
        calls = [c for c in (left, checkpoint) if c is not None]
        runs = grading.probe_calls(self.probe, calls, check_id, params=params,
                                   **kwargs) if calls else []
        return {"evaluation": runs.pop(0) if left is not None else None,
                "checkpoint": runs[0] if checkpoint is not None else None}


def timed_budget(grading: GradingContext, training: Training, run_check: str, kind: str,
                 files: dict, params: dict, num_iters: int) -> Budget:
    """The rubric's rule (the judged check's budget_* keys) for a training run: the
    reference's seconds per iteration, timed in a sandbox on the same data with the same
    settings (the part's timing probe's time_training)."""
    rule = grading.rubric.check(training.judged_check)
    timing = {**params, "iters": rule.value("budget_probe_iters", kind),
              "seconds": rule.value("budget_probe_seconds", kind)}
    run = grading.probe(training.timing_probe, "time_training", run_check, kind=kind,
                        data_files=files, params=timing)
    if run.failure is not None:
        raise RuntimeError(f"timing the reference's training failed: {run.failure.line()}")
    ceiling = grading.rubric.limits_for(grading.rubric.check(run_check), kind)
    return Budget(float(run.values["seconds_per_iteration"]), num_iters,
                  float(rule.value("budget_factor", kind)),
                  float(rule.value("budget_startup_seconds", kind)),
                  float(min(ceiling.wall_seconds, ceiling.cpu_seconds)))


def read_checkpoint(submission: Path, name: str, max_mb: float,
                    hint: Callable[[str, bool], str]) -> tuple[bytes | None, str]:
    """(the checkpoint file's bytes, '') or (None, what is wrong, then hint(name, whether
    over the cap)). Read as bytes only: the grader never unpickles it (a sandboxed child
    loads it with weights_only=True)."""
    blob, problem = read_capped(submission, name, max_mb)
    if blob is not None:
        return blob, ""
    return None, f"{problem}.\nHint: {hint(name, 'cap' in problem)}."


def progress_epochs(rows: int, batch_size: int, iters: int) -> int:
    """The whole epochs over `rows` rows in batches of `batch_size` that make at least
    `iters` steps (at least one)."""
    return max(1, -(-iters // -(-rows // batch_size)))


# -- what the judges share ------------------------------------------------------------------

def judges(stopped: Callable[[Trained], Verdict | None], prefix: str = "",
           head: Callable[[Trained], list[str]] | None = None) -> Callable:
    """Decorates a judge(trained, check, feedback) -> Verdict of a trained model: a zero
    verdict comes first when there is nothing to judge: no valid settings (prefix, then
    what is wrong with them), or a run that gave no result (stopped's verdict, after
    head's lines)."""
    def decorate(judge: Callable[..., Verdict]) -> Callable[..., Verdict]:
        @wraps(judge)
        def judged(trained: Trained, *args: Any) -> Verdict:
            if trained.settings is None:
                return Verdict(0.0, prefix + trained.problem)
            verdict = stopped(trained)
            if verdict is None:
                return judge(trained, *args)
            return verdict if head is None else Verdict(
                0.0, "\n".join(head(trained) + [verdict.message]))
        return judged
    return decorate


def evaluation_problem(trained: Trained, empty: str, what: str) -> str:
    """Why the evaluation of the weights the run left gave nothing to judge ('' when it
    did): none made (`empty`), or its child failed (what it loaded, then the failure)."""
    if trained.evaluation is None:
        return empty
    failed = failure_verdict(trained.evaluation, what=what)
    return "" if failed is None else failed.message


def state_changed(trained: Trained) -> tuple[int, int]:
    """(entries of the state dict the run left that differ from a fresh model's, entries
    compared): its "state/NAME" arrays against the evaluation's "initial/NAME"."""
    return changed_entries(prefixed(trained.run.values, "state/"),
                           prefixed(trained.evaluation.values, "initial/"))


def stopped_by_budget(trained: Trained, check_id: str | None, hint: str,
                      unit: str = "training batches") -> Verdict | None:
    """A zero verdict saying how far the training run got when its time budget stopped it
    (with the budget of check_id's limits, when given), else None."""
    run = trained.run
    if run.failure is None or run.failure.kind not in STOPPED:
        return None
    budget = ""
    if check_id is not None:
        limits = trained.rubric.limits_for(trained.rubric.check(check_id), trained.data.kind)
        budget = f" of {limits.wall_seconds:.0f} s"
    done, total = trained.progress or (0, 0)
    return Verdict(0.0, f"the training run was stopped by its time budget{budget} after "
                        f"{done} of {total} {unit}.\nHint: {hint}")


def checkpoint_mode(trained: Trained, what: str, learns: str) -> str:
    """'Mode: checkpoint (the grader evaluates the WHAT you submitted in FILE; a short run
    of your LEARNS).'"""
    return (f"Mode: checkpoint (the grader evaluates the {what} you submitted in "
            f"{trained.checkpoint_file}; a short run of your {learns}).")


def refused_checkpoint(trained: Trained, hint: str, what: str = "your checkpoint"
                       ) -> list[str] | None:
    """Checkpoint mode: why the submitted weights could not be evaluated (the file, or
    its sandboxed load, with the hint), else None."""
    if trained.checkpoint is None:
        return [trained.checkpoint_problem]
    failed = failure_verdict(trained.checkpoint, what=what)
    return None if failed is None else [failed.message, "Hint: " + hint]


def series(run: ProbeRun, key: str) -> np.ndarray:
    """A recorded per-step or per-epoch series as a float array (empty when absent)."""
    value = run.values.get(key)
    return np.zeros(0) if value is None else np.asarray(value, dtype=np.float64).ravel()


def count(run: ProbeRun, key: str) -> int:
    """A recorded count, 0 when absent or not a number."""
    try:
        return int(run.values.get(key) or 0)
    except (TypeError, ValueError):
        return 0


def loss_drop(losses: np.ndarray) -> tuple[float, float, float]:
    """(first loss, mean of the last quarter, the drop as a fraction of the first)."""
    first, last = float(losses[0]), float(np.mean(losses[-max(1, len(losses) // 4):]))
    return first, last, (first - last) / first if first > 0 else 0.0


def opening(settings: Any, label: str = "settings", note_end: str = "") -> list[str]:
    """'Your settings: ...' and a note per setting the file did not declare."""
    return [f"Your {label}: {settings.describe()}."] + [f"Note: {n}{note_end}"
                                                       for n in settings.notes]


def data_name(data: Any) -> str:
    """Which CIFAR-format data accuracies were measured on, in the student's terms."""
    return "CIFAR-10" if data.kind == "real" else "synthetic CIFAR-format data (not CIFAR-10)"


def where(device: str) -> str:
    return "CUDA" if device == "cuda" else "the CPU"


def short_run(used: Mapping[str, Any], handout: Mapping[str, Any],
              batch: str = "batch_size") -> str:
    """'' unless the settings `used` make at most 1/SHORT_RUN of the optimizer steps the
    handout's make on the same rows (steps go as num_epochs / batch size); else, to open a
    hint about the training step, a sentence saying the run was short."""
    mine = used["num_epochs"] / used[batch]
    theirs = handout["num_epochs"] / handout[batch]
    if mine * SHORT_RUN > theirs:
        return ""
    return (f"the run was short: num_epochs = {used['num_epochs']} and {batch} = {used[batch]} "
            f"make {theirs / mine:.0f} times fewer optimizer steps than the handout's "
            f"{handout['num_epochs']} and {handout[batch]}; train as long as the handout does "
            "before looking for a bug. Otherwise: ")


# -- informational sweeps (several short trainings, reported, not graded) -----------------

def rounded(*values: float | None) -> list[float | None]:
    """Each value to 4 decimals, None kept: a sweep table's numbers."""
    return [None if v is None else round(v, 4) for v in values]


def sweep_details(title: str, columns: list[str], rows: list[list], by: str,
                  losses: dict, vals: dict, vals_title: str) -> dict:
    """What a sweep records: its table, the loss per step and the validation accuracy per
    epoch of each run (label -> curve)."""
    return {"informational": True,
            "table": {"title": title, "columns": columns, "rows": rows},
            "curves": [{"title": f"training loss per step, by {by}", "x_label": "step (sampled)",
                        "series": losses},
                       {"title": vals_title, "x_label": "epoch", "series": vals}]}


def sweep_line(label: str, loss: float | None, val: float | None, test: float | None) -> str:
    """'LABEL: final training loss 1.2, validation accuracy 41.0%, test accuracy n/a'."""
    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f}%"
    return f"{label}: final training loss {loss}, validation accuracy {pct(val)}, " \
        f"test accuracy {pct(test)}"

