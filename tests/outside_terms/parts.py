"""A posterior, a prior and a module gaespec does not have, as a user's package would write them:
plain torch, nothing of gaespec."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ShiftedNormal:
    """N(mean, scale² I) in d dimensions, with reparameterised samples."""

    mean: torch.Tensor
    scale: float

    def rsample(self, k: int = 1) -> torch.Tensor:
        eps = torch.randn((k, *self.mean.shape), dtype=self.mean.dtype, device=self.mean.device)
        return self.mean + self.scale * eps


class FixedNoiseHead(nn.Module):
    """q(z|x) = N(W h + b, scale² I): one linear head and a fixed spread."""

    def __init__(self, features: int, latent_dim: int, scale: float = 0.1):
        super().__init__()
        self.mean = nn.Linear(features, latent_dim)
        self.scale = scale

    def forward(self, h: torch.Tensor) -> ShiftedNormal:
        return ShiftedNormal(self.mean(h), self.scale)


@dataclass
class WideNormal:
    """N(0, spread² I) in d dimensions."""

    dim: int
    spread: float

    def sample(self, n: int, *, device=None, dtype=None) -> torch.Tensor:
        return self.spread * torch.randn(n, self.dim, device=device, dtype=dtype)


class WideNormalPrior(nn.Module):
    """p(z) = N(0, spread² I); no parameters."""

    def __init__(self, latent_dim: int, spread: float = 2.0):
        super().__init__()
        self.latent_dim, self.spread = latent_dim, spread

    def forward(self) -> WideNormal:
        return WideNormal(self.latent_dim, self.spread)


class Scorer(nn.Module):
    """A linear score of a code: (n d) → (n)."""

    def __init__(self, width: int):
        super().__init__()
        self.linear = nn.Linear(width, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z)[:, 0]


class MeanScore:
    """The mean of a score over samples and batch: a term."""

    def __call__(self, score: torch.Tensor) -> torch.Tensor:
        return score.mean()
