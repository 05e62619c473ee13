"""bench/RESULTS.md: each bench script owns one `## ` section of it."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Sequence

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


def machine(script: str) -> str:
    """'Written by `python bench/SCRIPT` on DATE; machine: ARCH, N cores, Python V': the
    opening of a section, which each script goes on to describe."""
    return (f"Written by `python bench/{script}` on {time.strftime('%Y-%m-%d')}; machine: "
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A Markdown table's lines: the header, its rule, one line per row."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])
