"""Tests of gaespec.data.splits: sizes, seeds, disjointness, and DataSplits.check."""

import numpy as np
import pytest

from gaespec.data import load_data
from gaespec.data.splits import default_sizes, split_indices, study_sizes
from gaespec.errors import DataError

WHY = "the decoder ends in a sigmoid, so reconstructions lie in [0, 1]"


@pytest.fixture(scope="module")
def mnist5k():
    return load_data("mnist5k", seed=0)


def test_mnist5k_splits_3500_500_1000_of_1x28x28_in_0_1(mnist5k):
    assert mnist5k.shape == (1, 28, 28)
    splits = (mnist5k.train, mnist5k.validation, mnist5k.test)
    assert [len(s) for s in splits] == [3500, 500, 1000]
    for split in splits:
        assert split.x.dtype.is_floating_point and split.x.dtype.itemsize == 4
        assert float(split.x.min()) == 0.0 and float(split.x.max()) == 1.0
        assert sorted(set(split.y.tolist())) == list(range(10))
    mnist5k.check((1, 28, 28), low=0, high=1, why=WHY)


def test_split_indices_are_disjoint_cover_all_and_follow_the_seed():
    train, validation, test = split_indices(5000, seed=0)
    assert (len(train), len(validation), len(test)) == (3500, 500, 1000)
    assert np.array_equal(np.sort(np.concatenate([train, validation, test])), np.arange(5000))
    again = split_indices(5000, seed=0)
    other = split_indices(5000, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((train, validation, test), again, strict=True))
    assert not np.array_equal(train, other[0])


def test_load_data_gives_the_same_split_for_the_same_seed(mnist5k):
    assert (load_data("mnist5k", seed=0).test.x == mnist5k.test.x).all()
    assert not (load_data("mnist5k", seed=1).test.x == mnist5k.test.x).all()


def test_default_sizes_and_an_official_test_set():
    assert default_sizes(1797) == (1258, 180, 359)
    assert default_sizes(3) == (1, 1, 1)
    train, validation, test = split_indices(10, seed=0, sizes=(5, 2, 3), official_test=True)
    assert test.tolist() == [7, 8, 9]
    assert sorted(train.tolist() + validation.tolist()) == list(range(7))


def test_seeded_splits_are_as_before_official_splits_existed():
    # the values the code gave before official_splits: built-in data split as they always were
    assert [a.tolist() for a in split_indices(20, seed=0)] == [
        [4, 19, 6, 2, 13, 16, 3, 11, 10, 8, 0, 12, 7, 5],
        [18, 17],
        [14, 9, 1, 15],
    ]
    assert [
        a.tolist() for a in split_indices(20, seed=0, sizes=(10, 4, 6), official_test=True)
    ] == [
        [3, 2, 0, 5, 4, 7, 13, 10, 11, 6],
        [9, 12, 8, 1],
        [14, 15, 16, 17, 18, 19],
    ]
    assert [a[:5].tolist() for a in split_indices(5000, seed=0)] == [
        [2221, 1222, 227, 4662, 3029],
        [4439, 4478, 1702, 827, 3598],
        [1951, 19, 3126, 3912, 4279],
    ]


def test_official_splits_are_taken_in_order_whatever_the_seed():
    for seed in (0, 1, 99):
        train, validation, test = split_indices(
            10, seed=seed, sizes=(5, 2, 3), official_splits=True
        )
        assert (train.tolist(), validation.tolist(), test.tolist()) == (
            [0, 1, 2, 3, 4],
            [5, 6],
            [7, 8, 9],
        )
    with pytest.raises(DataError) as error:
        split_indices(10, seed=0, official_splits=True)
    assert str(error.value) == (
        "a source of 10 samples says they are its official splits but gives no sizes; "
        "fix: give Raw(..., sizes=(train, validation, test)) with official_splits=True"
    )


def test_study_sizes_keep_the_last_10k_of_the_training_set():
    assert study_sizes(60_000, 10_000, official_train=60_000) == (50_000, 10_000, 10_000)  # MNIST
    assert study_sizes(50_000, 10_000, official_train=50_000) == (40_000, 10_000, 10_000)  # CIFAR
    assert study_sizes(12, 4, official_train=60_000) == (10, 2, 4)  # a small file: the same share
    assert study_sizes(3, 1, official_train=60_000) == (2, 1, 1)  # at least one


def test_impossible_sizes_are_refused():
    with pytest.raises(DataError, match="cannot split 2 samples into .* of sizes 0/1/1"):
        split_indices(2, seed=0)


def test_sklearn_digits_are_1x8x8_in_0_1():
    data = load_data("sklearn_digits")
    assert data.shape == (1, 8, 8)
    assert [len(data.train), len(data.validation), len(data.test)] == [1258, 180, 359]
    assert float(data.train.x.min()) == 0.0 and float(data.train.x.max()) == 1.0
    data.check((1, 8, 8), low=0, high=1, why=WHY)


def test_shape_mismatch_names_the_key_and_the_fix():
    data = load_data("sklearn_digits")
    with pytest.raises(DataError) as error:
        data.check((1, 28, 28), low=0, high=1, why=WHY)
    assert str(error.value) == (
        "data 'sklearn_digits' has samples of shape 1×8×8 but the spec expects 1×28×28 "
        "(key input.shape); fix: --set input.shape=[1,8,8]; the mnist_convnet nets are "
        "built for 1×28×28 only, so other shapes need "
        'encoder.arch = "mlp" and decoder.arch = "mlp"'
    )


def test_range_check_reads_every_split(tmp_path):
    x = np.zeros((10, 2, 2))
    x[9, 0, 0] = -3.0
    np.save(tmp_path / "x.npy", x)
    data = load_data(str(tmp_path / "x.npy"))
    with pytest.raises(DataError, match=r"has values in \[-3, 0\], outside \[0, 1\]: the decoder"):
        data.check((1, 2, 2), low=0, high=1, why=WHY)
