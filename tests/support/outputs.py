"""Reading a test's output in results.json as text.

Per-test outputs are Markdown (grader/templates/check.md.j2): hints are quoted as
"> **Hint:** ..." and characters that would start markup are backslash-escaped. Tests
match phrases against the text a student reads.
"""
import re


def plain(output: str) -> str:
    """The Markdown output as the text it shows: escapes undone, hints as 'Hint: ...'."""
    text = re.sub(r"^> \*\*Hint:\*\* ", "Hint: ", output, flags=re.MULTILINE)
    return re.sub(r"\\(.)", r"\1", text)
