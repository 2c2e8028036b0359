"""Tests of gaespec.data.cifar10 and the cifar10:DIR source, on tiny files in the binary format."""

import hashlib
import io
import tarfile

import numpy as np
import pytest
import torch

from gaespec.data import cifar10, load_data
from gaespec.data.cifar10 import download_cifar10, extract, read_batch
from gaespec.errors import DataError

FIX = (
    "download the CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz)"
    " and unpack it into '{root}', or let gaespec do it with the data source "
    "'cifar10:{root}?download=1'"
)


def pixel(index, c, h, w):
    """The value written at channel c, row h, column w of record `index`."""
    return (31 * index + 50 * c + 3 * h + w) % 256


def record(index, label):
    """One record as the CIFAR page describes it, built byte by byte: the label, then the red
    plane row by row, then the green, then the blue."""
    planes = [pixel(index, c, h, w) for c in range(3) for h in range(32) for w in range(32)]
    return bytes([label]) + bytes(planes)


def write_cifar(folder, per_batch=2, n_test=3):
    """Five training files of `per_batch` records and a test file of `n_test`; record i (counted
    over the training files, then the test file) has label i % 10."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    counts = [per_batch] * 5 + [n_test]
    index = 0
    for name, count in zip(names, counts, strict=True):
        data = b""
        for _ in range(count):
            data += record(index, index % 10)
            index += 1
        (folder / name).write_bytes(data)
    return index


def expected(indices):
    """Float images of the records `indices`: uint8 / 255 in float32, as every uint8 source."""
    values = [
        [[[pixel(i, c, h, w) for w in range(32)] for h in range(32)] for c in range(3)]
        for i in indices
    ]
    return torch.tensor(values, dtype=torch.uint8).float() / 255


def test_records_become_channel_first_images_and_labels(tmp_path):
    path = tmp_path / "b.bin"
    path.write_bytes(record(0, 3) + record(1, 9))
    images, labels = read_batch(path)
    assert images.shape == (2, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [3, 9]
    assert images[1, 2, 31, 30] == pixel(1, 2, 31, 30)  # blue, last row, one before last column
    assert images[0, 0, 0, 1] == pixel(0, 0, 0, 1)  # red plane, first row: byte 2 of the record
    np.testing.assert_array_equal(images, expected([0, 1]).mul(255).round().byte().numpy())


def test_source_gives_the_study_split_in_order(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-bin")
    data = load_data(f"cifar10:{tmp_path}", seed=7)
    assert data.shape == (3, 32, 32)
    # 10 training records: the last fifth (as 10,000 of 50,000) is the validation split
    assert [len(data.train), len(data.validation), len(data.test)] == [8, 2, 3]
    for split, indices in (
        (data.train, range(8)),
        (data.validation, [8, 9]),
        (data.test, [10, 11, 12]),
    ):
        assert torch.equal(split.x, expected(indices))  # exact: the same uint8 / 255
        assert split.y.tolist() == [i % 10 for i in indices]
    again = load_data(f"cifar10:{tmp_path}", seed=0)  # official splits: the seed plays no part
    assert torch.equal(again.train.x, data.train.x)


def test_files_directly_in_the_folder_are_found(tmp_path):
    write_cifar(tmp_path, per_batch=1, n_test=1)
    data = load_data(f"cifar10:{tmp_path}")
    assert [len(data.train), len(data.validation), len(data.test)] == [4, 1, 1]


def test_missing_file_names_the_path_and_the_fix(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-bin")
    (tmp_path / "cifar-10-batches-bin" / "data_batch_4.bin").unlink()
    with pytest.raises(DataError) as error:
        load_data(f"cifar10:{tmp_path}")
    assert str(error.value) == (
        f"CIFAR-10 file 'data_batch_4.bin' is not in '{tmp_path}/cifar-10-batches-bin' nor in "
        f"'{tmp_path}'; fix: " + FIX.format(root=tmp_path)
    )


def test_the_python_version_is_named_and_refused(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"\x80\x02")
    with pytest.raises(DataError) as error:
        load_data(f"cifar10:{tmp_path}")
    assert str(error.value) == (
        f"CIFAR-10 file 'data_batch_1.bin' is not in '{tmp_path}/cifar-10-batches-bin' nor in "
        f"'{tmp_path}'; '{tmp_path}/cifar-10-batches-py' is the python version, which gaespec "
        "does not read (it is pickled); fix: " + FIX.format(root=tmp_path)
    )


def test_a_truncated_file_names_the_file_and_the_expected_size(tmp_path):
    write_cifar(tmp_path)
    path = tmp_path / "data_batch_2.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DataError) as error:
        load_data(f"cifar10:{tmp_path}")
    assert str(error.value) == (
        f"CIFAR-10 file '{path}' holds 6,145 bytes, not a whole number of 3,073-byte records "
        "(1 label byte + 3,072 pixel bytes); the official file holds 30,730,000 bytes "
        "(10,000 records); fix: the file is truncated or not a CIFAR-10 binary file: unpack the "
        "archive again"
    )


def test_a_label_beyond_9_is_refused(tmp_path):
    path = tmp_path / "b.bin"
    path.write_bytes(record(0, 1) + record(1, 57))
    with pytest.raises(
        DataError, match=r"has label 57 in record 1, but CIFAR-10 labels are 0 to 9"
    ):
        read_batch(path)


def make_archive(path, members):
    """A tar.gz holding `members` ({name: bytes, or None for a symbolic link})."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def cifar_members(tmp_path):
    write_cifar(tmp_path / "src")
    members = {
        f"cifar-10-batches-bin/{name}": (tmp_path / "src" / name).read_bytes()
        for name in cifar10.FILES
    }
    members["cifar-10-batches-bin/../../escape.bin"] = b"x"  # never read: not one of the six
    return members


