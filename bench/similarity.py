"""Measures grade-all's similarity report (grader/core/batch/similarity.py) at scale and records it
in bench/RESULTS.md (its own section, "Similarity report").

It synthesises N submissions from reference/ (every file the rubric reads): each file gets
its names renamed at random, a few statements dropped or swapped, its functions reordered,
and half the files are reformatted (ast.unparse, which also drops comments); one student in
ten hands in a file as the untouched template, one in twenty copies another student's
file byte for byte. Then it runs similarity.write_report once per size, each in a fresh
process: wall time (split into fingerprinting + comparing, and rendering), peak RSS of the
process (ru_maxrss, so it includes the interpreter, numpy, scipy and copydetect's imports
of matplotlib), the exact comparisons run and the page's size.

    python bench/similarity.py                 # 50, 200 and 500 submissions (a few minutes)
    python bench/similarity.py --sizes 100     # one size
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import random
import resource
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

HEADING = "## Similarity report"
KEEP = {"self", "np", "torch", "nn", "F", "optim", "plt", "math", "os", "sys", "range", "len",
        "print", "super", "int", "float", "str", "dict", "list", "zip", "max", "min", "sum",
        "abs", "enumerate", "isinstance", "True", "False", "None", "object", "tuple"}


class _Rename(ast.NodeTransformer):
    """Renames every assigned local name and argument consistently (a student's own names)."""

    def __init__(self, rng: random.Random):
        self.rng, self.names = rng, {}

    def _new(self, name: str) -> str:
        if name in KEEP or name.startswith("__"):
            return name
        if name not in self.names:
            self.names[name] = f"{name[:2]}_{self.rng.randrange(10**4)}"
        return self.names[name]

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if isinstance(node.ctx, ast.Store) or node.id in self.names:
            node.id = self._new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._new(node.arg)
        return node


def _shuffle_bodies(tree: ast.AST, rng: random.Random) -> None:
    """Reorders function definitions, drops or swaps a few statements inside functions."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or not body:
            continue
        if isinstance(node, (ast.Module, ast.ClassDef)):
            defs = [i for i, s in enumerate(body) if isinstance(s, ast.FunctionDef)]
            order = defs[:]
            rng.shuffle(order)
            new = body[:]
            for i, j in zip(defs, order):
                new[i] = body[j]
            node.body = new
        elif isinstance(node, ast.FunctionDef) and len(body) > 3:
            if rng.random() < 0.5:
                del body[rng.randrange(1, len(body) - 1)]
            if rng.random() < 0.5:
                i = rng.randrange(1, len(body) - 1)
                body[i], body[i + 1] = body[i + 1], body[i]


def variant(text: str, rng: random.Random) -> str:
    """A disguised copy of text: renamed, reordered, some statements changed, maybe
    reformatted; text itself when it does not parse."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    tree = _Rename(rng).visit(tree)
    _shuffle_bodies(tree, rng)
    ast.fix_missing_locations(tree)
    out = ast.unparse(tree)
    if rng.random() < 0.5:
        out = "\n\n".join(out.split("\n\n"))  # layout of ast.unparse: compact, no comments
    else:
        out = out.replace("    ", "  ").replace(", ", ",")  # another student's layout
    return out + "\n"


def synthesise(root: Path, n: int, files: tuple[str, ...], seed: int = 0) -> list:
    """n submission folders under root; returns their Submissions."""
    from grader.core.submission.uploads import Submission
    rng = random.Random(seed)
    subs = []
    for i in range(n):
        folder = root / f"student{i:04d}"
        folder.mkdir(parents=True)
        for name in files:
            source = ROOT / "reference" / name
            if rng.random() < 0.1:
                source = ROOT / "student_template" / name
                shutil.copyfile(source, folder / name)
            elif subs and rng.random() < 0.05:
                shutil.copyfile(rng.choice(subs).path / name, folder / name)
            else:
                (folder / name).write_text(variant(source.read_text(), rng))
        subs.append(Submission(folder.name, folder, folder, f"Student {i}"))
    return subs


def one_size(n: int) -> dict:
    """Runs write_report on n synthetic submissions in this process; returns the figures."""
    from grader.core.batch import similarity
    files = similarity.graded_files()
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as name:
        tmp = Path(name)
        subs = synthesise(tmp / "subs", n, files)
        out = tmp / "out"
        out.mkdir()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.monotonic()
        top = similarity.write_report(subs, out, None, files)
        total = time.monotonic() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        page_mb = (out / similarity.PAGE).stat().st_size / 2**20
        # the same again, in parts: fingerprinting (copydetect's tokeniser) timed apart
        fingerprint, spent = similarity._fingerprint, [0.0]

        def timed_fingerprint(*args, **kwargs):
            t = time.monotonic()
            try:
                return fingerprint(*args, **kwargs)
            finally:
                spent[0] += time.monotonic() - t

        similarity._fingerprint = timed_fingerprint
        notes: list[str] = []
        start = time.monotonic()
        analysis = similarity.analyse(subs, files, similarity.TEMPLATE_DIR, notes)
        analysed = time.monotonic() - start
        similarity.render(subs, files, analysis, notes, out, analysed)
        rendered = time.monotonic() - start - analysed
        return {"n": n, "files": len(files), "write_report_s": total, "peak_mb": peak,
                "before_mb": before, "fingerprint_s": spent[0],
                "compare_s": analysed - spent[0], "render_s": rendered,
                "compared": analysis.compared, "page_mb": page_mb,
                "flagged": sum(1 for s, _ in top.values() if s >= 0.8), "notes": len(notes)}


def section(rows: list[dict], seconds: float) -> str:
    lines = [HEADING, "",
             f"Written by `python bench/similarity.py` on {time.strftime('%Y-%m-%d')}; machine: "
             f"{platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; load average {os.getloadavg()[0]:.2f} at the end "
             f"(other sessions were running: times are upper bounds); {seconds:.0f} s in all. "
             "N synthetic submissions made from reference/ (renamed names, reordered "
             "functions, dropped and swapped statements, two layouts; one file in ten the "
             "untouched template, one in twenty a byte copy of another student's), every file "
             "the rubric reads: a worst case, as nearly every pair shares most of its code "
             "and so goes to the exact comparison. Each size runs in a fresh process on one "
             "core (`taskset -c 0`): `write_report` as grade-all calls it (wall time, peak "
             "memory as the process's ru_maxrss, which includes the interpreter, numpy, scipy, "
             "copydetect and the matplotlib it imports: the RSS before the call in brackets), "
             "then the same work again in parts: reading and fingerprinting (copydetect's "
             "pygments tokeniser, the bulk), shared-fingerprint counts and the exact "
             "comparisons of the candidate pairs, and rendering.",
             "", "| submissions | files each | pairs per file | exact comparisons | "
             "write_report | peak memory | fingerprinting | counts + comparisons | render | "
             "page | students >= 80% |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['n']} | {r['files']} | {r['n'] * (r['n'] - 1) // 2:,} | "
                     f"{r['compared']:,} | {r['write_report_s']:.0f} s | {r['peak_mb']:.0f} MB "
                     f"({r['before_mb']:.0f}) | {r['fingerprint_s']:.0f} s | "
                     f"{r['compare_s']:.0f} s | {r['render_s']:.1f} s | {r['page_mb']:.1f} MB "
                     f"| {r['flagged']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child's job
    parser.add_argument("--no-record", action="store_true", help="print, do not record")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one)))
        return 0
    start = time.monotonic()
    rows = []
    for n in args.sizes:
        proc = subprocess.run(["taskset", "-c", "0", sys.executable, __file__, "--one",
                               str(n)], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    text = section(rows, time.monotonic() - start)
    if not args.no_record:
        results_md.record(HEADING, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
