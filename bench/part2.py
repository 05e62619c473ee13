"""Measures Part 2 (the PyTorch MLP, 4a-4c) and records it in bench/RESULTS.md (its own
section): a grade of reference/ on one core (taskset -c 0), per question, wall time and
peak memory of the grader and of the sandbox, with 4b retrained and in checkpoint mode, on
the default (synthetic) data and on CIFAR-10-sized synthetic data (`python -m grader
make-data`).

    python bench/part2.py            # both data sets (about 6 minutes on this machine)
    python bench/part2.py --quick    # the default data only
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from run import grade, memory, per_question  # noqa: E402

from grader.core.rubric import spec as rubric_mod  # noqa: E402
from grader.data import prepare  # noqa: E402
import results_md  # noqa: E402

HEADING = "## Part 2 (PyTorch MLP) on one core"
QUESTIONS = "4a,4b,4c"


def checkpoint_rubric(tmp: Path) -> Path:
    """A copy of rubric.toml with 4b's mode switched to checkpoint."""
    text = (ROOT / "grader" / "rubric.toml").read_text()
    at = text.index('mode = "retrain"', text.index('id = "4b"'))
    path = tmp / "part2_checkpoint.toml"
    path.write_text(text[:at] + 'mode = "checkpoint"' + text[at + len('mode = "retrain"'):])
    return path


def measure(tmp: Path, data_dir: Path | None, label: str) -> list[tuple]:
    rows = []
    wall, results = grade(ROOT / "reference", tmp / f"out-{label}", QUESTIONS, data_dir, cores="0")
    grader_mb, _ = memory(results)
    kind = results["extra_data"]["dataset_kind"]
    for q, (secs, rss) in per_question(results).items():
        score = sum(t["score"] for t in results["tests"] if t["number"].startswith(q + "."))
        rows.append((label, kind, q, "retrain" if q == "4b" else "", f"{secs:.1f} s",
                     f"{grader_mb:.0f} + {rss:.0f} MB", f"{score:g}"))
    rows.append((label, kind, "4a-4c", "retrain", f"{wall:.1f} s (whole grade)",
                 f"{grader_mb:.0f} + {max(r for _, r in per_question(results).values()):.0f} MB",
                 f"{results['score']:g}"))
    # checkpoint mode: the reference's state dict made by its own train() (not timed)
    data = prepare.load(data_dir, dict(rubric_mod.load().datasets))
    sub = tmp / f"ckpt-{label}"
    shutil.copytree(ROOT / "reference", sub, ignore=shutil.ignore_patterns("__pycache__"))
    files = [str(data.files[k]) for k in ("X_train", "y_train", "X_val", "y_val")]
    subprocess.run([sys.executable, str(ROOT / "tests" / "parts" / "part2_mlp" / "make_mlp_checkpoint.py"),
                    str(ROOT / "reference"), *files, str(sub / "model.ckpt"),
                    "10"],
                   check=True, capture_output=True)
    wall, results = grade(sub, tmp / f"out-ckpt-{label}", "4b", data_dir, cores="0",
                          rubric_file=checkpoint_rubric(tmp))
    grader_mb, sandbox_mb = memory(results)
    rows.append((label, kind, "4b", "checkpoint", f"{wall:.1f} s (whole grade)",
                 f"{grader_mb:.0f} + {sandbox_mb:.0f} MB", f"{results['score']:g}"))
    return rows


def section(rows: list[tuple], seconds: float) -> str:
    lines = [HEADING, "",
             results_md.machine("part2.py")
             + f"; load average {os.getloadavg()[0]:.2f} at the end; "
             f"{seconds:.0f} s in all. Every grade pinned to one core (`taskset -c 0`), "
             "torch on the CPU; per question: the grader's seconds for its checks, peak RSS "
             "of the grader + the largest sandbox. The checkpoint grade is `--questions 4b` "
             "with a rubric copy whose 4b mode is \"checkpoint\" and the reference's state "
             "dict (10 epochs of its own train(), not timed).", ""]
    lines += results_md.table(
        ["data", "kind", "question", "4b mode", "time", "peak memory, grader + sandbox", "score"],
        rows)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the default data only")
    args = parser.parse_args()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-part2-") as name:
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
