"""The grader's solution math, recorded for the students' self-check: what a public judge
computes with it (netmath.py, cnnmath.py) on the public cases, without the math.

A part's selfcheck_data.recorded(rubric) lists, per solution module, the calls its public
judges make, (function, args); public_checks.py makes each call in the grader when the
handout is built and writes record(module, calls) into public_checks.json. In the
self-check, stand_in(name, data) is the module the judges import instead: a function of
it returns the recorded result for the same arguments (digest() of their values), and
any other call raises NotRecorded. Numpy only: this file ships, the math never does.
"""
from __future__ import annotations

import hashlib
import types
from typing import Any

import numpy as np


class NotRecorded(LookupError):
    """A judge called the solution with arguments nobody recorded (a grader bug)."""


def digest(function: str, args: tuple) -> str:
    """A digest of a call: the function's name and its arguments' values (arrays by dtype,
    shape and bytes; numbers by value; sequences and dicts element by element)."""
    hasher = hashlib.sha256(function.encode())

    def feed(value: Any) -> None:
        if isinstance(value, np.ndarray) or isinstance(value, np.generic):
            arr = np.ascontiguousarray(value)
            hasher.update(f"a{arr.dtype.str}{arr.shape}".encode() + arr.tobytes())
        elif isinstance(value, (list, tuple)):
            hasher.update(f"s{len(value)}".encode())
            for item in value:
                feed(item)
        elif isinstance(value, dict):
            hasher.update(f"d{len(value)}".encode())
            for key in sorted(value):
                feed(key)
                feed(value[key])
        elif callable(value):  # a function handed in (a loss to differentiate): by place
            hasher.update(b"f")
        else:
            hasher.update(f"v{value!r}".encode())

    feed(args)
    return hasher.hexdigest()


def encode(value: Any) -> Any:
    """A result as JSON data that decode() turns back into the same types."""
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return {"tuple" if isinstance(value, tuple) else "list": [encode(v) for v in value]}
    return value


def decode(value: Any) -> Any:
    """The result encode() wrote."""
    if isinstance(value, dict) and "array" in value:
        return np.array(value["array"], dtype=np.dtype(value["dtype"]))
    if isinstance(value, dict) and "tuple" in value:
        return tuple(decode(v) for v in value["tuple"])
    if isinstance(value, dict) and "list" in value:
        return [decode(v) for v in value["list"]]
    return value


def record(module: types.ModuleType, calls: list[tuple[str, tuple | None]]) -> dict:
    """{digest: encoded result} of each call of the module's functions; args None records
    the attribute itself (a constant, such as the names of the parameters)."""
    return {digest(name, args): encode(getattr(module, name) if args is None else
                                       getattr(module, name)(*args)) for name, args in calls}


def stand_in(name: str, recorded: dict) -> types.ModuleType:
    """The module `name` whose functions return the recorded results."""
    module = types.ModuleType(name, "Recorded results of the grader's math (no formulas).")

    def function(attr: str):
        if attr.startswith("__"):  # what importers look up (__file__, __path__, ...)
            raise AttributeError(attr)
        if digest(attr, None) in recorded:
            return decode(recorded[digest(attr, None)])

        def replay(*args):
            key = digest(attr, args)
            if key not in recorded:
                raise NotRecorded(f"{name}.{attr}: no result was recorded for these "
                                  "arguments; Gradescope's run of this check is the one "
                                  "that counts")
            return decode(recorded[key])
        return replay

    module.__getattr__ = function  # PEP 562: any function name
    return module
