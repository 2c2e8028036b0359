"""PNG image grids: samples, and originals above their reconstructions (as in arXiv:2206.08309)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange

from gaespec.atomic import atomic_write
from gaespec.errors import DataError


def _check_images(images: torch.Tensor, what: str) -> None:
    if images.dim() != 4 or len(images) == 0:
        raise DataError(
            f"{what} must be a non-empty batch of images (n, c, h, w), got shape "
            f"{tuple(images.shape)}"
        )


def reconstruction_grid(x: torch.Tensor, x_hat: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """x and x_hat (n c h w) as rows of nrow: a row of originals, then their reconstructions.

    A short last row is filled with blank (zero) images, so each reconstruction sits under its own.
    """
    _check_images(x, "x")
    if x_hat.shape != x.shape:
        raise DataError(
            f"x_hat of shape {tuple(x_hat.shape)} does not match x of shape {tuple(x.shape)}"
        )
    blank = math.ceil(len(x) / nrow) * nrow - len(x)
    pair = torch.stack([x, x_hat.to(x)])  # (2 n c h w)
    pair = F.pad(pair, (0, 0, 0, 0, 0, 0, 0, blank))
    return rearrange(pair, "two (r col) c h w -> (r two col) c h w", col=nrow)


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int = 8) -> Path:
    """Write images (n c h w), clamped to [0, 1], as one PNG grid of nrow per row; atomic."""
    from PIL import Image
    from torchvision.utils import make_grid

    _check_images(images, "images")
    channels = images.shape[1]
    grid = make_grid(images.detach().to("cpu", torch.float32).clamp(0, 1), nrow=nrow)  # (3 H W)
    pixels = grid.mul(255).round().to(torch.uint8)
    if channels == 1:  # make_grid repeats one channel thrice; grey stays grey on disk
        array = pixels[0].numpy()
    else:
        array = rearrange(pixels, "c h w -> h w c").numpy()
    return atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))
