"""engine.data.mnist and engine.data.download on small synthetic IDX files: decoding, search order, checksums,
downloads (no network).

The real test split is checked too when ``MNIST_DIR`` points at it (CI: ../shared/data/mnist).
Every test runs with ``MNIST_DIR`` unset and ``XDG_CACHE_HOME`` inside tmp_path, so the real cache
is never read or written.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data import download, mnist
from engine.data.download import cli

ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = os.environ.get(mnist.MNIST_DIR_ENV)  # read before the fixture below unsets it
OFFICIAL_MD5 = dict(mnist.MD5)
TEST_IMAGES, TEST_LABELS = mnist.FILES["test"]
TRAIN_IMAGES, TRAIN_LABELS = mnist.FILES["train"]


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No MNIST_DIR, a private cache folder, an empty MD5 table (synthetic files are not official)."""
    monkeypatch.delenv(mnist.MNIST_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(mnist, "MD5", {})
    mnist._decode.cache_clear()


def idx_bytes(array: np.ndarray) -> bytes:
    magic = {1: 0x801, 3: 0x803}[array.ndim]
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = idx_bytes(array)
    # mtime=0: the same array always gives the same .gz bytes (and MD5)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def make_split(n: int = 5, label: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.full(n, label, dtype=np.uint8) if label is not None else (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def write_split(folder: Path, split: str = "test", n: int = 5, label: int | None = None, gz: bool = True,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    images, labels = make_split(n, label, seed)
    suffix = ".gz" if gz else ""
    names = mnist.FILES[split]
    write_idx(folder / f"{names[0]}{suffix}", images)
    write_idx(folder / f"{names[1]}{suffix}", labels)
    return images, labels


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# ---- read_idx -------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".gz", ""])
def test_read_idx_round_trip(tmp_path, suffix):
    images, labels = make_split(5)
    got_images = mnist.read_idx(write_idx(tmp_path / f"images{suffix}", images))
    got_labels = mnist.read_idx(write_idx(tmp_path / f"labels{suffix}", labels))
    assert got_images.dtype == np.uint8 and got_images.shape == (5, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    got_images[0, 0, 0] ^= 1  # callers get their own writable array


@pytest.mark.parametrize("shape", [(3, 7, 5), (1, 1, 1), (0, 28, 28), (11,)])
def test_read_idx_takes_dimensions_from_header(tmp_path, shape):
    array = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape).astype(np.uint8)
    np.testing.assert_array_equal(mnist.read_idx(write_idx(tmp_path / "x.gz", array)), array)


def test_bad_magic_is_corrupt(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(bytes.fromhex("00000802") + (1).to_bytes(4, "big") + b"\0")
    with pytest.raises(mnist.MNISTCorruptError, match="magic number 0x00000802") as info:
        mnist.read_idx(path)
    assert str(path) in str(info.value) and mnist.DOWNLOAD_COMMAND in str(info.value)


@pytest.mark.parametrize(("cut", "word"), [(-1, "truncated"), (-(28 * 28 + 5), "truncated"), (None, "longer")])
def test_wrong_payload_length_is_corrupt(tmp_path, cut, word):
    data = idx_bytes(make_split(3)[0])
    data = data + b"\0" if cut is None else data[:cut]
    for path in (tmp_path / "images", tmp_path / "images.gz"):
        path.write_bytes(gzip.compress(data) if path.suffix else data)
        with pytest.raises(mnist.MNISTCorruptError, match=word) as info:
            mnist.read_idx(path)
        assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\0\0\x08", bytes.fromhex("00000803") + b"\0\0\0\5"])
def test_short_header_is_corrupt(tmp_path, content):
    path = tmp_path / "short"
    path.write_bytes(content)
    with pytest.raises(mnist.MNISTCorruptError, match="header|bytes"):
        mnist.read_idx(path)


def test_bad_gzip_is_corrupt(tmp_path):
    not_gzip = tmp_path / "images.gz"
    not_gzip.write_bytes(idx_bytes(make_split(2)[0]))  # raw bytes under a .gz name
    cut_gzip = tmp_path / "cut.gz"
    cut_gzip.write_bytes(gzip.compress(idx_bytes(make_split(2)[0]))[:200])
    for path in (not_gzip, cut_gzip):
        with pytest.raises(mnist.MNISTCorruptError, match="decompressed"):
            mnist.read_idx(path)


# ---- load_mnist and the search order ----------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_root(tmp_path, gz):
    images, labels = write_split(tmp_path / "data", "train", n=5, gz=gz)
    got_images, got_labels = mnist.load_mnist("train", root=tmp_path / "data")
    assert got_images.dtype == torch.uint8 and got_images.shape == (5, 28, 28)
    assert got_labels.dtype == torch.int64 and got_labels.shape == (5,)
    np.testing.assert_array_equal(got_images.numpy(), images)
    np.testing.assert_array_equal(got_labels.numpy(), labels)


def test_load_mnist_caches_decoding_but_returns_fresh_tensors(tmp_path):
    write_split(tmp_path, "test")
    images, _ = mnist.load_mnist("test", root=tmp_path)
    images.zero_()  # a caller scribbling on its copy must not reach the next caller
    again, _ = mnist.load_mnist("test", root=str(tmp_path))
    assert again.sum() > 0
    assert mnist._decode.cache_info().hits == 1


def test_rewritten_file_is_decoded_again(tmp_path):
    write_split(tmp_path, "test", label=1)
    assert set(mnist.load_mnist("test", root=tmp_path)[1].tolist()) == {1}
    write_split(tmp_path, "test", n=7, label=2)  # another size: the cache key changes even within one mtime tick
    assert mnist.load_mnist("test", root=tmp_path)[1].tolist() == [2] * 7


def test_count_mismatch_is_corrupt(tmp_path):
    write_idx(tmp_path / f"{TEST_IMAGES}.gz", make_split(5)[0])
    write_idx(tmp_path / f"{TEST_LABELS}.gz", make_split(4)[1])
    with pytest.raises(mnist.MNISTCorruptError, match="4 labels for 5 images"):
        mnist.load_mnist("test", root=tmp_path)


@pytest.mark.parametrize(("images", "labels", "match"), [
    (np.zeros((5, 7, 5), np.uint8), np.zeros(5, np.uint8), r"shape \(7, 5\)"),
    (np.zeros(5, np.uint8), np.zeros(5, np.uint8), "shape"),  # a labels file where images belong
    (np.zeros((5, 28, 28), np.uint8), np.full(5, 10, np.uint8), "label 10"),
])
def test_wrong_dimensions_or_labels_are_corrupt(tmp_path, images, labels, match):
    write_idx(tmp_path / TEST_IMAGES, images)
    write_idx(tmp_path / TEST_LABELS, labels)
    with pytest.raises(mnist.MNISTCorruptError, match=match):
        mnist.load_mnist("test", root=tmp_path)


def test_search_order_root_then_env_then_cache(tmp_path, monkeypatch):
    root, env = tmp_path / "root", tmp_path / "env"
    write_split(root, label=1)
    write_split(env, label=2, gz=False)
    write_split(mnist.cache_dir(), label=3)
    monkeypatch.setenv(mnist.MNIST_DIR_ENV, str(env))
    assert mnist.find_split("test", root)[0].parent == root
    assert mnist.load_mnist("test", root)[1][0] == 1
    assert mnist.load_mnist("test")[1][0] == 2
    monkeypatch.delenv(mnist.MNIST_DIR_ENV)
    assert mnist.load_mnist("test")[1][0] == 3
    assert mnist.find_split("test")[0].parent == mnist.cache_dir()


def test_folder_with_half_a_split_is_passed_over(tmp_path, monkeypatch):
    root, env = tmp_path / "root", tmp_path / "env"
    write_idx(root / f"{TEST_IMAGES}.gz", make_split(5)[0])
    write_split(env, label=4)
    monkeypatch.setenv(mnist.MNIST_DIR_ENV, str(env))
    assert mnist.find_split("test", root) == (env / f"{TEST_IMAGES}.gz", env / f"{TEST_LABELS}.gz")


def test_gz_preferred_over_raw(tmp_path):
    write_split(tmp_path, label=5, gz=True)
    write_split(tmp_path, label=6, gz=False)
    assert mnist.find_split("test", tmp_path)[0].name == f"{TEST_IMAGES}.gz"


def test_md5_mismatch_is_corrupt_with_both_hashes(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "MD5", OFFICIAL_MD5)
    write_split(tmp_path, "test")  # official names, synthetic content
    actual = md5(tmp_path / f"{TEST_IMAGES}.gz")
    with pytest.raises(mnist.MNISTCorruptError) as info:
        mnist.load_mnist("test", root=tmp_path)
    message = str(info.value)
    assert actual in message and OFFICIAL_MD5[f"{TEST_IMAGES}.gz"] in message
    assert mnist.DOWNLOAD_COMMAND in message


def test_matching_md5_passes(tmp_path, monkeypatch):
    write_split(tmp_path, "test")
    table = {f"{name}.gz": md5(tmp_path / f"{name}.gz") for name in mnist.FILES["test"]}
    monkeypatch.setattr(mnist, "MD5", table)
    assert mnist.load_mnist("test", root=tmp_path)[0].shape == (5, 28, 28)


def test_not_found_message_lists_folders_and_fixes(tmp_path, monkeypatch):
    root, env = tmp_path / "nowhere", tmp_path / "env"
    env.mkdir()
    monkeypatch.setenv(mnist.MNIST_DIR_ENV, str(env))
    with pytest.raises(mnist.MNISTNotFoundError) as info:
        mnist.load_mnist("test", root=root)
    message = str(info.value)
    for expected in (str(root), str(env), str(mnist.cache_dir()), TEST_IMAGES, TEST_LABELS,
                     mnist.DOWNLOAD_COMMAND, "MNIST_DIR=/path/to/mnist", "does not exist"):
        assert expected in message
    assert isinstance(info.value, mnist.MNISTError)


def test_unknown_split_is_a_value_error():
    with pytest.raises(ValueError, match="train, test"):
        mnist.find_split("validation")


def test_cache_dir_follows_xdg_then_home(tmp_path, monkeypatch):
    assert mnist.cache_dir() == tmp_path / "xdg" / "genmodels" / "mnist"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for value in ("", "relative/cache"):  # the XDG spec says to ignore a relative path
        monkeypatch.setenv("XDG_CACHE_HOME", value)
        assert mnist.cache_dir() == tmp_path / "home" / ".cache" / "genmodels" / "mnist"


# ---- training_data -----------------------------------------------------------------------------------

def test_training_data_from_test_split_only(tmp_path):
    _, labels = write_split(tmp_path, "test", n=10_000, gz=False)
    data = mnist.training_data(root=tmp_path)
    assert data.train_images.shape == (8000, 28, 28) and data.heldout_images.shape == (2000, 28, 28)
    np.testing.assert_array_equal(data.heldout_labels.numpy(), labels[8000:])
    assert "test split (t10k), images 0-7999 for training; images 8000-9999 held out" in data.description
    card = json.loads(json.dumps(data.card))  # JSON-ready as it is
    assert card["train_split"] == "test" and card["train_range"] == [0, 8000]
    assert card["heldout_range"] == [8000, 10_000] and (card["n_train"], card["n_heldout"]) == (8000, 2000)
    assert card["files"] == {name: md5(tmp_path / name) for name in mnist.FILES["test"]}


def test_training_data_prefers_the_train_split(tmp_path, monkeypatch):
    write_split(tmp_path / "a", "train", n=12, seed=1)
    write_split(tmp_path / "b", "test", n=6, seed=2)
    monkeypatch.setenv(mnist.MNIST_DIR_ENV, str(tmp_path / "b"))
    data = mnist.training_data(root=tmp_path / "a")
    assert (len(data.train_images), len(data.heldout_images)) == (12, 6)
    assert data.card["train_split"] == "train" and data.card["heldout_range"] == [0, 6]
    assert "train split" in data.description and set(data.card["files"]) == {
        f"{name}.gz" for split in ("train", "test") for name in mnist.FILES[split]}


def test_training_data_needs_the_full_test_split(tmp_path):
    write_split(tmp_path, "test", n=5)
    with pytest.raises(mnist.MNISTCorruptError, match="10,000"):
        mnist.training_data(root=tmp_path)


def test_training_data_reports_a_missing_test_split(tmp_path):
    with pytest.raises(mnist.MNISTNotFoundError, match="'test' split not found"):
        mnist.training_data(root=tmp_path)


# ---- download (urlopen replaced; the network is never touched) -------------------------------------

class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable stream with headers; can fail after ``fail_after`` bytes."""

    def __init__(self, data: bytes, length: int | None = None, fail_after: int | None = None, on_fail=None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}
        self.fail_after, self.on_fail = fail_after, on_fail

    def read(self, n=-1):
        if self.fail_after is not None:
            if self.tell() >= self.fail_after:
                if self.on_fail:
                    self.on_fail()
                raise ConnectionResetError("connection reset by peer")
            n = self.fail_after - self.tell() if n < 0 else min(n, self.fail_after - self.tell())
        return super().read(n)


MIRRORS = ("https://mirror-a.invalid/mnist/", "https://mirror-b.invalid/mnist")


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Official-looking .gz bytes for the test split, registered in the MD5 table: name -> bytes."""
    images, labels = make_split(3000)  # > one 64 KiB read chunk, so "fails halfway" is mid-stream
    files = {f"{TEST_IMAGES}.gz": gzip.compress(idx_bytes(images), mtime=0),
             f"{TEST_LABELS}.gz": gzip.compress(idx_bytes(labels), mtime=0)}
    assert len(files[f"{TEST_IMAGES}.gz"]) > 2 * download._CHUNK
    monkeypatch.setattr(mnist, "MD5", {name: hashlib.md5(data).hexdigest() for name, data in files.items()})
    return files


def fake_urlopen(monkeypatch, respond):
    """Replace urlopen; ``respond(url)`` returns a FakeResponse or raises. Returns the list of URLs asked."""
    asked = []

    def urlopen(request, timeout=None):
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        assert timeout == download.TIMEOUT_S
        asked.append(url)
        return respond(url)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def test_download_lands_verified_files_atomically(tmp_path, monkeypatch, served):
    dest = tmp_path / "dl"
    replaced = []
    real_replace = os.replace

    def spy_replace(src, dst):
        replaced.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy_replace)
    asked = fake_urlopen(monkeypatch, lambda url: FakeResponse(served[url.rsplit("/", 1)[1]]))
    assert download.download(dest, splits=("test",), mirrors=MIRRORS, progress=True) == dest
    assert sorted(p.name for p in dest.iterdir()) == sorted(served)
    assert asked == [MIRRORS[0] + name for name in served]
    for src, dst in replaced:  # written beside the final name, then renamed over it
        assert src.parent == dst.parent == dest and src.name.endswith(".part") and dst.name in served
    assert len(replaced) == 2
    assert mnist.load_mnist("test", root=dest)[0].shape == (3000, 28, 28)


def test_download_skips_files_already_verified(tmp_path, monkeypatch, served):
    for name, data in served.items():
        (tmp_path / name).write_bytes(data)
    asked = fake_urlopen(monkeypatch, lambda url: pytest.fail(f"asked for {url}"))
    download.download(tmp_path, splits=("test",), mirrors=MIRRORS, progress=False)
    assert asked == []


def test_download_replaces_a_bad_file_and_falls_over_to_the_next_mirror(tmp_path, monkeypatch, served):
    (tmp_path / f"{TEST_IMAGES}.gz").write_bytes(b"half a file")

    def respond(url):
        if url.startswith(MIRRORS[0]):
            raise urllib.error.URLError("Name or service not known")
        return FakeResponse(served[url.rsplit("/", 1)[1]])

    asked = fake_urlopen(monkeypatch, respond)
    download.download(tmp_path, splits=["test", "test"], mirrors=MIRRORS, progress=False)
    assert len(asked) == 4 and asked[1] == "https://mirror-b.invalid/mnist/" + f"{TEST_IMAGES}.gz"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == served


def _failing(kind, served, dest):
    seen_parts = []

    def respond(url):
        data = served[url.rsplit("/", 1)[1]]
        if kind == "network":
            raise urllib.error.URLError("timed out")
        if kind == "halfway":
            return FakeResponse(data, fail_after=len(data) // 2,
                                on_fail=lambda: seen_parts.extend(p.name for p in dest.glob("*.part")))
        if kind == "short":  # server closes early while promising more
            return FakeResponse(data[: len(data) // 2], length=len(data))
        return FakeResponse(b"<html>moved</html>")  # "wrong": a 200 with the wrong bytes

    return respond, seen_parts


@pytest.mark.parametrize(("kind", "reason"), [("network", "timed out"), ("halfway", "connection reset"),
                                              ("short", "connection ended"), ("wrong", "MD5")])
def test_failed_download_raises_and_leaves_nothing(tmp_path, monkeypatch, served, kind, reason):
    dest = tmp_path / "dl"
    respond, seen_parts = _failing(kind, served, dest)
    asked = fake_urlopen(monkeypatch, respond)
    with pytest.raises(mnist.MNISTDownloadError) as info:
        download.download(dest, splits=("test",), mirrors=MIRRORS, progress=False)
    message = str(info.value)
    assert reason in message and all(mirror in message for mirror in ("mirror-a", "mirror-b"))
    assert mnist.DOWNLOAD_COMMAND in message and "MNIST_DIR=/path/to/mnist" in message
    assert len(asked) == 2  # both mirrors tried for the first file, then it gives up
    assert list(dest.iterdir()) == []  # no temp file, no partial file
    if kind == "halfway":
        assert len(seen_parts) == 2  # a temp file did exist mid-stream (once per mirror) and was removed


def test_cli_download_failure_is_a_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mnist, "MD5", OFFICIAL_MD5)
    fake_urlopen(monkeypatch, lambda url: (_ for _ in ()).throw(urllib.error.URLError("no route to host")))
    monkeypatch.setattr(download, "MIRRORS", MIRRORS)
    assert cli(["--download", "--root", str(tmp_path / "dl")]) == 1
    err = capsys.readouterr().err
    assert "no route to host" in err and "Traceback" not in err
    assert list((tmp_path / "dl").iterdir()) == []


# ---- command line ------------------------------------------------------------------------------------

def test_cli_report_without_data_exits_1_with_help(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != mnist.MNIST_DIR_ENV}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    result = subprocess.run([sys.executable, "-m", "engine.data", "--root", str(tmp_path / "empty")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert "Traceback" not in out
    for expected in (str(tmp_path / "empty"), str(tmp_path / "xdg"), mnist.DOWNLOAD_COMMAND,
                     "MNIST_DIR=/path/to/mnist", TEST_IMAGES):
        assert expected in out


def test_cli_report_with_test_split(tmp_path, capsys):
    write_split(tmp_path, "test", n=10_000, gz=False)
    assert cli(["--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test: 10,000 images of 28x28" in out and "train: not found" in out and "images 0-7999" in out


def test_cli_report_names_a_corrupt_file(tmp_path, capsys):
    write_idx(tmp_path / f"{TEST_IMAGES}.gz", make_split(5)[0])
    (tmp_path / f"{TEST_LABELS}.gz").write_bytes(b"not gzip")
    assert cli(["--root", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "UNUSABLE" in captured.out and f"{TEST_LABELS}.gz" in captured.out + captured.err


# ---- the real test split (when MNIST_DIR points at it) ---------------------------------------------

def _shared_has_test_split() -> bool:
    return bool(SHARED_DIR) and all((Path(SHARED_DIR) / f"{name}.gz").is_file() for name in mnist.FILES["test"])


needs_shared = pytest.mark.skipif(not _shared_has_test_split(),
                                  reason="set MNIST_DIR to a folder holding the official t10k-*.gz files "
                                         "(CI: ../shared/data/mnist) to check the real test split")


@pytest.fixture
def shared(monkeypatch):
    monkeypatch.setenv(mnist.MNIST_DIR_ENV, SHARED_DIR)
    monkeypatch.setattr(mnist, "MD5", OFFICIAL_MD5)
    return Path(SHARED_DIR)


@needs_shared
def test_real_test_split(shared):
    images_path, labels_path = mnist.find_split("test")  # verifies the official MD5s on the way
    assert images_path.parent == shared
    for path in (images_path, labels_path):
        assert md5(path) == OFFICIAL_MD5[path.name]
    images, labels = mnist.load_mnist("test")
    assert images.shape == (10_000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (10_000,) and labels.dtype == torch.int64
    assert sorted(labels.unique().tolist()) == list(range(10))
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the well-known first test digits
    assert images.max() == 255 and images.min() == 0


@needs_shared
def test_real_training_data(shared):
    data = mnist.training_data()
    assert (len(data.train_images), len(data.heldout_images)) == (8000, 2000)
    assert data.description == "MNIST test split (t10k), images 0-7999 for training; images 8000-9999 held out"
    assert data.card["files"] == {f"{name}.gz": OFFICIAL_MD5[f"{name}.gz"] for name in mnist.FILES["test"]}
