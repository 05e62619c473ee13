"""Similarity between the submissions of a batch: grade-all's similarity.html.

For each graded file (the rubric's submission files; a notebook `X.ipynb` stands in for
`X.py` as in grading), every pair of submissions is scored with copydetect's winnowed
fingerprints (MOSS's method: code tokenised, names and strings replaced by one letter,
k-grams hashed, one hash kept per window), after removing every fingerprint of the
student_template's copy of that file, so starter code never counts as copying.

Scale: copydetect compares two files in about 0.5 ms, so all 125k pairs of 500 students
for each of eleven files would take over ten minutes. Instead the fingerprints go into one
sparse 0/1 matrix per file (students x distinct hashes); its product with its transpose
counts the fingerprints every pair shares, and copydetect's exact comparison (the
similarity and the matching slices shown on the page) runs only for each student's
CANDIDATES best partners by that count, per file and over all files. K-grams are hashed
by kgram_hashes, the same in every process (copydetect's own hash() is salted per process).

Similarity of a pair (pair_similarity), one number whichever of the two is named first:
of the code both wrote themselves (characters of tokenised code outside the template,
both students' summed), the fraction that copydetect finds matching the other's. In one
file the sums run over that file; over all files, over every compared file (a file only
one of them wrote adds its code and no match), so the overall value is the mean of the
per-file values weighted by the pair's code in each, and a pair whose every file reads
100% reads 100%. It is copydetect's own per-side share (matched over own tokens) with
both sides pooled: symmetric, and the same numbers as the highlighted regions.

untouched_templates finds the submissions that hand in the starter code unchanged (the
gradebook flags them). Nothing here raises on bad input: an unreadable, binary, huge or
empty file is left out with a note on the page.
"""
from __future__ import annotations

import functools
import io
import itertools
import time
import tokenize
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from ..results.gradescope import write_atomic
from ..results.report import PAGES
from ..submission.uploads import Submission

NOISE_T = 25  # k: shortest match counted, in characters of tokenised code (copydetect's default)
GUARANTEE_T = 30  # every match at least this long is found (winnowing window 30 - 25 + 1 = 6)
MAX_FILE_KB = 256  # larger code files (or notebooks' code) are left out with a note
MAX_NOTEBOOK_MB = 20  # larger notebooks (outputs, images) are not opened
CANDIDATES = 5  # exact comparisons per student: its best partners by shared fingerprints
TOP_PAIRS = 8  # pairs shown per file, each with its side-by-side view
TOP_OVERALL = 25  # pairs listed over all files
SHOWN_CHARS = 60_000  # a side-by-side view shows at most this many characters of a file
MAX_NOTES = 200  # notes listed on the page, then a count
LANGUAGE = "python"  # pygments lexer of every file (notebooks become Python text)
TEMPLATE_DIR = Path(__file__).resolve().parents[3] / "student_template"  # starter code
PAGE = "similarity.html"


