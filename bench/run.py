"""Measures what grading costs on this machine and writes bench/RESULTS.md.

    python bench/run.py            # everything (about 6 minutes on 2 cores)
    python bench/run.py --quick    # skips the CIFAR-10-sized run

Figures: the self-check of reference/ (seconds, peak memory); a grade of reference/ on Part 1's questions
on the default synthetic data and on CIFAR-10-sized synthetic data (seconds per question,
peak RSS of grader and sandbox), the latter on one core (taskset -c 0), with 3b retrained
and in checkpoint mode; the grader's
overhead against the same student work run directly; batch throughput at -j 1 and -j 2.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
# The direct run must use what the sandbox gives student code: one BLAS thread.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from direct import run_direct  # noqa: E402

from grader.core.rubric import spec as _rubric  # noqa: E402

CHEAP = "1a,1b,1c,2d,3a"
# Part 1's automatic questions: the figures below are Part 1's (Part 2's torch questions
# are measured by bench/torch_sandbox.py and their own rows).
PART1 = ",".join(q.id for q in _rubric.load().questions if q.part == 1 and q.graded == "auto")
GOALS = {"self_check_s": 20, "full_default_s": 180, "cifar_one_core_s": 600,
         "memory_part1_mb": 768, "overhead": 1.10}


def timed(cmd: list[str], cores: str | None = None, cwd: Path = ROOT
          ) -> tuple[float, subprocess.CompletedProcess]:
    """(wall seconds, completed process) of a command run in cwd, pinned to `cores` when
    given."""
    if cores:
        cmd = ["taskset", "-c", cores] + cmd
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.monotonic() - start, proc


def grade(sub: Path, out: Path, questions: str | None = None, data_dir: Path | None = None,
          cores: str | None = None, rubric_file: Path | None = None) -> tuple[float, dict]:
    """Grades sub (with another rubric file when given); (wall s, results)."""
    cmd = [sys.executable, "-m", "grader", "grade", str(sub), "--out", str(out), "--quiet"]
    if questions:
        cmd += ["--questions", questions]
    if rubric_file:
        cmd += ["--rubric", str(rubric_file)]
    if data_dir:
        cmd += ["--data-dir", str(data_dir)]
    wall, proc = timed(cmd, cores)
    if proc.returncode != 0:
        raise SystemExit(f"grading failed: {proc.stderr[-2000:]}")
    return wall, json.loads((out / "results.json").read_text())


def per_question(results: dict) -> dict:
    """question -> (seconds, sandbox peak RSS MiB)."""
    table: dict = {}
    for test in results["tests"]:
        q = test["number"].split(".")[0]
        secs, rss = table.get(q, (0.0, 0.0))
        extra = test["extra_data"]
        table[q] = (secs + extra["seconds"], max(rss, extra.get("sandbox_peak_rss_mb", 0.0)))
    return table


def memory(results: dict) -> tuple[float, float]:
    """(grader peak RSS, largest sandbox peak RSS), MiB."""
    sandbox = max(t["extra_data"].get("sandbox_peak_rss_mb", 0.0) for t in results["tests"])
    return results["extra_data"]["grader_peak_rss_mb"], sandbox


def checkpoint_mode_grade(tmp: Path, data: Path) -> tuple[float, dict]:
    """A Part 1 grade of reference/ with 3b in checkpoint mode on one core: a copy of
    rubric.toml with that one line changed (`grade --rubric`), and the reference's
    checkpoint written by its driver's `best` step on the same data (not timed)."""
    toml = tmp / "checkpoint_rubric.toml"
    sys.path.insert(0, str(ROOT / "tests"))
    from rubric_copies import checkpoint_mode  # noqa: E402 - the tests' rubric editor
    toml.write_text(checkpoint_mode("3b"))
    sub = tmp / "checkpoint_sub"
    shutil.copytree(ROOT / "reference", sub, ignore=shutil.ignore_patterns(
        "__pycache__", "checkpoints", "plots"))
    subprocess.run([sys.executable, "ex2_FCnet.py", "best", "--data-dir",
                    str(data / "cifar-10-batches-py"), "--plot-dir", str(tmp / "plots")],
                   cwd=sub, check=True, capture_output=True, env={**os.environ, "MPLBACKEND": "Agg"})
    return grade(sub, tmp / "checkpoint_out", PART1, data, cores="0", rubric_file=toml)


