"""MNIST from IDX files: find them, check them, decode them (downloading is in engine.data.download).

A split (``"train"`` or ``"test"``) is searched for in this order: the ``root`` folder passed in,
the folder named by the ``MNIST_DIR`` environment variable, then the cache folder
(:func:`cache_dir`). A folder may hold the official gzipped files (``t10k-images-idx3-ubyte.gz``)
or raw ones (no ``.gz``); an official ``.gz`` is checked against its published MD5 before use.

The course machines only have the 10,000-image test split, so every shipped checkpoint is trained
on test images 0-7999 and evaluated on 8000-9999. :func:`training_data` picks the split that is
present and says which in ``description`` and ``card``, so model cards stay honest.

Command line, from the repository root::

    python -m engine.data                       # which splits are found where
    python -m engine.data --download [--root DIR]

The download and the command itself live in :mod:`engine.data.download` (run by ``engine/data/__main__.py``).

Data: Y. LeCun, C. Cortes, C. J. C. Burges, "The MNIST database of handwritten digits".
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

MNIST_DIR_ENV = "MNIST_DIR"
DOWNLOAD_COMMAND = "python -m engine.data --download"
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# MD5 of the official gzipped files (the values torchvision checks).
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
IMAGE_SHAPE = (28, 28)
TEST_TRAIN_STOP = 8000  # test-split-only training: images [0, 8000) train, [8000, 10000) held out

_MAGIC_NDIM = {0x00000801: 1, 0x00000803: 3}  # IDX magic = 0, 0, dtype 0x08 (uint8), ndim


class MNISTError(Exception):
    """Base class: every MNIST problem a student can fix (missing, corrupt, download failed)."""


class MNISTNotFoundError(MNISTError):
    """No folder in the search order holds both files of the split."""


class MNISTCorruptError(MNISTError):
    """A file is there but unusable: bad magic, wrong dimensions, truncated, bad gzip, MD5 mismatch."""


class MNISTDownloadError(MNISTError):
    """Every mirror failed for some file; nothing half-written is left behind."""


def _fix_hint() -> str:
    return (f"Download the files with `{DOWNLOAD_COMMAND}` (from the repository root), "
            f"or point the loader at a folder that holds them: {MNIST_DIR_ENV}=/path/to/mnist")


def _corrupt(path: Path | str, problem: str) -> MNISTCorruptError:
    return MNISTCorruptError(f"{path} is not a usable MNIST IDX file: {problem}.\n"
                             f"Delete it and fetch a fresh copy. {_fix_hint()}")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/genmodels/mnist``, else ``~/.cache/genmodels/mnist`` (may not exist yet)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"  # XDG: relative = unset
    return base / "genmodels" / "mnist"


def _split_names(split: str) -> tuple[str, str]:
    if split not in FILES:
        raise ValueError(f"split must be one of {', '.join(FILES)}; got {split!r}")
    return FILES[split]


def read_idx(path: Path | str) -> np.ndarray:
    """Decode one IDX file (gzipped if the name ends in ``.gz``) into a writable uint8 array.

    Labels (magic 0x00000801) come back with shape (N,), images (0x00000803) with (N, rows, cols),
    the dimensions read from the header. The payload must have exactly the length the header
    promises: a truncated download and a file with trailing junk both raise MNISTCorruptError.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except FileNotFoundError as err:
        raise MNISTNotFoundError(f"{path} does not exist. {_fix_hint()}") from err
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:  # EOFError: gzip stream cut short
        raise _corrupt(path, f"it cannot be decompressed ({err})") from err
    if len(data) < 4:
        raise _corrupt(path, f"it has only {len(data)} bytes, not even an IDX header")
    magic = int.from_bytes(data[:4], "big")
    ndim = _MAGIC_NDIM.get(magic)
    if ndim is None:
        raise _corrupt(path, f"magic number 0x{magic:08x}, expected 0x00000801 (labels) or 0x00000803 (images)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _corrupt(path, f"the header is cut short ({len(data)} of {header} bytes)")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        how = "truncated" if len(data) < expected else "longer than its header says"
        raise _corrupt(path, f"{how}: header dims {dims} need {expected} bytes, the file has {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


@functools.lru_cache(maxsize=16)
def _md5_of(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the key so a re-downloaded file is hashed again.
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _md5(path: Path) -> str:
    stat = path.stat()
    return _md5_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _verify_md5(path: Path) -> None:
    expected = MD5.get(path.name)
    if expected is None:  # raw files and unknown names: the IDX header checks still apply
        return
    actual = _md5(path)
    if actual != expected:
        raise _corrupt(path, f"its MD5 is {actual} but the official file's is {expected} "
                             "(an interrupted or altered download)")


def _search_folders(root: Path | str | None) -> list[tuple[Path, str]]:
    folders = []
    if root is not None:
        folders.append((Path(root).expanduser(), "root argument"))
    if env := os.environ.get(MNIST_DIR_ENV):
        folders.append((Path(env).expanduser(), MNIST_DIR_ENV))
    folders.append((cache_dir(), "cache folder"))
    return folders


def _pick(folder: Path, name: str) -> Path | None:
    # The official .gz first: it is the form whose MD5 can be checked.
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def find_split(split: str = "train", root: Path | str | None = None) -> tuple[Path, Path]:
    """``(images_path, labels_path)`` of a split, both from the first folder that holds both.

    Search order: ``root``, ``$MNIST_DIR``, :func:`cache_dir`. An official ``.gz`` whose MD5 does
    not match raises MNISTCorruptError (a bad file is reported, not silently skipped); a split
    found nowhere raises MNISTNotFoundError listing every folder searched.
    """
    names = _split_names(split)
    searched = []
    for folder, why in _search_folders(root):
        images, labels = (_pick(folder, name) for name in names)
        if images and labels:
            _verify_md5(images)
            _verify_md5(labels)
            return images, labels
        if not folder.exists():
            state = "does not exist"
        elif not folder.is_dir():
            state = "is not a folder"
        elif images or labels:
            state = f"has {(images or labels).name} but not the other file"
        else:
            state = "no MNIST files"
        searched.append(f"  {len(searched) + 1}. {folder}  ({why}: {state})")
    if MNIST_DIR_ENV not in os.environ:
        searched.append(f"     ({MNIST_DIR_ENV} is not set)")
    optional = (" The training split is optional: with only the test split, training uses test images "
                f"0-{TEST_TRAIN_STOP - 1}." if split == "train" else "")
    raise MNISTNotFoundError(
        f"MNIST {split!r} split not found. Looked for {names[0]}[.gz] and {names[1]}[.gz] in:\n"
        + "\n".join(searched) + f"\n{_fix_hint()}.{optional}")


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=4)
def _decode(images_path: str, labels_path: str, _stamps: tuple) -> tuple[np.ndarray, np.ndarray]:
    # Several pages load MNIST; decoding the 47 MB train split once per file version is enough.
    # The cached arrays are read-only so no caller can change what the next one gets.
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise _corrupt(images_path, f"images of shape {images.shape[1:]}, expected {IMAGE_SHAPE}")
    if labels.ndim != 1:
        raise _corrupt(labels_path, f"a {labels.ndim}D array where 1D labels were expected")
    if len(images) != len(labels):
        raise _corrupt(labels_path, f"{len(labels)} labels for {len(images)} images in {images_path}")
    if labels.size and labels.max() > 9:
        raise _corrupt(labels_path, f"label {labels.max()}, digits are 0-9")
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def _decode_paths(paths: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray]:
    return _decode(*(str(p.resolve()) for p in paths), tuple(_stamp(p) for p in paths))


def _load_paths(paths: tuple[Path, Path]) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    images, labels = _decode_paths(paths)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def load_mnist(split: str = "train", root: Path | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` of a split: uint8 (N, 28, 28) and int64 (N,), fresh tensors each call.

    Decoding is cached per resolved file (and its size and mtime), so later calls only copy.
    """
    return _load_paths(find_split(split, root))


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors field by field has no single truth value
class TrainingData:
    """The images the models train on, the held-out images every metric uses, and how they were chosen."""

    train_images: torch.Tensor  # (N_train, 28, 28) uint8
    train_labels: torch.Tensor  # (N_train,) int64
    heldout_images: torch.Tensor  # (N_heldout, 28, 28) uint8
    heldout_labels: torch.Tensor  # (N_heldout,) int64
    description: str  # one sentence for a model card
    card: dict  # JSON-ready: splits, index ranges [start, stop), file MD5s, counts


def training_data(root: Path | str | None = None) -> TrainingData:
    """The train / held-out split: the full train split if present, else test images 0-7999 / 8000-9999.

    The fallback is how every shipped checkpoint is trained (only the test split is on the course
    machines); ``description`` and ``card`` say which case applies.
    """
    try:
        train_paths = find_split("train", root)
    except MNISTNotFoundError:
        train_paths = None
    test_paths = find_split("test", root)
    test_images, test_labels = _load_paths(test_paths)
    n_test = len(test_images)
    if train_paths is not None:
        train_images, train_labels = _load_paths(train_paths)
        n_train = len(train_images)
        used, train_split, train_range, heldout_range = (*train_paths, *test_paths), "train", [0, n_train], [0, n_test]
        heldout_images, heldout_labels = test_images, test_labels
        description = (f"MNIST train split, all {n_train:,} images for training; "
                       f"MNIST test split (t10k), all {n_test:,} images held out")
    else:
        if n_test <= TEST_TRAIN_STOP:
            raise _corrupt(test_paths[0], f"only {n_test} images; the {TEST_TRAIN_STOP}/rest split needs the "
                                          "official 10,000-image test split")
        stop = TEST_TRAIN_STOP
        used, train_split, train_range, heldout_range = test_paths, "test", [0, stop], [stop, n_test]
        train_images, train_labels = test_images[:stop], test_labels[:stop]
        heldout_images, heldout_labels = test_images[stop:], test_labels[stop:]
        description = (f"MNIST test split (t10k), images 0-{stop - 1} for training; "
                       f"images {stop}-{n_test - 1} held out")
    card = {
        "dataset": "MNIST",
        "train_split": train_split,
        "train_range": train_range,
        "heldout_split": "test",
        "heldout_range": heldout_range,
        "n_train": len(train_images),
        "n_heldout": len(heldout_images),
        "files": {path.name: _md5(path) for path in used},
    }
    return TrainingData(train_images, train_labels, heldout_images, heldout_labels, description, card)
