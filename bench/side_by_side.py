"""Measures a grading with its questions side by side (`grade --jobs`, the fork template)
against the sequential fresh-interpreter grader it replaced (GRADER_FORK_TEMPLATE=0,
--jobs 1), same machine, same run, and records it in bench/RESULTS.md (its own section).

    python bench/side_by_side.py             # whole grades and grade-all, ~25 min on 2 cores
    python bench/side_by_side.py --whole     # the four whole grades only (~15 min)
    python bench/side_by_side.py --batch     # grade-all only (~10 min)

Figures, for `grade reference` on the default data:
- wall time on every core of the machine, and on one core (`taskset -c 0`);
- CPU seconds of the grading (grader, lanes and sandbox: their rusage once reaped);
- grader-plus-sandbox peak memory (every process under the grader sampled every 0.2 s:
  the largest sum of proportional set sizes, pages shared by a template and its children
  counted once);
- the student code's own training time (the trainings' train_seconds the grader records,
  a training's sandbox seconds where it records none) and the wall time over it;
- and `grade-all -j 2` of copies of reference/: submissions per hour.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from fork_template import _loadavg, _memory_kb  # noqa: E402
from grader.core.rubric import spec as rubric_mod  # noqa: E402
from grader.core.sandbox.procs import process_tree  # noqa: E402
import results_md  # noqa: E402

HEADING = "## Questions side by side (issue 22)"
MODES = {  # name -> (environment, grade's extra arguments)
    "sequential, fresh interpreters": ({"GRADER_FORK_TEMPLATE": "0"}, ["--jobs", "1"]),
    "side by side, template": ({"GRADER_FORK_TEMPLATE": "1"}, []),
}
BATCH_COPIES = 4
FIGURES = Path(__file__).with_name("side_by_side.json")  # the last run's figures


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _watched(cmd: list[str], env: dict) -> dict:
    """Runs cmd to its end: wall seconds, CPU seconds, peak PSS and RSS (MB)."""
    cpu0, start = _cpu_children(), time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = {"pss": 0, "rss": 0}

    def sample() -> None:
        while proc.poll() is None:
            sums = [sum(v) for v in zip(*(_memory_kb(p) for p in process_tree(proc.pid)))]
            if sums:
                peak["pss"], peak["rss"] = max(peak["pss"], sums[0]), max(peak["rss"], sums[1])
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    proc.wait()
    watcher.join()
    return {"wall_s": time.monotonic() - start, "cpu_s": _cpu_children() - cpu0,
            "peak_pss_mb": peak["pss"] / 1024, "peak_rss_mb": peak["rss"] / 1024,
            "code": proc.returncode}


def training_seconds(results: dict) -> float:
    """The student code's own training time in a results.json: per question that trains
    on a dataset, its recorded train_seconds, else its checks' sandbox seconds."""
    rub = rubric_mod.load()
    total = 0.0
    for question in rub.questions:
        if not question.dataset:
            continue
        extra = [t.get("extra_data", {}) for t in results["tests"]
                 if t["number"].split(".")[0] == question.id]
        trained = [e["train_seconds"] for e in extra if "train_seconds" in e]
        total += sum(trained) if trained else sum(e.get("sandbox_seconds", 0.0) for e in extra)
    return total


def whole(mode: str, one_core: bool) -> dict:
    env, extra = MODES[mode]
    with tempfile.TemporaryDirectory(prefix="side-bench-") as out:
        cmd = [sys.executable, "-m", "grader", "grade", "reference", "--out", out, *extra]
        if one_core:
            cmd = ["taskset", "-c", "0", *cmd]
        figures = _watched(cmd, env)
        results = json.loads((Path(out) / "results.json").read_text())
    figures.update(score=results["score"], training_s=training_seconds(results),
                   scores={t["number"]: t["score"] for t in results["tests"]})
    return figures


