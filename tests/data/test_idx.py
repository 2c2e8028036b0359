"""Tests of gaespec.data.idx against an independent idx writer."""

import gzip
import struct

import numpy as np
import pytest

from gaespec.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from gaespec.errors import DataError


def write_idx(path, array, magic):
    """The idx format as yann.lecun.com/exdb/mnist describes it: big-endian magic, dims, bytes."""
    data = struct.pack(">i", magic) + b"".join(struct.pack(">i", d) for d in array.shape)
    data += array.astype(np.uint8).tobytes()
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("name", ["images", "images.gz"])
def test_images_round_trip(tmp_path, name):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    write_idx(tmp_path / name, images, IMAGES_MAGIC)
    np.testing.assert_array_equal(read_idx(tmp_path / name, magic=IMAGES_MAGIC), images)


def test_labels_round_trip(tmp_path):
    labels = np.array([7, 0, 9], dtype=np.uint8)
    write_idx(tmp_path / "labels", labels, LABELS_MAGIC)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels", magic=LABELS_MAGIC), labels)


def test_bad_magic_is_named(tmp_path):
    write_idx(tmp_path / "labels", np.zeros(3), LABELS_MAGIC)
    with pytest.raises(DataError) as error:
        read_idx(tmp_path / "labels", magic=IMAGES_MAGIC)
    assert str(error.value) == (
        f"'{tmp_path / 'labels'}' is not an MNIST images file: its magic number is 2049, "
        "expected 2051; fix: point the source at the original MNIST idx files "
        "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-…), plain or .gz"
    )


def test_truncated_file_is_refused(tmp_path):
    write_idx(tmp_path / "images", np.zeros((2, 3, 3)), IMAGES_MAGIC)
    (tmp_path / "images").write_bytes((tmp_path / "images").read_bytes()[:-1])
    with pytest.raises(DataError, match="holds 33 bytes but its header \\(2×3×3\\) needs 34"):
        read_idx(tmp_path / "images", magic=IMAGES_MAGIC)
