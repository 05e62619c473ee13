"""Command line: `python -m grader grade ...` and `grade-all ...` for staff, `python -m grader
check` for students."""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from .. import __version__
from .results import terminal
from .errors import GraderError
from .results.records import ERROR, FAILED
from .rubric.spec import RUBRIC_PATH, Rubric, load

PARTS = Path(__file__).resolve().parents[1] / "parts"  # every part's suites
# under grade --deadline: sandboxed calls end this long before it, results.json is
# complete 5 s before it (the plugin's timer writes it 10 s after the calls' deadline)
DEADLINE_RESERVE_S = 15.0


def default_data_dir() -> Path | None:
    """$GRADER_DATA_DIR, else ./datasets when it exists (where the driver script looks)."""
    env = os.environ.get("GRADER_DATA_DIR")
    if env:
        return Path(env)
    return Path("datasets") if Path("datasets").is_dir() else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                     epilog="Exit codes: 0 graded (whatever the score; for "
                                     "check: every public check passed), 1 a grader error "
                                     "(for check: also a failed public check), 2 a usage "
                                     "error.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade a submission folder into OUT/results.json")
    grade.add_argument("submission", type=Path)
    grade.add_argument("--out", type=Path, required=True, help="folder for results.json")
    grade.add_argument("--questions", help="comma-separated question ids (as in grader/rubric.toml)")
    grade.add_argument("--data-dir", type=Path, help="folder holding cifar-10-batches-py/")
    grade.add_argument("--quiet", action="store_true", help="no progress lines")
    grade.add_argument("--rubric", type=Path, help="grade with this rubric file instead of "
                       "grader/rubric.toml (e.g. a copy with a question's mode switched)")
    grade.add_argument("--deadline", type=float, metavar="SECONDS",
                       help="finish within SECONDS of starting (e.g. the platform's time "
                       "limit less a margin): time left is shared among the checks to come, "
                       "and checks it could not run say so")
    grade.add_argument("--record", action="store_true", help="also write OUT/run.json, the "
                       "run's whole record (grade-all merges a submission graded in halves)")
    grade.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                       help="grade up to N groups of questions side by side, each in a "
                       "grader process of its own (default: the cores this machine or "
                       "container gives, one per 1.1 GB of a container's memory limit; "
                       "1: one question after another)")
    # a lane of a grading side by side (grader/core/engine/lanes.py): its deadline as a
    # time.monotonic(), and run.json alone, which its grader reads
    grade.add_argument("--until", type=float, help=argparse.SUPPRESS)
    grade.add_argument("--lane", action="store_true", help=argparse.SUPPRESS)
    check = sub.add_parser("check", help="the public checks only, with expected, got and a hint")
    check.add_argument("submission", type=Path, nargs="?", default=Path("."))
    check.add_argument("--full", action="store_true", help="also run the checks that train on a dataset")
    check.add_argument("--questions", help="comma-separated question ids")
    check.add_argument("--data-dir", type=Path)
    check.add_argument("--out", type=Path, help="also write results.json here")
    check.add_argument("--rubric", type=Path, help="check with this rubric file")
    batch = sub.add_parser("grade-all", help="grade a folder of submissions (sub-folders, "
                           ".zip files or Gradescope's export) into OUT/gradebook.csv")
    batch.add_argument("submissions", type=Path, help="folder with one entry per submission")
    batch.add_argument("--out", type=Path, required=True,
                       help="folder for OUT/<student>/, gradebook.csv and summary.html")
    batch.add_argument("-j", "--jobs", type=int, default=1,
                       help="submissions graded at once (at most the machine's cores)")
    batch.add_argument("--questions", help="comma-separated question ids (as in grader/rubric.toml)")
    batch.add_argument("--data-dir", type=Path, help="folder holding cifar-10-batches-py/")
    batch.add_argument("--timeout", type=float, default=1200.0,
                       help="wall-clock seconds one submission may take (default 1200)")
    batch.add_argument("--force", action="store_true",
                       help="regrade submissions already graded completely")
    batch.add_argument("--rubric", type=Path, help="grade with this rubric file instead of "
                       "grader/rubric.toml (it must lie where every grader can read it)")
    batch.add_argument("--compare-with", type=Path, action="append", default=[],
                       metavar="DIR", help="also compare the batch, for similarity only, "
                       "with the solutions in DIR (one solution, like reference/, or a "
                       "folder of them, like last year's submissions); repeatable")
    batch.add_argument("--scheduler", metavar="ADDRESS|local:N",
                       help="grade on a Dask cluster instead of -j N graders here: a "
                       "scheduler's address (tcp://host:8786; submissions and --out on a "
                       "filesystem every worker mounts at the same path), or local:N for N "
                       "worker processes on this machine")
    synth = sub.add_parser("make-data", help="write synthetic CIFAR-format data (for "
                           "benchmarks: --rows-per-batch 10000 is CIFAR-10's size)")
    synth.add_argument("dest", type=Path, help="folder to hold cifar-10-batches-py/")
    synth.add_argument("--rows-per-batch", type=int, default=10000)
    synth.add_argument("--seed", type=int, default=1729)
    fetch = sub.add_parser("fetch-data", help="download CIFAR-10 and MNIST into DEST and "
                           "verify their published md5s (the Gradescope image build)")
    fetch.add_argument("dest", type=Path, help="folder for cifar-10-batches-py/ and MNIST/")
    fetch.add_argument("--only", choices=("cifar10", "mnist"), help="fetch one dataset only")
    handout = sub.add_parser("bundle", help="write the students' archive (student_template/ "
                             "and the public self-check), audited for solution content")
    handout.add_argument("--out", type=Path, required=True, help="folder for assignment1.zip")
    return parser


