"""Tests of gaespec.data.checks: what bad arrays are refused with, and how good ones are scaled."""

import numpy as np
import pytest
import torch

from gaespec.data.checks import check_array, check_labels, check_range
from gaespec.errors import DataError


def test_uint8_images_gain_a_channel_axis_and_are_divided_by_255():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)  # (1, 2, 2)
    out = check_array(x, source="s")
    assert out.shape == (1, 1, 2, 2) and out.dtype == np.float32
    # k / 255 rounded once to float32: within half a float32 ulp (6e-8) of k / 255
    np.testing.assert_allclose(out[0, 0], [[0.0, 1.0], [0.2, 0.4]], rtol=1e-7, atol=0)


def test_float_data_and_wide_integers_are_kept_as_they_are():
    x = np.full((2, 3), 7.5)
    np.testing.assert_array_equal(check_array(x, source="s"), x)
    wide = np.array([[0, 1000]], dtype=np.int32)
    np.testing.assert_array_equal(check_array(wide, source="s"), [[0.0, 1000.0]])


def test_rank_1_is_refused_with_its_shape():
    with pytest.raises(DataError) as error:
        check_array(np.zeros(784), source="v.npy")
    assert str(error.value) == (
        "data 'v.npy' is an array of rank 1 (shape 784) but gaespec needs a batch of samples: "
        "(N, C, H, W), (N, H, W) or (N, D); fix: add a batch axis with x[None] for a single sample"
    )


def test_rank_5_is_refused():
    with pytest.raises(DataError, match=r"rank 5 \(shape 2×1×3×4×4\)"):
        check_array(np.zeros((2, 1, 3, 4, 4)), source="s")


def test_nan_and_inf_are_counted_and_the_first_is_located():
    x = np.zeros((3, 2, 2))
    x[1, 0, 1] = np.nan
    x[2, 1, 1] = np.nan
    x[2, 0, 0] = np.inf
    with pytest.raises(DataError) as error:
        check_array(x, source="bad.npy")
    assert str(error.value) == (
        "data 'bad.npy' has 3 non-finite values (2 NaN, 1 inf), the first at index (1, 0, 1); "
        "fix: drop or repair those samples before training"
    )


def test_empty_non_numeric_and_channels_last_are_refused():
    with pytest.raises(DataError, match=r"data 's' is empty \(shape 0×28×28\)"):
        check_array(np.zeros((0, 28, 28)), source="s")
    with pytest.raises(DataError, match="has dtype <U1, which is not numeric"):
        check_array(np.array([["a", "b"]]), source="s")
    with pytest.raises(DataError, match=r"x = x.transpose\(0, 3, 1, 2\)"):
        check_array(np.zeros((2, 32, 32, 3)), source="s")


def test_labels_become_int64_and_must_match_the_samples():
    np.testing.assert_array_equal(check_labels(np.array([2.0, 0.0]), n=2, source="s"), [2, 0])
    with pytest.raises(DataError, match=r"has 3 samples but labels of shape 2;"):
        check_labels(np.array([1, 2]), n=3, source="s")
    with pytest.raises(DataError, match="not whole numbers"):
        check_labels(np.array([0.5, 1.0]), n=2, source="s")


def test_values_outside_the_range_are_refused_with_why_and_fix():
    x = torch.tensor([[-0.5, 0.25], [1.0, 2.0]])
    why = "the decoder ends in a sigmoid, so reconstructions lie in [0, 1]"
    with pytest.raises(DataError) as error:
        check_range(x, low=0, high=1, source="x.npy", why=why)
    assert str(error.value) == (
        "data 'x.npy' has values in [-0.5, 2], outside [0, 1]: the decoder ends in a sigmoid, "
        "so reconstructions lie in [0, 1]; fix: rescale the data to [0, 1], "
        "e.g. x = (x - x.min()) / (x.max() - x.min())"
    )
    check_range(x.clamp(0, 1), low=0, high=1, source="x.npy", why=why)


def test_integer_zeros_and_ones_stay_binary():
    x = np.array([[[0, 1], [1, 0]]] * 3, dtype=np.int64)
    assert check_array(x, source="bits").max() == 1.0
    assert check_array(x.astype(np.uint8), source="bits").max() == np.float32(1 / 255)