def test_download_checks_the_md5_before_unpacking(tmp_path):
    root = tmp_path / "data"
    make_archive(tmp_path / "served.tar.gz", cifar_members(tmp_path))
    with pytest.raises(DataError) as error:  # a file:// URL: no network
        download_cifar10(root, url=(tmp_path / "served.tar.gz").as_uri())
    md5 = hashlib.md5((tmp_path / "served.tar.gz").read_bytes()).hexdigest()
    assert str(error.value) == (
        f"'{root}/cifar-10-binary.tar.gz' has MD5 {md5}, expected c32a1d4ab5d03f1284b67883e8d87530 "
        "(the CIFAR-10 binary version as published); fix: delete it and download it again from "
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    )
    assert not (root / "cifar-10-batches-bin").exists()


def test_download_fetches_unpacks_the_six_files_only_and_the_source_reads_them(
    tmp_path, monkeypatch
):
    make_archive(tmp_path / "served.tar.gz", cifar_members(tmp_path))
    served = (tmp_path / "served.tar.gz").as_uri()
    monkeypatch.setattr(
        cifar10, "ARCHIVE_MD5", hashlib.md5((tmp_path / "served.tar.gz").read_bytes()).hexdigest()
    )
    monkeypatch.setattr(cifar10, "URL", served)  # a file:// URL: no network
    root = tmp_path / "data"
    data = load_data(f"cifar10:{root}?download=1")
    assert torch.equal(data.test.x, expected([10, 11, 12]))
    assert sorted(p.name for p in (root / "cifar-10-batches-bin").iterdir()) == sorted(
        cifar10.FILES
    )
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-bin"]  # archive deleted
    assert not (tmp_path / "escape.bin").exists()


def test_files_present_are_never_downloaded(tmp_path, monkeypatch):
    write_cifar(tmp_path)

    def fail(*args, **kwargs):
        raise AssertionError("downloaded")

    monkeypatch.setattr(cifar10, "download_cifar10", fail)
    assert len(load_data(f"cifar10:{tmp_path}?download=1").test) == 3


def test_a_link_in_the_archive_is_refused(tmp_path):
    members = cifar_members(tmp_path)
    members["cifar-10-batches-bin/test_batch.bin"] = None
    make_archive(tmp_path / "a.tar.gz", members)
    with pytest.raises(DataError) as error:
        extract(tmp_path / "a.tar.gz", tmp_path / "out")
    assert str(error.value).startswith(
        f"'{tmp_path}/a.tar.gz' holds 'cifar-10-batches-bin/test_batch.bin' but not as a regular "
        "file; fix: delete the archive and download it again"
    )


def test_a_damaged_archive_is_named(tmp_path):
    (tmp_path / "a.tar.gz").write_bytes(b"not a gzip file")
    with pytest.raises(DataError, match=rf"^cannot unpack '{tmp_path}/a.tar.gz': "):
        extract(tmp_path / "a.tar.gz", tmp_path / "out")


def test_a_bad_download_flag_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"option download='maybe' is not a yes/no value"):
        load_data(f"cifar10:{tmp_path}?download=maybe")
