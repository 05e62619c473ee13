"""Measures the fork template (grader/core/sandbox/template.py) against fresh interpreters,
same machine, same run, and records it in bench/RESULTS.md (its own section).

    python bench/fork_template.py            # both figures, about 8 minutes on 2 cores
    python bench/fork_template.py --calls    # the per-call figure only (about a minute)

Figures:
- per-call overhead: a trivial torch probe (ctx.torch(), one sum) called N times with a
  fresh interpreter each, then N times forked from one template (whose start is shown
  apart): wall time per call as the grader sees it, the child's CPU seconds;
- the whole grade of reference/ (`python -m grader grade reference`, default data), with
  GRADER_FORK_TEMPLATE=0 (today's fresh interpreters) and then with the template: wall
  time, the seconds the torch checks took, grader-plus-sandbox peak memory (the grader
  process and every descendant, sampled every 0.2 s: the largest sum of proportional set
  sizes, which counts pages shared by the template and its children once, and the
  largest sum of RSS, which counts them in each), and whether every check scored the same.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from grader.core.rubric import spec as rubric  # noqa: E402
from grader.core.sandbox.procs import process_tree  # noqa: E402
from grader.core.sandbox.runner import run_probe  # noqa: E402
from grader.core.sandbox.template import Template  # noqa: E402
import results_md  # noqa: E402

HEADING = "## Torch once per grading: the fork template (issue 22)"
PROBE = '''
def trivial(ctx):
    torch, _ = ctx.torch()
    ctx.put("sum", float(torch.ones(3).sum()))
'''
TORCH_QUESTIONS = ("4a", "4b", "4c", "6b", "6c", "7b", "7d")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def per_call(n: int) -> dict:
    """Wall seconds per call (median, as the grader sees them) and the child's CPU
    seconds (median), fresh and forked; the template's start."""
    limits = rubric.load().limits.replace(memory_mb=2560, wall_seconds=120, cpu_seconds=120)
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="fork-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "empty").mkdir()
        (tmp / "probe.py").write_text(PROBE)
        template = Template()
        for name, held in (("fresh", None), ("forked", template)):
            walls, cpus = [], []
            for i in range(n + (name == "forked")):
                start = time.monotonic()
                run = run_probe(tmp / "probe.py", "trivial", submission=tmp / "empty",
                                limits=limits, template=held)
                wall = time.monotonic() - start
                if run.failure or run.notes:
                    raise SystemExit(f"{name} call failed: {run.failure} {run.notes}")
                if name == "forked" and i == 0:
                    out["template_start_s"] = wall  # the start, with the first call
                    continue
                walls.append(wall)
                cpus.append(run.cpu_seconds)
            out[name] = {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
                         "calls": n}
        template.stop()
    return out


def _memory_kb(pid: int) -> tuple[int, int]:
    """(Pss, Rss) of one process in KiB, (0, 0) once it is gone."""
    values = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                key = line.split(":")[0]
                if key in ("Pss", "Rss"):
                    values[key] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return values.get("Pss", 0), values.get("Rss", 0)


def grade(mode: str) -> dict:
    """Grades reference/ with GRADER_FORK_TEMPLATE=mode: wall, peak memory, scores."""
    with tempfile.TemporaryDirectory(prefix="fork-bench-grade-") as out:
        env = {**os.environ, "GRADER_FORK_TEMPLATE": mode}
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", "reference", "--out",
                                 out], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        peak = {"pss": 0, "rss": 0}

        def sample() -> None:
            while proc.poll() is None:
                sums = [sum(v) for v in zip(*(_memory_kb(p) for p in process_tree(proc.pid)))]
                if sums:
                    peak["pss"], peak["rss"] = max(peak["pss"], sums[0]), max(peak["rss"],
                                                                              sums[1])
                time.sleep(0.2)

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        proc.wait()
        wall = time.monotonic() - start
        watcher.join()
        results = json.loads((Path(out) / "results.json").read_text())
    tests = results["tests"]
    seconds = {t["number"]: t.get("extra_data", {}).get("seconds", 0.0) for t in tests}
    torch_s = sum(s for c, s in seconds.items() if c.split(".")[0] in TORCH_QUESTIONS)
    return {"wall_s": wall, "score": results["score"], "torch_checks_s": torch_s,
            "peak_pss_mb": peak["pss"] / 1024, "peak_rss_mb": peak["rss"] / 1024,
            "scores": {t["number"]: t["score"] for t in tests}}


def section(calls: dict, grades: dict | None, loads: tuple[str, str]) -> str:
    lines = [HEADING, "", results_md.machine("fork_template.py")
             + f"; load average {loads[0]} before, {loads[1]} after (other sessions ran "
             "beside it when the 1-minute figure is above the core count: compare within "
             "the run). Fresh interpreters first, then the template.", ""]
    f, k = calls["fresh"], calls["forked"]
    lines += results_md.table(("per call of a trivial torch probe", "fresh interpreter",
                               "forked from the template"), [
        (f"wall time per call as the grader sees it (median of {f['calls']})",
         f"{f['wall_s']:.2f} s", f"{k['wall_s']:.2f} s"),
        ("CPU seconds of the call's child (median)", f"{f['cpu_s']:.2f} s",
         f"{k['cpu_s']:.2f} s"),
        ("the template's start (with the first call it serves)", "-",
         f"{calls['template_start_s']:.1f} s")])
    if grades:
        a, b = grades["0"], grades["1"]
        same = a["scores"] == b["scores"]
        lines += [""] + results_md.table(("`grade reference` (default data)",
                                          "GRADER_FORK_TEMPLATE=0", "the template"), [
            ("wall time", f"{a['wall_s']:.1f} s", f"{b['wall_s']:.1f} s"),
            ("seconds of the torch checks (" + ", ".join(TORCH_QUESTIONS) + ")",
             f"{a['torch_checks_s']:.1f} s", f"{b['torch_checks_s']:.1f} s"),
            ("peak memory, grader + sandbox: sum of PSS", f"{a['peak_pss_mb']:.0f} MB",
             f"{b['peak_pss_mb']:.0f} MB"),
            ("peak memory, grader + sandbox: sum of RSS", f"{a['peak_rss_mb']:.0f} MB",
             f"{b['peak_rss_mb']:.0f} MB"),
            ("score", f"{a['score']:g}", f"{b['score']:g}" + ("" if same else
                                                              " (check scores differ!)"))])
        lines += ["", "Every check scored the same both ways." if same else
                  "Check scores differ: " + ", ".join(
                      c for c in a["scores"] if a["scores"][c] != b["scores"].get(c))]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", action="store_true", help="the per-call figure only")
    parser.add_argument("-n", type=int, default=5, help="calls of each kind (default 5)")
    args = parser.parse_args()
    before = _loadavg()
    calls = per_call(args.n)
    grades = None if args.calls else {mode: grade(mode) for mode in ("0", "1")}
    text = section(calls, grades, (before, _loadavg()))
    results_md.record(HEADING, text)
    print(text)
    print(json.dumps({"calls": calls, "grades": grades}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
