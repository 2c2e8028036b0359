import numpy as np
import pytest
import torch
from PIL import Image

from gaespec.errors import DataError
from gaespec.images import reconstruction_grid, save_grid


def test_png_size_for_16_digits_in_rows_of_8(tmp_path):
    path = save_grid(torch.rand(16, 1, 28, 28), tmp_path / "grid.png")
    with Image.open(path) as image:
        assert image.size == (8 * 28 + 9 * 2, 2 * 28 + 3 * 2)  # (242, 62)
        assert image.mode == "L"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temp file left behind


def test_pixels_are_clamped_and_scaled(tmp_path):
    images = torch.tensor([-1.0, 0.5, 2.0]).reshape(3, 1, 1, 1)
    path = save_grid(images, tmp_path / "sub" / "g.png", nrow=3)
    with Image.open(path) as image:
        pixels = np.asarray(image)
    assert pixels.shape == (1 + 2 * 2, 3 + 4 * 2)  # 1 px tiles, 2 px padding around each
    assert pixels[2, [2, 5, 8]].tolist() == [0, 128, 255]


def test_rgb_grid(tmp_path):
    path = save_grid(torch.rand(3, 3, 5, 5), tmp_path / "rgb.png", nrow=2)
    with Image.open(path) as image:
        assert image.mode == "RGB" and image.size == (2 * 5 + 3 * 2, 2 * 5 + 3 * 2)


def test_reconstruction_grid_alternates_rows_and_pads_the_last():
    x = torch.arange(5.0).reshape(5, 1, 1, 1)
    grid = reconstruction_grid(x, x + 10, nrow=3)
    assert grid.shape == (12, 1, 1, 1)
    assert grid.flatten().tolist() == [0, 1, 2, 10, 11, 12, 3, 4, 0, 13, 14, 0]


def test_refuses_bad_shapes(tmp_path):
    with pytest.raises(DataError) as e:
        save_grid(torch.rand(2, 28, 28), tmp_path / "g.png")
    assert (
        str(e.value)
        == "images must be a non-empty batch of images (n, c, h, w), got shape (2, 28, 28)"
    )
    with pytest.raises(DataError) as e:
        reconstruction_grid(torch.rand(2, 1, 3, 3), torch.rand(2, 1, 3, 4))
    assert str(e.value) == ("x_hat of shape (2, 1, 3, 4) does not match x of shape (2, 1, 3, 3)")
