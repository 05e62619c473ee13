"""Measures torch in the sandbox and records it in bench/RESULTS.md (its own section).

    python bench/torch_sandbox.py          # about a minute on 2 cores

Figures, each a sandboxed call under the rubric's default [sandbox] limits (RLIMIT_DATA
memory_mb, no RLIMIT_AS): `import torch, torchvision` (wall time, peak RSS of the call), a
tiny training (nn.Linear, 50 SGD steps on the device the environment probe picks: CUDA when
visible), and, beside them, the Part 1 self-check of reference/ for comparison with the
figures bench/run.py records. The grader's own process never imports torch.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from grader.core.rubric import spec as rubric  # noqa: E402
from grader.core.engine.context import ENVIRONMENT_PROBE  # noqa: E402
from grader.core.sandbox.runner import run_probe  # noqa: E402
import results_md  # noqa: E402

HEADING = "## Torch in the sandbox"
IMPORT_PROBE = '''
def imports(ctx):
    t0 = ctx.perf_counter()
    import torch, torchvision  # noqa: F401
    ctx.put("import_seconds", ctx.perf_counter() - t0)
'''


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def measure(repeat: int = 2) -> list[tuple[str, str, str]]:
    limits = rubric.load().limits
    rows = []
    with tempfile.TemporaryDirectory(prefix="torch-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "empty").mkdir()
        probe = tmp / "import_probe.py"
        probe.write_text(IMPORT_PROBE)
        for i in range(repeat):
            run = run_probe(probe, "imports", submission=tmp / "empty", limits=limits)
            if run.failure:
                raise SystemExit(f"import torch failed in the sandbox: {run.failure}")
            rows.append((f"`import torch, torchvision` in the sandbox (run {i + 1})",
                         f"{run.wall_seconds:.1f} s call ({run.values['import_seconds']:.1f} s "
                         "the import itself)", f"{run.peak_rss_mb:.0f} MB"))
        run = run_probe(ENVIRONMENT_PROBE, "environment", submission=tmp / "empty",
                        limits=limits.replace(wall_seconds=120, cpu_seconds=120),
                        params={"train": True})
        if run.failure:
            raise SystemExit(f"environment probe failed: {run.failure}")
        v = run.values
        where = (f"CUDA, {v.get('gpu')}" if v.get("cuda_available") else "CPU, no GPU visible")
        rows.append((f"environment probe + tiny training (nn.Linear 64->10, 50 SGD steps, "
                     f"{where}; torch {v.get('torch')}, CUDA build {v.get('cuda') or 'none'})",
                     f"{run.wall_seconds:.1f} s call, training {v['train_seconds'] * 1000:.0f} ms",
                     f"{run.peak_rss_mb:.0f} MB"))
        out = tmp / "check"
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "grader", "check", "reference", "--out",
                               str(out)], cwd=ROOT, capture_output=True, text=True)
        wall = time.monotonic() - start
        if proc.returncode not in (0, 1):
            raise SystemExit(proc.stderr[-2000:])
        res = json.loads((out / "results.json").read_text())
        sandbox = max(t.get("extra_data", {}).get("sandbox_peak_rss_mb", 0)
                      for t in res["tests"])
        rows.append(("Part 1 self-check of reference/ (for comparison)", f"{wall:.1f} s",
                     f"sandbox {sandbox:.0f} MB; score {res['score']:g}"))
    return rows


def section(rows, load_before: str, load_after: str) -> str:
    lines = [HEADING, "",
             f"Written by `python bench/torch_sandbox.py` on {time.strftime('%Y-%m-%d')}; "
             f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; load average {load_before} before, {load_after} "
             "after (other work was running when the 1-minute figure is above the core count). "
             "Default [sandbox] limits.", "",
             "| measurement | wall time | peak RSS |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    before = _loadavg()
    rows = measure()
    text = section(rows, before, _loadavg())
    results_md.record(HEADING, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
