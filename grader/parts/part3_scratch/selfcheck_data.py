"""What Part 3's public self-check needs from the grader, written into the students' archive
when the handout is built (grader/core/handout/public_checks.py): the names of the answers
5f and 7a ask for in backprop_answers.py, never their values. Never shipped itself."""
from __future__ import annotations

from .handcomputed import seed002_answers, seed004_answers


def public_data(rubric) -> dict:
    """{question id: [answer names]} of the hand-computed questions."""
    return {"answers": {"5f": [a.name for a in seed002_answers()],
                        "7a": [a.name for a in seed004_answers()]}}
