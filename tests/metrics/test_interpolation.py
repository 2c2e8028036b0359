import numpy as np
import pytest
import torch
from PIL import Image
from tiny import StubModel, tiny_vae

from gaespec.errors import GaespecError
from gaespec.metrics.interpolation import (
    interpolation_grid,
    interpolation_pairs,
    interpolations,
    linear_paths,
    save_interpolations,
)


def message(call) -> str:
    with pytest.raises(GaespecError) as e:
        call()
    return str(e.value)


def test_paths_start_and_end_at_the_codes_and_pass_through_their_mean():
    g = torch.Generator().manual_seed(0)
    z_a, z_b = 3 * torch.randn(2, 5, 7, generator=g)
    paths = linear_paths(z_a, z_b, steps=11)
    assert paths.shape == (5, 11, 7) and paths.dtype == torch.float32
    # (1 − 0)·a + 0·b and (1 − 1)·a + 1·b are exact; ½·a + ½·b rounds once, as (a + b) / 2 does
    assert torch.equal(paths[:, 0], z_a) and torch.equal(paths[:, -1], z_b)
    assert torch.equal(paths[:, 5], (z_a + z_b) / 2)
    t = np.arange(11) / 10
    a, b = z_a.double().numpy()[:, None], z_b.double().numpy()[:, None]
    expected = torch.from_numpy(a + t[None, :, None] * (b - a))
    torch.testing.assert_close(paths.double(), expected, rtol=1e-6, atol=1e-6)
    steps = paths.diff(dim=1)  # even steps: every step is (b − a) / 10
    torch.testing.assert_close(steps, ((z_b - z_a) / 10)[:, None].expand_as(steps))


def test_pairs_are_distinct_and_fixed_by_the_seed():
    index = interpolation_pairs(30, pairs=6, seed=1)
    assert index.shape == (6, 2) and index.dtype == torch.int64
    assert len(set(index.flatten().tolist())) == 12 and 0 <= index.min() and index.max() < 30
    assert torch.equal(index, interpolation_pairs(30, pairs=6, seed=1))
    assert not torch.equal(index, interpolation_pairs(30, pairs=6, seed=2))
    assert interpolation_pairs(4, pairs=2).shape == (2, 2)


def test_interpolations_follow_the_posterior_means_of_the_pairs():
    # StubModel: the posterior mean is the input and decoding is the identity
    x = torch.randn(20, 3, generator=torch.Generator().manual_seed(3))
    model = StubModel(dim=3).train()
    images = interpolations(model, x, pairs=4, steps=6, seed=5)
    index = interpolation_pairs(20, pairs=4, seed=5)
    assert torch.equal(images, linear_paths(x[index[:, 0]], x[index[:, 1]], steps=6))
    assert model.calls == [(8, False, False)] and model.training
    assert message(lambda: save_interpolations(model, x, "unused.png", pairs=4, steps=6)) == (
        "interpolation grids need images of shape (c, h, w), got decoded samples of shape (3,)"
    )


def test_grid_rows_hold_the_real_images_at_both_ends():
    g = torch.Generator().manual_seed(4)
    ends, paths = torch.rand(3, 2, 1, 4, 5, generator=g), torch.rand(3, 6, 1, 4, 5, generator=g)
    grid = interpolation_grid(ends, paths)
    assert grid.shape == (3 * 8, 1, 4, 5)
    for p in range(3):
        row = grid[8 * p : 8 * (p + 1)]
        assert torch.equal(row[0], ends[p, 0]) and torch.equal(row[-1], ends[p, 1])
        assert torch.equal(row[1:-1], paths[p])
    assert message(lambda: interpolation_grid(ends[:, :, :, :3], paths)) == (
        "the real images of shape (3, 2, 1, 3, 5) do not frame decoded paths of shape "
        "(3, 6, 1, 4, 5): expected (3, 2, 1, 4, 5)"
    )


def test_a_tiny_vae_decodes_its_paths_and_writes_the_grid(tmp_path):
    torch.manual_seed(0)
    model = tiny_vae()
    x = torch.rand(12, 1, 28, 28, generator=torch.Generator().manual_seed(6))
    images = interpolations(model, x, pairs=3, steps=5, seed=7)
    assert images.shape == (3, 5, 1, 28, 28)
    index = interpolation_pairs(12, pairs=3, seed=7)
    with torch.no_grad():  # the ends of each path are the reconstructions of its pair
        ends = model.decode(model.encode(x[index.flatten()]).mean).view(3, 2, 1, 28, 28)
    torch.testing.assert_close(images[:, 0], ends[:, 0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(images[:, -1], ends[:, 1], rtol=1e-5, atol=1e-6)

    out = tmp_path / "grids" / "interpolation.png"
    path = save_interpolations(model, x, out, pairs=3, steps=5, seed=7)
    assert path == out
    picture = np.asarray(Image.open(path))
    # make_grid: tiles of 28 with 2 pixels of padding around each, 5 + 2 columns, 3 rows
    assert picture.shape == (3 * 30 + 2, 7 * 30 + 2) and picture.dtype == np.uint8
    first, last = x[index[0, 0], 0], x[index[0, 1], 0]  # row 0: the real images at both ends
    assert np.array_equal(picture[2:30, 2:30], (first * 255).round().byte().numpy())
    assert np.array_equal(picture[2:30, 182:210], (last * 255).round().byte().numpy())
    decoded = images[0, 0, 0].clamp(0, 1).mul(255).round().byte().numpy()  # then the path
    assert np.array_equal(picture[2:30, 32:60], decoded)


def test_bad_settings_are_refused_with_a_clear_message():
    z = torch.zeros(2, 3)
    assert message(lambda: linear_paths(z, z, steps=1)) == "steps must be an integer ≥ 2, got 1"
    assert message(lambda: linear_paths(z, z[:, :2])) == (
        "linear paths need two batches of codes of one shape (p, d), got (2, 3) and (2, 2)"
    )
    assert message(lambda: interpolation_pairs(7, pairs=4)) == (
        "interpolation needs 8 distinct images for 4 pairs, got 7; fix: ask for fewer pairs"
    )
    assert message(lambda: interpolation_pairs(7, pairs=0)) == "pairs must be an integer ≥ 1, got 0"
    assert message(lambda: interpolation_pairs(7, seed=-3)) == (
        "the seed must be an integer ≥ 0, got -3"
    )