@dataclass(frozen=True, eq=False)
class Code:
    """One file of one submission, fingerprinted, in compact arrays (a CodeFingerprint's
    dicts and sets take about 200 KB per file: 1 GB for 500 students' eleven files)."""

    student: int  # index into the batch's submissions
    shown_name: str  # the file read: `X.py`, or `X.ipynb` standing in for it
    raw_code: str  # the text compared (a notebook's code cells), shown on the page
    hashes: np.ndarray  # (H,) int64: its distinct fingerprint hashes, sorted
    keys: np.ndarray  # (P,) int64: the hash of each kept fingerprint position
    positions: np.ndarray  # (P,) int32: where in the tokenised code that fingerprint starts
    offsets: np.ndarray  # (M, 2) int32: copydetect's map from tokenised to raw positions
    tokenised_length: int  # characters of tokenised code
    tokens: int  # of those, characters outside the template (copydetect's token_coverage)

    @classmethod
    def of(cls, student: int, shown_name: str, fp) -> "Code":
        """The compact form of a copydetect CodeFingerprint."""
        keys = [h for h, where in fp.hash_idx.items() for _ in where]
        positions = [p for where in fp.hash_idx.values() for p in where]
        offsets = np.asarray(fp.offsets, dtype=np.int32).reshape(-1, 2)
        return cls(student, shown_name, fp.raw_code,
                   np.unique(np.asarray(keys, dtype=np.int64)),
                   np.asarray(keys, dtype=np.int64), np.asarray(positions, dtype=np.int32),
                   offsets, len(fp.filtered_code), int(fp.token_coverage))

    def fingerprint(self) -> SimpleNamespace:
        """The attributes of copydetect 0.5.0's CodeFingerprint that compare_files reads,
        rebuilt (0.1 ms): k, hashes (a set), hash_idx (hash -> start positions in the
        tokenised code), filtered_code (only its length is read), token_coverage, offsets."""
        where: dict[int, list[int]] = {}
        for key, position in zip(self.keys.tolist(), self.positions.tolist()):
            where.setdefault(key, []).append(position)
        return SimpleNamespace(k=NOISE_T, hashes=set(where), hash_idx=where,
                               filtered_code=" " * self.tokenised_length,
                               token_coverage=self.tokens, offsets=self.offsets)


def pair_similarity(matched: float, own: float) -> float:
    """The similarity of a pair, in [0, 1]: `matched` of the two students' own tokens
    (characters of tokenised code outside the template, both students' summed, over the
    files compared) match the other's code, out of `own` such tokens."""
    return min(1.0, matched / own) if own > 0 else 0.0


@dataclass(frozen=True)
class Match:
    """copydetect's comparison of one file of two submissions (a < b). Tokens are
    characters of tokenised code outside the template (copydetect's token_coverage)."""

    a: int  # student index
    b: int  # student index
    own_a: int  # a's own tokens in this file
    own_b: int  # b's own tokens in this file
    matched_a: int  # of a's own tokens, those covered by matches with b's file
    matched_b: int  # of b's own tokens, those covered by matches with a's file
    slices_a: tuple[tuple[int, int], ...]  # matching regions of a's raw code, [start, end)
    slices_b: tuple[tuple[int, int], ...]  # matching regions of b's raw code

    @property
    def matched(self) -> int:
        return self.matched_a + self.matched_b

    @property
    def score(self) -> float:
        """The pair's similarity in this file (pair_similarity)."""
        return pair_similarity(self.matched, self.own_a + self.own_b)


@dataclass(frozen=True)
class Pair:
    """Two submissions over all compared files (a < b)."""

    a: int  # student index
    b: int  # student index
    matched: int  # both students' own tokens that match, summed over the files
    own: int  # both students' own tokens, summed over every compared file

    @property
    def score(self) -> float:
        """The pair's similarity over all files (pair_similarity)."""
        return pair_similarity(self.matched, self.own)


def graded_files(questions: Iterable[str] | None = None, rubric=None) -> tuple[str, ...]:
    """The submission files the selected questions read (all questions' when None), from
    `rubric` (a rubric.Rubric; None: the batch's, grader/rubric.toml)."""
    if rubric is None:
        from .jobs import RUBRIC as rubric
    wanted = None if questions is None else set(questions)
    return tuple(dict.fromkeys(f for q in rubric.questions
                               if wanted is None or q.id in wanted for f in q.files))


