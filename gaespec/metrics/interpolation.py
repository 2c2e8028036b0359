"""Task 5 of the Pythae study (Chadebec et al. 2022, arXiv:2206.08309): linear latent interpolation.

Pairs of test images are embedded by their posterior means z_a, z_b; the codes
z(t) = (1 − t)·z_a + t·z_b at `steps` evenly spaced t from 0 to 1 are decoded. Ten steps, as
Pythae's `interpolate(starting_inputs, ending_inputs, granularity=10)`. In the grid each row is one
pair: the real image a, the decoded path (its first and last images are the reconstructions of
a and b), the real image b.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from torch import nn

from gaespec.errors import DataError
from gaespec.images import save_grid
from gaespec.metrics.classification import check_count
from gaespec.samplers.base import decode, embed

STEPS = 10  # Pythae's granularity
PAIRS = 8


def interpolation_pairs(n: int, pairs: int = PAIRS, seed: int = 0) -> torch.Tensor:
    """Indices (pairs 2) of 2·pairs distinct images among n, drawn from numpy's generator `seed`."""
    pairs, seed = check_count(pairs, "pairs"), check_count(seed, "the seed", least=0)
    if n < 2 * pairs:
        raise DataError(
            f"interpolation needs {2 * pairs} distinct images for {pairs} pairs, got {n}",
            fix="ask for fewer pairs",
        )
    chosen = np.random.default_rng(seed).choice(n, size=2 * pairs, replace=False)
    return rearrange(torch.from_numpy(chosen), "(p two) -> p two", two=2)


def linear_paths(z_a: torch.Tensor, z_b: torch.Tensor, steps: int = STEPS) -> torch.Tensor:
    """Codes (p steps d) on the segments from z_a (p d) to z_b (p d): (1 − t)·z_a + t·z_b with
    t = i / (steps − 1); the ends are z_a and z_b exactly, an odd `steps` has (z_a + z_b) / 2."""
    steps = check_count(steps, "steps", least=2)
    if z_a.dim() != 2 or z_a.shape != z_b.shape:
        raise DataError(
            f"linear paths need two batches of codes of one shape (p, d), got "
            f"{tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    # i / (steps − 1) is rounded once: 0, ½ and 1 are exact, so are the path's ends and middle
    t = torch.arange(steps, dtype=torch.float64) / (steps - 1)
    t = rearrange(t.to(z_a.device, z_a.dtype), "s -> 1 s 1")
    return (1 - t) * rearrange(z_a, "p d -> p 1 d") + t * rearrange(z_b, "p d -> p 1 d")


def interpolations(
    model: nn.Module,
    x: torch.Tensor,
    *,
    pairs: int = PAIRS,
    steps: int = STEPS,
    seed: int = 0,
) -> torch.Tensor:
    """Images (pairs steps c h w) decoded along the linear paths between the posterior means of
    the pairs of x (n c h w) that `interpolation_pairs(len(x), pairs, seed)` picks."""
    index = interpolation_pairs(len(x), pairs, seed)
    z_a, z_b = rearrange(embed(model, x[index.flatten()]), "(p two) d -> two p d", two=2)
    paths = linear_paths(z_a, z_b, steps)
    images = decode(model, rearrange(paths, "p s d -> (p s) d"))
    return rearrange(images, "(p s) ... -> p s ...", s=steps)


def interpolation_grid(ends: torch.Tensor, paths: torch.Tensor) -> torch.Tensor:
    """Rows of the grid, flattened ((p (steps+2)) c h w): each pair's real images (p 2 c h w) at
    the two ends of its decoded path (p steps c h w)."""
    if paths.dim() != 5:
        raise DataError(
            f"interpolation grids need images of shape (c, h, w), got decoded samples of shape "
            f"{tuple(paths.shape[2:])}"
        )
    expected = (len(paths), 2, *paths.shape[2:])
    if tuple(ends.shape) != expected:
        raise DataError(
            f"the real images of shape {tuple(ends.shape)} do not frame decoded paths of shape "
            f"{tuple(paths.shape)}: expected {expected}"
        )
    ends = ends.to(paths)
    rows = torch.cat([ends[:, :1], paths, ends[:, 1:]], dim=1)
    return rearrange(rows, "p s c h w -> (p s) c h w")


def save_interpolations(
    model: nn.Module,
    x: torch.Tensor,
    path: str | os.PathLike,
    *,
    pairs: int = PAIRS,
    steps: int = STEPS,
    seed: int = 0,
) -> Path:
    """Write the interpolation grid of `interpolations(model, x, ...)` as a PNG (atomic): one row
    per pair, the real images first and last."""
    index = interpolation_pairs(len(x), pairs, seed)
    paths = interpolations(model, x, pairs=pairs, steps=steps, seed=seed)
    return save_grid(interpolation_grid(x[index], paths), path, nrow=steps + 2)