def batch(mode: str) -> dict:
    env, _ = MODES[mode]
    with tempfile.TemporaryDirectory(prefix="side-bench-batch-") as tmp:
        subs = Path(tmp) / "subs"
        for i in range(BATCH_COPIES):
            shutil.copytree(ROOT / "reference", subs / f"student{i}",
                            ignore=shutil.ignore_patterns("__pycache__"))
        figures = _watched([sys.executable, "-m", "grader", "grade-all", str(subs), "--out",
                            str(Path(tmp) / "out"), "-j", "2"], env)
    figures["per_hour"] = BATCH_COPIES * 3600 / figures["wall_s"]
    return figures


def section(grades: dict, batches: dict, loads: dict) -> str:
    names = list(MODES)
    said = "; ".join(f"{part}: load average {a} before, {b} after"
                     for part, (a, b) in sorted(loads.items()))
    lines = [HEADING, "", results_md.machine("side_by_side.py") + f"; {said}. Each row's "
             "two figures were taken one after the other in one run.", ""]
    rows = []
    for cores, label in ((False, f"all {os.cpu_count()} cores"), (True, "one core (taskset)")):
        got = [grades.get((n, cores)) for n in names]
        if not all(got):
            continue
        a, b = got
        rows += [
            (f"`grade reference`, {label}: wall time", f"{a['wall_s']:.0f} s",
             f"{b['wall_s']:.0f} s"),
            ("... the student code's own training", f"{a['training_s']:.0f} s",
             f"{b['training_s']:.0f} s"),
            ("... wall time over that training", f"{a['wall_s'] / a['training_s']:.2f}x",
             f"{b['wall_s'] / b['training_s']:.2f}x"),
            ("... CPU seconds per submission", f"{a['cpu_s']:.0f} s", f"{b['cpu_s']:.0f} s"),
            ("... peak memory, grader + sandbox (sum of PSS)", f"{a['peak_pss_mb']:.0f} MB",
             f"{b['peak_pss_mb']:.0f} MB"),
            ("... score", f"{a['score']:g}", f"{b['score']:g}"
             + ("" if a["scores"] == b["scores"] else " (check scores differ!)"))]
    if all(batches.get(n) for n in names):
        a, b = (batches[n] for n in names)
        rows += [(f"`grade-all -j 2` of {BATCH_COPIES} copies: wall time",
                  f"{a['wall_s']:.0f} s", f"{b['wall_s']:.0f} s"),
                 ("... submissions per hour", f"{a['per_hour']:.0f}", f"{b['per_hour']:.0f}"),
                 ("... peak memory (sum of PSS)", f"{a['peak_pss_mb']:.0f} MB",
                  f"{b['peak_pss_mb']:.0f} MB")]
    lines += results_md.table(("", *names), rows)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whole", action="store_true", help="the whole grades only")
    parser.add_argument("--batch", action="store_true", help="grade-all only")
    args = parser.parse_args()
    both = not (args.whole or args.batch)
    before = _loadavg()
    grades, batches = {}, {}
    if both or args.whole:
        for one_core in (False, True):
            for mode in MODES:
                grades[(mode, one_core)] = whole(mode, one_core)
                print(mode, "one core" if one_core else "all cores",
                      {k: v for k, v in grades[(mode, one_core)].items() if k != "scores"},
                      flush=True)
    if both or args.batch:
        for mode in MODES:
            batches[mode] = batch(mode)
            print(mode, "grade-all", batches[mode], flush=True)
    # a partial run keeps the other figures of the last run (bench/side_by_side.json)
    kept = json.loads(FIGURES.read_text()) if FIGURES.is_file() else {}
    if grades:
        kept["whole"] = [[mode, one_core, f] for (mode, one_core), f in grades.items()]
    if batches:
        kept["batch"] = batches
    kept.setdefault("loads", {})["whole" if grades else "batch"] = [before, _loadavg()]
    FIGURES.write_text(json.dumps(kept, indent=1))
    text = section({(m, c): f for m, c, f in kept.get("whole", [])}, kept.get("batch", {}),
                   kept["loads"])
    results_md.record(HEADING, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
