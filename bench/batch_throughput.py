"""Batch grading on one machine: the local pool (-j 2) against a Dask LocalCluster of two
single-thread workers (--scheduler local:2), and the distribution of full-grade times.

    python bench/batch_throughput.py            # -j 2 vs --scheduler local:2, cheap questions
    python bench/batch_throughput.py --times    # full grades at -j 2 -> bench/batch_times.json
    python bench/batch_throughput.py --dask-only  # a LocalCluster's start-up and round trip

Both build a small batch of whole-assignment submissions: reference/, correct variants
and buggy mutants (tests/mutants*.py: each edit applied to a copy of reference/, so every
part's files are there), an import-time crash, and, for --times, a submission whose
two_layernet.py sleeps at import (every Part 1 call runs into its sandbox budget).

The throughput run grades the same batch with `python -m grader grade-all` once per
scheduler per round (--rounds, alternating), with --force into separate folders, and
states each run's wall time and idle slot time per submission (what Dask adds here), then
a LocalCluster's start-up, task round trip and close. --times grades every
question and writes each submission's grading seconds (results.json's execution_time) to
bench/batch_times.json, the distribution bench/batch_simulate.py draws from.

Run it with nothing else grading: the figures are wall times of two cores.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import mutants as part1  # noqa: E402 - the tests' catalogue of student bugs
import mutants_part2 as part2  # noqa: E402
import mutants_part3 as part3  # noqa: E402
import mutants_part4_cnn as part4_cnn  # noqa: E402
import mutants_part4_convnet as part4_convnet  # noqa: E402

CHEAP = "1a,1b,1c,2d,3a"  # numpy only, about 10 s of one core per submission
TIMES_FILE = Path(__file__).with_name("batch_times.json")
SLEEP_AT_IMPORT = "import numpy as np\nimport time\ntime.sleep(100000)\n"


def _reference_copy(dest: Path) -> Path:
    shutil.copytree(part1.REFERENCE, dest, ignore=shutil.ignore_patterns(
        "__pycache__", "checkpoints", "plots"))
    return dest


def _edited(file: str, text: str):
    """A writer: reference/ with `file` replaced by text."""
    def write(dest: Path) -> Path:
        _reference_copy(dest)
        (dest / file).write_text(text)
        return dest
    return write


def _named(catalogue, name: str):
    return next(m for m in catalogue if m.name == name)


def _part1(catalogue, name: str):
    return _named(catalogue, name).write  # Part 1's write copies the whole reference/


def _sleeping(dest: Path) -> Path:
    _reference_copy(dest)
    path = dest / "two_layernet.py"
    path.write_text(path.read_text().replace("import numpy as np\n", SLEEP_AT_IMPORT, 1))
    return dest


def catalogue() -> dict[str, tuple[str, object]]:
    """student -> (what the submission is, a writer dest -> folder)."""
    cnn = _named(part4_cnn.MUTANTS, "no_padding")
    convnet = _named(part4_convnet.MUTANTS, "kernel_3x3")
    return {
        "alice": ("reference/", _reference_copy),
        "bob": ("Part 1 variant scipy_special (correct)", _part1(part1.VARIANTS, "scipy_special")),
        "carol": ("Part 2 mutant no_zero_grad",
                  _edited(part2.FILE, _named(part2.MUTANTS, "no_zero_grad").text())),
        "dave": ("Part 3 mutant l2_over_m",
                 _edited(part3.FILE, _named(part3.MUTANTS, "l2_over_m").text())),
        "erin": ("Part 4 CNN mutant no_padding", _edited(cnn.file, cnn.text())),
        "frank": ("Part 4 ConvNet mutant kernel_3x3", _edited(convnet.file, convnet.text())),
        "grace": ("Part 1 import-time crash", _part1(part1.BROKEN, "import_time_crash")),
        "heidi": ("Part 1 mutant no_update", _part1(part1.MUTANTS, "no_update")),
        "ivan": ("Part 2 variant modulelist_functional_relu (correct)",
                 _edited(part2.FILE, _named(part2.VARIANTS, "modulelist_functional_relu").text())),
        "judy": ("Part 3 mutant adam_no_bias_correction",
                 _edited(part3.FILE, _named(part3.MUTANTS, "adam_no_bias_correction").text())),
        "aaron": ("two_layernet.py sleeps at import (Part 1 calls hit their budgets)", _sleeping),
    }


FULL_BATCH = ("aaron", "alice", "bob", "carol", "dave", "erin", "frank", "grace")
CHEAP_BATCH = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")


def write_batch(dest: Path, students) -> Path:
    """Writes one folder per student under dest; returns dest."""
    dest.mkdir(parents=True, exist_ok=True)
    known = catalogue()
    for student in students:
        known[student][1](dest / student)
    return dest


def grade_all(subs: Path, out: Path, *extra: str) -> tuple[float, subprocess.CompletedProcess]:
    """(wall seconds, process) of one grade-all run over subs into out."""
    cmd = [sys.executable, "-m", "grader", "grade-all", str(subs), "--out", str(out),
           "--force", *extra]
    print("$", " ".join(cmd), flush=True)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - start
    sys.stderr.write(proc.stderr[-4000:])
    return wall, proc


def seconds_per_student(out: Path, students) -> dict[str, dict]:
    """student -> {seconds, score, status} from out/<student>/results.json and the
    gradebook's status column."""
    with open(out / "gradebook.csv", newline="") as fh:
        status = {row["student"]: row["status"] for row in csv.DictReader(fh)}
    found = {}
    for student in students:
        results = json.loads((out / student / "results.json").read_text())
        found[student] = {"seconds": results["execution_time"], "score": results["score"],
                          "status": status.get(student, "")}
    return found


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure_times(tmp: Path, jobs: int) -> int:
    """Full grades of FULL_BATCH at -j jobs; writes bench/batch_times.json."""
    subs = write_batch(tmp / "subs", FULL_BATCH)
    before = load_average()
    wall, proc = grade_all(subs, tmp / "out", "-j", str(jobs))
    after = load_average()
    per = seconds_per_student(tmp / "out", FULL_BATCH)
    known = catalogue()
    record = {
        "how": (f"python bench/batch_throughput.py --times: python -m grader grade-all of "
                f"{len(FULL_BATCH)} whole-assignment submissions, every automatic question, "
                f"-j {jobs}, on {platform.machine()} with {os.cpu_count()} cores shared with "
                "other work (upper bounds); seconds: results.json's execution_time (the "
                "grader's own wall time, rounded up; Python start-up not included)"),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_before": before, "load_average_after": after,
        "batch_wall_s": round(wall, 1), "jobs": jobs, "grade_all_exit": proc.returncode,
        "submissions": {s: {"what": known[s][0], **per[s]} for s in FULL_BATCH},
        "seconds": [per[s]["seconds"] for s in FULL_BATCH],
    }
    TIMES_FILE.write_text(json.dumps(record, indent=1) + "\n")
    secs = sorted(record["seconds"])
    print(f"wall {wall:.0f} s at -j {jobs}; seconds {secs}; median "
          f"{statistics.median(secs):.0f} s; load {before} -> {after}")
    print(f"wrote {TIMES_FILE}")
    return 0


