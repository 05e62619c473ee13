"""bench/RESULTS.md: each bench script owns one `## ` section of it."""
from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def record(heading: str, text: str, path: Path = RESULTS) -> None:
    """Replaces the section that starts with `heading` (up to the next `## `) by text, which
    starts with that heading; adds it at the end when there is none. Other sections stay."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    if heading in old:
        head, rest = old.split(heading, 1)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
        new = head.rstrip("\n") + "\n\n" + text + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new)
