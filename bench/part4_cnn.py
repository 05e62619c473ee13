"""Measures Part 4's seed-003 CNN questions (6a-6d) and records them in bench/RESULTS.md
(its own section): a grade of reference/ on one core (taskset -c 0), per question, wall
time and peak memory of the grader and of the largest sandbox, on the default (synthetic)
data. 6b runs two torch children (the CNN, then the blocks on their own); 6c two, the
training run and the evaluation of the weights it left; 6a and 6d one numpy child per check.

    python bench/part4_cnn.py    # about a minute on this machine
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from run import grade, memory, per_question  # noqa: E402
import results_md  # noqa: E402

HEADING = "## Part 4: the CIFAR-10 CNN (6a-6d) on one core"
QUESTIONS = "6a,6b,6c,6d"


def measure(tmp: Path) -> list[tuple]:
    """One row per question and one for the whole grade."""
    wall, results = grade(ROOT / "reference", tmp / "out", QUESTIONS, None, cores="0")
    grader_mb, sandbox_mb = memory(results)
    kind = results["extra_data"]["dataset_kind"]
    rows = []
    for q, (secs, rss) in per_question(results).items():
        tests = [t for t in results["tests"] if t["number"].startswith(q + ".")]
        children = sum(t["extra_data"].get("sandbox_calls", 0) for t in tests)
        score = sum(t["score"] for t in tests)
        rows.append((kind, q, children, f"{secs:.1f} s", f"{grader_mb:.0f} + {rss:.0f} MB",
                     f"{score:g}"))
    rows.append((kind, "6a-6d", "", f"{wall:.1f} s (whole grade)",
                 f"{grader_mb:.0f} + {sandbox_mb:.0f} MB", f"{results['score']:g}"))
    return rows


def section(rows: list[tuple], seconds: float) -> str:
    lines = [HEADING, "",
             results_md.machine("part4_cnn.py")
             + f"; load average {os.getloadavg()[0]:.2f} at the end "
             f"(other jobs were running: times are upper bounds); {seconds:.0f} s in all. "
             "The grade is pinned to one core (`taskset -c 0`), torch on the CPU; per "
             "question: sandboxed children, the grader's seconds for its checks, peak RSS of "
             "the grader + the largest sandbox. 6c trains the reference's CNN (8/16 "
             "channels, 8 epochs of 4,000 rows, 504 steps). CIFAR-10-sized data is not "
             "measured: 6c would train on 12.25 times the rows (about 6 minutes of one "
             "core, estimated from the default data's run).", ""]
    lines += results_md.table(
        ["data", "question", "sandboxed children", "time", "peak memory, grader + sandbox",
         "score"],
        rows)
    return "\n".join(lines) + "\n"


def main() -> int:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-part4-cnn-") as name:
        rows = measure(Path(name))
    text = section(rows, time.monotonic() - start)
    results_md.record(HEADING, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