def run_grading(submission: Path, out_dir: Path | None, questions: set[str] | None,
                data_dir: Path | None, public_only: bool, full: bool, progress: bool,
                rubric: Rubric | None = None, record: bool = False,
                deadline: float | None = None, lanes: tuple[tuple[str, ...], ...] = (),
                rubric_path: Path | None = None, lane: bool = False):
    """Grades one submission with the rubric (default: grader/rubric.toml; rubric_path:
    the file it was read from); returns the GradingRun (never raises). deadline:
    time.monotonic() by which every sandboxed call has ended (results.json is complete a
    few seconds later). lanes: several groups of questions to grade side by side, each in
    a grader process of its own (grader/core/engine/lanes.py); else in this process, one
    check after another. lane: this grading is such a lane (it writes run.json alone)."""
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import pytest

    from .engine.context import GradingContext
    from .engine.plugin import ResultsPlugin, run_info

    context = GradingContext(submission, data_dir, public_only, full, rubric, progress,
                             deadline)
    kind, note = dataset_summary(context, questions) if full or not public_only else (
        "not used", "No check of this run trains on a dataset.")
    info = run_info(context, kind, note, questions)
    on_result = (lambda r: sys.stderr.write(terminal.result_line(r, False) + "\n")) \
        if progress else None
    if len(lanes) > 1:
        from .engine import lanes as side_by_side
        plugin = ResultsPlugin(context, out_dir, info, questions, on_result, record,
                               side_by_side.LANE_EXPIRY_MARGIN_S)
        say = (lambda line: sys.stderr.write(line + "\n")) if progress else None
        try:
            side_by_side.grade_in_lanes(plugin, lanes, context.submission, data_dir,
                                        rubric_path, deadline, say)
        except BaseException as exc:  # noqa: BLE001 - never lose a result
            plugin.grader_error = f"{type(exc).__name__}: {exc}"
            plugin.complete = False
            plugin.write()
        finally:
            context.close()
        return plugin.run()
    plugin = ResultsPlugin(context, out_dir, info, questions, on_result, record,
                           record_only=lane)
    args = [str(PARTS), "-c", str(PARTS / "pytest.ini"), "--rootdir", str(PARTS),
            "-p", "no:cacheprovider", "-p", "pytest_timeout", "-p", "no:terminal",
            "-p", "no:stepwise", "-s", "--timeout", "1800"]
    try:
        code = pytest.main(args, plugins=[plugin])
        if code not in (0, 1) and not plugin.grader_error:
            plugin.grader_error = f"pytest stopped with exit code {int(code)}"
    except BaseException as exc:  # noqa: BLE001 - never lose a result
        plugin.grader_error = f"{type(exc).__name__}: {exc}"
    finally:
        context.close()  # the template process the torch calls were forked from
    plugin.complete = not plugin.grader_error and plugin.complete
    plugin.write()
    return plugin.run()