def write_report(subs: Sequence[Submission], out_dir: Path,
                 template_dir: Path | None = None, files: Sequence[str] | None = None,
                 log: Callable[[str], None] | None = None,
                 archive: Sequence[Submission] = ()) -> dict[str, tuple[float, str]]:
    """Writes out_dir/similarity.html; returns student -> (highest similarity over all
    files with another submission, in [0, 1] (pair_similarity); that one's name or folder
    name, "NAME (archive)" for an archive entry, "" when none shares code) for each
    student with code of their own in the compared files.

    subs: the batch's submissions; template_dir: the starter code excluded as boilerplate
    (None: the repository's student_template/); files: the file names compared (None:
    every file of the rubric; graded_files(questions) for a selection); log: called with
    a progress line before and after (about 0.3 s per submission); archive: solutions
    compared with the batch but not with each other and never listed as students (the
    reference, last year's submissions, solutions found online: batch.find_archive). Never
    raises: a failure becomes a note on the page (an empty result when nothing could be
    compared).
    """
    started = time.monotonic()
    say = log or (lambda line: None)
    say(f"similarity: comparing {len(subs)} submissions"
        + (f" and {len(archive)} archived solutions" if archive else ""))
    everyone = list(subs) + list(archive)
    files = tuple(files) if files is not None else _rubric_files()
    template_dir = Path(template_dir) if template_dir is not None else TEMPLATE_DIR
    out_dir = Path(out_dir)
    notes: list[str] = []
    try:
        analysis = analyse(everyone, files, template_dir, notes, batch=len(subs))
    except Exception:  # noqa: BLE001 - the gradebook must not be lost to this page
        notes.append("similarity could not be computed (grader fault): "
                     + traceback.format_exc(limit=4))
        analysis = None
    try:
        html = render(everyone, files, analysis, notes, out_dir,
                      time.monotonic() - started, batch=len(subs))
    except Exception:  # noqa: BLE001
        html = _fallback_page(notes + ["the page could not be rendered: "
                                       + traceback.format_exc(limit=4)])
    try:
        write_atomic(out_dir / PAGE, html)
        say(f"similarity: {out_dir / PAGE} ({time.monotonic() - started:.0f} s)")
    except OSError as exc:
        say(f"similarity: could not write {out_dir / PAGE}: {exc}")
    return analysis.top if analysis is not None else {}


@dataclass
class Analysis:
    """Everything the page shows, computed once."""

    codes: dict[str, dict[int, Code]]  # file -> student index -> its code
    matches: dict[tuple[str, int, int], Match | None]  # (file, a, b), a < b -> comparison
    per_file: dict[str, list[Match]]  # file -> exact comparisons with a match, best first
    overall: list[Pair]  # over all files, best first
    top: dict[str, tuple[float, str]]  # student -> (highest overall similarity, partner)
    compared: int  # exact comparisons run (copydetect's compare_files), all files
    sharing: int  # (pair, file) combinations sharing at least one fingerprint


