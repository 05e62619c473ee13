"""Measures Part 4's MNIST ConvNet (7b-7d) and records it in bench/RESULTS.md (its own
section): grades of reference/ on one core (taskset -c 0), per question, wall time and
peak memory of the grader and of the sandbox; 7d retrained and in checkpoint mode, on the
default data (a 5,000-digit subset of real MNIST: real MNIST cannot be downloaded on these
machines).

    python bench/part4_convnet.py     # about 2 minutes on this machine
"""
from __future__ import annotations

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

import results_md  # noqa: E402
from run import grade, memory, per_question  # noqa: E402

from grader.data import prepare  # noqa: E402

HEADING = "## Part 4: the MNIST ConvNet (7b-7d) on one core"
# The reference's checkpoint: its own train() with its settings (5 epochs), not timed.
TRAIN_AND_SAVE = """
import sys, numpy as np, torch
sys.path.insert(0, sys.argv[1])
import convnet_mnist as m
torch.manual_seed(0)
torch.set_num_threads(1)
X, y = (torch.from_numpy(np.load(f)) for f in sys.argv[3:5])
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64,
                                     shuffle=True)
model = m.ConvNet()
m.train(model, loader, torch.device("cpu"), 5, 1e-3)
torch.save(model.state_dict(), sys.argv[2])
"""


def checkpoint_rubric(tmp: Path) -> Path:
    """A copy of rubric.toml with 7d's mode switched to checkpoint."""
    text = (ROOT / "grader" / "rubric.toml").read_text()
    at = text.index('mode = "retrain"', text.index('id = "7d"'))
    path = tmp / "part4_convnet_checkpoint.toml"
    path.write_text(text[:at] + 'mode = "checkpoint"' + text[at + len('mode = "retrain"'):])
    return path


def measure(tmp: Path) -> list[tuple]:
    rows = []
    for questions in ("7b", "7c", "7d"):
        wall, results = grade(ROOT / "reference", tmp / f"out-{questions}", questions, cores="0")
        grader_mb, sandbox_mb = memory(results)
        secs, _ = per_question(results)[questions]
        kind = next((t["extra_data"].get("dataset_kind") for t in results["tests"]
                     if t["extra_data"].get("dataset_kind")), "no data")
        rows.append((questions, kind, "retrain" if questions == "7d" else "",
                     f"{secs:.1f} s ({wall:.1f} s whole grade)",
                     f"{grader_mb:.0f} + {sandbox_mb:.0f} MB", f"{results['score']:g}"))
    data = prepare.load(None, {}, "mnist")
    sub = tmp / "ckpt"
    shutil.copytree(ROOT / "reference", sub, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-c", TRAIN_AND_SAVE, str(sub), str(sub / "convnet.ckpt"),
                    str(data.files["X_train"]), str(data.files["y_train"])],
                   check=True, capture_output=True)
    wall, results = grade(sub, tmp / "out-ckpt", "7d", cores="0",
                          rubric_file=checkpoint_rubric(tmp))
    grader_mb, sandbox_mb = memory(results)
    secs, _ = per_question(results)["7d"]
    rows.append(("7d", data.kind, "checkpoint", f"{secs:.1f} s ({wall:.1f} s whole grade)",
                 f"{grader_mb:.0f} + {sandbox_mb:.0f} MB", f"{results['score']:g}"))
    return rows


def section(rows: list[tuple], seconds: float, load_before: float) -> str:
    lines = [HEADING, "",
             results_md.machine("part4_convnet.py")
             + f"; load average {load_before:.2f} before and "
             f"{os.getloadavg()[0]:.2f} at the end (other work was running: the times are "
             f"upper bounds); {seconds:.0f} s in all. Every grade is `--questions Q` of "
             "reference/ pinned to one core (`taskset -c 0`), torch on the CPU; time: the "
             "grader's seconds for the question's checks (the whole grade adds the "
             "environment probe of `device = \"auto\"`, one more torch import, and start-up); "
             "memory: peak RSS of the grader + the largest sandbox. Data: the 5,000-digit "
             "subset of real MNIST (4,000 training digits); real MNIST has 15 times the "
             "training digits, so 7d's training takes about 15 times as long on a CPU. The "
             "checkpoint grade uses a rubric copy whose 7d mode is \"checkpoint\" and the "
             "reference's state dict (5 epochs of its own train(), not timed).", ""]
    lines += results_md.table(
        ["question", "data", "7d mode", "time", "peak memory, grader + sandbox", "score"],
        rows)
    return "\n".join(lines) + "\n"


def main() -> int:
    start, load = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-part4-convnet-") as name:
        rows = measure(Path(name))
    text = section(rows, time.monotonic() - start, load)
    results_md.record(HEADING, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
