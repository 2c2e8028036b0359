"""An epoch's image grids for the trackers: prior samples, and validation images above their
reconstructions; made once per epoch, shared by every tracker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from gaespec.images import reconstruction_grid, save_grid
from gaespec.inference import evaluating, placement
from gaespec.samplers.base import private_rng

SAMPLES = 64  # prior samples in the samples grid
ORIGINALS = 32  # validation images (the first ones, always the same) in the reconstruction grid


def has_images(x: torch.Tensor) -> bool:
    """Whether data x (n ...) are images a grid can show: (n c h w) with 1 or 3 channels."""
    return x.dim() == 4 and x.shape[1] in (1, 3)


def epoch_grids(model: nn.Module, x: torch.Tensor, *, seed: int, folder: Path) -> dict[str, Path]:
    """PNG grids written into `folder`: `samples` (SAMPLES prior samples, drawn with `seed`) and
    `reconstructions` (the first ORIGINALS images of x above their reconstructions).

    Nothing is written, and the result is empty, when x are not images (n c h w) of 1 or 3
    channels (a flat vector model, say). Neither the model's mode nor torch's random stream
    changes.
    """
    if not has_images(x) or len(x) == 0:
        return {}
    device, dtype = placement(model)
    originals = x[:ORIGINALS].to(device, dtype)
    with evaluating(model), private_rng(seed, device):
        samples = model.sample(SAMPLES)
        pairs = reconstruction_grid(originals, model.reconstruct(originals))
    return {
        "samples": save_grid(samples, folder / "samples.png"),
        "reconstructions": save_grid(pairs, folder / "reconstructions.png"),
    }


def read_png(path: Path) -> np.ndarray:
    """A PNG's pixels, (h w) for grey or (h w c), as uint8."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image).copy()
