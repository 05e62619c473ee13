"""The students' self-check data, generated from the rubric and the parts when the bundle is
built: selfcheck_files/public_checks.json of the archive.

Per visible check that a part's self-check runs (a key of the `CHECKS` literal in the part's
shipped selfcheck.py, read as data): its name, title (the part's `TITLES`, else its name),
question, files, top_level and rubric values. Per part number: its files, its checks and
what is graded on Gradescope only (every other check, by name). The public rubric: every
question with those checks and the ones their judges read too (a part's `RUBRIC_ALSO`),
the sandbox limits, no seed. From each part's `selfcheck_data` (never shipped): the
results of the grader's math its public judges use (`recorded(rubric)`, recorded.py) and
the expected values of the part's own checks (`public_data(rubric)`); the grader's math
runs here, never in the archive. Nothing hidden goes in: hidden checks are named, never
their cases or seeds.
"""
from __future__ import annotations

import ast
import importlib
import json
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

import numpy as np

from . import recorded
from ..rubric.spec import Rubric, load

PACKAGE = Path(__file__).resolve().parents[2]  # grader/
PARTS_DIR = PACKAGE / "parts"
CHECKS_FILE = "selfcheck.py"  # a part's shipped checks: CHECKS = {check id: function}
DATA_MODULE = "selfcheck_data"  # a part's generator of public expected values (not shipped)
INSTALL = "python -m pip install -r requirements.txt"  # the handout's install command


def literal_dict(path: Path, name: str) -> dict:
    """{key: value's ast node} of the dict a file assigns to the top-level `name`, read as
    data, never run: keys must be literals, values are left to the caller (a literal for
    ast.literal_eval, or a function's name). {} when the file or the assignment is absent."""
    if not path.is_file():
        return {}
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", "") == name
                and isinstance(node.value, ast.Dict)):
            return {ast.literal_eval(key): value for key, value in
                    zip(node.value.keys, node.value.values)}
    return {}


def literal_value(path: Path, name: str):
    """The literal a file assigns to the top-level `name`, read as data (None without one)."""
    if path.is_file():
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and getattr(node.targets[0], "id", "") == name):
                return ast.literal_eval(node.value)
    return None


def checks_run_here(part_dir: Path) -> list[str]:
    """The check ids of the `CHECKS` dict literal in PART/selfcheck.py ([] without one)."""
    return list(literal_dict(part_dir / CHECKS_FILE, "CHECKS"))


def _jsonable(value):
    """numpy arrays and scalars as lists and numbers, for json.dumps."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _fields(record) -> dict:
    """A rubric record's fields as a dict, shallow (params stay mappings for _jsonable)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def generate(rubric: Rubric | None = None) -> dict:
    """The public data of every part's self-check (see the module docstring)."""
    rubric = rubric or load()
    owner = {cid: d.name for d in sorted(PARTS_DIR.iterdir()) for cid in checks_run_here(d)}
    spec = {"rubric_version": rubric.version, "install": INSTALL, "checks": {}, "parts": {},
            "data": {}}
    # the public rubric: every question, with the checks the self-check runs and those
    # whose values their judges read too (a part's RUBRIC_ALSO)
    also = {c for d in PARTS_DIR.iterdir()
            for c in literal_value(d / CHECKS_FILE, "RUBRIC_ALSO") or ()}
    questions = []
    for question in rubric.questions:
        part = spec["parts"].setdefault(str(question.part), {"files": [], "checks": [],
                                                             "elsewhere": []})
        part["files"] += [f for f in question.files if f not in part["files"]]
        checks = []
        for check in question.checks:
            if check.id not in owner or check.visibility != "visible":
                part["elsewhere"].append(f"{check.id} ({check.name})")
                checks += [_fields(check)] if check.id in also else []
                continue
            part["checks"].append(check.id)
            checks.append(_fields(check))
            titles = literal_value(PARTS_DIR / owner[check.id] / CHECKS_FILE, "TITLES") or {}
            spec["checks"][check.id] = {
                "name": check.name, "question": question.id, "files": list(question.files),
                "top_level": question.top_level, "module": owner[check.id],
                "title": titles.get(check.id, check.name), "values": dict(check.params)}
        questions.append({**_fields(question), "checks": checks})
    spec["rubric"] = {"version": rubric.version, "assignment": rubric.assignment,
                      "limits": _fields(rubric.limits), "questions": questions}
    for number, part in sorted(spec["parts"].items()):
        part["not_here"] = ("Not checked here (graded on Gradescope, or by the course staff): "
                            + "; ".join(part.pop("elsewhere")) + ".")
    spec["parts"] = {n: p for n, p in sorted(spec["parts"].items()) if p["checks"]}
    spec["recorded"] = {}  # solution module -> {call digest: result} (recorded.py)
    for name in sorted(set(owner.values())):
        if (PARTS_DIR / name / f"{DATA_MODULE}.py").is_file():
            module = importlib.import_module(f"grader.parts.{name}.{DATA_MODULE}")
            if hasattr(module, "public_data"):
                spec["data"][name] = module.public_data(rubric)
            calls_by_module = module.recorded(rubric) if hasattr(module, "recorded") else {}
            for math, calls in calls_by_module.items():
                solution = importlib.import_module(f"grader.parts.{name}.{math}")
                spec["recorded"][solution.__name__] = recorded.record(solution, calls)
    return spec


def public_checks_json(rubric: Rubric | None = None) -> bytes:
    """generate() as the bytes of public_checks.json (sorted keys: the same bytes each build)."""
    text = json.dumps(generate(rubric), indent=1, sort_keys=True, default=_jsonable)
    return (text + "\n").encode()
