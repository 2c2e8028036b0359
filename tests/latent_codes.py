"""Synthetic latent codes for the tests of the latent-space tasks (classification, clustering)."""

from __future__ import annotations

import pytest
import torch
from einops import rearrange

from gaespec.data.splits import DataSplits, Split
from gaespec.errors import GaespecError


def blobs(per_class: int, classes: int, dim: int, spread: float, seed: int):
    """Codes (classes·per_class, dim) around the centres 10·e_k, with their labels k."""
    g = torch.Generator().manual_seed(seed)
    centres = 10 * torch.eye(classes, dim)
    z = centres[:, None] + spread * torch.randn(classes, per_class, dim, generator=g)
    y = torch.arange(classes).repeat_interleave(per_class)
    return rearrange(z, "k n d -> (k n) d"), y


def random_codes(n: int, classes: int, dim: int, seed: int):
    """n standard normal codes with uniformly random labels: nothing to learn."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g), torch.randint(0, classes, (n,), generator=g)


def splits(x, y, source="blobs"):
    """Every third sample to train, validation and test, in that order."""
    parts = [Split(x[i::3], None if y is None else y[i::3]) for i in range(3)]
    return DataSplits(source, *parts)


def message(call) -> str:
    """The message of the gaespec error `call()` raises."""
    with pytest.raises(GaespecError) as e:
        call()
    return str(e.value)
