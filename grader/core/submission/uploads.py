"""Finds the submissions of a batch: folders, .zip files and Gradescope's bulk export.

A batch folder holds one entry per submission: a sub-folder or a .zip file. Gradescope's
"Export Submissions" layout is recognised by its `submission_metadata.yml`: one folder per
submission (`submission_12345678/`) and the submitters' names and emails in the yml.
A zip is extracted safely (no absolute or `..` paths, no symlinks, a size cap); a folder
or zip whose only entry is a folder holding a file the rubric names (a question's
`files`) is graded from that folder.
"""
from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import BatchError

METADATA = "submission_metadata.yml"  # Gradescope's bulk export index
ZIP_CAP_MB = 50  # most bytes extracted from one submission's zip
EXPORT_CAP_MB = 4096  # most bytes extracted from a whole Gradescope export zip
MAX_MEMBERS = 5000  # most files extracted from one zip
RESERVED = {"work", "gradebook.csv", "summary.html"}  # names the batch's outputs use
IGNORED = {"__MACOSX", "__pycache__", ".DS_Store", METADATA}  # never submissions
ZIP_SKIPPED = {"__MACOSX", ".DS_Store"}  # zip members left out (macOS archive litter)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@+-]+")
_MB = 1 << 20


@dataclass(frozen=True)
class Submission:
    """One submission of a batch, ready to grade."""

    student: str  # unique, filesystem-safe name: the folder under OUT holding its results
    path: Path  # the folder to grade (holds the rubric's files when the student sent them)
    source: Path  # the entry of the batch folder it came from (folder or .zip)
    name: str = ""  # submitters' names from Gradescope's metadata ("" when unknown)
    email: str = ""  # submitters' emails from Gradescope's metadata ("" when unknown)
    note: str = ""  # what discovery left out or could not do (for staff)


def discover(root: Path, work_dir: Path, exclude: tuple[Path, ...] = (),
             markers: tuple[str, ...] = ()) -> list[Submission]:
    """The submissions under `root`, sorted by student; zips extracted under work_dir.

    root: a batch folder (or a Gradescope export zip, extracted first); exclude: folders
    never taken for submissions (the batch's own output folder).
    """
    root = Path(root)
    if root.is_file() and root.suffix.lower() == ".zip":
        dest = work_dir / "export"
        note = extract_zip(root, dest, EXPORT_CAP_MB)
        if note:
            raise BatchError(f"{root}: {note}; unzip it by hand and pass the folder")
        root = dest
    if not root.is_dir():
        raise BatchError(f"{root} is not a folder; pass the folder holding one sub-folder "
                         "or .zip per submission (or Gradescope's export)")
    root = _export_root(root)
    people = read_metadata(root / METADATA) if (root / METADATA).is_file() else {}
    skip = {p.resolve() for p in exclude}
    taken: set[str] = set()
    found = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name in IGNORED or entry.name.startswith(".") or entry.is_symlink() \
                or entry.resolve() in skip:
            continue
        is_zip = entry.is_file() and entry.suffix.lower() == ".zip"
        if not (entry.is_dir() or is_zip):
            continue
        key = entry.stem if is_zip else entry.name  # as the export's metadata names it
        student = _unique(safe_name(key), taken)
        folder = work_dir / student if is_zip else entry
        note = extract_zip(entry, folder, ZIP_CAP_MB) if is_zip else ""
        names, emails = people.get(key, ((), ()))
        found.append(Submission(student, submission_root(folder, markers), entry,
                                ", ".join(names), "; ".join(emails), note))
    return found


def _export_root(root: Path) -> Path:
    """root, or its only sub-folder when that holds Gradescope's metadata (an export
    unzipped with its top-level folder)."""
    if (root / METADATA).is_file():
        return root
    entries = [e for e in root.iterdir() if e.name not in IGNORED and not e.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / METADATA).is_file():
        return entries[0]
    return root


