"""grader/data/fetch.py and `fetch-data`: fake archives served from file:// mirrors, the
md5 table patched to theirs (no network: the table's own mirrors point nowhere)."""
import dataclasses
import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from grader.core import cli
from grader.data import cifar, fetch
from grader.core.errors import DataError

CIFAR_FILES = {name: f"fake {name} ".encode() * 50 for name in cifar.MD5}
MNIST_RAW = {r.name: f"idx {r.name} ".encode() * 40 for r in fetch.DATASETS["mnist"].files}


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _tar(extra: tarfile.TarInfo | None = None, extra_data: bytes = b"") -> bytes:
    """A cifar-10-python.tar.gz look-alike, with one extra member when given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        folder = tarfile.TarInfo(cifar.FOLDER)
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, data in CIFAR_FILES.items():
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra.size = len(extra_data)
            tar.addfile(extra, io.BytesIO(extra_data))
    return buf.getvalue()


@dataclasses.dataclass
class Served:
    """A file:// mirror holding the fakes, and the md5 table patched to match them."""

    folder: Path  # the mirror's files
    url: str  # its base URL, ending in /
    nowhere: str  # a base URL that serves nothing
    monkeypatch: pytest.MonkeyPatch

    def mirrors(self, *urls: str) -> dict:
        """The mirrors argument: the given base URLs (default: this mirror) for both."""
        return {name: list(urls or [self.url]) for name in fetch.DATASETS}

    def serve_cifar(self, archive: bytes, md5: str | None = None) -> None:
        """Puts archive on the mirror and records md5 (default: its own) in the table."""
        name = fetch.DATASETS["cifar10"].files[0].name
        (self.folder / name).write_bytes(archive)
        table = dict(fetch.DATASETS)
        table["cifar10"] = dataclasses.replace(
            table["cifar10"], files=(fetch.Remote(name, md5 or _md5(archive)),))
        self.monkeypatch.setattr(fetch, "DATASETS", table)


@pytest.fixture
def served(tmp_path, monkeypatch):
    folder = tmp_path / "mirror"
    folder.mkdir()
    (tmp_path / "empty").mkdir()
    monkeypatch.delenv(fetch.MIRROR_ENV, raising=False)
    remotes = []
    for name, raw in MNIST_RAW.items():
        packed = gzip.compress(raw)
        (folder / name).write_bytes(packed)
        remotes.append(fetch.Remote(name, _md5(packed)))
    nowhere = (tmp_path / "nowhere").as_uri() + "/"
    table = {
        "cifar10": dataclasses.replace(fetch.DATASETS["cifar10"], mirrors=(nowhere,),
                                       contents={n: _md5(d) for n, d in CIFAR_FILES.items()}),
        "mnist": dataclasses.replace(fetch.DATASETS["mnist"], mirrors=(nowhere,),
                                     files=tuple(remotes)),
    }
    monkeypatch.setattr(fetch, "DATASETS", table)
    result = Served(folder, folder.as_uri() + "/", nowhere, monkeypatch)
    result.serve_cifar(_tar())
    return result


def _leftovers(dest: Path) -> list[Path]:
    return [p for p in dest.rglob("*") if p.name.startswith(fetch.TEMP_PREFIX)]


def _assert_complete(dest: Path) -> None:
    for name, data in CIFAR_FILES.items():
        assert (dest / cifar.FOLDER / name).read_bytes() == data
    raw = dest / "MNIST" / "raw"
    for name, data in MNIST_RAW.items():
        assert (raw / name.removesuffix(".gz")).read_bytes() == data
        assert gzip.decompress((raw / name).read_bytes()) == data
    assert _leftovers(dest) == []


def test_fetch_lays_out_both_datasets(served, tmp_path):
    dest = tmp_path / "data"
    lines = []
    written = fetch.fetch(dest, mirrors=served.mirrors(), log=lines.append)
    assert written == ["cifar10", "mnist"]
    _assert_complete(dest)
    assert sorted(p.name for p in dest.iterdir()) == ["MNIST", cifar.FOLDER]
    assert any(served.url + "cifar-10-python.tar.gz" in line for line in lines)