def analyse(subs: list[Submission], files: Sequence[str], template_dir: Path,
            notes: list[str], batch: int | None = None) -> Analysis:
    """Fingerprints every file, picks candidate pairs, compares them exactly. subs[:batch]
    are the batch's students (all when None); the rest, an archive, are paired with
    students only."""
    import copydetect.utils  # imports matplotlib: only when a page is made
    from copydetect import CodeFingerprint
    # copydetect hashes k-grams with kgram_hashes (its only use of hash()), so the same
    # submissions give the same fingerprints, page and gradebook on every run
    copydetect.utils.hashed_kgrams = kgram_hashes
    window = GUARANTEE_T - NOISE_T + 1
    codes: dict[str, dict[int, Code]] = {}
    for name in files:
        boilerplate = _boilerplate(CodeFingerprint, template_dir, name, notes)
        codes[name] = {}
        for i, sub in enumerate(subs):
            code = _fingerprint(CodeFingerprint, sub, i, name, window, boilerplate, notes)
            if code is not None:
                codes[name][i] = code
    n = len(subs)
    batch = n if batch is None else batch
    shared, own = {}, {}
    for name, by_student in codes.items():
        shared[name], own[name] = _shared_counts(by_student, n)
    cache: dict[tuple[str, int, int], Match | None] = {}

    def compare(name: str, a: int, b: int) -> Match | None:
        key = (name, min(a, b), max(a, b))
        if key not in cache:
            cache[key] = _compare(codes[name], *key[1:])
        return cache[key]

    per_file: dict[str, list[Match]] = {}
    for name in files:
        for a, b in _candidates(shared[name], own[name], batch):
            compare(name, a, b)
    overall_pairs = set()
    if shared:
        total_shared = functools.reduce(lambda x, y: x + y, shared.values())
        overall_pairs = _candidates(total_shared.tocsr(), sum(own.values()), batch)
    for a, b in overall_pairs:
        for name in files:
            if a in codes[name] and b in codes[name]:
                compare(name, a, b)
    for name in files:
        found = [m for (f, _, _), m in cache.items() if f == name and m is not None]
        per_file[name] = sorted(found, key=lambda m: (-m.score, -m.matched, m.a, m.b))
    tokens = np.zeros(n)
    for by_student in codes.values():
        for i, code in by_student.items():
            tokens[i] += code.tokens
    overall = []
    for a, b in sorted(overall_pairs):
        matched = sum(m.matched for m in (cache.get((name, a, b)) for name in files)
                      if m is not None)
        if matched:
            overall.append(Pair(a, b, matched, int(tokens[a] + tokens[b])))
    overall.sort(key=lambda p: (-p.score, -p.matched, p.a, p.b))
    top: dict[str, tuple[float, str]] = {}
    best: dict[int, tuple[float, int]] = {}
    for pair in overall:
        for me, other in ((pair.a, pair.b), (pair.b, pair.a)):
            if me not in best or pair.score > best[me][0]:
                best[me] = (pair.score, other)
    for i in np.flatnonzero(tokens[:batch] > 0):
        score, other = best.get(int(i), (0.0, -1))
        partner = "" if other < 0 else (subs[other].name or subs[other].student) + (
            " (archive)" if other >= batch else "")  # the submitters' names when known
        top[subs[i].student] = (round(float(score), 4), partner)
    sharing = sum(int((s.nnz - np.count_nonzero(s.diagonal())) // 2) for s in shared.values())
    return Analysis(codes, cache, per_file, overall, top, len(cache), sharing)


def kgram_hashes(text: str, k: int) -> np.ndarray:
    """(len(text) - k + 1,) int64: a hash of every k-gram of text (k characters from each
    position), the same in every process.

    copydetect hashes k-grams with Python's hash(), which is salted per process
    (PYTHONHASHSEED): winnowing then keeps other fingerprints on every run and a
    gradebook's similarity changes by a point or so between runs. This is a polynomial
    hash of the characters' code points mod 2**64, mixed by splitmix64's finaliser so that
    winnowing's minimum is not biased towards some characters.
    """
    if len(text) < k or k < 1:
        return np.array([], dtype=np.int64)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        powers = np.ones(k, dtype=np.uint64)
        for i in range(k - 2, -1, -1):
            powers[i] = powers[i + 1] * np.uint64(1_000_003)
        h = np.lib.stride_tricks.sliding_window_view(codes, k) @ powers  # wraps mod 2**64
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h.view(np.int64)


def _rubric_files() -> tuple[str, ...]:
    try:
        return graded_files()
    except Exception:  # noqa: BLE001 - a broken rubric stops grading long before this
        return ()


def _boilerplate(fingerprint_cls, template_dir: Path, name: str, notes: list[str]):
    """Every k-gram hash of the template's copy of `name` (win_size 1, as CopyDetector's
    boilerplate_dirs), or an empty array (with a note) when there is none."""
    path = template_dir / name
    text, why = _read_text(path, name)
    if text is None:
        notes.append(f"{name}: starter code not found or unreadable ({why}); its template "
                     "lines count as similarity")
        return np.array([], dtype=np.int64)
    fp = fingerprint_cls(name, NOISE_T, 1, fp=io.StringIO(text), language=LANGUAGE)
    return np.unique(np.fromiter(fp.hashes, dtype=np.int64, count=len(fp.hashes)))


def _fingerprint(fingerprint_cls, sub: Submission, index: int, name: str, window: int,
                 boilerplate: np.ndarray, notes: list[str]) -> Code | None:
    """The fingerprinted code of `name` in sub (or its notebook), or None: absent, only
    template code, or unreadable (with a note)."""
    try:
        found = _locate(Path(sub.path), name)
        if found is None:
            return None
        path, shown = found
        text, why = _read_text(path, name)
        if text is None:
            notes.append(f"{sub.student}: {shown} left out: {why}")
            return None
        fp = fingerprint_cls(shown, NOISE_T, window, boilerplate=boilerplate,
                             fp=io.StringIO(text), language=LANGUAGE)
    except Exception as exc:  # noqa: BLE001 - one odd file never stops the page
        notes.append(f"{sub.student}: {name} left out: {type(exc).__name__}: {exc}")
        return None
    if not fp.hashes or fp.token_coverage <= 0:
        return None  # nothing beyond the template (or too short to match)
    return Code.of(index, shown, fp)


def _locate(folder: Path, name: str) -> tuple[Path, str] | None:
    """(path, name shown) of `name` in folder, or of the notebook standing in for it."""
    notebook = Path(name).stem + ".ipynb"
    for candidate in (name, notebook):
        path = folder / candidate
        if path.is_symlink() or path.is_file():
            return path, candidate
    return None


def _read_text(path: Path, name: str) -> tuple[str | None, str]:
    """(Python text of the file, "") or (None, why not): a notebook gives its code cells."""
    from ..submission.source import SourceError, notebook_source
    if path.is_symlink():
        return None, "a symbolic link (not followed)"
    if not path.is_file():
        return None, "not a regular file"
    is_notebook = path.suffix == ".ipynb" and not name.endswith(".ipynb")
    cap = (MAX_NOTEBOOK_MB << 20) if is_notebook else (MAX_FILE_KB << 10)
    size = path.stat().st_size
    if size > cap:
        return None, f"{size / 1024:.0f} KiB, over the {cap >> 10} KiB cap"
    data = path.read_bytes()
    if is_notebook:
        try:
            text, _ = notebook_source(data)
        except SourceError as err:
            return None, str(err)
    else:
        if b"\0" in data:
            return None, "binary content (NUL bytes)"
        try:
            text = data.decode(tokenize.detect_encoding(io.BytesIO(data).readline)[0])
        except (SyntaxError, LookupError, UnicodeDecodeError) as err:
            return None, f"cannot decode the file: {err}"
    if len(text) > MAX_FILE_KB << 10:
        return None, f"{len(text) // 1024} KiB of code, over the {MAX_FILE_KB} KiB cap"
    if "\0" in text:
        return None, "binary content (NUL characters)"
    return text, ""


def untouched_templates(subs: Sequence[Submission], files: Sequence[str],
                        template_dir: Path | None = None) -> dict[str, tuple[str, ...]]:
    """student -> the files it holds, for each submission that hands in the starter code
    unchanged: it holds at least one of `files` (`X.ipynb` standing in for `X.py`: its
    code cells), and every one it holds has the same Python tokens as template_dir's copy
    (None: the repository's student_template/), comments, blank lines, indentation widths
    and line endings aside. Never raises: a file that cannot be tokenised is compared as
    text with its whitespace removed, one that cannot be read is not the starter code, and
    a submission this fails on is left out."""
    template_dir = Path(template_dir) if template_dir is not None else TEMPLATE_DIR
    starter: dict[str, str | None] = {}
    for name in files:
        found = _locate(template_dir, name)
        starter[name] = _read_text(found[0], name)[0] if found else None
    untouched = {}
    for sub in subs:
        try:
            held = _held_as_template(Path(sub.path), starter)
        except Exception:  # noqa: BLE001 - a flag never costs the gradebook
            held = None
        if held:
            untouched[sub.student] = held
    return untouched


def _held_as_template(folder: Path, starter: Mapping[str, str | None]
                      ) -> tuple[str, ...] | None:
    """The names of the files folder holds when each is its starter code, else None."""
    held = []
    for name, model in starter.items():
        found = _locate(folder, name)
        if found is None:
            continue
        text = _read_text(found[0], name)[0]
        if text is None or model is None or not _same_code(text, model):
            return None
        held.append(found[1])
    return tuple(held) or None


_LAYOUT = (tokenize.COMMENT, tokenize.NL)  # tokens that say nothing about the code


def _code_tokens(text: str) -> Iterable[tuple[int, str]]:
    """(type, text without whitespace) of text's Python tokens, comments and blank lines
    left out: indents and line ends count by their type only, and a string's whitespace
    (a re-indented docstring) does not count."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in _LAYOUT:
            yield tok.type, "".join(tok.string.split())


def _same_code(text: str, model: str) -> bool:
    """Whether text holds model's code (_code_tokens; stops at the first difference), or,
    when either cannot be tokenised, the same text with all whitespace removed."""
    if text == model:
        return True
    try:
        return all(a == b for a, b in itertools.zip_longest(_code_tokens(text),
                                                            _code_tokens(model)))
    except (tokenize.TokenError, SyntaxError):  # IndentationError included
        return "".join(text.split()) == "".join(model.split())


def _shared_counts(by_student: Mapping[int, Code], n: int):
    """(S, own): S (n, n) sparse, S[a, b] = fingerprints a and b share (distinct hashes);
    own (n,): each student's count of distinct fingerprints."""
    from scipy import sparse
    own = np.zeros(n)
    if not by_student:
        return sparse.csr_matrix((n, n), dtype=np.int32), own
    rows, hashes = [], []
    for i, code in by_student.items():
        values = code.hashes
        rows.append(np.full(len(values), i, dtype=np.int32))
        hashes.append(values)
        own[i] = len(values)
    _, columns = np.unique(np.concatenate(hashes), return_inverse=True)
    row = np.concatenate(rows)
    m = sparse.csr_matrix((np.ones(len(row), dtype=np.int32), (row, columns.ravel())),
                          shape=(n, int(columns.max()) + 1))
    return (m @ m.T).tocsr(), own


def _candidates(shared, own: np.ndarray, batch: int,
                per_student: int = CANDIDATES) -> set[tuple[int, int]]:
    """Pairs (a < b): each of the first `batch` students' per_student partners (a student
    or an archive entry) sharing the largest fraction of its fingerprints. Archive entries
    (index >= batch) pick no partners, so two of them are never paired."""
    pairs = set()
    for a in range(min(batch, shared.shape[0])):
        start, end = shared.indptr[a], shared.indptr[a + 1]
        partners, counts = shared.indices[start:end], shared.data[start:end]
        keep = (partners != a) & (counts > 0)
        partners, counts = partners[keep], counts[keep]
        if len(partners) == 0 or own[a] <= 0:
            continue
        if len(partners) > per_student:
            best = np.argpartition(-counts, per_student - 1)[:per_student]
            partners = partners[best]
        pairs.update((min(a, int(b)), max(a, int(b))) for b in partners)
    return pairs


def _compare(by_student: Mapping[int, Code], a: int, b: int) -> Match | None:
    """copydetect's exact comparison of a's and b's file, or None when nothing matches."""
    from copydetect import compare_files
    if a not in by_student or b not in by_student:
        return None
    ca, cb = by_student[a], by_student[b]
    overlap, (share_a, share_b), (slices_a, slices_b) = compare_files(ca.fingerprint(),
                                                                      cb.fingerprint())
    if not overlap:
        return None
    return Match(a, b, ca.tokens, cb.tokens, min(ca.tokens, round(float(share_a) * ca.tokens)),
                 min(cb.tokens, round(float(share_b) * cb.tokens)),
                 _regions(slices_a, len(ca.raw_code)), _regions(slices_b, len(cb.raw_code)))


def _regions(slices: np.ndarray, length: int) -> tuple[tuple[int, int], ...]:
    """copydetect's (2, K) slice array as sorted, merged [start, end) within the text."""
    spans = sorted((max(0, int(s)), min(length, int(e))) for s, e in np.asarray(slices).T
                   if int(e) > int(s))
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif start < end:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def segments(text: str, regions: Sequence[tuple[int, int]],
             limit: int = SHOWN_CHARS) -> list[tuple[str, bool]]:
    """text cut into (piece, matches) runs for the side-by-side view, at most limit chars."""
    text = text[:limit]
    out, position = [], 0
    for start, end in regions:
        start, end = min(start, len(text)), min(end, len(text))
        if start > position:
            out.append((text[position:start], False))
        if end > max(start, position):
            out.append((text[max(start, position):end], True))
        position = max(position, end)
    if position < len(text):
        out.append((text[position:], False))
    return out


# --- the page --------------------------------------------------------------------------------

def render(subs: list[Submission], files: Sequence[str], analysis: Analysis | None,
           notes: list[str], out_dir: Path, seconds: float, batch: int | None = None) -> str:
    """similarity.html as text; subs[batch:] are archive entries (none when None)."""
    import copydetect
    batch = len(subs) if batch is None else batch

    def person(i: int) -> dict:
        sub = subs[i]
        archived = i >= batch
        has_report = not archived and (out_dir / sub.student / "report.html").is_file()
        return {"student": sub.student, "name": sub.name, "report": has_report,
                "archive": archived}

    sections, views = [], {}
    top, overall, students = {}, [], []
    if analysis is not None:
        for f_index, name in enumerate(files):
            codes = analysis.codes.get(name, {})
            shown = []
            for rank, m in enumerate(analysis.per_file.get(name, [])[:TOP_PAIRS], start=1):
                anchor = f"f{f_index}-{rank}"
                views[(name, m.a, m.b)] = anchor
                ca, cb = codes[m.a], codes[m.b]
                shown.append({"anchor": anchor, "match": m, "a": person(m.a),
                              "b": person(m.b), "file_a": ca.shown_name,
                              "file_b": cb.shown_name,
                              "left": segments(ca.raw_code, m.slices_a),
                              "right": segments(cb.raw_code, m.slices_b),
                              "cut": max(len(ca.raw_code),
                                         len(cb.raw_code)) > SHOWN_CHARS})
            notebooks = sum(1 for i, c in codes.items()
                            if i < batch and c.shown_name.endswith(".ipynb"))
            sections.append({"name": name, "anchor": f"f{f_index}",
                             "count": sum(1 for i in codes if i < batch),
                             "notebooks": notebooks, "pairs": shown})
        for pair in analysis.overall[:TOP_OVERALL]:
            a, b = pair.a, pair.b
            per_file = []
            for name in files:  # every file either wrote: a file one of them lacks reads 0%
                m, codes = analysis.matches.get((name, a, b)), analysis.codes.get(name, {})
                if a in codes or b in codes:
                    per_file.append({"file": name, "score": m.score if m else 0.0,
                                     "anchor": views.get((name, a, b)),
                                     "only": None if a in codes and b in codes else
                                     subs[a if a in codes else b].student})
            overall.append({"a": person(a), "b": person(b), "pair": pair, "files": per_file})
        by_student = {s.student: i for i, s in enumerate(subs)}
        for student, (score, partner) in sorted(analysis.top.items(),
                                                key=lambda kv: (-kv[1][0], kv[0])):
            students.append({"who": person(by_student[student]), "score": score,
                             "partner": partner})
        top = analysis.top
    shown_notes = notes[:MAX_NOTES]
    if len(notes) > MAX_NOTES:
        shown_notes.append(f"... and {len(notes) - MAX_NOTES} more notes")
    return PAGES.get_template("similarity.html.j2").render(
        count=batch, archived=len(subs) - batch, files=files, sections=sections, overall=overall,
        students=students, with_code=len(top), notes=shown_notes,
        compared=analysis.compared if analysis else 0,
        sharing=analysis.sharing if analysis else 0, noise_t=NOISE_T, guarantee_t=GUARANTEE_T,
        candidates=CANDIDATES, top_pairs=TOP_PAIRS, top_overall=TOP_OVERALL,
        shown_chars=SHOWN_CHARS,
        version=copydetect.__version__, seconds=seconds,
        written=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _fallback_page(notes: list[str]) -> str:
    """A bare page when the template itself fails: the notes, escaped."""
    from markupsafe import escape
    items = "".join(f"<li><pre>{escape(n)}</pre></li>" for n in notes)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Similarity report</title></head><body><h1>Similarity report</h1>"
            f"<p>The report could not be made.</p><ul>{items}</ul></body></html>\n")
