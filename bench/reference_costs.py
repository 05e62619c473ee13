"""Records the reference's sandbox seconds per check into grader/reference_costs.json, the
costs the call budgets scale from (grader/core/rubric/budgets.py), with this machine's time for
the fixed calibration workload.

    python bench/reference_costs.py [--from RESULTS_JSON]

Without --from it grades reference/ on the default data first (a few minutes); with it, it
reads the given results.json of a grade of reference/ (e.g. bench/clean_system.sh's, as
installed on a clean system). Run it on a machine like the one that grades: costs measured
on a loaded machine are generous, which is the safe side.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.core.rubric.budgets import COSTS_PATH, machine_seconds  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a reference's results.json")
    args = parser.parse_args(argv)
    source = args.source
    if source is None:
        out = Path(tempfile.mkdtemp(prefix="reference-costs-"))
        subprocess.run([sys.executable, "-m", "grader", "grade", str(ROOT / "reference"),
                        "--out", str(out), "--quiet"], cwd=ROOT, check=True)
        source = out / "results.json"
    results = json.loads(source.read_text())
    lost = [t["number"] for t in results["tests"] if t["score"] != t["max_score"]]
    if lost:
        print(f"{source} is not a full-marks grade of reference/ (lost: {lost})",
              file=sys.stderr)
        return 1
    costs = {t["number"]: round(float(t["extra_data"].get("sandbox_seconds", 0.0)), 3)
             for t in results["tests"]}
    record = {"about": f"The reference's sandbox seconds per check, from {source.name} "
                       f"(results.json sandbox_seconds); machine_seconds: "
                       "grader.core.rubric.budgets.machine_seconds() where they were recorded. "
                       "Rewrite with bench/reference_costs.py.",
              "machine_seconds": round(machine_seconds(5), 4), "checks": costs}
    COSTS_PATH.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{len(costs)} checks -> {COSTS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
