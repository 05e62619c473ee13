"""What grading M submissions costs in wall time on N workers: a discrete-event simulation.

    python bench/batch_simulate.py                                  # bench/batch_times.json
    python bench/batch_simulate.py --times OUT                      # a grade-all output folder
    python bench/batch_simulate.py --times 30,45,180 --overhead 0.5 --workers 1,8,64

The model is what `grade-all -j N` and `grade-all --scheduler` both do: N workers, each
grading one submission at a time, take submissions from one shared queue in submission
order (greedy list scheduling); a worker that finishes takes the next one at once. Each
submission costs its grading time plus a fixed per-submission overhead (`--overhead`:
process start-up, or the Dask scheduler's round trip measured by batch_throughput.py),
capped at grade-all's per-submission timeout (`--timeout`, 1200 s by default). A share of
submissions may hang until that cap (`--timeout-share`).

Grading times are drawn with replacement (a seeded bootstrap) from a measured
distribution: bench/batch_times.json (written by `batch_throughput.py --times`), any JSON
list of seconds, a grade-all output folder (each OUT/<student>/results.json's
execution_time) or seconds given inline. Every worker count grades the same draws; the
figures are medians over `--trials` draws, with the 5th-95th percentile range of the wall
time.

Per worker count the table states the wall time (the last submission finished), the
speedup over one worker and the efficiency (speedup / N), when the queue runs empty (the
last submission starts), the drain (wall time minus that: workers idle while the last
ones finish, the tail that long or timed-out grades make), and the lower bound
max(total / N, longest). `--longest-first` adds the wall time of sorting the queue
longest first, for information only: grade-all cannot know grading times in advance.
"""
from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

DEFAULT_TIMES = Path(__file__).with_name("batch_times.json")
DEFAULT_WORKERS = (1, 2, 4, 8, 16, 32, 64)
DEFAULT_TIMEOUT_S = 1200.0  # grade-all's per-submission cap (grader/core/batch/local.py)


@dataclass(frozen=True)
class Schedule:
    """One simulated batch."""

    wall: float  # seconds until the last submission finished
    queue_empty: float  # seconds until the last submission started
    busy: float  # worker-seconds spent grading (overheads included)
    longest: float  # seconds of the longest single submission