def test_second_fetch_skips_without_downloading(served, tmp_path):
    dest = tmp_path / "data"
    fetch.fetch(dest, mirrors=served.mirrors(), log=lambda line: None)
    lines = []
    # a mirror that serves nothing: any download would fail
    assert fetch.fetch(dest, mirrors=served.mirrors(served.nowhere), log=lines.append) == []
    assert sum("already present and verified" in line for line in lines) == 2
    assert not any("downloading" in line for line in lines)
    _assert_complete(dest)


def test_a_missing_decompressed_mnist_file_is_restored_from_its_verified_gz(served, tmp_path):
    dest = tmp_path / "data"
    fetch.fetch(dest, ("mnist",), mirrors=served.mirrors(), log=lambda line: None)
    (dest / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    assert fetch.fetch(dest, ("mnist",), mirrors=served.mirrors(served.nowhere),
                       log=lambda line: None) == ["mnist"]
    assert (dest / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").read_bytes() == \
        MNIST_RAW["t10k-labels-idx1-ubyte.gz"]


def test_a_cut_download_is_refused_with_both_md5s_and_leaves_nothing(served, tmp_path):
    whole = _tar()
    cut = whole[:len(whole) // 2]
    served.serve_cifar(cut, md5=_md5(whole))
    dest = tmp_path / "data"
    with pytest.raises(DataError) as err:
        fetch.fetch(dest, ("cifar10",), mirrors=served.mirrors(), log=lambda line: None)
    message = str(err.value)
    assert f"expected {_md5(whole)}" in message and f"got md5 {_md5(cut)}" in message
    assert "cifar-10-python.tar.gz" in message and "Retry" in message
    assert fetch.MIRROR_ENV in message and "\n" not in message
    assert not (dest / cifar.FOLDER).exists() and _leftovers(dest) == []


def test_an_mnist_md5_mismatch_leaves_no_file(served, tmp_path):
    (served.folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"tampered"))
    dest = tmp_path / "data"
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        fetch.fetch(dest, ("mnist",), mirrors=served.mirrors(), log=lambda line: None)
    raw = dest / "MNIST" / "raw"
    assert not (raw / "train-labels-idx1-ubyte").exists()
    assert not (raw / "train-labels-idx1-ubyte.gz").exists()
    assert _leftovers(dest) == []


def test_an_interrupted_download_leaves_no_partial_file(served, tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "_CHUNK", 256)

    def interrupt_at_progress(line):
        if "%" in line:
            raise KeyboardInterrupt

    dest = tmp_path / "data"
    with pytest.raises(KeyboardInterrupt):
        fetch.fetch(dest, ("cifar10",), mirrors=served.mirrors(), log=interrupt_at_progress)
    assert list(dest.iterdir()) == []


def test_progress_is_logged_every_tenth(served, tmp_path, monkeypatch):
    size = len((served.folder / "cifar-10-python.tar.gz").read_bytes())
    monkeypatch.setattr(fetch, "_CHUNK", max(1, size // 40))
    lines = []
    fetch.fetch(tmp_path / "data", ("cifar10",), mirrors=served.mirrors(), log=lines.append)
    percents = [int(line.split("%")[0]) for line in lines if "%" in line]
    assert percents == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize("make, what", [
    (lambda tmp: _member("../../evil"), "'..'"),
    (lambda tmp: _member(f"{cifar.FOLDER}/../../../evil"), "'..'"),
    (lambda tmp: _member(str(tmp / "evil")), "absolute path"),
    (lambda tmp: _member(f"{cifar.FOLDER}/ln", tarfile.SYMTYPE, "/etc/passwd"), "link"),
    (lambda tmp: _member(f"{cifar.FOLDER}/copy", tarfile.LNKTYPE, "/etc/passwd"), "link"),
    (lambda tmp: _member(f"{cifar.FOLDER}/fifo", tarfile.FIFOTYPE), "not a regular file"),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink", "hardlink", "fifo"])
def test_an_unsafe_tar_member_refuses_the_archive(served, tmp_path, make, what):
    member = make(tmp_path)
    served.serve_cifar(_tar(member, b"evil" if member.isreg() else b""))
    dest = tmp_path / "data"
    with pytest.raises(DataError, match=what) as err:
        fetch.fetch(dest, ("cifar10",), mirrors=served.mirrors(), log=lambda line: None)
    assert repr(member.name) in str(err.value)
    assert list(dest.iterdir()) == []  # nothing unpacked, not even the safe members
    assert not (tmp_path / "evil").exists()  # where each escaping file would land


def test_a_missing_file_on_the_first_mirror_falls_through_to_the_second(served, tmp_path):
    empty = (tmp_path / "empty").as_uri() + "/"
    lines = []
    dest = tmp_path / "data"
    assert fetch.fetch(dest, mirrors=served.mirrors(empty, served.url),
                       log=lines.append) == ["cifar10", "mnist"]
    _assert_complete(dest)
    assert any(line.strip().startswith(empty + "cifar-10-python.tar.gz") for line in lines)


def test_the_environment_mirror_replaces_every_base_url(served, tmp_path, monkeypatch):
    monkeypatch.setenv(fetch.MIRROR_ENV, served.url.rstrip("/"))
    assert fetch.base_urls(fetch.DATASETS["mnist"]) == (served.url,)
    dest = tmp_path / "data"
    assert fetch.fetch(dest, log=lambda line: None) == ["cifar10", "mnist"]
    _assert_complete(dest)


def test_an_invalid_folder_is_replaced_whole(served, tmp_path):
    dest = tmp_path / "data"
    (dest / cifar.FOLDER).mkdir(parents=True)
    (dest / cifar.FOLDER / "data_batch_1").write_bytes(b"stale")
    (dest / cifar.FOLDER / "stray").write_bytes(b"old")
    assert fetch.fetch(dest, ("cifar10",), mirrors=served.mirrors(),
                       log=lambda line: None) == ["cifar10"]
    assert sorted(p.name for p in (dest / cifar.FOLDER).iterdir()) == sorted(CIFAR_FILES)
    assert _leftovers(dest) == []


def test_an_unknown_dataset_is_refused_before_any_work(served, tmp_path):
    with pytest.raises(DataError, match="choose from cifar10, mnist"):
        fetch.fetch(tmp_path / "data", ("cifar10", "imagenet"), mirrors=served.mirrors())
    assert not (tmp_path / "data").exists()


def test_cli_fetch_data_exits_0_and_fetches_only_what_is_asked(served, tmp_path, monkeypatch,
                                                              capsys):
    monkeypatch.setenv(fetch.MIRROR_ENV, served.url)
    assert cli.main(["fetch-data", str(tmp_path / "a"), "--only", "mnist"]) == 0
    assert (tmp_path / "a" / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert not (tmp_path / "a" / cifar.FOLDER).exists()
    assert cli.main(["fetch-data", str(tmp_path / "b")]) == 0
    _assert_complete(tmp_path / "b")
    assert "cifar10: verified and unpacked" in capsys.readouterr().out
    for name in fetch.DATASETS:  # --only offers every dataset of the table
        assert cli._parser().parse_args(["fetch-data", "d", "--only", name]).only == name


def test_cli_fetch_data_exits_2_with_one_line_on_a_checksum_failure(served, tmp_path,
                                                                   monkeypatch, capsys):
    archive = _tar()
    served.serve_cifar(archive, md5="0" * 32)
    monkeypatch.setenv(fetch.MIRROR_ENV, served.url)
    assert cli.main(["fetch-data", str(tmp_path / "data"), "--only", "cifar10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fetch-data: ") and err.count("\n") == 1
    assert f"expected {'0' * 32}" in err and f"got md5 {_md5(archive)}" in err
    assert not (tmp_path / "data" / cifar.FOLDER).exists()
