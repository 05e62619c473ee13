"""Downloads the real CIFAR-10 and MNIST once (the Gradescope image build) and verifies them.

What is fetched is one table, DATASETS: each file's published md5, the mirrors tried in
order and where the data lands under DEST (cifar-10-batches-py/ as grader/data/cifar.py
reads it; MNIST/raw/ as torchvision.datasets.MNIST(root=DEST) finds it). Each download
goes to a temporary file in DEST, is checked against its md5 before anything is unpacked,
and is moved into place only when complete, so an interrupted fetch never leaves a folder
that looks complete. `$GRADER_DATA_MIRROR=PREFIX` replaces every base URL (the file name
is appended; file:// works), for course staff behind a proxy and for tests.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..core.errors import DataError
from . import cifar, mnist

MIRROR_ENV = "GRADER_DATA_MIRROR"
TEMP_PREFIX = ".fetch-"  # every partial file or folder in DEST starts with this
TIMEOUT_S = 60  # seconds without data before a download is given up
_CHUNK = 1 << 20
_USER_AGENT = "dnn-backprop-grader/fetch-data"


@dataclass(frozen=True)
class Remote:
    """One published file."""

    name: str  # file name, appended to a mirror's base URL
    md5: str  # published md5 (hex) of the file as downloaded


@dataclass(frozen=True)
class Dataset:
    """One dataset: what to download, from where, and where it lands under DEST."""

    name: str  # "cifar10" or "mnist", as `fetch-data --only` spells it
    folder: str  # the folder under DEST that holds it, as its loader expects
    files: tuple[Remote, ...]  # "untar": one archive holding `folder`; "gunzip": .gz files
    mirrors: tuple[str, ...]  # base URLs, tried in order
    unpack: str  # "untar" (archive unpacked, then dropped) or "gunzip" (.gz kept beside)
    contents: Mapping[str, str] = field(default_factory=dict)  # unpacked file -> md5


DATASETS = {ds.name: ds for ds in (
    Dataset("cifar10", cifar.FOLDER,
            (Remote("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
            ("https://www.cs.toronto.edu/~kriz/",), "untar", contents=cifar.MD5),
    Dataset("mnist", mnist.FOLDER,
            tuple(Remote(name, md5) for name, md5 in mnist.GZ_MD5.items()),
            ("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "http://yann.lecun.com/exdb/mnist/"), "gunzip"),
)}


def fetch(dest: Path, which: Iterable[str] = ("cifar10", "mnist"),
          mirrors: Mapping[str, Sequence[str]] | None = None,
          log: Callable[[str], object] = print) -> list[str]:
    """Downloads, verifies and unpacks each dataset of `which` into dest; returns the names
    of those written (a dataset already present and verified is skipped).

    mirrors: dataset name -> base URLs, overriding $GRADER_DATA_MIRROR and the table's.
    Raises DataError when a file cannot be had with its published md5 from any mirror.
    """
    datasets = [_dataset(name) for name in which]
    dest = Path(dest)
    written = []
    for ds in datasets:
        bases = base_urls(ds, mirrors)
        try:
            dest.mkdir(parents=True, exist_ok=True)
            unpack = _fetch_archive if ds.unpack == "untar" else _fetch_gzips
            changed = unpack(ds, dest, bases, log)
        except OSError as exc:
            raise DataError(f"cannot write {ds.name} under {dest}: {exc}") from exc
        if changed:
            written.append(ds.name)
    return written


def _dataset(name: str) -> Dataset:
    """The table's entry for name; DataError for an unknown one."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name]


def base_urls(ds: Dataset,
              mirrors: Mapping[str, Sequence[str]] | None = None) -> tuple[str, ...]:
    """The base URLs to try for ds, in order, each ending in "/": mirrors[ds.name], else
    $GRADER_DATA_MIRROR, else the table's."""
    env = os.environ.get(MIRROR_ENV)
    if mirrors and ds.name in mirrors:
        chosen = mirrors[ds.name]
    else:
        chosen = (env,) if env else ds.mirrors
    if isinstance(chosen, str):
        chosen = (chosen,)
    return tuple(b if b.endswith("/") else b + "/" for b in chosen)


def _fetch_archive(ds: Dataset, dest: Path, bases: tuple[str, ...], log) -> bool:
    """CIFAR-10: one verified tar.gz, unpacked into a staging folder, checked, moved into
    place; returns False when the folder was already there and verified."""
    target = dest / ds.folder
    if not _mismatched(target, ds.contents):
        log(f"{ds.name}: already present and verified in {target}")
        return False
    (remote,) = ds.files
    archive = _download_verified(remote, bases, dest, log)
    staging = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=dest))
    try:
        _safe_extract(archive, staging)
        unpacked = staging / ds.folder
        if not unpacked.is_dir():
            raise DataError(f"{remote.name} holds no {ds.folder}/ folder; the archive's "
                            "layout changed: report it to course staff")
        bad = _mismatched(unpacked, ds.contents)
        if bad:
            raise DataError(f"{remote.name} matched its md5 but {', '.join(bad)} inside do "
                            "not match the published md5s (grader/data/cifar.py); report it "
                            "to course staff")
        _move_into_place(unpacked, target)
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    log(f"{ds.name}: verified and unpacked into {target}")
    return True