def safe_name(name: str) -> str:
    """A folder name made of letters, digits and ._@+- only, never hidden or reserved."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip("._") or "submission"
    return cleaned + "_" if cleaned in RESERVED else cleaned


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def holds(folder: Path, markers: tuple[str, ...]) -> bool:
    """Whether folder holds one of the marker files, or the notebook that stands in for a
    marker `X.py` (`X.ipynb`, which the grader reads in its place)."""
    return any((folder / name).is_file() or (folder / name).with_suffix(".ipynb").is_file()
               for name in markers)


def submission_root(folder: Path, markers: tuple[str, ...] = (), depth: int = 3) -> Path:
    """The folder to grade: `folder`, or the folder holding one of the marker files (the
    files the rubric's questions read) when `folder` only wraps it in single sub-folders
    (at most `depth` levels)."""
    current = folder
    for _ in range(depth):
        if holds(current, markers) or not current.is_dir():
            break
        entries = [e for e in current.iterdir()
                   if e.name not in IGNORED and not e.name.startswith(".")]
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            break
        current = entries[0]
    return current if holds(current, markers) else folder


def _member_path(name: str) -> PurePosixPath | None:
    """The relative path of a zip member, or None when it is absolute or climbs out."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    path = PurePosixPath(name)
    if any(part == ".." for part in path.parts):
        return None
    parts = [p for p in path.parts if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else None


def extract_zip(archive: Path, dest: Path, cap_mb: int = ZIP_CAP_MB) -> str:
    """Extracts `archive` into a fresh `dest`; returns a note on what was left out ("" if
    nothing). Absolute and `..` members and symlinks are skipped; extraction stops at
    cap_mb megabytes (counted as written, so a lying header does not help) or
    MAX_MEMBERS files. Never raises for a bad archive: the note says what happened."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    top = dest.resolve()
    unsafe, links, notes = [], 0, []
    budget = cap_mb * _MB
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_MEMBERS:
                notes.append(f"only the first {MAX_MEMBERS} of {len(members)} files extracted")
                members = members[:MAX_MEMBERS]
            for info in members:
                rel = _member_path(info.filename)
                if rel is None:
                    if info.filename.strip("/"):
                        unsafe.append(info.filename)
                    continue
                if ZIP_SKIPPED & set(rel.parts):
                    continue
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    links += 1
                    continue
                target = dest.joinpath(*rel.parts)
                if not target.resolve().is_relative_to(top):
                    unsafe.append(info.filename)
                    continue
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                budget = _extract_member(zf, info, target, budget)
                if budget < 0:
                    notes.append(f"extraction stopped at the {cap_mb} MB cap "
                                 f"({info.filename} and later files left out)")
                    break
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError,
            NotImplementedError, EOFError) as exc:
        notes.append(f"{archive.name} could not be extracted ({type(exc).__name__}: {exc})")
    if unsafe:
        shown = ", ".join(unsafe[:3]) + (", ..." if len(unsafe) > 3 else "")
        notes.append(f"{len(unsafe)} member(s) with absolute or '..' paths skipped ({shown})")
    if links:
        notes.append(f"{links} symlink(s) skipped")
    return "; ".join(notes)


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path,
                    budget: int) -> int:
    """Copies one member to target; returns the bytes left in the budget (< 0: over)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as src, open(target, "wb") as out:
        while chunk := src.read(_MB):
            budget -= len(chunk)
            if budget < 0:
                break
            out.write(chunk)
    if budget < 0:
        target.unlink()
    return budget


def read_metadata(path: Path) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Submission folder -> (names, emails) of its submitters, from Gradescope's
    submission_metadata.yml; {} when it cannot be read (folder names are used then)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    try:
        import yaml  # optional: PyYAML when installed, else the small parser below
        parsed = _from_yaml(yaml.safe_load(text))
    except Exception:  # noqa: BLE001 - not installed, or Ruby tags it refuses
        parsed = None
    return parsed if parsed else parse_metadata(text)


def _from_yaml(data: object) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]] | None:
    if not isinstance(data, dict):
        return None
    people = {}
    for key, record in data.items():
        if not isinstance(record, dict):
            continue
        submitters = record.get(":submitters", record.get("submitters")) or []
        names, emails = [], []
        for s in submitters if isinstance(submitters, list) else []:
            if isinstance(s, dict):
                names.append(str(s.get(":name", s.get("name", "")) or ""))
                emails.append(str(s.get(":email", s.get("email", "")) or ""))
        people[str(key).strip(":")] = (tuple(n for n in names if n),
                                       tuple(e for e in emails if e))
    return people


_FIELD = re.compile(r"^(\s*)(-\s+)?:?(name|email):\s*(.*?)\s*$")


def parse_metadata(text: str) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The hand parser of submission_metadata.yml: top-level keys are submission folders;
    `:name:` and `:email:` are read inside each `:submitters:` list only."""
    people: dict[str, tuple[list[str], list[str]]] = {}
    current, block = None, None  # submission key; indent of its :submitters: key
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent == 0:
            current, block = None, None
            if stripped.endswith(":"):
                current = stripped[:-1].strip(":'\" ")
                people[current] = ([], [])
            continue
        if current is None:
            continue
        if block is not None and indent <= block and not stripped.startswith("-"):
            block = None
        if stripped in (":submitters:", "submitters:"):
            block = indent
            continue
        match = _FIELD.match(line) if block is not None else None
        if match:
            value = _unquote(match.group(4))
            if value:
                people[current][0 if match.group(3) == "name" else 1].append(value)
    return {k: (tuple(n), tuple(e)) for k, (n, e) in people.items()}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def upload_note(folder: Path, markers: tuple[str, ...], shown: int = 12) -> str:
    """"" when folder holds one of the marker files (or its notebook), else one line for the
    student: what was expected, what the upload holds (up to `shown` entries, folders
    marked with /), and what to do."""
    if holds(folder, markers):
        return ""
    try:
        entries = sorted(e for e in Path(folder).iterdir()
                         if e.name not in IGNORED and not e.name.startswith("."))
    except OSError:
        entries = []
    names = [e.name + ("/" if e.is_dir() else "") for e in entries[:shown]]
    if len(entries) > shown:
        names.append(f"and {len(entries) - shown} more")
    found = ", ".join(names) if names else "nothing (an empty upload)"
    return (f"None of the assignment's files is in your upload. Expected (by these names): "
            f"{', '.join(markers)}. Found: {found}. Upload the files themselves, or one "
            "folder (or .zip) holding them, with their original names.")