def measure_throughput(tmp: Path, questions: str, scheduler: str, jobs: int,
                       rounds: int) -> int:
    """The CHEAP_BATCH graded with -j jobs and with --scheduler, `rounds` times each,
    alternating; prints a Markdown table.

    Besides the wall time, each run states its idle slot time per submission: (wall x
    workers - the submissions' own grading seconds) / submissions, what a worker slot
    spends not grading (start-up of grade-all and of each grader, scheduling, the
    similarity report; the cluster's start for Dask). It is less sensitive than the wall
    time to other work slowing the graders down."""
    subs = write_batch(tmp / "subs", CHEAP_BATCH)
    n = len(CHEAP_BATCH)
    runs: dict[str, list[tuple[float, float]]] = {"pool": [], "dask": []}  # (wall, graded s)
    scores: dict[str, dict] = {}
    before = load_average()
    for r in range(rounds):
        for kind, extra in (("pool", ("-j", str(jobs))), ("dask", ("--scheduler", scheduler))):
            out = tmp / f"out_{kind}_{r}"
            wall, proc = grade_all(subs, out, "--questions", questions, *extra)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"grade-all {kind} failed ({proc.returncode})")
            per = seconds_per_student(out, CHEAP_BATCH)
            runs[kind].append((wall, sum(v["seconds"] for v in per.values())))
            scores[kind] = {s: v["score"] for s, v in per.items()}
            print(f"{kind} round {r}: wall {wall:.1f} s, graded {runs[kind][-1][1]:.0f} s, "
                  f"load {load_average()}", flush=True)
    after = load_average()
    if scores["pool"] != scores["dask"]:
        print(f"WARNING: scores differ: pool {scores['pool']} dask {scores['dask']}")
    idle = {kind: [(w * jobs - g) / n for w, g in runs[kind]] for kind in runs}
    print(f"\n{n} submissions, questions {questions}, {rounds} round(s) each, alternating; "
          f"load average {before} before, {after} after\n")
    print("| scheduler | wall time: best (all runs) | submissions/min (best) | "
          "idle slot time per submission: median (all runs) |")
    print("|---|---|---|---|")
    for kind, label in (("pool", f"`-j {jobs}` (thread pool)"),
                        ("dask", f"`--scheduler {scheduler}` (Dask LocalCluster)")):
        walls = [w for w, _ in runs[kind]]
        print(f"| {label} | {min(walls):.1f} s ({', '.join(f'{w:.1f}' for w in walls)}) | "
              f"{60 * n / min(walls):.1f} | {statistics.median(idle[kind]):.2f} s "
              f"({', '.join(f'{x:.2f}' for x in idle[kind])}) |")
    pool, dask = min(w for w, _ in runs["pool"]), min(w for w, _ in runs["dask"])
    extra_idle = statistics.median(idle["dask"]) - statistics.median(idle["pool"])
    print(f"\nDask against the pool: best wall {dask - pool:+.1f} s per batch "
          f"({(dask - pool) / pool:+.0%}); idle slot time {extra_idle:+.2f} s per submission")
    return 0


