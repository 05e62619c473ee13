"""Loads rubric.toml into frozen dataclasses and validates it.

The rubric is the single place for points, visibility, thresholds and budgets; suites
ask it for numbers (`rubric.check("3b.2").value("threshold", kind)`) instead of holding
literals.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .errors import RubricError

RUBRIC_PATH = Path(__file__).with_name("rubric.toml")
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
DATASET_KINDS = ("real", "synthetic")
_CHECK_KEYS = {"id", "name", "points", "visibility", "partial"}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed call of student code."""

    wall_seconds: float  # wall-clock timeout, seconds
    cpu_seconds: float  # CPU-time limit (RLIMIT_CPU), seconds
    memory_mb: int  # address-space limit (RLIMIT_AS), MiB
    output_kb: int  # stdout/stderr kept for feedback, KiB
    max_output_mb: int  # largest file the child may write (RLIMIT_FSIZE), MiB
    max_processes: int  # RLIMIT_NPROC
    max_open_files: int  # RLIMIT_NOFILE
    max_copy_mb: int  # submission files copied into the sandbox, MiB in total

    def replace(self, **changes: Any) -> "Limits":
        """Returns a copy with some limits changed."""
        values = {**self.__dict__, **{k: v for k, v in changes.items() if v is not None}}
        return Limits(**values)


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
        """Every automatic check, in rubric order."""
        return tuple(c for q in self.questions for c in q.checks)

    @property
    def manual(self) -> tuple[Question, ...]:
        """The manually graded (report) questions."""
        return tuple(q for q in self.questions if q.graded == "manual")

    def limits_for(self, check: Check, kind: str | None = None) -> Limits:
        """The sandbox limits of one check: the defaults with its overrides."""
        keys = ("wall_seconds", "cpu_seconds", "memory_mb")
        return self.limits.replace(**{k: check.get(k, kind=kind) for k in keys})


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
    graded = raw.get("graded", "auto")
    if graded not in ("auto", "manual"):
        raise RubricError(f"question {qid}: graded must be 'auto' or 'manual'")
    checks = tuple(_load_check(c, qid) for c in raw.get("check", ()))
    points = float(_require(raw, "points", f"question {qid}"))
    if graded == "auto":
        total = sum(c.points for c in checks)
        if abs(total - points) > 1e-9:
            raise RubricError(f"question {qid}: checks add up to {total}, not {points}")
    elif checks:
        raise RubricError(f"question {qid} is graded manually but lists checks")
    return Question(qid, _require(raw, "title", f"question {qid}"), int(raw.get("part", 0)),
                    points, graded, checks)


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
    return Rubric(str(_require(head, "version", "[rubric]")), str(head.get("assignment", "")),
                  int(_require(head, "seed", "[rubric]")), limits, MappingProxyType(datasets),
                  questions)
