"""CIFAR-10 from its binary version (Krizhevsky 2009, www.cs.toronto.edu/~kriz/cifar.html).

The archive `cifar-10-binary.tar.gz` unpacks to a folder `cifar-10-batches-bin` holding five
training files `data_batch_1.bin` … `data_batch_5.bin` and one test file `test_batch.bin`, each of
10,000 records of 3,073 bytes: one label byte (0–9), then 3,072 pixel bytes, the 1,024 red values
of the 32×32 image row by row, then the green, then the blue. Never the python version: it is
pickled, and unpickling runs code.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
from einops import rearrange

from gaespec.atomic import atomic_write
from gaespec.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
ARCHIVE = "cifar-10-binary.tar.gz"
ARCHIVE_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # as the CIFAR page lists it; 170,052,171 bytes
FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
FILES = TRAIN_FILES + TEST_FILES
OFFICIAL_TRAIN = 50_000
RECORD = 1 + 3 * 32 * 32  # a label byte, then the red, green and blue planes
RECORDS_PER_FILE = 10_000
CLASSES = 10
_CHUNK = 1 << 20


def _fix(folder: Path) -> str:
    return (
        f"download the CIFAR-10 binary version ({URL}) and unpack it into {str(folder)!r}, or "
        f"let gaespec do it with the data source 'cifar10:{folder}?download=1'"
    )


def find_file(root: Path, name: str) -> Path | None:
    """Where the CIFAR-10 file `name` is: in root/cifar-10-batches-bin, or in root itself."""
    for where in (root / FOLDER, root):
        if (where / name).is_file():
            return where / name
    return None


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 images (N, 3, 32, 32) and uint8 labels (N,) of one CIFAR-10 binary file."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise DataError(
            f"cannot read CIFAR-10 file {str(path)!r}: {error}",
            fix="check the file's permissions, or unpack the archive again",
        ) from None
    if len(data) == 0 or len(data) % RECORD:
        raise DataError(
            f"CIFAR-10 file {str(path)!r} holds {len(data):,} bytes, not a whole number of "
            f"{RECORD:,}-byte records (1 label byte + 3,072 pixel bytes); the official file "
            f"holds {RECORDS_PER_FILE * RECORD:,} bytes ({RECORDS_PER_FILE:,} records)",
            fix="the file is truncated or not a CIFAR-10 binary file: unpack the archive again",
        )
    records = rearrange(data, "(n r) -> n r", r=RECORD)  # (N, 3073)
    labels = records[:, 0]
    if labels.max() >= CLASSES:
        first = int(np.argmax(labels >= CLASSES))
        raise DataError(
            f"CIFAR-10 file {str(path)!r} has label {int(labels[first])} in record {first}, "
            f"but CIFAR-10 labels are 0 to {CLASSES - 1}",
            fix="point the source at the CIFAR-10 binary version "
            "(CIFAR-100's binary files have two label bytes per record)",
        )
    images = rearrange(records[:, 1:], "n (c h w) -> n c h w", c=3, h=32, w=32)
    return images, labels


def read_cifar10(root: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The official training set (the five data batches, in order) and test set of the
    CIFAR-10 binary files in `root` or root/cifar-10-batches-bin: uint8 images and labels."""
    root = Path(root).expanduser()
    paths = {name: find_file(root, name) for name in FILES}
    for name, path in paths.items():
        if path is None:
            pickled = (root / "cifar-10-batches-py").is_dir()
            raise DataError(
                f"CIFAR-10 file {name!r} is not in {str(root / FOLDER)!r} nor in {str(root)!r}"
                + (
                    f"; {str(root / 'cifar-10-batches-py')!r} is the python version, which "
                    "gaespec does not read (it is pickled)"
                    if pickled
                    else ""
                ),
                fix=_fix(root),
            )
    parts = {}
    for split, names in (("train", TRAIN_FILES), ("test", TEST_FILES)):
        batches = [read_batch(paths[name]) for name in names]
        parts[split] = tuple(np.concatenate(arrays) for arrays in zip(*batches, strict=True))
    return parts


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, path: Path) -> None:
    from tqdm.auto import tqdm

    def write(tmp: str) -> None:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as f:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=ARCHIVE, disable=None) as bar:
                while chunk := response.read(_CHUNK):
                    f.write(chunk)
                    bar.update(len(chunk))

    try:
        atomic_write(path, write)
    except OSError as error:  # urllib's URLError and HTTPError are OSErrors
        raise DataError(
            f"downloading {url} into {str(path)!r} failed: {error}",
            fix=f"check the network, or download {url} by hand into {str(path.parent)!r}",
        ) from None


def extract(archive: str | Path, root: str | Path) -> Path:
    """Unpack the six binary files of the CIFAR-10 archive into root/cifar-10-batches-bin.

    Safe on any archive: only those six names are read, only as regular files, and each is written
    atomically to a path gaespec builds itself, so no member can write elsewhere.
    """
    archive, out = Path(archive), Path(root) / FOLDER
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for name in FILES:
                member = tar.getmember(f"{FOLDER}/{name}")
                if not member.isfile():
                    raise DataError(
                        f"{str(archive)!r} holds {member.name!r} but not as a regular file",
                        fix=f"delete the archive and download it again from {URL}",
                    )
                source = tar.extractfile(member)

                def write(tmp: str, source=source) -> None:
                    with open(tmp, "wb") as f:
                        shutil.copyfileobj(source, f, _CHUNK)

                atomic_write(out / name, write)
    except (tarfile.TarError, KeyError, OSError, EOFError) as error:
        raise DataError(
            f"cannot unpack {str(archive)!r}: {error}",
            fix=f"delete the archive and download it again from {URL}",
        ) from None
    return out


def download_cifar10(root: str | Path, *, url: str | None = None) -> Path:
    """Download the CIFAR-10 binary archive from `url` (default: the official URL) into `root`,
    unless it is there already; check its MD5 against the published one, unpack its six binary
    files and delete it."""
    root = Path(root).expanduser()
    archive = root / ARCHIVE
    if not archive.is_file():
        _fetch(url or URL, archive)
    found = _md5(archive)
    if found != ARCHIVE_MD5:
        raise DataError(
            f"{str(archive)!r} has MD5 {found}, expected {ARCHIVE_MD5} (the CIFAR-10 binary "
            "version as published)",
            fix=f"delete it and download it again from {URL}",
        )
    out = extract(archive, root)
    archive.unlink()
    return out
