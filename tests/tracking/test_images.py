"""An epoch's grids: the model's samples and reconstructions, without moving its mode or the
training's random stream."""

from __future__ import annotations

import numpy as np
import torch
from tiny import tiny_spec

import gaespec
from gaespec.tracking.images import epoch_grids, has_images, read_png


def test_grids_show_the_model_and_leave_training_alone(tmp_path, digits):
    torch.manual_seed(0)
    model = gaespec.build(tiny_spec("vae")).train()
    x = digits.validation.x[:40]
    state = torch.get_rng_state()
    grids = epoch_grids(model, x, seed=7, folder=tmp_path)
    assert torch.equal(torch.get_rng_state(), state)
    assert model.training
    assert sorted(grids) == ["reconstructions", "samples"]
    samples, pairs = read_png(grids["samples"]), read_png(grids["reconstructions"])
    assert samples.shape == (82, 82)  # 64 images of 8×8, 8 per row, 2 pixels apart
    assert pairs.shape == (82, 82)  # 32 originals above their 32 reconstructions: 8 rows
    first = torch.tensor(pairs[2:10, 2:10])
    assert torch.equal(first, x[0, 0].mul(255).round().to(torch.uint8))
    again = epoch_grids(model, x, seed=7, folder=tmp_path / "again")
    assert np.array_equal(read_png(again["samples"]), samples)  # the seed fixes the samples
    other = epoch_grids(model, x, seed=8, folder=tmp_path / "other")
    assert not np.array_equal(read_png(other["samples"]), samples)


def test_only_images_make_grids(tmp_path):
    assert has_images(torch.zeros(2, 1, 8, 8)) and has_images(torch.zeros(2, 3, 8, 8))
    assert not has_images(torch.zeros(2, 64)) and not has_images(torch.zeros(2, 2, 8, 8))
    assert epoch_grids(torch.nn.Linear(1, 1), torch.zeros(2, 64), seed=0, folder=tmp_path) == {}
    assert list(tmp_path.iterdir()) == []
