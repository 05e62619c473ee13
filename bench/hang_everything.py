"""A submission whose every function hangs, graded as run_autograder grades: the whole
assignment must come back complete and valid inside the deadline, each hung question named.

    python bench/hang_everything.py [--deadline 570]

Every function and method of every file of reference/ gets `while True: pass` as its first
statement (an AST rewrite; the stated-answer files, which define no function, stay as they
are). Writes a section of bench/RESULTS.md: seconds, score, and per question what stopped
it.
"""
from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import results_md  # noqa: E402

SPIN = ast.parse("while True:\n    pass\n").body


class _Hang(ast.NodeTransformer):
    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        body = node.body
        keep = body[:1] if body and isinstance(body[0], ast.Expr) and isinstance(
            getattr(body[0], "value", None), ast.Constant) else []  # the docstring
        node.body = keep + SPIN + body[len(keep):]
        return node

    visit_AsyncFunctionDef = visit_FunctionDef


def hanging_copy(dest: Path) -> Path:
    """reference/ with every function body starting with an endless loop."""
    shutil.copytree(ROOT / "reference", dest, ignore=shutil.ignore_patterns("__pycache__"))
    for path in dest.glob("*.py"):
        tree = _Hang().visit(ast.parse(path.read_text()))
        path.write_text(ast.unparse(ast.fix_missing_locations(tree)) + "\n")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=570.0)
    parser.add_argument("--summarise", nargs=3, metavar=("RESULTS_JSON", "SECONDS", "CODE"),
                        help="record an earlier run's results.json instead of grading again")
    args = parser.parse_args(argv)
    if args.summarise:
        path, seconds, code = Path(args.summarise[0]), float(args.summarise[1]), \
            int(args.summarise[2])
    else:
        work = Path(tempfile.mkdtemp(prefix="hang-everything-"))
        sub = hanging_copy(work / "sub")
        start = time.monotonic()
        code = subprocess.run([sys.executable, "-m", "grader", "grade", str(sub), "--out",
                               str(work / "out"), "--quiet", "--deadline",
                               str(args.deadline)], cwd=ROOT).returncode
        seconds = time.monotonic() - start
        path = work / "out" / "results.json"
    results = json.loads(path.read_text())
    rows, pending = [], []
    by_question: dict[str, list[dict]] = {}
    for test in results["tests"]:
        by_question.setdefault(test["number"].split(".")[0], []).append(test)
    for qid, tests in by_question.items():
        reasons = []
        for t in tests:
            text = t["output"]
            if t["extra_data"].get("outcome") == "pending":
                pending.append(t["number"])
            for phrase in ("is not run again", "did not finish within", "used more than",
                           "stopped by its time budget", "the grading time ran out",
                           "importing"):
                if phrase in text:
                    reasons.append(phrase)
                    break
            else:
                reasons.append("graded (no function of it ran)"
                               if t["score"] or "**Passed**" in text else
                               "failed: " + " ".join(text.split())[:60].replace("|", "/"))
        score = sum(t["score"] for t in tests)
        rows.append([qid, f"{score:g} / {sum(t['max_score'] for t in tests):g}",
                     "; ".join(sorted(set(reasons)))])
    ok = code == 0 and not pending and seconds < args.deadline
    heading = "## Every function hangs (grade --deadline)"
    text = "\n".join([
        heading, "", results_md.machine("hang_everything.py") + ".", "",
        f"Every function of reference/ starts with an endless loop (`--deadline "
        f"{args.deadline:g}`). Graded in {seconds:.0f} s, exit code {code}, "
        f"{results['score']:g} points, complete: {results['extra_data']['complete']}, "
        f"pending checks: {len(pending)}; {'meets' if ok else 'MISSES'} the goal "
        "(valid, complete, inside the deadline).", "",
        *results_md.table(["question", "score", "what stopped it"], rows)]) + "\n"
    results_md.record(heading, text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
