"""Copies of grader/rubric.toml with one question's setting changed, for `grade --rubric`."""
from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[2] / "grader" / "rubric.toml"


def with_setting(text: str, question: str, old: str, new: str) -> str:
    """`text` with the first `old` after question `question`'s header replaced by `new`
    (asserting it lies within that question's block)."""
    head = text.index(f'id = "{question}"')
    at = text.index(old, head)
    following = text.find("[[question]]", head)
    assert following == -1 or at < following, f"{old!r} is not a setting of {question}"
    return text[:at] + new + text[at + len(old):]


def checkpoint_mode(question: str, text: str | None = None) -> str:
    """The rubric with `mode = "checkpoint"` for `question` (instead of "retrain")."""
    return with_setting(SHIPPED.read_text() if text is None else text, question,
                        'mode = "retrain"', 'mode = "checkpoint"')
