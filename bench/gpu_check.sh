#!/usr/bin/env bash
# Checks torch and CUDA inside the grader's sandbox on a GPU machine; installs nothing.
#
#     bash bench/gpu_check.sh            # from the repository root; under 10 minutes
#
# Runs the environment probe (grader/core/sandbox/environment_probe.py) through run_probe under
# the rubric's default [sandbox] limits (RLIMIT_DATA memory_mb, no RLIMIT_AS, the seccomp
# socket filter), as this user and, when run as root, also as the unprivileged sandbox user
# (GRADER_ISOLATION=require), and prints what torch sees there (torch, CUDA, GPU, cuDNN)
# and the time of a tiny training on the device it picks (CUDA when visible). A failure
# says which step broke: memory limit, /dev/nvidia* permissions, the socket filter.
set -u
cd "$(dirname "$0")/.." || exit 1
PY=${PYTHON:-python}
echo "== $(date -u +%FT%TZ) $(uname -m) $(nproc) cores; uid $(id -u)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
ls -l /dev/nvidia* 2>/dev/null | head -8 || echo "no /dev/nvidia* device files"
run() {  # $1: label; $2: GRADER_ISOLATION
  echo "== sandbox as ${1}"
  GRADER_ISOLATION=$2 timeout 170 "$PY" - <<'PYEOF'
import json, sys, tempfile, time
from pathlib import Path
from grader.core.sandbox import isolation
from grader.core.rubric import spec as rubric
from grader.core.engine.context import ENVIRONMENT_PROBE
from grader.core.sandbox.runner import run_probe
try:
    who = isolation.describe(isolation.resolve())
except Exception as exc:
    sys.exit(f"no sandbox identity: {exc}")
print("identity:", who)
limits = rubric.load().limits
limits = limits.replace(wall_seconds=80, cpu_seconds=80, memory_mb=max(limits.memory_mb, 2560))
print(f"limits: RLIMIT_DATA {limits.memory_mb} MB, RSS watchdog at "
      f"{limits.memory_mb + limits.rss_margin_mb} MB, no RLIMIT_AS")
with tempfile.TemporaryDirectory() as empty:
    start = time.monotonic()
    run = run_probe(ENVIRONMENT_PROBE, "environment", submission=Path(empty), limits=limits,
                    params={"train": True})
    wall = time.monotonic() - start
if run.failure:
    print("FAILED:", run.failure.kind, run.failure.message)
    print(run.output[-3000:])
    sys.exit(1)
v = dict(run.values)
print(json.dumps(v, indent=1, default=str))
print(f"call {wall:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB; tiny training on "
      f"{v.get('train_device')}: {1000 * v.get('train_seconds', 0):.0f} ms")
if v.get("cuda_error"):
    print("CUDA error:", v["cuda_error"])
PYEOF
  echo "exit code $?"
}
run "this user ($(id -un))" off
if [ "$(id -u)" = 0 ]; then
  run "the unprivileged user (${GRADER_SANDBOX_USER:-nobody})" require
fi

# The torch questions of reference/ graded end to end on the device the grader picks
# (CUDA when the sandbox sees it): time, device and accuracy per training check, for
# bench/RESULTS.md. Default data; GRADER_DATA_DIR=... grades real CIFAR-10 / MNIST.
echo "== grade reference/ on the torch questions (4a, 4b, 6b, 6c, 7b, 7d)"
OUT=$(mktemp -d)
start=$(date +%s)
timeout 420 "$PY" -m grader grade reference --out "$OUT" --questions 4a,4b,6b,6c,7b,7d --quiet
echo "grade exit code $?; $(( $(date +%s) - start )) s"
"$PY" - "$OUT/results.json" <<'PYEOF'
import json, sys
results = json.load(open(sys.argv[1]))
print("device:", results["extra_data"].get("device"), "| data:", results["extra_data"].get("dataset_kind"))
for t in results["tests"]:
    e = t.get("extra_data", {})
    acc = {k: e[k] for k in ("val_accuracy", "test_accuracy", "train_seconds", "device") if k in e}
    print(f"{t['number']:6} {t['score']}/{t['max_score']} {acc}")
PYEOF