def throughput(tmp: Path, copies: int, jobs: int) -> float:
    """Submissions graded per minute (cheap questions) with `jobs` graders at once."""
    subs = []
    for i in range(copies):
        sub = tmp / f"sub{jobs}_{i}"
        shutil.copytree(ROOT / "reference", sub, ignore=shutil.ignore_patterns("__pycache__"))
        subs.append(sub)
    start = time.monotonic()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(lambda s: grade(s, s.parent / (s.name + "_out"), CHEAP), subs))
    return copies / ((time.monotonic() - start) / 60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the CIFAR-10-sized run")
    parser.add_argument("--copies", type=int, default=6, help="submissions in the throughput run")
    args = parser.parse_args()
    # one prepared-data cache for every grader run here, the copied grader's included
    os.environ.setdefault("GRADER_CACHE", str(ROOT / ".cache" / "grader"))
    tmp = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    rows = []
    try:
        print("self-check of reference/ ...", flush=True)
        wall, proc = timed([sys.executable, "-m", "grader", "check", "reference", "--out",
                               str(tmp / "check"), "--questions", PART1])
        res = json.loads((tmp / "check" / "results.json").read_text())
        g, s = memory(res)
        rows.append(("self-check of reference/ (public checks, no 3b)", f"{wall:.1f} s",
                     f"grader {g:.0f} MB, sandbox {s:.0f} MB", f"< {GOALS['self_check_s']} s"))

        print("Part 1 grade on the default synthetic data ...", flush=True)
        grade(ROOT / "reference", tmp / "warm", "1a")  # data generated and cached first
        full_wall, full = grade(ROOT / "reference", tmp / "full", PART1)
        g, s = memory(full)
        rows.append(("Part 1 grade of reference/, default synthetic data (2 cores)",
                     f"{full_wall:.1f} s", f"grader {g:.0f} MB + sandbox {s:.0f} MB = {g + s:.0f} MB",
                     f"< {GOALS['full_default_s']} s; <= {GOALS['memory_part1_mb']} MB"))
        questions = per_question(full)

        print("the same student work run directly ...", flush=True)
        direct = run_direct(ROOT / "reference", full)
        overhead = full_wall / direct
        rows.append(("grader overhead: Part 1 grade / the same student calls run directly",
                     f"{overhead:.2f}x ({full_wall:.1f} s / {direct:.1f} s)", "",
                     f"<= {GOALS['overhead']}"))

        cifar_q = None
        if not args.quick:
            print("CIFAR-10-sized synthetic data on one core ...", flush=True)
            data = tmp / "cifar_size"
            subprocess.run([sys.executable, "-m", "grader", "make-data", str(data)], cwd=ROOT,
                           check=True, capture_output=True)
            grade(ROOT / "reference", tmp / "warm2", "1a", data)  # prepare the splits once
            prep_wall, _ = grade(ROOT / "reference", tmp / "prep", "3b", data, cores="0")
            wall, cifar = grade(ROOT / "reference", tmp / "cifar", PART1, data, cores="0")
            g, s = memory(cifar)
            cifar_q = per_question(cifar)
            rows.append(("Part 1 grade of reference/, CIFAR-10-sized data (49,000 rows), one core",
                         f"{wall:.1f} s", f"grader {g:.0f} MB + sandbox {s:.0f} MB = {g + s:.0f} MB",
                         f"< {GOALS['cifar_one_core_s']} s; <= {GOALS['memory_part1_mb']} MB"))
            print("the same with 3b in checkpoint mode ...", flush=True)
            wall, ckpt = checkpoint_mode_grade(tmp, data)
            g, s = memory(ckpt)
            if ckpt["score"] != cifar["score"]:
                raise SystemExit(f"checkpoint mode: reference got {ckpt['score']}")
            rows.append(("the same, 3b in checkpoint mode (rubric `mode`), one core",
                         f"{wall:.1f} s", f"grader {g:.0f} MB + sandbox {s:.0f} MB = {g + s:.0f} MB",
                         f"< {GOALS['cifar_one_core_s']} s; <= {GOALS['memory_part1_mb']} MB"))

        print("batch throughput ...", flush=True)
        one = throughput(tmp, args.copies, 1)
        two = throughput(tmp, args.copies, 2)
        rows.append((f"batch throughput, {args.copies} copies of reference/, questions {CHEAP}",
                     f"-j 1: {one:.1f}/min; -j 2: {two:.1f}/min (x{two / one:.2f})", "", ""))
        write_results(rows, questions, cifar_q, full)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print((Path(__file__).parent / "RESULTS.md").read_text())
    return 0


def write_results(rows, questions, cifar_q, full) -> None:
    lines = ["# Benchmark results", "",
             f"Written by `python bench/run.py` on {time.strftime('%Y-%m-%d')}; machine: "
             f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             "no GPU. Synthetic data throughout (no real CIFAR-10 here); timings on this "
             "machine are noisy (compare ratios within one run).", "",
             "| measurement | result | memory (peak RSS) | goal |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += ["", "Seconds and sandbox peak RSS per question (Part 1 grade, default data; "
              "CIFAR-10-sized data on one core):", "",
              "| question | default: s | default: sandbox MB | CIFAR-size: s | CIFAR-size: sandbox MB |",
              "|---|---|---|---|---|"]
    for q, (secs, rss) in questions.items():
        c = cifar_q.get(q) if cifar_q else None
        lines.append(f"| {q} | {secs:.1f} | {rss:.0f} | " +
                     (f"{c[0]:.1f} | {c[1]:.0f} |" if c else "- | - |"))
    path = Path(__file__).parent / "RESULTS.md"
    kept = ""  # bench/torch_sandbox.py's section, kept as it was
    if path.exists() and "\n## Torch in the sandbox" in path.read_text():
        kept = "\n## Torch in the sandbox" + path.read_text().split("\n## Torch in the sandbox", 1)[1]
    path.write_text("\n".join(lines) + "\n" + kept)


if __name__ == "__main__":
    sys.exit(main())