def dataset_summary(context, questions: set[str] | None) -> tuple[str, str]:
    """(kind, note) of the datasets the selected questions train on, each prepared once
    here: one dataset gives its own kind ("real", "synthetic", "subset"); several give
    "cifar10: synthetic; mnist: subset", and their notes one after the other."""
    names = context.rubric.datasets_needed(questions)
    if not names:
        return "not used", "No check of this run trains on a dataset."
    kinds, notes = [], []
    for name in names:
        try:
            data = context.data(name)
            kinds.append(data.kind)
            notes.append(data.note)
        except GraderError as exc:
            kinds.append("unavailable")
            notes.append(f"Dataset {name} unavailable: {exc}")
    kind = kinds[0] if len(names) == 1 else "; ".join(f"{n}: {k}" for n, k in zip(names, kinds))
    return kind, " ".join(notes)


def _unwrapped(submission: Path, rubric: Rubric) -> Path:
    """The folder to grade: `submission`, or the folder inside it that holds the rubric's
    files when an upload wraps them in single folders (macOS's __MACOSX/ and dot-files
    beside them ignored), as grade-all reads a batch entry; says so on stderr."""
    from .submission.uploads import submission_root

    if not submission.is_dir():
        return submission
    found = submission_root(submission, rubric.submission_files)
    if found != submission:
        print(f"graded {found}: the files are inside {found.relative_to(submission)}/",
              file=sys.stderr)
    return found


def _in_own_slot(grade):
    """Runs grade() with student code, as root, under a uid of this grading's own: a
    machine-wide slot claimed for its duration, rotating, so consecutive gradings (or two
    at once) never share a sandbox uid (grader/core/sandbox/uid_slots.py, as grade-all does). A set
    $GRADER_SANDBOX_USER (grade-all's workers pass their slot's) is kept as it is."""
    from .sandbox.uid_slots import claimed_uid

    if os.environ.get("GRADER_SANDBOX_USER") or os.geteuid() != 0:
        return grade()
    with contextlib.ExitStack() as slot:
        try:
            uid = slot.enter_context(claimed_uid())
        except GraderError as exc:  # no safe slot: the default unprivileged user, said so
            print(f"grader: no sandbox uid of this grading's own ({exc}); student code "
                  "runs as the default sandbox user", file=sys.stderr)
            return grade()
        os.environ["GRADER_SANDBOX_USER"] = uid
        try:
            return grade()
        finally:
            del os.environ["GRADER_SANDBOX_USER"]


def _question_problem(questions: set[str], rubric: Rubric) -> str:
    """Why --questions cannot be graded as given (unknown ids, or only questions graded
    by hand), naming the valid ids; "" when it can."""
    automatic = [q.id for q in rubric.questions if q.checks]
    unknown = sorted(questions - {q.id for q in rubric.questions})
    if unknown:
        return (f"unknown question ids: {', '.join(unknown)}; the rubric's questions with "
                f"automatic checks are {', '.join(automatic)}")
    if not questions & set(automatic):
        by_hand = sorted(questions)
        return (f"{', '.join(by_hand)} {'is' if len(by_hand) == 1 else 'are'} graded by hand "
                f"(no automatic check); questions with automatic checks: "
                f"{', '.join(automatic)}")
    return ""