def simulate(durations: Sequence[float], workers: int) -> Schedule:
    """Greedy list scheduling of durations (seconds, in queue order) on `workers` workers,
    each taking the next submission as soon as it is free."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    free = [0.0] * min(workers, max(1, len(durations)))  # when each worker is next free
    heapq.heapify(free)
    wall = queue_empty = 0.0
    for duration in durations:
        start = heapq.heappop(free)
        finish = start + duration
        heapq.heappush(free, finish)
        queue_empty = start
        wall = max(wall, finish)
    return Schedule(wall, queue_empty, float(sum(durations)), max(durations, default=0.0))


def costs(draws: Sequence[float], overhead: float, timeout: float) -> list[float]:
    """Seconds each submission holds a worker: its grade plus the overhead, at most the
    timeout (grade-all kills the grader there; the overhead is paid either way)."""
    return [min(t, timeout) + overhead for t in draws]


def draw(measured: Sequence[float], count: int, rng: random.Random,
         timeout_share: float = 0.0, timeout: float = DEFAULT_TIMEOUT_S) -> list[float]:
    """`count` grading times drawn with replacement from measured; each is instead the
    timeout with probability timeout_share (a submission that hangs)."""
    return [timeout if timeout_share and rng.random() < timeout_share else rng.choice(measured)
            for _ in range(count)]


def read_times(source: str, drop: Sequence[str] = ()) -> list[float]:
    """Measured grading seconds from a JSON file (a list, or batch_times.json's object
    whose `submissions` maps a student to {seconds, ...}), a grade-all output folder, or
    comma-separated numbers. `drop` names students left out (object or folder only)."""
    path = Path(source)
    if path.is_dir():
        found = {}
        for results in sorted(path.glob("*/results.json")):
            if results.parent.name != "work":
                found[results.parent.name] = float(
                    json.loads(results.read_text())["execution_time"])
        if not found:
            raise SystemExit(f"no <student>/results.json in {path}: expected grade-all's --out")
        return [s for student, s in found.items() if student not in drop]
    if path.is_file():
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            return [float(v["seconds"]) for student, v in data["submissions"].items()
                    if student not in drop]
        return [float(s) for s in data]
    try:
        return [float(s) for s in source.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"--times {source!r}: not a file, folder or list of seconds") from None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of values, by linear interpolation."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def duration(seconds: float) -> str:
    """Seconds as a short human figure: 41 s, 12.5 min, 3.2 h."""
    if seconds < 100:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 6000 else f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Row:
    """Medians over the trials for one worker count."""

    workers: int
    wall: float  # median wall seconds
    wall_p5: float
    wall_p95: float
    speedup: float  # median of wall(1 worker) / wall(N), same draws
    queue_empty: float  # median seconds until the last submission started
    drain: float  # median of wall - queue_empty
    bound: float  # median of max(total / N, longest)
    longest_first: float  # median wall with the queue sorted longest first

    @property
    def efficiency(self) -> float:
        return self.speedup / self.workers


def table(measured: Sequence[float], submissions: int, workers: Sequence[int],
          overhead: float = 0.0, timeout: float = DEFAULT_TIMEOUT_S, timeout_share: float = 0.0,
          trials: int = 200, seed: int = 0) -> list[Row]:
    """One Row per worker count, over `trials` seeded bootstrap draws of the batch."""
    samples: dict[int, list[tuple[Schedule, Schedule]]] = {n: [] for n in workers}
    serial = []
    for trial in range(trials):
        rng = random.Random(seed * 1_000_003 + trial)
        jobs = costs(draw(measured, submissions, rng, timeout_share, timeout), overhead, timeout)
        serial.append(sum(jobs))
        ordered = sorted(jobs, reverse=True)
        for n in workers:
            samples[n].append((simulate(jobs, n), simulate(ordered, n)))
    rows = []
    for n in workers:
        walls = [fifo.wall for fifo, _ in samples[n]]
        rows.append(Row(
            workers=n, wall=statistics.median(walls), wall_p5=percentile(walls, 5),
            wall_p95=percentile(walls, 95),
            speedup=statistics.median(one / fifo.wall for one, (fifo, _) in zip(serial, samples[n])),
            queue_empty=statistics.median(fifo.queue_empty for fifo, _ in samples[n]),
            drain=statistics.median(fifo.wall - fifo.queue_empty for fifo, _ in samples[n]),
            bound=statistics.median(max(fifo.busy / n, fifo.longest) for fifo, _ in samples[n]),
            longest_first=statistics.median(lpt.wall for _, lpt in samples[n])))
    return rows


def markdown(rows: Sequence[Row], longest_first: bool) -> str:
    """The rows as a Markdown table."""
    head = ["workers", "wall time (p5-p95)", "speedup", "efficiency", "queue empty at",
            "drain", "lower bound"]
    if longest_first:
        head.append("longest first (info)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r.workers), f"{duration(r.wall)} ({duration(r.wall_p5)}-{duration(r.wall_p95)})",
                 f"{r.speedup:.2f}x", f"{r.efficiency:.0%}", duration(r.queue_empty),
                 duration(r.drain), duration(r.bound)]
        if longest_first:
            cells.append(duration(r.longest_first))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--times", default=str(DEFAULT_TIMES),
                        help="measured seconds: a JSON file, a grade-all --out folder, or "
                             "comma-separated numbers (default bench/batch_times.json)")
    parser.add_argument("--drop", default="", help="comma-separated students to leave out")
    parser.add_argument("-m", "--submissions", type=int, default=500)
    parser.add_argument("--workers", default=",".join(map(str, DEFAULT_WORKERS)))
    parser.add_argument("--overhead", type=float, default=0.0,
                        help="seconds added to every submission (scheduling, start-up)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="grade-all's per-submission cap, seconds")
    parser.add_argument("--timeout-share", type=float, default=0.0,
                        help="share of submissions that hang until the timeout (0-1)")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--longest-first", action="store_true",
                        help="add the wall time of a queue sorted longest first (info)")
    args = parser.parse_args(argv)
    measured = read_times(args.times, [s for s in args.drop.split(",") if s])
    if not measured:
        raise SystemExit("no measured grading times")
    workers = [int(n) for n in args.workers.split(",")]
    rows = table(measured, args.submissions, workers, args.overhead, args.timeout,
                 args.timeout_share, args.trials, args.seed)
    print(f"{args.submissions} submissions drawn from {len(measured)} measured grades "
          f"(median {statistics.median(measured):.0f} s, p90 {percentile(measured, 90):.0f} s, "
          f"max {max(measured):.0f} s); overhead {args.overhead:g} s per submission; timeout "
          f"{args.timeout:g} s, {args.timeout_share:.1%} of submissions hang until it; "
          f"{args.trials} trials, seed {args.seed}\n")
    print(markdown(rows, args.longest_first))
    return 0


if __name__ == "__main__":
    sys.exit(main())