def dask_costs(workers: int, tasks: int = 50) -> dict[str, float]:
    """What a Dask LocalCluster costs apart from grading: seconds to start `workers`
    single-thread worker processes and connect, the median and p90 round trip of one
    trivial task submitted after the last one returned (ms), and seconds to close."""
    from dask.distributed import Client, LocalCluster

    start = time.monotonic()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    client.wait_for_workers(workers)
    started = time.monotonic() - start
    trips = []
    for i in range(tasks):
        t = time.monotonic()
        client.submit(len, [i] * (i % 3), pure=False).result()
        trips.append(1000 * (time.monotonic() - t))
    t = time.monotonic()
    client.close()
    cluster.close()
    closed = time.monotonic() - t
    trips.sort()
    return {"start_s": started, "round_trip_ms": statistics.median(trips),
            "round_trip_p90_ms": trips[int(0.9 * (len(trips) - 1))], "close_s": closed}


def print_dask_costs(workers: int) -> None:
    costs = dask_costs(workers)
    print(f"Dask LocalCluster of {workers} single-thread workers: start {costs['start_s']:.1f} s, "
          f"round trip of a trivial task {costs['round_trip_ms']:.1f} ms (p90 "
          f"{costs['round_trip_p90_ms']:.1f} ms), close {costs['close_s']:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--times", action="store_true",
                        help="full grades at -j JOBS, written to bench/batch_times.json")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--scheduler", default="local:2")
    parser.add_argument("--questions", default=CHEAP)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each scheduler")
    parser.add_argument("--dask-only", action="store_true",
                        help="only the LocalCluster's start-up and per-task round trip")
    parser.add_argument("--keep", help="folder for the batch and outputs (default: a "
                                       "temporary one, removed)")
    args = parser.parse_args()
    os.environ.setdefault("GRADER_CACHE", str(ROOT / ".cache" / "grader"))
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="batch-bench-"))
    try:
        if args.times:
            return measure_times(tmp, args.jobs)
        if not args.dask_only:
            measure_throughput(tmp, args.questions, args.scheduler, args.jobs, args.rounds)
        print_dask_costs(args.jobs)
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
