"""Measures Part 3 (network_template.py, 5a-5f and 7a) and records it in bench/RESULTS.md
(its own section): a grade of reference/ on one core (taskset -c 0), per question, wall
time and peak memory of the grader and of the largest sandbox, on the default (synthetic)
data and on CIFAR-10-sized synthetic data (`python -m grader make-data`).

    python bench/part3.py            # both data sets (about 8 minutes on this machine)
    python bench/part3.py --quick    # the default data only
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from run import grade, memory, per_question  # noqa: E402
import results_md  # noqa: E402

HEADING = "## Part 3 (training tools from scratch) on one core"
QUESTIONS = "5a,5b,5c,5d,5e,5f,7a"


def measure(tmp: Path, data_dir: Path | None, label: str) -> list[tuple]:
    rows = []
    wall, results = grade(ROOT / "reference", tmp / f"out-{label}", QUESTIONS, data_dir, cores="0")
    grader_mb, _ = memory(results)
    kind = results["extra_data"]["dataset_kind"]
    for q, (secs, rss) in per_question(results).items():
        score = sum(t["score"] for t in results["tests"] if t["number"].startswith(q + "."))
        rows.append((label, kind, q, f"{secs:.1f} s", f"{grader_mb:.0f} + {rss:.0f} MB",
                     f"{score:g}"))
    rows.append((label, kind, "all", f"{wall:.1f} s (whole grade)",
                 f"{grader_mb:.0f} + {max(r for _, r in per_question(results).values()):.0f} MB",
                 f"{results['score']:g}"))
    return rows


def section(rows: list[tuple], seconds: float) -> str:
    lines = [HEADING, "",
             results_md.machine("part3.py")
             + f"; load average {os.getloadavg()[0]:.2f} at the end "
             f"(other sessions were running: times are upper bounds); {seconds:.0f} s in all. "
             "Every grade pinned to one core (`taskset -c 0`); per question: the grader's "
             "seconds for its checks (5d: the budget timing and the training; 5e: four "
             "shorter trainings), peak RSS of the grader + the largest sandbox. The "
             "CIFAR-10-sized data is judged with the synthetic thresholds and budgets.", ""]
    lines += results_md.table(
        ["data", "kind", "question", "time", "peak memory, grader + sandbox", "score"],
        rows)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the default data only")
    args = parser.parse_args()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-part3-") as name:
        tmp = Path(name)
        rows = measure(tmp, None, "default")
        if not args.quick:
            big = tmp / "cifar-sized"
            subprocess.run([sys.executable, "-m", "grader", "make-data", str(big)], cwd=ROOT,
                           check=True, capture_output=True)
            rows += measure(tmp, big, "CIFAR-10-sized")
    text = section(rows, time.monotonic() - start)
    results_md.record(HEADING, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