def _fetch_gzips(ds: Dataset, dest: Path, bases: tuple[str, ...], log) -> bool:
    """MNIST: each verified .gz moved into place, then decompressed beside it
    (torchvision's raw/ layout keeps both); returns False when all were already there."""
    folder = dest / ds.folder
    folder.mkdir(parents=True, exist_ok=True)
    changed = False
    for remote in ds.files:
        packed, unpacked = folder / remote.name, folder / remote.name.removesuffix(".gz")
        verified = packed.is_file() and cifar.md5(packed) == remote.md5
        if verified and unpacked.is_file():
            continue
        if not verified:
            os.replace(_download_verified(remote, bases, folder, log), packed)
        _gunzip(packed, unpacked)
        changed = True
    done = "verified and unpacked into" if changed else "already present and verified in"
    log(f"{ds.name}: {done} {folder}")
    return changed


def _mismatched(folder: Path, contents: Mapping[str, str]) -> list[str]:
    """Names in contents missing from folder or not matching their md5 (all: no folder)."""
    if not folder.is_dir():
        return list(contents) or [folder.name]
    return cifar.mismatched(folder, dict(contents))


def _download_verified(remote: Remote, bases: tuple[str, ...], folder: Path, log) -> Path:
    """A temporary file in folder holding remote with its published md5, from the first
    mirror that serves it; raises DataError naming every mirror's failure otherwise."""
    failures = []
    for base in bases:
        url = base + remote.name
        try:
            part, got = _download(url, folder, log)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"{url}: {_reason(exc)}")
            log(f"  {url}: {_reason(exc)}")
            continue
        if got == remote.md5:
            return part
        part.unlink(missing_ok=True)
        failures.append(f"{url}: got md5 {got}, expected {remote.md5} (corrupted or changed)")
        log(f"  {failures[-1]}")
    raise DataError(f"could not download {remote.name} with its published md5 {remote.md5}: "
                    f"{'; '.join(failures)}. Retry (a download may have been cut), or set "
                    f"{MIRROR_ENV}=URL-prefix to a mirror that serves {remote.name}")


def _download(url: str, folder: Path, log) -> tuple[Path, str]:
    """(temporary file in folder, its md5): url streamed in chunks, a progress line every
    10% when the size is known. The file is removed when the download fails."""
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=folder)
    digest = hashlib.md5()
    try:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with os.fdopen(fd, "wb") as out, \
                urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0)
            log(f"downloading {url}" + (f" ({total / 1e6:.1f} MB)" if total else ""))
            done = shown = 0
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if total and done * 10 // total > shown:
                    shown = done * 10 // total
                    log(f"  {min(shown, 10) * 10}% ({done / 1e6:.1f} of {total / 1e6:.1f} MB)")
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), digest.hexdigest()


def _reason(exc: BaseException) -> str:
    """One line saying why a download failed."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return " ".join(str(exc).split()) or type(exc).__name__


def _safe_extract(archive: Path, into: Path) -> None:
    """Unpacks a tar archive into `into` after checking every member: only regular files
    and folders at relative paths without `..`; anything else refuses the whole archive."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, archive.name)
            for member in members:
                path = into.joinpath(*PurePosixPath(member.name).parts)
                if member.isdir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{archive.name} matched its md5 but is not a readable tar archive "
                        f"({exc}); report it to course staff") from exc


def _check_member(member: tarfile.TarInfo, archive: str) -> None:
    """Raises DataError for a member that could write outside the folder or is not a plain
    file or folder."""
    path = PurePosixPath(member.name)
    if path.is_absolute():
        what = "an absolute path"
    elif ".." in path.parts:
        what = "a path with '..'"
    elif member.issym() or member.islnk():
        what = f"a link (to {member.linkname!r})"
    elif not (member.isfile() or member.isdir()):
        what = "not a regular file or folder"
    elif member.isfile() and not path.parts:
        what = "a file without a name"
    else:
        return
    raise DataError(f"refusing to unpack {archive}: member {member.name!r} is {what}; nothing "
                    "was extracted (not the published archive: fetch it from another mirror)")


def _gunzip(packed: Path, unpacked: Path) -> None:
    """Decompresses packed into unpacked through a temporary file (atomic)."""
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=unpacked.parent)
    try:
        with os.fdopen(fd, "wb") as dst, gzip.open(packed, "rb") as src:
            shutil.copyfileobj(src, dst, _CHUNK)
        os.replace(name, unpacked)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{packed} matched its md5 but cannot be decompressed ({exc}); "
                        "report it to course staff") from exc
    finally:
        Path(name).unlink(missing_ok=True)


def _move_into_place(src: Path, target: Path) -> None:
    """Renames src to target; what target held is set aside first, then removed."""
    aside = None
    if target.exists() or target.is_symlink():
        aside = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=target.parent))
        os.replace(target, aside / target.name)
    os.replace(src, target)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
