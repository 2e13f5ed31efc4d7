"""The explicit MNIST download and the ``python -m engine.data`` command line behind it.

Nothing here runs on import: the loader in :mod:`engine.data.mnist` never downloads by itself.
:func:`download` fetches the official ``.gz`` files from :data:`MIRRORS` in turn, each into a
temporary file beside its final name, checks its MD5 and only then renames it into place, so an
interrupted or altered download never leaves a file the loader would pick up. :func:`cli` is the
command that reports where each split is found (and downloads with ``--download``);
``python -m engine.data`` runs it. This module imports the loader, never the reverse: no cycle.

The MD5 table, folders and error classes are read from :mod:`engine.data.mnist` at call time
(``mnist.MD5``, not a copy), so one table decides what the loader and the download accept.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

from engine.data import mnist

# The S3 copy first: yann.lecun.com often refuses or times out.
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/")
TIMEOUT_S = 30  # per connection attempt / read; a stalled mirror fails over instead of hanging

_CHUNK = 1 << 16
_USER_AGENT = "genmodels-explainer (MNIST loader)"  # some mirrors refuse urllib's default agent


class _FetchError(Exception):
    pass


_FETCH_ERRORS = (OSError, http.client.HTTPException, ValueError, _FetchError)  # URLError is an OSError


def _fetch(url: str, dest: Path, expected_md5: str, progress: bool) -> None:
    """Stream ``url`` into a temporary file beside ``dest``, check it, then rename it into place."""
    from tqdm import tqdm

    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest, received = hashlib.md5(usedforsecurity=False), 0
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            length = getattr(response, "headers", {}).get("Content-Length")
            total = int(length) if length else None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())  # the bytes are on disk before the rename makes them visible
        if total is not None and received != total:
            raise _FetchError(f"the connection ended after {received} of {total} bytes")
        if (actual := digest.hexdigest()) != expected_md5:
            raise _FetchError(f"MD5 {actual} does not match the official {expected_md5}")
        os.replace(tmp, dest)  # atomic: dest is either absent/old or complete and verified
    finally:
        tmp.unlink(missing_ok=True)  # any failure (even Ctrl-C) leaves nothing half-written


def download(root: Path | str | None = None, splits=("train", "test"), mirrors=MIRRORS,
             progress: bool = True) -> Path:
    """Download the official ``.gz`` files of ``splits`` into ``root`` (default :func:`~engine.data.mnist.cache_dir`).

    Each file is tried on every mirror in turn; it is written to a temporary file, its MD5
    checked, and only then renamed to its final name. Files already present with the right MD5
    are skipped. Raises MNISTDownloadError naming each mirror's failure. Returns the folder.
    """
    folder = Path(root).expanduser() if root is not None else mnist.cache_dir()
    names = [f"{name}.gz" for split in dict.fromkeys(splits) for name in mnist._split_names(split)]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise mnist.MNISTDownloadError(
            f"Cannot create {folder} ({err}). Choose another folder with --root DIR.") from err
    for name in names:
        dest = folder / name
        if dest.is_file() and mnist._md5(dest) == mnist.MD5[name]:
            continue
        failures = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            try:
                _fetch(url, dest, mnist.MD5[name], progress)
                break
            except _FETCH_ERRORS as err:
                failures.append(f"  {url}: {err}")
        else:
            raise mnist.MNISTDownloadError(
                f"Could not download {name} into {folder}:\n" + ("\n".join(failures) or "  (no mirrors given)")
                + f"\nCheck the network (or proxy) and run `{mnist.DOWNLOAD_COMMAND}` again, or fetch the .gz files "
                f"by hand into a folder and set {mnist.MNIST_DIR_ENV}=/path/to/mnist. Nothing half-written was kept.")
    return folder


def _report(root: Path | None) -> int:
    unusable = False
    for split, names in mnist.FILES.items():
        try:
            paths = mnist.find_split(split, root)
            images, _ = mnist._decode_paths(paths)
        except mnist.MNISTNotFoundError:
            print(f"{split:>5}: not found ({names[0]}[.gz], {names[1]}[.gz])")
            continue
        except mnist.MNISTCorruptError as err:
            print(f"{split:>5}: UNUSABLE\n{err}")
            unusable = True
            continue
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        print(f"{split:>5}: {len(images):,} images of {images.shape[1]}x{images.shape[2]} in {paths[0].parent} "
              f"({paths[0].name}, {paths[1].name}; {size_mb:.1f} MB)")
    if unusable:  # already explained above
        return 1
    try:
        data = mnist.training_data(root)
    except mnist.MNISTError as err:
        print(f"\n{err}", file=sys.stderr)
        return 1
    print(f"\nTraining data: {data.description}.")
    return 0


def cli(argv: list[str] | None = None) -> int:
    """``python -m engine.data [--download] [--root DIR]``; returns the exit code."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m engine.data",
                                     description="Report where MNIST is found, or download it.")
    parser.add_argument("--download", action="store_true", help="download the official files (verified by MD5)")
    parser.add_argument("--root", type=Path, default=None,
                        help=f"folder to search first / download into (default: {mnist.cache_dir()})")
    args = parser.parse_args(argv)
    if args.download:
        try:
            folder = download(args.root, mirrors=MIRRORS)  # the module's list, read now
        except mnist.MNISTDownloadError as err:
            print(err, file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("Download interrupted; nothing half-written was kept.", file=sys.stderr)
            return 1
        print(f"MNIST files are in {folder}")
        if folder.resolve() != mnist.cache_dir().resolve():
            print(f"The loader looks there only when told: set {mnist.MNIST_DIR_ENV}={folder} (or pass root=...).")
    return _report(args.root)
