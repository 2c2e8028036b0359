"""A reader for the idx files that MNIST ships in (LeCun et al. 1998, yann.lecun.com/exdb/mnist)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from gaespec.errors import DataError

IMAGES_MAGIC = 2051  # unsigned bytes, 3 axes: (N, rows, columns)
LABELS_MAGIC = 2049  # unsigned bytes, 1 axis: (N,)


def _read_bytes(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as error:
        raise DataError(
            f"cannot read idx file {str(path)!r}: {error}",
            fix="download the file again; a .gz file must be a complete gzip archive",
        ) from None


def read_idx(path: str | Path, *, magic: int) -> np.ndarray:
    """The uint8 array in the idx file at `path` (plain or .gz), checking its magic number."""
    path = Path(path)
    data = _read_bytes(path)
    kind = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}.get(magic, "idx")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim  # 16 bytes for images, 8 for labels
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found != magic:
        raise DataError(
            f"{str(path)!r} is not an MNIST {kind} file: its magic number is {found}, "
            f"expected {magic}",
            fix="point the source at the original MNIST idx files "
            "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-…), plain or .gz",
        )
    if len(data) < header:
        raise DataError(f"{str(path)!r} ends inside its idx header", fix="download it again")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise DataError(
            f"{str(path)!r} holds {len(data)} bytes but its header "
            f"({'×'.join(map(str, dims))}) needs {expected}",
            fix="the file is truncated or corrupt: download it again",
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