def _interrupt(signum: int, frame: object) -> None:
    """Turns SIGTERM into KeyboardInterrupt: the running graders are killed, not orphaned."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def grade_all(args: argparse.Namespace, questions: set[str] | None, rubric: Rubric) -> int:
    """Runs `grade-all`; returns 0 when every submission graded ok, 1 when some need a
    look (timed out, grader error, incomplete), 2 on a usage error."""
    from .batch import local as batch
    from .batch import gradebook as batch_report
    from .batch import similarity
    from .errors import BatchError

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.jobs < 1 or args.timeout <= 0:
        print("-j must be at least 1 and --timeout positive", file=sys.stderr)
        return 2
    if args.scheduler and args.jobs != 1:
        print("-j N and --scheduler exclude each other: with --scheduler the cluster's "
              "worker threads set how many submissions are graded at once", file=sys.stderr)
        return 2
    selected = tuple(q.id for q in rubric.questions if q.id in questions) \
        if questions else None
    data_dir = args.data_dir or default_data_dir()
    start = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)  # a scheduler's kill cleans up like Ctrl-C
    try:
        subs = batch.find_submissions(args.submissions, args.out, args.rubric)
        archive = batch.find_archive(args.compare_with, args.out, args.rubric)
        rows = batch.run_batch(subs, args.out, args.jobs, selected, data_dir, args.timeout,
                               args.force, log, scheduler=args.scheduler,
                               rubric_path=args.rubric)
    except BatchError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: graded submissions are kept; run the same command again to "
              "resume", file=sys.stderr)
        return 130
    # across submissions: the most similar pairs, the starter code left out
    similar = similarity.write_report(subs, args.out.resolve(),
                                      files=similarity.graded_files(selected, rubric), log=log,
                                      archive=archive)
    gradebook, summary_page = batch_report.write(rows, selected, str(args.submissions),
                                                 args.out.resolve(), similar, rubric)
    attention = [r for r in rows if r.status != batch.OK]
    print(f"{len(rows)} submissions in {time.monotonic() - start:.0f} s "
          f"({sum(r.resumed for r in rows)} already graded); gradebook {gradebook}, "
          f"summary {summary_page}, similarity {args.out.resolve() / 'similarity.html'}")
    if attention:
        print(f"{len(attention)} need a look: " + ", ".join(
            f"{r.student} ({r.status})" for r in attention), file=sys.stderr)
    return 1 if attention else 0


def main(argv: list[str] | None = None) -> int:
    """Runs a subcommand; returns the exit code (0 whenever grading completed)."""
    started = time.monotonic()
    args = _parser().parse_args(argv)
    if args.command == "make-data":
        from ..data import synthetic
        root = synthetic.generate(args.dest, args.rows_per_batch, args.seed)
        print(f"synthetic CIFAR-format data in {root}")
        return 0
    if args.command == "fetch-data":
        from ..data import fetch
        try:
            fetch.fetch(args.dest, (args.only,) if args.only else tuple(fetch.DATASETS),
                        log=lambda line: print(line, flush=True))
        except GraderError as exc:
            print(f"fetch-data: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "bundle":
        from .handout.bundle import build_bundle
        try:
            print(f"student bundle written to {build_bundle(args.out)}")
        except GraderError as exc:
            print(f"bundle: {exc}", file=sys.stderr)
            return 1
        return 0
    questions = {q.strip() for q in args.questions.split(",")} if args.questions else None
    try:
        rubric = load(getattr(args, "rubric", None) or RUBRIC_PATH)
    except GraderError as exc:
        print(f"rubric: {exc}", file=sys.stderr)
        return 2
    if questions:
        problem = _question_problem(questions, rubric)
        if problem:
            print(problem, file=sys.stderr)
            return 2
    if args.command == "grade-all":
        return grade_all(args, questions, rubric)
    if not args.submission.is_dir():
        print(f"{args.submission} is not a folder; pass the folder holding your files",
              file=sys.stderr)
        return 2
    data_dir = args.data_dir or default_data_dir()
    submission = _unwrapped(args.submission, rubric)
    if args.command == "grade":
        deadline = None
        if args.deadline is not None:
            if args.deadline < 2 * DEADLINE_RESERVE_S:
                print(f"--deadline must be at least {2 * DEADLINE_RESERVE_S:g} s",
                      file=sys.stderr)
                return 2
            deadline = started + args.deadline - DEADLINE_RESERVE_S
        if args.until is not None:  # a lane of a grading side by side: its deadline as is
            deadline = args.until
        if args.jobs < 0:
            print("--jobs must be at least 1 (0: the cores available)", file=sys.stderr)
            return 2
        from .engine.lanes import lanes_for
        lanes = lanes_for(rubric, questions, args.jobs)
        # in lanes, each lane claims a sandbox uid slot of its own beside this one's
        run = _in_own_slot(lambda: run_grading(submission, args.out, questions, data_dir,
                                               False, True, not args.quiet, rubric,
                                               args.record, deadline, lanes, args.rubric,
                                               args.lane))
        report = args.out / "report.html"
        print(f"{run.score:.4g} / {run.max_score:.4g} points; results in "
              f"{args.out / 'results.json'}" + (f", report in {report}"
                                                  if report.is_file() else ""))
        return 1 if run.grader_error else 0
    run = _in_own_slot(lambda: run_grading(submission, args.out, questions, data_dir, True,
                                           args.full, True, rubric))
    print(terminal.render(run))
    failed = any(r.status in (FAILED, ERROR) for r in run.results)
    return 1 if run.grader_error or failed else 0
